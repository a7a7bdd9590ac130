"""Which DFE a new SA goes to (lcores.sa_placement, docs/configuration.md).

Two lcores each run a CFE and a DFE; wan0 has two RX queues (two rx_pcap
files: CFE i polls queue i), the way a NIC that steers ESP by SPI delivers
each SA's packets on one queue. Six lazy SAs, three on each queue.

  * "rx": each SA is installed on the DFE of the lcore whose CFE received
    its first packet, so no packet crosses lcores; /spigate/sa/info says
    which DFE and lcore own each SA;
  * "balanced" (the default): the SAs are spread evenly over the DFEs
    whatever queue their packets arrive on;
  * either way every packet comes out decrypted, byte for byte, in order
    per SA.

And with each queue carrying SAs of both DFEs and the smallest rings, full
rings make the CFEs wait, never drop (test_full_rings_lose_nothing).
"""

import os

import pytest

from sgtest import gateway, live
from sgtest.scenario import Scenario

GCM = "aes-128-gcm"
PER_SA = 8


def two_queue_scenario(placement, rng, workdir):
    sc = Scenario(layout="two", rng=rng)
    flows = [sc.flow(i, GCM if i % 2 else "aes-256-gcm", "4in4" if i < 4 else "6in4")
             for i in range(6)]
    lc = {"cfe": [1, 2], "dfe": [1, 2], "ce": 0}   # the layout's, and:
    if placement:
        lc["sa_placement"] = placement
    sc.dep.extra["lcores"] = lc
    # queue 0 (in.pcap, CFE 0 on lcore 1): flows 0, 2, 4; queue 1 (CFE 1 on
    # lcore 2): flows 1, 3, 5, written here and named as a second rx_pcap
    q = [[], []]
    for k in range(PER_SA):
        for i, f in enumerate(flows):
            inner, frame = f.packets(1)[0]
            q[i % 2].append(frame)
            sc.expect(f.spi, inner)
    os.makedirs(workdir, exist_ok=True)
    q1 = os.path.join(os.path.abspath(workdir), "in.q1.pcap")
    gateway.write_pcap(q1, q[1])
    wan = sc.dep.port("wan0")
    wan.vdev_args = list(wan.vdev_args) + ["rx_pcap=" + q1]
    sc.frames = q[0]
    return sc, flows


def owners(g, flows):
    return {f.spi: g.query("/spigate/sa/info,%#x" % f.spi) for f in flows}


@pytest.mark.layout
@pytest.mark.parametrize("placement", ["rx", "balanced", None])
def test_sa_placement(placement, spigate_bin, workdir, seed_rng):
    sc, flows = two_queue_scenario(placement, seed_rng, workdir)
    total = PER_SA * len(flows)
    with live.Live(sc.dep, sc.frames, workdir, spigate_bin) as g:
        st = g.wait_stats(lambda s: s["rx"] == total and s["tx"] == total,
                          "all %d packets through" % total)
        info = owners(g, flows)
        ports = g.query("/spigate/ports")
        lcores = g.query("/spigate/lcores")
        ginfo = g.query("/spigate/info")
        res = g.stop()
    assert st["decrypted"] == total, st
    assert ginfo["sa_placement"] == (placement or "balanced")
    # both placements put three SAs on each DFE here; /spigate/lcores says so
    assert [(lcores[l]["dfe"], lcores[l]["sas"]) for l in ("1", "2")] == [(0, 3), (1, 3)], lcores
    assert ports["wan0"]["rx_packets"] == total
    for f in flows:
        si = info[f.spi]
        assert si["state"] == "installed" and si["packets"] == PER_SA, si
    if placement == "rx":
        # the DFE on the lcore of the queue's CFE: DFE 0 on lcore 1 for
        # queue 0, DFE 1 on lcore 2 for queue 1
        got = {f.spi: (info[f.spi]["dfe"], info[f.spi]["dfe_lcore"]) for f in flows}
        want = {f.spi: (i % 2, 1 + i % 2) for i, f in enumerate(flows)}
        assert got == want, got
    else:
        per_dfe = [sum(1 for f in flows if info[f.spi]["dfe"] == d) for d in (0, 1)]
        assert per_dfe == [3, 3], per_dfe
    sc.check(res)
    res.assert_counters(rx=total, tx=total, decrypted=total, only_drops={})


# ---------------------------------------------------------------------------
# Two CFEs feeding each DFE ring (docs/architecture.md, backpressure)

CROSS_PER_SA = 200


@pytest.mark.layout
def test_full_rings_lose_nothing(spigate_bin, workdir, seed_rng):
    """Six eager SAs, balanced (SA i on DFE i % 2), queue 0 carrying SAs
    0-2 and queue 1 SAs 3-5: each CFE feeds both DFE rings. The rings are
    the smallest allowed (63 packets), the packets large (decryption is
    slower than classification) and replayed from memory (net_pcap
    infinite_rx: the first pass at full speed, every later pass replays
    that the DFEs drop), so the rings fill and both CFEs race for their
    last room. What a ring does not take waits in its CFE: the first pass
    comes out whole, byte for byte and in order per SA, and nothing is
    counted ring_full (before, about 0.1% of the packets of such a race
    were)."""
    sc = Scenario(layout="two", rng=seed_rng)
    flows = [sc.flow(i, GCM, "4in4", install="eager") for i in range(6)]
    sc.dep.extra["lcores"] = {"cfe": [1, 2], "dfe": [1, 2], "ce": 0}
    sc.dep.extra["rings"] = {"size": 64}
    q = [[], []]
    for k in range(CROSS_PER_SA):
        for i, f in enumerate(flows):
            inner, frame = f.packets(1, size=1200)[0]
            q[i // 3].append(frame)
            sc.expect(f.spi, inner)
    os.makedirs(workdir, exist_ok=True)
    q1 = os.path.join(os.path.abspath(workdir), "in.q1.pcap")
    gateway.write_pcap(q1, q[1])
    wan = sc.dep.port("wan0")
    wan.vdev_args = list(wan.vdev_args) + ["rx_pcap=" + q1, "infinite_rx=1"]
    sc.frames = q[0]
    total = CROSS_PER_SA * len(flows)
    with live.Live(sc.dep, sc.frames, workdir, spigate_bin) as g:
        st = g.wait_stats(lambda s: s["decrypted"] >= total and
                          s["drop"]["replay"] >= 4 * total,
                          "the first pass decrypted, four replayed")
        info = owners(g, flows)
        lcores = g.query("/spigate/lcores")
        res = g.stop()
    # /spigate/lcores shows each CFE's waits for ring room (a count)
    assert all(isinstance(lcores[l]["rx_waits"], int) for l in ("1", "2")), lcores
    # the premise: each queue carries SAs of both DFEs
    assert [info[f.spi]["dfe"] for f in flows] == [0, 1, 0, 1, 0, 1], info
    assert st["drop"]["ring_full"] == 0, st
    assert st["decrypted"] == total and st["tx"] == total, st
    sc.check(res)
