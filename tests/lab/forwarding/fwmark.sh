#!/bin/sh
# A firewall-mark service: nftables in the director marks TCP to 203.0.113.1:80 and
# 203.0.113.2:80 with mark 1; one IPVS service -f 1 (rr, NAT) balances both. 4 requests to
# each VIP: 4 and 4 over the servers; 203.0.113.3:80 is not marked: nobody answers.
. /lab/forwarding/lib/common.sh
trap fwd_cleanup EXIT

fwd_topo_nat
fwd_serve rs1 tcp:80
fwd_serve rs2 tcp:80
fwd_nft_mark 1 tcp 80 "$FWD_VIP" "$FWD_VIP2"
ip netns exec dir nft list ruleset

fwd_ipvsadm -A -f 1 -s rr
fwd_ipvsadm -a -f 1 -r 192.0.2.11:80 -m
fwd_ipvsadm -a -f 1 -r 192.0.2.12:80 -m

fwd_ask -n 4 tcp "$FWD_VIP" 80
seq=$FWD_SEQ
fwd_ask -n 4 tcp "$FWD_VIP2" 80
FWD_SEQ="$seq$FWD_SEQ"
fwd_tally
echo "answers ($FWD_VIP x4, $FWD_VIP2 x4):$FWD_SEQ"
fwd_expect "requests answered by rs1" 4 "$FWD_HITS_rs1"
fwd_expect "requests answered by rs2" 4 "$FWD_HITS_rs2"
fwd_ask -n 1 -w 500 tcp "$FWD_VIP3" 80
fwd_expect "unmarked $FWD_VIP3:80" " none" "$FWD_SEQ"
fwd_expect "packets the rule marked (counter)" 1 \
	"$(ip netns exec dir nft list ruleset | grep -c 'counter packets [1-9]')"
fwd_check_grep "connections listed under the second virtual address" " $FWD_VIP2:80 " \
	ip netns exec dir "$IPVSADM" -Lnc
fwd_finish
