"""The direct GCM path outbound (lib/dfe/dfe_gcm_out.c: outbound tunnel-mode
AES-GCM SAs encapsulated without lib/ipsec, then encrypted with
intel-ipsec-mb's GCM API in cpu mode, or by the aesni_mb device through the
DFE's own operations in lookaside mode, dfe_gcm_lksd.c) against lib/ipsec's
path of the same mode (the same binary with SPIGATE_DIRECT_GCM=0).

One capture of clear packets into lan0: GCM-128 and GCM-256 tunnels of every
shape (4in4, 6in6, 4in6, 6in4, NAT-T over IPv4 and IPv6 outer, ESN), every
padding length, DSCP/ECN values (ECT(0), ECT(1), CE, EF, all ones), DF set
and clear; at the egress MTU (wan0: 1000) the packet that fits exactly, the
one that does not (dropped, or fragmented before encryption when it is IPv4
without DF); TTL 1; an SA whose hard packet lifetime runs out mid-capture;
and, through wan1 (MTU 9000), packets near the mbuf's size, where lib/ipsec
runs out of tail room (no_mbuf). Each path's output must be exactly what
scapy expects (sgtest.outcheck decrypts every ESP frame), the two outputs
identical byte for byte on every port, and every counter equal.

The sequence numbers start at 1 (spigate has no setting for the first one),
so the ESN SAs carry a high half of 0: the AAD is the 12-byte ESN form all
the same, and scapy checks it.
"""


import pytest

from sgtest import direct
from sgtest.scenario import OutScenario

GCM128 = "aes-128-gcm"
GCM256 = "aes-256-gcm"
CBC = "aes-128-cbc+hmac-sha256-128"
SIZES = (20, 21, 22, 23, 64, 333, 555, 701)      # every padding length


def no_room(frame_len, algo, esn):
    """lib/ipsec's tail room check for a tunnel GCM packet in one mbuf:
    padding and trailer, ICV (16), its AAD buffer (16) and, with ESN, the
    high half of the sequence number (4) must fit after the frame."""
    plen = frame_len - 14
    pad2 = -(-(plen + 2) // 4) * 4 - plen
    return pad2 + 16 + 16 + (4 if esn else 0) > direct.DATA_ROOM - frame_len


def build(rng, crypto="cpu"):
    """The scenario and the drops it must produce."""
    b = direct.OutBuild(rng, crypto)
    for algo in (GCM128, GCM256):
        for mode, natt, esn in direct.OUT_SHAPES:
            f = b.flow(algo, mode, natt, esn=esn)
            v4 = f.inner_family == 4
            fr = []
            for k, tos in enumerate(direct.OUT_TOS):
                inner = f.inner(size=SIZES[(k + b.i) % len(SIZES)], tos=tos,
                                df=(k % 2 == 1) if v4 else None)
                b.send(f, fr, inner)
            b.edges(f, fr)
            b.per.append(fr)
    b.lifetime(GCM128, SIZES)
    # wan1: frames up to the mbuf's data room
    b.tailroom(((GCM128, "4in4", False), (GCM256, "6in6", True),
                (GCM256, "6in4", False)), 1996, no_room)
    # transport mode and CBC: lib/ipsec on both runs, in the same capture
    for algo, mode in ((GCM128, "trans4"), (CBC, "4in4"), (GCM256, "trans6")):
        f = b.flow(algo, mode)
        fr = []
        for _ in range(4):
            b.send(f, fr, f.inner(size=64))
        b.per.append(fr)
    return b.done()


@pytest.fixture(scope="module", params=["cpu", "lookaside"])
def runs(request, spigate_bin, tmp_path_factory):
    return direct.two_runs(build, "SPIGATE_DIRECT_GCM", "dgcmo", spigate_bin, tmp_path_factory,
                           crypto=request.param)


@pytest.mark.parametrize("path", direct.PATHS)
def test_exact(runs, path):
    """Each path: every packet out once, in order, as scapy expects it
    (decrypted, outer header, sequence numbers, IVs, fragments); exactly
    the expected drops."""
    direct.assert_out_exact(runs[path])


def test_same_output(runs):
    """The two paths: the same frames on every port, byte for byte, in the
    same order (every SA installed at start, one DFE), and the same
    counters."""
    _, _, a = runs["lib/ipsec"]
    _, _, b = runs["direct"]
    assert sorted(a.out) == sorted(b.out)
    for port in a.out:
        direct.assert_same_frames(a.out[port], b.out[port], port)
    assert a.stats == b.stats


@pytest.mark.parametrize("crypto,gcm,other,cbc", [
    ("cpu", "direct-gcm", "cpu", "direct-cbc"),
    ("lookaside", "lookaside-gcm", "lookaside", "lookaside-cbc")])
def test_path_reported(crypto, gcm, other, cbc, spigate_bin, workdir, seed_rng,
                       monkeypatch):
    """sa-show of outbound SAs. cpu mode: direct-gcm for a GCM tunnel SA
    (IPv4 or IPv6 outer, NAT-T, ESN), cpu for GCM transport (lib/ipsec),
    direct-cbc for a CBC tunnel (test_direct_cbc_out.py). Lookaside mode:
    lookaside-gcm for the GCM tunnel SAs, lookaside-cbc for the CBC tunnel,
    lookaside for GCM transport. With
    SPIGATE_DIRECT_GCM=0 every GCM SA takes lib/ipsec's path of its mode,
    and the CBC SA keeps its own."""
    want = {}
    sc = OutScenario(crypto=crypto, rng=seed_rng)
    for i, (algo, mode, natt, esn, path) in enumerate((
            (GCM128, "4in4", False, False, gcm),
            (GCM256, "6in6", True, True, gcm),
            (GCM128, "4in6", False, False, gcm),
            (GCM128, "trans4", False, False, other),
            (CBC, "4in4", False, False, cbc))):
        f = sc.flow(i, algo, mode, natt, esn=esn, install="eager")
        want[f.spi] = path
    direct.assert_paths_reported(
        sc, {spi: (lambda off, p=p: other if off and p == gcm else p)
             for spi, p in want.items()},
        "out", "SPIGATE_DIRECT_GCM", spigate_bin, workdir, monkeypatch)
