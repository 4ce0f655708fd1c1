#!/bin/sh
# keepalived 2.2.7 (--check) through the same phases as traffic-lvsd.sh (lib/traffic.sh), for
# its figures beside lvsd's (@@TRAFFIC lines; tests/lab/traffic-report). Failed requests are
# printed, not asserted (how many fall into the gap depends on timing). Asserted is what
# keepalived 2.2.7 does by design, as earlier runs in this lab found it, so that the
# comparison's claims stay checked: it never reads the kernel back (the drift stays after a
# reload), and a reload deletes a removed real server at once (no weight 0), so that the
# long-lived connection to it stalls until the client's timeout.
. /lab/forwarding/lib/common.sh
. /lab/forwarding/lib/traffic.sh
trap fwd_cleanup EXIT

fwd_check "keepalived is in the guest (/oracle/keepalived)" [ -x /oracle/keepalived ]
[ "$FWD_FAILS" = 0 ] || fwd_finish

tr_setup
tr_run keepalived

echo "# keepalived restart: $TR_RESTART_FAILED of $TR_RESTART_REQ requests failed"
echo "# keepalived reload: $TR_RELOAD_FAILED of $TR_RELOAD_REQ requests failed"
fwd_expect "drift made with ipvsadm, then SIGHUP (keepalived never reads the kernel)" kept "$TR_DRIFT"
fwd_expect "reload: $X deleted at once (:80/:$TR_LONG_PORT)" gone/gone "$TR_X_WEIGHT"
fwd_expect "reload: the long connection to $X stalls until the client's timeout" "broken timeout" \
	"$(echo "$TR_LONG" | awk '{ print $1, $3 }')"
fwd_finish
