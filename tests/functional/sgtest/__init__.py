"""sgtest: the functional test and demo toolkit for spigate.

The toolkit describes a deployment in Python (ports, SAs, policies, routes,
neighbours), writes it out as the libconfig deployment file and the YAML
policy database of CONTRACT.md, builds ESP traffic with scapy's own IPsec
implementation (scapy.layers.ipsec), runs the real binary on net_pcap ports
and compares what came out with what must come out, byte for byte.

Modules:
  sa       SA descriptions: algorithms, keys, YAML, the scapy twin
  config   deployment description, writers (libconfig + YAML) and loaders
  libconf  a small libconfig reader (for the demo and the fake gateway)
  topo     the standard test topology and flow builders
  traffic  inner packets, ESP frames, negative cases
  expect   expected egress and the byte-for-byte comparator
  gateway  runs spigate on a deployment and collects output and counters
  control  the control socket: a client, SAs as sa-add objects, a running gateway
  fakegw   a Python stand-in for spigate used only to self-test this toolkit
  demo     the `make run` demo traffic
"""

import os as _os
import random as _random

# Seed of keys, IVs and traffic for a test session (SGTEST_SEED to replay).
SEED = int(_os.environ.get("SGTEST_SEED") or _random.SystemRandom().randrange(1 << 31))
