#!/bin/sh
# LVS-NAT with port mapping (VIP:80 -> real servers' busybox httpd on 8080) and the wrr
# scheduler, weights 3:1 over two real servers: 8 requests must be answered exactly 6
# times by rs1 and 2 times by rs2.
. /lab/forwarding/lib/common.sh
trap fwd_cleanup EXIT

fwd_topo_nat
fwd_httpd rs1 8080
fwd_httpd rs2 8080

fwd_ipvsadm -A -t "$FWD_VIP:80" -s wrr
fwd_ipvsadm -a -t "$FWD_VIP:80" -r 192.0.2.11:8080 -m -w 3
fwd_ipvsadm -a -t "$FWD_VIP:80" -r 192.0.2.12:8080 -m -w 1

fwd_count 8 "$FWD_VIP" 80
echo "answers:$FWD_SEQ"
fwd_expect "requests answered by rs1" 6 "$FWD_HITS_rs1"
fwd_expect "requests answered by rs2" 2 "$FWD_HITS_rs2"
fwd_expect "requests not answered" 0 "$FWD_HITS_none"
fwd_expect "connections to the real servers' port 8080" 8 \
	"$(ip netns exec dir "$IPVSADM" -Lnc | grep -cE " $FWD_VIP:80 +192\.0\.2\.1[12]:8080( |$)")"

fwd_finish
