#!/bin/sh
# lvsd --metrics in the lab guest against the real kernel: after real NAT traffic, the
# endpoint scraped with an HTTP client (curl) gives, per service and per real
# server, the 64-bit counters `ipvsadm -Ln --stats --exact` shows on the same table, the
# connection counts and weights of `ipvsadm -Ln`, and the health lvsd acts on; then
# node_exporter's names with real-server series off.
#   tests/lab/run --scenario lvsd-metrics
. /lab/forwarding/lib/common.sh
trap fwd_cleanup EXIT
LVSD=/ours/lvsd
LOG=$FWD_TMP/lvsd.log
CONF=$FWD_TMP/k.conf
PORT=9100

fwd_topo_nat
fwd_serve rs1 tcp:80
fwd_serve rs2 tcp:80
health() {
	ip netns exec "$1" sh -c "echo \$\$ >$FWD_TMP/$1.pid; exec $LABNET serve $1 tcp:8080" </dev/null >/dev/null 2>&1 &
	_n=0
	while [ "$(ip netns exec "$1" "$LABNET" ask -w 200 tcp 127.0.0.1 8080)" != "$1" ] && [ $_n -lt 50 ]; do _n=$((_n + 1)); sleep 0.1; done
	eval "H_$1=\$(cat $FWD_TMP/$1.pid)"
}
health rs1
health rs2

{
	printf 'virtual_server %s 80 {\n    lb_algo rr\n    lb_kind NAT\n    protocol TCP\n' "$FWD_VIP"
	for a in 192.0.2.11 192.0.2.12; do
		printf '    real_server %s 80 {\n        weight 3\n        TCP_CHECK {\n            connect_port 8080\n            connect_timeout 1\n            retry 0\n            delay_loop 0.3\n            delay_before_retry 0.3\n            warmup 0\n        }\n    }\n' "$a"
	done
	printf '}\n'
} >"$CONF"

start_lvsd() {
	rm -f "$FWD_TMP/lvsd.pid"
	ip netns exec dir sh -c "echo \$\$ >$FWD_TMP/lvsd.pid; exec $LVSD -f $CONF --metrics 127.0.0.1:$PORT $*" 2>>"$LOG" &
	_n=0
	while [ ! -s "$FWD_TMP/lvsd.pid" ] && [ $_n -lt 50 ]; do _n=$((_n + 1)); sleep 0.1; done
	LVSD_PID=$(cat "$FWD_TMP/lvsd.pid")
}
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
	while [ "$(table)" != "$1" ] && [ $_n -lt 100 ]; do _n=$((_n + 1)); sleep 0.1; done
	fwd_expect "$2" "$1" "$(table)"
}
# scrape FILE: GET /metrics with curl inside the director's namespace (busybox wget
# crashes in the guest).
scrape() {
	rm -f "$1"
	ip netns exec dir curl -sSf -m 10 -o "$1" "http://127.0.0.1:$PORT/metrics"
}
wait_scrape() {
	_n=0
	until scrape "$1" && [ -s "$1" ]; do
		_n=$((_n + 1))
		[ $_n -ge 50 ] && return 1
		sleep 0.1
	done
}
# metric FILE NAME LABELS: the value of one series (LABELS exactly as printed).
metric() {
	if [ -n "$3" ]; then _s="$2{$3}"; else _s=$2; fi
	awk -v s="$_s" '$1 == s { print $2 }' "$1"
}

start_lvsd
wait_table "192.0.2.11:80 3 192.0.2.12:80 3 " "both real servers in"
fwd_check "the metrics listener answers (curl)" wait_scrape "$FWD_TMP/m0"

# Real traffic through the NAT service: short connections, and two held open.
fwd_ask -n 40 tcp "$FWD_VIP" 80
fwd_expect "rr over both" "20 20" "$FWD_HITS_rs1 $FWD_HITS_rs2"
fwd_hold held -n 2 "$FWD_VIP" 80
sleep 1

# The kernel folds its per-CPU counters into the totals it reports every 2 s (the rate
# estimator's tick): wait until two reads 2.5 s apart agree, then read the table with
# ipvsadm 1.31 just before and just after one scrape; a tick in between moves nothing
# once traffic has stopped, but retry (bounded) if the two reads differ anyway.
stats() { ip netns exec dir "$ORACLE" -Ln --stats --exact; }
_n=0
stats >"$FWD_TMP/s0"
while :; do
	sleep 2.5
	stats >"$FWD_TMP/s1"
	cmp -s "$FWD_TMP/s0" "$FWD_TMP/s1" && break
	mv "$FWD_TMP/s1" "$FWD_TMP/s0"
	_n=$((_n + 1))
	[ $_n -ge 10 ] && break
done
_n=0
while :; do
	stats >"$FWD_TMP/stats-before"
	ip netns exec dir "$ORACLE" -Ln --exact >"$FWD_TMP/conns"
	scrape "$FWD_TMP/m1"
	stats >"$FWD_TMP/stats-after"
	cmp -s "$FWD_TMP/stats-before" "$FWD_TMP/stats-after" && break
	_n=$((_n + 1))
	[ $_n -ge 5 ] && break
done
fwd_check "scrape after traffic" test -s "$FWD_TMP/m1"
fwd_check "the kernel counters did not move during the scrape" cmp -s "$FWD_TMP/stats-before" "$FWD_TMP/stats-after"

SVC="tcp:$FWD_VIP:80"
# Every counter of the service and of each real server, from ipvsadm's table.
awk -v svc="$SVC" '
	$1 == "TCP" { split("connections incoming_packets outgoing_packets incoming_bytes outgoing_bytes", n, " ")
		for (i = 1; i <= 5; i++) printf "lvsd_service_%s_total{service=\"%s\"} %s\n", n[i], svc, $(i + 2) }
	$1 == "->" && $2 ~ /^[0-9]/ { split("connections incoming_packets outgoing_packets incoming_bytes outgoing_bytes", n, " ")
		for (i = 1; i <= 5; i++) printf "lvsd_real_server_%s_total{service=\"%s\",real_server=\"%s\"} %s\n", n[i], svc, $2, $(i + 2) }
' "$FWD_TMP/stats-before" | sort >"$FWD_TMP/want-stats"
awk -v svc="$SVC" '
	$1 == "->" && $2 ~ /^[0-9]/ {
		printf "lvsd_real_server_weight{service=\"%s\",real_server=\"%s\"} %s\n", svc, $2, $4
		printf "lvsd_real_server_active_connections{service=\"%s\",real_server=\"%s\"} %s\n", svc, $2, $5
		printf "lvsd_real_server_inactive_connections{service=\"%s\",real_server=\"%s\"} %s\n", svc, $2, $6 }
' "$FWD_TMP/conns" | sort >"$FWD_TMP/want-conns"
fwd_expect "ipvsadm shows 1 service and 2 real servers with counters" "15 6" \
	"$(wc -l <"$FWD_TMP/want-stats" | tr -d ' ') $(wc -l <"$FWD_TMP/want-conns" | tr -d ' ')"
grep -E '^lvsd_(service|real_server)_[a-z_]*_total\{' "$FWD_TMP/m1" | sort >"$FWD_TMP/got-stats"
grep -E '^lvsd_real_server_(weight|active_connections|inactive_connections)\{' "$FWD_TMP/m1" | sort >"$FWD_TMP/got-conns"
fwd_check "counters per service and real server = ipvsadm -Ln --stats --exact" cmp "$FWD_TMP/want-stats" "$FWD_TMP/got-stats"
fwd_check "weights and connections per real server = ipvsadm -Ln" cmp "$FWD_TMP/want-conns" "$FWD_TMP/got-conns"
conns=$(metric "$FWD_TMP/m1" lvsd_service_connections_total "service=\"$SVC\"")
fwd_expect "the service counted the 42 connections" 42 "$conns"
act=$(metric "$FWD_TMP/m1" lvsd_service_active_connections "service=\"$SVC\"")
fwd_expect "the two held connections are active" 2 "$act"
fwd_expect "health: rs1 alive" 1 "$(metric "$FWD_TMP/m1" lvsd_real_server_state "virtual_server=\"$SVC\",real_server=\"192.0.2.11:80\",state=\"alive\"")"
fwd_expect "kernel dump ok" 1 "$(metric "$FWD_TMP/m1" lvsd_kernel_up "")"
fwd_release held

# A failing check: the state and the check failures show it.
kill $H_rs2
wait_table "192.0.2.11:80 3 " "rs2 removed when its check fails"
scrape "$FWD_TMP/m2"
fwd_expect "health: rs2 failed" 1 "$(metric "$FWD_TMP/m2" lvsd_real_server_state "virtual_server=\"$SVC\",real_server=\"192.0.2.12:80\",state=\"failed\"")"
fwd_check "TCP_CHECK failures counted" awk '$1 == "lvsd_check_failures_total{check=\"TCP_CHECK\"}" && $2 >= 1 { ok = 1 } END { exit !ok }' "$FWD_TMP/m2"
fwd_check "reconcile changes counted" awk '$1 == "lvsd_reconcile_changes_total{result=\"ok\"}" && $2 >= 4 { ok = 1 } END { exit !ok }' "$FWD_TMP/m2"
fwd_check "no real server series for rs2 once deleted" sh -c "! grep -q 'lvsd_real_server_weight{service=\"$SVC\",real_server=\"192.0.2.12:80\"}' $FWD_TMP/m2"
health rs2
wait_table "192.0.2.11:80 3 192.0.2.12:80 3 " "rs2 back"

# node_exporter's names, real-server series off: a restart on the same table.
kill -TERM $LVSD_PID
fwd_check "lvsd stops" wait_gone $LVSD_PID
start_lvsd --metrics-names node_exporter --metrics-real-servers off
fwd_check "the restarted listener answers" wait_scrape "$FWD_TMP/m3"
ip netns exec dir "$ORACLE" -Ln --stats --exact >"$FWD_TMP/stats3"
ip netns exec dir "$ORACLE" -Ln --exact >"$FWD_TMP/conns3"
want=$(awk '$1 == "TCP" { c += $3; o += $7 } END { print c, o }' "$FWD_TMP/stats3")
got="$(metric "$FWD_TMP/m3" node_ipvs_connections_total "") $(metric "$FWD_TMP/m3" node_ipvs_outgoing_bytes_total "")"
fwd_expect "node_ipvs_connections_total and _outgoing_bytes_total = ipvsadm's sums" "$want" "$got"
want=$(awk '$1 == "->" && $2 ~ /^[0-9]/ { w += $4; i += $6 } END { print w, i }' "$FWD_TMP/conns3")
labels="local_address=\"$FWD_VIP\",local_port=\"80\",proto=\"TCP\",local_mark=\"\""
got="$(metric "$FWD_TMP/m3" node_ipvs_backend_weight "$labels") $(metric "$FWD_TMP/m3" node_ipvs_backend_connections_inactive "$labels")"
fwd_expect "node_ipvs_backend_* summed per service without remote labels" "$want" "$got"
fwd_check "no per real server series" sh -c "! grep -q 'real_server=\|remote_address=' $FWD_TMP/m3"
kill -TERM $LVSD_PID
wait_gone $LVSD_PID
echo "---- scrape after traffic"
grep -v '^#' "$FWD_TMP/m1" | grep -E 'lvsd_(service|real_server)_' | head -40
echo "---- ipvsadm -Ln --stats --exact"
cat "$FWD_TMP/stats-before"
echo "---- lvsd log"
cat "$LOG"
fwd_finish
