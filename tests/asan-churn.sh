#!/bin/bash
# The churn test (tests/functional/test_churn.py) against a build of spigate
# with AddressSanitizer (issue 4: "build and run this test once with
# AddressSanitizer").
#
# usage: tests/asan-churn.sh [BUILD_DIR]      (default build-asan; `make asan-churn`)
#
#   * configures BUILD_DIR with -Db_sanitize=address -Db_lundef=false (meson
#     wants b_lundef off with a sanitizer: the runtime's symbols are resolved
#     at load time) and builds it. DPDK's shared libraries are not
#     instrumented: ASan checks spigate's own code (its accesses to DPDK
#     memory included) and the malloc heap;
#   * runs the churn test with SPIGATE_BIN=BUILD_DIR/app/spigate. Any ASan
#     report makes the daemon exit non-zero and the test fail; the report is
#     in the run's spigate.stderr, which the failure message shows;
#   * leak detection stays on at exit; tests/asan-churn.supp (next to this
#     script) is where a proven DPDK-internal leak would be suppressed (none
#     is needed today: see the file); a leak of spigate's fails the run.
# Ends with "asan-churn: PASSED" or "asan-churn: FAILED".
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-build-asan}
[ $# -gt 0 ] && shift
case "$build" in /*) ;; *) build="$root/$build" ;; esac

if [ ! -f "$build/build.ninja" ]; then
	meson setup "$build" "$root" -Db_sanitize=address -Db_lundef=false \
		-Dbuildtype=debugoptimized || exit 1
fi
ninja -C "$build" app/spigate app/spigatectl || exit 1

# halt_on_error: the first error ends the daemon (exit 23, report in stderr);
# detect_leaks at exit; abort_on_error=0: no core file.
export ASAN_OPTIONS="halt_on_error=1:abort_on_error=0:exitcode=23:detect_leaks=1:detect_odr_violation=0:print_suppressions=0:${ASAN_OPTIONS:-}"
export LSAN_OPTIONS="suppressions=$root/tests/asan-churn.supp:print_suppressions=0:${LSAN_OPTIONS:-}"
export SPIGATE_BIN="$build/app/spigate"

cd "$root" || exit 1
/usr/bin/python3 -m pytest -q -p no:cacheprovider -s tests/functional/test_churn.py "$@"
rc=$?
if [ "$rc" -eq 0 ]; then
	echo "asan-churn: PASSED ($SPIGATE_BIN)"
else
	echo "asan-churn: FAILED ($SPIGATE_BIN)"
fi
exit "$rc"
