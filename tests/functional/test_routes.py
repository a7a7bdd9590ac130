"""Routes and neighbours changed at runtime (lib/ce/ce_route.c, the control
ops route-add, route-del, neighbor-add, neighbor-del; docs/control.md).

Every change builds a new forwarding table and swaps it in under RCU; the
CFE (bypass) and the DFE (decrypted inbound) read the published one. What
is proven here, and how:

  test_ops_and_errors     every op ok and every error (bad field, unknown
                          port, duplicate, missing, neighbour in use,
                          malformed object); route-list after each (file
                          items first, then runtime ones; an error changes
                          nothing); then the daemon still forwards (the
                          held-traffic proof of test_control.py).
  test_cli                spigatectl route add/del, neighbor add/del: human
                          output, --json, exit statuses.
  test_wire               frames injected at chosen moments (veth in a
                          namespace) into wan0, bypass and ESP, to a
                          destination with no route (no_route), after
                          route-add (forwarded, Ethernet header of the
                          route's next hop), after route-del (no_route
                          again), and through a neighbour whose MAC
                          changes; lan0's capture compared byte for byte
                          with frames computed from the test's own model
                          of the table (sgtest Deployment.next_hop).
  test_churn_zero_loss    constant traffic (wan0 replays ESP and bypass
                          frames forever) to file routes while 200 route
                          changes of unrelated prefixes run: no drop at
                          any time, and after SIGTERM rx == tx exactly.
  test_pinned_stale       an installed outbound SA keeps the egress it
                          resolved at install after its route moves
                          (capture: its packets keep the old next hop's
                          MAC), the replies name it in pinned_stale; an SA
                          added afterwards takes the new route.
"""

import os
import time

import pytest
from scapy.layers.ipsec import ESP
from scapy.layers.l2 import Ether

from sgtest import control, expect, live, steady, topo, traffic
from sgtest.config import Neighbor, Policy, Route
from sgtest.scenario import OutScenario, Scenario

import test_control as tc

GCM = "aes-128-gcm"


def routes_of(r):
    return [dict(x) for x in r["routes"]], [dict(x) for x in r["neighbors"]]


def file_lists(dep):
    routes = [dict({"dst": r.dst, "port": r.port}, **({"via": r.via} if r.via else {}))
              for r in dep.routes]
    nbrs = [{"ip": n.ip, "mac": n.mac, "port": n.port} for n in dep.neighbors]
    return routes, nbrs


@pytest.fixture
def gw(spigate_bin, workdir, seed_rng):
    g = tc.start(spigate_bin, workdir, seed_rng)
    try:
        yield g
    finally:
        g.g.__exit__(None, None, None)


R_NEW = {"dst": "10.50.0.0/16", "port": "lan0", "via": topo.R4}
R_ONLINK6 = {"dst": "2001:db8:50::/64", "port": "lan0"}
N_NEW = {"ip": "192.168.105.3", "mac": "02:00:00:00:01:03", "port": "lan0"}

# (request, exact error) -- each refused, nothing changes
ERRORS = [
    ({"op": "route-add"}, '"route": an object with the keys of a route (dst, port, via)'),
    ({"op": "route-add", "route": "10.9.0.0/16"},
     '"route": an object with the keys of a route (dst, port, via)'),
    ({"op": "route-add", "route": [R_NEW]},
     '"route": an object with the keys of a route (dst, port, via)'),
    ({"op": "route-add", "route": {"port": "lan0"}}, "route: missing 'dst'"),
    ({"op": "route-add", "route": {"dst": "10.9.0.0/16"}}, "route: missing 'port'"),
    ({"op": "route-add", "route": {"dst": "10.9.0.1/16", "port": "lan0"}},
     "route.dst: '10.9.0.1/16' has bits set beyond /16"),
    ({"op": "route-add", "route": {"dst": "10.9.0.0/33", "port": "lan0"}},
     "route.dst: '10.9.0.0/33' is not an IPv4 or IPv6 prefix"),
    ({"op": "route-add", "route": {"dst": "10.9.0.0/16", "port": "lan0", "colour": "red"}},
     "route.colour: unknown key"),
    ({"op": "route-add", "route": {"dst": "10.9.0.0/16", "port": "lan0", "via": "fe80::1"}},
     "route.via: IPv6 next hop for an IPv4 dst"),
    ({"op": "route-add", "route": {"dst": "10.9.0.0/16", "port": "lan7"}},
     'route.port: no port named "lan7" in GATEWAY_CONF'),
    ({"op": "route-add", "route": {"dst": "10.9.0.0/16", "port": "lan0", "via": "192.168.105.99"}},
     "route.via: no neighbor 192.168.105.99 on port lan0"),
    ({"op": "route-add", "route": {"dst": "10.9.0.0/16", "port": "wan0", "via": topo.R4}},
     "route.via: no neighbor 192.168.105.2 on port wan0"),
    ({"op": "route-add", "route": {"dst": "192.168.200.0/24", "port": "lan0"}},
     "route to 192.168.200.0/24 exists: delete it first"),
    ({"op": "route-add", "route": R_NEW}, "route to 10.50.0.0/16 exists: delete it first"),
    ({"op": "route-del"}, '"route": an object with the dst of a route'),
    ({"op": "route-del", "route": {}}, "route: missing 'dst'"),
    ({"op": "route-del", "route": {"dst": "nonsense"}},
     "route.dst: 'nonsense' is not an IPv4 or IPv6 prefix"),
    ({"op": "route-del", "route": {"dst": "10.99.0.0/16"}}, "no route to 10.99.0.0/16"),
    ({"op": "route-del", "route": {"dst": "10.50.0.0/16", "port": "wan0"}},
     "route to 10.50.0.0/16 is on port lan0, not wan0"),
    ({"op": "route-del", "route": {"dst": "10.50.0.0/16", "via": "192.168.105.3"}},
     "route to 10.50.0.0/16 has via 192.168.105.2, not via 192.168.105.3"),
    ({"op": "neighbor-add"}, '"neighbor": an object with the keys of a neighbor (ip, mac, port)'),
    ({"op": "neighbor-add", "neighbor": 5},
     '"neighbor": an object with the keys of a neighbor (ip, mac, port)'),
    ({"op": "neighbor-add", "neighbor": {"ip": "192.168.105.4", "port": "lan0"}},
     "neighbor: missing 'mac'"),
    ({"op": "neighbor-add", "neighbor": {"ip": "192.168.105.4", "mac": "02:00:00:00:01", "port": "lan0"}},
     "neighbor.mac: '02:00:00:00:01' is not a MAC address (\"02:00:00:00:00:01\")"),
    ({"op": "neighbor-add", "neighbor": {"ip": "192.168.105.4", "mac": "01:00:5e:00:00:01", "port": "lan0"}},
     "neighbor.mac: 01:00:5e:00:00:01 is not a unicast MAC address"),
    ({"op": "neighbor-add", "neighbor": {"ip": "192.168.105.300", "mac": "02:00:00:00:01:04", "port": "lan0"}},
     "neighbor.ip: '192.168.105.300' is not an IPv4 or IPv6 address"),
    ({"op": "neighbor-add", "neighbor": {"ip": "192.168.105.4", "mac": "02:00:00:00:01:04", "port": "eth9"}},
     'neighbor.port: no port named "eth9" in GATEWAY_CONF'),
    ({"op": "neighbor-add", "neighbor": dict(N_NEW, mac="02:00:00:00:01:33")},
     "neighbor 192.168.105.3 on port lan0 exists: delete it first"),
    ({"op": "neighbor-del", "neighbor": [1]}, '"neighbor": an object with the ip and port of a neighbor'),
    ({"op": "neighbor-del", "neighbor": {"ip": "192.168.105.3"}}, "neighbor: missing 'port'"),
    ({"op": "neighbor-del", "neighbor": {"ip": "192.168.105.9", "port": "lan0"}},
     "no neighbor 192.168.105.9 on port lan0"),
    ({"op": "neighbor-del", "neighbor": {"ip": "192.168.105.3", "port": "wan0"}},
     "no neighbor 192.168.105.3 on port wan0"),
    ({"op": "neighbor-del", "neighbor": dict(N_NEW, mac="02:00:00:00:01:44")},
     "neighbor 192.168.105.3 on port lan0 has another mac"),
    ({"op": "neighbor-del", "neighbor": {"ip": topo.R4, "port": "lan0"}},
     "neighbor 192.168.105.2 on port lan0 is the next hop of the route to "
     "192.168.200.0/24: delete or change that route first"),
]


def test_ops_and_errors(gw):
    """Each op's ok reply (the item, pinned_stale), route-list after each:
    the file's items, then the runtime ones in order. Every refusal of
    ERRORS, exactly, with route-list unchanged; the daemon forwards after
    all of it."""
    conf = gw.g.pr.conf
    routes, nbrs = file_lists(gw.sc.dep)
    assert routes_of(gw.request({"op": "route-list"})) == (routes, nbrs)

    r = gw.request({"op": "neighbor-add", "neighbor": N_NEW})
    assert r == {"ok": True, "neighbor": N_NEW, "pinned_stale": []}, r
    nbrs.append(N_NEW)
    r = gw.request({"op": "route-add", "route": R_NEW})
    assert r == {"ok": True, "route": R_NEW, "pinned_stale": []}, r
    routes.append(R_NEW)
    r = gw.request({"op": "route-add", "route": R_ONLINK6})
    assert r == {"ok": True, "route": R_ONLINK6, "pinned_stale": []}, r
    routes.append(R_ONLINK6)
    assert routes_of(gw.request({"op": "route-list"})) == (routes, nbrs)

    for req, err in ERRORS:
        r = gw.request(req)
        assert r == {"ok": False, "error": err.replace("GATEWAY_CONF", conf)}, (req, r)
        assert routes_of(gw.request({"op": "route-list"})) == (routes, nbrs), req
    gw.still_held()

    # deletions: by dst (port and via, when given, must match), by (ip, port)
    r = gw.request({"op": "route-del", "route": {"dst": "10.50.0.0/16", "port": "lan0",
                                                  "via": topo.R4}})
    assert r == {"ok": True, "route": R_NEW, "pinned_stale": []}, r
    routes.remove(R_NEW)
    r = gw.request({"op": "neighbor-del", "neighbor": {"ip": N_NEW["ip"], "port": "lan0"}})
    assert r == {"ok": True, "neighbor": N_NEW, "pinned_stale": []}, r
    nbrs.remove(N_NEW)
    # a file route and the file neighbour it needed
    r = gw.request({"op": "route-del", "route": {"dst": topo.BEHIND_R4}})
    assert r["ok"] and r["route"] == {"dst": topo.BEHIND_R4, "port": "lan0", "via": topo.R4}, r
    routes.remove(r["route"])
    r = gw.request({"op": "neighbor-del", "neighbor": {"ip": topo.R4, "port": "lan0",
                                                        "mac": topo.R4_MAC}})
    assert r["ok"], r
    nbrs.remove({"ip": topo.R4, "mac": topo.R4_MAC, "port": "lan0"})
    assert routes_of(gw.request({"op": "route-list"})) == (routes, nbrs)
    # the same item again: gone
    assert gw.request({"op": "route-del", "route": {"dst": topo.BEHIND_R4}}) == \
        {"ok": False, "error": "no route to 192.168.200.0/24"}
    # the deleted route comes back after its neighbour (appended at the end)
    n = {"ip": topo.R4, "mac": topo.R4_MAC, "port": "lan0"}
    assert gw.request({"op": "route-add", "route": {"dst": topo.BEHIND_R4, "port": "lan0",
                                                     "via": topo.R4}})["error"] == \
        "route.via: no neighbor 192.168.105.2 on port lan0"
    assert gw.request({"op": "neighbor-add", "neighbor": n})["ok"]
    rt = {"dst": topo.BEHIND_R4, "port": "lan0", "via": topo.R4}
    assert gw.request({"op": "route-add", "route": rt})["ok"]
    assert routes_of(gw.request({"op": "route-list"})) == (routes + [rt], nbrs + [n])
    gw.still_held()
    gw.prove()


def test_cli(gw):
    """spigatectl route add/del, neighbor add/del: human output, --json
    (the daemon's reply line), exit 1 on a refusal, exit 2 on bad usage
    (the socket not touched)."""
    r = gw.ctl("neighbor", "add", "192.168.105.3", "mac=02:00:00:00:01:03", "port=lan0")
    assert (r.returncode, r.stdout, r.stderr) == \
        (0, "added neighbor 192.168.105.3 mac 02:00:00:00:01:03 port lan0\n", ""), r
    r = gw.ctl("route", "add", "10.50.0.0/16", "port=lan0", "via=192.168.105.3")
    assert (r.returncode, r.stdout) == \
        (0, "added route 10.50.0.0/16 port lan0 via 192.168.105.3\n"), r
    r = gw.ctl("--json", "route", "add", "2001:db8:50::/64", "port=lan0")
    assert r.returncode == 0 and tc.json.loads(r.stdout) == \
        {"ok": True, "route": R_ONLINK6, "pinned_stale": []}, r
    r = gw.ctl("route", "add", "10.50.0.0/16", "port=lan0")
    assert (r.returncode, r.stdout, r.stderr) == \
        (1, "", "spigatectl: route to 10.50.0.0/16 exists: delete it first\n"), r
    r = gw.ctl("neighbor", "del", "192.168.105.3", "port=lan0")
    assert r.returncode == 1 and "next hop of the route to 10.50.0.0/16" in r.stderr, r
    r = gw.ctl("--json", "neighbor", "add", "192.168.105.4", "mac=zz", "port=lan0")
    assert r.returncode == 1 and tc.json.loads(r.stdout)["error"].startswith("neighbor.mac:"), r
    r = gw.ctl("route", "del", "10.50.0.0/16")
    assert (r.returncode, r.stdout) == \
        (0, "deleted route 10.50.0.0/16 port lan0 via 192.168.105.3\n"), r
    r = gw.ctl("route", "del", "2001:db8:50::/64")
    assert r.returncode == 0, r
    r = gw.ctl("neighbor", "del", "192.168.105.3", "port=lan0")
    assert (r.returncode, r.stdout) == \
        (0, "deleted neighbor 192.168.105.3 mac 02:00:00:00:01:03 port lan0\n"), r
    r = gw.ctl("route", "del", "10.50.0.0/16")
    assert (r.returncode, r.stderr) == (1, "spigatectl: no route to 10.50.0.0/16\n"), r
    for args in (["route", "add"], ["route", "add", "port=lan0"],
                 ["route", "add", "10.1.0.0/16", "lan0"],
                 ["route", "add", "10.1.0.0/16", "port=a", "port=b"],
                 ["route", "del"], ["route", "del", "10.1.0.0/16", "port=lan0"],
                 ["neighbor"], ["neighbor", "add"], ["neighbor", "list"],
                 ["neighbor", "del", "1.2.3.4", "=lan0"]):
        r = gw.ctl(*args)
        assert r.returncode == 2 and "Try 'spigatectl --help'" in r.stderr, (args, r)
    assert routes_of(gw.request({"op": "route-list"})) == file_lists(gw.sc.dep)
    gw.prove()


# -- on the wire ------------------------------------------------------------------

DST_NET = "10.50.0.0/16"
DSTS = ["10.50.0.7", "10.50.3.9"]
BYP_SRC = "172.30.0.1"
M1, M2 = "02:00:00:00:05:01", "02:00:00:00:05:02"


@pytest.fixture
def vethns():
    ns = steady.VethNS("sgtrt%d" % os.getpid())
    try:
        yield ns
    finally:
        ns.close()


def wait_counts(c, rx, tx, no_route, timeout=10):
    deadline = time.monotonic() + timeout
    st = None
    while time.monotonic() < deadline:
        st = c.stats()
        if (st["rx"], st["tx"], st["drop"]["no_route"]) == (rx, tx, no_route):
            others = {k: v for k, v in st["drop"].items() if v and k != "no_route"}
            assert not others, st
            return st
        time.sleep(0.02)
    raise AssertionError("expected rx %d tx %d no_route %d: %s" % (rx, tx, no_route, st))


def test_wire(vethns, spigate_bin, workdir, seed_rng):
    """wan0 = net_af_packet in a namespace: bypass frames (172.30.0.1 ->
    10.50.x, an inbound bypass policy) and ESP frames of an SA whose inner
    packets go to 10.50.x, injected step by step; lan0's capture must be,
    byte for byte, what the test's model of the table gives at each step:
      1. no route to 10.50.0.0/16            -> no_route
      2. route-add via R4                    -> to R4's MAC
      3. route-del                           -> no_route
      4. on-link route-add + neighbours M1   -> to M1
      5. neighbor-del + neighbor-add, M2     -> to M2 (the MAC change)
      6. IPv6: route-add/del of an on-link prefix with a neighbour
      7. route-del                           -> no_route"""
    sc = Scenario(rng=seed_rng)
    steady.af_packet(sc.dep, "wan0", vethns.inner)
    sc.dep.port("lan0").io = "tx"
    f = topo.make_flow(0, GCM, rng=seed_rng)
    f.dsts = DSTS
    sc.dep.add_sa(f.sa, [Policy("in", f.src_net, DST_NET, action="protect", sa=f.spi)])
    sc.dep.policies += [Policy("in", "172.30.0.0/16", DST_NET, action="bypass", priority=10),
                        Policy("in", "2001:db8:30::/64", "2001:db8:50::/64",
                               action="bypass", priority=10)]
    model = sc.dep                                  # mirrors the gateway's table
    expected = []
    sent = tx = no_route = 0
    idx = [0]

    def bypass_inner(dst, n):
        out = []
        for _ in range(n):
            src = BYP_SRC if ":" not in dst else "2001:db8:30::1"
            out.append(traffic.inner_packet(src, dst, "udp", 64 + idx[0], flow_id=7,
                                            idx=idx[0]))
            idx[0] += 1
        return out

    with live.Live(sc.dep, [], workdir, spigate_bin, netns=vethns.name) as g:
        c = g.ctl()

        def step(routed):
            """2 bypass frames, then 2 ESP frames (each pair waited for:
            the output order is then fixed)."""
            nonlocal sent, tx, no_route
            byp = bypass_inner(DSTS[0], 1) + bypass_inner(DSTS[1], 1)
            esp = f.packets(2, size=90)
            for frames, inners in (([traffic.ether(p, topo.WAN_MAC, topo.PEER_MAC) for p in byp],
                                    byp), ([fr for _, fr in esp], [i for i, _ in esp])):
                vethns.send(frames)
                sent += len(frames)
                for inner in inners:
                    want = expect.forwarded(model, inner)
                    assert (want is not None) == routed
                    if want is None:
                        no_route += 1
                    else:
                        expected.append(want)
                        tx += 1
                wait_counts(c, sent, tx, no_route)

        def ok(op, **kw):
            r = c.ok(op, **kw)
            assert r["pinned_stale"] == [], r
            return r

        step(False)                                               # 1
        ok("route-add", route={"dst": DST_NET, "port": "lan0", "via": topo.R4})
        model.routes.append(Route(DST_NET, "lan0", topo.R4))
        step(True)                                                # 2
        ok("route-del", route={"dst": DST_NET})
        model.routes.pop()
        step(False)                                               # 3
        ok("route-add", route={"dst": DST_NET, "port": "lan0"})
        for d in DSTS:
            ok("neighbor-add", neighbor={"ip": d, "mac": M1, "port": "lan0"})
            model.neighbors.append(Neighbor(d, M1, "lan0"))
        model.routes.append(Route(DST_NET, "lan0"))
        step(True)                                                # 4
        for d in DSTS:
            ok("neighbor-del", neighbor={"ip": d, "port": "lan0"})
            ok("neighbor-add", neighbor={"ip": d, "mac": M2, "port": "lan0"})
        model.neighbors = [n for n in model.neighbors if n.ip not in DSTS] + \
            [Neighbor(d, M2, "lan0") for d in DSTS]
        step(True)                                                # 5
        # IPv6 bypass: no route, on-link route + neighbour, deleted again
        d6 = "2001:db8:50::7"
        for phase in ("none", "routed", "deleted"):
            if phase == "routed":
                ok("route-add", route={"dst": "2001:db8:50::/64", "port": "lan0"})
                ok("neighbor-add", neighbor={"ip": d6, "mac": M1, "port": "lan0"})
                model.routes.append(Route("2001:db8:50::/64", "lan0"))
                model.neighbors.append(Neighbor(d6, M1, "lan0"))
            elif phase == "deleted":
                ok("route-del", route={"dst": "2001:db8:50::/64"})
                model.routes.pop()
            p6 = bypass_inner(d6, 2)
            vethns.send([traffic.ether(p, topo.WAN_MAC, topo.PEER_MAC) for p in p6])
            sent += 2
            for p in p6:
                want = expect.forwarded(model, p)
                assert (want is not None) == (phase == "routed")
                if want is None:
                    no_route += 1
                else:
                    expected.append(want)
                    tx += 1
            wait_counts(c, sent, tx, no_route)                    # 6
        ok("route-del", route={"dst": DST_NET})
        model.routes = [r for r in model.routes if r.dst != DST_NET]
        step(False)                                               # 7
        res = g.stop()
    res.assert_counters(rx=sent, tx=tx, only_drops={"no_route": no_route})
    assert tx == 12 + 2 and no_route == 12 + 4, (tx, no_route)
    out = [bytes(x) for x in res.frames]
    assert len(out) == len(expected), "lan0 sent %d frames, %d expected\n%s" % (
        len(out), len(expected), res.describe())
    for k, (have, want) in enumerate(zip(out, expected)):
        assert have == want, "frame %d differs at byte %s:\n%s\n%s" % (
            k, expect.first_diff(have, want), have.hex(), want.hex())
    macs = [Ether(x).dst for x in out]
    assert macs[:4] == [topo.R4_MAC.lower()] * 4 and macs[4:8] == [M1] * 4 and \
        macs[8:12] == [M2] * 4 and macs[12:] == [M1] * 2, macs


# -- constant traffic while routes change ---------------------------------------------

def test_churn_zero_loss(spigate_bin, workdir, seed_rng):
    """wan0 replays forever ESP frames of one SA (to H4 on the on-link file
    route and to 192.168.200.x via R4) and bypass frames to H4; lan0 is
    net_null. 200 route changes (add and del of unrelated IPv4 and IPv6
    prefixes, on-link and via) run meanwhile. No drop at any time; both
    kinds of traffic keep flowing during the churn; after SIGTERM
    rx == tx == decrypted + bypassed exactly."""
    sc = Scenario(rng=seed_rng)
    steady.infinite_in(sc.dep)
    # installed at start: a lazy install under a flood punts and holds
    # the first packets, and on a loaded box the policer and the hold
    # queue drop some of them (by design) before the SA is in place
    f = sc.flow(0, GCM, replay_window=0, install="eager")
    sc.dep.policies.append(Policy("in", "172.30.0.0/16", "192.168.105.0/24",
                                  action="bypass", priority=10))
    frames = []
    for i, (inner, fr) in enumerate(f.packets(32, size=100)):
        frames.append(fr)
        b = traffic.inner_packet(BYP_SRC, topo.H4, "udp", 100, flow_id=9, idx=i)
        frames.append(traffic.ether(b, topo.WAN_MAC, topo.PEER_MAC))
    with live.Live(sc.dep, frames, workdir, spigate_bin) as g:
        c = g.ctl()
        g.wait_stats(lambda s: s["decrypted"] > 1000 and s["bypassed"] > 1000, "traffic")
        before = c.stats()
        t0 = time.monotonic()
        for k in range(50):
            for req in (("route-add", {"route": {"dst": "10.80.%d.0/24" % k, "port": "lan0",
                                                 "via": topo.R4}}),
                        ("route-add", {"route": {"dst": "2001:db8:80:%x::/64" % k,
                                                 "port": "lan0"}}),
                        ("route-del", {"route": {"dst": "10.80.%d.0/24" % k}}),
                        ("route-del", {"route": {"dst": "2001:db8:80:%x::/64" % k}})):
                r = c.request(req[0], **req[1])
                assert r["ok"] and r["pinned_stale"] == [], (req, r)
            if k % 10 == 9:
                st = c.stats()
                assert not any(st["drop"].values()), st
        took = time.monotonic() - t0
        after = c.stats()
        assert not any(after["drop"].values()), after
        assert after["decrypted"] > before["decrypted"] and \
            after["bypassed"] > before["bypassed"], (before, after)
        assert routes_of(c.ok("route-list")) == file_lists(sc.dep)
        res = g.stop()
    res.assert_ok()
    s = res.stats
    assert s.drops() == {}, res.describe()
    assert s.get_count("rx") == s.get_count("tx") == \
        s.get_count("decrypted") + s.get_count("bypassed"), res.describe()
    print("200 route changes in %.2f s under %d packets" % (took, s.get_count("rx")))


# -- SA-pinned egress ----------------------------------------------------------------

A, B = 0x2000, 0x2001


def test_pinned_stale(vethns, spigate_bin, workdir, seed_rng):
    """Outbound SA A (eager) toward 172.17.0.1 resolved GW4 (PEER_MAC) at
    start. A /32 route moves 172.17.0.1 to GW4B (PEER2_MAC): the reply
    names A in pinned_stale, and A's packets still leave to PEER_MAC. SA B
    to the same peer, added afterwards (its packets held until then),
    takes the new route (PEER2_MAC). Deleting the /32 makes B stale and A
    current; deleting the /16 too leaves both resolving to nothing (both
    stale); A still sends on its pinned egress. lan0 = net_af_packet in a
    namespace (clear frames injected at chosen moments); wan0's capture
    is checked per SPI."""
    dep = topo.out_deployment(lan_tx=False)
    sc = OutScenario(rng=seed_rng, dep=dep)
    steady.af_packet(sc.dep, "lan0", vethns.inner)
    sc.dep.ingress = None                           # lan0 has no pcap now
    sc.dep.extra["hold"] = {"packets": 64, "timeout_ms": 3600000}
    fa = sc.flow(0, GCM, install="eager")
    fb = topo.make_out_flow(1, GCM, rng=seed_rng, spi=B, remote=fa.sa.remote)
    sc.dep.policies += fb.policies                  # B itself: sa-add, later
    assert fa.sa.remote == "172.17.0.1"
    s_a, s_b = "0x%08x" % A, "0x%08x" % B
    with live.Live(sc.dep, [], workdir, spigate_bin, netns=vethns.name) as g:
        c = g.ctl()

        def inject(flow, n):
            vethns.send([fr for _, fr in flow.packets(n, size=80)])

        def stale(op, **kw):
            return c.ok(op, **kw)["pinned_stale"]

        inject(fa, 2)
        g.wait_stats(lambda s: s["tx"] == 2, "A's first packets")
        assert stale("neighbor-add", neighbor={"ip": topo.GW4B, "mac": topo.PEER2_MAC,
                                               "port": "wan0"}) == []
        assert stale("route-add", route={"dst": "172.17.0.1/32", "port": "wan0",
                                         "via": topo.GW4B}) == [s_a]
        inject(fa, 2)
        inject(fb, 2)                                   # held: B does not exist yet
        g.wait_stats(lambda s: s["tx"] == 4 and s["held"] == 2, "A's packets, B's held")
        r = c.sa_add(fb.sa)
        assert r["sa"]["state"] in ("installing", "installed"), r
        g.wait_stats(lambda s: s["tx"] == 6, "B's held packets")
        assert stale("route-add", route={"dst": "10.77.0.0/16", "port": "lan0",
                                         "via": topo.R4}) == [s_a]
        assert stale("route-del", route={"dst": "172.17.0.1/32"}) == [s_b]
        assert stale("route-del", route={"dst": "172.17.0.0/16"}) == [s_a, s_b]
        inject(fa, 1)
        g.wait_stats(lambda s: s["tx"] == 7, "A's packet after its route went")
        st = c.stats()
        assert not any(st["drop"].values()), st
        res = g.stop()
    res.assert_counters(rx=7, tx=7, encrypted=7, only_drops={})
    per = {}
    for fr in res.frames:
        e = Ether(bytes(fr))
        per.setdefault(e[ESP].spi, []).append(e.dst)
    assert per == {A: [topo.PEER_MAC] * 5, B: [topo.PEER2_MAC] * 2}, per
