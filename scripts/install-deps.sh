#!/bin/sh
# Install the Debian 12 packages spigate needs to build, run, test and bench.
# Idempotent: does nothing (and needs no network) when everything is present.
set -eu

PKGS="build-essential pkg-config meson ninja-build
libdpdk-dev dpdk dpdk-dev dpdk-doc
librte-crypto-ipsec-mb23 librte-crypto-null23 librte-net-pcap23
librte-net-ring23 librte-net-null23 librte-net-af-packet23 librte-mempool-ring23
libipsec-mb-dev libconfig-dev libyaml-dev libjansson-dev libcmocka-dev libpcap-dev
python3-scapy python3-cryptography python3-pytest python3-yaml gnuplot-nox
iproute2 procps"

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done

if [ -z "$missing" ]; then
	exit 0
fi

echo "install-deps: installing:$missing"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
# shellcheck disable=SC2086
$SUDO apt-get install -y -q --no-install-recommends $missing
