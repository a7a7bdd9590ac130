"""Two spigate instances back to back, the whole algorithm x mode x NAT-T
(x ESN) matrix: instance A encrypts (clear packets in on lan0, ESP out of
wan0); A's wan0 capture is handed to instance B's wan0 (a pcap hand-off);
B, configured with the same SAs as `dir: in` and matching inbound protect
policies (sgtest.topo.mirror), decrypts; B's lan0 output must be A's input
packets byte for byte with TTL/hop limit - 2 (one hop each), with B's
neighbour MACs. A and B run different crypto modes (cpu -> lookaside and
lookaside -> cpu), so each mode's encryption meets the other's decryption.

The hand-off also re-checks A's output with scapy (sgtest.outcheck), so a
failure says which side is wrong.
"""

import random

import pytest

from sgtest import SEED, expect, gateway, topo
from sgtest.sa import MATRIX_ALGOS
from sgtest.scenario import OutScenario
from sgtest.traffic import interleave

PER_SA = 4


def combos():
    out = []
    for algo in MATRIX_ALGOS:
        for mode in topo.MODES:
            out.append((algo, mode, False, False))
            if topo.MODES[mode][1] == 4:
                out.append((algo, mode, True, False))
        out.append((algo, "6in4", True, True))
        out.append((algo, "trans6", False, True))
    return out


MATRIX = combos()


def cid(c):
    return "%s-%s%s%s" % (c[0], c[1], "-natt" if c[2] else "", "-esn" if c[3] else "")


class BackToBack:
    def __init__(self, crypto_a, crypto_b, spigate_bin, base, rng):
        a = OutScenario(crypto=crypto_a, rng=rng)
        per = []
        for i, (algo, mode, natt, esn) in enumerate(MATRIX):
            tunnel = topo.MODES[mode][0] == "tunnel"
            outer = topo.MODES[mode][1]
            remote = (topo.B_WAN4 if outer == 4 else topo.B_WAN6) if tunnel else None
            # B recognises ESP in UDP by destination port 4500: A's own port varies
            encap = (4500 if i % 2 == 0 else 40000 + i, 4500) if natt else None
            f = a.flow(i, algo, mode, natt, esn=esn, remote=remote, encap=encap)
            pk = f.packets(PER_SA)
            for inner, _ in pk:
                a.protect(f.spi, inner)
            per.append([fr for _, fr in pk])
        a.frames = interleave(per)
        self.a = a
        self.res_a = a.run(str(base / "A"), spigate_bin)
        self.res_a.assert_ok()
        self.rep_a = a.report(self.res_a)
        # B: the mirror, fed with what A sent on wan0
        self.dep_b = topo.mirror(a.dep, a.flows, crypto=crypto_b)
        self.dep_b.port("wan0").io = "rxtx"        # B must send nothing back either
        self.dep_b.ingress, self.dep_b.egress = "wan0", "lan0"
        self.exp_b = expect.Expected()
        for f in a.flows:
            for item in a.out.items[f.spi]:
                self.exp_b.add(f.spi, expect.forwarded(self.dep_b, item.expected))
        self.frames_b = self.res_a.out.get("wan0", [])
        self.res_b = gateway.run(self.dep_b, self.frames_b, str(base / "B"),
                                 bin_path=spigate_bin)
        self.rep_b = self.exp_b.compare(self.res_b.frames)

    def describe(self):
        return "A: %s\nB: %s" % (self.res_a.describe(), self.res_b.describe())


@pytest.fixture(scope="module", params=[("cpu", "lookaside"), ("lookaside", "cpu")],
                ids=["cpu-to-lookaside", "lookaside-to-cpu"])
def b2b(request, spigate_bin, tmp_path_factory):
    a, b = request.param
    rng = random.Random("%d/b2b/%s-%s" % (SEED, a, b))
    return BackToBack(a, b, spigate_bin, tmp_path_factory.mktemp("b2b_%s_%s" % (a, b)), rng)


@pytest.mark.matrix
@pytest.mark.parametrize("combo", [pytest.param(c, id=cid(c), marks=[pytest.mark.esn] if c[3] else [])
                                   for c in MATRIX])
def test_backtoback(b2b, combo):
    """One SA: what A protected, B delivers, once, in order, exact (TTL - 2)."""
    spi = b2b.a.flows[MATRIX.index(combo)].spi
    b2b.res_b.assert_ok()
    msg = b2b.rep_b.render(spi)
    if msg:
        side_a = b2b.rep_a.render(spi)
        raise AssertionError("B's lan0 output for SA %#x is wrong:\n%s\n%s\n%s" % (
            spi, msg, ("A's ESP for it was already wrong:\n" + side_a) if side_a
            else "A's ESP for it passed the scapy checks", b2b.describe()))


@pytest.mark.matrix
def test_backtoback_totals(b2b):
    """Both sides: nothing unexpected, counters exact."""
    n = len(b2b.a.frames)
    b2b.a.check(b2b.res_a)
    b2b.res_a.assert_counters(rx=n, tx=n, encrypted=n, only_drops={})
    b2b.res_b.assert_ok()
    b2b.exp_b.check(b2b.res_b.frames, context=b2b.describe())
    assert not b2b.res_b.out.get("wan0"), "B sends nothing back"
    b2b.res_b.assert_counters(rx=n, tx=n, decrypted=n, encrypted=0, only_drops={})
