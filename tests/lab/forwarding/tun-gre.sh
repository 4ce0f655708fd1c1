#!/bin/sh
# LVS-TUN with GRE (--tun-type gre), rr, in both checksum modes the kernel accepts for GRE:
#   nocsum: the real servers decapsulate on the fallback device gre0
#   csum:   packets carry the GRE checksum; a GRE device accepts them only if it expects
#           checksums, so each real server gets gre1 (local RS, remote director, icsum)
# 4 requests -> 2 and 2 in each mode. The VIP is on lo (arp_ignore=1 keeps it quiet).
. /lab/forwarding/lib/common.sh
trap fwd_cleanup EXIT

modprobe ip_gre
fwd_topo_lan
for rs in rs1 rs2; do
	fwd_run ip -n "$rs" addr add "$FWD_LAN_VIP/32" dev lo
	fwd_run ip -n "$rs" link set gre0 up
	for c in all default gre0 eth0; do
		fwd_run ip netns exec "$rs" sysctl -qw "net.ipv4.conf.$c.rp_filter=0"
	done
	fwd_httpd "$rs" 80
done

fwd_ipvsadm -A -t "$FWD_LAN_VIP:80" -s rr
for rs in 192.0.2.11 192.0.2.12; do
	fwd_ipvsadm -a -t "$FWD_LAN_VIP:80" -r "$rs" -i --tun-type gre --tun-nocsum
done
fwd_count 4 "$FWD_LAN_VIP" 80
echo "nocsum answers:$FWD_SEQ"
fwd_expect "nocsum: requests answered by rs1" 2 "$FWD_HITS_rs1"
fwd_expect "nocsum: requests answered by rs2" 2 "$FWD_HITS_rs2"

for rs in rs1 rs2; do
	fwd_run ip -n "$rs" link add gre1 type gre local "192.0.2.1${rs#rs}" remote 192.0.2.1 icsum
	fwd_run ip -n "$rs" link set gre1 up
	fwd_run ip netns exec "$rs" sysctl -qw net.ipv4.conf.gre1.rp_filter=0
done
for rs in 192.0.2.11 192.0.2.12; do
	fwd_ipvsadm -e -t "$FWD_LAN_VIP:80" -r "$rs" -i --tun-type gre --tun-csum
done
ip netns exec dir "$IPVSADM" -Ln --tun-info
fwd_count 4 "$FWD_LAN_VIP" 80
echo "csum answers:$FWD_SEQ"
fwd_expect "csum: requests answered by rs1" 2 "$FWD_HITS_rs1"
fwd_expect "csum: requests answered by rs2" 2 "$FWD_HITS_rs2"
fwd_expect "csum: packets received on gre1 with a checksum (rs1 + rs2 > 0)" yes \
	"$(for rs in rs1 rs2; do ip -n $rs -s link show gre1; done |
		awk '/RX:/ { getline; s += $2 } END { print (s > 0) ? "yes" : "no" }')"
fwd_finish
