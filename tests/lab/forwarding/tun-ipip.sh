#!/bin/sh
# LVS-TUN with IP-in-IP (-i): the director encapsulates, each real server decapsulates on
# tunl0 (which carries the VIP) and answers the client directly. rr, 6 requests: 3 each.
. /lab/forwarding/lib/common.sh
trap fwd_cleanup EXIT

modprobe ipip
fwd_topo_lan
for rs in rs1 rs2; do
	fwd_run ip -n "$rs" addr add "$FWD_LAN_VIP/32" dev tunl0
	fwd_run ip -n "$rs" link set tunl0 up
	for c in all default tunl0 eth0; do
		fwd_run ip netns exec "$rs" sysctl -qw "net.ipv4.conf.$c.rp_filter=0"
	done
	fwd_httpd "$rs" 80
done

fwd_ipvsadm -A -t "$FWD_LAN_VIP:80" -s rr
fwd_ipvsadm -a -t "$FWD_LAN_VIP:80" -r 192.0.2.11 -i
fwd_ipvsadm -a -t "$FWD_LAN_VIP:80" -r 192.0.2.12 -i

fwd_count 6 "$FWD_LAN_VIP" 80
echo "answers:$FWD_SEQ"
fwd_expect "requests answered by rs1" 3 "$FWD_HITS_rs1"
fwd_expect "requests answered by rs2" 3 "$FWD_HITS_rs2"
fwd_expect "requests not answered" 0 "$FWD_HITS_none"

fwd_finish
