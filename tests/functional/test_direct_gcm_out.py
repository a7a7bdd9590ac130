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

from sgtest import direct, topo
from sgtest.config import Route
from sgtest.scenario import OutScenario
from sgtest.traffic import interleave, lan_frame

GCM128 = "aes-128-gcm"
GCM256 = "aes-256-gcm"
CBC = "aes-128-cbc+hmac-sha256-128"
MTU = 1000                  # wan0: the MTU edge and pre-fragmentation
BIG_MTU = 9000              # wan1: packets as large as an mbuf
DATA_ROOM = 2048            # RTE_MBUF_DEFAULT_DATAROOM: the frame and what ESP appends
TOS = (0x00, 0x01, 0x02, 0x03, 0xB8, 0xBB, 0x29, 0xFF)
SIZES = (20, 21, 22, 23, 64, 333, 555, 701)      # every padding length

SHAPES = (("4in4", False, False), ("6in6", False, False), ("4in6", False, False),
          ("6in4", False, False), ("4in4", True, False), ("6in4", True, False),
          ("4in6", True, False), ("6in6", True, False), ("4in4", False, True),
          ("6in4", True, True), ("4in6", False, True))


def _drop(d, reason, n=1):
    d[reason] = d.get(reason, 0) + n


def edge(f):
    """(fit, over): the largest UDP payload whose ESP packet fits MTU and
    the smallest that does not."""
    b = bytes(f.inner(idx=0, size=10, proto="udp"))
    hdr = len(b) - 10
    fit = None
    for s in range(10, 1500):
        if f.sa.wire_len(b[:1] + bytes(hdr + s - 1)) > MTU:
            return fit, s
        fit = s
    raise AssertionError("no edge")


def no_room(frame_len, esn):
    """lib/ipsec's tail room check for a tunnel GCM packet in one mbuf:
    padding and trailer, ICV (16), its AAD buffer (16) and, with ESN, the
    high half of the sequence number (4) must fit after the frame."""
    plen = frame_len - 14
    pad2 = -(-(plen + 2) // 4) * 4 - plen
    return pad2 + 16 + 16 + (4 if esn else 0) > DATA_ROOM - frame_len


def build(rng, crypto="cpu"):
    """The scenario and the drops it must produce."""
    sc = OutScenario(crypto=crypto, rng=rng, wan1=True)
    sc.dep.port("wan0").mtu = MTU
    sc.dep.port("wan1").mtu = BIG_MTU
    sc.dep.routes += [Route("172.19.0.0/16", "wan1", topo.GW1_4),
                      Route("2001:db8:19::/64", "wan1", topo.GW1_6)]
    drops = {}
    per = []
    i = 0

    def send(f, fr, inner, frag=False, drop=None):
        fr.append(lan_frame(inner))
        if drop:
            _drop(drops, drop)
        else:
            sc.protect(f.spi, inner, frag=frag)

    for algo in (GCM128, GCM256):
        for mode, natt, esn in SHAPES:
            f = sc.flow(i, algo, mode, natt, esn=esn, install="eager")
            i += 1
            v4 = f.inner_family == 4
            fr = []
            for k, tos in enumerate(TOS):
                inner = f.inner(size=SIZES[(k + i) % len(SIZES)], tos=tos,
                                df=(k % 2 == 1) if v4 else None)
                send(f, fr, inner)
            fit, over = edge(f)
            send(f, fr, f.inner(size=fit, proto="udp", df=True, tos=0x03))
            send(f, fr, f.inner(size=over, proto="udp", df=True), drop="mtu_exceeded")
            if v4:
                # without DF: fragmented before encryption
                send(f, fr, f.inner(size=over, proto="udp", df=False), frag=True)
                send(f, fr, f.inner(size=1300, proto="udp", df=False, tos=0xBB),
                     frag=True)
            send(f, fr, f.inner(ttl=1), drop="ttl_exceeded")
            send(f, fr, f.inner(size=100, tos=0x02))
            per.append(fr)
    # a hard packet lifetime of 7 that runs out mid-capture
    f = sc.flow(i, GCM128, "4in4", install="eager",
                lifetime={"hard": {"packets": 7}})
    i += 1
    fr = []
    for k in range(10):
        send(f, fr, f.inner(size=SIZES[k % len(SIZES)]),
             drop="lifetime_expired" if k >= 7 else None)
    per.append(fr)
    # through wan1: frames up to the mbuf's data room; lib/ipsec wants room
    # for padding, ICV and its AAD (and the ESN high half) after the frame,
    # else no_mbuf. Sizes ascend: the failures come last, so the sequence
    # numbers they take leave no gap among the packets that leave.
    for algo, mode, esn, remote, local in (
            (GCM128, "4in4", False, "172.19.0.1", topo.WAN1_4),
            (GCM256, "6in6", True, "2001:db8:19::1", topo.WAN1_6),
            (GCM256, "6in4", False, "172.19.0.2", topo.WAN1_4)):
        f = topo.make_out_flow(i, algo, mode, rng=sc.rng, remote=remote, esn=esn,
                               install="eager")
        f.sa.local = local
        sc.add_sa(f.sa, f.policies)
        sc.flows.append(f)
        i += 1
        hdr = 14 + (20 if f.inner_family == 4 else 40) + 8
        fr = []
        for flen in range(1996, DATA_ROOM + 1):
            inner = f.inner(size=flen - hdr, proto="udp", tos=flen & 0xFF)
            assert len(bytes(inner)) + 14 == flen
            send(f, fr, inner, drop="no_mbuf" if no_room(flen, esn) else None)
        per.append(fr)
    # transport mode and CBC: lib/ipsec on both runs, in the same capture
    for algo, mode in ((GCM128, "trans4"), (CBC, "4in4"), (GCM256, "trans6")):
        f = sc.flow(i, algo, mode, install="eager")
        i += 1
        fr = []
        for _ in range(4):
            send(f, fr, f.inner(size=64))
        per.append(fr)
    sc.frames = interleave(per)
    return sc, drops


@pytest.fixture(scope="module", params=["cpu", "lookaside"])
def runs(request, spigate_bin, tmp_path_factory):
    return direct.two_runs(build, "SPIGATE_DIRECT_GCM", "dgcmo", spigate_bin, tmp_path_factory,
                           crypto=request.param)


@pytest.mark.parametrize("path", direct.PATHS)
def test_exact(runs, path):
    """Each path: every packet out once, in order, as scapy expects it
    (decrypted, outer header, sequence numbers, IVs, fragments); exactly
    the expected drops."""
    sc, drops, res = runs[path]
    rep = sc.check(res)
    assert set(res.out) == {"wan0", "wan1", "lan0"}, res.out.keys()
    assert not res.out["lan0"]
    assert len(res.out["wan1"]) > 0
    esp = rep.esp_total()
    n = len(sc.frames)
    assert esp > n - sum(drops.values()), "fragments: more ESP packets than packets"
    res.assert_counters(rx=n, tx=esp, encrypted=esp, only_drops=drops)


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


@pytest.mark.parametrize("crypto,gcm,other", [("cpu", "direct-gcm", "cpu"),
                                              ("lookaside", "lookaside-gcm", "lookaside")])
def test_path_reported(crypto, gcm, other, spigate_bin, workdir, seed_rng, monkeypatch):
    """sa-show of outbound SAs. cpu mode: direct-gcm for a GCM tunnel SA
    (IPv4 or IPv6 outer, NAT-T, ESN), cpu for GCM transport (lib/ipsec),
    lookaside for CBC (its IVs: docs/architecture.md). Lookaside mode:
    lookaside-gcm for the GCM tunnel SAs, lookaside for the others. With
    SPIGATE_DIRECT_GCM=0 every GCM SA takes lib/ipsec's path of its mode."""
    want = {}
    sc = OutScenario(crypto=crypto, rng=seed_rng)
    for i, (algo, mode, natt, esn, path) in enumerate((
            (GCM128, "4in4", False, False, gcm),
            (GCM256, "6in6", True, True, gcm),
            (GCM128, "4in6", False, False, gcm),
            (GCM128, "trans4", False, False, other),
            (CBC, "4in4", False, False, "lookaside"))):
        f = sc.flow(i, algo, mode, natt, esn=esn, install="eager")
        want[f.spi] = path
    direct.assert_paths_reported(
        sc, {spi: (lambda off, p=p: other if off and p == gcm else p)
             for spi, p in want.items()},
        "out", "SPIGATE_DIRECT_GCM", spigate_bin, workdir, monkeypatch)
