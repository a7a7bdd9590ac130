"""pytest configuration of the functional suite.

The suite runs the real spigate binary ($SPIGATE_BIN, default
<repo>/build/app/spigate). When the binary is missing, every test that needs
it FAILS with a message saying so: the suite never skips its way to green.
Only test_tooling.py (marker `tooling`) runs without the binary.

Run:  /usr/bin/python3 -m pytest -q tests/functional
      /usr/bin/python3 -m pytest -q tests/functional -m "not slow"
Env:  SPIGATE_BIN   path of the binary
      SGTEST_SEED   seed of keys/IVs/traffic (printed in the header)
Every run leaves its directory (gateway.conf, policy.yaml, in.pcap,
out.pcap, stats.json, spigate.stdout/stderr) under pytest's basetemp,
/tmp/pytest-of-$USER/pytest-N/ (the last 3 sessions are kept); failure
messages name it.
"""

import os
import random
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from sgtest import SEED, gateway  # noqa: E402

MARKERS = {
    "tooling": "self-test of the sgtest toolkit; needs no spigate binary",
    "matrix": "algorithm x mode x NAT-T matrix",
    "negative": "malformed/forbidden input: zero egress and one exact drop counter",
    "layout": "lcore layouts, crypto modes, lazy/eager install",
    "esn": "extended sequence numbers",
    "slow": "long runs (thousands of packets)",
    "demo": "the bundled demo deployment (config/demo)",
    "cli": "command line and configuration checks",
}


def pytest_configure(config):
    for name, text in MARKERS.items():
        config.addinivalue_line("markers", "%s: %s" % (name, text))


def pytest_report_header(config):
    b = gateway.binary()
    state = "present" if os.access(b, os.X_OK) else "MISSING"
    return ["spigate binary: %s (%s)" % (b, state), "sgtest seed: SGTEST_SEED=%d" % SEED]


@pytest.fixture(scope="session")
def spigate_bin():
    b = gateway.binary()
    if not (os.path.isfile(b) and os.access(b, os.X_OK)):
        pytest.fail("spigate binary not found or not executable: %s\n"
                    "Build it first (make build) or point SPIGATE_BIN at it. "
                    "The functional suite fails rather than skips without it."
                    % b, pytrace=False)
    return b


@pytest.fixture
def seed_rng(request):
    """A Random seeded from the session seed and the test's node id, so a
    failing test can be replayed with the same SGTEST_SEED."""
    return random.Random("%d/%s" % (SEED, request.node.nodeid))


@pytest.fixture
def workdir(tmp_path_factory, request):
    name = request.node.name.replace("[", "_").replace("]", "")[:40]
    return str(tmp_path_factory.mktemp(name))
