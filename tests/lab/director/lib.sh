# Helpers of the director suite (busybox ash, sourced by /lab/suite-director.sh after
# /lab/lib.sh). See tests/lab/README.md, "director", for the scenario format.
#
# One side = one daemon (keepalived, the oracle, or ours) running one scenario in a fresh
# set of network namespaces:
#
#   dir: VIPs 203.0.113.1-3 (dummy vip0), 192.0.2.1/24 on bridge br0
#        |-- rs1 192.0.2.11   (busybox httpd / nc listeners, default route via the director)
#        |-- rs2 192.0.2.12
#        \-- rs3 192.0.2.13
#
# The daemon runs in "dir"; the health checks go over the bridge; the table is read with
# the oracle ipvsadm (-Sn, no counters) inside "dir".

D_ORACLE_IPVSADM=/oracle/ipvsadm
D_KEEPALIVED=/oracle/keepalived
D_TMP=/tmp/dlab
# The HTTPS servers' certificate and key (EC P-256, self-signed, made by tests/lab/run).
D_TLS=/lab/director/tls
# Seconds an event may take to reach its table; seconds a daemon may take to stop.
D_EVENT_TIMEOUT=${D_EVENT_TIMEOUT:-15}
D_STOP_TIMEOUT=10
# Seconds the table must stay as expected once reached (per event: "settle N").
D_SETTLE=${D_SETTLE:-1}
# Seconds between two reads of the table.
D_POLL=0.1
D_NAMESPACES="dir rs1 rs2 rs3"

# ---------------------------------------------------------------- scenario files

# Split scenario $1 into directory $2:
#   desc, servers, conf/NAME, ev/NNN/{title,do,settle,expect,why,ours}
# Prints what is wrong with the file and returns 1 when it is malformed.
d_parse() {
	rm -rf "$2"
	mkdir -p "$2/conf" "$2/ev"
	awk -v out="$2" '
		function path(f) { return out "/ev/" ev "/" f }
		function bad(msg) { printf "%s:%d: %s\n", FILENAME, NR, msg; err = 1 }
		mode == "conf" {
			if ($0 == "end") { close(out "/conf/" cname); mode = ""; next }
			print > (out "/conf/" cname); next
		}
		mode == "expect" || mode == "ours" {
			line = $0; sub(/^[ \t]+/, "", line); sub(/[ \t]+$/, "", line)
			if (line == "end") { close(path(mode)); mode = ""; next }
			if (line != "" && substr(line, 1, 1) != "#") print line > path(mode)
			next
		}
		{ line = $0; sub(/^[ \t]+/, "", line); sub(/[ \t]+$/, "", line) }
		line == "" { next }
		substr(line, 1, 1) == "#" {
			if (!desc) { desc = line; sub(/^#[ \t]*/, "", desc); print desc > (out "/desc"); close(out "/desc") }
			next
		}
		$1 == "servers" { sub(/^servers[ \t]+/, "", line); print line > (out "/servers"); close(out "/servers"); next }
		$1 == "conf" { if (NF != 2) bad("conf NAME"); cname = $2; conf[cname] = 1; printf "" > (out "/conf/" cname); mode = "conf"; next }
		$1 == "event" {
			check_event()
			n++; ev = sprintf("%03d", n); system("mkdir -p " out "/ev/" ev)
			sub(/^event[ \t]+/, "", line); print line > path("title"); close(path("title"))
			has_expect = 0; has_why = 0; has_ours = 0; has_do = 0
			next
		}
		!ev { bad("expected servers, conf or event: " line); next }
		$1 == "do" {
			sub(/^do[ \t]+/, "", line); print line >> path("do"); has_do = 1
			if (($2 == "start" || $2 == "reload") && !($3 in conf)) bad("no conf " $3 " above")
			next
		}
		$1 == "settle" { print $2 > path("settle"); close(path("settle")); next }
		$1 == "expect" { printf "" > path("expect"); mode = "expect"; has_expect = 1; next }
		$1 == "deliberate" {
			sub(/^deliberate[ \t]*:?[ \t]*/, "", line); print line > path("why"); close(path("why")); has_why = 1
			next
		}
		$1 == "ours" { printf "" > path("ours"); mode = "ours"; has_ours = 1; next }
		{ bad("unknown line: " line) }
		function check_event() {
			if (!ev) return
			close(path("do"))
			if (!has_do) bad("event " ev " has no \"do\" line")
			if (!has_expect) bad("event " ev " has no \"expect\" block")
			if (has_why != has_ours) bad("event " ev ": \"deliberate\" and \"ours\" go together")
		}
		END {
			check_event()
			if (mode != "") bad("block not closed with \"end\"")
			if (!n) bad("no event")
			exit err
		}
	' "$1"
}

# ---------------------------------------------------------------- network

d_net_down() {
	for _ns in $D_NAMESPACES; do
		_p=$(ip netns pids "$_ns" 2>/dev/null)
		[ -n "$_p" ] && kill -9 $_p 2>/dev/null
		ip netns del "$_ns" 2>/dev/null
	done
	return 0
}

d_net_up() {
	d_net_down
	# The files of "do file" (MISC_CHECK scripts, track_file): none at a side's start.
	rm -rf "$D_TMP/files"
	mkdir -p "$D_TMP/files"
	for _ns in $D_NAMESPACES; do
		ip netns add "$_ns" || return 1
		ip -n "$_ns" link set lo up
	done
	ip -n dir -batch - <<-EOF || return 1
		link add vip0 type dummy
		link set vip0 up
		addr add 203.0.113.1/32 dev vip0
		addr add 203.0.113.2/32 dev vip0
		addr add 203.0.113.3/32 dev vip0
		link add br0 type bridge
		addr add 192.0.2.1/24 dev br0
		link set br0 up
	EOF
	for _i in 1 2 3; do
		ip link add eth0 netns "rs$_i" type veth peer name "drs$_i" netns dir || return 1
		ip -n dir link set "drs$_i" master br0 || return 1
		ip -n dir link set "drs$_i" up || return 1
		ip -n "rs$_i" -batch - <<-EOF || return 1
			addr add 192.0.2.1$_i/24 dev eth0
			link set eth0 up
			route add default via 192.0.2.1
		EOF
	done
	ip netns exec dir sysctl -qw net.ipv4.ip_forward=1
}

# ---------------------------------------------------------------- real servers

# Is something listening on TCP port $2 in namespace $1? (/proc/net/tcp of the namespace)
# With $3 = udp: is a UDP socket bound to that port? (/proc/net/udp, state 07)
d_listening() {
	_hex=$(printf '%04X' "$2")
	_proto=tcp
	_state=0A
	[ "${3:-tcp}" = udp ] && _proto=udp && _state=07
	ip netns exec "$1" cat /proc/net/$_proto /proc/net/${_proto}6 2>/dev/null |
		awk -v p=":$_hex" -v st="$_state" '$4 == st && substr($2, length($2) - 4) == p { f = 1 } END { exit !f }'
}

# The transport of server kind $1 (udp for labnet's udp and dns servers).
d_transport() {
	case $1 in udp | dns) echo udp ;; *) echo tcp ;; esac
}

# Start server $1 = NS:PORT[:http|https|tcp] (http: busybox httpd serving "/" = the
# namespace's name and "/health" = "ok"; https: openssl s_server -WWW serving "/health"
# with the certificate tests/lab/run made (a missing file is still a 200 there: use kill
# to fail an SSL_GET); tcp: a busybox nc listener that closes every connection; udp, smtp,
# dns: /lab/bin/labnet serve NS udp:PORT|smtp:PORT|dns:PORT, a UDP echo of the name, a
# minimal SMTP server, a DNS responder that answers every query with rcode 0; echo: labnet
# serve NS tcp:PORT, which answers its name and keeps a connection open while the client
# does).
# Waits until it listens.
d_serve() {
	_ns=${1%%:*}
	_rest=${1#*:}
	_port=${_rest%%:*}
	_kind=http
	case $_rest in *:*) _kind=${_rest#*:} ;; esac
	_www=$D_TMP/www-$_ns-$_port
	if [ "$_kind" = http ]; then
		mkdir -p "$_www"
		echo "$_ns" >"$_www/index.html"
		[ -e "$_www/.health-off" ] || echo ok >"$_www/health"
		/usr/sbin/ip netns exec "$_ns" busybox httpd -f -p "$_port" -h "$_www" </dev/null >/dev/null 2>&1 &
	elif [ "$_kind" = https ]; then
		mkdir -p "$_www"
		[ -e "$_www/.health-off" ] || echo ok >"$_www/health"
		(cd "$_www" && exec /usr/sbin/ip netns exec "$_ns" /usr/bin/openssl s_server -quiet -WWW -accept "$_port" \
			-cert "$D_TLS/cert.pem" -key "$D_TLS/key.pem") </dev/null >/dev/null 2>&1 &
	elif [ "$_kind" = udp ] || [ "$_kind" = smtp ] || [ "$_kind" = dns ]; then
		/usr/sbin/ip netns exec "$_ns" /lab/bin/labnet serve "$_ns" "$_kind:$_port" </dev/null >/dev/null 2>&1 &
	elif [ "$_kind" = echo ]; then
		/usr/sbin/ip netns exec "$_ns" /lab/bin/labnet serve "$_ns" "tcp:$_port" </dev/null >/dev/null 2>&1 &
	else
		/usr/sbin/ip netns exec "$_ns" busybox nc -ll -p "$_port" -e /bin/true </dev/null >/dev/null 2>&1 &
	fi
	echo "$!" >"$D_TMP/pid-$_ns-$_port"
	echo "$_kind" >"$D_TMP/kind-$_ns-$_port"
	_n=0
	until d_listening "$_ns" "$_port" "$(d_transport "$_kind")"; do
		_n=$((_n + 1))
		if [ $_n -ge 100 ]; then
			echo "director: server $1 did not start listening"
			return 1
		fi
		sleep 0.05
	done
}

# Stop server NS PORT and wait until the port is closed.
d_kill() {
	_pf=$D_TMP/pid-$1-$2
	[ -f "$_pf" ] || {
		echo "director: no server $1:$2 to kill"
		return 1
	}
	kill "$(cat "$_pf")" 2>/dev/null
	rm -f "$_pf"
	_tr=$(d_transport "$(cat "$D_TMP/kind-$1-$2" 2>/dev/null)")
	_n=0
	while d_listening "$1" "$2" "$_tr"; do
		_n=$((_n + 1))
		if [ $_n -ge 100 ]; then
			echo "director: server $1:$2 still listens"
			return 1
		fi
		sleep 0.05
	done
}

# ---------------------------------------------------------------- the table

# The table of the director's namespace, one rule per line, sorted (service and real
# server order in the kernel depends on insertion order and hashing, not on the rules).
# Scenarios whose configurations name lvs_sync_daemon also get the sync daemons
# (ipvsadm -L --daemon: "master sync daemon (mcast=..., syncid=...)" lines).
d_table() {
	{
		ip netns exec dir "$D_ORACLE_IPVSADM" -Sn 2>&1
		if grep -qs lvs_sync_daemon "$D_SCN"/conf/*; then
			ip netns exec dir "$D_ORACLE_IPVSADM" -L --daemon 2>&1
		fi
	} | sort
}

# ---------------------------------------------------------------- daemons

# Start the side's daemon in "dir" with configuration file $1; its pid in D_PID, its log
# (stdout and stderr) in $D_SIDE_DIR/daemon.log.
d_daemon_start() {
	case $D_DAEMON in
	keepalived | keepalived-strict)
		/usr/sbin/ip netns exec dir "$D_KEEPALIVED" --check --dont-fork --log-console --log-detail --no-syslog \
			-f "$1" </dev/null >>"$D_SIDE_DIR/daemon.log" 2>&1 &
		;;
	lvsd)
		/usr/sbin/ip netns exec dir /ours/lvsd -f "$1" </dev/null >>"$D_SIDE_DIR/daemon.log" 2>&1 &
		;;
	oneshot)
		D_ONESHOT_TABLE=$D_SIDE_DIR/start-table /usr/sbin/ip netns exec dir /bin/sh /lab/director/oneshot.sh -f "$1" \
			</dev/null >>"$D_SIDE_DIR/daemon.log" 2>&1 &
		;;
	*)
		echo "director: unknown daemon $D_DAEMON"
		return 1
		;;
	esac
	D_PID=$!
}

# Is the daemon started by d_daemon_start still running (not exited, not a zombie)?
d_daemon_alive() {
	[ -n "${D_PID:-}" ] && kill -0 "$D_PID" 2>/dev/null || return 1
	case $(cut -d' ' -f3 "/proc/$D_PID/stat" 2>/dev/null) in Z | '') return 1 ;; esac
	return 0
}

# Stop the daemon (SIGTERM) and wait until it has exited (bounded; then SIGKILL).
d_daemon_stop() {
	[ -n "${D_PID:-}" ] || return 0
	kill -TERM "$D_PID" 2>/dev/null
	_t0=$(lab_now)
	while kill -0 "$D_PID" 2>/dev/null; do
		# A zombie has exited: reap it.
		case $(cut -d' ' -f3 "/proc/$D_PID/stat" 2>/dev/null) in Z | '') break ;; esac
		if [ "$(awk -v a="$_t0" -v b="$(lab_now)" -v m="$D_STOP_TIMEOUT" 'BEGIN { print (b - a > m) }')" = 1 ]; then
			echo "director: the daemon did not stop within ${D_STOP_TIMEOUT}s of SIGTERM: killed"
			kill -KILL "$D_PID" 2>/dev/null
			break
		fi
		sleep 0.05
	done
	wait "$D_PID" 2>/dev/null
	D_PID=
}

# Number of lines of the daemon's log that contain $1.
d_log_count() {
	_c=$(grep -c -F "$1" "$D_SIDE_DIR/daemon.log" 2>/dev/null)
	echo "${_c:-0}"
}

# Wait (bounded) until the daemon's log has more than $2 lines with marker $1.
d_wait_mark() {
	_w0=$(lab_now)
	while [ "$(d_log_count "$1")" -le "$2" ]; do
		if ! d_daemon_alive; then
			echo "director: the daemon exited before logging \"$1\""
			return 1
		fi
		if [ "$(awk -v a="$_w0" -v b="$(lab_now)" -v m="$D_EVENT_TIMEOUT" 'BEGIN { print (b - a > m) }')" = 1 ]; then
			echo "director: no \"$1\" in the daemon's log within ${D_EVENT_TIMEOUT}s"
			return 1
		fi
		sleep 0.05
	done
}

# ---------------------------------------------------------------- events

# Run one action line ("do ..." without "do"); non-zero when it could not be done (the
# event then fails).
d_action() {
	set -- $1
	_a=$1
	shift
	case $_a in
	start)
		cp "$D_SCN/conf/$1" "$D_SIDE_DIR/keepalived.conf"
		_m=$(d_log_count "$D_MARK_START")
		d_daemon_start "$D_SIDE_DIR/keepalived.conf" || return 1
		# A missing marker is only reported: the table decides.
		[ -z "$D_MARK_START" ] || d_wait_mark "$D_MARK_START" "$_m" || true
		;;
	reload)
		cp "$D_SCN/conf/$1" "$D_SIDE_DIR/keepalived.conf"
		_m=$(d_log_count "$D_MARK_RELOAD")
		kill -HUP "$D_PID" || return 1
		[ -z "$D_MARK_RELOAD" ] || d_wait_mark "$D_MARK_RELOAD" "$_m" || true
		;;
	stop) d_daemon_stop ;;
	kill) d_kill "$1" "$2" ;;
	serve) d_serve "$1:$2:$(cat "$D_TMP/kind-$1-$2" 2>/dev/null || echo http)" ;;
	page)
		# page NS PORT on|off: the /health page of an httpd (off: 404).
		_www=$D_TMP/www-$1-$2
		if [ "$3" = off ]; then
			rm -f "$_www/health"
			touch "$_www/.health-off"
		else
			echo ok >"$_www/health"
			rm -f "$_www/.health-off"
		fi
		;;
	ipvsadm) ip netns exec dir "$D_ORACLE_IPVSADM" "$@" ;;
	link)
		# link NS down|up: the real server's eth0 (up: its default route again, which went
		# with the link).
		case $2 in
		down) ip -n "$1" link set eth0 down ;;
		up) ip -n "$1" link set eth0 up && ip -n "$1" route replace default via 192.0.2.1 ;;
		*)
			echo "director: link NS down|up"
			return 1
			;;
		esac
		;;
	file)
		# file NAME TEXT: /tmp/dlab/files/NAME holds TEXT (a line); file NAME -: removed.
		case $1 in */* | '') echo "director: bad file name $1"; return 1 ;; esac
		_f=$D_TMP/files/$1
		shift
		if [ "$*" = - ]; then
			rm -f "$_f"
		else
			echo "$*" >"$_f.new" && mv "$_f.new" "$_f"
		fi
		;;
	*)
		echo "director: unknown action $_a"
		return 1
		;;
	esac
}

# Poll the table until it equals file $1 (sorted), for at most D_EVENT_TIMEOUT seconds
# after time $2 (lab_now); then it must stay so for $3 seconds. Sets D_REACHED (seconds
# from $2 to the first matching read, or "-") and leaves the last table read in $4.
# Returns 0 when reached and stable, 1 when never reached, 2 when it left the state.
d_await() {
	sort "$1" >"$1.sorted"
	D_REACHED=-
	while :; do
		d_table >"$4"
		_now=$(lab_now)
		if cmp -s "$4" "$1.sorted"; then
			D_REACHED=$(awk -v a="$2" -v b="$_now" 'BEGIN { printf "%.2f", b - a }')
			break
		fi
		if [ "$(awk -v a="$2" -v b="$_now" -v m="$D_EVENT_TIMEOUT" 'BEGIN { print (b - a > m) }')" = 1 ]; then
			return 1
		fi
		sleep "$D_POLL"
	done
	_s0=$_now
	while [ "$(awk -v a="$_s0" -v b="$(lab_now)" -v m="$3" 'BEGIN { print (b - a < m) }')" = 1 ]; do
		sleep "$D_POLL"
		d_table >"$4"
		cmp -s "$4" "$1.sorted" || return 2
	done
	return 0
}
