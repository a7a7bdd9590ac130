#!/usr/bin/python3
"""Generate the demo traffic for `make run` (see config/demo/README.md).

    scripts/gen-demo.py [--conf config/demo/gateway.conf]
                        [--out config/demo/traffic.pcap]
                        [--manifest config/demo/out/expected.json] [--seed N]
    scripts/gen-demo.py --summary config/demo/out/stats.json
                        [--manifest config/demo/out/expected.json]

The first form reads the deployment and its policy database (the SA keys),
builds the peers' ESP traffic with scapy and writes the capture that
net_pcap0 replays into wan0, plus a manifest of the counters the gateway
must end with. The second form prints the run's summary from the
--stats-out file and compares it with the manifest (exit 1 on a mismatch).

Run with /usr/bin/python3 (Debian's scapy and PyYAML).
"""

import argparse
import json
import os
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "functional"))

from sgtest import demo  # noqa: E402
from sgtest.gateway import write_pcap  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--conf", default=os.path.join(ROOT, "config/demo/gateway.conf"))
    ap.add_argument("--out", default=os.path.join(ROOT, "config/demo/traffic.pcap"))
    ap.add_argument("--manifest", default=os.path.join(ROOT, "config/demo/out/expected.json"))
    ap.add_argument("--seed", type=int, default=2024)
    ap.add_argument("--summary", metavar="STATS_JSON",
                    help="print the summary of a finished run instead")
    a = ap.parse_args()

    if a.summary:
        with open(a.summary) as f:
            stats = json.load(f)
        manifest = None
        if a.manifest and os.path.exists(a.manifest):
            with open(a.manifest) as f:
                manifest = json.load(f)
        text, ok = demo.summary(stats, manifest)
        print(text)
        return 0 if ok else 1

    frames, expected, manifest = demo.build(a.conf, seed=a.seed)
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    write_pcap(a.out, frames)
    if a.manifest:
        os.makedirs(os.path.dirname(os.path.abspath(a.manifest)), exist_ok=True)
        with open(a.manifest, "w") as f:
            json.dump(manifest, f, indent=2)
    print("gen-demo: %d frames from %d peers -> %s"
          % (len(frames), len(manifest["peers"]), os.path.relpath(a.out)))
    for p in manifest["peers"]:
        print("  SA %-6s %-28s %4d packets  %s" % (p["spi"], p["algorithm"], p["packets"],
                                                  p["name"]))
    e = manifest["expected"]
    print("  plus %s" % ", ".join("%d x %s" % (n, r) for r, n in sorted(e["drop"].items())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
