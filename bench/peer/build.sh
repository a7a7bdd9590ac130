#!/bin/sh
# Build the benchmark peer: DPDK's ipsec-secgw example, from the sources
# Debian's dpdk-doc package installs, against the installed libdpdk
# (pkg-config), with one small patch (offload-mask.patch, next to this file).
#
#   bench/peer/build.sh [OUT_DIR]        (default: bench/build-peer)
#
# Prints the path of the binary on its last line. Nothing is fetched: the
# sources are copied from /usr/share/dpdk/examples/ipsec-secgw (and ../common)
# into OUT_DIR/src, patched there, built with the example's own Makefile.
# The build is skipped when the binary is newer than the patch and the
# example sources.
#
# The patch: DPDK 22.11's ipsec-secgw always requests the RX checksum
# offloads and exits on virtual ports, which offer none ("required RX
# offloads: 0xe, available RX offloads: 0x0"). The patch masks the requested
# RX offloads by what the device reports. The application never reads those
# flags (it checks IPv4 headers itself), so its data path is unchanged.
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
OUT=${1:-$ROOT/bench/build-peer}
EXAMPLES=/usr/share/dpdk/examples
SRC=$EXAMPLES/ipsec-secgw
PATCH=$HERE/offload-mask.patch
BIN=$OUT/src/ipsec-secgw/build/ipsec-secgw

if [ ! -f "$SRC/ipsec-secgw.c" ]; then
	echo "peer: $SRC missing: install dpdk-doc (scripts/install-deps.sh)" >&2
	exit 1
fi
if ! pkg-config --exists libdpdk; then
	echo "peer: pkg-config finds no libdpdk: install libdpdk-dev" >&2
	exit 1
fi

if [ -x "$BIN" ] && [ "$BIN" -nt "$PATCH" ] && [ "$BIN" -nt "$SRC/ipsec-secgw.c" ] \
	&& [ "$BIN" -nt "$0" ]; then
	echo "$BIN"
	exit 0
fi

echo "peer: building ipsec-secgw from $SRC (DPDK $(pkg-config --modversion libdpdk)) in $OUT" >&2
rm -rf "$OUT/src"
mkdir -p "$OUT/src"
cp -r "$SRC" "$OUT/src/ipsec-secgw"
# the Makefile adds -I../common
[ -d "$EXAMPLES/common" ] && cp -r "$EXAMPLES/common" "$OUT/src/common"
(cd "$OUT/src/ipsec-secgw" && patch -p1 -s < "$PATCH")
# -j2: two cores; the example is one compiler invocation anyway
make -s -C "$OUT/src/ipsec-secgw" -j2 >"$OUT/build.log" 2>&1 || {
	tail -30 "$OUT/build.log" >&2
	echo "peer: build failed, full log: $OUT/build.log" >&2
	exit 1
}
# the Makefile links build/ipsec-secgw -> ipsec-secgw-shared
[ -x "$BIN" ] || { echo "peer: $BIN not built" >&2; exit 1; }
echo "$BIN"
