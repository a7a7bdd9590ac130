"""Helpers the test modules share: build a deployment from flows, run it,
check egress and counters with one call."""

import random

from . import expect, gateway, topo


class Scenario:
    """A deployment, the frames sent into wan0 and the frames that must
    come out of lan0 (per SPI, in order)."""

    def __init__(self, layout="shared", crypto="cpu", rng=None):
        self.dep = topo.deployment(layout=layout, crypto=crypto)
        self.rng = rng or random.Random()
        self.frames = []
        self.expected = expect.Expected()
        self.flows = []

    def flow(self, i, algo, mode="4in4", natt=False, **kw):
        f = topo.make_flow(i, algo, mode, natt, rng=self.rng, **kw)
        self.dep.add_sa(f.sa, f.policies)
        self.flows.append(f)
        return f

    def expect(self, key, inner):
        self.expected.add_inner(self.dep, key, inner)

    def send(self, frame):
        self.frames.append(frame)

    def send_valid(self, flow, n, **kw):
        """n valid packets of flow, expected out; returns the frames."""
        out = []
        for inner, frame in flow.packets(n, **kw):
            self.frames.append(frame)
            self.expect(flow.spi, inner)
            out.append(frame)
        return out

    def run(self, workdir, bin_path, **kw):
        return gateway.run(self.dep, self.frames, workdir, bin_path=bin_path, **kw)

    def check(self, res, key=None):
        """Egress must be exactly the expected frames (or, with key, that
        key's frames must be right)."""
        res.assert_ok()
        self.expected.check(res.frames, key=key, context=res.describe())
