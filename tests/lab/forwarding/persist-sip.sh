#!/bin/sh
# The SIP persistence engine (--pe sip) on a persistent UDP service: persistence follows
# the SIP Call-ID of the datagrams instead of the client alone. One client, crafted SIP
# OPTIONS requests, rr over two servers:
#   Call-ID a -> X, Call-ID b -> the other server, then a -> X and b -> the other again
# (with plain -p the client would stick to X).
. /lab/forwarding/lib/common.sh
trap fwd_cleanup EXIT

fwd_topo_nat
fwd_serve rs1 udp:5060
fwd_serve rs2 udp:5060

fwd_ipvsadm -A -u "$FWD_VIP:5060" -s rr -p 60 --pe sip
fwd_ipvsadm -a -u "$FWD_VIP:5060" -r 192.0.2.11:5060 -m
fwd_ipvsadm -a -u "$FWD_VIP:5060" -r 192.0.2.12:5060 -m
ip netns exec dir "$IPVSADM" -Ln
fwd_check_grep "the listing shows the service with pe sip" "^UDP  $FWD_VIP:5060 rr persistent 60 pe sip" \
	ip netns exec dir "$IPVSADM" -Ln

sip() { # Call-ID
	printf '%s' "OPTIONS sip:lab@$FWD_VIP SIP/2.0\r\nVia: SIP/2.0/UDP $FWD_CL_A:5060\r\nFrom: <sip:cl@lab>;tag=1\r\nTo: <sip:lab@lab>\r\nCall-ID: $1@lab.test\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
}
seq=
for id in call-a call-b call-a call-b call-a; do
	fwd_ask -d "$(sip "$id")" udp "$FWD_VIP" 5060
	seq="$seq$FWD_SEQ"
done
set -- $seq
X=$1
if [ "$X" = rs1 ]; then Y=rs2; else Y=rs1; fi
fwd_expect "servers for Call-IDs a b a b a" " $X $Y $X $Y $X" "$seq"
ip netns exec dir "$IPVSADM" -Lnc --persistent-conn
for id in call-a call-b; do
	fwd_check_grep "a template for Call-ID $id (-Lnc --persistent-conn)" " sip +$id@lab\\.test *\$" \
		ip netns exec dir "$IPVSADM" -Lnc --persistent-conn
done
# The same connection listings as the oracle (without the expiry column, which ticks).
for opt in "" --persistent-conn; do
	ip netns exec dir "$IPVSADM" -Lnc $opt | awk '{ $2 = ""; print }' >"$FWD_TMP/ours"
	ip netns exec dir "$ORACLE" -Lnc $opt | awk '{ $2 = ""; print }' >"$FWD_TMP/oracle"
	fwd_check "-Lnc $opt lists what the oracle lists" cmp -s "$FWD_TMP/ours" "$FWD_TMP/oracle"
	diff "$FWD_TMP/oracle" "$FWD_TMP/ours"
done
fwd_finish
