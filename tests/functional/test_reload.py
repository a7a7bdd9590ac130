"""reload (lib/ce/ce_reload.c): the policy file read again, only what
changed since it was last loaded applied (docs/control.md#reload).

  test_reload_unchanged        same file: nothing touched, held packets
                               stay held and leave byte-exact afterwards
  test_reload_changes          under constant traffic on SA A (untouched):
                               one SA changed (replaced), one new, one
                               gone, one policy new, one gone; A loses
                               nothing (exact counters after the drain);
                               runtime additions survive; a deleted SA is
                               not brought back
  test_reload_refused          a file with errors, or one that adds an SA
                               added at runtime: ok false, nothing changes
"""

import os
import subprocess
import time

import pytest

from sgtest import control, live, steady, topo
from sgtest.config import Policy, Route
from sgtest.control import sa_json
from sgtest.scenario import OutScenario

from test_control import GCM, CBC, HELD, N_HELD, start, spi_s


def write_policy(dep, workdir):
    path = os.path.join(workdir, "policy.yaml")
    with open(path + ".new", "w") as f:
        f.write(dep.policy_yaml())
    os.rename(path + ".new", path)


def sas(c):
    return sorted((s["spi"], s["dir"], s["state"]) for s in c.ok("sa-list")["sas"])


def test_reload_unchanged(spigate_bin, workdir, seed_rng):
    """reload of the file as it is: every SA unchanged, every policy kept
    (same identity: the 4 packets held by the policy of SA HELD stay
    held); reloading twice changes nothing either; then sa-add releases
    them and everything leaves byte-exact."""
    gw = start(spigate_bin, workdir, seed_rng)
    try:
        before = [gw.request({"op": o}) for o in ("policy-list", "sa-list")]
        r = gw.ctl("reload")
        assert r.returncode == 0 and r.stdout == (
            "SAs: 1 unchanged\nadded     none\nreplaced  none\nremoved   none\n"
            "policies: 5 before, 5 after: 5 unchanged, 0 new from the file, "
            "0 added at runtime (kept)\n"
            "routes: 10 before, 10 after (0 added at runtime, kept); neighbors: 6 before, "
            "6 after (0 at runtime); table not rebuilt\nstale pin none\n"), r
        for _ in range(2):
            r = gw.request({"op": "reload"})
            nr, nn = len(gw.sc.dep.routes), len(gw.sc.dep.neighbors)
            assert r == {"ok": True,
                         "sas": {"added": [], "removed": [], "replaced": [],
                                 "unchanged": len(gw.sc.dep.sas)},
                         "policies": {"before": 5, "after": 5, "unchanged": 5, "new": 0,
                                      "runtime": 0},
                         "routes": {"before": nr, "after": nr, "runtime": 0,
                                    "neighbors_before": nn, "neighbors_after": nn,
                                    "neighbors_runtime": 0, "rebuilt": False},
                         "pinned_stale": []}, r
            assert [gw.request({"op": o}) for o in ("policy-list", "sa-list")] == before
            gw.still_held()
        gw.prove()
    finally:
        gw.g.__exit__(None, None, None)


def test_reload_changes(spigate_bin, workdir, seed_rng):
    """Constant traffic on SA A (eager, its policy in the file). The file
    then: B (eager, no traffic) gets a new key, C is new, D is gone, a
    discard policy is new, D's policy is gone. At runtime before the
    reload: E added with sa-add and a policy added with policy-add; A2
    (eager, in the file) deleted with sa-del. reload: replaced [B], added
    [C], removed [D]; E and the runtime policy stay (the policy after the
    file's); A2 stays deleted. A's traffic is never touched: after the
    SIGTERM drain rx == tx == encrypted and no drop at all."""
    rng = seed_rng
    sc = OutScenario(rng=rng, dep=topo.out_deployment(lan_tx=False))
    steady.infinite_out(sc.dep)
    a = sc.flow(0, GCM, install="eager")
    b = sc.flow(1, CBC, install="eager")
    d = sc.flow(3, GCM)
    a2 = sc.flow(4, GCM, install="eager")
    frames = [fr for _, fr in a.packets(64, size=100)]
    with live.Live(sc.dep, frames, workdir, spigate_bin) as g:
        c = g.ctl()
        deadline = time.monotonic() + 10
        while c.sa_show(a.spi, "out")["packets"] == 0:
            assert time.monotonic() < deadline, "no traffic on A"
            time.sleep(0.05)
        # runtime changes
        e = topo.make_out_flow(5, GCM, rng=rng)
        c.sa_add(e.sa)
        rpol = {"dir": "out", "src": "192.168.0.0/16", "dst": "10.99.0.0/16",
                "action": "bypass", "priority": 5}
        c.ok("policy-add", policy=rpol)
        c.sa_del(a2.spi, "out")
        c.ok("route-add", route={"dst": "10.201.0.0/16", "port": "lan0",
                                 "via": sc.dep.neighbors[1].ip})
        nr, nn = len(sc.dep.routes), len(sc.dep.neighbors)
        # the file changes
        b_new = topo.make_out_flow(1, CBC, rng=rng, install="eager")
        assert b_new.sa.spi == b.spi and b_new.sa.keys != b.sa.keys
        cc = topo.make_out_flow(2, GCM, rng=rng, install="eager")
        dep = sc.dep
        dep.sas = [b_new.sa if s.spi == b.spi else s for s in dep.sas if s.spi != d.spi]
        dep.policies = [p for p in dep.policies if p.sa != d.spi]
        dep.add_sa(cc.sa, cc.policies)
        dep.policies.append(Policy("out", "192.168.77.0/24", "0.0.0.0/0", action="discard",
                                   priority=300))
        dep.routes.append(Route("10.202.0.0/16", "lan0", via=dep.neighbors[1].ip))
        write_policy(dep, g.workdir if hasattr(g, "workdir") else workdir)
        before = c.sa_show(a.spi, "out")["packets"]
        r = c.request("reload")
        assert r == {"ok": True,
                     "sas": {"added": [{"spi": spi_s(cc.spi), "dir": "out"}],
                             "removed": [{"spi": spi_s(d.spi), "dir": "out"}],
                             "replaced": [{"spi": spi_s(b.spi), "dir": "out"}],
                             "unchanged": 2},
                     "policies": {"before": 5, "after": 6, "unchanged": 3, "new": 2,
                                  "runtime": 1},
                     "routes": {"before": nr + 1, "after": nr + 2, "runtime": 1,
                                "neighbors_before": nn, "neighbors_after": nn,
                                "neighbors_runtime": 0, "rebuilt": True},
                     "pinned_stale": []}, r
        rts = [x["dst"] for x in c.ok("route-list")["routes"]]
        assert rts[-2:] == ["10.202.0.0/16", "10.201.0.0/16"], rts
        assert sas(c) == sorted([(spi_s(a.spi), "out", "installed"),
                                 (spi_s(b.spi), "out", "installed"),
                                 (spi_s(cc.spi), "out", "installed"),
                                 (spi_s(e.spi), "out", "configured")])
        pols = c.ok("policy-list")["policies"]
        assert [p.get("sa") for p in pols[:4]] == [spi_s(a.spi), spi_s(b.spi), spi_s(a2.spi),
                                                   spi_s(cc.spi)], pols
        assert pols[4]["action"] == "discard" and pols[5]["dst"] == "10.99.0.0/16", pols
        assert c.sa_show(b.spi, "out")["packets"] == 0
        time.sleep(0.3)
        assert c.sa_show(a.spi, "out")["packets"] > before
        # reload again: nothing to do
        r = c.request("reload")
        assert r["sas"] == {"added": [], "removed": [], "replaced": [], "unchanged": 4}, r
        assert r["policies"]["unchanged"] == 5 and r["policies"]["runtime"] == 1, r
        assert r["routes"]["rebuilt"] is False and r["routes"]["runtime"] == 1, r
        st = c.ok("stats")["stats"]
        assert not any(st["drop"].values()), st
        res = g.stop()
    res.assert_ok()
    s = res.stats
    assert s.drops() == {}, res.describe()
    assert s.get_count("rx") == s.get_count("tx") == s.get_count("encrypted"), res.describe()


BAD_FILES = {
    # what replaces the file's text: the error lines (every one)
    "reserved-spi": ("sas:\n  - spi: 0x10\n",
                     "{path}:2: sas[0].spi: spi 16 is reserved (0..255)"),
    "bad-dir": ("sas: [ {spi: 0x3000, dir: sideways} ]\n", None),
    "unknown-port": ("routes:\n  - dst: 10.0.0.0/8\n    port: nowhere0\n", None),
    "yaml": (": : :\n", None),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_reload_refused(case, spigate_bin, workdir, seed_rng):
    """A file with errors: ok false, every error with its file and line,
    nothing changes, the held packets still leave byte-exact afterwards.
    Then a valid file adding SA 0x3005 that was added at runtime: refused
    the same way (delete it first)."""
    gw = start(spigate_bin, workdir, seed_rng)
    try:
        before = [gw.request({"op": o}) for o in ("policy-list", "sa-list", "route-list")]
        path = os.path.join(workdir, "policy.yaml")
        good = open(path).read()
        text, want = BAD_FILES[case]
        with open(path, "w") as f:
            f.write(text)
        # the same messages as spigate --check gives for that file
        chk = subprocess.run([spigate_bin, "--check", "-f", os.path.join(workdir, "gateway.conf")],
                             capture_output=True, text=True, timeout=60)
        assert chk.returncode == 2, chk
        r = gw.request({"op": "reload"})
        assert r["ok"] is False and set(r) == {"ok", "error"}, r
        assert r["error"] == "reload: " + chk.stderr.strip(), (r, chk.stderr)
        if want:
            assert r["error"].split("\n")[0] == "reload: " + want.format(path=path), r
        assert [gw.request({"op": o}) for o in ("policy-list", "sa-list", "route-list")] == \
            before
        gw.still_held()
        # a runtime SA in the file
        x = sa_json(gw.held, spi="0x3005", remote="172.17.0.66")
        assert gw.request({"op": "sa-add", "sa": x})["ok"]
        with open(path, "w") as f:
            f.write(good.replace("sas:\n", "sas:\n  - {spi: 0x3005, dir: out, mode: tunnel, "
                                 "aead: aes-128-gcm, key: 0x%s, local: %s, remote: 172.17.0.66}\n"
                                 % ("77" * 20, topo.WAN4), 1))
        r = gw.request({"op": "reload"})
        assert r["ok"] is False and "SA 0x3005 dir out was added at runtime; delete it " \
            "first (sa-del) or leave it out of the file" in r["error"], r
        gw.still_held()
        gw.prove()
    finally:
        gw.g.__exit__(None, None, None)


def test_reload_route_conflict(spigate_bin, workdir, seed_rng):
    """A route added at runtime, then the same destination written in the
    file with another next hop: reload refused (the route would be there
    twice), routes, SAs and policies unchanged; after route-del of the
    runtime one the same reload applies, the table rebuilt once."""
    gw = start(spigate_bin, workdir, seed_rng)
    try:
        dep = gw.sc.dep
        nb = [n for n in dep.neighbors if n.port == "lan0" and ":" not in n.ip]
        assert len(nb) >= 2, dep.neighbors
        r = gw.request({"op": "route-add", "route": {"dst": "10.203.0.0/16", "port": "lan0",
                                                     "via": nb[0].ip}})
        assert r["ok"], r
        before = [gw.request({"op": o}) for o in ("policy-list", "sa-list", "route-list")]
        dep.routes.append(Route("10.203.0.0/16", "lan0", via=nb[1].ip))
        write_policy(dep, workdir)
        r = gw.request({"op": "reload"})
        assert r["ok"] is False and r["error"].startswith("reload: ") and \
            "10.203.0.0/16" in r["error"], r
        assert [gw.request({"op": o}) for o in ("policy-list", "sa-list", "route-list")] == \
            before
        assert gw.request({"op": "route-del", "route": {"dst": "10.203.0.0/16"}})["ok"]
        r = gw.request({"op": "reload"})
        assert r["ok"] and r["routes"]["rebuilt"] is True and r["routes"]["runtime"] == 0, r
        rl = gw.request({"op": "route-list"})["routes"]
        assert rl[-1] == {"dst": "10.203.0.0/16", "port": "lan0", "via": nb[1].ip}, rl
        gw.still_held()
        gw.prove()
    finally:
        gw.g.__exit__(None, None, None)
