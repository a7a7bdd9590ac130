#!/bin/sh
# The `make run` demo: generate the peers' traffic, replay it through
# spigate on net_pcap ports, print a summary. See config/demo/README.md.
#
#   scripts/run-demo.sh [BUILD_DIR]        (default: build)
#
# The EAL arguments in config/demo/gateway.conf name the captures relative
# to the current directory (config/demo/traffic.pcap,
# config/demo/out/decrypted.pcap), so this script runs everything from the
# repository root.
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-build}
case "$BUILD" in
	/*) ;;
	*) BUILD="$ROOT/$BUILD" ;;
esac
BIN="$BUILD/app/spigate"
PY=/usr/bin/python3
DEMO=config/demo
OUT=$DEMO/out

cd "$ROOT"

if [ ! -x "$BIN" ]; then
	echo "run-demo: $BIN not found; build first (make build)" >&2
	exit 1
fi

mkdir -p "$OUT"
rm -f "$OUT/stats.json" "$OUT/decrypted.pcap" "$OUT/expected.json"

echo "== generating the demo traffic"
"$PY" scripts/gen-demo.py --conf "$DEMO/gateway.conf" --out "$DEMO/traffic.pcap" \
	--manifest "$OUT/expected.json"

echo "== running spigate (stops 1 s after the last packet)"
echo "   $BIN -f $DEMO/gateway.conf --exit-idle 1000 --stats-out $OUT/stats.json --progress"
rc=0
"$BIN" -f "$DEMO/gateway.conf" --exit-idle 1000 --stats-out "$OUT/stats.json" --progress || rc=$?
if [ "$rc" -ne 0 ]; then
	echo "run-demo: spigate exited with status $rc" >&2
	exit "$rc"
fi
if [ ! -s "$OUT/stats.json" ]; then
	echo "run-demo: spigate wrote no $OUT/stats.json" >&2
	exit 1
fi

echo "== summary"
src=0
"$PY" scripts/gen-demo.py --summary "$OUT/stats.json" --manifest "$OUT/expected.json" || src=$?
echo
echo "decrypted traffic (as sent to the protected network): $ROOT/$OUT/decrypted.pcap"
echo "  e.g.  tcpdump -nr $OUT/decrypted.pcap | head"
echo "counters: $ROOT/$OUT/stats.json"
exit "$src"
