#!/bin/sh
# lvsd in the lab guest against the real kernel: checks, failure and return, drift repair,
# reload with a drained real server, restart without writes, bad reload.
# The keepalived comparison is the director suite's; this case checks what it cannot: a
# drain under a live connection on reload, and a restart that writes nothing.
#   tests/lab/run --scenario lvsd-smoke
. /lab/forwarding/lib/common.sh
trap fwd_cleanup EXIT
LVSD=/ours/lvsd
LOG=$FWD_TMP/lvsd.log
CONF=$FWD_TMP/k.conf

fwd_topo_nat
fwd_serve rs1 tcp:80
fwd_serve rs2 tcp:80
# ip is a shell function here: $! would be a subshell's pid, so each process writes its own.
health() {
	ip netns exec "$1" sh -c "echo \$\$ >$FWD_TMP/$1.pid; exec $LABNET serve $1 tcp:8080" </dev/null >/dev/null 2>&1 &
	_n=0
	while [ "$(ip netns exec "$1" "$LABNET" ask -w 200 tcp 127.0.0.1 8080)" != "$1" ] && [ $_n -lt 50 ]; do _n=$((_n + 1)); sleep 0.1; done
	eval "H_$1=\$(cat $FWD_TMP/$1.pid)"
}
health rs1
health rs2

conf() {
	{
		printf 'global_defs {\n    lvsd_drain_timeout 3\n    lvs_sync_daemon dcl id 5\n}\n'
		printf 'virtual_server %s 80 {\n    lb_algo rr\n    lb_kind NAT\n    protocol TCP\n' "$FWD_VIP"
		for a in "$@"; do
			printf '    real_server %s 80 {\n        weight 1\n        TCP_CHECK {\n            connect_port 8080\n            connect_timeout 1\n            retry 0\n            delay_loop 0.3\n            delay_before_retry 0.3\n            warmup 0\n        }\n    }\n' "$a"
		done
		printf '}\n'
	} >"$CONF"
}
start_lvsd() {
	rm -f "$FWD_TMP/lvsd.pid"
	ip netns exec dir sh -c "echo \$\$ >$FWD_TMP/lvsd.pid; exec $LVSD -f $CONF" 2>>"$LOG" &
	_n=0
	while [ ! -s "$FWD_TMP/lvsd.pid" ] && [ $_n -lt 50 ]; do _n=$((_n + 1)); sleep 0.1; done
	LVSD_PID=$(cat "$FWD_TMP/lvsd.pid")
}
# wait only works for the shell's children: poll until the process is gone.
wait_gone() {
	_n=0
	while kill -0 "$1" 2>/dev/null && [ $_n -lt 100 ]; do _n=$((_n + 1)); sleep 0.1; done
	! kill -0 "$1" 2>/dev/null
}
table() {
	ip netns exec dir "$IPVSADM" -Ln | awk '$1 == "->" && $2 ~ /^192/ { print $2, $4 }' | sort | tr '\n' ' '
}
wait_table() {
	_n=0
	while [ "$(table)" != "$1" ] && [ $_n -lt "${3:-100}" ]; do
		_n=$((_n + 1))
		sleep 0.1
	done
	fwd_expect "$2" "$1" "$(table)"
}
count() { grep -c "$1" "$LOG"; }
daemons() { ip netns exec dir "$IPVSADM" -L --daemon | tr '\n' ' '; }

conf 192.0.2.11 192.0.2.12
fwd_check "lvsd -t accepts the configuration" ip netns exec dir "$LVSD" -t -f "$CONF"
start_lvsd
wait_table "192.0.2.11:80 1 192.0.2.12:80 1 " "both real servers in"
fwd_ask -n 4 tcp "$FWD_VIP" 80
fwd_expect "rr over both" "2 2" "$FWD_HITS_rs1 $FWD_HITS_rs2"
fwd_expect "lvs_sync_daemon: master and backup sync daemons on dcl, sync id 5" 2 \
	"$(ip netns exec dir "$IPVSADM" -L --daemon | grep -c '^[a-z]* sync daemon (mcast=dcl, syncid=5,')"
DAEMONS=$(daemons)

kill $H_rs2
wait_table "192.0.2.11:80 1 " "rs2 removed when its check fails"
fwd_check "the log says why" grep -q "192.0.2.12:80 of tcp:$FWD_VIP:80 is down: TCP_CHECK (line [0-9]*): connection refused" "$LOG"
health rs2
wait_table "192.0.2.11:80 1 192.0.2.12:80 1 " "rs2 back"

ip netns exec dir "$IPVSADM" -d -t "$FWD_VIP:80" -r 192.0.2.11:80
ip netns exec dir "$IPVSADM" -e -t "$FWD_VIP:80" -r 192.0.2.12:80 -m -w 5
wait_table "192.0.2.11:80 1 192.0.2.12:80 1 " "drift made with ipvsadm repaired" 200

fwd_session_open "$FWD_VIP" 80
X=$(fwd_session_line 1)
[ "$X" = rs1 ] && Y=rs2 || Y=rs1
XA=192.0.2.1${X#rs}
YA=192.0.2.1${Y#rs}
conf "$YA"
kill -HUP $LVSD_PID
wait_table "$(printf '%s\n' "$XA:80 0" "$YA:80 1" | sort | tr '\n' ' ')" "reload: $X removed from the configuration is drained at weight 0"
fwd_session_send one
fwd_expect "the established connection to $X still answers" "$X one" "$(fwd_session_line 2)"
fwd_ask -n 3 tcp "$FWD_VIP" 80
fwd_expect "new connections go to $Y" 3 "$(eval echo \$FWD_HITS_$Y)"
fwd_session_close
wait_table "$YA:80 1 " "$X deleted at the drain's end" 100
fwd_check "drain start logged" grep -q "drain start: real server $XA:80" "$LOG"
fwd_check "drain end logged" grep -q "drain end: real server $XA:80" "$LOG"

kill -TERM $LVSD_PID
fwd_check "lvsd stops on SIGTERM" wait_gone $LVSD_PID
fwd_check "lvsd logged its stop" grep -q "lvsd: stopped" "$LOG"
fwd_expect "the table stays at stop" "$YA:80 1 " "$(table)"
writes=$(count "kernel: ")
start_lvsd
n=0
while [ "$(count 'started:')" -lt 2 ] && [ $n -lt 50 ]; do n=$((n + 1)); sleep 0.1; done
sleep 2
fwd_expect "a restart on a matching table writes nothing" "$writes" "$(count 'kernel: ')"
fwd_expect "the sync daemons ran on untouched" "$DAEMONS" "$(daemons)"

echo "virtual_server {" >"$CONF"
kill -HUP $LVSD_PID
n=0
while [ "$(count 'reload: refused')" -lt 1 ] && [ $n -lt 50 ]; do n=$((n + 1)); sleep 0.1; done
fwd_check "a bad reload is refused" grep -q "reload: refused, nothing changed" "$LOG"
fwd_check "lvsd still runs" kill -0 $LVSD_PID
fwd_expect "the table is unchanged" "$YA:80 1 " "$(table)"
kill -TERM $LVSD_PID
wait_gone $LVSD_PID
echo "---- lvsd log"
cat "$LOG"
fwd_finish
