#!/bin/sh
# Reloading a rules file under real traffic (issue 11): `lvsctl apply` against what
# ipvsadm-restore users do (`ipvsadm -C` then `ipvsadm -R` of the same file).
# DR, one LAN, VIP 192.0.2.100:80 wrr over rs1-rs3 (rs4 stands by), configured from a rules
# file with our ipvsadm -R. In every phase a client sends short requests one after the other
# (labnet ask, 2 s timeout each) and holds one long-lived connection that exchanges a line
# every 100 ms (labnet talk); the change runs once both are under way, and the traffic goes
# on until both have done more after it.
#   A1: the file gives the long connection's server X another weight; lvsctl apply -v:
#       0 failed requests, the long connection completes, exactly 1 write request, and the
#       kernel's table (-Sn, oracle) equals the file's (restored into an empty namespace)
#   A2: another server Z is replaced by rs4 in the file: the same, with 2 write requests;
#       requests started after the apply never reach Z, and rs4 answers some
#   B:  the same file reloaded with our ipvsadm -C; ipvsadm -R: its failed requests and the
#       long connection's fate are printed next to A's, not asserted (timing-dependent)
. /lab/forwarding/lib/common.sh
trap fwd_cleanup EXIT
# The seconds since the case started (guest uptime), for the log.
T0=$(cut -d ' ' -f 1 /proc/uptime)
stamp() {
	awk -v t0="$T0" '{ printf "%.1f", $1 - t0 }' /proc/uptime
}

LVSCTL=${LAB_LVSCTL:-/ours/lvsctl}
VIP=$FWD_LAN_VIP
# Bounds: at most this many requests and long-connection lines per phase (the traffic stops
# earlier, once enough has been done after the change); each wait below at most 30 s.
MAX_REQUESTS=5000
MAX_LINES=600
# How much traffic before and after the change.
BEFORE_REQUESTS=60
AFTER_REQUESTS=60
BEFORE_LINES=5
AFTER_LINES=5

fwd_check "lvsctl is shipped ($LVSCTL)" [ -x "$LVSCTL" ]
fwd_topo_lan cl:10 dir:1 rs1:11 rs2:12 rs3:13 rs4:14
for rs in rs1 rs2 rs3 rs4; do
	fwd_run ip -n "$rs" addr add "$VIP/32" dev lo
	fwd_serve "$rs" tcp:80
done
echo "# set up at $(stamp) s"

# rules FILE N:WEIGHT...: the service and real servers rsN with their weights, as a file of
# ipvsadm -S lines.
rules() {
	_f=$1
	shift
	echo "-A -t $VIP:80 -s wrr" >"$_f"
	for _s in "$@"; do
		echo "-a -t $VIP:80 -r 192.0.2.1${_s%%:*}:80 -g -w ${_s#*:}" >>"$_f"
	done
}

# lines FILE: its number of lines (0 while it does not exist).
lines() {
	if [ -f "$1" ]; then wc -l <"$1"; else echo 0; fi
}

# wait_lines FILE N [PID]: until FILE has N lines, at most 30 s (or until process PID,
# which writes FILE, has ended); fails if it has not.
wait_lines() {
	_w=0
	while [ "$(lines "$1")" -lt "$2" ]; do
		_w=$((_w + 1))
		[ $_w -ge 300 ] && return 1
		[ -n "${3:-}" ] && ! kill -0 "$3" 2>/dev/null && [ "$(lines "$1")" -lt "$2" ] && return 1
		sleep 0.1
	done
}


# traffic_start TAG: the long-lived connection (talk-TAG: the answering server, then one
# line per exchange) and the loop of short requests (ask-TAG: one answer a line, "none" for
# a failure), from the client; returns once both have done their share before the change.
# Sets X, the long connection's server.
traffic_start() {
	_t=$FWD_TMP/talk-$1
	_a=$FWD_TMP/ask-$1
	rm -f "$FWD_TMP/stop-$1"
	# /usr/sbin/ip itself, so that $! is labnet's process id.
	/usr/sbin/ip netns exec cl "$LABNET" talk -n $MAX_LINES -i 100 -w 3000 -u "$FWD_TMP/stop-$1" \
		"$VIP" 80 >"$_t" 2>&1 &
	TALK_PID=$!
	wait_lines "$_t" 1 "$TALK_PID"
	X=$(head -n 1 "$_t")
	/usr/sbin/ip netns exec cl "$LABNET" ask -n $MAX_REQUESTS -w 2000 -u "$FWD_TMP/stop-$1" \
		tcp "$VIP" 80 >"$_a" 2>&1 &
	ASK_PID=$!
	fwd_check "$1: traffic under way before the change (long connection to $X)" \
		wait_lines "$_a" $BEFORE_REQUESTS "$ASK_PID"
	wait_lines "$_t" $((1 + BEFORE_LINES)) "$TALK_PID"
	echo "# $1: traffic under way at $(stamp) s"
}

# traffic_stop TAG: called right after the change; lets both go on for their share after
# it, stops them and collects: REQUESTS, FAILED (requests), AFTER (the answers of requests
# started after the change), TALK (talk's last line), TALK_STATUS.
traffic_stop() {
	_t=$FWD_TMP/talk-$1
	_a=$FWD_TMP/ask-$1
	# Request M+1 may have started before the change returned; M+2 on started after it.
	_m=$(($(lines "$_a") + 1))
	_mt=$(lines "$_t")
	echo "# $1: change done at $(stamp) s"
	fwd_check "$1: requests went on after the change" \
		wait_lines "$_a" $((_m + AFTER_REQUESTS)) "$ASK_PID"
	wait_lines "$_t" $((_mt + AFTER_LINES)) "$TALK_PID"
	echo "# $1: stopping the traffic at $(stamp) s"
	touch "$FWD_TMP/stop-$1"
	wait "$ASK_PID"
	wait "$TALK_PID"
	TALK_STATUS=$?
	REQUESTS=$(lines "$_a")
	FAILED=$(grep -cx none "$_a")
	AFTER=$(sed -n "$((_m + 1)),\$p" "$_a" | sort | uniq -c | awk '{ printf " %s:%s", $2, $1 }')
	TALK=$(tail -n 1 "$_t")
	echo "$1 ($(stamp) s): $REQUESTS requests, $FAILED failed; long connection to $X: $TALK;" \
		"answers after the change:$AFTER"
}

# same_as_file FILE: the director's table (oracle -Sn) equals FILE restored into an empty
# namespace (oracle -R, then -Sn).
same_as_file() {
	if ! ip netns list | grep -q '^ref'; then
		fwd_ns ref
		fwd_run ip -n ref link add d0 type dummy
		fwd_run ip -n ref addr add 192.0.2.254/24 dev d0
		fwd_run ip -n ref link set d0 up
	fi
	ip netns exec ref "$ORACLE" -C
	fwd_run ip netns exec ref "$ORACLE" -R <"$1"
	fwd_expect "the kernel's table equals ${1##*/}" "$(ip netns exec ref "$ORACLE" -Sn)" \
		"$(ip netns exec dir "$ORACLE" -Sn)"
}

# changed OLD NEW: prints the lines of the file that changed.
changed() {
	echo "# the file, was: $(grep -vxF -f "$2" "$1" | tr '\n' ' ')now: $(grep -vxF -f "$1" "$2" | tr '\n' ' ')"
}

# apply TAG FILE EXPECTED-V-LINE: lvsctl apply -v FILE in the director, during traffic.
apply() {
	echo "# lvsctl apply --dry-run ${2##*/}: $(ip netns exec dir "$LVSCTL" apply --dry-run "$2" | tr '\n' ';')"
	echo "# lvsctl apply -v ${2##*/}"
	ip netns exec dir "$LVSCTL" apply -v "$2" 2>"$FWD_TMP/apply-$1.err"
	fwd_expect "$1: lvsctl apply exit status" 0 $?
	fwd_expect "$1: lvsctl apply -v" "$3" "$(cat "$FWD_TMP/apply-$1.err")"
}

F=$FWD_TMP/rules
rules "$F.0" 1:1 2:1 3:1
fwd_ipvsadm -R <"$F.0"
same_as_file "$F.0"

# A1: X's weight changed.
traffic_start A1
rules "$F.1" 1:1 2:1 3:1
sed -i "s/\(-r 192\.0\.2\.1${X#rs}:80 -g -w\) 1\$/\1 3/" "$F.1"
changed "$F.0" "$F.1"
apply A1 "$F.1" "lvsctl: 1 changes, 1 write requests sent"
traffic_stop A1
fwd_expect "A1: failed requests" 0 "$FAILED"
fwd_expect "A1: the long connection to $X, to its end" "kept, exit 0" "${TALK%% *}, exit $TALK_STATUS"
same_as_file "$F.1"
A_REQUESTS=$REQUESTS A_FAILED=$FAILED A_KEPT=0
[ "$TALK_STATUS" = 0 ] && A_KEPT=1

# A2: a server other than the long connection's replaced by rs4.
traffic_start A2
Z=rs3
[ "$X" = rs3 ] && Z=rs2
sed "s/-r 192\.0\.2\.1${Z#rs}:80 /-r 192.0.2.14:80 /" "$F.1" >"$F.2"
changed "$F.1" "$F.2"
apply A2 "$F.2" "lvsctl: 2 changes, 2 write requests sent"
traffic_stop A2
fwd_expect "A2: failed requests" 0 "$FAILED"
fwd_expect "A2: the long connection to $X, to its end" "kept, exit 0" "${TALK%% *}, exit $TALK_STATUS"
fwd_check "A2: no request started after the apply went to $Z (answers:$AFTER)" \
	eval "! echo '$AFTER' | grep -q ' $Z:'"
fwd_check "A2: rs4 answered requests started after the apply" \
	eval "echo '$AFTER' | grep -q ' rs4:'"
same_as_file "$F.2"
A_REQUESTS=$((A_REQUESTS + REQUESTS)) A_FAILED=$((A_FAILED + FAILED))
[ "$TALK_STATUS" = 0 ] && A_KEPT=$((A_KEPT + 1))

# B: the same file reloaded the ipvsadm-restore way, flush first.
traffic_start B
echo "# ipvsadm -C; ipvsadm -R <${F##*/}.2"
ip netns exec dir sh -c "'$IPVSADM' -C; '$IPVSADM' -R <'$F.2'"
traffic_stop B
same_as_file "$F.2"

if [ "$TALK_STATUS" = 0 ]; then
	b_talk="long connection kept this time"
else
	b_talk="long connection ${TALK#broken * }"
fi
[ "$FAILED" = 0 ] && b_talk="$b_talk; this time the flush dropped no request"
echo "apply-hitless: lvsctl apply: $A_FAILED failed of $A_REQUESTS requests, long connections" \
	"kept: $A_KEPT of 2; flush+restore: $FAILED failed of $REQUESTS requests, $b_talk"
fwd_finish
