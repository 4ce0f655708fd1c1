#!/bin/sh
# LVS-DR (direct routing, -g) with rr over two real servers on one LAN: the VIP is on each
# real server's lo, replies go straight to the client. 6 requests: 3 each.
. /lab/forwarding/lib/common.sh
trap fwd_cleanup EXIT

fwd_topo_lan
for rs in rs1 rs2; do
	fwd_run ip -n "$rs" addr add "$FWD_LAN_VIP/32" dev lo
	fwd_httpd "$rs" 80
done

fwd_ipvsadm -A -t "$FWD_LAN_VIP:80" -s rr
fwd_ipvsadm -a -t "$FWD_LAN_VIP:80" -r 192.0.2.11 -g
fwd_ipvsadm -a -t "$FWD_LAN_VIP:80" -r 192.0.2.12 -g

fwd_count 6 "$FWD_LAN_VIP" 80
echo "answers:$FWD_SEQ"
fwd_expect "requests answered by rs1" 3 "$FWD_HITS_rs1"
fwd_expect "requests answered by rs2" 3 "$FWD_HITS_rs2"
fwd_expect "requests not answered" 0 "$FWD_HITS_none"

fwd_finish
