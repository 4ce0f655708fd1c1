#!/bin/sh
# Weights and thresholds changed at run time (our ipvsadm -e), NAT, two servers:
#   weight 0 (quiesce): a long-lived connection to the quiesced server keeps working (its
#   echo still comes back), while every new connection goes to the other server
#   -x 2 (upper threshold) on rs1 only, rr, 6 connections held open: rs1 stops at 2,
#   rs2 takes the other 4
#   -e weights: wrr 1:1 gives 2/2 of 4; after -e rs1 -w 3, the next 8 go 6/2
. /lab/forwarding/lib/common.sh
trap fwd_cleanup EXIT

fwd_topo_nat
fwd_serve rs1 tcp:80
fwd_serve rs2 tcp:80

# Weight 0.
fwd_ipvsadm -A -t "$FWD_VIP:80" -s rr
fwd_ipvsadm -a -t "$FWD_VIP:80" -r 192.0.2.11:80 -m
fwd_ipvsadm -a -t "$FWD_VIP:80" -r 192.0.2.12:80 -m
fwd_session_open "$FWD_VIP" 80
X=$(fwd_session_line 1)
if [ "$X" = rs1 ]; then Y=rs2; else Y=rs1; fi
fwd_check "long-lived connection answered (by $X)" [ "$X" = rs1 -o "$X" = rs2 ]
fwd_ipvsadm -e -t "$FWD_VIP:80" -r "192.0.2.1${X#rs}:80" -m -w 0
fwd_ask -n 4 tcp "$FWD_VIP" 80
fwd_expect "new connections with $X at weight 0" " $Y $Y $Y $Y" "$FWD_SEQ"
fwd_session_send ping
fwd_expect "the open connection to $X still works" "$X ping" "$(fwd_session_line 2)"
ip netns exec dir "$IPVSADM" -Ln -t "$FWD_VIP:80"
fwd_session_close

# Upper threshold.
fwd_ipvsadm -A -t "$FWD_VIP:81" -s rr
fwd_ipvsadm -a -t "$FWD_VIP:81" -r 192.0.2.11:80 -m -x 2
fwd_ipvsadm -a -t "$FWD_VIP:81" -r 192.0.2.12:80 -m
fwd_hold x -n 6 "$FWD_VIP" 81
echo "held:$FWD_SEQ"
fwd_expect "held connections on rs1 (-x 2)" 2 "$FWD_HITS_rs1"
fwd_expect "held connections on rs2 (no threshold)" 4 "$FWD_HITS_rs2"
ip netns exec dir "$IPVSADM" -Ln --thresholds -t "$FWD_VIP:81"

# Editing weights.
fwd_ipvsadm -A -t "$FWD_VIP:82" -s wrr
fwd_ipvsadm -a -t "$FWD_VIP:82" -r 192.0.2.11:80 -m -w 1
fwd_ipvsadm -a -t "$FWD_VIP:82" -r 192.0.2.12:80 -m -w 1
fwd_ask -n 4 tcp "$FWD_VIP" 82
fwd_expect "wrr 1:1, rs1 of 4" 2 "$FWD_HITS_rs1"
fwd_expect "wrr 1:1, rs2 of 4" 2 "$FWD_HITS_rs2"
fwd_ipvsadm -e -t "$FWD_VIP:82" -r 192.0.2.11:80 -m -w 3
fwd_ask -n 8 tcp "$FWD_VIP" 82
fwd_expect "wrr 3:1 after -e, rs1 of 8" 6 "$FWD_HITS_rs1"
fwd_expect "wrr 3:1 after -e, rs2 of 8" 2 "$FWD_HITS_rs2"
fwd_finish
