#!/bin/sh
# dh (destination hashing): the server is looked up by the destination address in a
# 256-bucket table: bucket = hash_32(daddr, 8) (the top 8 bits of daddr * 0x61C88647 mod
# 2^32), and bucket i belongs to the (i mod n)-th real server in kernel order (newest
# first). One firewall-mark service for two VIPs (nftables marks both): 203.0.113.1 ->
# bucket 50, 203.0.113.2 -> bucket 147, so with two servers the VIPs map to different
# servers; every client gets the same answer for a VIP. Asserted exactly.
. /lab/forwarding/lib/common.sh
trap fwd_cleanup EXIT

fwd_topo_nat
fwd_serve rs1 tcp:80
fwd_serve rs2 tcp:80
fwd_nft_mark 1 tcp 80 "$FWD_VIP" "$FWD_VIP2"

fwd_ipvsadm -A -f 1 -s dh
fwd_ipvsadm -a -f 1 -r 192.0.2.11:80 -m
fwd_ipvsadm -a -f 1 -r 192.0.2.12:80 -m
set -- $(fwd_kernel_order -f 1)
echo "kernel order: $*"

# The server dh picks for destination address $1 (a.b.c.d), from the definition.
dh_server() {
	_bucket=$(fwd_hash32_8 "$(fwd_ip2int "$1")")
	if [ $((_bucket % 2)) = 0 ]; then echo "$FIRST"; else echo "$SECOND"; fi
}
FIRST=$1 SECOND=$2
S1=$(dh_server "$FWD_VIP")
S2=$(dh_server "$FWD_VIP2")
echo "expected: $FWD_VIP -> $S1, $FWD_VIP2 -> $S2"
fwd_check "the two VIPs hash to different servers" [ "$S1" != "$S2" ]
for src in "$FWD_CL_A" "$FWD_CL_C"; do
	fwd_ask -n 3 -s "$src" tcp "$FWD_VIP" 80
	fwd_expect "client $src to $FWD_VIP" " $S1 $S1 $S1" "$FWD_SEQ"
	fwd_ask -n 3 -s "$src" tcp "$FWD_VIP2" 80
	fwd_expect "client $src to $FWD_VIP2" " $S2 $S2 $S2" "$FWD_SEQ"
done
fwd_finish
