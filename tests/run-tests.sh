#!/bin/bash
# Run spigate's tests: cmocka unit suites, then the functional suite (pytest,
# the real binary on virtual ports). Ends with one line "N passed, N failed".
# usage: tests/run-tests.sh BUILD_DIR [unit|functional|all]
set -u
build=${1:-build}
what=${2:-all}
root=$(cd "$(dirname "$0")/.." && pwd)
py=/usr/bin/python3
passed=0
failed=0
log=$(mktemp -d)
trap 'rm -rf "$log"' EXIT

if [ "$what" = unit ] || [ "$what" = all ]; then
	for t in "$build"/tests/unit/test_*; do
		[ -x "$t" ] && [ -f "$t" ] || continue
		name=$(basename "$t")
		echo "=== unit: $name"
		CMOCKA_MESSAGE_OUTPUT=stdout "$t" >"$log/$name" 2>&1
		rc=$?
		tail -n 30 "$log/$name" | grep -E '^\[  (PASSED|FAILED) |^\[  ERROR|^\[ *FAILED|^\[==========\]' || true
		p=$(grep -oE '\[  PASSED  \] [0-9]+' "$log/$name" | grep -oE '[0-9]+$' | tail -1)
		f=$(grep -oE '\[  FAILED  \] [0-9]+ test' "$log/$name" | grep -oE '[0-9]+' | tail -1)
		p=${p:-0}; f=${f:-0}
		if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
			# crashed or failed outside a test case
			f=1
			echo "$name exited with status $rc:"; tail -n 20 "$log/$name"
		elif [ "$f" -ne 0 ]; then
			grep -E 'FAILED|ERROR|failure' "$log/$name" | head -n 20
		fi
		passed=$((passed + p)); failed=$((failed + f))
	done
fi

if [ "$what" = functional ] || [ "$what" = all ]; then
	echo "=== functional (pytest)"
	export SPIGATE_BIN="$root/$build/app/spigate"
	[ -x "$SPIGATE_BIN" ] || SPIGATE_BIN="$build/app/spigate"
	(cd "$root" && $py -m pytest -q -p no:cacheprovider tests/functional 2>&1) | tee "$log/pytest"
	sum=$(grep -E '^(=+ )?[0-9]+ (passed|failed)|^=+ .*(passed|failed|error)' "$log/pytest" | tail -1)
	p=$(echo "$sum" | grep -oE '[0-9]+ passed' | grep -oE '[0-9]+')
	f=$(echo "$sum" | grep -oE '[0-9]+ failed' | grep -oE '[0-9]+')
	e=$(echo "$sum" | grep -oE '[0-9]+ error' | grep -oE '[0-9]+')
	p=${p:-0}; f=${f:-0}; e=${e:-0}
	if [ "$p" -eq 0 ] && [ "$f" -eq 0 ] && [ "$e" -eq 0 ]; then
		echo "functional suite ran no test"; f=1
	fi
	passed=$((passed + p)); failed=$((failed + f + e))
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
