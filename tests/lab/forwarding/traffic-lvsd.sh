#!/bin/sh
# lvsd under client traffic (issue 12's proof), NAT, with the helpers of lib/traffic.sh:
#   restart  lvsd stopped and started again on the same file while a client loop runs:
#            0 failed requests, and no kernel write at the restart (no "kernel: " log line)
#   drift    a weight changed and a real server deleted with ipvsadm behind lvsd's back,
#            then SIGHUP: the configured table, written by the reload (its log line is
#            followed by the write of the 2 changes; no write in between)
#   reload   a file without X, the server of an open long-lived connection, while the
#            client loop runs: 0 failed requests, X at weight 0 on both services, requests
#            started after the reload all go to the other server, the long connection
#            exchanges 5 more lines once X is at weight 0 and completes (clean close), X is deleted
#            from both services once the drain ends (lvsd_drain_timeout 15: InActConn of
#            closed connections lingers in the kernel for 2 minutes, so at the deadline)
# Figures: @@TRAFFIC lines; traffic-keepalived.sh prints keepalived's beside them and
# tests/lab/traffic-report makes tests/lab/results/traffic.md of both.
#
# Not vacuous (checked in the lab, 2026-11-30, tests/lab/run --scenario traffic-lvsd with):
#   LAB_DIRECTOR_OURS=keepalived (keepalived in lvsd's place): 6 checks fail (16 of 51
#     requests failed at the restart, its writes not logged, the drift kept, X deleted at
#     once, the long connection "broken 63 timeout")
#   LAB_CMDLINE_EXTRA=lab.traffic_drain_timeout=0 (no drain): 4 fail (X deleted at once,
#     no drain logged, the long connection "broken 55 timeout")
#   LAB_CMDLINE_EXTRA=lab.traffic_flush=1 (lvs_flush: flush and re-add at start): 2 fail
#     (3 writes at the restart, 1 of 52 requests failed)
. /lab/forwarding/lib/common.sh
. /lab/forwarding/lib/traffic.sh
trap fwd_cleanup EXIT

# The director suite's validation switch: lab.director_ours=keepalived runs keepalived here.
case $(tr_param director_ours) in
keepalived*) D=keepalived ;;
*) D=lvsd ;;
esac
if [ $D = lvsd ]; then
	fwd_check "lvsd is shipped (/ours/lvsd)" [ -x /ours/lvsd ]
else
	echo "# validation: keepalived runs in lvsd's place (lab.director_ours=$(tr_param director_ours)): this case must fail"
	fwd_check "keepalived is in the guest" [ -x /oracle/keepalived ]
fi
[ "$FWD_FAILS" = 0 ] || fwd_finish

tr_setup
tr_run $D

fwd_expect "restart: failed requests (of $TR_RESTART_REQ)" 0 "$TR_RESTART_FAILED"
fwd_expect "restart: kernel writes at the restart" 0 "$TR_RESTART_WRITES"
fwd_expect "drift made with ipvsadm, then SIGHUP" repaired "$TR_DRIFT"
fwd_expect "drift: repaired by the reload's write (log)" reload "$TR_DRIFT_BY"
fwd_expect "reload: failed requests (of $TR_RELOAD_REQ)" 0 "$TR_RELOAD_FAILED"
fwd_expect "reload: $X drained at weight 0 (:80/:$TR_LONG_PORT)" 0/0 "$TR_X_WEIGHT"
fwd_check "reload: no request started after the reload went to $X (answers:$TR_ANSWERS)" \
	eval "! echo '$TR_ANSWERS' | grep -q ' $X:'"
fwd_expect "reload: the long connection to $X completes" "kept, exit 0" \
	"${TR_LONG%% *}, exit $TR_LONG_STATUS"
fwd_check "reload: the long connection exchanged at least $TR_AFTER_LINES lines after the reload ($TR_LONG_AFTER)" \
	[ "$TR_LONG_AFTER" -ge $TR_AFTER_LINES ]
fwd_check "reload: $X deleted from both services at the drain's end ($TR_X_GONE s)" [ "$TR_X_GONE" != never ]
if [ $D = lvsd ]; then
	fwd_expect "reload: drains started for $X (log)" 2 "$(grep -c "drain start: real server $XA:" "$TR_LOG")"
	fwd_expect "reload: drains ended for $X (log)" 2 "$(grep -c "drain end: real server $XA:" "$TR_LOG")"
fi
fwd_finish
