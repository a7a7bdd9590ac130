#!/bin/sh
# make bench [QUICK=1]: spigate side by side with DPDK's ipsec-secgw and the
# rig limit (issue 5). Method and results: docs/PERFORMANCE.md.
#
#   bench/run.sh [BUILD_DIR] [--quick] [bench.py options]
#
# Not part of `make test`; no timing assertion anywhere.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-build}
[ $# -gt 0 ] && shift
exec /usr/bin/python3 "$ROOT/bench/bench.py" --build "$BUILD" "$@"
