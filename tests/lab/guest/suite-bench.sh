#!/bin/sh
# bench: the oracle (ipvsadm 1.31) and ours on the same kernel in the same boot, for
# N services x 4 real servers: restore (-R), list (-Ln) and save (-Sn). Prints one
# machine-readable line per measurement:
#   @@BENCH <services> <rules> <op> <oracle_s> <ours_s> <identical:yes|no> <ours_maxrss_kb>
# Times are wall-clock seconds from GNU time (10 ms resolution); ours is the best of
# lab.bench_repeat runs, the oracle's a single run (it is 10-20x slower).
#
# Every restore runs in a fresh network namespace: IPVS keeps deleted real servers in a
# per-namespace trash list that each later add scans, so restoring into a namespace
# that was just flushed is slower, and measuring one tool after the other there would
# favour whichever ran first.
. /lab/lib.sh

lab_banner "bench: oracle vs ours, restore / list / save"
t0=$(lab_now)
sizes=$(lab_param bench_sizes | tr ',' ' ')
[ -n "$sizes" ] || sizes="1000 2000 5000 10000 20000"
repeat=$(lab_param bench_repeat)
[ -n "$repeat" ] || repeat=3
failed=0
passed=0
O=$LAB_ORACLE_DIR/ipvsadm
U=$LAB_OURS_DIR/ipvsadm

lab_reset_state

# rules N: N services in 198.18.0.0/15, each with 4 direct-routing real servers.
rules() {
	awk -v n="$1" 'BEGIN {
		for (i = 0; i < n; i++) {
			vip = sprintf("198.%d.%d.%d:80", 18 + int(i / 65536), int(i / 256) % 256, i % 256)
			printf "-A -t %s -s wrr\n", vip
			for (j = 1; j <= 4; j++)
				printf "-a -t %s -r 198.51.100.%d:80 -g -w %d\n", vip, j, j
		}
	}'
}

# fresh_ns NAME: a new network namespace with the lab's dummy uplink (so the real
# servers' addresses are unicast).
fresh_ns() {
	ip netns del "$1" 2>/dev/null
	ip netns add "$1"
	ip -n "$1" -batch - <<-EOF2
		link set lo up
		link add lab0 type dummy
		link set lab0 up
		addr add 198.51.100.254/24 dev lab0
		route add default dev lab0
	EOF2
}

# timed OUT_PREFIX CMD... : runs CMD in namespace $NS with stdin from $STDIN, stdout to
# OUT_PREFIX.out; prints "seconds maxrss_kb".
timed() {
	_p=$1
	shift
	ip netns exec "$NS" /usr/bin/gnu-time -f "%e %M" -o "$_p.time" "$@" <"$STDIN" >"$_p.out" 2>"$_p.err"
	_st=$?
	[ "$_st" = 0 ] || echo "bench: $* exited with $_st: $(head -c 300 "$_p.err")" >&2
	cat "$_p.time"
}

# best IMPL_BIN OP... : best time of $repeat runs (and the max RSS of that run).
best() {
	_best=""
	_k=0
	while [ "$_k" -lt "$repeat" ]; do
		if [ "$OP" = restore ]; then
			NS=bench-ours-$_k
			fresh_ns "$NS"
		fi
		_r=$(timed "/tmp/bench-ours-$OP" "$@")
		_best=$(printf '%s\n%s\n' "$_best" "$_r" | awk 'NF == 2 && (b == "" || $1 < b) { b = $1; m = $2 } END { print b, m }')
		_k=$((_k + 1))
	done
	echo "$_best"
}

report() {
	# $1 N, $2 op, $3 oracle result "s kb", $4 ours result "s kb", $5 identical
	set -- "$1" "$2" $3 $4 "$5"
	# now: $1 N $2 op $3 oracle_s $4 oracle_kb $5 ours_s $6 ours_kb $7 identical
	echo "@@BENCH $1 $(($1 * 5)) $2 $3 $5 $7 $6"
	awk -v n="$1" -v op="$2" -v o="$3" -v u="$5" -v id="$7" 'BEGIN {
		r = (u > 0) ? sprintf("%.1fx", o / u) : "inf"
		printf "bench: %6d services %-8s oracle %7.2f s   ours %6.2f s   ratio %7s   identical %s\n", n, op, o, u, r, id
	}'
	if [ "$7" = yes ]; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
}

for n in $sizes; do
	rules "$n" >/tmp/rules
	echo "bench: $n services, $(wc -l </tmp/rules) rules"

	# restore: oracle, then remember the resulting table
	STDIN=/tmp/rules
	OP=restore
	NS=bench-oracle
	fresh_ns "$NS"
	ro=$(timed /tmp/bench-oracle-restore "$O" -R)
	ip netns exec "$NS" $O -Sn >/tmp/state-oracle
	STDIN=/dev/null

	# list and save of that table
	OP=list
	lo=$(timed /tmp/bench-oracle-list "$O" -Ln)
	lu=$(best "$U" -Ln)
	cmp -s /tmp/bench-oracle-list.out /tmp/bench-ours-list.out && lid=yes || lid=no
	OP=save
	so=$(timed /tmp/bench-oracle-save "$O" -Sn)
	su=$(best "$U" -Sn)
	cmp -s /tmp/bench-oracle-save.out /tmp/bench-ours-save.out && sid=yes || sid=no

	# restore with ours (each run in a fresh namespace): same table as the oracle's?
	STDIN=/tmp/rules
	OP=restore
	ru=$(best "$U" -R)
	STDIN=/dev/null
	NS=bench-ours-$((repeat - 1))
	ip netns exec "$NS" $O -Sn >/tmp/state-ours
	cmp -s /tmp/state-oracle /tmp/state-ours && cmp -s /tmp/bench-oracle-restore.out /tmp/bench-ours-restore.out &&
		cmp -s /tmp/bench-oracle-restore.err /tmp/bench-ours-restore.err && rid=yes || rid=no

	report "$n" restore "$ro" "$ru" "$rid"
	report "$n" list "$lo" "$lu" "$lid"
	report "$n" save "$so" "$su" "$sid"
	# Flush before deleting: the namespace's teardown then has nothing left to do
	# in the background while the next size is measured.
	for ns in $(ip netns list | awk '/^bench-/ { print $1 }'); do
		ip netns exec "$ns" $O -C
		ip netns del "$ns"
	done
done

lab_reset_state
echo "bench: $passed identical, $failed different"
lab_result bench "$passed" "$failed" "$(lab_since "$t0")"
