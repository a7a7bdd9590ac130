"""An SA deleted while packets of it are inside the crypto path:
operations in the crypto device (lookaside mode) or jobs in the direct CBC
path's intel-ipsec-mb manager, which stay there across bursts
(lib/dfe/dfe_cbc.c). The CE frees an SA only once none is left
(ce_sa_remove()); when the CE runs on the lcore of the SA's DFE, nothing
else completes them while it waits, so it completes them itself
(dfe_settle()). Before that, it waited forever: the control request got no
reply and the data path stopped.

wan0 replays ESP of two inbound SAs forever (replay_window 0): X, deleted
and added back 20 times over the control socket, and Y, which flows
throughout. Every request must be answered within the control client's
10 s, Y must keep decrypting, and after SIGTERM (exit 0) every packet
received is forwarded or counted as unknown_spi or punt_policed (X's
while it was gone), nothing else dropped.

Outbound, the same with lan0 replaying clear packets of two outbound SAs
forever (cpu crypto: the direct CBC path keeps outbound jobs in the
manager too); X's packets while it is gone are held for it or dropped
for the missing SA, nothing else.

Layouts (sgtest.config.LAYOUTS): "alone" puts the CE, the CFE and the DFE
on one lcore; "shared" has the DFE on an lcore without the CE (the CE
waits, the DFE completes).
"""

import time

import pytest

from sgtest import live, steady, topo
from sgtest.scenario import OutScenario, Scenario
from sgtest.traffic import interleave

from test_policy_runtime import grows

GCM = "aes-128-gcm"
CBC = "aes-128-cbc+hmac-sha256-128"
ROUNDS = 20

CASES = [("cpu", CBC, "alone"), ("cpu", CBC, "shared"),
         ("lookaside", GCM, "alone"), ("lookaside", CBC, "alone")]


def packets(c, spi, direction="in"):
    """The SA's packets; 0 while it is not there."""
    sa = c.sa_show_or_none(spi, direction)
    return sa["packets"] if sa else 0


def churn(sc, x, y, direction, workdir, spigate_bin):
    """Run sc with the packets of flows x and y replayed forever; delete
    x's SA and add it back ROUNDS times, each round answered and x's
    packets flowing again within 10 s, y's flowing throughout; stop
    (exit 0). Returns (stats, drops, context)."""
    frames = interleave([[fr for _, fr in f.packets(64, size=64)] for f in (x, y)])
    with live.Live(sc.dep, frames, workdir, spigate_bin) as g:
        c = g.ctl()
        grows(lambda: packets(c, x.spi, direction), "X's packets")
        grows(lambda: packets(c, y.spi, direction), "Y's packets")
        for r in range(ROUNDS):
            t0 = time.monotonic()
            c.sa_del(x.spi, direction)
            assert c.sa_show_or_none(x.spi, direction) is None, \
                "round %d: X still listed" % r
            c.sa_add(x.sa)
            grows(lambda: packets(c, x.spi, direction),
                  "X's packets after sa-add, round %d" % r)
            assert time.monotonic() - t0 < 10, "round %d took %.1f s" % (r, time.monotonic() - t0)
        grows(lambda: packets(c, y.spi, direction), "Y's packets after the deletes")
        assert g.proc.poll() is None, g.stderr()[-4000:]
        res = g.stop()
    res.assert_ok()
    s = res.stats
    drops = s.drops()
    ctx = res.describe()
    assert s.get_count("rx") == s.get_count("tx") + sum(drops.values()), ctx
    return s, drops, ctx


@pytest.mark.parametrize("crypto,algo,layout", CASES,
                         ids=["%s-%s-%s" % (c, a.split("+")[0], lay) for c, a, lay in CASES])
def test_delete_with_packets_in_flight(spigate_bin, workdir, seed_rng, crypto, algo, layout):
    sc = Scenario(layout=layout, crypto=crypto, rng=seed_rng)
    steady.infinite_in(sc.dep)
    x = sc.flow(0, algo, install="eager", replay_window=0)
    y = sc.flow(1, algo, install="eager", replay_window=0)
    s, drops, ctx = churn(sc, x, y, "in", workdir, spigate_bin)
    # X's packets while it was gone: unknown SPI, punted to the CE, most
    # of them over the punt rate
    assert set(drops) <= {"unknown_spi", "punt_policed"}, ctx
    assert drops.get("unknown_spi", 0) > 0, ctx
    assert s.get_count("decrypted") == s.get_count("tx"), ctx


@pytest.mark.parametrize("crypto,layout", [("cpu", "alone"), ("cpu", "shared"),
                                           ("lookaside", "alone")])
def test_delete_outbound_with_packets_in_flight(spigate_bin, workdir, seed_rng, crypto, layout):
    sc = OutScenario(rng=seed_rng, dep=topo.out_deployment(layout=layout, crypto=crypto,
                                                           lan_tx=False))
    steady.infinite_out(sc.dep)
    x = sc.flow(0, CBC, install="eager")
    y = sc.flow(1, CBC, install="eager")
    s, drops, ctx = churn(sc, x, y, "out", workdir, spigate_bin)
    # X's packets while it was gone: held for it (then encrypted, or over
    # the hold's limit), punted over the punt rate, or classified to the
    # deleted SA while queued (unknown_spi)
    assert set(drops) <= {"hold_overflow", "hold_timeout", "punt_policed",
                          "unknown_spi"}, ctx
    assert sum(drops.values()) > 0, ctx
    assert s.get_count("encrypted") == s.get_count("tx"), ctx
