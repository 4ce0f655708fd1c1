#!/bin/sh
# lc (least-connection): a new connection goes to the real server with the fewest
# connections (active ones count 256 times an inactive one), whatever the weights (> 0).
# Connections are held open, so the counts are exact:
#   rs2 quiesced (weight 0): 3 connections -> all rs1 (3 active there)
#   rs2 weight 1 again:      3 connections -> all rs2 (0, 1, 2 active < rs1's 3)
#   both at 3:               2 connections -> one each (after the first, the other has fewer)
# (rr would have alternated in the second step.)
. /lab/forwarding/lib/common.sh
trap fwd_cleanup EXIT

fwd_topo_nat
fwd_serve rs1 tcp:80
fwd_serve rs2 tcp:80

fwd_ipvsadm -A -t "$FWD_VIP:80" -s lc
fwd_ipvsadm -a -t "$FWD_VIP:80" -r 192.0.2.11:80 -m -w 1
fwd_ipvsadm -a -t "$FWD_VIP:80" -r 192.0.2.12:80 -m -w 0

fwd_hold a -n 3 "$FWD_VIP" 80
echo "held (rs2 quiesced):$FWD_SEQ"
fwd_expect "rs1 takes all 3 while rs2 has weight 0" 3 "$FWD_HITS_rs1"

fwd_ipvsadm -e -t "$FWD_VIP:80" -r 192.0.2.12:80 -m -w 1
fwd_hold b -n 3 "$FWD_VIP" 80
echo "held (rs2 back):$FWD_SEQ"
fwd_expect "the next 3 all go to rs2 (fewer connections)" 3 "$FWD_HITS_rs2"

fwd_hold c -n 2 "$FWD_VIP" 80
echo "held (3 each):$FWD_SEQ"
fwd_expect "with 3 each, the next 2 go one to each: rs1" 1 "$FWD_HITS_rs1"
fwd_expect "with 3 each, the next 2 go one to each: rs2" 1 "$FWD_HITS_rs2"

ip netns exec dir "$IPVSADM" -Ln
fwd_finish
