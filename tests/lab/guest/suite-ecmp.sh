#!/bin/sh
# ecmp suite (issue 15): three directors behind a router's multipath route, mh vs wrr, real
# flows (/lab/ecmp/ecmp.sh; see tests/lab/README.md, "ecmp"). One case; it passes when it
# exits 0. Not a default suite: it takes several minutes of guest time.
. /lab/lib.sh
. /lab/forwarding/lib/common.sh

lab_banner "ecmp suite (active-active directors behind ECMP: mh vs wrr)"
t0=$(lab_now)
passed=0
failed=0
lab_reset_state
fwd_cleanup
if LAB_IPVSADM=$LAB_OURS_DIR/ipvsadm FWD_NAME=ecmp timeout -k 10 "${ECMP_TIMEOUT:-900}" sh /lab/ecmp/ecmp.sh </dev/null; then
	passed=1
else
	echo "FAIL ecmp (exit status $?)"
	failed=1
fi
fwd_cleanup
lab_reset_state
echo "ecmp: $passed passed, $failed failed"
lab_result ecmp "$passed" "$failed" "$(lab_since "$t0")"
