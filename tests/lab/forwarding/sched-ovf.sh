#!/bin/sh
# ovf (overflow-connection): connections go to the available real server with the highest
# weight until its active connections exceed its weight, then overflow to the next one.
# rs1 weight 2, rs2 weight 1, connections held open: rs1 takes 3 (active 0, 1, 2 are not
# more than 2), rs2 takes 2, and the 6th finds no server: refused.
. /lab/forwarding/lib/common.sh
trap fwd_cleanup EXIT

fwd_topo_nat
fwd_serve rs1 tcp:80
fwd_serve rs2 tcp:80

fwd_ipvsadm -A -t "$FWD_VIP:80" -s ovf
fwd_ipvsadm -a -t "$FWD_VIP:80" -r 192.0.2.11:80 -m -w 2
fwd_ipvsadm -a -t "$FWD_VIP:80" -r 192.0.2.12:80 -m -w 1

fwd_hold a -n 6 "$FWD_VIP" 80
fwd_expect "held connections in order" " rs1 rs1 rs1 rs2 rs2 none" "$FWD_SEQ"
ip netns exec dir "$IPVSADM" -Ln
fwd_release a
fwd_ask -n 2 tcp "$FWD_VIP" 80
fwd_expect "once they are closed, back to rs1" " rs1 rs1" "$FWD_SEQ"
fwd_finish
