#!/bin/sh
# Counters: after known traffic, ipvsadm -Ln --stats shows the connections made (exactly)
# and non-zero packet and byte counts, the same as the oracle's listing; -Z SERVICE clears
# one service, -Z everything. (The kernel refreshes the counters every 2 s.)
. /lab/forwarding/lib/common.sh
trap fwd_cleanup EXIT

fwd_topo_nat
fwd_serve rs1 tcp:80
fwd_serve rs2 tcp:80

fwd_ipvsadm -A -t "$FWD_VIP:80" -s wrr
fwd_ipvsadm -a -t "$FWD_VIP:80" -r 192.0.2.11:80 -m -w 3
fwd_ipvsadm -a -t "$FWD_VIP:80" -r 192.0.2.12:80 -m -w 1
fwd_ipvsadm -A -t "$FWD_VIP:81" -s rr
fwd_ipvsadm -a -t "$FWD_VIP:81" -r 192.0.2.11:80 -m
fwd_ask -n 8 tcp "$FWD_VIP" 80
echo "answers:$FWD_SEQ"
fwd_expect "requests answered by rs1 (wrr 3:1)" 6 "$FWD_HITS_rs1"
fwd_expect "requests answered by rs2 (wrr 3:1)" 2 "$FWD_HITS_rs2"
fwd_ask -n 2 tcp "$FWD_VIP" 81
sleep 3

stats() { ip netns exec dir "$1" -Ln --stats --exact; }
stats "$IPVSADM" >"$FWD_TMP/ours"
stats "$ORACLE" >"$FWD_TMP/oracle"
cat "$FWD_TMP/ours"
fwd_check "ours and the oracle list the same counters" cmp -s "$FWD_TMP/ours" "$FWD_TMP/oracle"
diff "$FWD_TMP/oracle" "$FWD_TMP/ours"
# Field of the line whose second field is $1: conns inpkts outpkts inbytes outbytes.
field() { awk -v k="$1" -v f="$2" '$2 == k { print $f; exit }' "$FWD_TMP/ours"; }
fwd_expect "connections of $FWD_VIP:80" 8 "$(field "$FWD_VIP:80" 3)"
fwd_expect "connections of rs1 in :80" 6 "$(field 192.0.2.11:80 3)"
fwd_expect "connections of rs2 in :80" 2 "$(field 192.0.2.12:80 3)"
fwd_expect "connections of $FWD_VIP:81" 2 "$(field "$FWD_VIP:81" 3)"
for n in 4 5 6 7; do
	fwd_check "counter $n of $FWD_VIP:80 is not zero ($(field "$FWD_VIP:80" $n))" [ "$(field "$FWD_VIP:80" $n)" -gt 0 ]
done
# A labnet request is at least 4 packets from the client: SYN, the handshake's ACK, FIN
# and the ACK of the server's FIN.
fwd_check "$FWD_VIP:80 has at least 4 packets in per connection" [ "$(field "$FWD_VIP:80" 4)" -ge 32 ]

fwd_ipvsadm -Z -t "$FWD_VIP:80"
stats "$IPVSADM" >"$FWD_TMP/ours"
stats "$ORACLE" >"$FWD_TMP/oracle"
fwd_check "after -Z SERVICE: same listing as the oracle" cmp -s "$FWD_TMP/ours" "$FWD_TMP/oracle"
fwd_expect "$FWD_VIP:80 after -Z on it" "0 0 0 0 0" \
	"$(awk -v k="$FWD_VIP:80" '$2 == k { print $3, $4, $5, $6, $7 }' "$FWD_TMP/ours")"
fwd_expect "$FWD_VIP:81 keeps its connections" 2 "$(field "$FWD_VIP:81" 3)"
fwd_ipvsadm -Z
stats "$IPVSADM" >"$FWD_TMP/ours"
cat "$FWD_TMP/ours"
fwd_expect "non-zero counters after -Z" 0 \
	"$(awk '$1 ~ /^(TCP|->)$/ && $2 ~ /^[0-9]/ && ($3 $4 $5 $6 $7) != "00000"' "$FWD_TMP/ours" | wc -l)"
stats "$ORACLE" | cmp -s - "$FWD_TMP/ours"
fwd_check "after -Z: same listing as the oracle" [ $? = 0 ]
fwd_finish
