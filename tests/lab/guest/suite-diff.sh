#!/bin/sh
# differential suite: every fixtures/scenarios/*.scn, line by line, once with the oracle
# (/oracle/ipvsadm, Debian's 1.31) and once with ours (/ours); stdout, stderr and exit
# status of every command must be byte-for-byte identical. One test per scenario.
. /lab/lib.sh

SCN_DIR=/lab/scenarios
OUT=/tmp/diff
REC=/tmp/record
WORK=/tmp/scn-work
record=$(lab_param record)

# Run every command of scenario $1 with the implementation in directory $2; per-command
# results go to directory $3 as NNN.cmd, NNN.stdout, NNN.stderr, NNN.status.
run_side() {
	_scn=$1
	_dir=$2
	_out=$3
	lab_reset_state
	lab_select_ipvsadm "$_dir"
	rm -rf "$WORK"
	mkdir -p "$WORK" "$_out"
	_n=0
	while IFS= read -r _line || [ -n "$_line" ]; do
		_trim=$(printf '%s' "$_line" | sed 's/^[[:space:]]*//')
		case $_trim in '' | '#'*) continue ;; esac
		_n=$((_n + 1))
		_id=$(printf '%03d' "$_n")
		printf '%s\n' "$_line" >"$_out/$_id.cmd"
		(
			cd "$WORK" &&
				exec env -i PATH="$_dir:/usr/sbin:/usr/bin:/sbin:/bin" HOME="$WORK" \
					timeout -k 5 "$LAB_CMD_TIMEOUT" sh -c "$_line"
		) </dev/null >"$_out/$_id.stdout" 2>"$_out/$_id.stderr"
		echo "$?" >"$_out/$_id.status"
	done <"$_scn"
}

lab_banner "differential suite (oracle vs ours)"
t0=$(lab_now)
passed=0
failed=0
failed_names=
rm -rf "$OUT" "$REC"
mkdir -p "$OUT" "$REC"

for scn in "$SCN_DIR"/*.scn; do
	[ -f "$scn" ] || continue
	name=${scn##*/}
	name=${name%.scn}
	s0=$(lab_now)
	o=$OUT/$name/oracle
	u=$OUT/$name/ours
	run_side "$scn" "$LAB_ORACLE_DIR" "$o"
	run_side "$scn" "$LAB_OURS_DIR" "$u"
	ok=1
	ncmd=0
	for cmdf in "$o"/*.cmd; do
		[ -f "$cmdf" ] || continue
		ncmd=$((ncmd + 1))
		id=${cmdf##*/}
		id=${id%.cmd}
		same=1
		for k in stdout stderr status; do
			cmp -s "$o/$id.$k" "$u/$id.$k" || same=0
		done
		[ "$same" = 1 ] && continue
		ok=0
		echo
		echo "---- MISMATCH: scenario $name, command $id:"
		echo "     $(cat "$cmdf")"
		if ! cmp -s "$o/$id.stdout" "$u/$id.stdout"; then
			echo "  stdout differs:"
			diff -u -L "oracle/stdout" -L "ours/stdout" "$o/$id.stdout" "$u/$id.stdout" | sed 's/^/    /'
		fi
		if ! cmp -s "$o/$id.stderr" "$u/$id.stderr"; then
			echo "  stderr differs:"
			diff -u -L "oracle/stderr" -L "ours/stderr" "$o/$id.stderr" "$u/$id.stderr" | sed 's/^/    /'
		fi
		echo "  exit status: oracle=$(cat "$o/$id.status") ours=$(cat "$u/$id.status")"
	done
	if [ "$ok" = 1 ]; then
		echo "ok   $name ($ncmd commands, $(lab_since "$s0") s)"
		passed=$((passed + 1))
	else
		echo "FAIL $name"
		failed=$((failed + 1))
		failed_names="$failed_names $name"
	fi
	if [ "$record" = 1 ]; then
		cp -a "$o" "$REC/$name"
	fi
done

lab_reset_state
lab_select_ipvsadm "$LAB_ORACLE_DIR"

if [ "$record" = 1 ]; then
	tar -C "$REC" -czf /tmp/recorded.tgz .
	lab_send_file recorded.tgz /tmp/recorded.tgz
	echo "recorded the oracle's outputs of $(ls "$REC" | wc -l) scenarios"
fi

echo
[ -n "$failed_names" ] && echo "failed scenarios:$failed_names"
echo "diff: $passed passed, $failed failed"
lab_result diff "$passed" "$failed" "$(lab_since "$t0")"
