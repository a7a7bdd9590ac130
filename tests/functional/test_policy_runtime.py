"""Security policies changed at runtime (policy-add, policy-del over the
control socket; lib/ce/ce_policy.c): the new policy set is checked,
compiled into a new SPD, published to the CFEs with one atomic store and
the old one freed after an RCU grace period; inbound SAs get new
selectors the same way. Punts name a policy by its stable uid, held
packets follow their policy into the new set.

Finite runs (pcap read once at start; byte-exact by sgtest.outcheck):
  test_policy_ops_and_errors   every reply, every error; nothing changes
                               on an error; the daemon forwards after all
  test_hold_survives_change    4 packets held for an SA not configured;
                               policies added and removed around them;
                               sa-add releases them, in order, byte-exact
  test_del_policy_drops_held   deleting the policy that holds packets
                               drops them as no_policy, exactly
Constant traffic (net_pcap infinite_rx, judged by counters, exactly after
the SIGTERM drain):
  test_add_del_on_the_wire     traffic without policy (no_policy) gets a
                               protect policy, then loses it; an unrelated
                               flow goes on through 200 policy changes
                               with zero loss
  test_inbound_selectors       an inbound SA's selector removed and put
                               back while its traffic flows
                               (policy_mismatch, then decrypted again)
"""

import json
import time

import pytest

from sgtest import control, live, steady, topo
from sgtest.config import Policy
from sgtest.control import sa_json
from sgtest.scenario import OutScenario, Scenario

from test_control import GCM, CBC, EST, HELD, N, N_EST, N_HELD, start, spi_s, Gw
from test_control import gw  # noqa: F401 (the fixture: a gateway holding 4 packets)


def plist(gw):
    r = gw.request({"op": "policy-list"})
    assert r["ok"], r
    return r["policies"]


def pol(direction, src, dst, **kw):
    d = {"dir": direction, "src": src, "dst": dst}
    d.update(kw)
    return d


def listed(p):
    """p as policy-list shows it (defaults filled in)."""
    d = {"proto": "any", "sport": "any", "dport": "any", "priority": 0}
    d.update(p)
    if "sa" in d:
        d["sa"] = spi_s(int(str(d["sa"]), 0))
    return d


# -- replies and errors ---------------------------------------------------------------

ERRORS = [
    ({"op": "policy-add"}, '^"policy": an object'),
    ({"op": "policy-add", "policy": [1]}, '^"policy": an object'),
    ({"op": "policy-add", "policy": pol("out", "bogus", "10.0.0.0/8", action="bypass")},
     "^policy.src: "),
    ({"op": "policy-add", "policy": pol("out", "10.0.0.0/8", "10.0.0.0/8")},
     "^policy: missing 'action'"),
    ({"op": "policy-add", "policy": pol("out", "10.0.0.0/8", "10.0.0.0/8",
                                        action="protect")},
     "^policy.*sa"),
    ({"op": "policy-add", "policy": pol("out", "10.0.0.0/8", "10.0.0.0/8",
                                        action="bypass", color="red")},
     "^policy.color: unknown key"),
    ({"op": "policy-add", "policy": pol("out", "10.0.0.0/8", "2001:db8::/32",
                                        action="bypass")},
     "^policy.dst: IPv6 prefix, src is IPv4$"),
    # inbound protect: the SA must exist (as in the file)
    ({"op": "policy-add", "policy": pol("in", "10.9.0.0/16", "192.168.0.0/16",
                                        action="protect", sa="0x7777")},
     "^policy \\d+: no dir in SA with spi 0x7777 \\(add the SA first\\)$"),
    # a tunnel SA carries one inner family: EST is 4in4
    ({"op": "policy-add", "policy": pol("out", "2001:db8:100::/40", "2001:db8:a::/64",
                                        action="protect", sa=spi_s(EST))},
     "^policy \\d+: SA 0x2000 carries IPv4 traffic; a tunnel SA carries one inner IP family$"),
    ({"op": "policy-del"}, '^give "policy"'),
    ({"op": "policy-del", "index": 0, "policy": {}}, '^give "policy"'),
    ({"op": "policy-del", "index": "0"}, "^index: must be an integer$"),
    ({"op": "policy-del", "index": 99}, "^index: 99 is not a policy \\(there are 5\\)$"),
    ({"op": "policy-del", "index": -1}, "^index: -1 is not a policy"),
    ({"op": "policy-del", "policy": pol("out", "192.168.99.0/24", "0.0.0.0/0",
                                        action="discard", priority=199)},
     "^no such policy"),
]


def test_policy_ops_and_errors(gw):
    """policy-add appends (index = the old count, the reply shows it as
    policy-list will), policy-del by keys and by index; every error
    answers ok:false with its reason and changes nothing; then the held
    packets are released and everything leaves byte-exact."""
    import re
    before = plist(gw)
    assert len(before) == 5, before
    for req, want in ERRORS:
        r = gw.request(req)
        assert r["ok"] is False and set(r) == {"ok", "error"}, (req, r)
        assert re.search(want, r["error"]), (req, r["error"], want)
        assert plist(gw) == before, req
    gw.still_held()

    # 16 inbound selectors per SA at most: an inbound SA with 16 policies
    r = gw.request({"op": "sa-add", "sa": {"spi": "0x4000", "dir": "in", "mode": "tunnel",
                                           "aead": GCM, "key": "0x" + "11" * 20,
                                           "local": topo.WAN4, "remote": "172.17.0.40"}})
    assert r["ok"], r
    for k in range(16):
        p = pol("in", "10.40.%d.0/24" % k, "192.168.0.0/16", action="protect", sa="0x4000")
        r = gw.request({"op": "policy-add", "policy": p})
        assert r["ok"] and r["index"] == 5 + k and r["policy"] == listed(p), r
    r = gw.request({"op": "policy-add", "policy": pol("in", "10.40.16.0/24", "192.168.0.0/16",
                                                      action="protect", sa="0x4000")})
    assert r == {"ok": False, "error": "policy 21: SA 0x4000 is named by more than 16 "
                 "inbound protect policies"}, r
    assert len(plist(gw)) == 21
    # delete them again: by index (the last), by keys (the rest)
    r = gw.request({"op": "policy-del", "index": 20})
    assert r["ok"] and r["index"] == 20 and r["policy"]["src"] == "10.40.15.0/24", r
    for k in range(15):
        p = pol("in", "10.40.%d.0/24" % k, "192.168.0.0/16", action="protect", sa="0x4000",
                priority=0)
        r = gw.request({"op": "policy-del", "policy": p})
        assert r["ok"] and r["index"] == 5, r
    assert plist(gw) == before

    # add, list, delete a policy of every shape
    shapes = [pol("out", "192.168.7.0/24", "10.77.0.0/16", proto="tcp", sport="1000-2000",
                  dport=443, action="discard", priority=7),
              pol("out", "2001:db8:100::/40", "2001:db8:77::/48", proto=17, action="bypass"),
              pol("in", "198.51.100.0/24", "192.168.105.0/24", action="bypass", priority=3),
              pol("out", "192.168.0.0/16", "10.78.0.0/16", action="protect", sa="0x5555")]
    for k, p in enumerate(shapes):
        r = gw.request({"op": "policy-add", "policy": p})
        want = listed(p)
        if want["proto"] in ("tcp", 17):
            want["proto"] = {"tcp": 6, 17: 17}[want["proto"]]
        assert r == {"ok": True, "index": 5 + k, "policy": want}, r
    assert plist(gw)[:5] == before and len(plist(gw)) == 9
    for p in plist(gw)[5:]:
        r = gw.request({"op": "policy-del", "policy": p})
        assert r["ok"] and r["index"] == 5 and r["policy"] == p, r
    assert plist(gw) == before
    gw.still_held()
    gw.prove()


def test_hold_survives_change(gw):
    """Packets held for SA HELD (its policy is policies[0]... in the file)
    stay held while other policies are added before and after it in the
    list and removed, then leave first and in order once the SA is added:
    the held queue moved with its policy into each new set."""
    before = plist(gw)
    for k in range(10):
        p = pol("out", "192.168.%d.0/24" % (50 + k), "10.200.%d.0/24" % k, action="discard")
        assert gw.request({"op": "policy-add", "policy": p})["ok"]
        gw.still_held()
    # remove the file's first policy (EST's protect policy, the traffic of
    # which has passed already) and a runtime one in the middle
    assert gw.request({"op": "policy-del", "index": 7})["ok"]
    r = gw.request({"op": "policy-del", "index": 0})
    assert r["ok"] and r["policy"]["sa"] == spi_s(EST), r
    gw.still_held()
    assert [p for p in plist(gw) if p.get("sa") == spi_s(HELD)] == \
        [p for p in before if p.get("sa") == spi_s(HELD)]
    gw.prove()


def test_del_policy_drops_held(spigate_bin, workdir, seed_rng):
    """Deleting the policy whose packets are held drops them as no_policy,
    all 4, at once; what was sent before is untouched (byte-exact); a later
    sa-add of that SA has nothing to release."""
    sc = OutScenario(rng=seed_rng)
    sc.dep.extra["hold"] = {"packets": 64, "timeout_ms": 3600000}
    est = sc.flow(0, GCM, "4in4", install="eager")
    sc.send_valid(est, N_EST)
    held = topo.make_out_flow(1, CBC, "4in4", rng=seed_rng, spi=HELD)
    sc.dep.policies += held.policies
    sc.out.add_sa(held.sa)
    for _, frame in held.packets(N_HELD):
        sc.send(frame)                       # never expected out
    with control.Running(sc.dep, sc.frames, workdir, spigate_bin) as g:
        gw = Gw(sc, g, held.sa)
        g.wait({"op": "stats"}, lambda r: r["stats"]["held"] == N_HELD and
               r["stats"]["tx"] == N_EST, "the start traffic")
        k = [i for i, p in enumerate(plist(gw)) if p.get("sa") == spi_s(HELD)]
        assert k == [1], plist(gw)
        r = gw.request({"op": "policy-del", "index": 1})
        assert r["ok"], r
        st = g.wait({"op": "stats"}, lambda r: r["stats"]["drop"]["no_policy"] == N_HELD,
                    "the held packets dropped")["stats"]
        assert (st["rx"], st["tx"], st["held"]) == (N, N_EST, N_HELD), st
        assert {k: v for k, v in st["drop"].items() if v} == {"no_policy": N_HELD}, st
        r = gw.request({"op": "sa-add", "sa": sa_json(held.sa)})
        assert r["ok"], r
        time.sleep(0.2)
        r = gw.request({"op": "sa-show", "spi": HELD, "dir": "out"})
        assert r["sa"]["packets"] == 0 and r["sa"]["held"] == 0, r
        res = g.stop()
    assert res.returncode == 0, res.describe()
    sc.check(res)
    res.assert_counters(rx=N, tx=N_EST, encrypted=N_EST, held=N_HELD, reinjected=0,
                        only_drops={"no_policy": N_HELD})


# -- constant traffic -------------------------------------------------------------------

SLACK = 1 << 15


def snapshot(c, spis):
    reqs = [("stats", {})] + [("sa-show", {"spi": "%#x" % s, "dir": "out"}) for s in spis]
    rep = c.pipeline(reqs)
    assert rep[0]["ok"], rep[0]
    return rep[0]["stats"], {s: r["sa"]["packets"] for s, r in zip(spis, rep[1:])}


def grows(read, what, timeout=10):
    a = read()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        time.sleep(0.1)
        b = read()
        if b > a:
            return b
    raise AssertionError("%s does not grow: %s" % (what, a))


def frozen(read, what, pause=0.3):
    time.sleep(0.05)
    a = read()
    time.sleep(pause)
    b = read()
    assert a == b, "%s still moves: %s -> %s" % (what, a, b)
    return b


def test_add_del_on_the_wire(spigate_bin, workdir, seed_rng):
    """lan0 replays forever: flow A (policy and eager SA 0x2000 in the
    file) and flow B (eager SA 0x2001 in the file, no policy: no_policy).
    policy-add of B's protect policy: B's SA starts encrypting, no_policy
    stops growing; policy-del: B's SA stops, no_policy grows again. Then
    200 policy-add/del of unrelated policies while A flows. After the
    SIGTERM drain: every packet received is accounted for exactly: rx =
    encrypted + no_policy, encrypted = A's + B's packets, no other drop."""
    sc = OutScenario(rng=seed_rng, dep=topo.out_deployment(lan_tx=False))
    steady.infinite_out(sc.dep)
    a = sc.flow(0, GCM, install="eager")
    b = topo.make_out_flow(1, CBC, rng=seed_rng, install="eager")
    sc.add_sa(b.sa)                      # no policy
    frames = []
    for (_, fa), (_, fb) in zip(a.packets(32, size=100), b.packets(32, size=100)):
        frames += [fa, fb]
    SA_A, SA_B = a.spi, b.spi
    bpol = {"dir": "out", "src": b.policies[0].src, "dst": b.policies[0].dst,
            "action": "protect", "sa": "%#x" % SA_B, "priority": 100}
    with live.Live(sc.dep, frames, workdir, spigate_bin) as g:
        c = g.ctl()
        nopol = lambda: snapshot(c, [SA_A])[0]["drop"]["no_policy"]
        pk = lambda s: snapshot(c, [s])[1][s]
        grows(nopol, "no_policy of flow B")
        grows(lambda: pk(SA_A), "SA A")
        assert pk(SA_B) == 0
        r = c.ok("policy-add", policy=bpol)
        assert r["index"] == 1, r
        grows(lambda: pk(SA_B), "SA B after policy-add")
        frozen(nopol, "no_policy after policy-add")
        r = c.ok("policy-del", policy=r["policy"])
        frozen(lambda: pk(SA_B), "SA B after policy-del")
        grows(nopol, "no_policy after policy-del")
        for k in range(100):
            p = {"dir": "out", "src": "192.168.%d.0/24" % (k % 200), "dst": "10.250.%d.0/24" % k,
                 "action": ("discard", "bypass")[k % 2], "priority": 1000 - k}
            c.ok("policy-add", policy=p)
            c.ok("policy-del", index=1)
        st, per = snapshot(c, [SA_A, SA_B])
        assert {k: v for k, v in st["drop"].items() if v and k != "no_policy"} == {}, st
        assert len(c.ok("policy-list")["policies"]) == 1
        res = g.stop()
    res.assert_ok()
    s = res.stats
    ctx = res.describe()
    drops = s.drops()
    assert set(drops) == {"no_policy"}, ctx
    assert s.get_count("rx") == s.get_count("encrypted") + drops["no_policy"], ctx
    assert s.get_count("tx") == s.get_count("encrypted"), ctx


def test_inbound_selectors(spigate_bin, workdir, seed_rng):
    """wan0 replays ESP of inbound SA I forever (replay_window 0). Its
    only selector removed: its packets authenticate, then fail the
    selector check (policy_mismatch) and nothing is forwarded any more;
    a different selector added: still policy_mismatch; the original one
    added back: forwarded again. After the drain: rx = tx +
    policy_mismatch, nothing else dropped."""
    sc = Scenario(rng=seed_rng)
    steady.infinite_in(sc.dep)
    f = sc.flow(0, GCM, install="eager", replay_window=0)
    frames = [fr for _, fr in f.packets(64, size=100)]
    p0 = f.policies[0]
    sel = {"dir": "in", "src": p0.src, "dst": p0.dst, "action": "protect",
           "sa": "%#x" % f.spi, "priority": p0.priority}
    with live.Live(sc.dep, frames, workdir, spigate_bin) as g:
        c = g.ctl()
        st = lambda: c.ok("stats")["stats"]
        dec = lambda: st()["tx"]          # decrypted counts before the check
        mism = lambda: st()["drop"]["policy_mismatch"]
        grows(dec, "decrypted")
        assert mism() == 0
        c.ok("policy-del", index=0)
        frozen(dec, "decrypted without a selector")
        grows(mism, "policy_mismatch")
        other = dict(sel, src="10.99.0.0/16")
        c.ok("policy-add", policy=other)
        frozen(dec, "decrypted with another selector")
        c.ok("policy-add", policy=sel)
        grows(dec, "decrypted with the selector back")
        m = frozen(mism, "policy_mismatch with the selector back")
        assert m > 0
        res = g.stop()
    res.assert_ok()
    s = res.stats
    drops = s.drops()
    assert set(drops) == {"policy_mismatch"}, res.describe()
    assert s.get_count("rx") == s.get_count("tx") + drops["policy_mismatch"], \
        res.describe()


def test_cli_policy_add_del(gw):
    """spigatectl policy add KEY=VALUE..., policy del INDEX and policy del
    KEY=VALUE...: exit 0 and the policy shown; --json prints the daemon's
    reply; an error exits 1 with the daemon's reason; bad usage exits 2
    without touching the daemon."""
    before = plist(gw)
    r = gw.ctl("policy", "add", "dir=out", "src=192.168.9.0/24", "dst=10.9.0.0/16",
               "proto=tcp", "dport=22", "action=discard", "priority=9")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "added policy 5:", r.stdout
    assert lines[2].split() == ["5", "out", "192.168.9.0/24", "10.9.0.0/16", "6", "any", "22",
                                "discard", "-", "9"], r.stdout
    r = gw.ctl("policy", "list")
    assert r.stdout.splitlines()[6].split()[0] == "5", r.stdout
    r = gw.ctl("--json", "policy", "add", "dir=out", "src=192.168.9.0/24",
               "dst=10.10.0.0/16", "action=bypass")
    assert r.returncode == 0 and json.loads(r.stdout)["index"] == 6, r.stdout
    r = gw.ctl("policy", "del", "dir=out", "src=192.168.9.0/24", "dst=10.9.0.0/16",
               "proto=6", "dport=22", "action=discard", "priority=9")
    assert r.returncode == 0 and r.stdout.startswith("deleted policy 5:"), (r.stdout, r.stderr)
    r = gw.ctl("policy", "del", "5")
    assert r.returncode == 0 and r.stdout.startswith("deleted policy 5:"), r.stdout
    assert plist(gw) == before
    r = gw.ctl("policy", "del", "5")
    assert r.returncode == 1 and "index: 5 is not a policy (there are 5)" in r.stderr, r
    r = gw.ctl("policy", "del", "five")
    assert r.returncode == 2 and "not an index" in r.stderr, r
    r = gw.ctl("policy", "add")
    assert r.returncode == 2, r
    assert plist(gw) == before
    gw.prove()
