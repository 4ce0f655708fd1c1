#!/bin/sh
# A UDP service (LVS-NAT, VIP:53 -> RS:5353), rr:
#   4 requests from 4 source ports -> 2 and 2
#   3 requests from one source port -> one server (one IPVS connection entry)
# (One-packet scheduling is in dr-rr: with NAT the replies of -o datagrams are not
# translated back, there is no connection entry left to match them.)
. /lab/forwarding/lib/common.sh
trap fwd_cleanup EXIT

fwd_topo_nat
fwd_serve rs1 udp:5353
fwd_serve rs2 udp:5353

fwd_ipvsadm -A -u "$FWD_VIP:53" -s rr
fwd_ipvsadm -a -u "$FWD_VIP:53" -r 192.0.2.11:5353 -m
fwd_ipvsadm -a -u "$FWD_VIP:53" -r 192.0.2.12:5353 -m

fwd_ask -n 4 udp "$FWD_VIP" 53
echo "answers:$FWD_SEQ"
fwd_expect "datagrams answered by rs1" 2 "$FWD_HITS_rs1"
fwd_expect "datagrams answered by rs2" 2 "$FWD_HITS_rs2"

seq=
for i in 1 2 3; do
	fwd_ask -p 44000 udp "$FWD_VIP" 53
	seq="$seq$FWD_SEQ"
done
set -- $seq
fwd_expect "3 datagrams from port 44000" " $1 $1 $1" "$seq"
fwd_check "answered" [ "$1" = rs1 -o "$1" = rs2 ]

fwd_finish
