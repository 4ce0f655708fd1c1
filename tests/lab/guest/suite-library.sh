#!/bin/sh
# library suite: every libtest binary in /tests, one at a time, single-threaded (the tests
# change the global IPVS state). Counts come from libtest's "test result:" lines.
. /lab/lib.sh

lab_banner "library suite"
t0=$(lab_now)
passed=0
failed=0
found=0

for t in /tests/*; do
	[ -x "$t" ] || continue
	found=1
	name=${t##*/}
	echo
	echo "---- library: $name"
	lab_reset_state
	log=/tmp/library-$name.log
	(
		cd /tmp || exit 1
		IPVS_LAB=1 IPVS_LAB_ORACLE=$LAB_ORACLE_DIR/ipvsadm RUST_BACKTRACE=1 \
			timeout -k 10 "$LAB_TEST_TIMEOUT" "$t" --test-threads=1 --color=never
		echo "$?" >"/tmp/library-$name.status"
	) 2>&1 | tee "$log"
	st=$(cat "/tmp/library-$name.status" 2>/dev/null || echo 255)
	# test result: ok. 5 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; ...
	counts=$(sed -n 's/^test result: [A-Za-z]*\. \([0-9]*\) passed; \([0-9]*\) failed;.*/\1 \2/p' "$log" |
		awk '{ p += $1; f += $2 } END { print p + 0, f + 0, NR }')
	set -- $counts
	p=$1
	f=$2
	if [ "$3" = 0 ]; then
		echo "@@LAB library: $name printed no 'test result:' line (exit status $st): counted as 1 failure"
		f=$((f + 1))
	elif [ "$st" != 0 ] && [ "$f" = 0 ]; then
		echo "@@LAB library: $name exited with status $st but reported no failure: counted as 1 failure"
		f=1
	fi
	passed=$((passed + p))
	failed=$((failed + f))
	$LAB_ORACLE_DIR/ipvsadm -C >/dev/null 2>&1 || true
done

if [ "$found" = 0 ]; then
	echo "@@LAB library: no test binaries in /tests: counted as 1 failure"
	failed=1
fi

lab_reset_state
echo
echo "library: $passed passed, $failed failed"
lab_result library "$passed" "$failed" "$(lab_since "$t0")"
