"""The direct crypto paths against lib/ipsec (docs/architecture.md, "The
direct crypto paths"): one scenario run twice, once with the path's
environment switch at "0" (lib/ipsec) and once without (direct)."""

import random

import pytest

from . import SEED

PATHS = ("lib/ipsec", "direct")


def two_runs(build, switch, tag, spigate_bin, tmp_path_factory, crypto=None):
    """{path: (scenario, drops, result)}: build(rng) -> (scenario, drops)
    is called once per run with the same seed, so both runs get the same
    capture; `switch` is the environment variable (SPIGATE_DIRECT_GCM or
    SPIGATE_DIRECT_CBC). With `crypto` ("cpu" or "lookaside"), build(rng,
    crypto) and, in lookaside mode, a tag (seed and folder) of its own."""
    if crypto is not None:
        b, build = build, lambda rng: b(rng, crypto)
        if crypto != "cpu":
            tag += "_lksd"
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


def send_esn(sc, f, drops):
    """ESN across 2^32 for flow f (an ESN SA with a window of 64): six
    valid packets up to 2^32 + 70, then two that must fail their ICV."""
    frames = {}
    for seq in (1, 2**32 - 3, 2**32 - 1, 2**32, 2**32 + 5, 2**32 + 70):
        inner = f.inner()
        frames[seq] = f.frame(inner, seq=seq)
        sc.send(frames[seq])
        sc.expect(f.spi, inner)
    # 2^32 - 1 again: its low half is ahead of the top's (2^32 + 70), so it
    # is read as 2^33 - 1 (RFC 4303 A.2.2) and fails its ICV
    sc.send(frames[2**32 - 1])
    count(drops, "auth_failed")
    # a frame whose ESN high half is not the receiver's fails its ICV:
    # authenticated as 2^33 + 71, reconstructed as 2^32 + 71 (new, in the
    # window's subspace). In the same burst as the packet above, which
    # failed: a packet that did not authenticate must not move the high
    # half (it did, in the direct GCM path's first version).
    sc.send(f.frame(f.inner(), seq=2**33 + 71))
    count(drops, "auth_failed")


def assert_same_frames(xs, ys, where=""):
    """Two captures: the same frames, byte for byte, in the same order."""
    assert len(xs) == len(ys), where
    for k, (p, q) in enumerate(zip(xs, ys)):
        assert bytes(p) == bytes(q), "%s frame %d differs" % (where, k)


def assert_paths_reported(sc, want, direction, switch, spigate_bin, workdir,
                          monkeypatch):
    """sa-show's `crypto` of each SA of sc: want = {spi: f(switched)} with
    f(False) the path by default and f(True) the path with switch=0."""
    from . import control
    for off in (False, True):
        if off:
            monkeypatch.setenv(switch, "0")
        else:
            monkeypatch.delenv(switch, raising=False)
        wd = workdir + ("/env0" if off else "/default")
        with control.Running(sc.dep, [], wd, spigate_bin) as g:
            for spi, path in want.items():
                r = g.request({"op": "sa-show", "spi": spi, "dir": direction})
                assert r["ok"], r
                assert r["sa"]["crypto"] == path(off), (hex(spi), r["sa"])
            g.stop()
