#!/bin/sh
# sed (shortest expected delay): a new connection goes to the real server with the
# smallest (active + 1) / weight. Weights 5:2, connections held open, expected delays
#   (a1+1)/5 vs (a2+1)/2: 0.2<0.5 rs1, 0.4<0.5 rs1, 0.6>0.5 rs2, 0.6<1 rs1, 0.8<1 rs1
# so exactly rs1 rs1 rs2 rs1 rs1 (wlc would start on an idle rs2 just as well).
. /lab/forwarding/lib/common.sh
trap fwd_cleanup EXIT

fwd_topo_nat
fwd_serve rs1 tcp:80
fwd_serve rs2 tcp:80

fwd_ipvsadm -A -t "$FWD_VIP:80" -s sed
fwd_ipvsadm -a -t "$FWD_VIP:80" -r 192.0.2.11:80 -m -w 5
fwd_ipvsadm -a -t "$FWD_VIP:80" -r 192.0.2.12:80 -m -w 2

fwd_hold a -n 5 "$FWD_VIP" 80
fwd_expect "order of the held connections" " rs1 rs1 rs2 rs1 rs1" "$FWD_SEQ"
fwd_finish
