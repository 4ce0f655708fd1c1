#!/bin/sh
# An IPv6 service: LVS-NAT from [2001:db8:113::1]:80 to real servers [2001:db8:2::1N]:8080
# (busybox httpd), rr, 4 requests with busybox nc -> 2 and 2.
. /lab/forwarding/lib/common.sh
trap fwd_cleanup EXIT

fwd_topo_nat
fwd_topo_nat6
fwd_httpd rs1 8080
fwd_httpd rs2 8080

fwd_ipvsadm -A -t "[$FWD_VIP6]:80" -s rr
fwd_ipvsadm -a -t "[$FWD_VIP6]:80" -r "[2001:db8:2::11]:8080" -m
fwd_ipvsadm -a -t "[$FWD_VIP6]:80" -r "[2001:db8:2::12]:8080" -m
ip netns exec dir "$IPVSADM" -Ln

fwd_count 4 "$FWD_VIP6" 80
echo "answers:$FWD_SEQ"
fwd_expect "requests answered by rs1" 2 "$FWD_HITS_rs1"
fwd_expect "requests answered by rs2" 2 "$FWD_HITS_rs2"
fwd_check_grep "the connections are listed with IPv6 addresses" \
	"\\[2001:db8:100::10\\]:[0-9]+ +\\[$FWD_VIP6\\]:80 +\\[2001:db8:2::1[12]\\]:8080" \
	ip netns exec dir "$IPVSADM" -Lnc
ip netns exec dir "$IPVSADM" -Lnc
fwd_finish
