"""Outbound ESP through the real gateway: clear packets sent into lan0 leave
wan0 encrypted into the SA their policy names. scapy decrypts every ESP
frame (sgtest.outcheck): the inner packet is the original with TTL/hop
limit - 1 byte for byte; the outer header, Ethernet, NAT-T UDP, sequence
numbers (1, 2, 3, ... per SA) and IVs (unique; AES-CBC unpredictable) are
checked; nothing else leaves wan0 or lan0, and the counters agree.

The whole algorithm x mode x NAT-T (x ESN) matrix is ONE run per crypto
mode, one SA per combination, packets interleaved; each combination is its
own test item from that run.
"""

import random
import re

import pytest

from sgtest import SEED, gateway, live, topo, traffic
from sgtest.config import Neighbor, Policy, Route
from sgtest.sa import MATRIX_ALGOS
from sgtest.scenario import OutScenario
from sgtest.traffic import interleave

MODES = list(topo.MODES)            # 4in4 6in6 4in6 6in4 trans4 trans6
GCM = "aes-128-gcm"
CBC = "aes-128-cbc+hmac-sha256-128"


def matrix_combos():
    out = []
    for algo in MATRIX_ALGOS:
        for mode in MODES:
            out.append((algo, mode, False, False))
            if topo.MODES[mode][1] == 4:            # NAT-T on IPv4 outer only
                out.append((algo, mode, True, False))
        # ESN: the high half (0 here) is in the ICV input / GCM AAD
        out.append((algo, "4in4", True, True))
        out.append((algo, "trans6", False, True))
    return out


MATRIX = matrix_combos()
PER_SA = 5                          # UDP/TCP/ICMP, 20..1300 bytes, 5 DSCP/ECN values, DF 0/1


def cid(c):
    return "%s-%s%s%s" % (c[0], c[1], "-natt" if c[2] else "", "-esn" if c[3] else "")


class MatrixRun:
    def __init__(self, crypto, spigate_bin, workdir, rng):
        sc = OutScenario(crypto=crypto, rng=rng)
        per_flow = []
        for i, (algo, mode, natt, esn) in enumerate(MATRIX):
            f = sc.flow(i, algo, mode, natt, esn=esn)
            pk = f.packets(PER_SA)
            for inner, _ in pk:
                sc.protect(f.spi, inner)
            per_flow.append([fr for _, fr in pk])
        sc.frames = interleave(per_flow)
        self.sc = sc
        self.res = sc.run(workdir, spigate_bin)


@pytest.fixture(scope="module", params=["cpu", "lookaside"])
def matrix(request, spigate_bin, tmp_path_factory):
    rng = random.Random("%d/outmatrix/%s" % (SEED, request.param))
    return MatrixRun(request.param, spigate_bin,
                     str(tmp_path_factory.mktemp("outmatrix_" + request.param)), rng)


@pytest.mark.matrix
@pytest.mark.parametrize("combo", [pytest.param(c, id=cid(c), marks=[pytest.mark.esn] if c[3] else [])
                                   for c in MATRIX])
def test_matrix(matrix, combo):
    """One SA of the matrix: each packet out once, in order, decrypts to the
    original with TTL - 1; outer header, sequence numbers and IVs right."""
    spi = matrix.sc.flows[MATRIX.index(combo)].spi
    matrix.sc.check(matrix.res, spi=spi)


@pytest.mark.matrix
def test_matrix_totals(matrix):
    """The whole matrix run: nothing unexpected on wan0 or lan0; counters."""
    sc, res = matrix.sc, matrix.res
    sc.check(res)
    n = len(sc.frames)
    res.assert_counters(rx=n, tx=n, encrypted=n, bypassed=0, only_drops={})


# -- lcore layouts x crypto modes x install modes -----------------------------------

SPREAD = ["4in4", "6in6", "4in6", "6in4", "trans4", "trans6"]


@pytest.mark.layout
@pytest.mark.parametrize("install", ["lazy", "eager"])
@pytest.mark.parametrize("crypto", ["cpu", "lookaside"])
@pytest.mark.parametrize("layout", ["shared", "split"])
def test_many_sas_interleaved(layout, crypto, install, spigate_bin, workdir, seed_rng):
    """20 outbound SAs (all algorithms and modes, some NAT-T, some ESN), 10
    packets each, round-robin. One lcore for CFE+DFE ("shared") or two
    ("split"); lazy SAs are installed on their first packet (held packets
    first, in order), eager ones at start."""
    sc = OutScenario(layout=layout, crypto=crypto, rng=seed_rng)
    per = []
    for i in range(20):
        mode = SPREAD[i % len(SPREAD)]
        natt = topo.MODES[mode][1] == 4 and i % 4 == 0
        f = sc.flow(i, MATRIX_ALGOS[i % len(MATRIX_ALGOS)], mode, natt, esn=i % 3 == 0,
                    install="eager" if install == "eager" else None)
        pk = f.packets(10)
        for inner, _ in pk:
            sc.protect(f.spi, inner)
        per.append([fr for _, fr in pk])
    sc.frames = interleave(per)
    res = sc.run(workdir, spigate_bin)
    sc.check(res)
    res.assert_counters(rx=200, tx=200, encrypted=200, only_drops={})
    if install == "eager":
        res.assert_counters(held=0, reinjected=0)


@pytest.mark.layout
def test_mixed_lazy_and_eager(spigate_bin, workdir, seed_rng):
    sc = OutScenario(layout="split", rng=seed_rng)
    per = []
    for i in range(6):
        f = sc.flow(i, MATRIX_ALGOS[i], SPREAD[i], install="eager" if i % 2 else None)
        pk = f.packets(6)
        for inner, _ in pk:
            sc.protect(f.spi, inner)
        per.append([fr for _, fr in pk])
    sc.frames = interleave(per)
    res = sc.run(workdir, spigate_bin)
    sc.check(res)
    res.assert_counters(rx=36, tx=36, encrypted=36, only_drops={})


@pytest.mark.slow
@pytest.mark.parametrize("crypto", ["cpu", "lookaside"])
def test_long_run_seq_and_ivs(crypto, spigate_bin, workdir, seed_rng):
    """3 SAs x 1,000 packets (GCM, CBC, CTR): sequence numbers 1..1000
    without a gap, no IV twice, CBC IVs unpredictable, every packet exact."""
    sc = OutScenario(crypto=crypto, rng=seed_rng)
    per = []
    for i, algo in enumerate([GCM, "aes-256-cbc+hmac-sha1-96", "aes-128-ctr+hmac-sha384-192"]):
        f = sc.flow(i, algo, "4in4", install="eager")
        pk = f.packets(1000, size=40)
        for inner, _ in pk:
            sc.protect(f.spi, inner)
        per.append([fr for _, fr in pk])
    sc.frames = interleave(per)
    res = sc.run(workdir, spigate_bin)
    sc.check(res)
    res.assert_counters(rx=3000, tx=3000, encrypted=3000, only_drops={})


# -- TTL ---------------------------------------------------------------------------------

@pytest.mark.negative
def test_ttl(spigate_bin, workdir, seed_rng):
    """The gateway is a router hop: inner TTL/hop limit 1 (or 0) is dropped
    as ttl_exceeded and consumes no sequence number; TTL 2 leaves with 1.
    The first packet of the lazy IPv4 SA is one of the dropped ones."""
    sc = OutScenario(rng=seed_rng)
    f4 = sc.flow(0, GCM, "4in4")
    f6 = sc.flow(1, CBC, "6in6")
    t4 = sc.flow(2, GCM, "trans4", install="eager")
    for ttl in (1, 0):
        sc.send(f4.frame(f4.inner(ttl=ttl)))
    for f in (f4, f6, t4):
        inner = f.inner(ttl=2)
        sc.send(f.frame(inner))
        sc.protect(f.spi, inner)
        sc.send_valid(f, 3)
    sc.send(f6.frame(f6.inner(ttl=1)))
    sc.send(t4.frame(t4.inner(ttl=1)))
    sc.send_valid(f6, 1)
    res = sc.run(workdir, spigate_bin)
    sc.check(res)
    n = sc.out.count()
    res.assert_counters(rx=len(sc.frames), tx=n, encrypted=n,
                        only_drops={"ttl_exceeded": 4})


# -- egress pinning ----------------------------------------------------------------------

def _pinning_scenario(rng, wan1_mtu=None):
    """SAs whose remotes are reached through different next hops and ports,
    while the routes for their INNER destinations point back into lan0:
    ESP must follow the SA's remote, not the inner destination."""
    sc = OutScenario(rng=rng, wan1=True)
    d = sc.dep
    d.routes += [Route("172.17.1.0/24", "wan0", topo.GW4B),          # more specific
                 Route("2001:db8:1::c/128", "wan0", topo.GW6B),
                 Route("172.19.0.0/16", "wan1", topo.GW1_4),
                 Route("2001:db8:19::/64", "wan1", topo.GW1_6),
                 # traps: the inner destinations are routed into lan0
                 Route("10.0.0.0/8", "lan0", topo.R4),
                 Route("2001:db8:a::/48", "lan0", topo.R6)]
    d.neighbors += [Neighbor(topo.GW4B, topo.PEER2_MAC, "wan0"),
                    Neighbor(topo.GW6B, topo.PEER2_MAC, "wan0")]
    flows = [
        sc.flow(0, GCM, "4in4", remote="172.17.0.10"),                      # wan0, GW4
        sc.flow(1, CBC, "4in4", remote="172.17.1.10"),                      # wan0, GW4B
        sc.flow(2, GCM, "6in6", remote="2001:db8:1::c"),                    # wan0, GW6B
        sc.flow(3, "aes-256-gcm", "6in6", remote="2001:db8:1::d"),          # wan0, GW6
        sc.flow(4, "aes-128-ctr+hmac-sha384-192", "trans4"),                # wan0, GW4
    ]
    for i, (mode, remote, local) in enumerate([("4in4", "172.19.0.1", topo.WAN1_4),
                                               ("6in4", "172.19.0.2", topo.WAN1_4),
                                               ("4in6", "2001:db8:19::1", topo.WAN1_6)]):
        f = topo.make_out_flow(5 + i, GCM if i % 2 else CBC, mode, rng=sc.rng, remote=remote)
        f.sa.local = local
        sc.add_sa(f.sa, f.policies)
        flows.append(f)
    return sc, flows


@pytest.mark.layout
def test_egress_pinned_to_remote(spigate_bin, workdir, seed_rng):
    """ESP of each SA leaves on the port and to the next hop toward its
    remote: wan0 through 172.16.2.1 or 172.16.2.2 (PEER/PEER2 MACs) by the
    longest route to the remote, wan1 for remotes behind it, with wan1's
    address as source; none follows the inner destinations' routes."""
    sc, flows = _pinning_scenario(seed_rng)
    per = []
    for f in flows:
        pk = f.packets(6)
        for inner, _ in pk:
            sc.protect(f.spi, inner)
        per.append([fr for _, fr in pk])
    sc.frames = interleave(per)
    res = sc.run(workdir, spigate_bin)
    rep = sc.check(res)
    assert {p: len(v) for p, v in res.out.items()} == {"wan0": 30, "wan1": 18, "lan0": 0}
    assert rep.esp_total() == 48
    res.assert_counters(rx=48, tx=48, encrypted=48, only_drops={})


def _bad_local_sas(sc):
    """Two outbound tunnel SAs install must refuse: local is wan0's address
    but the remote is reached through wan1; local is nobody's address."""
    bad = []
    for i, (remote, local) in enumerate([("172.19.0.9", topo.WAN4),
                                         ("172.17.0.77", "172.16.2.99")]):
        f = topo.make_out_flow(20 + i, GCM, "4in4", rng=sc.rng, remote=remote)
        f.sa.local = local
        sc.add_sa(f.sa, f.policies)
        bad.append(f)
    return bad


@pytest.mark.negative
def test_install_refuses_local_not_on_egress_port(spigate_bin, workdir, seed_rng):
    """An outbound tunnel SA whose local address is not an address of the
    port its remote resolves to is not installed: its packets are dropped
    as no_route; the other SAs are not disturbed."""
    sc, flows = _pinning_scenario(seed_rng)
    bad = _bad_local_sas(sc)
    per = []
    for f in flows[:2] + flows[5:6]:
        pk = f.packets(4)
        for inner, _ in pk:
            sc.protect(f.spi, inner)
        per.append([fr for _, fr in pk])
    for f in bad:
        per.append([fr for _, fr in f.packets(3)])
    sc.frames = interleave(per)
    res = sc.run(workdir, spigate_bin)
    sc.check(res)
    res.assert_counters(rx=18, tx=12, encrypted=12, only_drops={"no_route": 6})


@pytest.mark.negative
def test_failed_install_state_over_telemetry(spigate_bin, workdir, seed_rng):
    """/spigate/sa/info of the refused SAs says state "failed"; a good
    outbound SA is "installed", counts its packets and shows its last
    sequence number; sa/list names both with dir out."""
    sc = OutScenario(rng=seed_rng, wan1=True)
    sc.dep.routes.append(Route("172.19.0.0/16", "wan1", topo.GW1_4))
    good = sc.flow(0, GCM, "4in4")
    bad = _bad_local_sas(sc)
    sc.send_valid(good, 5)
    for f in bad:
        for _, fr in f.packets(2):
            sc.send(fr)
    n = len(sc.frames)
    with live.Live(sc.dep, sc.frames, workdir, spigate_bin) as g:
        g.wait_stats(lambda s: s["rx"] == n and s["tx"] == 5 and
                     s["drop"]["no_route"] == 4, "all packets handled")
        for f in bad:
            info = g.query("/spigate/sa/info,%#x,out" % f.spi)
            assert info.get("state") == "failed", info
            assert info.get("dir") == "out", info
        info = g.query("/spigate/sa/info,%#x,out" % good.spi)
        assert info.get("state") == "installed" and info.get("dir") == "out", info
        assert info.get("packets") == 5, info
        assert info.get("seq") == 5, "last sequence number handed out: %s" % info
        sl = g.query("/spigate/sa/list")
        states = {k: v["state"] for k, v in sl.items() if isinstance(v, dict)}
        assert states.get("0x%08x/out" % good.spi) == "installed", sl
        for f in bad:
            assert states.get("0x%08x/out" % f.spi) == "failed", sl
        res = g.stop()
    assert res.returncode == 0, res.describe()
    sc.check(res)
    res.assert_counters(rx=n, tx=5, encrypted=5, only_drops={"no_route": 4})


@pytest.mark.negative
@pytest.mark.cli
def test_inner_family_of_a_tunnel_sa(spigate_bin, workdir, seed_rng):
    """A tunnel SA carries one inner family: outbound protect policies of
    both families naming one tunnel SA are refused (--check: exit 2, the
    second policy's PATH:LINE), as for inbound SAs."""
    sc = OutScenario(rng=seed_rng)
    f = sc.flow(0, GCM, "4in4")
    sc.dep.policies.append(Policy("out", topo.PROTECTED6, "2001:db8:a::/64",
                                  action="protect", sa=f.spi, priority=100))
    sc.flow(1, CBC, "6in4")                   # one family each: fine
    rc, err = gateway.check_config(sc.dep, workdir, bin_path=spigate_bin)
    assert rc == 2, err
    text = sc.dep.policy_yaml().splitlines()
    line = max(n for n, ln in enumerate(text, 1) if "2001:db8:a::/64" in ln)
    assert re.search(r"policy\.yaml:(%d|%d): policies\[1\]" % (line, line - 2), err), err
    assert "one inner IP family" in err, err


# -- things that are not for the outbound path -------------------------------------

@pytest.mark.negative
def test_lan_side_oddities(spigate_bin, workdir, seed_rng):
    """On lan0: a frame for another MAC (not_for_us), ARP (non_ip), a clear
    IPv4 fragment (fragment, before the policies), and an ESP packet of an
    INBOUND SA's SPI: ESP on a protected port is clear traffic of protocol 50
    to the dir: out policies (no_policy here): it is never decrypted."""
    from scapy.layers.inet import IP
    from scapy.layers.l2 import ARP, Ether
    sc = OutScenario(rng=seed_rng)
    f = sc.flow(0, GCM, "4in4", install="eager")
    inb = topo.make_flow(1, GCM, "4in4", rng=sc.rng)
    sc.dep.add_sa(inb.sa, inb.policies)
    sc.send_valid(f, 2)
    sc.send(traffic.with_dst_mac(f.frame(f.inner()), topo.OTHER_MAC))
    sc.send(bytes(Ether(dst="ff:ff:ff:ff:ff:ff", src=topo.H4_MAC) /
                  ARP(psrc=topo.H4, pdst=topo.LAN4)))
    frag = Ether(f.frame(f.inner(size=200)))
    frag[IP].flags = "MF"
    del frag[IP].chksum
    sc.send(bytes(frag))
    esp = inb.sa.encrypt(inb.inner(), 1)        # as the peer would send it, on the wrong side
    sc.send(traffic.ether(esp, topo.LAN_MAC, topo.H4_MAC))
    sc.send_valid(f, 2)
    res = sc.run(workdir, spigate_bin)
    sc.check(res)
    res.assert_counters(rx=8, tx=4, encrypted=4, decrypted=0,
                        only_drops={"not_for_us": 1, "non_ip": 1, "fragment": 1,
                                    "no_policy": 1})
