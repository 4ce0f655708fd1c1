# Helpers for forwarding cases and the demo (busybox ash, sourced).
#
# A case builds network namespaces inside the guest, configures IPVS in the director
# namespace with $IPVSADM (ours by default), sends real TCP requests from a client namespace
# and checks which real server answered. No packet leaves the guest (qemu has no NIC).
#
#   . /lab/forwarding/lib/common.sh
#   fwd_topo_nat                       # cl, dir, rs1, rs2 (see below)
#   fwd_httpd rs1 80; fwd_httpd rs2 80
#   fwd_ipvsadm -A -t "$FWD_VIP:80" -s wrr
#   ...
#   fwd_count 8 "$FWD_VIP" 80          # sets FWD_HITS_rs1, FWD_HITS_rs2, FWD_HITS_none
#   fwd_expect "rs1 answers" 6 "$FWD_HITS_rs1"
#   fwd_finish                         # prints PASS/FAIL, exits 0/1

IPVSADM=${LAB_IPVSADM:-/ours/ipvsadm}
ORACLE=${LAB_ORACLE:-/oracle/ipvsadm}
# The lab's traffic tool (tests/lab/forwarding/tools/labnet.rs) and the crate's examples.
LABNET=/lab/bin/labnet
PATH=$PATH:/lab/bin
# busybox ash runs its own applets before searching PATH, and busybox's "ip" lacks netns,
# veth and much more: always use iproute2's.
ip() { /usr/sbin/ip "$@"; }
FWD_TMP=/tmp/fwd
FWD_FAILS=0
FWD_NAME=${FWD_NAME:-$(basename "$0" .sh)}
# Set FWD_VERBOSE=1 to echo every setup command (the demo does).
FWD_VERBOSE=${FWD_VERBOSE:-0}

# Run a command, echoing it first in verbose mode; a failing setup command fails the case.
fwd_run() {
	[ "$FWD_VERBOSE" = 1 ] && echo "# $*"
	if ! "$@"; then
		echo "fwd: command failed: $*"
		FWD_FAILS=$((FWD_FAILS + 1))
		return 1
	fi
}

# The ipvsadm under test, inside the director namespace. Always echoed.
fwd_ipvsadm() {
	echo "# ipvsadm $*"
	if ! ip netns exec dir "$IPVSADM" "$@"; then
		echo "fwd: ipvsadm $* failed"
		FWD_FAILS=$((FWD_FAILS + 1))
		return 1
	fi
}

fwd_ns() {
	fwd_run ip netns add "$1"
	fwd_run ip -n "$1" link set lo up
}

# Classic LVS-NAT:
#   cl  198.51.100.10/24 --- 198.51.100.1/24  dir  192.0.2.1/24 (bridge br0) --- rs1 192.0.2.11
#                                              (VIP 203.0.113.1)                 \-- rs2 192.0.2.12
# The client reaches the VIP over a segment the real servers do not share, and the real
# servers' default route is the director, so replies are de-NATed on the way back.
FWD_VIP=203.0.113.1
# More virtual addresses on the director (firewall-mark and hashing cases).
FWD_VIP2=203.0.113.2
FWD_VIP3=203.0.113.3
# The client's addresses: A (primary) and B share a /24, C is in another network.
FWD_CL_A=198.51.100.10
FWD_CL_B=198.51.100.20
FWD_CL_C=198.18.0.10
fwd_topo_nat() {
	fwd_ns cl
	fwd_ns dir
	fwd_ns rs1
	fwd_ns rs2
	fwd_run ip link add eth0 netns cl type veth peer name dcl netns dir
	fwd_run ip -n cl addr add 198.51.100.10/24 dev eth0
	fwd_run ip -n cl link set eth0 up
	fwd_run ip -n cl route add default via 198.51.100.1
	# Two more client addresses: one in the same /24, one in another network.
	fwd_run ip -n cl addr add "$FWD_CL_B/24" dev eth0
	fwd_run ip -n cl addr add "$FWD_CL_C/15" dev eth0
	fwd_run ip -n dir addr add 198.51.100.1/24 dev dcl
	fwd_run ip -n dir addr add "$FWD_VIP/32" dev dcl
	fwd_run ip -n dir addr add "$FWD_VIP2/32" dev dcl
	fwd_run ip -n dir addr add "$FWD_VIP3/32" dev dcl
	fwd_run ip -n dir link set dcl up
	fwd_run ip -n dir route add 198.18.0.0/15 via "$FWD_CL_A"
	fwd_run ip -n dir link add br0 type bridge
	fwd_run ip -n dir addr add 192.0.2.1/24 dev br0
	fwd_run ip -n dir link set br0 up
	for _i in 1 2; do
		fwd_run ip link add eth0 netns "rs$_i" type veth peer name "drs$_i" netns dir
		fwd_run ip -n dir link set "drs$_i" master br0
		fwd_run ip -n dir link set "drs$_i" up
		fwd_run ip -n "rs$_i" addr add "192.0.2.1$_i/24" dev eth0
		fwd_run ip -n "rs$_i" link set eth0 up
		fwd_run ip -n "rs$_i" route add default via 192.0.2.1
	done
	fwd_run ip netns exec dir sysctl -qw net.ipv4.ip_forward=1
}

# One LAN (a bridge in namespace "lan"), for direct routing and tunnelling:
#   cl 192.0.2.10, dir 192.0.2.1 (VIP 192.0.2.100), rs1 192.0.2.11, rs2 192.0.2.12
# Real servers answer the client directly (source VIP); they must not answer ARP for the
# VIP (arp_ignore=1, arp_announce=2) and must not route back through the director.
FWD_LAN_VIP=192.0.2.100
# Arguments: the members as NAME:HOST (default cl:10 dir:1 rs1:11 rs2:12); each gets
# 192.0.2.HOST/24 and, with FWD_LAN6=1, 2001:db8::HOST/64.
fwd_topo_lan() {
	[ $# = 0 ] && set -- cl:10 dir:1 rs1:11 rs2:12
	fwd_ns lan
	fwd_run ip -n lan link add br0 type bridge
	fwd_run ip -n lan link set br0 up
	for _n in "$@"; do
		_ns=${_n%%:*}
		fwd_ns "$_ns"
		fwd_run ip link add eth0 netns "$_ns" type veth peer name "p-$_ns" netns lan
		fwd_run ip -n lan link set "p-$_ns" master br0
		fwd_run ip -n lan link set "p-$_ns" up
		fwd_run ip -n "$_ns" addr add "192.0.2.${_n#*:}/24" dev eth0
		[ "${FWD_LAN6:-0}" = 1 ] && fwd_run ip -n "$_ns" addr add "2001:db8::${_n#*:}/64" dev eth0 nodad
		fwd_run ip -n "$_ns" link set eth0 up
	done
	fwd_run ip -n dir addr add "$FWD_LAN_VIP/32" dev eth0
	for _ns in $(for _n in "$@"; do echo "${_n%%:*}"; done | grep '^rs'); do
		fwd_run ip netns exec "$_ns" sysctl -qw net.ipv4.conf.all.arp_ignore=1
		fwd_run ip netns exec "$_ns" sysctl -qw net.ipv4.conf.all.arp_announce=2
	done
}

# IPv6 on top of fwd_topo_nat: client 2001:db8:100::10/64 -- 2001:db8:100::1 director
# (VIP6 2001:db8:113::1), real servers 2001:db8:2::11 and ::12 behind br0 (2001:db8:2::1).
FWD_VIP6=2001:db8:113::1
fwd_topo_nat6() {
	fwd_run ip -n cl addr add 2001:db8:100::10/64 dev eth0 nodad
	fwd_run ip -n cl -6 route add default via 2001:db8:100::1
	fwd_run ip -n dir addr add 2001:db8:100::1/64 dev dcl nodad
	fwd_run ip -n dir addr add "$FWD_VIP6/128" dev dcl nodad
	fwd_run ip -n dir addr add 2001:db8:2::1/64 dev br0 nodad
	for _i in 1 2; do
		fwd_run ip -n "rs$_i" addr add "2001:db8:2::1$_i/64" dev eth0 nodad
		fwd_run ip -n "rs$_i" -6 route add default via 2001:db8:2::1
	done
	fwd_run ip netns exec dir sysctl -qw net.ipv6.conf.all.forwarding=1
}

# busybox httpd in namespace $1 on port $2, serving one line: the namespace's name.
fwd_httpd() {
	_d=$FWD_TMP/www-$1-$2
	mkdir -p "$_d"
	echo "$1" >"$_d/index.html"
	ip netns exec "$1" busybox httpd -f -p "$2" -h "$_d" </dev/null >/dev/null 2>&1 &
	# Wait until it accepts connections (from inside its own namespace).
	_n=0
	while [ $_n -lt 50 ]; do
		if printf 'GET / HTTP/1.0\r\n\r\n' | ip netns exec "$1" nc -w 1 127.0.0.1 "$2" 2>/dev/null | grep -q "^$1\$"; then
			return 0
		fi
		_n=$((_n + 1))
		sleep 0.1
	done
	echo "fwd: httpd in $1 on port $2 did not come up"
	FWD_FAILS=$((FWD_FAILS + 1))
	return 1
}

# One HTTP request from the client namespace; prints the answering server's name (the
# body's last line), "none" without an answer, "other" for anything unexpected.
fwd_get() {
	_b=$(printf 'GET / HTTP/1.0\r\n\r\n' | ip netns exec "${FWD_CLIENT:-cl}" nc -w 3 "$1" "$2" 2>/dev/null |
		tr -d '\r' | tail -n 1)
	case $_b in
	'') echo none ;;
	*[!A-Za-z0-9_]*) echo other ;;
	*) echo "$_b" ;;
	esac
}

# $1 requests to $2:$3; sets FWD_HITS_<server> and FWD_SEQ (the answer sequence).
fwd_count() {
	FWD_SEQ=
	fwd_tally
	_i=0
	while [ $_i -lt "$1" ]; do
		_i=$((_i + 1))
		_who=$(fwd_get "$2" "$3")
		FWD_SEQ="$FWD_SEQ $_who"
		eval "FWD_HITS_$_who=\$((\${FWD_HITS_$_who:-0} + 1))"
		[ "$FWD_VERBOSE" = 1 ] && echo "request $_i -> $_who"
	done
	return 0
}

# FWD_HITS_<name> from the words of FWD_SEQ.
fwd_tally() {
	FWD_HITS_none=0
	FWD_HITS_other=0
	for _s in rs1 rs2 rs3 rs4; do eval "FWD_HITS_$_s=0"; done
	for _who in $FWD_SEQ; do
		case $_who in *[!A-Za-z0-9_]*) _who=other ;; esac
		eval "FWD_HITS_$_who=\$((\${FWD_HITS_$_who:-0} + 1))"
	done
}

# labnet server in namespace $1, answering with the namespace's name, on each SPEC
# (tcp:PORT, udp:PORT, or PROTO:PORT@ADDR to bind one address); waits until every port
# answers from inside the namespace.
fwd_serve() {
	_ns=$1
	shift
	ip netns exec "$_ns" "$LABNET" serve "$_ns" "$@" </dev/null >/dev/null 2>&1 &
	for _spec in "$@"; do
		_n=0
		_port=${_spec#*:}
		_addr=127.0.0.1
		case $_port in *@*) _addr=${_port#*@} _port=${_port%@*} ;; esac
		while [ "$(ip netns exec "$_ns" "$LABNET" ask -w 200 "${_spec%%:*}" "$_addr" "$_port")" != "$_ns" ]; do
			_n=$((_n + 1))
			if [ $_n -ge 50 ]; then
				echo "fwd: labnet in $_ns did not answer on $_spec"
				FWD_FAILS=$((FWD_FAILS + 1))
				return 1
			fi
			sleep 0.1
		done
	done
}

# labnet ask from the client namespace (FWD_CLIENT, default cl): "$@" are labnet's
# arguments ([-n N] [-s SRC] [-p SPORT] [-w MS] [-d DATA] tcp|udp HOST PORT). Sets FWD_SEQ
# (" name name ...") and FWD_HITS_<name>.
fwd_ask() {
	FWD_SEQ=" $(ip netns exec "${FWD_CLIENT:-cl}" "$LABNET" ask "$@" | tr '\n' ' ')"
	FWD_SEQ=${FWD_SEQ% }
	fwd_tally
}

# fwd_hold TAG [labnet hold options] HOST PORT: opens TCP connections from the client
# namespace and keeps them open (in the background) until fwd_release TAG. Returns once
# they are all established; sets FWD_SEQ and FWD_HITS_<name> like fwd_ask.
fwd_hold() {
	_tag=$1
	shift
	_out=$FWD_TMP/hold-$_tag
	ip netns exec "${FWD_CLIENT:-cl}" "$LABNET" hold -t 120 "$@" </dev/null >"$_out" 2>&1 &
	_n=0
	until grep -q '^held ' "$_out" 2>/dev/null; do
		_n=$((_n + 1))
		if [ $_n -ge 200 ]; then
			echo "fwd: labnet hold $* did not finish"
			FWD_FAILS=$((FWD_FAILS + 1))
			break
		fi
		sleep 0.05
	done
	eval "FWD_HOLD_$_tag=$(sed -n 's/^held //p' "$_out")"
	FWD_SEQ=" $(grep -v '^held ' "$_out" | tr '\n' ' ')"
	FWD_SEQ=${FWD_SEQ% }
	fwd_tally
}

# Closes the connections of fwd_hold TAG (the client closes first) and gives the FIN
# exchange a moment, so the director counts them as inactive.
fwd_release() {
	eval "_pid=\${FWD_HOLD_$1:-}"
	[ -n "$_pid" ] && kill "$_pid" 2>/dev/null && wait "$_pid" 2>/dev/null
	sleep 0.3
}

# A long-lived, interactive busybox nc connection from the client namespace to $1:$2:
# lines written with fwd_session_send go to the server; what it answers accumulates in
# $FWD_TMP/session.out. One session per case (file descriptor 7).
fwd_session_open() {
	rm -f "$FWD_TMP/session.in" "$FWD_TMP/session.out"
	mkfifo "$FWD_TMP/session.in"
	# /usr/sbin/ip itself (not the ip() function), so that $! is nc's process id.
	/usr/sbin/ip netns exec "${FWD_CLIENT:-cl}" nc "$1" "$2" <"$FWD_TMP/session.in" >"$FWD_TMP/session.out" 2>&1 &
	FWD_SESSION_PID=$!
	exec 7>"$FWD_TMP/session.in"
}
fwd_session_send() {
	echo "$1" >&7
}
# Line $1 of the session's output, waiting up to 3 s for it ("" if it never came).
fwd_session_line() {
	_n=0
	while [ "$(wc -l <"$FWD_TMP/session.out")" -lt "$1" ] && [ $_n -lt 60 ]; do
		_n=$((_n + 1))
		sleep 0.05
	done
	sed -n "${1}p" "$FWD_TMP/session.out"
}
fwd_session_close() {
	exec 7>&-
	[ -n "${FWD_SESSION_PID:-}" ] && kill "$FWD_SESSION_PID" 2>/dev/null
	FWD_SESSION_PID=
}

# Firewall marks with nftables in the director: fwd_nft_mark MARK PROTO PORT VIP...
# marks PROTO packets to VIP:PORT with MARK in prerouting (before IPVS sees them).
fwd_nft_mark() {
	_mark=$1 _proto=$2 _port=$3
	shift 3
	_set=$(echo "$*" | sed 's/ /, /g')
	fwd_run ip netns exec dir nft -f - <<-EOF
		table ip lab {
			chain pre {
				type filter hook prerouting priority mangle; policy accept;
				ip daddr { $_set } $_proto dport $_port counter meta mark set $_mark
			}
		}
	EOF
}

# The real servers in kernel order (newest first): "NAME NAME ...", from ipvsadm -Ln
# --nosort of service "$@" (e.g. -t 203.0.113.1:80); names from the 192.0.2.1N addresses.
fwd_kernel_order() {
	ip netns exec dir "$IPVSADM" -Ln --nosort "$@" |
		sed -n 's/^  -> 192\.0\.2\.1\([0-9]\):.*/rs\1/p' | tr '\n' ' ' | sed 's/ $//'
}

# fwd_check_grep WHAT REGEX COMMAND...: ok when a line of COMMAND's output matches REGEX
# (grep -E).
fwd_check_grep() {
	_what=$1
	_re=$2
	shift 2
	if "$@" 2>&1 | grep -qE -- "$_re"; then
		echo "ok: $_what"
	else
		echo "not ok: $_what"
		FWD_FAILS=$((FWD_FAILS + 1))
	fi
}

# An IPv4 address as a number.
fwd_ip2int() {
	local IFS=.
	set -- $1
	echo $(((($1 * 256 + $2) * 256 + $3) * 256 + $4))
}

# The kernel's hash_32(V, 8): the top 8 bits of V * 0x61C88647 (mod 2^32).
fwd_hash32_8() {
	echo $(((($1 * 1640531527) % 4294967296) >> 24))
}

# fwd_check WHAT COMMAND...: ok when COMMAND succeeds.
fwd_check() {
	_what=$1
	shift
	if "$@"; then
		echo "ok: $_what"
	else
		echo "not ok: $_what"
		FWD_FAILS=$((FWD_FAILS + 1))
	fi
}

fwd_expect() {
	# $1 what, $2 expected, $3 actual
	if [ "$2" = "$3" ]; then
		echo "ok: $1: $3"
	else
		echo "not ok: $1: expected $2, got $3"
		FWD_FAILS=$((FWD_FAILS + 1))
	fi
}

# Kill everything running in the lab namespaces and delete them.
fwd_cleanup() {
	exec 7>&-
	for _ns in $(ip netns list 2>/dev/null | awk '{print $1}'); do
		_p=$(ip netns pids "$_ns" 2>/dev/null)
		[ -n "$_p" ] && kill $_p 2>/dev/null
		ip netns del "$_ns" 2>/dev/null
	done
	rm -rf "$FWD_TMP"
}

fwd_finish() {
	if [ "$FWD_FAILS" = 0 ]; then
		echo "PASS $FWD_NAME"
		exit 0
	fi
	echo "FAIL $FWD_NAME ($FWD_FAILS problems)"
	exit 1
}

mkdir -p "$FWD_TMP"
