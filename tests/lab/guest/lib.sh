# Shared helpers for the lab guest (busybox ash). Sourced by /init and the suites.
#
# Two serial ports:
#   ttyS0 (/dev/console) - human-readable log, streamed live to the host terminal.
#   ttyS1                - machine channel read by the host after the guest powers off:
#                          "RESULT <suite> <passed> <failed> <seconds>", "DONE <status>",
#                          "FILE-BEGIN <name>" + base64 lines + "FILE-END <name>".

LAB_CHAN=/dev/ttyS1
# busybox ash runs its own applets before searching PATH, and busybox's "ip" lacks netns,
# veth and much more: always use iproute2's.
ip() { /usr/sbin/ip "$@"; }
# Where the implementations under test live inside the guest.
LAB_ORACLE_DIR=/oracle
LAB_OURS_DIR=/ours
# Seconds one scenario command / one case / one test binary may take.
LAB_CMD_TIMEOUT=30
LAB_CASE_TIMEOUT=180
LAB_TEST_TIMEOUT=600

# Value of a "lab.NAME=value" parameter on the kernel command line (empty when absent).
lab_param() {
	for _w in $(cat /proc/cmdline); do
		case $_w in
		"lab.$1="*) printf '%s\n' "${_w#*=}" ;;
		esac
	done
}

# Seconds since boot (10 ms resolution; busybox date has no %N).
lab_now() {
	cut -d' ' -f1 /proc/uptime
}

# Seconds elapsed since START (a value of lab_now), one decimal.
lab_since() {
	awk -v a="$1" -v b="$(lab_now)" 'BEGIN { printf "%.1f", b - a }'
}

# One line on the machine channel. Closing the tty waits until it is drained.
lab_chan() {
	printf '%s\n' "$*" >"$LAB_CHAN"
}

# Send a file to the host over the machine channel (base64).
lab_send_file() {
	{
		printf 'FILE-BEGIN %s\n' "$1"
		base64 <"$2"
		printf 'FILE-END %s\n' "$1"
	} >"$LAB_CHAN"
}

# Report a suite's result on both channels.
lab_result() {
	# $1 suite, $2 passed, $3 failed, $4 seconds
	echo "@@LAB RESULT suite=$1 passed=$2 failed=$3 seconds=$4"
	lab_chan "RESULT $1 $2 $3 $4"
}

lab_banner() {
	echo
	echo "======================================================================"
	echo "== $*"
	echo "======================================================================"
}

# The dummy network of the root namespace: every test address is unicast and routable,
# otherwise the kernel rejects real servers with EINVAL.
lab_reset_net() {
	ip link del lab0 2>/dev/null
	ip -batch - <<-EOF
		link add lab0 type dummy
		link set lab0 up
		addr add 192.0.2.254/24 dev lab0
		addr add 198.51.100.254/24 dev lab0
		addr add 203.0.113.254/24 dev lab0
		addr add 198.18.0.254/15 dev lab0
		addr add 2001:db8::fe/32 dev lab0 nodad
		route add default dev lab0
		route add ::/0 dev lab0
	EOF
}

# Kernel IPVS state of the root namespace back to boot defaults (uses the oracle).
lab_reset_ipvs() {
	_o=$LAB_ORACLE_DIR/ipvsadm
	$_o --stop-daemon master >/dev/null 2>&1 || true
	$_o --stop-daemon backup >/dev/null 2>&1 || true
	$_o -C >/dev/null 2>&1 || echo "lab: warning: ipvsadm -C failed"
	$_o --set 900 120 300 >/dev/null 2>&1 || echo "lab: warning: ipvsadm --set failed"
}

lab_reset_state() {
	lab_reset_ipvs
	lab_reset_net
}

# Which implementation "ipvsadm" found via /usr/sbin means (upstream's wrapper scripts
# ipvsadm-save/-restore reset PATH and then run plain "ipvsadm").
lab_select_ipvsadm() {
	ln -sfn "$1/ipvsadm" /usr/sbin/ipvsadm
}
