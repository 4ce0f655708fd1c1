#!/bin/sh
# NOT a director: a deliberately broken stand-in for validating the director suite
# (tests/lab/run with LAB_DIRECTOR_OURS=oneshot). It loads the first event's table once
# with ipvsadm -R, then ignores everything (health, SIGHUP) until SIGTERM, and leaves the
# table behind. The suite must report every scenario that has more than a start as failed.
# Arguments (-f CONF) are accepted and ignored; the table comes from $D_ONESHOT_TABLE.
trap '' HUP
trap 'exit 0' TERM
/oracle/ipvsadm -R <"$D_ONESHOT_TABLE"
while :; do
	sleep 1
done
