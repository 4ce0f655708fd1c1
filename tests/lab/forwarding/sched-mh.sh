#!/bin/sh
# mh (maglev hashing): a consistent-hash lookup table over the real servers, keyed by the
# client address (plus the client port with mh-port).
#   no flags: one client always gets the same server
#   mh-port: one client's 8 source ports spread over both servers
#   weight 0: the lookup table keeps the quiesced server (it is built from the last
#   non-zero weights), so its clients are refused; with mh-fallback they go to the
#   other server
#   the same with an overloaded server (over its upper threshold, -x 1) on a second
#   service: refused without mh-fallback, the other server with it
. /lab/forwarding/lib/common.sh
trap fwd_cleanup EXIT

fwd_topo_nat
fwd_serve rs1 tcp:80
fwd_serve rs2 tcp:80

fwd_ipvsadm -A -t "$FWD_VIP:80" -s mh
fwd_ipvsadm -a -t "$FWD_VIP:80" -r 192.0.2.11:80 -m
fwd_ipvsadm -a -t "$FWD_VIP:80" -r 192.0.2.12:80 -m

fwd_ask -n 4 -s "$FWD_CL_A" tcp "$FWD_VIP" 80
set -- $FWD_SEQ
X=$1
if [ "$X" = rs1 ]; then Y=rs2; else Y=rs1; fi
fwd_expect "client $FWD_CL_A, 4 requests" " $X $X $X $X" "$FWD_SEQ"

fwd_ipvsadm -E -t "$FWD_VIP:80" -s mh -b mh-port
fwd_ask -n 8 -s "$FWD_CL_A" -p 43001 tcp "$FWD_VIP" 80
echo "mh-port, ports 43001-43008:$FWD_SEQ"
fwd_check "mh-port spreads one client over both servers" [ "$FWD_HITS_rs1" -gt 0 -a "$FWD_HITS_rs2" -gt 0 ]
fwd_ask -n 8 -s "$FWD_CL_A" -p 43101 tcp "$FWD_VIP" 80
first=$FWD_SEQ
fwd_ask -n 8 -s "$FWD_CL_A" -p 43101 tcp "$FWD_VIP" 80
fwd_expect "mh-port: the same ports again give the same servers" "$first" "$FWD_SEQ"

fwd_ipvsadm -E -t "$FWD_VIP:80" -s mh
fwd_ipvsadm -e -t "$FWD_VIP:80" -r "192.0.2.1${X#rs}:80" -m -w 0
fwd_ask -n 2 -w 500 -s "$FWD_CL_A" tcp "$FWD_VIP" 80
fwd_expect "client $FWD_CL_A after $X's weight dropped to 0, no fallback" " none none" "$FWD_SEQ"
fwd_ipvsadm -E -t "$FWD_VIP:80" -s mh -b mh-fallback
fwd_ask -n 3 -s "$FWD_CL_A" tcp "$FWD_VIP" 80
fwd_expect "client $FWD_CL_A with mh-fallback" " $Y $Y $Y" "$FWD_SEQ"

# mh-fallback, on a second service with fresh counters: both servers -x 1.
fwd_ipvsadm -A -t "$FWD_VIP:81" -s mh
fwd_ipvsadm -a -t "$FWD_VIP:81" -r 192.0.2.11:80 -m -x 1
fwd_ipvsadm -a -t "$FWD_VIP:81" -r 192.0.2.12:80 -m -x 1
fwd_hold a -n 1 -s "$FWD_CL_A" "$FWD_VIP" 81
set -- $FWD_SEQ
H=$1
fwd_check "held connection answered (by $H)" [ "$H" = rs1 -o "$H" = rs2 ]
fwd_ask -n 1 -w 500 -s "$FWD_CL_A" tcp "$FWD_VIP" 81
fwd_expect "without mh-fallback, $H over its threshold: refused" " none" "$FWD_SEQ"
fwd_ipvsadm -E -t "$FWD_VIP:81" -s mh -b mh-fallback
fwd_ask -n 1 -s "$FWD_CL_A" tcp "$FWD_VIP" 81
if [ "$H" = rs1 ]; then O=rs2; else O=rs1; fi
fwd_expect "with mh-fallback: the other server" " $O" "$FWD_SEQ"
fwd_finish
