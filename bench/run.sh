#!/bin/sh
# make bench: the side-by-side benchmark against ipsec-secgw (issue 5).
echo "make bench: the benchmark is not built yet (open issue: 'Benchmark side by side with ipsec-secgw')." >&2
echo "Meanwhile /spigate/lcores reports busy cycles per packet of a running gateway (docs/telemetry.md)." >&2
exit 1
