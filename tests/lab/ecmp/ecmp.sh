#!/bin/sh
# The ecmp suite's case. Active-active directors behind ECMP (issue 15): a router spreads
# client flows over three directors with a multipath route (what BGP ECMP installs); each
# director (its own network namespace, so its own IPVS table and sysctls) forwards by
# direct routing to the same real servers, which answer the client directly. Measured for mh (consistent hashing) and for
# wrr (the baseline), with sloppy_tcp=1 in every director so that a director that sees a
# flow mid-stream schedules it instead of answering with a reset:
#
#   cl 203.0.113.10 (new flows from 198.18.0.1, chosen source ports; long connections
#    |               from 198.18.1.X)
#   rt 203.0.113.1 / 198.51.100.1: 192.0.2.1 (VIP) nexthop d1 nexthop d2 nexthop d3
#    |   (fib_multipath_hash_policy 1: the hash of addresses, protocol and ports)
#   LAN 198.51.100.0/24 (bridge in ns lan)
#    +-- d1 .11, d2 .12, d3 .13  (VIP on lo; IPVS -g to the real servers)
#    +-- rs1..rs6 .21-.26        (VIP on lo, arp_ignore; default route rt; labnet answers
#                                 with its name, then echoes lines)
#
# Services: -s mh -b mh-port (or -s wrr), 5 real servers -g -w 1. A flow is identified by its
# source port: the same K ports are asked again after a change (the client may reuse a
# port in TIME_WAIT: the socket is bound, timestamps are on), each time through directors
# that have no connection entry for it (a director with an entry would answer from it,
# whatever its table says).
# Phases, for each scheduler:
#   order    the directors are configured by hand in different orders; flows pinned to each
#            director in turn: how many flows the directors disagree on; then every director
#            runs `lvsctl apply` of the same rules file (d3 from an empty table, as after a
#            restart): the library's plan adds and, for mh, rebuilds in the canonical order;
#            disagreements again (mh: 0, and the kernel orders are identical)
#   rehash   N flows, then the route's next hops rotated (every flow to another director:
#            checked in the directors' connection tables), the same N sources again: flows
#            that changed real server; L long-lived connections across the rotation: broken
#            (mh: 0 moved, 0 broken)
#   remove   d1's route withdrawn and its table flushed (a dead director) with L connections
#            open: broken (mh: 0)
#   add      rs6 added to every director (lvsctl apply), then the next hops rotated again
#            (fresh directors for the same flows): flows that changed real server (mh:
#            about 1/6, to rs6 but a few: Maglev also moves under 1 % between the old
#            servers) and L connections broken (0 for both)
# Figures: @@ECMP lines and a markdown table (@@ECMP |...), for the README.
. /lab/forwarding/lib/common.sh
trap fwd_cleanup EXIT

LVSCTL=${LAB_LVSCTL:-/ours/lvsctl}
VIP=192.0.2.1
N=${ECMP_FLOWS:-300}
L=${ECMP_CONNS:-8}
SRC=198.18.0.1
DIRS="d1 d2 d3"
T=$FWD_TMP/ecmp
mkdir -p "$T"
fwd_check "lvsctl is shipped ($LVSCTL)" [ -x "$LVSCTL" ]

# ---------------------------------------------------------------- topology
fwd_ns lan
fwd_run ip -n lan link add br0 type bridge
fwd_run ip -n lan link set br0 up
lan_member() { # NS HOST
	fwd_ns "$1"
	fwd_run ip link add eth0 netns "$1" type veth peer name "p-$1" netns lan
	fwd_run ip -n lan link set "p-$1" master br0
	fwd_run ip -n lan link set "p-$1" up
	fwd_run ip -n "$1" addr add "198.51.100.$2/24" dev eth0
	fwd_run ip -n "$1" link set eth0 up
}
fwd_ns cl
lan_member rt 1
fwd_run ip link add eth0 netns cl type veth peer name eth1 netns rt
fwd_run ip -n cl addr add 203.0.113.10/24 dev eth0
fwd_run ip -n cl link set eth0 up
fwd_run ip -n cl route add default via 203.0.113.1
fwd_run ip -n cl addr add "$SRC/32" dev eth0
i=1
while [ $i -le $((L * 3)) ]; do
	ip -n cl addr add "198.18.1.$i/32" dev eth0
	i=$((i + 1))
done
fwd_run ip -n rt addr add 203.0.113.1/24 dev eth1
fwd_run ip -n rt link set eth1 up
fwd_run ip -n rt route add 198.18.0.0/15 via 203.0.113.10
fwd_run ip netns exec rt sysctl -qw net.ipv4.ip_forward=1
fwd_run ip netns exec rt sysctl -qw net.ipv4.fib_multipath_hash_policy=1
for n in 1 2 3; do
	lan_member "d$n" "1$n"
	fwd_run ip -n "d$n" addr add "$VIP/32" dev lo
	fwd_run ip -n "d$n" route add default via 198.51.100.1
	fwd_run ip netns exec "d$n" sysctl -qw net.ipv4.conf.all.arp_ignore=1
	fwd_run ip netns exec "d$n" sysctl -qw net.ipv4.conf.all.arp_announce=2
	# IPVS state is per network namespace: load it here (the first ipvsadm call does).
	ip netns exec "d$n" "$IPVSADM" -Ln >/dev/null
	fwd_run ip netns exec "d$n" sysctl -qw net.ipv4.vs.sloppy_tcp=1
	# FIN_WAIT entries (a finished flow, seen from one side) expire after 1 s instead of
	# 120, so that an asked-again flow meets either no entry, a TIME_WAIT one (which a new
	# SYN replaces: conn_reuse_mode 1) or a CLOSE one (10 s): see the add phase.
	fwd_run ip netns exec "d$n" "$IPVSADM" --set 900 1 300
done
for n in 1 2 3 4 5 6; do
	lan_member "rs$n" "2$n"
	fwd_run ip -n "rs$n" addr add "$VIP/32" dev lo
	fwd_run ip -n "rs$n" route add default via 198.51.100.1
	fwd_run ip netns exec "rs$n" sysctl -qw net.ipv4.conf.all.arp_ignore=1
	fwd_run ip netns exec "rs$n" sysctl -qw net.ipv4.conf.all.arp_announce=2
	fwd_serve "rs$n" tcp:80
done

route() { # DIRECTORS...: the VIP's multipath route over them, in this order
	_hops=
	for _d in "$@"; do _hops="$_hops nexthop via 198.51.100.1${_d#d} dev eth0"; done
	ip -n rt route replace "$VIP/32" $_hops
}

rs_addr() { echo "198.51.100.2${1#rs}"; }

# configure DIRECTOR SCHED RS...: by hand, with ipvsadm, in the given order.
configure() {
	_d=$1 _s=$2
	shift 2
	ip netns exec "$_d" "$IPVSADM" -C
	ip netns exec "$_d" "$IPVSADM" -A -t "$VIP:80" -s "$_s" $(flags "$_s")
	for _r in "$@"; do
		ip netns exec "$_d" "$IPVSADM" -a -t "$VIP:80" -r "$(rs_addr "$_r"):80" -g -w 1
	done
}

flags() { [ "$1" = mh ] && echo "-b mh-port"; }

# rules SCHED RS...: the rules file every director applies with lvsctl.
rules() {
	_s=$1
	shift
	echo "-A -t $VIP:80 -s $_s $(flags "$_s")"
	for _r in "$@"; do echo "-a -t $VIP:80 -r $(rs_addr "$_r"):80 -g -w 1"; done
}

# The real servers of director $1 in kernel order.
order() {
	ip netns exec "$1" "$IPVSADM" -Ln --nosort -t "$VIP:80" |
		sed -n 's/^  -> 198\.51\.100\.2\([0-9]\):.*/rs\1/p' | tr '\n' ' ' | sed 's/ $//'
}

# flows FILE BASE: N new TCP flows from $SRC, source ports BASE..BASE+N-1, one after the
# other; FILE gets the answering server of each, one a line.
flows() {
	sleep 1
	_t=$(cut -d' ' -f1 /proc/uptime)
	ip netns exec cl "$LABNET" ask -n "$N" -p "$2" -w 2000 -s "$SRC" tcp "$VIP" 80 >"$1"
	echo "($N flows from port $2 in $(awk -v t="$_t" '{printf "%.1f", $1 - t}' /proc/uptime) s: $(sort "$1" | uniq -c | tr -s ' \n' ' '))"
}

# differ A B: flows whose server differs between flow files A and B.
differ() { paste -d ' ' "$1" "$2" | awk '$1 != $2' | wc -l; }

# conns: "DIRECTOR CLIENT:PORT" of every connection entry of the VIP in the directors.
conns() {
	for _d in $DIRS; do
		ip netns exec "$_d" "$IPVSADM" -Lnc 2>/dev/null | awk -v d="$_d" '$5 == "192.0.2.1:80" {print d, $4}'
	done | sort
}

# director_of NEW OLD: "CLIENT:PORT DIRECTOR" of the entries of $SRC in conns output NEW
# that are not in OLD.
director_of() {
	awk -v s="$SRC:" 'NR == FNR {old[$0] = 1; next} !($0 in old) && index($2, s) == 1 {print $2, $1}' "$2" "$1" | sort -u
}

# talks_start TAG FIRST: L long connections from 198.18.1.FIRST.., a line every 200 ms,
# until $T/stop-TAG exists; returns once each has its first answer.
talks_start() {
	rm -f "$T/stop-$1"
	_i=0
	while [ $_i -lt "$L" ]; do
		_src=198.18.1.$(($2 + _i))
		ip netns exec cl "$LABNET" talk -n 100000 -i 200 -w 3000 -u "$T/stop-$1" -s "$_src" "$VIP" 80 \
			</dev/null >"$T/talk-$1-$_i" 2>&1 &
		_i=$((_i + 1))
	done
	_n=0
	while [ "$(cat "$T"/talk-"$1"-* 2>/dev/null | grep -c '^rs[0-9]$')" -lt "$L" ] && [ $_n -lt 100 ]; do
		sleep 0.1
		_n=$((_n + 1))
	done
}

# talks_stop TAG: stops them (after 1.5 s more of traffic); sets KEPT and BROKEN.
talks_stop() {
	sleep 1.5
	touch "$T/stop-$1"
	_n=0
	while [ "$(cat "$T"/talk-"$1"-* | grep -cE '^(kept|broken) ')" -lt "$L" ] && [ $_n -lt 100 ]; do
		sleep 0.1
		_n=$((_n + 1))
	done
	KEPT=$(cat "$T"/talk-"$1"-* | grep -c '^kept ')
	BROKEN=$((L - KEPT))
	cat "$T"/talk-"$1"-* | grep '^broken ' | sort | uniq -c | sed 's/^/  /'
}

TABLE=
row() { TABLE="$TABLE
| $* |"; }

measure() { # SCHED PORT-OFFSET (each scheduler asks its own source ports)
	S=$1 B=$2
	echo
	echo "======== $S"
	# ---- order: hand-configured in three orders, then lvsctl apply everywhere
	configure d1 "$S" rs1 rs2 rs3 rs4 rs5
	configure d2 "$S" rs5 rs4 rs3 rs2 rs1
	configure d3 "$S" rs3 rs1 rs4 rs5 rs2
	for d in $DIRS; do echo "$d by hand: $(order "$d")"; done
	for d in $DIRS; do route "$d"; flows "$T/$S-pin-$d" $((20000 + B)); done
	dis_hand=$(paste -d ' ' "$T/$S-pin-d1" "$T/$S-pin-d2" "$T/$S-pin-d3" | awk '$1 != $2 || $1 != $3' | wc -l)
	# lvsctl status's order check (issue 15), before: d2's hand-made order is not canonical.
	st_hand=$(ip netns exec d2 "$LVSCTL" --socket /nonexistent status 2>/dev/null | grep "($S):" || true)
	echo "d2 status by hand: $st_hand"
	rules "$S" rs1 rs2 rs3 rs4 rs5 >"$T/rules5"
	ip netns exec d3 "$IPVSADM" -C
	for d in $DIRS; do
		ip netns exec "$d" "$LVSCTL" apply -v "$T/rules5" 2>&1 | sed "s/^/$d: /"
	done
	for d in $DIRS; do echo "$d after lvsctl apply: $(order "$d")"; done
	for d in $DIRS; do route "$d"; flows "$T/$S-pin2-$d" $((30000 + B)); done
	dis_plan=$(paste -d ' ' "$T/$S-pin2-d1" "$T/$S-pin2-d2" "$T/$S-pin2-d3" | awk '$1 != $2 || $1 != $3' | wc -l)
	echo "@@ECMP sched=$S phase=order flows=$N disagree_by_hand=$dis_hand disagree_after_plan=$dis_plan"
	if [ "$S" = mh ]; then
		fwd_check "mh: the directors' kernel orders are identical after lvsctl apply" \
			[ "$(order d1)" = "$(order d2)" -a "$(order d2)" = "$(order d3)" ]
		fwd_expect "mh: the kernel order is the canonical one" "rs5 rs4 rs3 rs2 rs1" "$(order d1)"
		fwd_check "mh: lvsctl status says d2's hand-made order is not canonical" \
			sh -c "echo '$st_hand' | grep -q 'NOT in canonical order'"
		for d in $DIRS; do
			st=$(ip netns exec "$d" "$LVSCTL" --socket /nonexistent status 2>/dev/null | grep "($S):" || true)
			fwd_check "mh: lvsctl status says $d's order is canonical after lvsctl apply" \
				sh -c "echo '$st' | grep -q 'real servers in canonical order'"
		done
		fwd_expect "mh: flows the directors disagree on after lvsctl apply" 0 "$dis_plan"
		# The kernel's mh hash keys are constants, so which flows the hand-made orders
		# disagree on is a fixed fact of these addresses and ports, not luck: few (the
		# order only decides who wins a slot two servers reach in the same round), not 0.
		fwd_check "mh: by hand, the directors disagree on some flows ($dis_hand of $N)" [ "$dis_hand" -gt 0 ]
	fi
	fwd_expect "$S: every flow answered (pinned)" 0 "$(cat "$T/$S"-pin*-d* | grep -vc '^rs[0-9]$')"

	# ---- rehash: rotate the next hops under new flows and long connections
	route d1 d2 d3
	talks_start "$S-rehash" 1
	conns >"$T/c0"
	flows "$T/$S-before" $((40000 + B))
	conns >"$T/c1"
	route d2 d3 d1
	flows "$T/$S-after" $((40000 + B))
	conns >"$T/c2"
	director_of "$T/c1" "$T/c0" >"$T/dir-before"
	director_of "$T/c2" "$T/c1" >"$T/dir-after"
	set -- $(awk 'NR == FNR {a[$1] = $2; next} ($1 in a) {n++; if (a[$1] == $2) s++} END {print n + 0, s + 0}' \
		"$T/dir-before" "$T/dir-after")
	seen=$1 same_dir=$2
	moved=$(differ "$T/$S-before" "$T/$S-after")
	talks_stop "$S-rehash"
	echo "@@ECMP sched=$S phase=rehash flows=$N flows_seen_on_both=$seen same_director=$same_dir moved=$moved conns=$L kept=$KEPT broken=$BROKEN"
	# A finished flow's entry (state CLOSE, 10 s) may be gone before the snapshot: the
	# flows of the last seconds of each run are seen; every one of them changed director.
	fwd_check "$S rehash: flows seen in the directors' tables before and after ($seen)" [ "$seen" -gt 0 ]
	fwd_expect "$S rehash: flows seen on both that stayed on their director" 0 "$same_dir"
	rehash_moved=$moved rehash_broken=$BROKEN
	if [ "$S" = mh ]; then
		fwd_expect "mh rehash: new flows that changed real server" 0 "$moved"
		fwd_expect "mh rehash: long connections broken" 0 "$BROKEN"
	fi

	# ---- remove: d1 dies (route withdrawn, table flushed) under long connections
	route d1 d2 d3
	talks_start "$S-remove" $((L + 1))
	on_d1=$(ip netns exec d1 "$IPVSADM" -Lnc | awk -v lo=$((L + 1)) -v hi=$((2 * L)) \
		'$3 == "ESTABLISHED" {split($4, a, "[.:]"); if (a[1] a[2] a[3] == "198181" && a[4] >= lo && a[4] <= hi) n++} END {print n + 0}')
	route d2 d3
	ip netns exec d1 "$IPVSADM" -C
	talks_stop "$S-remove"
	remove_broken=$BROKEN
	echo "@@ECMP sched=$S phase=remove conns=$L conns_on_d1=$on_d1 kept=$KEPT broken=$BROKEN"
	[ "$S" = mh ] && fwd_expect "mh remove: long connections broken" 0 "$BROKEN"
	ip netns exec d1 "$LVSCTL" apply "$T/rules5"
	route d1 d2 d3

	# ---- add: rs6 joins every director, under long connections (stopped before the next
	# hops are rotated, so that no director has entries for the flows asked again)
	flows "$T/$S-five" $((50000 + B))
	talks_start "$S-add" $((2 * L + 1))
	rules "$S" rs1 rs2 rs3 rs4 rs5 rs6 >"$T/rules6"
	for d in $DIRS; do ip netns exec "$d" "$LVSCTL" apply -v "$T/rules6" 2>&1 | sed "s/^/$d: /"; done
	talks_stop "$S-add"
	for d in $DIRS; do echo "$d after adding rs6: $(order "$d")"; done
	route d2 d3 d1
	# No director may answer an asked-again flow from an old entry (which would keep its old
	# server, whatever the new table says): wait until the CLOSE and FIN_WAIT ones expire.
	sleep 11
	flows "$T/$S-six" $((50000 + B))
	if [ "$S" = mh ]; then
		# The directors still agree, each asked for the same fresh flows.
		for d in $DIRS; do route "$d"; flows "$T/$S-pin3-$d" $((60000 + B)); done
		dis_add=$(paste -d ' ' "$T/$S-pin3-d1" "$T/$S-pin3-d2" "$T/$S-pin3-d3" | awk '$1 != $2 || $1 != $3' | wc -l)
		echo "@@ECMP sched=$S phase=add-agree flows=$N disagree=$dis_add"
		fwd_expect "mh add: flows the directors disagree on with rs6" 0 "$dis_add"
		route d1 d2 d3
	fi
	moved=$(differ "$T/$S-five" "$T/$S-six")
	to6=$(paste -d ' ' "$T/$S-five" "$T/$S-six" | awk '$1 != $2 && $2 == "rs6"' | wc -l)
	echo "@@ECMP sched=$S phase=add flows=$N moved=$moved moved_to_rs6=$to6 conns=$L kept=$KEPT broken=$BROKEN"
	fwd_expect "$S add: long connections broken" 0 "$BROKEN"
	if [ "$S" = mh ]; then
		# Maglev moves about 1/6 of the table to a sixth server and, since every server's
		# preference list is walked again, a few slots (under 1 %) between the old ones.
		fwd_check "mh add: the moved flows went to rs6 but a few ($to6 of $moved)" \
			[ "$to6" -gt 0 -a $((moved - to6)) -le $((N / 50)) ]
		fwd_check "mh add: some flows moved, at most a third ($moved of $N)" [ "$moved" -gt 0 -a "$moved" -le $((N / 3)) ]
	fi
	row "$S | $dis_hand/$N | $dis_plan/$N | $rehash_moved/$N | $rehash_broken/$L | $remove_broken/$L | $moved/$N ($to6 to rs6) | $BROKEN/$L"
}

# IPVS tables are per network namespace: the directors' are their own.
configure d1 wrr rs1
has_vip() { ip netns exec "$1" "$IPVSADM" -Ln | grep -q "^TCP  $VIP:80 "; }
fwd_check "IPVS is per namespace: d1 has its service" has_vip d1
fwd_check "IPVS is per namespace: d2 has no service of d1" sh -c "! /usr/sbin/ip netns exec d2 $IPVSADM -Ln | grep -q '^TCP  $VIP:80 '"
fwd_check "IPVS is per namespace: the root namespace has no service of d1" \
	sh -c "! $IPVSADM -Ln | grep -q '^TCP  $VIP:80 '"

measure mh 0
measure wrr 1000

echo
echo "@@ECMP | scheduler | directors disagree, by hand | after lvsctl apply | rehash: flows moved | rehash: conns broken | director removed: conns broken | rs6 added: flows moved | rs6 added: conns broken |"
echo "@@ECMP |---|---|---|---|---|---|---|---|"
echo "$TABLE" | sed -n 's/^|/@@ECMP |/p'
fwd_finish
