# Helpers shared by the daemon benchmarks (busybox ash, sourced after /lab/lib.sh by
# suite-bench-director.sh and suite-bench-ldirectord.sh). The caller sets W (its work
# directory), LABNET (/lab/bin/labnet) and BENCH (its name, for messages), and defines PID
# (the daemon's pid) before using procs, cpu_ticks, hwm_kb.
#
# Network: bd (the director, 192.0.2.1) -- veth -- brs (the real servers: 192.0.2.2, and
# every address of 198.19.0.0/16 through a local route, AnyIP). One listener per port
# (labnet count) accepts, closes and counts every connection, whichever address it was
# for: checks are counted at the real servers' side, for every daemon alike.

since() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }
elapsed_gt() { awk -v a="$1" -v b="$(lab_now)" -v m="$2" 'BEGIN { exit !(b - a > m) }'; }

# settle: until the CPU has been at least 90% idle for 0.2 s (at most 60 s): a removed
# namespace's tables and sockets are freed in the background.
settle() {
	_i=0
	while [ "$_i" -lt 300 ]; do
		_a=$(head -n 1 /proc/stat)
		sleep 0.2
		_b=$(head -n 1 /proc/stat)
		printf '%s\n%s\n' "$_a" "$_b" | awk '
			{ t = 0; for (i = 2; i <= NF; i++) t += $i; total[NR] = t; idle[NR] = $5 + $6 }
			END { d = total[2] - total[1]; exit !(d > 0 && (idle[2] - idle[1]) / d >= 0.9) }' && return 0
		_i=$((_i + 1))
	done
	echo "$BENCH: the CPU did not settle"
}

# calib: seconds a fixed busybox awk loop takes now: the guest's speed (the host's other
# load slows the emulated CPU; compare the daemons' figures with it).
calib() {
	_a=$(lab_now)
	awk 'BEGIN { for (i = 0; i < 30000; i++) s += i }'
	since "$_a" "$(lab_now)"
}

net_down() {
	for _ns in bd brs; do
		_p=$(ip netns pids "$_ns" 2>/dev/null)
		[ -n "$_p" ] && kill -9 $_p 2>/dev/null
		ip netns exec "$_ns" /oracle/ipvsadm -C 2>/dev/null
		ip netns del "$_ns" 2>/dev/null
	done
	return 0
}
# net_up: the two namespaces and the counting listener of port 80.
net_up() {
	net_down
	ip netns add bd && ip netns add brs || return 1
	ip link add eth0 netns bd type veth peer name eth0 netns brs || return 1
	ip -n bd -batch - <<-EOT || return 1
		link set lo up
		link set eth0 up
		addr add 192.0.2.1/24 dev eth0
		route add 198.19.0.0/16 via 192.0.2.2
	EOT
	ip -n brs -batch - <<-EOT || return 1
		link set lo up
		link set eth0 up
		addr add 192.0.2.2/24 dev eth0
		route add local 198.19.0.0/16 dev lo
	EOT
	listen 80 || return 1
}

# listen PORT: labnet count on PORT in brs (pid in $W/pid-PORT), waits until it counts.
listen() {
	rm -f "$W/count-$1"
	/usr/sbin/ip netns exec brs "$LABNET" count "$1" "$W/count-$1" </dev/null >/dev/null 2>&1 &
	echo "$!" >"$W/pid-$1"
	_n=0
	until [ -s "$W/count-$1" ]; do
		_n=$((_n + 1))
		[ "$_n" -lt 100 ] || {
			echo "$BENCH: the listener on port $1 did not start"
			return 1
		}
		sleep 0.05
	done
}
# unlisten PORT: the listener stopped (its port refuses connections from then on).
unlisten() {
	_p=$(cat "$W/pid-$1")
	kill "$_p"
	wait "$_p" 2>/dev/null
	rm -f "$W/pid-$1"
}
# accepted [PORT]: connections the listener of PORT (80) has accepted since it started.
accepted() { cat "$W/count-${1:-80}"; }

# procs: the daemon and its children (keepalived --dont-fork: parent and checker child).
procs() {
	echo "$PID"
	cat /proc/[0-9]*/stat 2>/dev/null | awk -v p="$PID" '$4 == p { print $1 }'
}
# cpu_ticks: utime + stime of the daemon's processes (clock ticks, 100 a second).
cpu_ticks() {
	for _p in $(procs); do cat "/proc/$_p/stat" 2>/dev/null; done | awk '{ t += $14 + $15 } END { print t + 0 }'
}
# hwm_kb: the sum of the processes' peak RSS (VmHWM); rss_kb: of their RSS now (VmRSS);
# hwm_max_kb: the largest one process's peak RSS (keepalived: its checker child).
hwm_kb() { status_kb VmHWM; }
hwm_max_kb() {
	for _p in $(procs); do cat "/proc/$_p/status" 2>/dev/null; done | awk '$1 == "VmHWM:" && $2 > m { m = $2 } END { print m + 0 }'
}
rss_kb() { status_kb VmRSS; }
status_kb() {
	for _p in $(procs); do cat "/proc/$_p/status" 2>/dev/null; done | awk -v k="$1:" '$1 == k { t += $2 } END { print t + 0 }'
}
