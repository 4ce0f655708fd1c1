#!/bin/sh
# bench-ldirectord: Debian's ldirectord 4.12 (Perl, /usr/sbin/ldirectord, driving the oracle
# ipvsadm) and ours (/ours/ldirectord) on the same ldirectord.cf, one after the other in the
# same boot. Run by tests/lab/bench --ldirectord; see tests/lab/README.md, "bench".
# Machine-readable lines:
#   @@LBENCH <phase> <daemon> <key> <value>
#     phase detect:  startup_s (exec to both real servers in the table, from an empty one)
#     phase N (real servers, one virtual service, checktype=connect, checkinterval=1):
#       ready_s (exec to every real server checked once and the table right; the table is
#       loaded beforehand, so ldirectord starts on a table it already matches), window_s,
#       checks_run, cpu_s, cpu_ms_per_check, pass_s (time for N checks to be counted at
#       the listener from a point in steady state: the shortest of three, pass_max_s the
#       longest), rss_kb, down_s (all N real servers'
#       listener stopped at once: until none is in the table), up_s (the listener back:
#       until all N are), calib_s
#   @@LDETECT <daemon> down|up <rep> <seconds>
#   @@LINFO <key> <value...>
# Nothing is asserted about times. A daemon that does not reach the expected table (at
# start, after each event) within its bound counts as a failure (@@LFAIL), so that a broken
# build cannot print plausible figures.
. /lab/lib.sh
BENCH=bench-ldirectord
W=/tmp/bld
LABNET=/lab/bin/labnet
. /lab/bench-lib.sh

lab_banner "bench-ldirectord: ldirectord 4.12 (Perl) vs ours, same ldirectord.cf, same boot"
t0=$(lab_now)
passed=0
failed=0
rm -rf "$W"
mkdir -p "$W"
PERL=/usr/sbin/ldirectord
OURS=/ours/ldirectord
# Ours reads the tables (checked byte for byte against the oracle by the diff suite).
READ=/ours/ipvsadm
[ -x "$READ" ] || READ=/oracle/ipvsadm
sizes=$(lab_param bld_sizes | tr ',' ' ')
[ -n "$sizes" ] || sizes="100 500"
# The largest size ldirectord is run at (it runs ipvsadm three times per state change).
perl_max=$(lab_param bld_perl_max)
[ -n "$perl_max" ] || perl_max=100
window=$(lab_param bld_window)
[ -n "$window" ] || window=30
reps=$(lab_param bld_reps)
[ -n "$reps" ] || reps=3
daemons=$(lab_param bld_daemons | tr ',' ' ')
[ -n "$daemons" ] || daemons="perl ours"
# Bounds (seconds): a start, a mass event, a detection event.
START_MAX=$(lab_param bld_start_max)
[ -n "$START_MAX" ] || START_MAX=900
MASS_MAX=$(lab_param bld_mass_max)
[ -n "$MASS_MAX" ] || MASS_MAX=900
EVENT_MAX=60
echo "@@LINFO sizes $sizes"
echo "@@LINFO perl_max $perl_max"
echo "@@LINFO window $window"
echo "@@LINFO reader $READ"

lab_reset_state
# ldirectord runs /usr/sbin/ipvsadm: the oracle's.
lab_select_ipvsadm /oracle
export PERL_HASH_SEED=0 PERL_PERTURB_KEYS=0

pass() { passed=$((passed + 1)); }
fail() {
	echo "bench-ldirectord: FAIL: $*"
	failed=$((failed + 1))
}
out() { echo "@@LBENCH $PHASE $DAEMON $1 $2"; }
tail_log() { tail -n 15 "$W/$DAEMON.log" 2>/dev/null | sed 's/^/    | /'; }
read_table() { ip netns exec bd "$READ" -Sn 2>&1 | sort; }
rs_in_table() { ip netns exec bd "$READ" -Sn 2>/dev/null | grep -c '^-a'; }

# cpu_ticks_all: utime + stime of the daemon and of its children it has waited for
# (cutime + cstime: ldirectord's sh and ipvsadm), plus its live children's.
cpu_ticks_all() {
	{
		cat "/proc/$PID/stat" 2>/dev/null | awk '{ print $16 + $17 }'
		cpu_ticks
	} | awk '{ t += $1 } END { print t + 0 }'
}

# start: the daemon in bd in the foreground (supervised=yes in the file); PID = its pid.
start() {
	if [ "$DAEMON" = perl ]; then _prog=$PERL; else _prog=$OURS; fi
	rm -f /var/run/ldirectord.ld.cf.pid
	(cd /tmp && exec /usr/sbin/ip netns exec bd "$_prog" "$W/ld.cf" start) </dev/null >>"$W/$DAEMON.out" 2>&1 &
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
		if elapsed_gt "$_s" 60; then
			echo "bench-ldirectord: $DAEMON did not stop within 60 s: killed"
			kill -KILL "$PID"
			break
		fi
		sleep 0.1
	done
	wait "$PID" 2>/dev/null
}

# conf VIP N PORT...: ldirectord.cf (logfile, connect checks every second, quiescent=no,
# cleanstop=no, no fork, foreground) with one virtual VIP:80 and N real servers; with one
# PORT per real server given (detect), real server i is 198.19.200.i:PORT_i, else
# 198.19.(k / 250).(k % 250 + 1):80.
conf() {
	_vip=$1
	_n=$2
	shift 2
	{
		echo "logfile=\"$W/$DAEMON.log\""
		echo "checktimeout=3"
		echo "checkinterval=1"
		echo "quiescent=no"
		echo "cleanstop=no"
		echo "fork=no"
		echo "supervised=yes"
		echo "autoreload=no"
		echo
		echo "virtual=$_vip:80"
		if [ $# -gt 0 ]; then
			_i=1
			for _p in "$@"; do
				echo "	real=198.19.200.$_i:$_p masq 1"
				_i=$((_i + 1))
			done
		else
			awk -v n="$_n" 'BEGIN { for (k = 0; k < n; k++) printf "\treal=198.19.%d.%d:80 masq 1\n", int(k / 250), k % 250 + 1 }'
		fi
		echo "	checktype=connect"
		echo "	scheduler=wrr"
		echo "	protocol=tcp"
	} >"$W/ld.cf"
}
# table: the table ipvsadm -Sn must show for $W/ld.cf (sorted).
table() {
	awk '
		$1 ~ /^virtual=/ { sub(/^virtual=/, "", $1); vip = $1; print "-A -t " vip " -s wrr" }
		$1 ~ /^real=/ { sub(/^real=/, "", $1); print "-a -t " vip " -r " $1 " -m -w " $3 }
	' "$W/ld.cf" | sort
}

# await EXPECTED T0 MAX: polls the table every 0.05 s until it is EXPECTED, at most MAX s
# after T0; AWAITED = seconds from T0 to the matching read.
await() {
	while :; do
		read_table >"$W/table-now"
		_n=$(lab_now)
		if cmp -s "$W/table-now" "$1"; then
			AWAITED=$(since "$2" "$_n")
			return 0
		fi
		elapsed_gt "$2" "$3" && return 1
		alive || return 1
		sleep 0.05
	done
}
# await_count N T0 MAX: until the listeners of port 80 (and PORTS, if set) have counted N
# more connections than COUNT0, at most MAX s after T0; AWAITED as above.
await_count() {
	while :; do
		_c=$(accepted)
		_n=$(lab_now)
		if [ $((_c - COUNT0)) -ge "$1" ]; then
			AWAITED=$(since "$2" "$_n")
			return 0
		fi
		elapsed_gt "$2" "$3" && return 1
		alive || return 1
		sleep 0.05
	done
}

# detect DAEMON: one virtual, two real servers with their own listeners (198.19.200.1:81,
# 198.19.200.2:82); start-up from an empty table; $reps times the first one's listener is
# stopped (time until it is out of the table) and restarted (time until it is back).
detect() {
	DAEMON=$1
	PHASE=detect
	echo
	echo "bench-ldirectord: --- detection, $DAEMON"
	rm -f "$W/$DAEMON.log"
	if ! { net_up && listen 81 && listen 82; } >"$W/net.log" 2>&1; then
		fail "$DAEMON detect: network setup"
		sed 's/^/    /' "$W/net.log"
		return
	fi
	conf 198.18.200.1 2 81 82
	table >"$W/expect-both"
	grep -v 198.19.200.1:81 "$W/expect-both" >"$W/expect-one"
	settle
	_t=$(lab_now)
	start
	if ! await "$W/expect-both" "$_t" "$START_MAX"; then
		fail "$DAEMON detect: the table never held both real servers ($(alive && echo running || echo exited))"
		diff "$W/expect-both" "$W/table-now" | head -n 10 | sed 's/^/    /'
		tail_log
		stop
		net_down
		return
	fi
	pass
	out startup_s "$AWAITED"
	echo "bench-ldirectord: $DAEMON: both real servers in the table $AWAITED s after exec"
	_i=1
	while [ "$_i" -le "$reps" ]; do
		# Both in the table and staying so for 2 s first.
		if ! await "$W/expect-both" "$(lab_now)" "$EVENT_MAX" || ! { sleep 2 && read_table | cmp -s - "$W/expect-both"; }; then
			fail "$DAEMON detect: both real servers not in the table before repetition $_i"
			tail_log
			break
		fi
		_t=$(lab_now)
		unlisten 81
		if await "$W/expect-one" "$_t" "$EVENT_MAX"; then
			echo "@@LDETECT $DAEMON down $_i $AWAITED"
			echo "bench-ldirectord: $DAEMON: dead real server out after $AWAITED s"
			pass
		else
			fail "$DAEMON detect: the dead real server stayed in the table"
			tail_log
			break
		fi
		sleep 1
		_t=$(lab_now)
		listen 81
		if await "$W/expect-both" "$_t" "$EVENT_MAX"; then
			echo "@@LDETECT $DAEMON up $_i $AWAITED"
			echo "bench-ldirectord: $DAEMON: real server back after $AWAITED s"
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

# big DAEMON N: N real servers on one listener. The expected table is loaded first (the
# daemon starts on a table it already matches: ldirectord then writes nothing and only reads
# the table once per real server). Ready: every real server checked once and the table
# right. Then the steady window (CPU, checks counted at the listener), one pass (N checks
# counted), and the mass events: the listener stopped (every check refused: all N deleted)
# and restarted (all N added back).
big() {
	DAEMON=$1
	PHASE=$2
	_nrs=$2
	echo
	echo "bench-ldirectord: --- $DAEMON, $_nrs real servers, checktype=connect, checkinterval=1"
	rm -f "$W/$DAEMON.log"
	if ! net_up >"$W/net.log" 2>&1; then
		fail "$DAEMON $_nrs: network setup"
		sed 's/^/    /' "$W/net.log"
		return
	fi
	conf 198.18.0.1 "$_nrs"
	table >"$W/expect-all"
	grep '^-A' "$W/expect-all" >"$W/expect-none"
	# -Sn lines sorted: the service (-A) comes before its real servers (-a).
	ip netns exec bd /oracle/ipvsadm -R <"$W/expect-all" || fail "$DAEMON $_nrs: loading the table"
	settle
	out calib_s "$(calib)"
	COUNT0=$(accepted)
	_t=$(lab_now)
	start
	if ! await_count "$_nrs" "$_t" "$START_MAX" || ! await "$W/expect-all" "$_t" "$START_MAX"; then
		fail "$DAEMON $_nrs: not every real server checked with the table right within $START_MAX s ($(($(accepted) - COUNT0)) checks, $(rs_in_table) real servers in the table, $(alive && echo running || echo exited))"
		tail_log
		stop
		net_down
		return
	fi
	pass
	out ready_s "$AWAITED"
	echo "bench-ldirectord: $DAEMON: every real server checked once and the table right $AWAITED s after exec"

	# Steady checking: 2 s of warm-up, then the window.
	sleep 2
	_k0=$(cpu_ticks_all)
	_c0=$(accepted)
	_w0=$(lab_now)
	sleep "$window"
	_k1=$(cpu_ticks_all)
	_c1=$(accepted)
	_w1=$(lab_now)
	alive || fail "$DAEMON $_nrs: exited during the window"
	_run=$((_c1 - _c0))
	out window_s "$(since "$_w0" "$_w1")"
	out checks_run "$_run"
	out cpu_s "$(awk -v k=$((_k1 - _k0)) 'BEGIN { printf "%.2f", k / 100 }')"
	out cpu_ms_per_check "$(awk -v k=$((_k1 - _k0)) -v r="$_run" 'BEGIN { if (r > 0) printf "%.3f", k * 10 / r; else print "-" }')"
	out rss_kb "$(hwm_kb)"
	echo "bench-ldirectord: $DAEMON: $_run checks accepted in $(since "$_w0" "$_w1") s, $((_k1 - _k0)) CPU ticks"
	if ! read_table | cmp -s - "$W/expect-all"; then
		fail "$DAEMON $_nrs: the table changed during the window"
		tail_log
	fi
	# One pass: N checks counted from now, three times one after the other (from arbitrary
	# points of ldirectord's cycle, so a measure may include its checkinterval sleep: the
	# shortest is the closest to the pass alone).
	_passes=
	for _r in 1 2 3; do
		COUNT0=$(accepted)
		_t=$(lab_now)
		if await_count "$_nrs" "$_t" "$MASS_MAX"; then
			_passes="$_passes $AWAITED"
			echo "bench-ldirectord: $DAEMON: $_nrs checks in $AWAITED s"
		else
			fail "$DAEMON $_nrs: fewer than $_nrs checks in $MASS_MAX s"
			break
		fi
	done
	if [ -n "$_passes" ]; then
		out pass_s "$(echo $_passes | tr ' ' '\n' | sort -n | head -n 1)"
		out pass_max_s "$(echo $_passes | tr ' ' '\n' | sort -n | tail -n 1)"
	fi

	# Every real server down at once, then back.
	_t=$(lab_now)
	unlisten 80
	if await "$W/expect-none" "$_t" "$MASS_MAX"; then
		pass
		out down_s "$AWAITED"
		echo "bench-ldirectord: $DAEMON: all $_nrs real servers out of the table $AWAITED s after their listener stopped"
		sleep 1
		_t=$(lab_now)
		listen 80
		if await "$W/expect-all" "$_t" "$MASS_MAX"; then
			pass
			out up_s "$AWAITED"
			echo "bench-ldirectord: $DAEMON: all $_nrs real servers back $AWAITED s after their listener restarted"
		else
			fail "$DAEMON $_nrs: not all real servers back within $MASS_MAX s ($(rs_in_table) in the table)"
			out up_partial "$(rs_in_table)"
			tail_log
		fi
	else
		fail "$DAEMON $_nrs: not all real servers out within $MASS_MAX s ($(rs_in_table) still in the table)"
		out down_partial "$(rs_in_table)"
		tail_log
	fi
	stop
	out calib_end_s "$(calib)"
	net_down
}

missing=
[ -x "$PERL" ] || missing="$missing $PERL"
[ -x "$OURS" ] || missing="$missing $OURS"
[ -x "$LABNET" ] || missing="$missing $LABNET"
if [ -n "$missing" ]; then
	fail "missing:$missing"
else
	if [ "$reps" -gt 0 ]; then
		for d in $daemons; do detect "$d"; done
	fi
	for n in $sizes; do
		for d in $daemons; do
			if [ "$d" = perl ] && [ "$n" -gt "$perl_max" ]; then
				echo "@@LINFO skipped perl $n"
				continue
			fi
			big "$d" "$n"
		done
	done
fi

rm -f /usr/sbin/ipvsadm
lab_reset_state
echo "bench-ldirectord: $passed passed, $failed failed"
lab_result bench-ldirectord "$passed" "$failed" "$(lab_since "$t0")"
