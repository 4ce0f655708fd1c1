#!/bin/sh
# bench-director: the director daemons on the same kernel in the same boot, keepalived 2.2.7
# (--check) and ours (/ours/lvsd), on the same keepalived.conf. Run by tests/lab/bench
# --director; see tests/lab/README.md, "bench". Prints machine-readable lines:
#   @@DBENCH <variant> <daemon> <key> <value>
#     variant: distinct (S services x R real servers, every (address, port) target its
#              own) or shared (the same R real servers in every service)
#     keys: knock_per_s (TCP connect + reset a second, one thread, no daemon), startup_s, window_s, checks_due, probes_due, checks_run, cpu_s, cpu_ms_per_check,
#           rss_start_kb (peak RSS once started), rss_kb, rss_now_kb (RSS at the window's
#           end), rss_proc_kb (the largest one process's peak RSS), noop_s, noop_writes, noop_unchanged, noop_checks, noop_due,
#           oneline_s, oneline_writes, oneline_ok, oneline_checks, oneline_due, rss_after_kb,
#           table (yes|no: the expected table reached at start)
#   @@DDETECT <daemon> down|up <rep> <seconds>
#   @@DROUND <round> <daemon> <checks_run> <cpu_ticks> <busy_ticks> <engine_ticks>
#            (distinct variant, every round; busy: the whole guest's non-idle CPU over the
#            window: the daemon, the real servers' listener and the packet processing charged
#            to neither; engine: lvsd's check-engine thread alone, 0 for keepalived)
#   @@DINFO <key> <value...>
# Real servers are AnyIP addresses (a "local" route for 198.19.0.0/16) of one namespace,
# whose single listener (labnet count) counts every accepted connection: checks run are
# counted at the real servers' side, for both daemons alike.
#
# Nothing is asserted about times. A daemon that does not reach the expected table (at
# start, after a reload, after a detection event), or does not say it started / reloaded,
# counts as a failure, so that a broken build cannot print plausible numbers.
. /lab/lib.sh

lab_banner "bench-director: keepalived 2.2.7 --check vs lvsd, same configuration, same boot"
t0=$(lab_now)
passed=0
failed=0
W=/tmp/bdir
rm -rf "$W"
mkdir -p "$W"
KA=/oracle/keepalived
LVSD=/ours/lvsd
LABNET=/lab/bin/labnet
BENCH=bench-director
# since, elapsed_gt, settle, calib, the network (net_up, net_down: bd and brs), the counting
# listeners (listen, unlisten, accepted) and the daemon's CPU and memory (procs, cpu_ticks,
# hwm_kb).
. /lab/bench-lib.sh
# Reading an 18,000-rule table: ours (checked byte for byte against the oracle by the diff
# and bench suites) takes a fraction of the oracle's time.
READ=/ours/ipvsadm
[ -x "$READ" ] || READ=/oracle/ipvsadm
services=$(lab_param bdir_services)
[ -n "$services" ] || services=2000
rs=$(lab_param bdir_rs)
[ -n "$rs" ] || rs=8
window=$(lab_param bdir_window)
[ -n "$window" ] || window=30
reps=$(lab_param bdir_reps)
[ -n "$reps" ] || reps=3
shared=$(lab_param bdir_shared)
[ -n "$shared" ] || shared=1
daemons=$(lab_param bdir_daemons | tr ',' ' ')
[ -n "$daemons" ] || daemons="keepalived lvsd"
# reloads 0: no reload measured (CPU and start-up only); rounds N: the distinct variant N
# times, the daemons alternating (the host's load drifts: rounds compare the daemons under
# the same drift; the figures of the last round go to the table, every round to @@DROUND).
reloads=$(lab_param bdir_reloads)
[ -n "$reloads" ] || reloads=1
rounds=$(lab_param bdir_rounds)
[ -n "$rounds" ] || rounds=1
ROUND=1
DELAY=5
# Bounds (seconds): start-up, a reload, one detection event.
START_MAX=300
RELOAD_MAX=$(lab_param bdir_reload_max)
[ -n "$RELOAD_MAX" ] || RELOAD_MAX=400
EVENT_MAX=20
echo "@@DINFO size $services $rs $window $DELAY"
echo "@@DINFO reader $READ"
echo "@@DINFO clocksource $(cat /sys/devices/system/clocksource/clocksource0/current_clocksource 2>/dev/null)"

lab_reset_state
mkdir -p /etc/keepalived

pass() { passed=$((passed + 1)); }
fail() {
	echo "bench-director: FAIL: $*"
	failed=$((failed + 1))
}

# ---------------------------------------------------------------- configurations
# big VARIANT WEIGHT0: keepalived.conf of $services x $rs TCP_CHECK real servers (NAT, wrr,
# delay_loop 5) on stdout; the first real server of the first service has weight WEIGHT0,
# the others 1. distinct: real server k = s * rs + j is 198.19.(k / 250).(k % 250 + 1):80;
# shared: every service has 198.19.100.1..rs:80. Service s is 198.18.(s / 250).(s % 250 + 1):80.
big() {
	awk -v n="$services" -v m="$rs" -v v="$1" -v w0="$2" -v d="$DELAY" 'BEGIN {
		for (s = 0; s < n; s++) {
			printf "virtual_server 198.18.%d.%d 80 {\n", int(s / 250), s % 250 + 1
			printf "    delay_loop %d\n    lb_algo wrr\n    lb_kind NAT\n    protocol TCP\n", d
			for (j = 0; j < m; j++) {
				k = s * m + j
				if (v == "shared") a = sprintf("198.19.100.%d", j + 1)
				else a = sprintf("198.19.%d.%d", int(k / 250), k % 250 + 1)
				printf "    real_server %s 80 {\n        weight %d\n", a, (k == 0 ? w0 : 1)
				printf "        TCP_CHECK {\n            connect_timeout 3\n        }\n    }\n"
			}
			printf "}\n"
		}
	}'
}
# table CONF: the table ipvsadm -Sn must show for keepalived.conf CONF (sorted).
table() {
	awk '
		$1 == "virtual_server" { vip = $2 ":" $3; print "-A -t " vip " -s wrr" }
		$1 == "real_server" { r = $2 ":" $3 }
		$1 == "weight" { print "-a -t " vip " -r " r " -m -w " $2 }
	' "$1" | sort
}
read_table() { ip netns exec bd "$READ" -Sn 2>&1 | sort; }

# ---------------------------------------------------------------- daemons
# start DAEMON CONF: in bd, log in $W/DAEMON.log; PID = its pid.
start() {
	case $1 in
	keepalived)
		/usr/sbin/ip netns exec bd "$KA" --check --dont-fork --log-console --log-detail --no-syslog \
			-f "$2" </dev/null >>"$W/$1.log" 2>&1 &
		;;
	lvsd)
		# Its few lines stamped with /proc/uptime (for the profile in the report): through
		# a fifo, so that $! is lvsd's pid.
		rm -f "$W/lvsd.fifo"
		mkfifo "$W/lvsd.fifo"
		awk '{ getline u < "/proc/uptime"; close("/proc/uptime"); split(u, a, " "); print; print a[1], $0 > "/dev/stderr"; fflush() }' \
			<"$W/lvsd.fifo" >>"$W/$1.log" 2>>"$W/$1.stamped" &
		/usr/sbin/ip netns exec bd "$LVSD" -f "$2" </dev/null >"$W/lvsd.fifo" 2>&1 &
		;;
	esac
	PID=$!
}
alive() {
	kill -0 "$PID" 2>/dev/null || return 1
	case $(cut -d' ' -f3 "/proc/$PID/stat" 2>/dev/null) in Z | '') return 1 ;; esac
}
stop() {
	kill -TERM "$PID" 2>/dev/null
	_s=$(lab_now)
	while alive; do
		if elapsed_gt "$_s" 30; then
			echo "bench-director: $DAEMON did not stop within 30 s: killed"
			kill -KILL "$PID"
			break
		fi
		sleep 0.1
	done
	wait "$PID" 2>/dev/null
}
# engine_ticks: CPU of lvsd's check-engine thread (lvsd-checks; its other threads read and
# write the kernel: start, events, the periodic reconcile); 0 for keepalived.
engine_ticks() {
	cat /proc/"$PID"/task/*/stat 2>/dev/null | awk '$2 == "(lvsd-checks)" { t += $14 + $15 } END { print t + 0 }'
}
# busy_ticks: the whole guest's non-idle CPU since boot (clock ticks, /proc/stat).
busy_ticks() { awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8 + $9; exit }' /proc/stat; }
marks() {
	_c=$(grep -c -F "$1" "$W/$DAEMON.log" 2>/dev/null)
	echo "${_c:-0}"
}
# wait_mark TEXT N MAX [T0]: until the log has more than N lines with TEXT, at most MAX s
# after T0 (default: now); sets T_MARK.
wait_mark() {
	_w0=${4:-$(lab_now)}
	while [ "$(marks "$1")" -le "$2" ]; do
		alive || {
			echo "bench-director: $DAEMON exited before logging \"$1\""
			return 1
		}
		elapsed_gt "$_w0" "$3" && {
			echo "bench-director: no \"$1\" from $DAEMON within $3 s"
			return 1
		}
		sleep 0.05
	done
	T_MARK=$(lab_now)
}
# writes: the sum of N over the log's "kernel: N changes applied" lines (lvsd).
writes() {
	sed -n 's/^lvsd: kernel: \([0-9]*\) changes applied.*/\1/p' "$W/$DAEMON.log" | awk '{ t += $1 } END { print t + 0 }'
}
mark_start() { [ "$DAEMON" = keepalived ] && echo "Startup complete" || echo "lvsd: started: "; }
mark_reload() { [ "$DAEMON" = keepalived ] && echo "Reload complete" || echo "lvsd: reload: ok"; }
out() { echo "@@DBENCH $VARIANT $DAEMON $1 $2"; }
# Last lines of the daemon's log, for a failure.
tail_log() { tail -n 15 "$W/$DAEMON.log" | sed 's/^/    | /'; }

# kernel_weight: the weight of the first real server of the first service, read from the
# kernel (one service: cheap to poll).
kernel_weight() {
	ip netns exec bd "$READ" -Ln -t 198.18.0.1:80 2>/dev/null | awk -v r="$FIRST_RS" '$1 == "->" && $2 == r { print $4 }'
}

# reload NAME CONF EXPECTED: SIGHUP with CONF copied over the daemon's file; measures the
# time to its "done" line, the listener's count meanwhile and the kernel writes (lvsd);
# the table must then be EXPECTED.
reload() {
	_name=$1
	cp "$2" "$W/keepalived.conf"
	_m=$(marks "$(mark_reload)")
	_w=$(writes)
	read_table >"$W/before-$_name"
	_c0=$(accepted)
	_t=$(lab_now)
	kill -HUP "$PID"
	if [ "$_name" = oneline ]; then
		# The one change in the kernel: when it is visible (polled every 0.1 s).
		until [ "$(kernel_weight)" = 5 ]; do
			alive && ! elapsed_gt "$_t" "$RELOAD_MAX" || break
			sleep 0.1
		done
		[ "$(kernel_weight)" = 5 ] && out oneline_kernel_s "$(since "$_t" "$(lab_now)")"
	fi
	if ! wait_mark "$(mark_reload)" "$_m" "$RELOAD_MAX" "$_t"; then
		fail "$DAEMON $VARIANT: $_name reload not done"
		out "${_name}_timeout" "$RELOAD_MAX"
		out "${_name}_checks" $(($(accepted) - _c0))
		tail_log
		return 1
	fi
	_c1=$(accepted)
	_d=$(since "$_t" "$T_MARK")
	out "${_name}_s" "$_d"
	out "${_name}_checks" $((_c1 - _c0))
	out "${_name}_due" "$(awk -v d="$_d" -v n="$PROBES" -v l="$DELAY" 'BEGIN { printf "%d", d * n / l }')"
	# lvsd logs its writes with the reload (the printer runs once the reload is done).
	sleep 1
	[ "$DAEMON" = lvsd ] && out "${_name}_writes" $(($(writes) - _w))
	read_table >"$W/after-$_name"
	if cmp -s "$W/after-$_name" "$3"; then
		out "${_name}_ok" yes
		echo "bench-director: $DAEMON $_name reload: ${_d} s, $((_c1 - _c0)) checks meanwhile, table right"
		pass
	else
		out "${_name}_ok" no
		fail "$DAEMON $VARIANT: table after the $_name reload differs from the expected one:"
		diff "$3" "$W/after-$_name" | head -n 10 | sed 's/^/    /'
		tail_log
	fi
	cmp -s "$W/before-$_name" "$W/after-$_name" && out "${_name}_unchanged" yes || out "${_name}_unchanged" no
}

# big_run VARIANT DAEMON: start-up, steady checking, peak RSS, and (distinct) reloads.
big_run() {
	VARIANT=$1
	DAEMON=$2
	echo
	echo "bench-director: --- $VARIANT targets, $DAEMON: $services services x $rs real servers, TCP_CHECK, delay_loop $DELAY"
	rm -f "$W/$DAEMON.log"
	if ! net_up >"$W/net.log" 2>&1; then
		fail "$DAEMON $VARIANT: network setup"
		sed 's/^/    /' "$W/net.log"
		return
	fi
	big "$VARIANT" 1 >"$W/keepalived.conf"
	big "$VARIANT" 1 >"$W/conf-noop"
	big "$VARIANT" 5 >"$W/conf-one"
	table "$W/conf-noop" >"$W/expect-noop"
	table "$W/conf-one" >"$W/expect-one"
	if [ "$VARIANT" = shared ]; then PROBES=$rs; else PROBES=$((services * rs)); fi
	FIRST_RS=$(awk '$1 == "real_server" { print $2 ":" $3; exit }' "$W/conf-noop")
	FIRST_RS_ADDR=${FIRST_RS%:*}
	settle
	out calib_s "$(calib)"
	# The guest's ceiling, with no daemon: one thread connecting to a real server and
	# resetting, one connection after another, for 10 s (the checks due: $PROBES / $DELAY a
	# second). A daemon that runs fewer checks than this is short of the guest's CPU, not
	# of the kernel's.
	_k=$(ip netns exec bd "$LABNET" knock 10 "$FIRST_RS_ADDR" 80 2>&1)
	echo "bench-director: before $DAEMON: $_k"
	out knock_per_s "$(echo "$_k" | sed -n 's/.*s, \([0-9]*\) per second.*/\1/p')"
	settle
	_t=$(lab_now)
	start "$DAEMON" "$W/keepalived.conf"
	if ! wait_mark "$(mark_start)" 0 "$START_MAX"; then
		fail "$DAEMON $VARIANT: did not start"
		tail_log
		out table no
		stop
		net_down
		return
	fi
	# The table must hold every real server: read it (the first read normally does; it
	# began after the start line, so the table was complete at the line). Start-up: exec
	# to the start line, or to the end of the first complete read when the first was not.
	_ok=no
	_reads=0
	while :; do
		read_table >"$W/table-start"
		_tr=$(lab_now)
		_reads=$((_reads + 1))
		if cmp -s "$W/table-start" "$W/expect-noop"; then
			_ok=yes
			break
		fi
		elapsed_gt "$_t" "$START_MAX" && break
		alive || break
		sleep 0.2
	done
	out table "$_ok"
	if [ "$_ok" != yes ]; then
		fail "$DAEMON $VARIANT: the table never held the $((services * rs)) real servers (last read: $(grep -c '^-a' "$W/table-start") real servers)"
		diff "$W/expect-noop" "$W/table-start" | head -n 10 | sed 's/^/    /'
		tail_log
		stop
		net_down
		return
	fi
	pass
	if [ "$_reads" = 1 ]; then _su=$(since "$_t" "$T_MARK"); else _su=$(since "$_t" "$_tr"); fi
	out startup_s "$_su"
	out rss_start_kb "$(hwm_kb)"
	echo "bench-director: $DAEMON started in $_su s ($((services * rs)) real servers in the table)"

	# Steady checking: one delay_loop of warm-up, then the window.
	sleep "$DELAY"
	_k0=$(cpu_ticks)
	_e0=$(engine_ticks)
	_b0=$(busy_ticks)
	_c0=$(accepted)
	_w0=$(lab_now)
	sleep "$window"
	_k1=$(cpu_ticks)
	_e1=$(engine_ticks)
	_b1=$(busy_ticks)
	_c1=$(accepted)
	_w1=$(lab_now)
	alive || fail "$DAEMON $VARIANT: exited during the window"
	_win=$(since "$_w0" "$_w1")
	_run=$((_c1 - _c0))
	out window_s "$_win"
	out checks_due "$(awk -v d="$_win" -v n="$((services * rs))" -v l="$DELAY" 'BEGIN { printf "%d", d * n / l }')"
	out probes_due "$(awk -v d="$_win" -v n="$PROBES" -v l="$DELAY" 'BEGIN { printf "%d", d * n / l }')"
	out checks_run "$_run"
	out cpu_s "$(awk -v k=$((_k1 - _k0)) 'BEGIN { printf "%.2f", k / 100 }')"
	out cpu_ms_per_check "$(awk -v k=$((_k1 - _k0)) -v r="$_run" 'BEGIN { if (r > 0) printf "%.3f", k * 10 / r; else print "-" }')"
	[ "$VARIANT" = distinct ] && echo "@@DROUND $ROUND $DAEMON $_run $((_k1 - _k0)) $((_b1 - _b0)) $((_e1 - _e0))"
	out rss_kb "$(hwm_kb)"
	out rss_now_kb "$(rss_kb)"
	out rss_proc_kb "$(hwm_max_kb)"
	echo "bench-director: $DAEMON: $_run checks accepted in $_win s, $((_k1 - _k0)) CPU ticks, peak RSS $(hwm_kb) kB"
	_downs=$(grep -c -i -E 'is down|failed|Removing service' "$W/$DAEMON.log")
	out down_lines "${_downs:-0}"

	if [ "$VARIANT" = distinct ] && [ "$reloads" != 0 ]; then
		# A second SIGHUP while the first reload is still running would measure nothing.
		if reload noop "$W/conf-noop" "$W/expect-noop"; then
			reload oneline "$W/conf-one" "$W/expect-one"
		else
			echo "bench-director: $DAEMON: one-line reload not run (the no-op reload did not finish)"
		fi
		out rss_after_kb "$(hwm_kb)"
	fi
	stop
	out calib_end_s "$(calib)"
	[ -f "$W/lvsd.stamped" ] && {
		echo "bench-director: lvsd's log, stamped (uptime):"
		grep -v "changes applied: " "$W/lvsd.stamped" | tail -n 12 | sed 's/^/    | /'
	}
	rm -f "$W/lvsd.stamped"
	net_down
}

# detect DAEMON: 1 service, 2 real servers (198.19.200.1:81 and .2:82, their own
# listeners), delay_loop 1, retry 1, delay_before_retry 1, connect_timeout 1; $reps times
# the first one's listener is killed (time until it is out of the table) and restarted
# (time until it is back).
detect() {
	DAEMON=$1
	VARIANT=detect
	echo
	echo "bench-director: --- detection, $DAEMON"
	rm -f "$W/$DAEMON.log"
	if ! { net_up && listen 81 && listen 82; } >"$W/net.log" 2>&1; then
		fail "$DAEMON detect: network setup"
		sed 's/^/    /' "$W/net.log"
		return
	fi
	cat >"$W/keepalived.conf" <<-EOF
		virtual_server 198.18.200.1 80 {
		    delay_loop 1
		    lb_algo wrr
		    lb_kind NAT
		    protocol TCP
		    real_server 198.19.200.1 81 {
		        weight 1
		        TCP_CHECK {
		            connect_timeout 1
		            retry 1
		            delay_before_retry 1
		        }
		    }
		    real_server 198.19.200.2 82 {
		        weight 1
		        TCP_CHECK {
		            connect_timeout 1
		            retry 1
		            delay_before_retry 1
		        }
		    }
		}
	EOF
	table "$W/keepalived.conf" >"$W/expect-both"
	grep -v 198.19.200.1:81 "$W/expect-both" >"$W/expect-one"
	settle
	start "$DAEMON" "$W/keepalived.conf"
	wait_mark "$(mark_start)" 0 "$START_MAX" || {
		fail "$DAEMON detect: did not start"
		tail_log
		stop
		net_down
		return
	}
	_i=1
	while [ "$_i" -le "$reps" ]; do
		# Both up and stable for 2 s first.
		if ! await "$W/expect-both" "$(lab_now)" || ! { sleep 2 && read_table | cmp -s - "$W/expect-both"; }; then
			fail "$DAEMON detect: both real servers not in the table before repetition $_i"
			tail_log
			break
		fi
		_t=$(lab_now)
		unlisten 81
		if await "$W/expect-one" "$_t"; then
			echo "@@DDETECT $DAEMON down $_i $AWAITED"
			echo "bench-director: $DAEMON: dead real server out after $AWAITED s"
			pass
		else
			fail "$DAEMON detect: the dead real server stayed in the table"
			tail_log
			break
		fi
		sleep 1
		_t=$(lab_now)
		listen 81
		if await "$W/expect-both" "$_t"; then
			echo "@@DDETECT $DAEMON up $_i $AWAITED"
			echo "bench-director: $DAEMON: real server back after $AWAITED s"
			pass
		else
			fail "$DAEMON detect: the real server did not come back"
			tail_log
			break
		fi
		_i=$((_i + 1))
	done
	stop
	net_down
}
# await EXPECTED T0: polls the (small) table every 0.05 s until it is EXPECTED, at most
# EVENT_MAX s after T0; AWAITED = seconds from T0 to the matching read.
await() {
	while :; do
		read_table >"$W/table-now"
		_n=$(lab_now)
		if cmp -s "$W/table-now" "$1"; then
			AWAITED=$(since "$2" "$_n")
			return 0
		fi
		elapsed_gt "$2" "$EVENT_MAX" && return 1
		sleep 0.05
	done
}

missing=
[ -x "$KA" ] || missing="$missing $KA"
[ -x "$LVSD" ] || missing="$missing $LVSD"
[ -x "$LABNET" ] || missing="$missing $LABNET"
if [ -n "$missing" ]; then
	fail "missing:$missing"
else
	if [ "$shared" != only ]; then
		while [ "$ROUND" -le "$rounds" ]; do
			for d in $daemons; do big_run distinct "$d"; done
			ROUND=$((ROUND + 1))
		done
	fi
	if [ "$shared" = 1 ] || [ "$shared" = only ]; then
		for d in $daemons; do big_run shared "$d"; done
	fi
	if [ "$reps" -gt 0 ]; then
		for d in $daemons; do detect "$d"; done
	fi
fi

lab_reset_state
echo "bench-director: $passed passed, $failed failed"
lab_result bench-director "$passed" "$failed" "$(lab_since "$t0")"
