#!/bin/sh
# director suite: the director daemon against keepalived 2.2.7 (--check only) as oracle.
# Every /lab/director/scenarios/*.scn (a keepalived.conf or several, and a list of events)
# runs once with keepalived and once with ours (/ours/lvsd -f CONF), each in fresh network
# namespaces; after every event the table (ipvsadm -Sn, the oracle's, no counters) is
# polled until it reaches the expected state (bounded) and must then stay there. The oracle
# must reach the table written in the scenario; ours must reach the oracle's table, or the
# table written under "ours" where the scenario lists a deliberate difference. One test per
# scenario. See tests/lab/README.md, "director".
#
# lab.director_ours= on the kernel command line (tests/lab/run: LAB_DIRECTOR_OURS) picks
# what runs as "ours": lvsd (default), or, to validate the harness itself, keepalived (must
# pass) or oneshot (a stand-in that loads the first table once and never reacts: must fail).
. /lab/lib.sh
. /lab/director/lib.sh

lab_banner "director suite (keepalived 2.2.7 --check as oracle vs ours, kernel tables after each event)"
t0=$(lab_now)
passed=0
failed=0
failed_names=
rm -rf "$D_TMP"
mkdir -p "$D_TMP"
TIMINGS=$D_TMP/timings

# lab.director_verbose=1 (tests/lab/run: LAB_CMDLINE_EXTRA=lab.director_verbose=1) prints
# the daemon's log lines of every event.
verbose=$(lab_param director_verbose)
ours=$(lab_param director_ours)
[ -n "$ours" ] || ours=lvsd
ours_missing=
case $ours in
lvsd) [ -x /ours/lvsd ] || ours_missing="/ours/lvsd does not exist (package ipvs-director has no lvsd binary yet?)" ;;
keepalived) echo "director: VALIDATION RUN: ours is keepalived itself (deliberate differences not applied)" ;;
keepalived-strict) echo "director: VALIDATION RUN: ours is keepalived itself, deliberate differences applied (scenarios with one must fail)" ;;
oneshot) echo "director: VALIDATION RUN: ours is the broken stand-in /lab/director/oneshot.sh (must fail)" ;;
*) ours_missing="unknown lab.director_ours=$ours" ;;
esac
[ -x "$D_KEEPALIVED" ] || echo "director: $D_KEEPALIVED is missing: every scenario fails"
[ -n "$ours_missing" ] && echo "director: OURS NOT RUNNABLE: $ours_missing; only the oracle side runs, every scenario fails"

# Run every event of the parsed scenario $D_SCN with one side: $1 = oracle | ours.
# Per event NNN: $D_SCN/$1/NNN.table (the last table read), NNN.time, NNN.rc.
# Returns 0 when every event reached its table and kept it.
run_side() {
	_side=$1
	D_SIDE_DIR=$D_SCN/$_side
	rm -rf "$D_SIDE_DIR"
	mkdir -p "$D_SIDE_DIR"
	if [ "$_side" = oracle ]; then
		D_DAEMON=keepalived
	else
		D_DAEMON=$ours
	fi
	# Log lines that say a start or a reload has been applied: the event then waits for
	# them (bounded) before reading the table. lvsd's are its "started: ..." and
	# "reload: ok: ..." / "reload: refused, ..." lines (director/README.md, "Running lvsd").
	case $D_DAEMON in
	keepalived*)
		D_MARK_START="Startup complete"
		D_MARK_RELOAD="Reload complete"
		;;
	lvsd)
		D_MARK_START="lvsd: started: "
		D_MARK_RELOAD="lvsd: reload: "
		;;
	*)
		D_MARK_START=
		D_MARK_RELOAD=
		;;
	esac
	_validation=0
	[ "$_side" = ours ] && [ "$ours" = keepalived ] && _validation=1
	# The stand-in loads the first event's table.
	cp "$D_SCN/ev/001/expect" "$D_SIDE_DIR/start-table"
	D_PID=
	_ok=0
	if ! d_net_up >"$D_SIDE_DIR/setup.log" 2>&1; then
		echo "director: network setup failed:"
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
		while IFS= read -r _a; do
			if ! d_action "$_a"; then
				echo "director: action failed: $_a"
				_afail=1
			fi
		done <"$_e/do"
		cp "$_want" "$D_SIDE_DIR/$_id.want"
		d_await "$D_SIDE_DIR/$_id.want" "$_t" "$_settle" "$D_SIDE_DIR/$_id.table"
		_rc=$?
		# An action that could not be done (a server that did not start, an ipvsadm
		# command that failed) fails the event too.
		[ $_rc = 0 ] && [ $_afail = 1 ] && _rc=4
		# A daemon that died on its own fails the event, whatever the table says.
		if [ -n "$D_PID" ] && ! d_daemon_alive; then
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
				echo "    keepalived did not do what the scenario expects (--- expected, +++ keepalived's table):"
			else
				echo "    --- expected ($([ "$_want" = "$_e/ours" ] && echo "ours, deliberate" || echo "the oracle's table")), +++ ours:"
			fi
			diff -u "$D_SIDE_DIR/$_id.want.sorted" "$D_SIDE_DIR/$_id.table" | sed -n '3,$p' | sed 's/^/    /'
			# The state is unknown from here on: the remaining events are not run.
			for _r in "$D_SCN"/ev/*; do
				[ "$((1${_r##*/}))" -gt "$((1$_id))" ] && printf '  %-6s %s %-52s not run (an earlier event failed)\n' "$_side" "${_r##*/}" "$(cat "$_r/title")"
			done
			break
		fi
	done
	d_daemon_stop
	if [ $_ok != 0 ]; then
		echo "    the daemon's log (last 25 lines):"
		tail -n 25 "$D_SIDE_DIR/daemon.log" | sed 's/^/    | /'
	fi
	d_net_down
	return $_ok
}

for scn in /lab/director/scenarios/*.scn; do
	[ -f "$scn" ] || continue
	name=${scn##*/}
	name=${name%.scn}
	D_SCN=$D_TMP/scn/$name
	echo
	if ! d_parse "$scn" "$D_SCN"; then
		echo "---- director: $name: MALFORMED scenario"
		failed=$((failed + 1))
		failed_names="$failed_names $name"
		continue
	fi
	echo "---- director: $name: $(cat "$D_SCN/desc" 2>/dev/null)"
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
echo "director: seconds from each event to its table (first matching read of ipvsadm -Sn, /proc/uptime, 10 ms"
echo "resolution, polled every ${D_POLL}s); ours = $ours${ours_missing:+ (not run)}"
printf '  %-14s %-4s %-52s %7s %7s\n' scenario ev event oracle ours
while IFS='	' read -r s e t o u; do
	printf '  %-14s %-4s %-52s %7s %7s\n' "$s" "$e" "$t" "$o" "$u"
done <"$TIMINGS"
lab_reset_state
echo
[ -n "$failed_names" ] && echo "failed scenarios:$failed_names"
echo "director: $passed passed, $failed failed"
lab_result director "$passed" "$failed" "$(lab_since "$t0")"
