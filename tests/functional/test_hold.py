"""Hold, not drop: clear traffic whose protect policy's SA is not installed
waits for it.

  * a lazily installed outbound SA (install: lazy, the default) is installed
    on its first packet; what arrived before the install completed leaves
    first, in order, then the rest: all out, in order, none lost;
  * a TCP SYN sent before its SA exists leaves encrypted (no retransmission
    needed);
  * a protect policy naming an SPI that is not configured (an SA to be
    negotiated): its packets are held, bounded per policy
    (hold = { packets = N; } -> hold_overflow) and in time
    (hold = { timeout_ms = T; } -> hold_timeout), counted exactly, and an
    ACQUIRE event naming the SPI and the first packet's 5-tuple is readable
    over telemetry (/spigate/events).
"""

import ipaddress
import json

import pytest

from sgtest import live, traffic
from sgtest.config import Policy
from sgtest.scenario import OutScenario
from sgtest.traffic import interleave

GCM = "aes-128-gcm"
CBC = "aes-128-cbc+hmac-sha256-128"
MISSING = 0x9001                     # SPIs no SA has
MISSING2 = 0x9002


@pytest.mark.layout
@pytest.mark.parametrize("layout,crypto", [("shared", "cpu"), ("split", "lookaside"),
                                           ("split", "cpu")])
def test_lazy_install_holds_and_releases_in_order(layout, crypto, spigate_bin, workdir,
                                                  seed_rng):
    """Two lazy SAs, 64 packets each back to back: every packet out once,
    in order, sequence numbers 1..64 without a gap. The first packet of
    each SA is held (it triggered the install), and held packets are
    released, not dropped."""
    sc = OutScenario(layout=layout, crypto=crypto, rng=seed_rng)
    a = sc.flow(0, GCM, "4in4")
    b = sc.flow(1, CBC, "6in6")
    per = []
    for f in (a, b):
        pk = f.packets(64, size=60)
        for inner, _ in pk:
            sc.protect(f.spi, inner)
        per.append([fr for _, fr in pk])
    sc.frames = interleave(per)
    res = sc.run(workdir, spigate_bin)
    sc.check(res)
    res.assert_counters(rx=128, tx=128, encrypted=128, only_drops={})
    s = res.stats
    held, rein = s.get_count("held"), s.get_count("reinjected")
    assert 2 <= held <= 128, "held = %d: each lazy SA's first packet is held\n%s" % (
        held, res.describe())
    assert 2 <= rein <= held, "reinjected = %d, held = %d\n%s" % (rein, held, res.describe())


@pytest.mark.layout
@pytest.mark.parametrize("crypto", ["cpu", "lookaside"])
def test_tcp_syn_before_sa_exists(crypto, spigate_bin, workdir, seed_rng):
    """A lone TCP SYN per lazy SA (IPv4 tunnel, IPv6 tunnel, IPv4
    transport), nothing after it: each leaves encrypted, byte for byte. The
    install itself releases it; it does not wait for a next packet."""
    sc = OutScenario(crypto=crypto, rng=seed_rng)
    flows = [sc.flow(0, GCM, "4in4"), sc.flow(1, CBC, "6in6"),
             sc.flow(2, "aes-256-gcm", "trans4", natt=True)]
    for f in flows:
        syn = f.inner(proto="tcp", size=20, tcp_flags="S", dport=443)
        sc.send_inner(syn)
        sc.protect(f.spi, syn)
    res = sc.run(workdir, spigate_bin)
    sc.check(res)
    res.assert_counters(rx=3, tx=3, encrypted=3, only_drops={})
    assert res.stats.get_count("held") >= 3, res.describe()


def _missing_sa_scenario(rng, hold, per_missing, missing=(MISSING,), companions=4):
    """An eager SA with companion traffic (never held), and for each SPI in
    `missing` a protect policy naming it (no such SA) with per_missing
    packets, interleaved."""
    sc = OutScenario(rng=rng)
    sc.dep.extra["hold"] = hold
    ok = sc.flow(0, GCM, "4in4", install="eager")
    per = [[]]
    for _ in range(companions):
        inner, fr = ok.packets(1)[0]
        per[0].append(fr)
        sc.protect(ok.spi, inner)
    for j, spi in enumerate(missing):
        sc.dep.policies.append(Policy("out", "192.168.0.0/16", "10.%d.0.0/16" % (100 + j),
                                      proto="udp", action="protect", sa=spi, priority=100))
        per.append([traffic.lan_frame(traffic.inner_packet(
            "192.168.105.%d" % (20 + j), "10.%d.0.%d" % (100 + j, 1 + k), "udp", 50,
            flow_id=0x6000 + j, idx=k, sport=40000 + k, dport=53)) for k in range(per_missing)])
    sc.frames = interleave(per)
    return sc


@pytest.mark.negative
def test_unconfigured_spi_times_out(spigate_bin, workdir, seed_rng):
    """5 packets for an SA that never appears: all 5 held, then dropped as
    hold_timeout after timeout_ms (200 ms; --exit-idle waits until nothing
    is held); the other SA's traffic is not held or disturbed."""
    sc = _missing_sa_scenario(seed_rng, {"timeout_ms": 200}, 5)
    res = sc.run(workdir, spigate_bin, exit_idle=600)
    sc.check(res)
    res.assert_counters(rx=9, tx=4, encrypted=4, held=5, reinjected=0,
                        only_drops={"hold_timeout": 5})


@pytest.mark.negative
def test_unconfigured_spi_overflow(spigate_bin, workdir, seed_rng):
    """hold = { packets = 4; timeout_ms = 200; }: 10 packets for a missing
    SA: 4 held (then timed out), 6 hold_overflow."""
    sc = _missing_sa_scenario(seed_rng, {"packets": 4, "timeout_ms": 200}, 10)
    res = sc.run(workdir, spigate_bin, exit_idle=600)
    sc.check(res)
    res.assert_counters(rx=14, tx=4, encrypted=4, held=4, reinjected=0,
                        only_drops={"hold_overflow": 6, "hold_timeout": 4})


@pytest.mark.negative
def test_hold_bound_is_per_policy(spigate_bin, workdir, seed_rng):
    """Two policies, two missing SPIs, 7 packets each, hold.packets = 4:
    each policy holds its own 4 (8 held, 8 timed out, 6 overflow)."""
    sc = _missing_sa_scenario(seed_rng, {"packets": 4, "timeout_ms": 200}, 7,
                              missing=(MISSING, MISSING2))
    res = sc.run(workdir, spigate_bin, exit_idle=600)
    sc.check(res)
    res.assert_counters(rx=18, tx=4, encrypted=4, held=8, reinjected=0,
                        only_drops={"hold_overflow": 6, "hold_timeout": 8})


@pytest.mark.negative
def test_default_hold_timeout_is_2s(spigate_bin, workdir, seed_rng):
    """Without hold.timeout_ms, held packets wait 2 s. --exit-idle waits
    until nothing is held (CONTRACT.md), so with --exit-idle 200 the run
    lasts at least the 2 s hold, then the 3 held packets are counted as
    hold_timeout."""
    sc = _missing_sa_scenario(seed_rng, {}, 3, companions=1)
    res = sc.run(workdir, spigate_bin, exit_idle=200)
    sc.check(res)
    res.assert_counters(rx=4, tx=1, encrypted=1, held=3,
                        only_drops={"hold_timeout": 3})
    assert 2.0 <= res.elapsed < 8.0, "run took %.1f s: the default hold is 2 s\n%s" % (
        res.elapsed, res.describe())


@pytest.mark.negative
def test_lazy_sa_hold_overflow(spigate_bin, workdir, seed_rng):
    """hold = { packets = 4; }: 20 packets of a lazy SA in one RX burst,
    all classified before the SA exists: the first 4 are held and leave,
    in order, with sequence numbers 1..4; 16 are dropped as hold_overflow."""
    sc = OutScenario(rng=seed_rng)
    sc.dep.extra["hold"] = {"packets": 4}
    f = sc.flow(0, GCM, "4in4")
    for k, (inner, frame) in enumerate(f.packets(20, size=40)):
        sc.send(frame)
        if k < 4:
            sc.protect(f.spi, inner)
    res = sc.run(workdir, spigate_bin)
    sc.check(res)
    res.assert_counters(rx=20, tx=4, encrypted=4, held=4, reinjected=4,
                        only_drops={"hold_overflow": 16})


@pytest.mark.negative
def test_spi_of_an_inbound_sa_only(spigate_bin, workdir, seed_rng):
    """An outbound protect policy naming an SPI that only an INBOUND SA has:
    no outbound SA, so its packets are held and time out; the inbound SA is
    never used to encrypt."""
    from sgtest import topo
    sc = _missing_sa_scenario(seed_rng, {"timeout_ms": 200}, 4, missing=(0x1005,),
                              companions=2)
    inb = topo.make_flow(5, GCM, "4in4", rng=sc.rng)
    assert inb.spi == 0x1005
    sc.dep.add_sa(inb.sa, inb.policies)
    res = sc.run(workdir, spigate_bin, exit_idle=600)
    sc.check(res)
    res.assert_counters(rx=6, tx=2, encrypted=2, held=4, decrypted=0,
                        only_drops={"hold_timeout": 4})


# -- ACQUIRE ----------------------------------------------------------------------------

def _flatten(x, out):
    """Every scalar in a JSON value (strings that are JSON are opened)."""
    if isinstance(x, dict):
        for v in x.values():
            _flatten(v, out)
    elif isinstance(x, (list, tuple)):
        for v in x:
            _flatten(v, out)
    elif isinstance(x, str) and x[:1] in "{[":
        try:
            _flatten(json.loads(x), out)
        except ValueError:
            out.append(x)
    else:
        out.append(x)
    return out


def _events(reply):
    ev = reply.get("events", reply) if isinstance(reply, dict) else reply
    if isinstance(ev, dict):
        ev = [v for _, v in sorted(ev.items(), key=lambda kv: str(kv[0]))]
    out = []
    for e in ev or []:
        if isinstance(e, str) and e[:1] == "{":
            try:
                e = json.loads(e)
            except ValueError:
                pass
        out.append(e)
    return out


def _is_acquire(e):
    vals = _flatten(e, [])
    if isinstance(e, dict):
        return str(e.get("type", "")).lower() == "acquire"
    return any(isinstance(v, str) and v.lower() == "acquire" for v in vals) or \
        (isinstance(e, str) and "acquire" in e.lower())


def _names(e, spi, src, dst, proto, sport, dport):
    """Which of the expected values the event does NOT show (by value,
    whatever the keys are called)."""
    vals = _flatten(e, []) if not isinstance(e, str) else [e]
    strs = set()
    ints = set()
    for v in vals:
        if isinstance(v, bool):
            continue
        if isinstance(v, int):
            ints.add(v)
        elif isinstance(v, str):
            s = v.strip().lower()
            strs.add(s)
            try:
                strs.add(str(ipaddress.ip_address(s.split("/")[0])))
            except ValueError:
                pass
            try:
                ints.add(int(s, 0))
            except ValueError:
                pass
    blob = " ".join(sorted(strs))
    missing = []
    if spi not in ints and ("%#x" % spi) not in blob and ("0x%08x" % spi) not in blob:
        missing.append("spi %#x" % spi)
    for name, a in (("src", src), ("dst", dst)):
        if str(ipaddress.ip_address(a)) not in strs and str(ipaddress.ip_address(a)) not in blob:
            missing.append("%s %s" % (name, a))
    if proto not in ints and {6: "tcp", 17: "udp"}.get(proto, "?") not in strs:
        missing.append("proto %d" % proto)
    for name, port in (("sport", sport), ("dport", dport)):
        if port not in ints and str(port) not in blob:
            missing.append("%s %d" % (name, port))
    return missing


@pytest.mark.negative
def test_acquire_event(spigate_bin, workdir, seed_rng):
    """A packet for a missing SA raises an ACQUIRE event naming the SA's SPI
    and the first packet's source, destination, protocol and ports; the
    held packets then time out and are counted."""
    sc = _missing_sa_scenario(seed_rng, {"timeout_ms": 300}, 3, companions=2)
    first = {"src": "192.168.105.20", "dst": "10.100.0.1", "proto": 17,
             "sport": 40000, "dport": 53}
    n = len(sc.frames)
    with live.Live(sc.dep, sc.frames, workdir, spigate_bin) as g:
        reply = g.wait(lambda r: any(_is_acquire(e) for e in _events(r)),
                       "an ACQUIRE event", cmd="/spigate/events")
        acq = [e for e in _events(reply) if _is_acquire(e)]
        assert acq, reply
        miss = _names(acq[0], MISSING, **first)
        assert not miss, "the first ACQUIRE event does not show %s: %s" % (miss, acq[0])
        g.wait_stats(lambda s: s["rx"] == n and s["drop"]["hold_timeout"] == 3,
                     "the held packets to time out")
        reply = g.query("/spigate/events")
        acq = [e for e in _events(reply) if _is_acquire(e)]
        # docs/telemetry.md: one event per hold episode, with these keys
        assert len(acq) == 1, "one ACQUIRE per hold episode: %s" % reply
        e = acq[0]
        assert int(str(e["spi"]), 0) == MISSING, e
        assert e["policy"] == 1, "index of the policy in `policies`: %s" % e
        assert (e["src"], e["dst"], e["proto"], e["sport"], e["dport"]) == \
            (first["src"], first["dst"], "udp", first["sport"], first["dport"]), e
        res = g.stop()
    assert res.returncode == 0, res.describe()
    sc.check(res)
    res.assert_counters(rx=n, tx=2, encrypted=2, held=3, reinjected=0,
                        only_drops={"hold_timeout": 3})
