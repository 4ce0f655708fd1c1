#!/bin/sh
# differential suite: every fixtures/scenarios/*.scn, line by line, once with the oracle
# (/oracle/ipvsadm, Debian's 1.31) and once with ours (/ours); stdout, stderr and exit
# status of every command must be byte-for-byte identical. One test per scenario.
#
# Ours-only scenarios (file name "deliberate-*.scn"): the spec's deliberate differences,
# where ours must NOT print what the oracle prints. They run only with ours and are
# compared with the expected results written under each command line:
#
#   ipvsadm -Ln -f 3000000000        <- a command
#   #> FWM  3000000000 wlc           <- one line of expected stdout ("#>" alone: empty line)
#   #2> some error                   <- one line of expected stderr
#   #? 2                             <- expected exit status (default 0)
#
# A command without "#>" / "#2>" lines must print nothing on that stream. Other "#" lines
# are comments, as everywhere.
#
# Scenarios that need traffic source /lab/scn-net.sh (written below): network namespaces
# with a client, a director and real servers running busybox httpd.
. /lab/lib.sh

SCN_DIR=/lab/scenarios
OUT=/tmp/diff
REC=/tmp/record
WORK=/tmp/scn-work
# Limit for one side of one scenario (all its commands).
SIDE_TIMEOUT=120
record=$(lab_param record)

# Helpers for scenarios with real traffic (busybox ash, sourced by scenario lines). Every
# helper is silent, so only what the scenario prints is compared. The director runs in its
# own namespace: deleting it at the end (scn_net_down) also deletes its connection table,
# so the oracle's connections never leak into the run of ours.
#
#   cl 198.51.100.10 --- dir 198.51.100.1, VIP 203.0.113.1, 192.0.2.1 (br0) --- rs1 192.0.2.11
#                                                                           \-- rs2 192.0.2.12
cat >/lab/scn-net.sh <<'EOF'
ip() { /usr/sbin/ip "$@"; }
SCN_VIP=203.0.113.1
scn_net_up() {
	scn_net_down
	for n in cl dir rs1 rs2; do
		ip netns add $n && ip -n $n link set lo up
	done
	ip link add eth0 netns cl type veth peer name dcl netns dir
	ip -n cl addr add 198.51.100.10/24 dev eth0
	ip -n cl link set eth0 up
	ip -n cl route add default via 198.51.100.1
	ip -n dir addr add 198.51.100.1/24 dev dcl
	ip -n dir addr add $SCN_VIP/32 dev dcl
	ip -n dir link set dcl up
	ip -n dir link add br0 type bridge
	ip -n dir addr add 192.0.2.1/24 dev br0
	ip -n dir link set br0 up
	for i in 1 2; do
		ip link add eth0 netns rs$i type veth peer name drs$i netns dir
		ip -n dir link set drs$i master br0
		ip -n dir link set drs$i up
		ip -n rs$i addr add 192.0.2.1$i/24 dev eth0
		ip -n rs$i link set eth0 up
		ip -n rs$i route add default via 192.0.2.1
		mkdir -p /tmp/scn-www/rs$i
		echo rs$i >/tmp/scn-www/rs$i/index.html
		ip netns exec rs$i busybox httpd -p 80 -h /tmp/scn-www/rs$i </dev/null >/dev/null 2>&1
	done
	ip netns exec dir sysctl -qw net.ipv4.ip_forward=1
	for i in 1 2; do
		n=0
		while [ $n -lt 50 ]; do
			printf 'GET / HTTP/1.0\r\n\r\n' | ip netns exec rs$i nc -w 1 127.0.0.1 80 2>/dev/null | grep -q "^rs$i\$" && break
			n=$((n + 1))
			sleep 0.1
		done
	done
} >/dev/null 2>&1
scn_net_down() {
	for n in cl dir rs1 rs2; do
		p=$(ip netns pids $n 2>/dev/null)
		[ -n "$p" ] && kill $p
		ip netns del $n
	done
	rm -rf /tmp/scn-www
} >/dev/null 2>&1
# ipvsadm in the director's namespace.
scn_ipvsadm() { ip netns exec dir ipvsadm "$@"; }
# One HTTP request from the client: scn_get VIP PORT [LOCAL_PORT]; prints the answer's body.
scn_get() {
	printf 'GET / HTTP/1.0\r\n\r\n' | ip netns exec cl nc -w 3 ${3:+-p $3} "$1" "$2" 2>/dev/null | tr -d '\r' | tail -n 1
}
# -c output made comparable across runs: the digits of the expiry and of the client's
# (random) port masked, rows sorted (the hash order depends on the namespace).
scn_conn_filter() {
	awk 'NR <= 2 { print; next }
	{
		e = substr($0, 5, 6); gsub(/[0-9]/, "9", e); $0 = substr($0, 1, 4) e substr($0, 11)
		if (match($0, /198\.51\.100\.10:[0-9]+/)) {
			p = substr($0, RSTART + 14, RLENGTH - 14); gsub(/[0-9]/, "9", p)
			$0 = substr($0, 1, RSTART + 13) p substr($0, RSTART + RLENGTH)
		}
		print | "sort"
	}'
}
EOF

# The per-side driver: runs every command line of scenario $1 (comments and blank lines
# skipped) in a subshell of one clean shell (env -i, PATH with the side's directory first,
# HOME and the working directory a fresh $WORK), stdin /dev/null; results go to directory
# $2 as NNN.cmd, NNN.stdout, NNN.stderr, NNN.status. One shell per side instead of
# env + timeout + sh per command keeps the suite fast under TCG; "eval" in a subshell
# keeps a syntax error or an "exit" in one line from affecting the others.
cat >/lab/scn-side.sh <<'EOF'
_scn=$1
_dst=$2
set --
_n=0
while IFS= read -r _line || [ -n "$_line" ]; do
	_trim=${_line#"${_line%%[![:space:]]*}"}
	case $_trim in '' | '#'*) continue ;; esac
	_n=$((_n + 1))
	_id=$((_n + 1000))
	_id=${_id#1}
	printf '%s\n' "$_line" >"$_dst/$_id.cmd"
	(eval "$_line") </dev/null >"$_dst/$_id.stdout" 2>"$_dst/$_id.stderr"
	echo "$?" >"$_dst/$_id.status"
done <"$_scn"
EOF

# After a scenario ran: back to the boot state, undoing only what the scenario can have
# changed (its text decides), which is much faster than a full reset every time.
cleanup_after() {
	_o=$LAB_ORACLE_DIR/ipvsadm
	if grep -q 'daemon' "$1"; then
		$_o --stop-daemon master >/dev/null 2>&1
		$_o --stop-daemon backup >/dev/null 2>&1
	fi
	$_o -C >/dev/null 2>&1 || echo "diff: warning: ipvsadm -C failed"
	if grep -q -e '--set' -e 'restore' -e '-R' "$1"; then
		$_o --set 900 120 300 >/dev/null 2>&1 || echo "diff: warning: ipvsadm --set failed"
	fi
	if grep -q -e 'ip ' -e 'ip$' -e 'nft' -e 'scn-net' -e '/etc' "$1"; then
		lab_reset_net
	fi
}

# Run every command of scenario $1 with the implementation in directory $2; per-command
# results go to directory $3.
run_side() {
	lab_select_ipvsadm "$2"
	rm -rf "$WORK" "$3"
	mkdir -p "$WORK" "$3"
	(
		cd "$WORK" &&
			exec env -i PATH="$2:/usr/sbin:/usr/bin:/sbin:/bin" HOME="$WORK" \
				timeout -k 5 "$SIDE_TIMEOUT" sh /lab/scn-side.sh "$1" "$3"
	) </dev/null >/dev/null 2>&1
	_st=$?
	[ "$_st" = 0 ] || echo "diff: the $2 side of ${1##*/} ended with status $_st"
	cleanup_after "$1"
}

# The expected results of an ours-only scenario $1, in directory $2 (same layout as
# run_side's output).
expected_side() {
	mkdir -p "$2"
	awk -v dir="$2" '
		function flush() {
			if (n > 0) {
				f = sprintf("%s/%03d", dir, n)
				printf "%s", out > (f ".stdout"); close(f ".stdout")
				printf "%s", err > (f ".stderr"); close(f ".stderr")
				printf "%s\n", status > (f ".status"); close(f ".status")
			}
			out = ""; err = ""; status = 0
		}
		{ line = $0; trim = line; sub(/^[ \t]+/, "", trim) }
		trim == "" { next }
		substr(trim, 1, 2) == "#>" { t = substr(trim, 3); sub(/^ /, "", t); out = out t "\n"; next }
		substr(trim, 1, 3) == "#2>" { t = substr(trim, 4); sub(/^ /, "", t); err = err t "\n"; next }
		substr(trim, 1, 2) == "#?" { t = substr(trim, 3); gsub(/[ \t]/, "", t); status = t; next }
		substr(trim, 1, 1) == "#" { next }
		{ flush(); n++ }
		END { flush() }
	' "$1"
}

# Compare the results of sides $2 (reference, named $4) and $3 (ours) of scenario $1;
# prints mismatches; returns 0 when identical.
compare_sides() {
	_name=$1
	_o=$2
	_u=$3
	_ref=$4
	_ok=0
	ncmd=0
	for cmdf in "$_u"/*.cmd; do
		[ -f "$cmdf" ] || continue
		ncmd=$((ncmd + 1))
		id=${cmdf##*/}
		id=${id%.cmd}
		same=1
		for k in stdout stderr status; do
			cmp -s "$_o/$id.$k" "$_u/$id.$k" || same=0
		done
		[ "$same" = 1 ] && continue
		_ok=1
		echo
		echo "---- MISMATCH: scenario $_name, command $id:"
		echo "     $(cat "$cmdf")"
		if ! cmp -s "$_o/$id.stdout" "$_u/$id.stdout"; then
			echo "  stdout differs:"
			diff -u -L "$_ref/stdout" -L "ours/stdout" "$_o/$id.stdout" "$_u/$id.stdout" | sed 's/^/    /'
		fi
		if ! cmp -s "$_o/$id.stderr" "$_u/$id.stderr"; then
			echo "  stderr differs:"
			diff -u -L "$_ref/stderr" -L "ours/stderr" "$_o/$id.stderr" "$_u/$id.stderr" | sed 's/^/    /'
		fi
		echo "  exit status: $_ref=$(cat "$_o/$id.status" 2>/dev/null) ours=$(cat "$_u/$id.status")"
	done
	return $_ok
}

lab_banner "differential suite (oracle vs ours)"
t0=$(lab_now)
lab_reset_state
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
	case $name in
	deliberate-*)
		o=$OUT/$name/expected
		expected_side "$scn" "$o"
		run_side "$scn" "$LAB_OURS_DIR" "$u"
		ref=expected
		;;
	*)
		run_side "$scn" "$LAB_ORACLE_DIR" "$o"
		run_side "$scn" "$LAB_OURS_DIR" "$u"
		ref=oracle
		;;
	esac
	if compare_sides "$name" "$o" "$u" "$ref"; then
		echo "ok   $name ($ncmd commands, $(lab_since "$s0") s)"
		passed=$((passed + 1))
	else
		echo "FAIL $name"
		failed=$((failed + 1))
		failed_names="$failed_names $name"
	fi
	if [ "$record" = 1 ] && [ "$ref" = oracle ]; then
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
