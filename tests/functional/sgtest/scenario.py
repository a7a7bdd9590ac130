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


class OutScenario:
    """An outbound deployment (topo.out_deployment), the clear frames sent
    into lan0, and what must leave: per outbound SA the packets it must
    protect (in order), plus bypassed packets (sgtest.outcheck)."""

    def __init__(self, layout="shared", crypto="cpu", rng=None, wan1=False, dep=None):
        from . import outcheck
        self.dep = dep or topo.out_deployment(layout=layout, crypto=crypto, wan1=wan1)
        self.rng = rng or random.Random()
        self.frames = []
        self.out = outcheck.OutExpected(self.dep)
        self.flows = []

    def flow(self, i, algo, mode="4in4", natt=False, **kw):
        f = topo.make_out_flow(i, algo, mode, natt, rng=self.rng, **kw)
        self.add_sa(f.sa, f.policies)
        self.flows.append(f)
        return f

    def add_sa(self, sa, policies=()):
        self.dep.add_sa(sa, policies)
        self.out.add_sa(sa)
        return sa

    def send(self, frame):
        self.frames.append(frame)

    def send_inner(self, inner):
        """Send a clear packet into lan0 (from its source host's MAC)."""
        from .traffic import lan_frame
        self.frames.append(lan_frame(inner))

    def protect(self, spi, inner, frag=False):
        self.out.protect(spi, inner, frag=frag)

    def bypass(self, inner, key="bypass"):
        self.out.bypass(inner, key)

    def send_valid(self, flow, n, **kw):
        """n packets of flow into lan0, each expected out through its SA;
        returns the inner packets."""
        out = []
        for inner, frame in flow.packets(n, **kw):
            self.frames.append(frame)
            self.protect(flow.spi, inner)
            out.append(inner)
        return out

    def run(self, workdir, bin_path, **kw):
        return gateway.run(self.dep, self.frames, workdir, bin_path=bin_path, **kw)

    def report(self, res):
        """The outcheck Report of res (computed once per Result: scapy
        decrypts every ESP frame)."""
        rep = getattr(res, "_outreport", None)
        if rep is None:
            rep = res._outreport = self.out.compare(res.out)
        return rep

    def check(self, res, spi=None):
        """Everything captured (wan0, lan0, wan1) must be exactly what is
        expected (or, with spi, that SA's packets must be right). Returns
        the outcheck Report."""
        res.assert_ok()
        if res.missing_ports:
            raise AssertionError("no capture written for port(s) %s\n%s"
                                 % (res.missing_ports, res.describe()))
        rep = self.report(res)
        msg = rep.render(spi)
        if msg:
            raise AssertionError(res.describe() + "\n" + msg)
        return rep
