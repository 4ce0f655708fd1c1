#!/bin/sh
# Persistence (-p): once a client has been scheduled, its connections go to the same real
# server (a template remembers the choice). rr over two servers:
#   -p 60:                       client A x4 -> X; client B x4 -> the other server (rr
#                                moved on); A again -> X (without -p rr would alternate)
#   -p 60 -M 255.255.255.0:      A and B (one /24) share one template -> same server;
#                                C (another network) gets the other; the template's
#                                client address is the masked network 198.51.100.0
. /lab/forwarding/lib/common.sh
trap fwd_cleanup EXIT

fwd_topo_nat
fwd_serve rs1 tcp:80
fwd_serve rs2 tcp:80

fwd_ipvsadm -A -t "$FWD_VIP:80" -s rr -p 60
fwd_ipvsadm -a -t "$FWD_VIP:80" -r 192.0.2.11:80 -m
fwd_ipvsadm -a -t "$FWD_VIP:80" -r 192.0.2.12:80 -m
fwd_ipvsadm -A -t "$FWD_VIP:81" -s rr -p 60 -M 255.255.255.0
fwd_ipvsadm -a -t "$FWD_VIP:81" -r 192.0.2.11:80 -m
fwd_ipvsadm -a -t "$FWD_VIP:81" -r 192.0.2.12:80 -m

fwd_ask -n 4 -s "$FWD_CL_A" tcp "$FWD_VIP" 80
set -- $FWD_SEQ
X=$1
if [ "$X" = rs1 ]; then Y=rs2; else Y=rs1; fi
fwd_expect "-p: client A" " $X $X $X $X" "$FWD_SEQ"
fwd_ask -n 4 -s "$FWD_CL_B" tcp "$FWD_VIP" 80
fwd_expect "-p: client B" " $Y $Y $Y $Y" "$FWD_SEQ"
fwd_ask -n 2 -s "$FWD_CL_A" tcp "$FWD_VIP" 80
fwd_expect "-p: client A again" " $X $X" "$FWD_SEQ"

fwd_ask -n 3 -s "$FWD_CL_A" tcp "$FWD_VIP" 81
set -- $FWD_SEQ
X=$1
if [ "$X" = rs1 ]; then Y=rs2; else Y=rs1; fi
fwd_expect "-M /24: client A" " $X $X $X" "$FWD_SEQ"
fwd_ask -n 3 -s "$FWD_CL_B" tcp "$FWD_VIP" 81
fwd_expect "-M /24: client B (same /24 as A)" " $X $X $X" "$FWD_SEQ"
fwd_ask -n 3 -s "$FWD_CL_C" tcp "$FWD_VIP" 81
fwd_expect "-M /24: client C (another network)" " $Y $Y $Y" "$FWD_SEQ"

ip netns exec dir "$IPVSADM" -Lnc
fwd_check_grep "the -M template's client is the network 198.51.100.0" \
	" 198\\.51\\.100\\.0:0 +$FWD_VIP:81 " ip netns exec dir "$IPVSADM" -Lnc
fwd_expect "templates of the -p service (A, B)" 2 \
	"$(ip netns exec dir "$IPVSADM" -Lnc | grep -cE ':0 +'"$FWD_VIP"':80 ')"
fwd_expect "templates of the -M service (198.51.100.0, 198.18.0.0)" 2 \
	"$(ip netns exec dir "$IPVSADM" -Lnc | grep -cE ':0 +'"$FWD_VIP"':81 ')"
fwd_finish
