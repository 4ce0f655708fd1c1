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
fwd_topo_nat() {
	fwd_ns cl
	fwd_ns dir
	fwd_ns rs1
	fwd_ns rs2
	fwd_run ip link add eth0 netns cl type veth peer name dcl netns dir
	fwd_run ip -n cl addr add 198.51.100.10/24 dev eth0
	fwd_run ip -n cl link set eth0 up
	fwd_run ip -n cl route add default via 198.51.100.1
	fwd_run ip -n dir addr add 198.51.100.1/24 dev dcl
	fwd_run ip -n dir addr add "$FWD_VIP/32" dev dcl
	fwd_run ip -n dir link set dcl up
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
fwd_topo_lan() {
	fwd_ns lan
	fwd_run ip -n lan link add br0 type bridge
	fwd_run ip -n lan link set br0 up
	for _n in cl:10 dir:1 rs1:11 rs2:12; do
		_ns=${_n%%:*}
		fwd_ns "$_ns"
		fwd_run ip link add eth0 netns "$_ns" type veth peer name "p-$_ns" netns lan
		fwd_run ip -n lan link set "p-$_ns" master br0
		fwd_run ip -n lan link set "p-$_ns" up
		fwd_run ip -n "$_ns" addr add "192.0.2.${_n#*:}/24" dev eth0
		fwd_run ip -n "$_ns" link set eth0 up
	done
	fwd_run ip -n dir addr add "$FWD_LAN_VIP/32" dev eth0
	for _ns in rs1 rs2; do
		fwd_run ip netns exec "$_ns" sysctl -qw net.ipv4.conf.all.arp_ignore=1
		fwd_run ip netns exec "$_ns" sysctl -qw net.ipv4.conf.all.arp_announce=2
	done
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
	FWD_HITS_none=0
	FWD_HITS_other=0
	for _s in rs1 rs2 rs3 rs4; do eval "FWD_HITS_$_s=0"; done
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
