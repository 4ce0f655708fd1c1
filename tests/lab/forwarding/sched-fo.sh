#!/bin/sh
# fo (weighted failover): every connection goes to the available real server with the
# highest weight. rs1 weight 1, rs2 weight 5: all to rs2; rs2 quiesced (weight 0): all to
# rs1; rs2 back to 5: all to rs2 again.
. /lab/forwarding/lib/common.sh
trap fwd_cleanup EXIT

fwd_topo_nat
fwd_serve rs1 tcp:80
fwd_serve rs2 tcp:80

fwd_ipvsadm -A -t "$FWD_VIP:80" -s fo
fwd_ipvsadm -a -t "$FWD_VIP:80" -r 192.0.2.11:80 -m -w 1
fwd_ipvsadm -a -t "$FWD_VIP:80" -r 192.0.2.12:80 -m -w 5

fwd_ask -n 4 tcp "$FWD_VIP" 80
fwd_expect "answers with rs2 at weight 5" " rs2 rs2 rs2 rs2" "$FWD_SEQ"
fwd_ipvsadm -e -t "$FWD_VIP:80" -r 192.0.2.12:80 -m -w 0
fwd_ask -n 4 tcp "$FWD_VIP" 80
fwd_expect "answers with rs2 at weight 0 (failover)" " rs1 rs1 rs1 rs1" "$FWD_SEQ"
fwd_ipvsadm -e -t "$FWD_VIP:80" -r 192.0.2.12:80 -m -w 5
fwd_ask -n 4 tcp "$FWD_VIP" 80
fwd_expect "answers with rs2 back at weight 5" " rs2 rs2 rs2 rs2" "$FWD_SEQ"
fwd_finish
