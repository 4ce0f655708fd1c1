#!/bin/sh
# A mixed-family tunnel: an IPv6 virtual service ([2001:db8::100]:80) with IPv4 real
# servers (-i, ipip). The director sends IPv6-in-IPv4 (protocol 41); each real server
# decapsulates on sit0 and answers the client directly over IPv6 from the VIP, which sits
# on its lo (IPv6 neighbour discovery only answers for addresses of the asking link). rr,
# 4 requests -> 2 and 2.
. /lab/forwarding/lib/common.sh
trap fwd_cleanup EXIT

VIP6=2001:db8::100
modprobe sit
FWD_LAN6=1 fwd_topo_lan
fwd_run ip -n dir addr add "$VIP6/128" dev eth0 nodad
for rs in rs1 rs2; do
	fwd_run ip -n "$rs" addr add "$VIP6/128" dev lo nodad
	fwd_run ip -n "$rs" link set sit0 up
	for c in all default sit0 eth0; do
		fwd_run ip netns exec "$rs" sysctl -qw "net.ipv4.conf.$c.rp_filter=0"
	done
	fwd_httpd "$rs" 80
done

fwd_ipvsadm -A -t "[$VIP6]:80" -s rr
fwd_ipvsadm -a -t "[$VIP6]:80" -r 192.0.2.11 -i
fwd_ipvsadm -a -t "[$VIP6]:80" -r 192.0.2.12 -i
ip netns exec dir "$IPVSADM" -Ln
fwd_count 4 "$VIP6" 80
echo "answers:$FWD_SEQ"
fwd_expect "requests answered by rs1" 2 "$FWD_HITS_rs1"
fwd_expect "requests answered by rs2" 2 "$FWD_HITS_rs2"
ip netns exec dir "$IPVSADM" -Lnc
fwd_check_grep "connections listed from the IPv6 client to IPv4 real servers" \
	"\\[2001:db8::10\\]:[0-9]+ +\\[$VIP6\\]:80 +192\\.0\\.2\\.1[12]:80" \
	ip netns exec dir "$IPVSADM" -Lnc
fwd_finish
