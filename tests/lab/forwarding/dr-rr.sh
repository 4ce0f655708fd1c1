#!/bin/sh
# LVS-DR (direct routing, -g) with rr over two real servers on one LAN: the VIP is on each
# real server's lo, replies go straight to the client.
#   TCP (busybox httpd, nc): 6 requests -> 3 each
#   UDP (labnet bound to the VIP, so answers come from it): 3 datagrams from one source
#   port -> one server (one connection entry); with one-packet scheduling (-o) 4
#   datagrams from one source port -> 2 each
. /lab/forwarding/lib/common.sh
trap fwd_cleanup EXIT

fwd_topo_lan
for rs in rs1 rs2; do
	fwd_run ip -n "$rs" addr add "$FWD_LAN_VIP/32" dev lo
	fwd_httpd "$rs" 80
	fwd_serve "$rs" "udp:53@$FWD_LAN_VIP" "udp:54@$FWD_LAN_VIP"
done

fwd_ipvsadm -A -t "$FWD_LAN_VIP:80" -s rr
fwd_ipvsadm -a -t "$FWD_LAN_VIP:80" -r 192.0.2.11 -g
fwd_ipvsadm -a -t "$FWD_LAN_VIP:80" -r 192.0.2.12 -g

fwd_count 6 "$FWD_LAN_VIP" 80
echo "answers:$FWD_SEQ"
fwd_expect "requests answered by rs1" 3 "$FWD_HITS_rs1"
fwd_expect "requests answered by rs2" 3 "$FWD_HITS_rs2"
fwd_expect "requests not answered" 0 "$FWD_HITS_none"

fwd_ipvsadm -A -u "$FWD_LAN_VIP:53" -s rr
fwd_ipvsadm -a -u "$FWD_LAN_VIP:53" -r 192.0.2.11 -g
fwd_ipvsadm -a -u "$FWD_LAN_VIP:53" -r 192.0.2.12 -g
fwd_ipvsadm -A -u "$FWD_LAN_VIP:54" -s rr -o
fwd_ipvsadm -a -u "$FWD_LAN_VIP:54" -r 192.0.2.11 -g
fwd_ipvsadm -a -u "$FWD_LAN_VIP:54" -r 192.0.2.12 -g
seq=
for i in 1 2 3; do
	fwd_ask -p 44000 udp "$FWD_LAN_VIP" 53
	seq="$seq$FWD_SEQ"
done
set -- $seq
fwd_expect "UDP: 3 datagrams from port 44000" " $1 $1 $1" "$seq"
fwd_check "UDP: answered" [ "$1" = rs1 -o "$1" = rs2 ]
seq=
for i in 1 2 3 4; do
	fwd_ask -p 44001 udp "$FWD_LAN_VIP" 54
	seq="$seq$FWD_SEQ"
done
FWD_SEQ=$seq
fwd_tally
echo "UDP, one-packet scheduling, port 44001:$seq"
fwd_expect "UDP -o: datagrams answered by rs1" 2 "$FWD_HITS_rs1"
fwd_expect "UDP -o: datagrams answered by rs2" 2 "$FWD_HITS_rs2"

fwd_finish
