#!/bin/sh
# ldirectord suite: lvsd's ldirectord entry point (/ours/ldirectord, package ipvs-director)
# against Debian's ldirectord 4.12 (Perl) as oracle. Every /lab/ldirectord/scenarios/*.scn
# (the director suite's format, with ldirectord.cf files) runs once with each, in fresh
# network namespaces (/lab/director/lib.sh), driven by the SAME command lines on both sides:
# "ldirectord CONF start" (daemon, pid file), "ldirectord CONF reload", "ldirectord CONF
# stop", a file edit picked up by autoreload, maintenance files. After every event the table
# (ipvsadm -Sn, no counters, sorted) is polled until it equals the expected one (bounded) and
# must then stay so. The oracle must reach the scenario's table; ours the oracle's, or the
# table under "ours" for a deliberate difference. See tests/lab/README.md, "ldirectord".
#
# lab.ldirectord_ours=perl (tests/lab/run: LAB_LDIRECTORD_OURS=perl) runs the Perl
# ldirectord as ours too, to validate the suite (must pass).
. /lab/lib.sh
. /lab/director/lib.sh

lab_banner "ldirectord suite (Debian ldirectord 4.12 as oracle vs ours, kernel tables after each event)"
t0=$(lab_now)
passed=0
failed=0
failed_names=
D_TMP=/tmp/ldlab
rm -rf "$D_TMP"
mkdir -p "$D_TMP"
TIMINGS=$D_TMP/timings
# Perl ldirectord forks ipvsadm three times per change (two listings, one write), 2-6 s per
# change in this guest: its start with four real servers took 70 s, and 160 s on a busy host.
D_EVENT_TIMEOUT=300
D_STOP_TIMEOUT=30
L_PERL=/usr/sbin/ldirectord
# A client namespace for connections through the virtual services (hold / release):
# cl 198.51.100.10/24 -- veth -- dir 198.51.100.1/24; the real servers' default route is the
# director, so NAT replies are translated back.
D_NAMESPACES="dir rs1 rs2 rs3 cl"
l_net_client() {
	ip link add eth0 netns cl type veth peer name dcl netns dir || return 1
	ip -n dir -batch - <<-EOF || return 1
		addr add 198.51.100.1/24 dev dcl
		link set dcl up
	EOF
	ip -n cl -batch - <<-EOF || return 1
		addr add 198.51.100.10/24 dev eth0
		link set eth0 up
		route add default via 198.51.100.1
	EOF
}
# Perl ldirectord runs /sbin/ipvsadm or /usr/sbin/ipvsadm: the oracle's.
lab_select_ipvsadm /oracle
# A deterministic order of its start-up commands (it walks a Perl hash).
export PERL_HASH_SEED=0 PERL_PERTURB_KEYS=0

verbose=$(lab_param director_verbose)
ours=$(lab_param ldirectord_ours)
[ -n "$ours" ] || ours=lvsd
ours_missing=
case $ours in
lvsd) [ -x /ours/ldirectord ] || ours_missing="/ours/ldirectord does not exist (no ldirectord binary in package ipvs-director?)" ;;
perl) echo "ldirectord: VALIDATION RUN: ours is the Perl ldirectord itself (deliberate differences not applied)" ;;
*) ours_missing="unknown lab.ldirectord_ours=$ours" ;;
esac
[ -x "$L_PERL" ] || ours_missing="$L_PERL is missing"

# The side's program.
l_prog() {
	if [ "$D_DAEMON" = perl ]; then echo "$L_PERL"; else echo /ours/ldirectord; fi
}

# The scenario's configuration $1 installed as the side's $D_SIDE_DIR/ld.cf, logging to the
# side's daemon.log (a global line in column 0 before the file's own lines).
l_install() {
	{
		echo "logfile=\"$D_SIDE_DIR/daemon.log\""
		cat "$D_SCN/conf/$1"
	} >"$D_SIDE_DIR/ld.cf.new" && mv "$D_SIDE_DIR/ld.cf.new" "$D_SIDE_DIR/ld.cf"
}

l_cmd() {
	( cd /tmp && exec /usr/sbin/ip netns exec dir "$(l_prog)" "$D_SIDE_DIR/ld.cf" "$@" ) </dev/null >>"$D_SIDE_DIR/cli.log" 2>&1
}

# Overrides of the director suite's daemon helpers: the daemon detaches; its pid is in
# /var/run/ldirectord.ld.cf.pid.
L_PIDFILE=/var/run/ldirectord.ld.cf.pid
d_daemon_stop() {
	[ -n "${D_PID:-}" ] || return 0
	l_cmd stop
	l_wait_exit stop
}

# l_wait_exit WHAT: waits until the daemon has exited, at most $D_STOP_TIMEOUT s after WHAT
# (then SIGKILL), and forgets it.
l_wait_exit() {
	_t0=$(lab_now)
	while kill -0 "$D_PID" 2>/dev/null; do
		if [ "$(awk -v a="$_t0" -v b="$(lab_now)" -v m="$D_STOP_TIMEOUT" 'BEGIN { print (b - a > m) }')" = 1 ]; then
			echo "ldirectord: the daemon did not stop within ${D_STOP_TIMEOUT}s of $1: killed"
			kill -KILL "$D_PID" 2>/dev/null
			break
		fi
		sleep 0.05
	done
	rm -f "$L_PIDFILE"
	D_PID=
}

d_daemon_alive() {
	[ -n "${D_PID:-}" ] && kill -0 "$D_PID" 2>/dev/null
}

# The end of a side whose last event was not a stop: SIGTERM, as ldirectord's stop verb
# sends (without starting perl for the command line), then the same bounded wait.
l_daemon_end() {
	[ -n "${D_PID:-}" ] || return 0
	kill -TERM "$D_PID" 2>/dev/null
	l_wait_exit SIGTERM
}

# One action; start, reload, edit and stop are ldirectord's, the rest the director suite's.
l_action() {
	set -- $1
	case $1 in
	start)
		l_install "$2" || return 1
		rm -f "$L_PIDFILE"
		l_cmd start || { echo "ldirectord: start exited with status $?"; return 1; }
		_n=0
		until [ -s "$L_PIDFILE" ]; do
			_n=$((_n + 1))
			[ $_n -ge 600 ] && { echo "ldirectord: no pid file after start"; return 1; }
			sleep 0.05
		done
		D_PID=$(head -n 1 "$L_PIDFILE")
		;;
	reload)
		l_install "$2" || return 1
		l_cmd reload
		;;
	hup)
		# What the reload verb does, without the command line (which costs the Perl side a
		# start of perl and its modules, 30-70 s here): the file replaced, then SIGHUP.
		l_install "$2" || return 1
		kill -HUP "$D_PID"
		;;
	hold)
		# hold HOST PORT NAME...: one connection per NAME from the client namespace through
		# HOST:PORT, kept open (reset when released); the real servers that answered must be
		# exactly the NAMEs (in any order).
		_h=$2
		_p=$3
		shift 3
		rm -f "$D_SIDE_DIR/hold.out"
		/usr/sbin/ip netns exec cl /lab/bin/labnet hold -r -t 600 -n $# "$_h" "$_p" </dev/null >"$D_SIDE_DIR/hold.out" 2>&1 &
		L_HOLD=$!
		_n=0
		until grep -q '^held ' "$D_SIDE_DIR/hold.out" 2>/dev/null; do
			_n=$((_n + 1))
			[ $_n -ge 200 ] && { echo "ldirectord: labnet hold did not finish"; return 1; }
			sleep 0.05
		done
		_got=$(grep -v '^held ' "$D_SIDE_DIR/hold.out" | sort | tr '\n' ' ')
		_exp=$(printf '%s\n' "$@" | sort | tr '\n' ' ')
		[ "$_got" = "$_exp" ] || { echo "ldirectord: hold: answered by '$_got', expected '$_exp'"; return 1; }
		;;
	release)
		# The held connections reset (their director entries go to CLOSE, 10 s).
		[ -n "${L_HOLD:-}" ] || { echo "ldirectord: nothing held"; return 1; }
		kill "$L_HOLD" 2>/dev/null
		wait "$L_HOLD" 2>/dev/null
		L_HOLD=
		;;
	edit)
		# The file changes on disk; autoreload notices (its mtime has 1 s resolution).
		sleep 1
		l_install "$2"
		;;
	stop) d_daemon_stop ;;
	*)
		shift 0
		d_action "$*"
		;;
	esac
}

run_side() {
	_side=$1
	D_SIDE_DIR=$D_SCN/$_side
	rm -rf "$D_SIDE_DIR"
	mkdir -p "$D_SIDE_DIR"
	if [ "$_side" = oracle ]; then D_DAEMON=perl; else D_DAEMON=$ours; fi
	_validation=0
	[ "$_side" = ours ] && [ "$ours" = perl ] && _validation=1
	D_PID=
	_ok=0
	L_HOLD=
	if ! { d_net_up && l_net_client; } >"$D_SIDE_DIR/setup.log" 2>&1; then
		echo "ldirectord: network setup failed:"
		sed 's/^/    /' "$D_SIDE_DIR/setup.log"
		d_net_down
		return 1
	fi
	for _srv in $(cat "$D_SCN/servers" 2>/dev/null); do
		d_serve "$_srv" || _ok=1
	done
	for _e in "$D_SCN"/ev/*; do
		_id=${_e##*/}
		_title=$(cat "$_e/title")
		_note=
		if [ "$_side" = oracle ]; then
			_want=$_e/expect
		elif [ -f "$_e/ours" ] && [ $_validation = 0 ]; then
			_want=$_e/ours
			_note="  deliberate: $(cat "$_e/why")"
		elif [ -f "$D_SCN/oracle/$_id.table" ]; then
			_want=$D_SCN/oracle/$_id.table
		else
			_want=$_e/expect
		fi
		_settle=$D_SETTLE
		[ -f "$_e/settle" ] && _settle=$(cat "$_e/settle")
		_l0=$(cat "$D_SIDE_DIR/daemon.log" 2>/dev/null | wc -l)
		_t=$(lab_now)
		_afail=0
		_stopping=0
		while IFS= read -r _a; do
			[ "${_a%% *}" = stop ] && _stopping=1
			if ! l_action "$_a"; then
				echo "ldirectord: action failed: $_a"
				_afail=1
			fi
		done <"$_e/do"
		cp "$_want" "$D_SIDE_DIR/$_id.want"
		d_await "$D_SIDE_DIR/$_id.want" "$_t" "$_settle" "$D_SIDE_DIR/$_id.table"
		_rc=$?
		[ $_rc = 0 ] && [ $_afail = 1 ] && _rc=4
		if [ $_stopping = 0 ] && ! d_daemon_alive; then
			_rc=3
		fi
		echo "$_rc" >"$D_SIDE_DIR/$_id.rc"
		echo "$D_REACHED" >"$D_SIDE_DIR/$_id.time"
		case $_rc in
		0) printf '  %-6s %s %-52s %6s s%s\n' "$_side" "$_id" "$_title" "$D_REACHED" "$_note" ;;
		1) printf '  %-6s %s %-52s NOT REACHED within %s s%s\n' "$_side" "$_id" "$_title" "$D_EVENT_TIMEOUT" "$_note" ;;
		2) printf '  %-6s %s %-52s reached in %s s, then LEFT it within %s s%s\n' "$_side" "$_id" "$_title" "$D_REACHED" "$_settle" "$_note" ;;
		3) printf '  %-6s %s %-52s the daemon EXITED (table reached: %s)%s\n' "$_side" "$_id" "$_title" "$D_REACHED" "$_note" ;;
		*) printf '  %-6s %s %-52s an ACTION FAILED (table reached: %s)%s\n' "$_side" "$_id" "$_title" "$D_REACHED" "$_note" ;;
		esac
		if [ "$verbose" = 1 ]; then
			tail -n +"$((_l0 + 1))" "$D_SIDE_DIR/daemon.log" | sed 's/^/         | /'
		fi
		if [ "$_rc" != 0 ]; then
			_ok=1
			if [ "$_side" = oracle ]; then
				echo "    ldirectord did not do what the scenario expects (--- expected, +++ ldirectord's table):"
			else
				echo "    --- expected ($([ "$_want" = "$_e/ours" ] && echo "ours, deliberate" || echo "the oracle's table")), +++ ours:"
			fi
			diff -u "$D_SIDE_DIR/$_id.want.sorted" "$D_SIDE_DIR/$_id.table" | sed -n '3,$p' | sed 's/^/    /'
			for _r in "$D_SCN"/ev/*; do
				[ "$((1${_r##*/}))" -gt "$((1$_id))" ] && printf '  %-6s %s %-52s not run (an earlier event failed)\n' "$_side" "${_r##*/}" "$(cat "$_r/title")"
			done
			break
		fi
	done
	l_daemon_end
	if [ $_ok != 0 ]; then
		echo "    the daemon's log (last 25 lines) and the command lines' output:"
		tail -n 25 "$D_SIDE_DIR/daemon.log" | sed 's/^/    | /'
		tail -n 10 "$D_SIDE_DIR/cli.log" 2>/dev/null | sed 's/^/    > /'
	fi
	d_net_down
	return $_ok
}

for scn in /lab/ldirectord/scenarios/*.scn; do
	[ -f "$scn" ] || continue
	name=${scn##*/}
	name=${name%.scn}
	D_SCN=$D_TMP/scn/$name
	echo
	if ! d_parse "$scn" "$D_SCN"; then
		echo "---- ldirectord: $name: MALFORMED scenario"
		failed=$((failed + 1))
		failed_names="$failed_names $name"
		continue
	fi
	echo "---- ldirectord: $name: $(cat "$D_SCN/desc" 2>/dev/null)"
	s0=$(lab_now)
	ok=1
	run_side oracle || ok=0
	if [ -n "$ours_missing" ]; then
		echo "  ours   NOT RUNNABLE: $ours_missing"
		ok=0
	else
		run_side ours || ok=0
	fi
	for e in "$D_SCN"/ev/*; do
		id=${e##*/}
		printf '%s\t%s\t%s\t%s\t%s\n' "$name" "$id" "$(cat "$e/title")" \
			"$(cat "$D_SCN/oracle/$id.time" 2>/dev/null || echo -)" \
			"$(cat "$D_SCN/ours/$id.time" 2>/dev/null || echo -)" >>"$TIMINGS"
	done
	if [ $ok = 1 ]; then
		echo "PASS $name ($(lab_since "$s0") s)"
		passed=$((passed + 1))
	else
		echo "FAIL $name ($(lab_since "$s0") s)"
		failed=$((failed + 1))
		failed_names="$failed_names $name"
	fi
done

echo
echo "ldirectord: seconds from each event to its table (first matching read of ipvsadm -Sn, /proc/uptime,"
echo "10 ms resolution, polled every ${D_POLL}s); oracle = ldirectord 4.12 (Perl), ours = $ours"
printf '  %-14s %-4s %-52s %7s %7s\n' scenario ev event oracle ours
while IFS='	' read -r s e t o u; do
	printf '  %-14s %-4s %-52s %7s %7s\n' "$s" "$e" "$t" "$o" "$u"
done <"$TIMINGS"
rm -f /usr/sbin/ipvsadm
lab_reset_state
echo
[ -n "$failed_names" ] && echo "failed scenarios:$failed_names"
echo "ldirectord: $passed passed, $failed failed"
lab_result ldirectord "$passed" "$failed" "$(lab_since "$t0")"
