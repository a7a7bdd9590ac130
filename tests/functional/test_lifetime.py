"""SA lifetimes (lib/ce/ce_punt.c lifetimes(), the DFE's hard packet/byte
checks): soft and hard limits by packets, bytes and seconds, inbound and
outbound, with the events of the control socket's `events` stream.

  * soft: one soft-expire event (detail = the limit kind), the SA goes on;
  * hard: the SA stops (what still reaches it counts as lifetime_expired),
    one hard-expire event, then it is removed (sa-removed, gone from
    sa-list); later packets count as unknown_spi inbound, and outbound are
    held for a new SA (acquire event; hold_overflow/hold_timeout);
  * packet limits are exact (the DFE stops at the limit, packet by
    packet); byte limits are checked per burst (at most one burst of 32
    packets over the limit); seconds are counted from the install and
    checked every 20 ms.

What `bytes` counts: the protected bytes (tunnel mode: the inner
packets), in both directions.

Finite runs (exact counts, byte-exact egress) feed a pcap once; runs over
time replay a pcap forever (sgtest.steady), inbound SAs then have
replay_window 0. Each run is a live gateway stopped with SIGTERM.
"""

import json
import time

import pytest

from sgtest import expect, live, outcheck, steady, topo
from sgtest.scenario import OutScenario, Scenario
from sgtest.traffic import interleave

GCM = "aes-128-gcm"
CBC = "aes-128-cbc+hmac-sha256-128"
SIZE = 100                       # UDP/TCP/ICMP payload bytes of every packet
HOLD = {"packets": 16, "timeout_ms": 200}


def scenario(direction, rng, infinite=False):
    if direction == "in":
        sc = Scenario(rng=rng)
        if infinite:
            steady.infinite_in(sc.dep)
    else:
        sc = OutScenario(rng=rng, dep=topo.out_deployment(lan_tx=not infinite))
        sc.dep.extra["hold"] = dict(HOLD)
        if infinite:
            steady.infinite_out(sc.dep)
    return sc


def flow(sc, direction, i, algo, lifetime=None, infinite=False):
    kw = {"install": "eager"}
    if lifetime:
        kw["lifetime"] = lifetime
    if direction == "in" and infinite:
        kw["replay_window"] = 0
    return sc.flow(i, algo, "4in4", **kw)


def sa_bytes(direction, f, inner):
    """What the SA's `bytes` counter adds for inner: the protected bytes,
    the inner packet (tunnel mode), in both directions."""
    return len(bytes(inner))


def check_egress(sc, direction, res, prefixes):
    """prefixes: {flow: [inner, ...]}: exactly these packets out, each
    once, in order, byte for byte (built after the run, so a prefix whose
    length the run decided can be checked)."""
    if direction == "in":
        exp = expect.Expected()
        for f, inners in prefixes.items():
            for inner in inners:
                exp.add_inner(sc.dep, f.spi, inner)
        exp.check(res.frames, context=res.describe())
    else:
        oe = outcheck.OutExpected(sc.dep)
        for f, inners in prefixes.items():
            oe.add_sa(f.sa)
            for inner in inners:
                oe.protect(f.spi, inner)
        msg = oe.compare(res.out).render()
        if msg:
            raise AssertionError(res.describe() + "\n" + msg)


def wait_rx(c, n, g, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if c.stats()["rx"] >= n:
            return
        assert g.proc.poll() is None, "spigate exited\n" + g.stderr()[-3000:]
        time.sleep(0.05)
    raise AssertionError("rx never reached %d: %s" % (n, c.stats()))


def wait_ev(ev, c, pred, what, timeout=10):
    """ev.wait(), the counters and SAs in the message when it fails."""
    try:
        return ev.wait(pred, what, timeout)
    except AssertionError as e:
        raise AssertionError("%s\nstats: %s\nSAs: %s" % (e, json.dumps(c.stats()),
                                                        c.sa_list())) from None


def types_of(ev, spi):
    return [(e["type"], e.get("detail")) for e in ev.of(spi=spi)]


def conservation(res, allowed):
    """rx == tx + drops exactly (nothing lost without a counter, nothing
    left held: the hold timeout is shorter than the SIGTERM drain), and
    only the allowed drop reasons."""
    res.assert_ok()
    s = res.stats
    drops = s.drops()
    lost = s.get_count("rx") - s.get_count("tx") - sum(drops.values())
    assert lost == 0, "rx != tx + drops: %d packets received and neither sent nor " \
        "counted (punted %d; the CE's drops of punted packets: unknown_spi %d, hold_* %d)\n%s" \
        % (lost, s.get_count("punted"), s.drop("unknown_spi"),
           s.drop("hold_overflow") + s.drop("hold_timeout"), res.describe())
    assert set(drops) <= set(allowed), "unexpected drops %s\n%s" % (drops, res.describe())


# -- packets, finite ----------------------------------------------------------

@pytest.mark.parametrize("direction", ["in", "out"])
def test_packet_limits(direction, spigate_bin, workdir, seed_rng):
    """Three SAs, 10 packets each, interleaved:
    P soft.packets = 5, hard.packets = 7: the first 7 out (sequence numbers
      1..7), 3 lifetime_expired; soft-expire (packets) although the hard
      limit came in the same 20 ms, then hard-expire (packets), sa-removed,
      gone from sa-list;
    S soft.packets = 5, hard.packets = 1000: all 10 out, exactly one
      soft-expire (packets), still installed, lifetime_left.packets = 990;
    N no lifetime: all 10 out, no expire event."""
    sc = scenario(direction, seed_rng)
    p = flow(sc, direction, 0, GCM, {"soft": {"packets": 5}, "hard": {"packets": 7}})
    s = flow(sc, direction, 1, CBC, {"soft": {"packets": 5}, "hard": {"packets": 1000}})
    n = flow(sc, direction, 2, GCM)
    pk = {f: f.packets(10, size=SIZE) for f in (p, s, n)}
    sc.frames = interleave([[fr for _, fr in v] for v in pk.values()])
    with live.Live(sc.dep, sc.frames, workdir, spigate_bin) as g:
        c = g.ctl()
        ev = g.events()
        wait_rx(c, 30, g)
        wait_ev(ev, c, lambda e: e["type"] == "sa-removed" and int(e["spi"], 16) == p.spi,
                "sa-removed of P")
        wait_ev(ev, c, lambda e: e["type"] == "soft-expire" and int(e["spi"], 16) == s.spi,
                "soft-expire of S")
        time.sleep(0.1)                 # a few more lifetime checks: no repeat
        spis = c.sa_spis(direction)
        show_s = c.sa_show(s.spi, direction)
        show_n = c.sa_show(n.spi, direction)
        res = g.stop()
        ev.close()
    ctx = res.describe()
    assert types_of(ev, p.spi) == [("sa-installed", None), ("soft-expire", "packets"),
                                   ("hard-expire", "packets"), ("sa-removed", None)], \
        json.dumps(ev.events) + ctx
    assert types_of(ev, s.spi) == [("sa-installed", None), ("soft-expire", "packets")], \
        json.dumps(ev.events) + ctx
    assert types_of(ev, n.spi) == [("sa-installed", None)], json.dumps(ev.events) + ctx
    assert spis == {(s.spi, direction), (n.spi, direction)}, spis
    assert show_s["state"] == "installed" and show_s["packets"] == 10, show_s
    assert show_s["lifetime_left"] == {"packets": 990}, show_s
    assert show_n["packets"] == 10 and show_n["lifetime_left"] == {}, show_n
    res.assert_counters(rx=30, tx=27, only_drops={"lifetime_expired": 3})
    check_egress(sc, direction, res, {p: [i for i, _ in pk[p][:7]],
                                      s: [i for i, _ in pk[s]], n: [i for i, _ in pk[n]]})


# -- bytes, finite --------------------------------------------------------------

@pytest.mark.parametrize("direction", ["in", "out"])
def test_byte_limits(direction, spigate_bin, workdir, seed_rng):
    """A: hard.bytes crossed in the middle of 300 packets: it forwards
    whole bursts until its bytes reach the limit (at most one burst of 32
    packets beyond), exactly the first packets, in order; the rest count as
    lifetime_expired (or, once it is removed, unknown_spi / held);
    soft.bytes = half of it: soft-expire (bytes), then hard-expire (bytes),
    sa-removed.
    B: soft.bytes just below its total: one soft-expire (bytes) after the
    last packet; its `bytes` counter is exactly the sum of what it carried
    (the inner packets), lifetime_left.bytes = hard - bytes."""
    sc = scenario(direction, seed_rng)
    # the limits depend on the packets' sizes: set once they are built
    a = flow(sc, direction, 0, GCM, {"hard": {"bytes": 1}})
    b = flow(sc, direction, 1, CBC, {"soft": {"bytes": 1}, "hard": {"bytes": 2}})
    pa = a.packets(300, size=SIZE)
    pb = b.packets(60, size=SIZE)
    la = [sa_bytes(direction, a, i) for i, _ in pa]
    lb = [sa_bytes(direction, b, i) for i, _ in pb]
    hard_a = sum(la[:100]) + la[100] // 2           # crossed by packet 101
    b_total = sum(lb)
    a.sa.lifetime = {"soft": {"bytes": hard_a // 2}, "hard": {"bytes": hard_a}}
    b.sa.lifetime = {"soft": {"bytes": b_total - lb[-1] // 2}, "hard": {"bytes": 10 * b_total}}
    a_frames = [fr for _, fr in pa]
    b_frames = [fr for _, fr in pb]
    sc.frames = interleave([a_frames, b_frames])
    total = len(sc.frames)
    with live.Live(sc.dep, sc.frames, workdir, spigate_bin) as g:
        c = g.ctl()
        ev = g.events()
        wait_rx(c, total, g)
        wait_ev(ev, c, lambda e: e["type"] == "sa-removed" and int(e["spi"], 16) == a.spi,
                "sa-removed of A")
        wait_ev(ev, c, lambda e: e["type"] == "soft-expire" and int(e["spi"], 16) == b.spi,
                "soft-expire of B")
        time.sleep(0.1)
        show_b = c.sa_show(b.spi, direction)
        spis = c.sa_spis(direction)
        res = g.stop()
        ev.close()
    ctx = res.describe()
    assert types_of(ev, a.spi) == [("sa-installed", None), ("soft-expire", "bytes"),
                                   ("hard-expire", "bytes"), ("sa-removed", None)], \
        json.dumps(ev.events) + ctx
    assert types_of(ev, b.spi) == [("sa-installed", None), ("soft-expire", "bytes")], \
        json.dumps(ev.events) + ctx
    assert spis == {(b.spi, direction)}, spis
    assert show_b["packets"] == 60 and show_b["bytes"] == b_total, \
        "B: bytes %s, expected %d (%s)" % (show_b["bytes"], b_total, show_b)
    assert show_b["lifetime_left"] == {"bytes": 10 * b_total - b_total}, show_b
    res.assert_ok()
    s = res.stats
    n_a = s.get_count("tx") - 60
    assert 0 < n_a < 300, ctx
    assert sum(la[:n_a]) >= hard_a, "A stopped below its limit: %d packets, %d bytes < %d\n%s" \
        % (n_a, sum(la[:n_a]), hard_a, ctx)
    assert sum(la[:max(0, n_a - 32)]) < hard_a, \
        "A went on more than a burst past its limit: %d packets\n%s" % (n_a, ctx)
    assert s.drop("lifetime_expired") >= 1, ctx
    conservation(res, {"lifetime_expired", "unknown_spi", "hold_overflow", "hold_timeout",
                       "punt_policed"})
    check_egress(sc, direction, res, {a: [i for i, _ in pa[:n_a]], b: [i for i, _ in pb]})


# -- seconds, constant traffic ------------------------------------------------------

@pytest.mark.parametrize("direction", ["in", "out"])
def test_second_limits_under_traffic(direction, spigate_bin, workdir, seed_rng):
    """Constant traffic on A (soft.seconds = 1, hard.seconds = 2) and B
    (no lifetime). soft-expire (seconds) once, 1 s after A's install;
    hard-expire (seconds) 2 s after it, then sa-removed; A is gone from
    sa-list (and /spigate/events has the same events). Afterwards A's
    packets count as unknown_spi (inbound) or are held for a new SA
    (outbound: an acquire event naming A's SPI, hold_overflow and
    hold_timeout grow), while B goes on; at the end every packet received
    is either sent or counted by a drop reason."""
    sc = scenario(direction, seed_rng, infinite=True)
    a = flow(sc, direction, 0, GCM, {"soft": {"seconds": 1}, "hard": {"seconds": 2}},
             infinite=True)
    b = flow(sc, direction, 1, CBC, infinite=True)
    sc.frames = interleave([[fr for _, fr in f.packets(32, size=SIZE)] for f in (a, b)])
    with live.Live(sc.dep, sc.frames, workdir, spigate_bin) as g:
        c = g.ctl()
        ev = g.events()
        first = c.sa_show(a.spi, direction)
        assert 1 <= first["lifetime_left"]["seconds"] <= 2, first
        rem = wait_ev(ev, c, lambda e: e["type"] == "sa-removed" and int(e["spi"], 16) == a.spi,
                      "sa-removed of A", timeout=15)
        t_gone = time.monotonic()
        spis = c.sa_spis(direction)
        st1, b1 = c.stats(), c.sa_show(b.spi, direction)["packets"]
        time.sleep(max(0.0, 0.4 - (time.monotonic() - t_gone)))
        st2, b2 = c.stats(), c.sa_show(b.spi, direction)["packets"]
        tel = g.query("/spigate/events")
        res = g.stop()
        ev.close()
    ctx = res.describe()
    evs = {t: e for e in ev.of(spi=a.spi) for t in [e["type"]]}
    assert types_of(ev, a.spi)[:4] == [("sa-installed", None), ("soft-expire", "seconds"),
                                       ("hard-expire", "seconds"), ("sa-removed", None)], \
        json.dumps(ev.events) + ctx
    t0 = evs["sa-installed"]["time_ms"]
    soft_at = evs["soft-expire"]["time_ms"] - t0
    hard_at = evs["hard-expire"]["time_ms"] - t0
    assert 1000 <= soft_at <= 1400, "soft-expire %d ms after install" % soft_at
    assert 2000 <= hard_at <= 2400, "hard-expire %d ms after install" % hard_at
    assert rem["time_ms"] - evs["hard-expire"]["time_ms"] <= 200, rem
    assert spis == {(b.spi, direction)}, spis
    tel_types = [(v["type"], int(v["spi"], 16)) for k, v in tel.items() if isinstance(v, dict)]
    for t in ("soft-expire", "hard-expire", "sa-removed"):
        assert (t, a.spi) in tel_types, "/spigate/events lacks %s: %s" % (t, tel)
    assert b2 > b1, "B stopped: %d -> %d" % (b1, b2)
    d1, d2 = st1["drop"], st2["drop"]
    if direction == "in":
        assert d2["unknown_spi"] > d1["unknown_spi"], (d1, d2)
        allowed = {"lifetime_expired", "unknown_spi", "punt_policed"}
    else:
        acq = [e for e in ev.of("acquire", a.spi) if e["time_ms"] >= rem["time_ms"]]
        assert acq, "no acquire event for %#x after its removal: %s" % (a.spi, ev.events)
        assert d2["hold_overflow"] > d1["hold_overflow"], (d1, d2)
        assert d2["hold_timeout"] > 0, d2
        assert st2["held"] > st1["held"], (st1, st2)
        allowed = {"lifetime_expired", "hold_overflow", "hold_timeout", "punt_policed"}
    conservation(res, allowed)


# -- packets, constant traffic -------------------------------------------------------

@pytest.mark.parametrize("direction", ["in", "out"])
def test_packet_limits_under_traffic(direction, spigate_bin, workdir, seed_rng):
    """One SA under constant traffic, soft.packets = 300,000, hard.packets
    = 900,000: soft-expire (packets) once, then hard-expire (packets) and
    sa-removed; the gateway sent exactly 900,000 packets in all, and every
    other packet it received is counted by a drop reason."""
    sc = scenario(direction, seed_rng, infinite=True)
    a = flow(sc, direction, 0, GCM, {"soft": {"packets": 300000},
                                     "hard": {"packets": 900000}}, infinite=True)
    sc.frames = [fr for _, fr in a.packets(64, size=SIZE)]
    with live.Live(sc.dep, sc.frames, workdir, spigate_bin) as g:
        c = g.ctl()
        ev = g.events()
        wait_ev(ev, c, lambda e: e["type"] == "sa-removed" and int(e["spi"], 16) == a.spi,
                "sa-removed", timeout=30)
        time.sleep(0.2)
        res = g.stop()
        ev.close()
    ctx = res.describe()
    assert types_of(ev, a.spi)[:4] == [("sa-installed", None), ("soft-expire", "packets"),
                                       ("hard-expire", "packets"), ("sa-removed", None)], \
        json.dumps(ev.events) + ctx
    res.assert_ok()
    assert res.stats.get_count("tx") == 900000, ctx
    assert res.stats.get_count("encrypted" if direction == "out" else "decrypted") == 900000
    conservation(res, {"lifetime_expired", "unknown_spi", "punt_policed", "hold_overflow",
                       "hold_timeout"})
