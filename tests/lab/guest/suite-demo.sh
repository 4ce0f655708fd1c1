#!/bin/sh
# demo: the classic LVS setup (one virtual IP, wrr 3:1, two real servers) configured by our
# ipvsadm in each forwarding method: NAT, direct routing and IP-in-IP tunnelling, narrated
# for a human watching the console. Each part counts as one test (the split must be 9/3).
# Part 4 runs the director daemon lvsd on the NAT setup: a real server fails, is taken
# out, returns, is drained by a reload, with lvsctl status and ipvsadm -Ln at each step.
. /lab/lib.sh
. /lab/forwarding/lib/common.sh

t0=$(lab_now)
FWD_NAME=demo
passed=0
failed=0
say() {
	echo
	echo ">>> $*"
}
# Ends a part: counts it, removes its namespaces and IPVS rules.
part_done() {
	if [ "$FWD_FAILS" = 0 ]; then
		passed=$((passed + 1))
		echo "demo $1: PASS"
	else
		failed=$((failed + 1))
		echo "demo $1: FAIL"
	fi
	FWD_FAILS=0
	fwd_cleanup
	mkdir -p "$FWD_TMP"
}
# The shared middle of every part: rules, 12 requests, the split, the counters.
show_traffic() { # VIP
	say "ipvsadm -Ln"
	ip netns exec dir "$IPVSADM" -Ln
	say "12 HTTP requests from the client to http://$1/ :"
	FWD_VERBOSE=1 fwd_count 12 "$1" 80
	say "Traffic split (weights 3:1): rs1=$FWD_HITS_rs1 rs2=$FWD_HITS_rs2 unanswered=$FWD_HITS_none"
	fwd_expect "rs1 answered" 9 "$FWD_HITS_rs1"
	fwd_expect "rs2 answered" 3 "$FWD_HITS_rs2"
}

# ---------------------------------------------------------------- NAT
lab_banner "demo 1/4: LVS-NAT, one virtual service, two real servers, weighted round robin"
lab_reset_state
fwd_cleanup
mkdir -p "$FWD_TMP"
say "Network namespaces: client 'cl' (198.51.100.10), director 'dir' (VIP $FWD_VIP),"
echo "    real servers 'rs1' (192.0.2.11) and 'rs2' (192.0.2.12), each running busybox httpd"
echo "    that answers with its own name. Real servers route back through the director (NAT)."
fwd_topo_nat
fwd_httpd rs1 80
fwd_httpd rs2 80

say "Configure IPVS in the director with our ipvsadm ($IPVSADM):"
fwd_ipvsadm -A -t "$FWD_VIP:80" -s wrr
fwd_ipvsadm -a -t "$FWD_VIP:80" -r 192.0.2.11:80 -m -w 3
fwd_ipvsadm -a -t "$FWD_VIP:80" -r 192.0.2.12:80 -m -w 1
show_traffic "$FWD_VIP"

say "ipvsadm -Ln --stats (the kernel refreshes these counters every 2 s, so wait a moment)"
sleep 2
ip netns exec dir "$IPVSADM" -Ln --stats

say "Change rs2's weight to 3 (ipvsadm -e) and send 12 more requests:"
fwd_ipvsadm -e -t "$FWD_VIP:80" -r 192.0.2.12:80 -m -w 3
fwd_count 12 "$FWD_VIP" 80
echo "answers:$FWD_SEQ"
say "Traffic split (weights 3:3): rs1=$FWD_HITS_rs1 rs2=$FWD_HITS_rs2 unanswered=$FWD_HITS_none"
fwd_expect "rs1 answered" 6 "$FWD_HITS_rs1"
fwd_expect "rs2 answered" 6 "$FWD_HITS_rs2"

say "ipvsadm -Lnc (connection table, first lines)"
ip netns exec dir "$IPVSADM" -Lnc | head -n 8
part_done NAT

# ---------------------------------------------------------------- DR
lab_banner "demo 2/4: LVS-DR (direct routing), same service, replies bypass the director"
lab_reset_state
say "One LAN: client 192.0.2.10, director 192.0.2.1 with the VIP $FWD_LAN_VIP, real"
echo "    servers 192.0.2.11 and .12. Each real server also has the VIP (on lo) but must not"
echo "    answer ARP for it; the director only rewrites the MAC address, the real server"
echo "    answers the client directly from the VIP."
fwd_topo_lan
for rs in rs1 rs2; do
	FWD_VERBOSE=1 fwd_run ip -n "$rs" addr add "$FWD_LAN_VIP/32" dev lo
	FWD_VERBOSE=1 fwd_run ip netns exec "$rs" sysctl -w net.ipv4.conf.all.arp_ignore=1 \
		net.ipv4.conf.all.arp_announce=2
	fwd_httpd "$rs" 80
done
say "Configure IPVS in the director with our ipvsadm (-g: gatewaying, i.e. direct routing):"
fwd_ipvsadm -A -t "$FWD_LAN_VIP:80" -s wrr
fwd_ipvsadm -a -t "$FWD_LAN_VIP:80" -r 192.0.2.11:80 -g -w 3
fwd_ipvsadm -a -t "$FWD_LAN_VIP:80" -r 192.0.2.12:80 -g -w 1
show_traffic "$FWD_LAN_VIP"
part_done DR

# ---------------------------------------------------------------- TUN
lab_banner "demo 3/4: LVS-TUN (IP-in-IP), same service, the director encapsulates"
lab_reset_state
say "Same LAN. The director wraps each packet in a new IPv4 header addressed to the real"
echo "    server, which unwraps it on tunl0 (where the VIP is) and answers the client"
echo "    directly. Reverse-path filtering must be off on the real servers."
modprobe ipip
fwd_topo_lan
for rs in rs1 rs2; do
	FWD_VERBOSE=1 fwd_run ip -n "$rs" addr add "$FWD_LAN_VIP/32" dev tunl0
	FWD_VERBOSE=1 fwd_run ip -n "$rs" link set tunl0 up
	for c in all default tunl0 eth0; do
		fwd_run ip netns exec "$rs" sysctl -qw "net.ipv4.conf.$c.rp_filter=0"
	done
	fwd_httpd "$rs" 80
done
say "Configure IPVS in the director with our ipvsadm (-i: ipip tunnelling):"
fwd_ipvsadm -A -t "$FWD_LAN_VIP:80" -s wrr
fwd_ipvsadm -a -t "$FWD_LAN_VIP:80" -r 192.0.2.11:80 -i -w 3
fwd_ipvsadm -a -t "$FWD_LAN_VIP:80" -r 192.0.2.12:80 -i -w 1
show_traffic "$FWD_LAN_VIP"
say "ipvsadm -Ln --tun-info"
ip netns exec dir "$IPVSADM" -Ln --tun-info
part_done TUN

# ---------------------------------------------------------------- lvsd
lab_banner "demo 4/4: the director daemon lvsd keeps the NAT service healthy"
lab_reset_state
fwd_cleanup
mkdir -p "$FWD_TMP"
LVSD=/ours/lvsd
LVSCTL=/ours/lvsctl
LOG=$FWD_TMP/lvsd.log
CONF=$FWD_TMP/keepalived.conf
say "The NAT topology of part 1; the real servers run the lab's TCP server (it answers"
echo "    with its name) on port 80. No ipvsadm this time: lvsd reads a keepalived.conf,"
echo "    checks the real servers (TCP_CHECK every 0.5 s) and writes the IPVS table."
fwd_topo_nat
fwd_serve rs1 tcp:80
fwd_serve rs2 tcp:80
# $1 weight of rs1, $2 weight of rs2 (absent: not in the configuration).
demo_conf() {
	{
		printf 'global_defs {\n    lvsd_drain_timeout 5\n}\n'
		printf 'virtual_server %s 80 {\n    lb_algo wrr\n    lb_kind NAT\n    protocol TCP\n' "$FWD_VIP"
		_i=0
		for _w in "$@"; do
			_i=$((_i + 1))
			[ "$_w" = - ] && continue
			printf '    real_server 192.0.2.1%s 80 {\n        weight %s\n        TCP_CHECK {\n            connect_timeout 1\n            retry 0\n            delay_loop 0.5\n            delay_before_retry 0.5\n            warmup 0\n        }\n    }\n' "$_i" "$_w"
		done
		printf '}\n'
	} >"$CONF"
}
logged=0
# Prints lvsctl status, ipvsadm -Ln and the log lines lvsd wrote since the last step.
demo_show() {
	say "lvsd's log since the last step:"
	_n=$(wc -l <"$LOG")
	sed -n "$((logged + 1)),${_n}p" "$LOG" | sed 's/^/    /'
	logged=$_n
	say "lvsctl status"
	ip netns exec dir "$LVSCTL" status
	say "ipvsadm -Ln"
	ip netns exec dir "$IPVSADM" -Ln
}
demo_table() {
	ip netns exec dir "$IPVSADM" -Ln | awk '$1 == "->" && $2 ~ /^192/ { print $2, $4 }' | sort | tr '\n' ' '
}
# Waits (at most 10 s) until the real servers and weights are $1; checks it as $2.
demo_wait() {
	_n=0
	while [ "$(demo_table)" != "$1" ] && [ $_n -lt 100 ]; do
		_n=$((_n + 1))
		sleep 0.1
	done
	fwd_expect "$2" "$1" "$(demo_table)"
}
demo_split() { # requests, expected rs1, expected rs2, what
	fwd_ask -n "$1" tcp "$FWD_VIP" 80
	say "$1 requests: rs1=$FWD_HITS_rs1 rs2=$FWD_HITS_rs2 unanswered=$FWD_HITS_none ($4)"
	fwd_expect "rs1 answered" "$2" "$FWD_HITS_rs1"
	fwd_expect "rs2 answered" "$3" "$FWD_HITS_rs2"
}
demo_conf 3 1
say "keepalived.conf:"
sed 's/^/    /' "$CONF"
say "lvsd -t (check the configuration, touch nothing):"
fwd_check "lvsd -t accepts it" ip netns exec dir "$LVSD" -t -f "$CONF"
say "Start lvsd in the director (under systemd: systemctl start lvsd):"
ip netns exec dir sh -c "echo \$\$ >$FWD_TMP/lvsd.pid; exec $LVSD -f $CONF" 2>>"$LOG" &
_n=0
while [ ! -s "$FWD_TMP/lvsd.pid" ] && [ $_n -lt 50 ]; do _n=$((_n + 1)); sleep 0.1; done
LVSD_PID=$(cat "$FWD_TMP/lvsd.pid")
demo_wait "192.0.2.11:80 3 192.0.2.12:80 1 " "both real servers in"
demo_show
demo_split 12 9 3 "weights 3:1"

say "rs2's server fails (killed):"
kill $(ip netns pids rs2)
demo_wait "192.0.2.11:80 3 " "lvsd took rs2 out"
demo_show
fwd_check "the log says why" grep -q "192.0.2.12:80 of tcp:$FWD_VIP:80 is down: TCP_CHECK (line [0-9]*): connection refused" "$LOG"
demo_split 12 12 0 "rs1 alone"

say "rs2's server returns:"
fwd_serve rs2 tcp:80
demo_wait "192.0.2.11:80 3 192.0.2.12:80 1 " "lvsd put rs2 back"
demo_show
demo_split 12 9 3 "weights 3:1 again"

say "Drain rs1: a client holds a connection to it; rs1 leaves the configuration and lvsd"
echo "    reloads (SIGHUP; systemctl reload lvsd): rs1 stays at weight 0 while connections"
echo "    remain (or lvsd_drain_timeout, 5 s, passes), new ones go to rs2."
# The next connection of wrr 3:1 may go to either: hold until one is on rs1.
held=
for _try in 1 2 3 4; do
	fwd_hold d$_try "$FWD_VIP" 80 >/dev/null
	if [ "$FWD_HITS_rs1" = 1 ]; then held=d$_try; break; fi
	fwd_release d$_try
done
fwd_expect "a connection held on rs1" d "${held%[0-9]}"
demo_conf - 1
kill -HUP "$LVSD_PID"
demo_wait "192.0.2.11:80 0 192.0.2.12:80 1 " "rs1 drained at weight 0"
demo_show
demo_split 4 0 4 "new connections to rs2 only"
[ -n "$held" ] && fwd_release "$held"
demo_wait "192.0.2.12:80 1 " "rs1 deleted at the drain's end"
demo_show
fwd_check "drain start logged" grep -q "drain start: real server 192.0.2.11:80" "$LOG"
fwd_check "drain end logged" grep -q "drain end: real server 192.0.2.11:80" "$LOG"

say "rs1 back in the configuration, reload:"
demo_conf 3 1
kill -HUP "$LVSD_PID"
demo_wait "192.0.2.11:80 3 192.0.2.12:80 1 " "rs1 back after the reload"
demo_show
say "Stop lvsd (SIGTERM; systemctl stop lvsd): the table stays, traffic goes on."
kill -TERM "$LVSD_PID"
_n=0
while kill -0 "$LVSD_PID" 2>/dev/null && [ $_n -lt 100 ]; do _n=$((_n + 1)); sleep 0.1; done
fwd_check "lvsd stopped" sh -c "! kill -0 $LVSD_PID 2>/dev/null"
demo_show
demo_split 4 3 1 "after the stop"
part_done lvsd

lab_reset_state
echo
echo "demo: $passed passed, $failed failed"
lab_result demo "$passed" "$failed" "$(lab_since "$t0")"
