#!/bin/sh
# Connection synchronisation and failover between two directors (namespaces dir and dir2,
# IPVS state is per namespace) on one LAN, direct routing. The library configures both
# (examples/lvs_sync.rs, Ipvs::open_in): the same service, a master sync daemon in dir and
# a backup in dir2, sync id 7, on eth0.
#   - a long-lived connection and 2 short requests through the master appear in the
#     backup's connection table (ours, ipvsadm -Lnc, and the library's reader)
#   - the VIP moves to dir2 (gratuitous ARP), dir2 becomes master: the long-lived
#     connection, opened before the move, still gets its answers from the same real
#     server, and new connections are served by dir2
. /lab/forwarding/lib/common.sh
trap fwd_cleanup EXIT

VIP=$FWD_LAN_VIP
fwd_topo_lan cl:10 dir:1 dir2:2 rs1:11 rs2:12
for rs in rs1 rs2; do
	fwd_run ip -n "$rs" addr add "$VIP/32" dev lo
	fwd_serve "$rs" tcp:80
done

fwd_run lvs_sync pair dir dir2 eth0 7 "$VIP:80" 192.0.2.11 192.0.2.12
for ns in dir dir2; do
	ip netns exec "$ns" "$IPVSADM" -L --daemon | sed "s/^/$ns: /"
done
fwd_expect "library: dir's daemon" "daemon master eth0 syncid 7" "$(lvs_sync show dir | grep '^daemon')"
fwd_expect "library: dir2's daemon" "daemon backup eth0 syncid 7" "$(lvs_sync show dir2 | grep '^daemon')"
fwd_expect "ours: dir2's daemon, as the oracle lists it" "$(ip netns exec dir2 "$ORACLE" -L --daemon)" \
	"$(ip netns exec dir2 "$IPVSADM" -L --daemon)"

fwd_session_open "$VIP" 80
X=$(fwd_session_line 1)
fwd_check "long-lived connection through dir answered (by $X)" [ "$X" = rs1 -o "$X" = rs2 ]
fwd_ask -n 2 tcp "$VIP" 80
fwd_expect "two short requests through dir" 2 $((FWD_HITS_rs1 + FWD_HITS_rs2))
ip netns exec dir "$IPVSADM" -Lnc
session=$(ip netns exec dir "$IPVSADM" -Lnc | awk '$3 == "ESTABLISHED" { print $4, $6; exit }')
fwd_expect "the long-lived connection's real server in dir" "192.0.2.1${X#rs}:80" "${session#* }"
client=${session% *}

# The backup learns the connections (the master sends within about 2 s).
n=0
while ! ip netns exec dir2 "$IPVSADM" -Lnc | grep -q " $client " ||
	[ "$(ip netns exec dir2 "$IPVSADM" -Lnc | grep -c " $VIP:80 ")" -lt 3 ]; do
	n=$((n + 1))
	[ $n -ge 40 ] && break
	sleep 0.2
done
ip netns exec dir2 "$IPVSADM" -Lnc
fwd_expect "ours, dir2 -Lnc: the long-lived connection" "ESTABLISHED $client $VIP:80 192.0.2.1${X#rs}:80" \
	"$(ip netns exec dir2 "$IPVSADM" -Lnc | awk -v c="$client" '$4 == c { print $3, $4, $5, $6 }')"
fwd_expect "ours, dir2 -Lnc: connections synchronised" 3 \
	"$(ip netns exec dir2 "$IPVSADM" -Lnc | grep -c " $VIP:80 ")"
fwd_expect "library, dir2: the long-lived connection" "conn TCP $client $VIP:80 192.0.2.1${X#rs}:80 ESTABLISHED" \
	"$(ip netns exec dir2 lvs_sync conns | grep " $client ")"

# Failover.
fwd_run ip -n dir addr del "$VIP/32" dev eth0
fwd_run ip -n dir2 addr add "$VIP/32" dev eth0
fwd_run ip netns exec dir2 arping -q -U -c 1 -I eth0 -s "$VIP" "$VIP"
fwd_run lvs_sync promote dir2 eth0 7
fwd_expect "library: dir2's daemon after promotion" "daemon master eth0 syncid 7" \
	"$(lvs_sync show dir2 | grep '^daemon')"
fwd_session_send after-failover
fwd_expect "the long-lived connection after the move" "$X after-failover" "$(fwd_session_line 2)"
fwd_ask -n 2 tcp "$VIP" 80
fwd_expect "new connections through dir2" 2 $((FWD_HITS_rs1 + FWD_HITS_rs2))
fwd_expect "dir2's table: the 3 learnt connections and the 2 new ones" 5 \
	"$(ip netns exec dir2 "$IPVSADM" -Lnc | grep -c " $VIP:80 ")"
ip netns exec dir2 "$IPVSADM" -Lnc
fwd_session_close
fwd_finish
