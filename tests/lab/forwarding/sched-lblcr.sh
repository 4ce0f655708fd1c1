#!/bin/sh
# lblcr (locality-based least-connection with replication): each destination address maps
# to a set of servers; a connection goes to the least-connection member of the set unless
# it is overloaded (then the least-connection server of all is added to the set). Same
# steps as sched-lblc, weights 1:1:
#   4 short requests             -> all to one server X
#   hold 2, then hold 1 more     -> X, X, then Y (X overloaded): the set is {X, Y}
#   close X's two, 3 requests    -> all X: the least loaded member of the set (lblc
#                                   remembers only Y)
. /lab/forwarding/lib/common.sh
trap fwd_cleanup EXIT

fwd_topo_nat
fwd_serve rs1 tcp:80
fwd_serve rs2 tcp:80

fwd_ipvsadm -A -t "$FWD_VIP:80" -s lblcr
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
fwd_expect "after $X's connections closed: the least loaded of the set" " $X $X $X" "$FWD_SEQ"
fwd_finish
