#!/bin/sh
# wlc (weighted least-connection): a new connection goes to the real server with the
# smallest connections/weight ratio. Weights 3:1 and 8 connections held open: whatever the
# tie-breaking, the held connections end at 6 and 2 (lc would give 4 and 4).
. /lab/forwarding/lib/common.sh
trap fwd_cleanup EXIT

fwd_topo_nat
fwd_serve rs1 tcp:80
fwd_serve rs2 tcp:80

fwd_ipvsadm -A -t "$FWD_VIP:80" -s wlc
fwd_ipvsadm -a -t "$FWD_VIP:80" -r 192.0.2.11:80 -m -w 3
fwd_ipvsadm -a -t "$FWD_VIP:80" -r 192.0.2.12:80 -m -w 1

fwd_hold a -n 8 "$FWD_VIP" 80
echo "held:$FWD_SEQ"
fwd_expect "held connections on rs1 (weight 3)" 6 "$FWD_HITS_rs1"
fwd_expect "held connections on rs2 (weight 1)" 2 "$FWD_HITS_rs2"
ip netns exec dir "$IPVSADM" -Ln
fwd_expect "active connections listed for rs1" 6 \
	"$(ip netns exec dir "$IPVSADM" -Ln | awk '$2 == "192.0.2.11:80" { print $5 }')"
fwd_finish
