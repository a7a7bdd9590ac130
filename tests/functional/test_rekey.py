"""Make-before-break rekey under constant traffic (lib/ce/ce_sadb.c
ce_rekey_poll): `sa-add` of an outbound SA with `replaces: <old spi>`
installs it unused; the outbound policies move to it when a new inbound SA
(with `replaces`) from the same `remote` authenticates its first packet, or
after rekey.switch_timeout_ms (event rekey-switch, detail peer-uses-new-sa
or timeout). No packet is lost: not at the switch, and not when the old SA
is deleted afterwards (the policies still name the old SPI; an alias
resolves it to the new SA).

How the traffic is made (2 CPUs; one gateway at a time):
  * outbound: lan0 replays a pcap of the old SA's policy traffic forever
    (net_pcap infinite_rx=1): the packets are encrypted afresh, so the
    replay is constant traffic. Judged by counters: stats (rx, encrypted,
    tx, drops) and each SA's `packets` (sa-show), read in one pipelined
    burst of requests (in-flight tolerance at that instant), and exactly
    after the SIGTERM drain (rx == tx, no drop).
  * the peer's first packet on the new inbound SA must come at a moment
    the test chooses, which a pcap cannot do (it is read at start). So
    test_switch_on_peer_packet runs the gateway inside a network namespace
    the test creates (ip netns add; a veth pair; no addresses; IPv6 off so
    the kernel sends nothing), wan0 = net_af_packet on one end, and the
    test writes frames into the other end with an AF_PACKET socket when it
    wants (sgtest.steady.VethNS). The namespace is deleted in teardown.
    wan0's ESP goes into the veth and is dropped by the kernel.
  * the timeout switch needs no inbound packet: wan0 = net_null.

The tests:
  test_switch_on_peer_packet   switch at the peer's first authenticated
                               packet on the new inbound SA (veth), not
                               before (old SA's packets, a forged one);
                               then sa-del of the old SA
  test_switch_by_timeout       switch by timeout; sa-del; a second rekey
                               through the alias
  test_inbound_overlap         finite: both inbound SPIs accepted, the new
                               SA passing the selectors of the policies that
                               name the SA it replaces
  test_rekey_generations       24 outbound rekeys in a row (alias chain)
  test_inbound_generations     12 inbound rekeys in a row, old SA deleted
                               each time (veth)
  test_old_sa_gone_before_switch  the old SA deleted / hard-expired while the
                               new one waits for the switch: the new one
                               must take the traffic
"""

import os
import time

import pytest

from sgtest import live, steady, topo, traffic
from sgtest.scenario import OutScenario, Scenario

GCM = "aes-128-gcm"
CBC = "aes-128-cbc+hmac-sha256-128"
O1, O2, O3 = 0x2000, 0x2100, 0x2200          # outbound: old, new, newer
I1, I2 = 0x1000, 0x1100                       # inbound: old, new
SLACK = 1 << 15       # packets in flight between two readings of one snapshot


def rekey_scenario(rng, switch_ms, iface=None, i2_in_file=False):
    """Outbound SA O1 (eager, its policy's traffic replayed forever into
    lan0) and inbound SA I1 from the same peer (172.17.0.1); O2 replaces
    O1, I2 replaces I1 (not configured: added with sa-add, unless
    i2_in_file: then I2 is in the file with a policy of its own)."""
    sc = OutScenario(rng=rng, dep=topo.out_deployment(lan_tx=False))
    steady.infinite_out(sc.dep)
    if iface:
        steady.af_packet(sc.dep, "wan0", iface)
    sc.dep.extra["rekey"] = {"switch_timeout_ms": switch_ms}
    o1 = sc.flow(0, GCM, install="eager")
    i1 = topo.make_flow(0, GCM, rng=rng, install="eager")
    sc.dep.add_sa(i1.sa, i1.policies)
    o2 = topo.make_out_flow(0, CBC, rng=rng, spi=O2, replaces=O1)
    o3 = topo.make_out_flow(0, GCM, rng=rng, spi=O3, replaces=O2)
    i2 = topo.make_flow(0, CBC, rng=rng, spi=I2, replaces=I1, install="eager")
    if i2_in_file:
        sc.dep.add_sa(i2.sa, i2.policies)
    assert o1.sa.remote == o2.sa.remote == i1.sa.remote == i2.sa.remote
    frames = [fr for _, fr in o1.packets(64, size=100)]
    return sc, frames, (o1, o2, o3, i1, i2)


def snapshot(c, spis):
    """stats and each outbound SA's packets, read in one burst; an SA
    that does not exist reads None."""
    reqs = [("stats", {})] + [("sa-show", {"spi": "%#x" % s, "dir": "out"}) for s in spis]
    rep = c.pipeline(reqs)
    assert rep[0]["ok"], rep[0]
    per = {s: (r["sa"]["packets"] if r.get("ok") else None) for s, r in zip(spis, rep[1:])}
    return rep[0]["stats"], per


def no_drops(st, allowed=None):
    have = {k: v for k, v in st["drop"].items() if v}
    assert have == (allowed or {}), "drops: %s" % have


def consistent(st, per, decrypted=0):
    """Every packet received was encrypted by one of the SAs (in flight
    aside), and nothing was dropped."""
    tot = sum(v for v in per.values() if v)
    assert abs(st["encrypted"] - tot) <= SLACK, (st["encrypted"], per)
    assert 0 <= st["rx"] - st["encrypted"] - decrypted <= SLACK, st


def wait_grow(c, spi, what, timeout=10):
    """Wait until SA spi carries traffic; returns its packets."""
    deadline = time.monotonic() + timeout
    v = 0
    while time.monotonic() < deadline:
        v = c.sa_show(spi, "out")["packets"]
        if v > 0:
            return v
        time.sleep(0.05)
    raise AssertionError("%s: SA %#x carries nothing" % (what, spi))


def frozen_and_growing(c, old, new, pause=0.3):
    """old's packets do not move any more, new's do."""
    time.sleep(0.05)                    # what was classified before the switch
    _, a = snapshot(c, [old, new])
    time.sleep(pause)
    st, b = snapshot(c, [old, new])
    assert a[old] == b[old], "old SA %#x still encrypts after the switch: %s -> %s" \
        % (old, a, b)
    assert b[new] > a[new], "new SA %#x does not carry the traffic: %s -> %s" % (new, a, b)
    return st, b


def finish(g, decrypted=0, allowed=None):
    res = g.stop()
    res.assert_ok()
    s = res.stats
    ctx = res.describe()
    assert s.drops() == (allowed or {}), ctx
    assert s.get_count("rx") == s.get_count("tx") + sum((allowed or {}).values()), ctx
    assert s.get_count("tx") == s.get_count("encrypted") + s.get_count("decrypted"), ctx
    assert s.get_count("decrypted") == decrypted, ctx
    return res


@pytest.fixture
def vethns():
    ns = steady.VethNS("sgtrk%d" % os.getpid())
    try:
        yield ns
    finally:
        ns.close()


@pytest.mark.parametrize("new_in", ["sa-add", "file"])
def test_switch_on_peer_packet(new_in, vethns, spigate_bin, workdir, seed_rng):
    """switch_timeout_ms = 60000. Under constant outbound traffic on O1,
    sa-add O2 (replaces O1) and I2 (replaces I1; or, new_in = file, I2
    configured from the start with a policy of its own): nothing switches
    and O2 stays unused while the peer sends on I1 only or sends a forged
    packet on I2 (auth_failed); the first authenticated packet on I2 makes
    O2 take over (rekey-switch, peer-uses-new-sa): O1 stops, O2 carries
    everything; both inbound SPIs are accepted. Then sa-del O1 under
    traffic: nothing lost, O2 goes on (the policy still names O1's SPI).
    No drop but the forged packet; after SIGTERM rx == tx + 1 exactly."""
    sc, frames, (o1, o2, _, i1, i2) = rekey_scenario(
        seed_rng, 60000, iface=vethns.inner, i2_in_file=(new_in == "file"))
    with live.Live(sc.dep, frames, workdir, spigate_bin, netns=vethns.name) as g:
        c = g.ctl()
        ev = g.events()
        wait_grow(c, O1, "before the rekey")
        c.sa_add(o2.sa)
        if new_in == "sa-add":
            c.sa_add(i2.sa)
        assert c.sa_show(O2, "out")["state"] == "installed"
        # the peer still on the old inbound SA, then a forged packet on the new one
        vethns.send([fr for _, fr in i1.packets(2, size=80)])
        _, fr = i2.packets(1, size=80)[0]
        vethns.send([traffic.flip_icv(fr)])
        time.sleep(0.5)
        st, per = snapshot(c, [O1, O2])
        assert ev.of("rekey-switch") == [], ev.events
        assert per[O2] == 0 and per[O1] > 0, per
        no_drops(st, {"auth_failed": 1})
        consistent(st, per, decrypted=2)
        # the peer's first packets on the new inbound SA
        vethns.send([fr for _, fr in i2.packets(3, size=80)])
        time.sleep(0.1)
        for spi, n, drop in ((I1, 2, {}), (I2, 3, {"auth_failed": 1})):
            sh = c.sa_show(spi, "in")
            assert (sh["packets"], sh["drop"]) == (n, drop), \
                "inbound SA %#x: %d packets forwarded and drops %s expected: %s" \
                % (spi, n, drop, sh)
        e = ev.wait(lambda e: e["type"] == "rekey-switch", "rekey-switch", timeout=3)
        assert int(e["spi"], 16) == O2 and e["detail"] == "peer-uses-new-sa", e
        st, per = frozen_and_growing(c, O1, O2)
        no_drops(st, {"auth_failed": 1})
        consistent(st, per, decrypted=5)
        # the old outbound SA goes
        c.sa_del(O1, "out")
        time.sleep(0.05)
        _, a = snapshot(c, [O2])
        time.sleep(0.3)
        st, b = snapshot(c, [O2])
        assert b[O2] > a[O2], (a, b)
        assert (O1, "out") not in c.sa_spis("out")
        pols = [p for p in c.ok("policy-list")["policies"] if p["dir"] == "out"]
        assert [p["sa"] for p in pols] == ["0x%08x" % O1], pols
        no_drops(st, {"auth_failed": 1})
        assert len(ev.of("rekey-switch")) == 1, ev.events
        ev.close()
        finish(g, decrypted=5, allowed={"auth_failed": 1})


def test_switch_by_timeout(spigate_bin, workdir, seed_rng):
    """switch_timeout_ms = 300 and the peer never sends on the new inbound
    SA: O2 (replaces O1) takes over 300 ms after it was added
    (rekey-switch, timeout); O1 stops; sa-del O1: O2 goes on. A second
    rekey, O3 replaces O2, then sa-del O2: O3 carries the policy that still
    names O1 (alias O1 -> O2 -> O3). Zero drops throughout; after SIGTERM
    rx == tx == encrypted exactly."""
    sc, frames, (o1, o2, o3, i1, i2) = rekey_scenario(seed_rng, 300)
    with live.Live(sc.dep, frames, workdir, spigate_bin) as g:
        c = g.ctl()
        ev = g.events()
        wait_grow(c, O1, "before the rekey")
        c.sa_add(i2.sa)
        c.sa_add(o2.sa)
        added = ev.wait(lambda e: e["type"] == "sa-added" and int(e["spi"], 16) == O2,
                        "sa-added O2")
        e = ev.wait(lambda e: e["type"] == "rekey-switch", "rekey-switch", timeout=5)
        assert int(e["spi"], 16) == O2 and e["detail"] == "timeout", e
        dt = e["time_ms"] - added["time_ms"]
        assert 300 <= dt <= 700, "switched %d ms after the add" % dt
        st, per = frozen_and_growing(c, O1, O2)
        no_drops(st)
        consistent(st, per)
        c.sa_del(O1, "out")
        time.sleep(0.05)
        st, a = snapshot(c, [O2])
        time.sleep(0.3)
        st, b = snapshot(c, [O2])
        assert b[O2] > a[O2], (a, b)
        no_drops(st)
        # rekey again: O3 replaces O2, whose predecessor is gone
        c.sa_add(o3.sa)
        e = ev.wait(lambda e: e["type"] == "rekey-switch" and int(e["spi"], 16) == O3,
                    "rekey-switch O3", timeout=5)
        assert e["detail"] == "timeout", e
        st, per = frozen_and_growing(c, O2, O3)
        no_drops(st)
        c.sa_del(O2, "out")
        time.sleep(0.05)
        st, a = snapshot(c, [O3])
        time.sleep(0.3)
        st, b = snapshot(c, [O3])
        assert b[O3] > a[O3], (a, b)
        assert c.sa_spis("out") == {(O3, "out")}
        no_drops(st)
        ev.close()
        finish(g)


def test_inbound_overlap(spigate_bin, workdir, seed_rng):
    """Inbound rekey: I2 replaces I1 (both configured; the policies name
    I1 only). The peer sends on I1, then on I2, then a late packet on I1
    again: all of them are accepted and forwarded, byte for byte: the new
    SA's packets pass the selectors of the SA it replaces."""
    sc = Scenario(rng=seed_rng)
    i1 = sc.flow(0, GCM, install="eager")
    i2 = topo.make_flow(0, CBC, rng=seed_rng, spi=I2, replaces=I1, install="eager")
    i2.next_idx = 1000                       # its own tags: same flow, new SA
    sc.dep.add_sa(i2.sa)                     # no policy of its own
    sc.send_valid(i1, 5)
    sc.send_valid(i2, 5)
    sc.send_valid(i1, 2)
    res = sc.run(workdir, spigate_bin)
    sc.check(res)
    res.assert_counters(rx=12, tx=12, decrypted=12, only_drops={})


def test_rekey_generations(spigate_bin, workdir, seed_rng):
    """An SA rekeyed again and again, as IKE does every lifetime: 24
    generations, each `sa-add` of O(k+1) replacing O(k), switch by timeout
    (50 ms), then `sa-del` of O(k). The only policy still names O1's SPI
    (resolved through the aliases the deleted SAs leave). After every
    generation the newest SA carries all the traffic; zero drops; after
    SIGTERM rx == tx exactly."""
    sc, frames, (o1, _, _, _, _) = rekey_scenario(seed_rng, 50)
    gens = [o1] + [topo.make_out_flow(0, GCM if k % 2 else CBC, rng=seed_rng,
                                      spi=0x3000 + k, replaces=(O1 if k == 1 else 0x3000 + k - 1))
                   for k in range(1, 25)]
    with live.Live(sc.dep, frames, workdir, spigate_bin) as g:
        c = g.ctl()
        ev = g.events()
        wait_grow(c, O1, "before the first rekey")
        for k in range(1, len(gens)):
            old, new = gens[k - 1].spi, gens[k].spi
            c.sa_add(gens[k].sa)
            ev.wait(lambda e: e["type"] == "rekey-switch" and int(e["spi"], 16) == new,
                    "rekey-switch of generation %d (%#x)" % (k, new), timeout=5)
            try:
                st, per = frozen_and_growing(c, old, new, pause=0.1)
                no_drops(st)
            except AssertionError as e:
                raise AssertionError("generation %d (%#x replaces %#x): %s"
                                     % (k, new, old, e)) from None
            c.sa_del(old, "out")
            time.sleep(0.05)
            _, a = snapshot(c, [new])
            time.sleep(0.1)
            st, b = snapshot(c, [new])
            assert b[new] > a[new], "generation %d: %#x stopped after sa-del %#x: %s -> %s; " \
                "stats %s" % (k, new, old, a, b, st)
            no_drops(st)
        assert c.sa_spis("out") == {(gens[-1].spi, "out")}
        ev.close()
        finish(g)


def test_inbound_generations(vethns, spigate_bin, workdir, seed_rng):
    """Inbound rekeys in a row, as IKE does them: I(k+1) is added with
    `replaces: I(k)` (sa-add), the peer sends on both during the overlap,
    then I(k) is deleted. The only inbound policy names I1, long gone
    after the first generations: each new SA still gets its selectors
    (through the chain of replacements) and forwards every packet; 12
    generations; zero drops; after SIGTERM rx == tx == decrypted
    exactly. (wan0: net_af_packet in a namespace, so the packets can be
    sent after each sa-add; lan0: net_null.)"""
    sc = Scenario(rng=seed_rng)
    steady.af_packet(sc.dep, "wan0", vethns.inner)
    lan = sc.dep.port("lan0")
    lan.device, lan.io, lan.vdev_args = "net_null1", "none", ["no-rx=1"]
    gens = [sc.flow(0, GCM, install="eager")]
    for k in range(1, 12):
        f = topo.make_flow(0, CBC if k % 2 else GCM, rng=seed_rng, spi=0x1200 + k,
                           replaces=gens[-1].spi)
        f.next_idx = 1000 * k
        gens.append(f)
    sent = 0
    with live.Live(sc.dep, [], workdir, spigate_bin, netns=vethns.name) as g:
        c = g.ctl()
        vethns.send([fr for _, fr in gens[0].packets(3, size=80)])
        sent += 3
        for k in range(1, len(gens)):
            old, new = gens[k - 1], gens[k]
            c.sa_add(new.sa)
            vethns.send([fr for _, fr in old.packets(1, size=80)] +
                        [fr for _, fr in new.packets(3, size=80)])
            sent += 4
            time.sleep(0.1)
            sh = c.sa_show(new.spi, "in")
            assert (sh["packets"], sh["drop"]) == (3, {}), \
                "generation %d (%#x replaces %#x, policy names %#x): %s" \
                % (k + 1, new.spi, old.spi, I1, sh)
            c.sa_del(old.spi, "in")
        st = c.stats()
        assert st["rx"] == sent and st["tx"] == sent, st
        res = g.stop()
    res.assert_counters(rx=sent, tx=sent, decrypted=sent, only_drops={})


@pytest.mark.parametrize("how", ["sa-del", "hard-lifetime"])
def test_old_sa_gone_before_switch(how, spigate_bin, workdir, seed_rng):
    """O2 (replaces O1) is installed and waits for the peer (switch
    timeout 60 s), and O1 goes first: deleted by the operator, or at its
    hard lifetime (2 s). The traffic of O1's policy must go on through
    O2 at once, not be held for an SA that is already there: no
    hold_overflow / hold_timeout / unknown_spi; at O1's hard lifetime at
    most a few bursts already on their way to O1 may count as
    lifetime_expired. After SIGTERM rx == tx + those exactly."""
    sc, frames, (o1, o2, _, _, _) = rekey_scenario(seed_rng, 60000)
    if how == "hard-lifetime":
        o1.sa.lifetime = {"hard": {"seconds": 2}}
    with live.Live(sc.dep, frames, workdir, spigate_bin) as g:
        c = g.ctl()
        ev = g.events()
        wait_grow(c, O1, "before the rekey")
        c.sa_add(o2.sa)
        time.sleep(0.2)
        st, per = snapshot(c, [O1, O2])
        assert per[O2] == 0 and ev.of("rekey-switch") == [], (per, ev.events)
        if how == "sa-del":
            c.sa_del(O1, "out")
        ev.wait(lambda e: e["type"] == "sa-removed" and int(e["spi"], 16) == O1,
                "sa-removed O1", timeout=5)
        time.sleep(0.1)
        _, a = snapshot(c, [O2])
        time.sleep(0.3)
        st, b = snapshot(c, [O2])
        drops = {k: v for k, v in st["drop"].items() if v}
        assert b[O2] > a[O2], "O2 does not carry O1's traffic after O1 went: %s -> %s, " \
            "drops %s, events %s" % (a, b, drops, ev.events[-6:])
        lost = drops.pop("lifetime_expired", 0)
        assert drops == {} and (how == "hard-lifetime" and lost <= 128 or lost == 0), \
            "drops %s, lifetime_expired %d" % (drops, lost)
        ev.close()
        finish(g, allowed={"lifetime_expired": lost} if lost else None)
