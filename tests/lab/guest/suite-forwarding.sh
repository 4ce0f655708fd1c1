#!/bin/sh
# forwarding suite: every /lab/forwarding/*.sh case, each in a fresh set of network
# namespaces, IPVS configured with our ipvsadm. A case passes when it exits 0.
. /lab/lib.sh
. /lab/forwarding/lib/common.sh

lab_banner "forwarding suite (real traffic between namespaces, IPVS set by ours)"
t0=$(lab_now)
passed=0
failed=0
failed_names=

for case in /lab/forwarding/*.sh; do
	[ -f "$case" ] || continue
	name=${case##*/}
	name=${name%.sh}
	echo
	echo "---- forwarding: $name"
	lab_reset_state
	fwd_cleanup
	c0=$(lab_now)
	if LAB_IPVSADM=$LAB_OURS_DIR/ipvsadm FWD_NAME=$name timeout -k 10 "$LAB_CASE_TIMEOUT" sh "$case" </dev/null; then
		passed=$((passed + 1))
	else
		echo "FAIL $name (exit status $?)"
		failed=$((failed + 1))
		failed_names="$failed_names $name"
	fi
	echo "($name: $(lab_since "$c0") s)"
	fwd_cleanup
done

lab_reset_state
echo
[ -n "$failed_names" ] && echo "failed cases:$failed_names"
echo "forwarding: $passed passed, $failed failed"
lab_result forwarding "$passed" "$failed" "$(lab_since "$t0")"
