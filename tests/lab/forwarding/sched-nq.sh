#!/bin/sh
# nq (never queue): an idle real server (no active connection) gets the new connection
# whatever its weight; otherwise as sed, smallest (active + 1) / weight. Weights 5:1,
# 4 connections held open: the first two go one to each server (sed would send both to
# rs1), then (1+1)/5 < (1+1)/1 twice: rs1 ends with 3, rs2 with 1.
. /lab/forwarding/lib/common.sh
trap fwd_cleanup EXIT

fwd_topo_nat
fwd_serve rs1 tcp:80
fwd_serve rs2 tcp:80

fwd_ipvsadm -A -t "$FWD_VIP:80" -s nq
fwd_ipvsadm -a -t "$FWD_VIP:80" -r 192.0.2.11:80 -m -w 5
fwd_ipvsadm -a -t "$FWD_VIP:80" -r 192.0.2.12:80 -m -w 1

fwd_hold a -n 4 "$FWD_VIP" 80
echo "held:$FWD_SEQ"
set -- $FWD_SEQ
fwd_check "the first two connections went to different (idle) servers" [ "$1" != "$2" ]
fwd_expect "held connections on rs1 (weight 5)" 3 "$FWD_HITS_rs1"
fwd_expect "held connections on rs2 (weight 1)" 1 "$FWD_HITS_rs2"
fwd_finish
