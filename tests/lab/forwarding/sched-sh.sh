#!/bin/sh
# sh (source hashing): the server is looked up by the client address (plus, with the
# sh-port flag, the client port) in a 256-bucket table:
#   bucket = hash_32(port + saddr, 8) = the top 8 bits of (port + saddr) * 0x61C88647
#   mod 2^32 (port = 0 without sh-port)
# and with weights 1:1 bucket i belongs to the (i mod 2)-th real server in kernel order.
# Every answer below is computed from that definition and asserted exactly: the same
# client always gets the same server; with sh-port one client's ports spread.
. /lab/forwarding/lib/common.sh
trap fwd_cleanup EXIT

fwd_topo_nat
fwd_serve rs1 tcp:80
fwd_serve rs2 tcp:80

fwd_ipvsadm -A -t "$FWD_VIP:80" -s sh
fwd_ipvsadm -a -t "$FWD_VIP:80" -r 192.0.2.11:80 -m
fwd_ipvsadm -a -t "$FWD_VIP:80" -r 192.0.2.12:80 -m
set -- $(fwd_kernel_order -t "$FWD_VIP:80")
FIRST=$1 SECOND=$2
echo "kernel order: $FIRST $SECOND"

# sh_server ADDR PORT: the server for client ADDR (and source port PORT, 0 without sh-port)
sh_server() {
	_bucket=$(fwd_hash32_8 $((($(fwd_ip2int "$1") + $2) % 4294967296)))
	if [ $((_bucket % 2)) = 0 ]; then echo "$FIRST"; else echo "$SECOND"; fi
}

for src in "$FWD_CL_A" "$FWD_CL_B" "$FWD_CL_C"; do
	s=$(sh_server "$src" 0)
	fwd_ask -n 3 -s "$src" tcp "$FWD_VIP" 80
	fwd_expect "client $src (hash -> $s)" " $s $s $s" "$FWD_SEQ"
done

fwd_ipvsadm -E -t "$FWD_VIP:80" -s sh -b sh-port
want=
p=42001
while [ $p -le 42008 ]; do
	want="$want $(sh_server "$FWD_CL_A" $p)"
	p=$((p + 1))
done
fwd_ask -n 8 -s "$FWD_CL_A" -p 42001 tcp "$FWD_VIP" 80
fwd_expect "sh-port: client $FWD_CL_A from ports 42001-42008" "$want" "$FWD_SEQ"
fwd_check "sh-port spreads one client over both servers" [ "$FWD_HITS_rs1" -gt 0 -a "$FWD_HITS_rs2" -gt 0 ]
fwd_finish
