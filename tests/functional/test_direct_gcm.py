"""The direct GCM paths against lib/ipsec's (the same binary with
SPIGATE_DIRECT_GCM=0): in cpu mode lib/dfe/dfe_gcm.c (inbound tunnel-mode
AES-GCM SAs decrypted with intel-ipsec-mb's GCM API, without lib/ipsec), in
lookaside mode lib/dfe/dfe_gcm_lksd.c (the DFE's own crypto operations on
the aesni_mb device and its own post-processing, without lib/ipsec).

One capture of scapy-built ESP: valid packets of every tunnel shape and key
size, ESN across 2^32, out-of-order inside the window, and every kind of bad
packet (ICV, ciphertext, length, padding, pad length, next header,
truncation, replays, sequence number 0). Each path's output must be exactly
what scapy expects, the two outputs must be identical byte for byte, and
every counter and drop reason must agree.
"""

import pytest

from sgtest import direct, traffic
from sgtest.scenario import Scenario

GCM128 = "aes-128-gcm"
GCM256 = "aes-256-gcm"
CBC = "aes-128-cbc+hmac-sha256-128"


def build(rng, crypto="cpu"):
    """The scenario and the drops it must produce."""
    sc = Scenario(crypto=crypto, rng=rng)
    drops = {}
    i = 0
    flows = []
    for algo in (GCM128, GCM256):
        for mode, natt in (("4in4", False), ("6in6", False), ("4in6", False),
                           ("6in4", False), ("4in4", True), ("6in4", True)):
            f = sc.flow(i, algo, mode, natt, replay_window=64, install="eager")
            i += 1
            flows.append(f)
            sc.send_valid(f, 6)
    # every bad kind, on several shapes
    for f in flows[::3]:
        direct.send_bad(sc, f, drops, lambda f: traffic.mutate_esp(f.packets(1)[0][1], lambda d: d[:-1]))
    # inside the window, out of order, then a duplicate
    f = sc.flow(i, GCM128, "4in4", replay_window=64, install="eager")
    i += 1
    for seq in (1, 5, 3, 4, 2):
        inner = f.inner()
        sc.send(f.frame(inner, seq=seq))
        sc.expect(f.spi, inner)
    sc.send(f.frame(f.inner(), seq=3))
    direct.count(drops, "replay")
    # ESN across 2^32: the high half goes into the AAD
    f = sc.flow(i, GCM256, "6in4", esn=True, replay_window=64,
                install="eager")
    i += 1
    direct.send_esn(sc, f, drops)
    # transport mode and CBC: lib/ipsec on both runs, in the same capture
    for algo, mode in ((GCM128, "trans4"), (CBC, "4in4")):
        f = sc.flow(i, algo, mode, install="eager")
        i += 1
        sc.send_valid(f, 4)
    return sc, drops


@pytest.fixture(scope="module", params=["cpu", "lookaside"])
def runs(request, spigate_bin, tmp_path_factory):
    return direct.two_runs(build, "SPIGATE_DIRECT_GCM", "dgcm", spigate_bin, tmp_path_factory,
                           crypto=request.param)


@pytest.mark.parametrize("path", direct.PATHS)
def test_exact(runs, path):
    """Each path: every valid packet out once, in order, byte-exact (scapy's
    expectations); exactly the expected drops."""
    direct.assert_inbound_exact(runs[path])


def test_same_output(runs):
    """The two paths: the same frames, byte for byte, in the same order (every
    SA installed at start, one DFE: arrival order), and the same counters."""
    _, _, a = runs["lib/ipsec"]
    _, _, b = runs["direct"]
    direct.assert_same_frames(a.frames, b.frames)
    assert a.stats == b.stats


@pytest.mark.parametrize("crypto,gcm,other,cbc", [
    ("cpu", "direct-gcm", "cpu", "direct-cbc"),
    ("lookaside", "lookaside-gcm", "lookaside", "lookaside-cbc")])
def test_path_reported(crypto, gcm, other, cbc, spigate_bin, workdir, seed_rng,
                       monkeypatch):
    """sa-show says which path each SA takes. cpu mode: direct-gcm for a GCM
    tunnel SA, cpu for GCM transport (lib/ipsec), direct-cbc for CBC+HMAC
    (its own switch, test_direct_cbc). Lookaside mode: lookaside-gcm for a
    GCM tunnel SA, lookaside-cbc for CBC+HMAC (the same switch), lookaside
    (lib/ipsec) for GCM transport. The GCM tunnel ones
    take lib/ipsec's path of their mode with SPIGATE_DIRECT_GCM=0."""
    want = {}
    sc = Scenario(crypto=crypto, rng=seed_rng)
    for i, (algo, mode, path) in enumerate(((GCM128, "4in4", gcm),
                                            (GCM256, "6in4", gcm),
                                            (GCM128, "trans4", other),
                                            (CBC, "4in4", cbc))):
        f = sc.flow(i, algo, mode, install="eager")
        want[f.spi] = path
    direct.assert_paths_reported(
        sc, {spi: (lambda off, p=p: other if off and p == gcm else p)
             for spi, p in want.items()},
        "in", "SPIGATE_DIRECT_GCM", spigate_bin, workdir, monkeypatch)
