#!/bin/sh
# lvsd's control socket with lvsctl against the real kernel, NAT, rr over rs1 and rs2, under
# client traffic (issue 14):
#   - lvsctl drain of the server X a long-lived connection uses, while a client loop opens
#     new connections: no request fails, the long-lived connection goes on, new connections
#     go to the other server Y, X stays in the table at weight 0 (also after the load is over
#     and across a reload) until lvsctl enable; status says "draining: N conns left"
#   - lvsctl maintenance on/off: Y leaves ipvsadm -Ln and comes back; status says so
#   - refusals (unknown real server, bad weight) change nothing; the socket is mode 0600
#   tests/lab/run --scenario lvsd-control
. /lab/forwarding/lib/common.sh
trap fwd_cleanup EXIT
LVSD=/ours/lvsd
LOG=$FWD_TMP/lvsd.log
CONF=$FWD_TMP/k.conf
SOCK=$FWD_TMP/run/control.sock
SVC=tcp:$FWD_VIP:80

fwd_topo_nat
fwd_serve rs1 tcp:80
fwd_serve rs2 tcp:80
{
	printf 'virtual_server %s 80 {\n    lb_algo rr\n    lb_kind NAT\n    protocol TCP\n' "$FWD_VIP"
	for a in 192.0.2.11 192.0.2.12; do
		printf '    real_server %s 80 {\n        weight 1\n        TCP_CHECK {\n            connect_timeout 1\n            retry 0\n            delay_loop 1\n        }\n    }\n' "$a"
	done
	printf '}\n'
} >"$CONF"

lvsctl() { ip netns exec dir /ours/lvsctl --socket "$SOCK" "$@"; }
table() {
	ip netns exec dir "$IPVSADM" -Ln | awk '$1 == "->" && $2 ~ /^192/ { print $2, $4 }' | sort | tr '\n' ' '
}
wait_table() {
	_n=0
	while [ "$(table)" != "$1" ] && [ $_n -lt 100 ]; do
		_n=$((_n + 1))
		sleep 0.1
	done
	fwd_expect "$2" "$1" "$(table)"
}
# The status document on one line, spaces removed.
status_json() { lvsctl status --json 2>/dev/null | tr -d ' \n'; }

ip netns exec dir sh -c "echo \$\$ >$FWD_TMP/lvsd.pid; exec $LVSD -f $CONF --control $SOCK" 2>>"$LOG" &
n=0
while [ ! -S "$SOCK" ] && [ $n -lt 100 ]; do n=$((n + 1)); sleep 0.1; done
LVSD_PID=$(cat "$FWD_TMP/lvsd.pid")
wait_table "192.0.2.11:80 1 192.0.2.12:80 1 " "both real servers in"
fwd_expect "the control socket is a socket of mode 0600 owned by root" "srw------- root" \
	"$(ls -l "$SOCK" | awk '{ print $1, $3 }')"

# A long-lived connection (one exchange every 100 ms) and a loop of new connections.
rm -f "$FWD_TMP/stop"
ip netns exec cl "$LABNET" talk -n 100000 -i 100 -w 3000 -u "$FWD_TMP/stop" "$FWD_VIP" 80 >"$FWD_TMP/talk.out" 2>&1 &
talk_pid=$!
ip netns exec cl "$LABNET" ask -n 3000 -w 3000 -u "$FWD_TMP/stop" tcp "$FWD_VIP" 80 >"$FWD_TMP/load.out" 2>&1 &
load_pid=$!
n=0
while [ "$(wc -l <"$FWD_TMP/talk.out")" -lt 3 ] && [ $n -lt 100 ]; do n=$((n + 1)); sleep 0.1; done
n=0
while [ "$(wc -l <"$FWD_TMP/load.out")" -lt 10 ] && [ $n -lt 100 ]; do n=$((n + 1)); sleep 0.1; done
X=$(head -n 1 "$FWD_TMP/talk.out")
fwd_check "the long-lived connection is answered (by $X)" [ "$X" = rs1 -o "$X" = rs2 ]
[ "$X" = rs1 ] && Y=rs2 || Y=rs1
XA=192.0.2.1${X#rs}
YA=192.0.2.1${Y#rs}

fwd_check "lvsctl drain $SVC $XA:80" lvsctl drain "$SVC" "$XA:80"
at=$(wc -l <"$FWD_TMP/load.out")
fwd_expect "X at weight 0 at once" "$(printf '%s\n' "$XA:80 0" "$YA:80 1" | sort | tr '\n' ' ')" "$(table)"
# Let the load run on for a while after the drain.
n=0
while [ "$(wc -l <"$FWD_TMP/load.out")" -lt $((at + 40)) ] && [ $n -lt 200 ]; do n=$((n + 1)); sleep 0.1; done
echo "---- lvsctl status during the drain"
lvsctl status
fwd_check "status: X draining with its long-lived connection left" sh -c \
	"/usr/sbin/ip netns exec dir /ours/lvsctl --socket $SOCK status --json 2>/dev/null | tr -d ' \n' | grep -q '\"real_server\":\"$XA:80\",\"state\":\"draining\",\"text\":\"draining:[0-9]*connsleft\",\"weight\":0,\"active_conns\":[1-9]'"
fwd_check "status table: X draining N conns left" sh -c \
	"/usr/sbin/ip netns exec dir /ours/lvsctl --socket $SOCK status 2>/dev/null | grep -q '| $XA:80 *| draining: [0-9]* conns left *| 0 '"
touch "$FWD_TMP/stop"
wait $load_pid
wait $talk_pid
total=$(wc -l <"$FWD_TMP/load.out")
after=$(tail -n +$((at + 2)) "$FWD_TMP/load.out")
fwd_check "the load ran ($total requests, $((total - at)) after the drain)" [ $((total - at)) -ge 20 ]
fwd_expect "no request failed during the drain" 0 "$(grep -vc '^rs[12]$' "$FWD_TMP/load.out")"
fwd_expect "after the drain, new connections go to $Y only" "" "$(echo "$after" | grep -v "^$Y\$")"
fwd_check "the long-lived connection to $X was kept through the drain ($(tail -n 1 "$FWD_TMP/talk.out"))" \
	grep -q '^kept [1-9]' "$FWD_TMP/talk.out"
sleep 2
fwd_expect "X stays in the table at weight 0 (drained until enabled)" \
	"$(printf '%s\n' "$XA:80 0" "$YA:80 1" | sort | tr '\n' ' ')" "$(table)"
fwd_expect "ActiveConn of X once the load is over" 0 \
	"$(ip netns exec dir "$IPVSADM" -Ln | awk -v a="$XA:80" '$2 == a { print $5 }')"
fwd_expect "lvsctl reload" "reload: ok" "$(lvsctl reload)"
fwd_expect "the drain survives the reload" \
	"$(printf '%s\n' "$XA:80 0" "$YA:80 1" | sort | tr '\n' ' ')" "$(table)"
fwd_check "status --json: admin drained" sh -c \
	"/usr/sbin/ip netns exec dir /ours/lvsctl --socket $SOCK status --json 2>/dev/null | tr -d ' \n' | grep -q '\"real_server\":\"$XA:80\",\"state\":\"drain[a-z]*\",.*\"admin\":\"drained\"'"
fwd_check "lvsctl enable" lvsctl enable "$SVC" "$XA:80"
wait_table "192.0.2.11:80 1 192.0.2.12:80 1 " "enabled: X back at its weight"
fwd_ask -n 4 tcp "$FWD_VIP" 80
fwd_expect "rr over both again" "2 2" "$FWD_HITS_rs1 $FWD_HITS_rs2"

# Maintenance on/off.
fwd_check "lvsctl maintenance on" lvsctl maintenance "$SVC" "$YA:80" on
fwd_expect "maintenance: Y out of ipvsadm -Ln" "$XA:80 1 " "$(table)"
fwd_check "status: Y in maintenance" sh -c \
	"/usr/sbin/ip netns exec dir /ours/lvsctl --socket $SOCK status 2>/dev/null | grep -q '| $YA:80 *| maintenance *| - '"
fwd_ask -n 6 tcp "$FWD_VIP" 80
fwd_expect "every request to X, none failed" "6 0" "$(eval echo \$FWD_HITS_$X) $FWD_HITS_none"
fwd_check "lvsctl maintenance off" lvsctl maintenance "$SVC" "$YA:80" off
wait_table "192.0.2.11:80 1 192.0.2.12:80 1 " "maintenance off: Y back"
fwd_check "status: both alive" sh -c \
	"[ \$(/usr/sbin/ip netns exec dir /ours/lvsctl --socket $SOCK status 2>/dev/null | grep -c '| alive ') = 2 ]"

# Refusals change nothing.
lvsctl drain "$SVC" 192.0.2.99:80 2>"$FWD_TMP/refused.err"
fwd_expect "an unknown real server is refused (exit 1)" 1 $?
fwd_check "with a clear message" grep -q "unknown real server 192.0.2.99:80 of $SVC" "$FWD_TMP/refused.err"
lvsctl weight "$SVC" "$XA:80" 70000 2>/dev/null
fwd_expect "a bad weight is refused (exit 2)" 2 $?
fwd_expect "the table is unchanged" "192.0.2.11:80 1 192.0.2.12:80 1 " "$(table)"
fwd_expect "the log has a line per control action (drain, enable, maintenance on, off)" 4 \
	"$(grep -c 'lvsd: control: ' "$LOG")"

kill -TERM $LVSD_PID
n=0
while kill -0 $LVSD_PID 2>/dev/null && [ $n -lt 100 ]; do n=$((n + 1)); sleep 0.1; done
fwd_check "the socket is removed at stop" [ ! -e "$SOCK" ]
lvsctl status >/dev/null 2>"$FWD_TMP/nodaemon.err"
fwd_expect "without a daemon lvsctl status shows the kernel table (exit 0)" 0 $?
fwd_check "and says no daemon" grep -q "no daemon" "$FWD_TMP/nodaemon.err"
echo "---- lvsd log"
cat "$LOG"
fwd_finish
