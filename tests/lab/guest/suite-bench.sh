#!/bin/sh
# bench: the oracle (ipvsadm 1.31) and ours on the same kernel in the same boot, for
# N services x 4 real servers: restore (-R), list (-Ln) and save (-Sn). Prints one
# machine-readable line per measurement:
#   @@BENCH <services> <rules> <op> <oracle_s> <ours_s> <identical:yes|no> <ours_maxrss_kb>
#   @@FLOOR <services> <rules> restore <floor_s> <identical:yes|no>   (minimal C client, if built)
#   @@TIMER <stopwatch|gnu-time> <resolution_s>                       (once, first)
#   @@APPLY <services> <rules> <case> <reference_s> <lvsctl_s> <writes> <expected_writes> <table_ok:yes|no>
#       lvsctl apply of N services x 8 real servers: case "empty" (into an empty table;
#       reference: our ipvsadm -R of the same file), "noop" (the table already matches;
#       reference: our ipvsadm -Sn), "oneline" (one weight changed; reference: -Sn)
# Times are wall-clock seconds, to the millisecond from /lab/bin/stopwatch (or to 10 ms
# from GNU time when the lab has no stopwatch); ours is the best of lab.bench_repeat
# runs, the oracle's a single run (it is 10-20x slower).
#
# Every restore runs alone: in a fresh network namespace, with no other table loaded, and
# the namespace is flushed and removed (and the kernel left to finish freeing it, see
# settle) before the next one. IPVS keeps deleted real servers in a per-namespace trash
# list that each later add scans, and every loaded table slows the kernel's allocators,
# so restoring after another restore, or while another namespace holds a table, is
# slower; measuring the tools one after the other that way would favour whichever ran
# first.
. /lab/lib.sh

lab_banner "bench: oracle vs ours, restore / list / save"
t0=$(lab_now)
sizes=$(lab_param bench_sizes | tr ',' ' ')
[ -n "$sizes" ] || sizes="1000 2000 5000 10000 20000"
# lab.bench_only=metrics: the lvsd --metrics scrape case alone.
only=$(lab_param bench_only)
[ "$only" = metrics ] && sizes=
repeat=$(lab_param bench_repeat)
[ -n "$repeat" ] || repeat=3
failed=0
passed=0
O=$LAB_ORACLE_DIR/ipvsadm
U=$LAB_OURS_DIR/ipvsadm

lab_reset_state

# rules N [M]: N services in 198.18.0.0/15, each with M (default 4) direct-routing real
# servers of weights 1..M.
rules() {
	awk -v n="$1" -v m="${2:-4}" 'BEGIN {
		for (i = 0; i < n; i++) {
			vip = sprintf("198.%d.%d.%d:80", 18 + int(i / 65536), int(i / 256) % 256, i % 256)
			printf "-A -t %s -s wrr\n", vip
			for (j = 1; j <= m; j++)
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
if [ -x /lab/bin/stopwatch ]; then
	echo "@@TIMER stopwatch 0.001"
else
	echo "@@TIMER gnu-time 0.01"
fi
timed() {
	_p=$1
	shift
	if [ -x /lab/bin/stopwatch ]; then
		ip netns exec "$NS" /lab/bin/stopwatch "$_p.time" "$@" <"$STDIN" >"$_p.out" 2>"$_p.err"
	else
		ip netns exec "$NS" /usr/bin/gnu-time -f "%e %M" -o "$_p.time" "$@" <"$STDIN" >"$_p.out" 2>"$_p.err"
	fi
	_st=$?
	[ "$_st" = 0 ] || echo "bench: $* exited with $_st: $(head -c 300 "$_p.err")" >&2
	cat "$_p.time"
}

# settle: waits until the CPU has been at least 90% idle for a fifth of a second, at most
# two minutes: a removed namespace's tables are freed by the kernel in the background,
# for several seconds when they are large, and that work must not land in a measurement.
settle() {
	_i=0
	while [ "$_i" -lt 600 ]; do
		_a=$(head -n 1 /proc/stat)
		sleep 0.2
		_b=$(head -n 1 /proc/stat)
		printf '%s\n%s\n' "$_a" "$_b" | awk '
			{ t = 0; for (i = 2; i <= NF; i++) t += $i; total[NR] = t; idle[NR] = $5 + $6 }
			END { d = total[2] - total[1]; exit !(d > 0 && (idle[2] - idle[1]) / d >= 0.9) }' && return 0
		_i=$((_i + 1))
	done
	echo "bench: the CPU did not settle" >&2
}

# restore_alone TAG CMD... : times CMD restoring /tmp/rules into a fresh namespace,
# keeps the resulting table in /tmp/state-TAG, then removes the namespace; prints
# "seconds maxrss_kb".
restore_alone() {
	_tag=$1
	shift
	NS=bench-restore
	fresh_ns "$NS"
	STDIN=${RULES:-/tmp/rules}
	_r=$(timed "/tmp/bench-$_tag-restore" "$@")
	STDIN=/dev/null
	ip netns exec "$NS" $O -Sn >"/tmp/state-$_tag"
	ip netns exec "$NS" $O -C
	ip netns del "$NS"
	settle
	echo "$_r"
}

# best_of CMD... : best "seconds maxrss_kb" of $repeat runs of CMD (which prints one).
best_of() {
	_best=""
	_k=0
	while [ "$_k" -lt "$repeat" ]; do
		_r=$("$@")
		_best=$(printf '%s\n%s\n' "$_best" "$_r" | awk 'NF == 2 && (b == "" || $1 < b) { b = $1; m = $2 } END { print b, m }')
		_k=$((_k + 1))
	done
	echo "$_best"
}

# ours_restore: one restore_alone of ours; a run whose table, output or messages differ
# from the oracle's leaves /tmp/restore-differs (runs happen in subshells).
ours_restore() {
	_o=$(restore_alone ours "$U" -R)
	cmp -s /tmp/state-oracle /tmp/state-ours && cmp -s /tmp/bench-oracle-restore.out /tmp/bench-ours-restore.out &&
		cmp -s /tmp/bench-oracle-restore.err /tmp/bench-ours-restore.err || : >/tmp/restore-differs
	echo "$_o"
}

report() {
	# $1 N, $2 op, $3 oracle result "s kb", $4 ours result "s kb", $5 identical
	set -- "$1" "$2" $3 $4 "$5"
	# now: $1 N $2 op $3 oracle_s $4 oracle_kb $5 ours_s $6 ours_kb $7 identical
	echo "@@BENCH $1 $(($1 * 5)) $2 $3 $5 $7 $6"
	awk -v n="$1" -v op="$2" -v o="$3" -v u="$5" -v id="$7" 'BEGIN {
		r = (u > 0) ? sprintf("%.1fx", o / u) : "inf"
		printf "bench: %6d services %-8s oracle %7.3f s   ours %6.3f s   ratio %7s   identical %s\n", n, op, o, u, r, id
	}'
	if [ "$7" = yes ]; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
}

for n in $sizes; do
	rules "$n" >/tmp/rules
	echo "bench: $n services, $(wc -l </tmp/rules) rules"
	settle

	# Restores, each alone (see above); ours must leave the oracle's table and print what
	# the oracle prints, in every run.
	ro=$(restore_alone oracle "$O" -R)
	rm -f /tmp/restore-differs
	ru=$(best_of ours_restore)
	[ -e /tmp/restore-differs ] && rid=no || rid=yes

	# The floor: a minimal C client building the same table in memory (no parsing), best
	# of $repeat runs, each alone; its table must be the oracle's too.
	if [ -x /lab/bin/floor ]; then
		fbest=$(best_of restore_alone floor /lab/bin/floor "$n" 256 errors)
		cmp -s /tmp/state-oracle /tmp/state-floor && fid=yes || fid=no
		fbest=${fbest% *}
		echo "@@FLOOR $n $((n * 5)) restore $fbest $fid"
		echo "bench: $n services restore floor (minimal C client, 256 requests per sendmsg): $fbest s, same table: $fid"
	fi

	# List and save of the same table, loaded (untimed) by ours into one namespace.
	NS=bench-list
	fresh_ns "$NS"
	ip netns exec "$NS" "$U" -R </tmp/rules
	ip netns exec "$NS" $O -Sn >/tmp/state-list
	cmp -s /tmp/state-oracle /tmp/state-list || echo "bench: the table to list differs from the oracle's" >&2
	settle
	STDIN=/dev/null
	lo=$(timed /tmp/bench-oracle-list "$O" -Ln)
	lu=$(best_of timed /tmp/bench-ours-list "$U" -Ln)
	cmp -s /tmp/bench-oracle-list.out /tmp/bench-ours-list.out && lid=yes || lid=no
	so=$(timed /tmp/bench-oracle-save "$O" -Sn)
	su=$(best_of timed /tmp/bench-ours-save "$U" -Sn)
	cmp -s /tmp/bench-oracle-save.out /tmp/bench-ours-save.out && sid=yes || sid=no

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

# lvsctl apply: N services x 8 real servers (9 N rules), in an empty table, in a table
# that already matches, and with one weight changed. Writes are counted by lvsctl -v from
# the datagrams its handle sends.
L=$LAB_OURS_DIR/lvsctl
apply_sizes=$(lab_param bench_apply_sizes | tr ',' ' ')
[ -n "$apply_sizes" ] || apply_sizes=2000
[ "$only" = metrics ] && apply_sizes=
# writes_of FILE: the write count lvsctl -v reported in FILE (its stderr).
writes_of() {
	sed -n 's/^lvsctl: [0-9]* changes, \([0-9]*\) write requests sent$/\1/p' "$1" | tail -n 1
}
apply_report() {
	# $1 N, $2 case, $3 reference "s kb", $4 lvsctl "s kb", $5 writes, $6 expected, $7 table ok
	set -- "$1" "$2" $3 $4 "$5" "$6" "$7"
	# now: $1 N $2 case $3 ref_s $4 ref_kb $5 lvsctl_s $6 lvsctl_kb $7 writes $8 expected $9 ok
	echo "@@APPLY $1 $(($1 * 9)) $2 $3 $5 ${7:-none} $8 $9"
	awk -v n="$1" -v c="$2" -v r="$3" -v u="$5" -v w="${7:-none}" -v e="$8" -v ok="$9" 'BEGIN {
		printf "bench: %6d services apply %-8s reference %6.3f s   lvsctl %6.3f s   (%.2fx)   writes %s (expected %s)   table %s\n", n, c, r, u, (r > 0 ? u / r : 0), w, e, ok
	}'
	if [ "$9" = yes ] && [ "${7:-none}" = "$8" ]; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
}
if [ -x "$L" ]; then
	for n in $apply_sizes; do
		rules "$n" 8 >/tmp/rules8
		echo "bench: lvsctl apply, $n services x 8 real servers, $(wc -l </tmp/rules8) rules"
		settle
		# Into an empty table, each run alone: ours -R, then lvsctl apply of the same file.
		re=$(RULES=/tmp/rules8 best_of restore_alone r8 "$U" -R)
		ae=$(RULES=/tmp/rules8 best_of restore_alone a8 "$L" apply -v -)
		cmp -s /tmp/state-r8 /tmp/state-a8 && eok=yes || eok=no
		apply_report "$n" empty "$re" "$ae" "$(writes_of /tmp/bench-a8-restore.err)" $((n * 9)) "$eok"

		# A table that already matches: no write; reference our -Sn of the same table.
		NS=bench-apply
		fresh_ns "$NS"
		ip netns exec "$NS" "$U" -R </tmp/rules8
		ip netns exec "$NS" $O -Sn >/tmp/state-apply-before
		settle
		STDIN=/dev/null
		sn=$(best_of timed /tmp/bench-s8 "$U" -Sn)
		an=$(best_of timed /tmp/bench-noop "$L" apply -v /tmp/rules8)
		ip netns exec "$NS" $O -Sn >/tmp/state-apply-noop
		cmp -s /tmp/state-apply-before /tmp/state-apply-noop && nok=yes || nok=no
		apply_report "$n" noop "$sn" "$an" "$(writes_of /tmp/bench-noop.err)" 0 "$nok"

		# One weight changed: exactly one write, and the table is the file's.
		awk 'NR == 2 { sub(/-w 1$/, "-w 9") } 1' /tmp/rules8 >/tmp/rules8b
		sed 's/^\(-a -t 198\.18\.0\.0:80 -r 198\.51\.100\.1:80 -g -w\) 1$/\1 9/' \
			/tmp/state-apply-before >/tmp/state-apply-expected
		a1=$(timed /tmp/bench-one "$L" apply -v /tmp/rules8b)
		ip netns exec "$NS" $O -Sn >/tmp/state-apply-one
		cmp -s /tmp/state-apply-expected /tmp/state-apply-one && ! cmp -s /tmp/state-apply-before /tmp/state-apply-one &&
			ook=yes || ook=no
		apply_report "$n" oneline "$sn" "$a1" "$(writes_of /tmp/bench-one.err)" 1 "$ook"
		ip netns exec "$NS" $O -C
		ip netns del "$NS"
	done
else
	echo "bench: no lvsctl in /ours, apply cases skipped"
fi

# lvsd --metrics: one scrape (GET /metrics) of M real servers (M/4 services x
# 4, a table lvsd builds from its configuration, no checks), timed against our
# `ipvsadm -Ln --stats` on the same table; the target is a scrape at most 1.5x the
# listing. The scrape must carry one series per real server.
#   @@METRICS <services> <real_servers> <ipvsadm_s> <scrape_s> <curl_scrape_s> <curl_alone_s> <series_ok:yes|no> <nc_scrape_s>
# scrape_s: read as a Prometheus server reads it (labnet get: 256 KiB reads); nc_scrape_s:
# the same request through busybox nc (1 KiB reads and writes: at 6 MB, the client's cost).
D=$LAB_OURS_DIR/lvsd
metrics_rs=$(lab_param bench_metrics_rs | tr ',' ' ')
[ -n "$metrics_rs" ] || metrics_rs=5000
# With lab.bench_only=metrics, also a scrape with --metrics-real-servers off (per
# service series only; an information line, no @@METRICS).
variants=on
[ "$only" = metrics ] && variants="on off"
if [ -x "$D" ]; then
	for variant in $variants; do
	for m in $metrics_rs; do
		n=$((m / 4))
		awk -v n="$n" 'BEGIN {
			for (i = 0; i < n; i++) {
				printf "virtual_server 198.%d.%d.%d 80 {\n    lb_algo wrr\n    lb_kind DR\n    protocol TCP\n", 18 + int(i / 65536), int(i / 256) % 256, i % 256
				for (j = 1; j <= 4; j++)
					printf "    real_server 198.51.100.%d 80 {\n        weight %d\n    }\n", j, j
				printf "}\n"
			}
		}' >/tmp/metrics.conf
		NS=bench-metrics
		fresh_ns "$NS"
		rm -f /tmp/bench-lvsd.pid
		ip netns exec "$NS" sh -c "echo \$\$ >/tmp/bench-lvsd.pid; exec $D -f /tmp/metrics.conf --metrics 127.0.0.1:9100 --metrics-real-servers $variant" </dev/null >/dev/null 2>/tmp/bench-lvsd.log &
		_i=0
		until [ "$(ip netns exec "$NS" "$U" -Ln | grep -c -- '-> 198\.51\.100\.')" = "$m" ] || [ $_i -ge 600 ]; do
			_i=$((_i + 1))
			sleep 0.2
		done
		settle
		STDIN=/dev/null
		ml=$(best_of timed /tmp/bench-mls "$U" -Ln --stats)
		# The scrape as a Prometheus server makes it (one HTTP request, no process start
		# to pay): busybox nc sends the request; then the same with curl, whose start
		# alone (GET / of a one-line page) is timed too.
		printf 'GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >/tmp/metrics.req
		STDIN=/tmp/metrics.req
		mn=$(best_of timed /tmp/bench-scrape-nc nc 127.0.0.1 9100)
		STDIN=/dev/null
		if [ -x /lab/bin/labnet ]; then
			ms=$(best_of timed /tmp/bench-scrape /lab/bin/labnet get 127.0.0.1 9100 /metrics)
		else
			ms=$mn
			cp /tmp/bench-scrape-nc.out /tmp/bench-scrape.out
		fi
		mu=$(best_of timed /tmp/bench-scrape-curl curl -sS http://127.0.0.1:9100/metrics)
		mc=$(best_of timed /tmp/bench-root curl -sS http://127.0.0.1:9100/)
		got=$(grep -c '^lvsd_real_server_connections_total{' /tmp/bench-scrape.out)
		gotc=$(grep -c '^lvsd_real_server_connections_total{' /tmp/bench-scrape-curl.out)
		gotn=$(grep -c '^lvsd_real_server_connections_total{' /tmp/bench-scrape-nc.out)
		set -- $ml $ms $mu $mc $mn
		if [ "$variant" = off ]; then
			gots=$(grep -c '^lvsd_service_connections_total{' /tmp/bench-scrape.out)
			[ "$got" = 0 ] && [ "$gots" = "$n" ] && mok=yes || mok=no
			echo "bench: metrics scrape with --metrics-real-servers off, $m real servers ($n services): ipvsadm -Ln --stats $1 s   scrape $3 s   $(wc -c </tmp/bench-scrape.out) bytes, $(wc -l </tmp/bench-scrape.out) lines   per-service series only: $mok"
		else
			[ "$got" = "$m" ] && [ "$gotc" = "$m" ] && [ "$gotn" = "$m" ] && mok=yes || mok=no
			echo "@@METRICS $n $m $1 $3 $5 $7 $mok $9"
		fi
		echo "bench: metrics: dump within the scrape $(awk '$1 == "lvsd_kernel_dump_duration_seconds" { print $2 }' /tmp/bench-scrape.out) s; $(wc -c </tmp/bench-scrape.out) bytes, $(wc -l </tmp/bench-scrape.out) lines (ipvsadm -Ln --stats: $(wc -c </tmp/bench-mls.out) bytes)"
		[ "$variant" = off ] || awk -v n="$n" -v m="$m" -v l="$1" -v s="$3" -v u="$5" -v c="$7" -v ok="$mok" -v g="$got" 'BEGIN {
			printf "bench: metrics scrape of %d real servers (%d services): ipvsadm -Ln --stats %6.3f s   scrape %6.3f s (%.2fx, target <= 1.5x)   with curl %6.3f s (%.2fx; curl alone %6.3f s)   series %s (%d)\n", m, n, l, s, (l > 0 ? s / l : 0), u, (l > 0 ? u / l : 0), c, ok, g
		}'
		if [ "$mok" = yes ]; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
		kill "$(cat /tmp/bench-lvsd.pid)" 2>/dev/null
		_i=0
		while kill -0 "$(cat /tmp/bench-lvsd.pid)" 2>/dev/null && [ $_i -lt 100 ]; do _i=$((_i + 1)); sleep 0.1; done
		ip netns exec "$NS" $O -C
		ip netns del "$NS"
		settle
	done
	done
else
	echo "bench: no lvsd in /ours, metrics scrape skipped"
fi

lab_reset_state
echo "bench: $passed identical, $failed different"
lab_result bench "$passed" "$failed" "$(lab_since "$t0")"
