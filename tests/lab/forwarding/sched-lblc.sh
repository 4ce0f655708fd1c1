#!/bin/sh
# lblc (locality-based least-connection): connections for one destination address go to
# the server last chosen for it while that server is not overloaded (more active
# connections than its weight while another server has less than half its weight); then
# the least-connection server is chosen and remembered. Weights 1:1.
#   4 short requests             -> all to one server X (lc would alternate: inactive
#                                   connections count)
#   hold 2, then hold 1 more     -> X, X, then the other server Y (X has 2 > 1 active,
#                                   Y has none): Y is now remembered for the VIP
#   close X's two, 3 requests    -> all Y (Y has 1 active, not overloaded); lblcr would
#                                   go back to X (see sched-lblcr)
. /lab/forwarding/lib/common.sh
trap fwd_cleanup EXIT

fwd_topo_nat
fwd_serve rs1 tcp:80
fwd_serve rs2 tcp:80

fwd_ipvsadm -A -t "$FWD_VIP:80" -s lblc
fwd_ipvsadm -a -t "$FWD_VIP:80" -r 192.0.2.11:80 -m -w 1
fwd_ipvsadm -a -t "$FWD_VIP:80" -r 192.0.2.12:80 -m -w 1

fwd_ask -n 4 tcp "$FWD_VIP" 80
set -- $FWD_SEQ
X=$1
if [ "$X" = rs1 ]; then Y=rs2; else Y=rs1; fi
fwd_expect "4 requests to one destination stick to $X" " $X $X $X $X" "$FWD_SEQ"
fwd_hold a -n 2 "$FWD_VIP" 80
fwd_expect "2 held connections" " $X $X" "$FWD_SEQ"
fwd_hold b -n 1 "$FWD_VIP" 80
fwd_expect "a third while $X is overloaded" " $Y" "$FWD_SEQ"
fwd_release a
fwd_ask -n 3 tcp "$FWD_VIP" 80
fwd_expect "after $X's connections closed: the remembered server" " $Y $Y $Y" "$FWD_SEQ"
fwd_finish
