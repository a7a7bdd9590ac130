"""The direct crypto paths against lib/ipsec (docs/architecture.md, "The
direct crypto paths"): one scenario run twice, once with the path's
environment switch at "0" (lib/ipsec) and once without (direct)."""

import random

import pytest

from . import SEED

PATHS = ("lib/ipsec", "direct")


def two_runs(build, switch, tag, spigate_bin, tmp_path_factory):
    """{path: (scenario, drops, result)}: build(rng) -> (scenario, drops)
    is called once per run with the same seed, so both runs get the same
    capture; `switch` is the environment variable (SPIGATE_DIRECT_GCM or
    SPIGATE_DIRECT_CBC)."""
    out = {}
    mp = pytest.MonkeyPatch()
    try:
        for name in PATHS:
            sc, drops = build(random.Random("%d/%s" % (SEED, tag)))
            if name == "direct":
                mp.delenv(switch, raising=False)
            else:
                mp.setenv(switch, "0")
            wd = str(tmp_path_factory.mktemp("%s_%s" % (tag, name.replace("/", "_"))))
            out[name] = (sc, drops, sc.run(wd, spigate_bin))
    finally:
        mp.undo()
    return out


def assert_inbound_exact(run):
    """Every valid packet out once, in order per SA, byte-exact (scapy's
    expectations); exactly the expected drops."""
    sc, drops, res = run
    sc.check(res)
    n = len(sc.frames)
    good = n - sum(drops.values())
    res.assert_counters(rx=n, tx=good, decrypted=good, only_drops=drops)


def count(drops, reason, n=1):
    drops[reason] = drops.get(reason, 0) + n


def send_bad(sc, f, drops, unaligned):
    """Every kind of bad inbound packet for flow f, then valid ones, into
    scenario sc; the drops they must produce added to `drops`.
    unaligned(f) -> a frame whose payload is not a whole number of the
    algorithm's units (4-byte words for GCM, blocks for CBC)."""
    from . import traffic
    _, fr = f.packets(1)[0]
    sc.send(traffic.flip_icv(fr))
    count(drops, "auth_failed")
    _, fr = f.packets(1)[0]
    sc.send(traffic.flip_ciphertext(fr, offset=f.sa.iv_len + 3))
    count(drops, "auth_failed")
    sc.send(unaligned(f))
    count(drops, "malformed")
    _, fr = f.packets(1)[0]
    sc.send(traffic.truncate_esp(fr, keep=4))
    count(drops, "malformed")
    sc.send(f.bad_padding_frame(f.inner(size=61)))
    count(drops, "malformed")
    sc.send(f.bad_padding_frame(f.inner(size=61), kind="length"))
    count(drops, "malformed")
    # valid ICV, but the next header names the other IP version
    wrong = 41 if f.inner_family == 4 else 4
    sc.send(f.frame_custom(f.inner(), next_header=wrong))
    count(drops, "malformed")
    nxt = f.next_seq
    sc.send(f.frame(f.inner(), seq=0))
    f.next_seq = nxt
    count(drops, "replay")
    valid = sc.send_valid(f, 2)
    sc.send(valid[0])
    count(drops, "replay")
    sc.send_valid(f, 2)         # still works after all that
