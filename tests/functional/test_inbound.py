"""Inbound ESP through the real gateway: every expected inner packet comes
out of lan0 once, in order per SA, byte for byte (TTL/hop limit - 1), with
the neighbour's MAC as destination and lan0's as source; nothing else comes
out, and the counters agree.

Runs are grouped: the whole algorithm x mode x NAT-T matrix is ONE spigate
run per crypto mode (one SA per combination, packets interleaved), and each
combination is reported as its own test item from that run.
"""

import pytest

from sgtest import topo
from sgtest.sa import MATRIX_ALGOS
from sgtest.scenario import Scenario

MODES = list(topo.MODES)            # 4in4 6in6 4in6 6in4 trans4 trans6


def matrix_combos():
    out = []
    for algo in MATRIX_ALGOS:
        for mode in MODES:
            out.append((algo, mode, False))
            if topo.MODES[mode][1] == 4:            # NAT-T on IPv4 outer only
                out.append((algo, mode, True))
    return out


MATRIX = matrix_combos()
MATRIX_PER_SA = 5                   # covers UDP/TCP/ICMP and 20..1300-byte payloads


def cid(c):
    return "%s-%s%s" % (c[0], c[1], "-natt" if c[2] else "")


class MatrixRun:
    def __init__(self, crypto, spigate_bin, workdir, rng):
        sc = Scenario(crypto=crypto, rng=rng)
        per_flow = []
        for i, (algo, mode, natt) in enumerate(MATRIX):
            f = sc.flow(i, algo, mode, natt)
            pkts = f.packets(MATRIX_PER_SA)
            for inner, _ in pkts:
                sc.expect(f.spi, inner)
            per_flow.append([fr for _, fr in pkts])
        from sgtest.traffic import interleave
        sc.frames = interleave(per_flow)
        self.sc = sc
        self.res = sc.run(workdir, spigate_bin)
        self.res.assert_ok()


@pytest.fixture(scope="module", params=["cpu", "lookaside"])
def matrix(request, spigate_bin, tmp_path_factory):
    import random
    from sgtest import SEED
    rng = random.Random("%d/matrix/%s" % (SEED, request.param))
    return MatrixRun(request.param, spigate_bin,
                     str(tmp_path_factory.mktemp("matrix_" + request.param)), rng)


@pytest.mark.matrix
@pytest.mark.parametrize("combo", MATRIX, ids=cid)
def test_matrix(matrix, combo):
    """One SA of the matrix: its packets all out, once, in order, exact."""
    i = MATRIX.index(combo)
    spi = matrix.sc.flows[i].spi
    matrix.sc.check(matrix.res, key=spi)


@pytest.mark.matrix
def test_matrix_totals(matrix):
    """The whole matrix run: nothing unexpected out, counters agree."""
    sc, res = matrix.sc, matrix.res
    sc.check(res)
    n = len(sc.frames)
    res.assert_counters(rx=n, tx=n, decrypted=n, only_drops={})


# -- many SAs, layouts, crypto modes, install modes -----------------------------

SPREAD_MODES = ["4in4", "6in6", "4in6", "6in4", "trans4", "trans6"]


@pytest.mark.layout
@pytest.mark.parametrize("install", ["lazy", "eager"])
@pytest.mark.parametrize("crypto", ["cpu", "lookaside"])
@pytest.mark.parametrize("layout", ["shared", "split"])
def test_many_sas_interleaved(layout, crypto, install, spigate_bin, workdir, seed_rng):
    """20 SAs (all algorithms, all modes, some NAT-T), 10 packets each,
    interleaved round-robin. CFE+DFE on one lcore ("shared": cfe=[1],
    dfe=[1]) or two ("split": cfe=[1], dfe=[2])."""
    from sgtest.traffic import interleave
    sc = Scenario(layout=layout, crypto=crypto, rng=seed_rng)
    per = []
    for i in range(20):
        mode = SPREAD_MODES[i % len(SPREAD_MODES)]
        natt = topo.MODES[mode][1] == 4 and i % 4 == 0
        f = sc.flow(i, MATRIX_ALGOS[i % len(MATRIX_ALGOS)], mode, natt,
                    install="eager" if install == "eager" else None)
        pk = f.packets(10)
        for inner, _ in pk:
            sc.expect(f.spi, inner)
        per.append([fr for _, fr in pk])
    sc.frames = interleave(per)
    res = sc.run(workdir, spigate_bin)
    sc.check(res)
    res.assert_counters(rx=200, tx=200, decrypted=200, only_drops={})


@pytest.mark.layout
@pytest.mark.parametrize("install", ["lazy", "eager"])
def test_burst_on_one_sa_in_order(install, spigate_bin, workdir, seed_rng):
    """32 back-to-back packets of one SA: with lazy install the first ones
    are held while the CE installs the SA and re-injected in order."""
    sc = Scenario(rng=seed_rng)
    f = sc.flow(0, "aes-128-gcm", "4in4",
                install="eager" if install == "eager" else None)
    sc.send_valid(f, 32)
    res = sc.run(workdir, spigate_bin)
    sc.check(res)
    res.assert_counters(rx=32, tx=32, decrypted=32, only_drops={})


@pytest.mark.layout
def test_mixed_lazy_and_eager(spigate_bin, workdir, seed_rng):
    from sgtest.traffic import interleave
    sc = Scenario(layout="split", rng=seed_rng)
    per = []
    for i in range(6):
        f = sc.flow(i, MATRIX_ALGOS[i], SPREAD_MODES[i],
                    install="eager" if i % 2 else None)
        pk = f.packets(6)
        for inner, _ in pk:
            sc.expect(f.spi, inner)
        per.append([fr for _, fr in pk])
    sc.frames = interleave(per)
    res = sc.run(workdir, spigate_bin)
    sc.check(res)
    res.assert_counters(rx=36, tx=36, decrypted=36, only_drops={})


# -- ESN -------------------------------------------------------------------------

ESN_SEQS = [1, 100] + [2**32 - 5 + k for k in range(10)]   # crosses 2^32 (low word 0 included)


@pytest.mark.esn
@pytest.mark.parametrize("crypto,install", [("cpu", "lazy"), ("cpu", "eager"),
                                            ("lookaside", "eager")])
def test_esn_crosses_2_32(crypto, install, spigate_bin, workdir, seed_rng):
    """ESN SAs (AEAD: seq_hi in the AAD; HMAC: seq_hi in the ICV input):
    1, 100, then 2^32-5 .. 2^32+4, all accepted and forwarded in order.
    With eager install they typically arrive in ONE RX burst: the high
    half must be estimated packet after packet, not against the window as
    it was before the burst."""
    sc = Scenario(crypto=crypto, rng=seed_rng)
    per = []
    for i, (algo, mode) in enumerate([("aes-128-gcm", "4in4"),
                                      ("aes-128-cbc+hmac-sha256-128", "6in6"),
                                      ("aes-128-ctr+hmac-sha384-192", "trans4")]):
        f = sc.flow(i, algo, mode, esn=True, replay_window=64,
                    install="eager" if install == "eager" else None)
        frames = []
        for seq in ESN_SEQS:
            inner = f.inner()
            frames.append(f.frame(inner, seq=seq))
            sc.expect(f.spi, inner)
        per.append(frames)
    from sgtest.traffic import interleave
    sc.frames = interleave(per)
    res = sc.run(workdir, spigate_bin)
    sc.check(res)
    n = len(sc.frames)
    res.assert_counters(rx=n, tx=n, decrypted=n, only_drops={})


# -- cpu crypto, HMAC SAs: small groups through the queue pair ---------------------

MB_ALGOS = ["aes-128-cbc+hmac-sha256-128", "aes-256-cbc+hmac-sha1-96",
            "aes-128-cbc+hmac-sha512-256", "aes-128-ctr+hmac-sha384-192"]


@pytest.mark.layout
@pytest.mark.parametrize("layout", ["shared", "split"])
def test_cpu_hmac_small_groups_and_long_run(layout, spigate_bin, workdir, seed_rng):
    """cpu crypto with HMAC SAs: a group of fewer than 16 packets of an SA
    goes through the device's queue pair, a bigger one through cpu crypto,
    unless the SA still has operations in the device (docs/PERFORMANCE.md,
    optimisation log). 40 HMAC SAs interleaved (one packet per SA per
    burst), and one SA L whose packets are first interleaved with them, then
    sent in long runs (whole bursts of L right behind its single packets),
    then interleaved again. Replays among them: L's own packets again, a
    duplicate right behind its original, and a packet of every fifth SA
    again after its successors. Every valid packet out once, byte for byte,
    in order per SA; each replay dropped as a replay."""
    from sgtest.traffic import interleave
    sc = Scenario(layout=layout, crypto="cpu", rng=seed_rng)
    many = []
    for i in range(40):
        mode = SPREAD_MODES[i % len(SPREAD_MODES)]
        f = sc.flow(i, MB_ALGOS[i % len(MB_ALGOS)], mode,
                    natt=topo.MODES[mode][1] == 4 and i % 8 == 0,
                    install="eager")
        many.append((f, f.packets(8, size=40)))
    long_sa = sc.flow(40, "aes-128-cbc+hmac-sha256-128", "4in4",
                      replay_window=1024, install="eager")
    lp = long_sa.packets(300, size=40)
    lf = [fr for _, fr in lp]
    replays = 0

    # expected egress, per SA in sending order: every valid packet once
    for f, pk in many:
        for inner, _ in pk:
            sc.expect(f.spi, inner)
    for inner, _ in lp:
        sc.expect(long_sa.spi, inner)

    # 1: L's packets 0..3 interleaved with the 40 SAs' packets 0..3
    sc.frames += interleave([[fr for _, fr in pk[:4]] for _, pk in many] +
                            [lf[0:4]])
    # 2: a run of L (5 bursts), with a replay of packet 2 (inside the
    # window) and a duplicate of packet 100 right behind it
    run = lf[4:60] + [lf[2]] + lf[60:101] + [lf[100]] + lf[101:164]
    replays += 2
    sc.frames += run
    # 3: interleaved again; every fifth SA's packet 0 sent again after its
    # packets 4..7 (a replay far behind, in the cpu or the queue pair path)
    per = []
    for j, (f, pk) in enumerate(many):
        frs = [fr for _, fr in pk[4:]]
        if j % 5 == 0:
            frs.append(pk[0][1])
            replays += 1
        per.append(frs)
    sc.frames += interleave(per + [lf[164:200]])
    # 4: another run of L right behind, then the first 20 of L once more
    sc.frames += lf[200:300] + lf[0:20]
    replays += 20

    res = sc.run(workdir, spigate_bin)
    sc.check(res)
    n = len(sc.frames)
    valid = 40 * 8 + 300
    assert n == valid + replays
    res.assert_counters(rx=n, tx=valid, decrypted=valid,
                        only_drops={"replay": replays})


# -- clear traffic on the unprotected side ------------------------------------------

@pytest.mark.parametrize("fam", [4, 6])
def test_clear_bypass_forwarded(fam, spigate_bin, workdir, seed_rng):
    """A clear packet on wan0 matching an inbound bypass policy is routed
    and forwarded (TTL - 1, neighbour MAC)."""
    from sgtest.config import Policy
    from sgtest.traffic import ether, inner_packet
    sc = Scenario(rng=seed_rng)
    if fam == 4:
        src, dst, psrc, pdst = "198.51.100.7", topo.H4, "198.51.100.0/24", "192.168.105.0/24"
    else:
        src, dst, psrc, pdst = "2001:db8:77::7", topo.H6, "2001:db8:77::/64", "2001:db8:105::/64"
    sc.dep.policies.append(Policy("in", psrc, pdst, proto="udp", dport=53,
                                  action="bypass", priority=10))
    for k in range(3):
        p = inner_packet(src, dst, "udp", 40 + k, flow_id=900, idx=k, dport=53)
        sc.send(ether(p, topo.WAN_MAC, topo.PEER_MAC))
        sc.expect("bypass", p)
    res = sc.run(workdir, spigate_bin)
    sc.check(res)
    res.assert_counters(rx=3, tx=3, bypassed=3, only_drops={})


def test_esp_and_bypass_together(spigate_bin, workdir, seed_rng):
    """ESP and bypassed clear traffic interleaved; the ESP flow is not
    disturbed by the bypass policy and vice versa."""
    from sgtest.config import Policy
    from sgtest.traffic import ether, inner_packet
    sc = Scenario(rng=seed_rng)
    f = sc.flow(0, "aes-256-gcm", "4in4")
    sc.dep.policies.append(Policy("in", "198.51.100.0/24", "192.168.105.0/24",
                                  action="bypass", priority=10))
    for k, (inner, frame) in enumerate(f.packets(8)):
        sc.send(frame)
        sc.expect(f.spi, inner)
        p = inner_packet("198.51.100.7", topo.H4, "tcp", 30 + k, flow_id=901, idx=k)
        sc.send(ether(p, topo.WAN_MAC, topo.PEER_MAC))
        sc.expect("bypass", p)
    res = sc.run(workdir, spigate_bin)
    sc.check(res)
    res.assert_counters(rx=16, tx=16, decrypted=8, bypassed=8, only_drops={})
