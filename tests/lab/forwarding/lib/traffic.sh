# Reload, restart and drift under client traffic, for a director daemon (busybox ash,
# sourced after common.sh by traffic-lvsd.sh and traffic-keepalived.sh; issue 12's proof).
#
# NAT (fwd_topo_nat): the client cl reaches VIP 203.0.113.1 through dir, where the daemon
# runs; rs1 and rs2 serve
#   - :80    busybox httpd (the page is the server's name), asked by a client loop: one
#            HTTP/1.0 request after the other (busybox nc, 2 s timeout each), one line per
#            request, the answering server or "none";
#   - :7000  labnet serve (answers "NAME", then echoes each line as "NAME LINE"), held by
#            one long-lived connection (labnet talk: a line every 100 ms, 2 s timeout each,
#            last line "kept N" or "broken N WHY").
# Both services rr, every real server weight 1 with a TCP_CHECK (checks stay up throughout).
#
# tr_run DAEMON (lvsd or keepalived) runs three phases and leaves the results in TR_*:
#   restart  the client loop runs while the daemon is stopped (SIGTERM) and started again on
#            the same file: TR_RESTART_REQ / _FAILED, TR_RESTART_WRITES (lvsd: "kernel: "
#            log lines from the stop until a reload after the restart; "-" for keepalived,
#            which does not log its writes)
#   drift    ipvsadm changes rs2's weight on :80 and deletes rs1 from :7000 behind the
#            daemon's back (right after a no-op reload), then SIGHUP with the same file:
#            TR_DRIFT "repaired" when the table is then the configured one (lvsd: waited for
#            at most 15 s; keepalived: after 3 s), else "kept" (the drift is then undone with
#            ipvsadm, so the next phase starts equal); TR_DRIFT_BY (lvsd) "reload" when the
#            repair was the reload's write (no write before it, the write of the 2 changes
#            logged right after the reload's line), else "other"
#   reload   the long connection is open to X (whichever server rr gave it) and the client
#            loop runs; SIGHUP with a file without X: TR_RELOAD_REQ / _FAILED, TR_LONG (talk's
#            last line) and TR_LONG_AFTER (lines it exchanged after the reload), TR_ANSWERS
#            (the answers to requests started after the reload),
#            TR_X_WEIGHT (X's weights on :80 and :7000 once they are no longer 1, polled for
#            at most 10 s after the reload's log line; "gone" if deleted), TR_X_GONE (seconds
#            from SIGHUP until X was deleted from both services, or "never" within the drain
#            timeout + 10 s). The long connection closes after TR_AFTER_LINES lines past the
#            reload, independently of the client loop.
# and prints them as @@TRAFFIC lines (tests/lab/traffic-report makes the markdown table).

TR_VIP=$FWD_VIP
TR_LONG_PORT=7000
# lvsd_drain_timeout for lvsd: longer than the long connection lives after the reload.
# lab.traffic_drain_timeout=0 on the kernel command line (LAB_CMDLINE_EXTRA) sets it to 0,
# which deletes at once: the validation that traffic-lvsd fails without the drain.
TR_DRAIN=15
# Bounds of the traffic: requests and long-connection lines at most, and seconds.
TR_MAX_REQUESTS=3000
TR_MAX_LINES=600
TR_MAX_SECS=60
# Traffic before and after each change.
TR_BEFORE=10
TR_AFTER=20
TR_AFTER_LINES=5
TR_LOG=$FWD_TMP/daemon.log
TR_T0=$(cut -d ' ' -f 1 /proc/uptime)

# The value of lab.NAME= on the kernel command line ("" if absent).
tr_param() {
	for _w in $(cat /proc/cmdline); do
		case $_w in "lab.$1="*) printf '%s\n' "${_w#*=}" ;; esac
	done
}
_d=$(tr_param traffic_drain_timeout)
[ -n "$_d" ] && TR_DRAIN=$_d
# lab.traffic_flush=1: lvsd's configuration asks for lvs_flush (flush at start): the
# validation that traffic-lvsd sees writes at the restart.
TR_FLUSH=
[ "$(tr_param traffic_flush)" = 1 ] && TR_FLUSH="    lvs_flush
"

tr_now() { cut -d ' ' -f 1 /proc/uptime; }
tr_stamp() { awk -v t0="$TR_T0" '{ printf "%.1f", $1 - t0 }' /proc/uptime; }
tr_since() { awk -v a="$1" -v b="$(tr_now)" 'BEGIN { printf "%.1f", b - a }'; }
tr_lines() { if [ -f "$1" ]; then wc -l <"$1"; else echo 0; fi; }
# tr_deadline SECS: TR_END = now + SECS, in hundredths of a second of uptime; tr_past: true
# once it has passed. Waits are bounded by time, not by a number of polls (a poll can take
# long on a loaded host).
tr_cs() {
	read -r _up _ </proc/uptime
	TR_CS=${_up%.*}${_up#*.}
}
tr_deadline() {
	tr_cs
	TR_END=$((TR_CS + $1 * 100))
}
tr_past() {
	tr_cs
	[ "$TR_CS" -gt "$TR_END" ]
}
tr_count() {
	_c=$(grep -c -F "$1" "$TR_LOG" 2>/dev/null)
	echo "${_c:-0}"
}

# wait_lines FILE N [PID]: until FILE has N lines, at most 30 s, or until PID (which writes
# FILE) has ended; fails if it has not got them.
tr_wait_lines() {
	tr_deadline 30
	while [ "$(tr_lines "$1")" -lt "$2" ]; do
		tr_past && return 1
		[ -n "${3:-}" ] && ! kill -0 "$3" 2>/dev/null && [ "$(tr_lines "$1")" -lt "$2" ] && return 1
		sleep 0.1
	done
}

tr_setup() {
	fwd_topo_nat
	for _rs in rs1 rs2; do
		fwd_httpd "$_rs" 80
		fwd_serve "$_rs" "tcp:$TR_LONG_PORT"
	done
	mkdir -p /etc/keepalived /run
}

# tr_conf FILE DAEMON ADDR...: both services with the real servers ADDR (192.0.2.1N).
tr_conf() {
	_f=$1 _daemon=$2
	shift 2
	{
		[ "$_daemon" = lvsd ] && printf 'global_defs {\n    lvsd_drain_timeout %s\n%s}\n' "$TR_DRAIN" "$TR_FLUSH"
		for _p in 80 $TR_LONG_PORT; do
			printf 'virtual_server %s %s {\n    delay_loop 1\n    lb_algo rr\n    lb_kind NAT\n    protocol TCP\n' "$TR_VIP" "$_p"
			for _a in "$@"; do
				printf '    real_server %s %s {\n        weight 1\n        TCP_CHECK {\n            connect_timeout 1\n            retry 1\n            delay_before_retry 1\n        }\n    }\n' "$_a" "$_p"
			done
			printf '}\n'
		done
	} >"$_f"
}

# The table the configuration with real servers ADDR... asks for, as the sorted -Sn lines.
tr_expected() {
	for _p in 80 $TR_LONG_PORT; do
		echo "-A -t $TR_VIP:$_p -s rr"
		for _a in "$@"; do echo "-a -t $TR_VIP:$_p -r $_a:$_p -m -w 1"; done
	done | sort
}
tr_table() { ip netns exec dir "$ORACLE" -Sn 2>&1 | sort; }

# tr_wait_table EXPECTED SECS: polls until the table is EXPECTED, at most SECS seconds.
tr_wait_table() {
	tr_deadline "$2"
	while [ "$(tr_table)" != "$1" ]; do
		tr_past && return 1
		sleep 0.1
	done
}

# A file with the daemon's log up to its last reload marker (excluded).
tr_log_until_last_mark() {
	_n=$(grep -n -F "$TR_RELOAD_MARK" "$TR_LOG" | tail -n 1 | cut -d: -f1)
	head -n $((${_n:-1} - 1)) "$TR_LOG" >"$FWD_TMP/log-head"
	echo "$FWD_TMP/log-head"
}

# The daemon's log markers.
tr_markers() {
	case $TR_DAEMON in
	lvsd) TR_START_MARK="lvsd: started: " TR_RELOAD_MARK="lvsd: reload: " ;;
	keepalived) TR_START_MARK="Startup complete" TR_RELOAD_MARK="Reload complete" ;;
	esac
}

# tr_wait_mark MARK N: until the log has more than N lines with MARK (at most 20 s, and
# while the daemon runs).
tr_wait_mark() {
	tr_deadline 20
	while [ "$(tr_count "$1")" -le "$2" ]; do
		if tr_past || ! kill -0 "$TR_PID" 2>/dev/null; then
			echo "traffic: no \"$1\" in the daemon's log (daemon running: $(kill -0 "$TR_PID" 2>/dev/null && echo yes || echo no))"
			return 1
		fi
		sleep 0.05
	done
}

# tr_start CONF: starts the daemon in dir (pid in TR_PID) and waits for its start marker.
tr_start() {
	_m=$(tr_count "$TR_START_MARK")
	case $TR_DAEMON in
	lvsd)
		# /usr/sbin/ip itself (ip netns exec execs the command): $! is the daemon's pid.
		/usr/sbin/ip netns exec dir /ours/lvsd -f "$1" </dev/null >>"$TR_LOG" 2>&1 &
		;;
	keepalived)
		/usr/sbin/ip netns exec dir /oracle/keepalived --check --dont-fork --log-console --log-detail \
			--no-syslog -f "$1" </dev/null >>"$TR_LOG" 2>&1 &
		;;
	esac
	TR_PID=$!
	tr_wait_mark "$TR_START_MARK" "$_m"
}

# tr_stop: SIGTERM, then waits until the daemon has exited (at most 15 s, then SIGKILL).
tr_stop() {
	kill -TERM "$TR_PID" 2>/dev/null
	tr_deadline 15
	while kill -0 "$TR_PID" 2>/dev/null; do
		case $(cut -d' ' -f3 "/proc/$TR_PID/stat" 2>/dev/null) in Z | '') break ;; esac
		if tr_past; then
			echo "traffic: the daemon did not stop within 15 s: killed"
			kill -KILL "$TR_PID"
			break
		fi
		sleep 0.05
	done
	wait "$TR_PID" 2>/dev/null
}

# tr_reload CONF: copies CONF over the daemon's file, SIGHUP, waits for the reload marker.
tr_reload() {
	_m=$(tr_count "$TR_RELOAD_MARK")
	[ "$1" = "$TR_CONF" ] || cp "$1" "$TR_CONF"
	_h=$(tr_now)
	kill -HUP "$TR_PID"
	tr_wait_mark "$TR_RELOAD_MARK" "$_m" || return 1
	echo "# $TR_DAEMON: \"$TR_RELOAD_MARK\" logged $(tr_since "$_h") s after SIGHUP"
}

# tr_traffic_start TAG [long]: the client loop (ask-TAG) and, with "long", the long-lived
# connection (talk-TAG; X is its server); returns once both are under way.
tr_traffic_start() {
	_a=$FWD_TMP/ask-$1
	_t=$FWD_TMP/talk-$1
	_stop=$FWD_TMP/stop-$1
	rm -f "$_stop" "$_stop-talk" "$_a" "$_t"
	TR_TALK_PID=
	if [ "${2:-}" = long ]; then
		/usr/sbin/ip netns exec cl "$LABNET" talk -n $TR_MAX_LINES -i 100 -w 2000 -u "$_stop-talk" \
			"$TR_VIP" $TR_LONG_PORT >"$_t" 2>&1 &
		TR_TALK_PID=$!
		tr_wait_lines "$_t" 1 "$TR_TALK_PID"
		X=$(head -n 1 "$_t")
	fi
	# One shell in the client's namespace; bounded by count, time and the stop file.
	/usr/sbin/ip netns exec cl sh -c '
		n=0
		read up _ </proc/uptime
		end=$((${up%.*} + '$TR_MAX_SECS'))
		while [ $n -lt '$TR_MAX_REQUESTS' ] && [ ! -e '"$_stop"' ]; do
			read up _ </proc/uptime
			[ ${up%.*} -lt $end ] || break
			n=$((n + 1))
			r=$(printf "GET / HTTP/1.0\r\n\r\n" | timeout 2 nc '"$TR_VIP"' 80 2>/dev/null | tr -d "\r" | tail -n 1)
			case $r in rs[0-9]) echo "$r" ;; *) echo none ;; esac
		done' >"$_a" 2>&1 &
	TR_ASK_PID=$!
	fwd_check "$TR_DAEMON $1: client traffic under way before the change" \
		tr_wait_lines "$_a" $TR_BEFORE "$TR_ASK_PID"
	if [ -n "$TR_TALK_PID" ]; then
		fwd_check "$TR_DAEMON $1: long connection (to $X) under way before the change" \
			tr_wait_lines "$_t" 6 "$TR_TALK_PID"
	fi
	echo "# $TR_DAEMON $1: traffic under way at $(tr_stamp) s"
}

# tr_traffic_stop TAG: right after the change; lets the traffic go on for its share, stops
# it, and sets TR_REQ, TR_FAILED,
# TR_ANSWERS (" NAME:COUNT..." of the requests started after the change), TR_LONG (talk's last
# line), TR_LONG_STATUS and TR_LONG_BEFORE.
tr_traffic_stop() {
	_a=$FWD_TMP/ask-$1
	_t=$FWD_TMP/talk-$1
	# Request M+1 may have started before the change was done; M+2 on started after it.
	_m=$(($(tr_lines "$_a") + 1))
	_mt=$(tr_lines "$_t")
	echo "# $TR_DAEMON $1: change done at $(tr_stamp) s"
	# The long connection closes once it has exchanged its lines after the change (a
	# drained server is deleted at lvsd_drain_timeout, so it must not wait for the loop).
	TR_LONG= TR_LONG_STATUS=
	if [ -n "$TR_TALK_PID" ]; then
		tr_wait_lines "$_t" $((_mt + TR_AFTER_LINES)) "$TR_TALK_PID"
		touch "$FWD_TMP/stop-$1-talk"
		wait "$TR_TALK_PID"
		TR_LONG_STATUS=$?
		TR_LONG=$(tail -n 1 "$_t")
		echo "# $TR_DAEMON $1: long connection ended at $(tr_stamp) s: $TR_LONG"
	fi
	fwd_check "$TR_DAEMON $1: client traffic went on after the change" \
		tr_wait_lines "$_a" $((_m + TR_AFTER)) "$TR_ASK_PID"
	touch "$FWD_TMP/stop-$1"
	wait "$TR_ASK_PID"
	TR_REQ=$(tr_lines "$_a")
	TR_FAILED=$(grep -cvx 'rs[0-9]' "$_a")
	TR_ANSWERS=$(sed -n "$((_m + 1)),\$p" "$_a" | sort | uniq -c | awk '{ printf " %s:%s", $2, $1 }')
	echo "# $TR_DAEMON $1 ($(tr_stamp) s): $TR_REQ requests, $TR_FAILED failed; answers after the change:$TR_ANSWERS${TR_LONG:+; long connection to $X: $TR_LONG}"
}

# X's weight in service port $1 ("gone" if it is not there).
tr_weight() {
	ip netns exec dir "$ORACLE" -Sn | awk -v r="$XA:$1" '$1 == "-a" && $5 == r { w = $8 } END { print (w == "" ? "gone" : w) }'
}

tr_run() {
	TR_DAEMON=$1
	tr_markers
	TR_CONF=$FWD_TMP/keepalived.conf
	: >"$TR_LOG"
	both=$(tr_expected 192.0.2.11 192.0.2.12)
	tr_conf "$TR_CONF" "$TR_DAEMON" 192.0.2.11 192.0.2.12
	echo "# $TR_DAEMON: configuration:"
	sed 's/^/#   /' "$TR_CONF"
	fwd_check "$TR_DAEMON: started" tr_start "$TR_CONF"
	fwd_check "$TR_DAEMON: the configured table" tr_wait_table "$both" 15

	# Restart under traffic.
	tr_traffic_start restart
	_w0=$(tr_count "kernel: ")
	tr_stop
	fwd_check "$TR_DAEMON restart: started again" tr_start "$TR_CONF"
	tr_traffic_stop restart
	# lvsd logs "started" before its first reconcile; a reload's line comes after that
	# reconcile's writes: the restart's writes are the "kernel: " lines logged before it.
	fwd_check "$TR_DAEMON restart: a reload with the same file" tr_reload "$TR_CONF"
	TR_RESTART_REQ=$TR_REQ TR_RESTART_FAILED=$TR_FAILED TR_RESTART_WRITES=-
	[ "$TR_DAEMON" = lvsd ] &&
		TR_RESTART_WRITES=$(($(grep -c -F "kernel: " "$(tr_log_until_last_mark)") - _w0))
	fwd_check "restart: the configured table afterwards" tr_wait_table "$both" 5

	# Drift behind the daemon's back, then a reload with the same file. First a no-op reload:
	# lvsd reconciles after every reload and its periodic reconcile (every 10 s) is then
	# 10 s away, so the repair, if any, is the reload's.
	fwd_check "$TR_DAEMON drift: a reload with the same file first" tr_reload "$TR_CONF"
	ip netns exec dir "$ORACLE" -e -t "$TR_VIP:80" -r 192.0.2.12:80 -m -w 5
	ip netns exec dir "$ORACLE" -d -t "$TR_VIP:$TR_LONG_PORT" -r "192.0.2.11:$TR_LONG_PORT"
	_k=$(tr_count "kernel: ")
	fwd_check "$TR_DAEMON drift: reloaded after ipvsadm -e/-d" tr_reload "$TR_CONF"
	# lvsd: until its table is the configured one (at most 15 s); keepalived never reads
	# the kernel: its table after 3 s.
	_b=15
	[ "$TR_DAEMON" = lvsd ] || _b=3
	if tr_wait_table "$both" $_b; then TR_DRIFT=repaired; else TR_DRIFT=kept; fi
	echo "# $TR_DAEMON drift: after the reload: $TR_DRIFT"
	tr_table | sed 's/^/#   /'
	# Who repaired it (lvsd): "reload" when no write came between the drift and the reload
	# and the log line right after the reload's is the write of the 2 changes.
	TR_DRIFT_BY=-
	if [ "$TR_DAEMON" = lvsd ] && [ "$TR_DRIFT" = repaired ]; then
		TR_DRIFT_BY=other
		# The write is logged just after the kernel has it: wait for the line (at most 5 s).
		tr_deadline 5
		while [ "$(tr_count "kernel: ")" -le "$_k" ] && ! tr_past; do sleep 0.1; done
		[ "$_k" = "$(grep -c -F "kernel: " "$(tr_log_until_last_mark)")" ] &&
			grep -F -A1 "$TR_RELOAD_MARK" "$TR_LOG" | tail -n 1 | grep -q "kernel: 2 changes applied" &&
			TR_DRIFT_BY=reload
		echo "# lvsd drift: repaired by: $TR_DRIFT_BY"
	fi
	if [ "$TR_DRIFT" = kept ]; then
		ip netns exec dir "$ORACLE" -e -t "$TR_VIP:80" -r 192.0.2.12:80 -m -w 1
		ip netns exec dir "$ORACLE" -a -t "$TR_VIP:$TR_LONG_PORT" -r "192.0.2.11:$TR_LONG_PORT" -m -w 1
	fi
	fwd_check "drift: the configured table before the next phase" tr_wait_table "$both" 5

	# Reload without the long connection's server X, under traffic.
	tr_traffic_start reload long
	case $X in rs1 | rs2) ;; *) X=rs1 ;; esac
	[ "$X" = rs1 ] && Y=rs2 || Y=rs1
	XA=192.0.2.1${X#rs}
	YA=192.0.2.1${Y#rs}
	tr_conf "$FWD_TMP/without-$X.conf" "$TR_DAEMON" "$YA"
	# Lines the long connection exchanged before the reload (its first line is the name).
	TR_LONG_BEFORE=$(($(tr_lines "$FWD_TMP/talk-reload") - 1))
	_r0=$(tr_now)
	fwd_check "$TR_DAEMON reload: without $X" tr_reload "$FWD_TMP/without-$X.conf"
	# lvsd logs the reload before it writes: poll (at most 10 s) until X is no longer at 1.
	tr_deadline 10
	while :; do
		TR_X_WEIGHT="$(tr_weight 80)/$(tr_weight $TR_LONG_PORT)"
		case $TR_X_WEIGHT in *1*) ;; *) break ;; esac
		tr_past && break
		sleep 0.1
	done
	TR_X_SEEN=$(tr_since "$_r0")
	echo "# $TR_DAEMON reload: $X's weights (:80/:$TR_LONG_PORT) $TR_X_SEEN s after SIGHUP: $TR_X_WEIGHT"
	tr_traffic_stop reload
	TR_RELOAD_REQ=$TR_REQ TR_RELOAD_FAILED=$TR_FAILED
	# Lines the long connection exchanged after the reload (talk's "kept N" / "broken N WHY").
	TR_LONG_AFTER=$(($(echo "$TR_LONG" | awk '{ print $2 + 0 }') - TR_LONG_BEFORE))
	# X gone from both services: at once (keepalived), or at the drain's end (lvsd).
	if [ "$TR_X_WEIGHT" = gone/gone ]; then
		TR_X_GONE=$TR_X_SEEN
	elif tr_wait_table "$(tr_expected "$YA")" $((TR_DRAIN + 10)); then
		TR_X_GONE=$(tr_since "$_r0")
	else
		TR_X_GONE=never
	fi
	echo "# $TR_DAEMON reload: $X deleted from both services $TR_X_GONE s after the reload"

	fwd_figure restart "requests=$TR_RESTART_REQ failed=$TR_RESTART_FAILED writes=$TR_RESTART_WRITES"
	fwd_figure drift "result=$TR_DRIFT by=$TR_DRIFT_BY"
	fwd_figure reload "requests=$TR_RELOAD_REQ failed=$TR_RELOAD_FAILED removed=$X" \
		"weights=$TR_X_WEIGHT gone_after=$TR_X_GONE long=$(echo "$TR_LONG" | tr ' ' '_')" \
		"long_after=$TR_LONG_AFTER"
	tr_stop
	echo "---- $TR_DAEMON's log"
	cat "$TR_LOG"
}

# One figure line: @@TRAFFIC case=NAME daemon=D phase=P key=value...
fwd_figure() {
	_p=$1
	shift
	echo "@@TRAFFIC case=$FWD_NAME daemon=$TR_DAEMON drain_timeout=$([ "$TR_DAEMON" = lvsd ] && echo "$TR_DRAIN" || echo -) phase=$_p $*"
}
