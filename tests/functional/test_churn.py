"""Churn: constant traffic on 50 SAs while 1,000 control operations add,
replace and delete 500 other SAs (issue 4: "zero packets of the untouched
SAs lost, exact counters, no crash").

  * traffic: lan0 replays (net_pcap infinite_rx=1) 400 clear packets of 50
    outbound flows, each protected by its own eager SA; wan0 is net_null.
  * churn: 1,000 requests on one control connection, a seeded mix over a
    pool of 500 SPIs, none of them one of the 50: sa-add (inbound and
    outbound, eager and lazy, four algorithms), sa-add with `replaces`
    naming a present churn SA of the same direction, sa-del. Ten inbound
    SPIs of the pool equal outbound SPIs of the 50 (sa-del names the
    direction: the outbound SA must not be touched). Every request must be
    answered {"ok": true}; the daemon's SA list must match the model of
    the test after the churn; the events stream must carry one sa-added
    per add and one sa-removed per del (lost none).
  * the 50 SAs: each carried traffic during the churn, none has a drop;
    the sum of their `packets` equals `encrypted` (in flight aside: read
    in one pipelined burst); no drop at all; after SIGTERM (exit 0) rx ==
    tx == encrypted exactly.

SPIGATE_BIN=build-asan/app/spigate runs it under AddressSanitizer
(tests/asan-churn.sh, `make asan-churn`); ASan reports land in the run's
spigate.stderr and fail the test.
"""

import random
import time

from sgtest import ctl, live, steady, topo
from sgtest.sa import SA
from sgtest.scenario import OutScenario
from sgtest.traffic import interleave

N_TRAFFIC = 50
N_POOL = 500
N_OPS = 1000
ALGOS = ["aes-128-gcm", "aes-256-gcm", "aes-128-cbc+hmac-sha256-128",
         "aes-128-ctr+hmac-sha384-192"]
SLACK = 1 << 15


def churn_pool(rng):
    """500 (spi, dir) of the churn: 250 inbound, 250 outbound; ten of the
    inbound SPIs are those of the first ten traffic SAs (0x2000..0x2009)."""
    pool = [(0x2000 + k, "in") for k in range(10)]
    pool += [(0x50000 + k, "in") for k in range(240)]
    pool += [(0x60000 + k, "out") for k in range(250)]
    rng.shuffle(pool)
    return pool


def churn_sa(rng, spi, direction, replaces=None):
    """A churn SA: toward a peer in 172.17.100.0/24 (routed via wan0, no
    traffic SA uses it); some eager, some lazy; outbound ones have no
    policy, so no packet ever reaches them."""
    algo = rng.choice(ALGOS)
    peer = "172.17.100.%d" % rng.randrange(1, 250)
    kw = {"install": rng.choice(["eager", "lazy"])}
    if rng.random() < 0.2:
        kw["lifetime"] = {"soft": {"seconds": 3000}, "hard": {"seconds": 3600}}
    if direction == "in":
        w = rng.choice([0, 64, 1024])
        return SA(spi, algo, local=topo.WAN4, remote=peer, direction="in",
                  replay_window=w, esn=bool(w) and rng.random() < 0.3,
                  rng=rng, replaces=replaces, **kw)
    return SA(spi, algo, local=topo.WAN4, remote=peer, direction="out", rng=rng,
              replaces=replaces, **kw)


def plan(rng):
    """The 1,000 operations: [(op, (spi, dir), SA or None)], and the SAs
    present at the end. The first ops fill the table up to 150 SAs, then
    add 35 %, replace 30 %, del 35 % (as availability allows; del when
    more than 300 are present), so SPIs (and DFE slots) are used again
    after their delete."""
    pool = churn_pool(rng)
    present, used = set(), set()
    ops = []
    while len(ops) < N_OPS:
        absent = [k for k in pool if k not in present]
        fresh = [k for k in absent if k not in used]
        absent = fresh or absent            # every SPI of the pool gets its turn
        have = sorted(present)
        r = rng.random()
        if len(present) < 150 and absent and len(ops) < 200:
            kind = "add"
        elif len(present) > 300:
            kind = "del"
        elif r < 0.35 and absent:
            kind = "add"
        elif r < 0.65 and absent and have:
            kind = "replace"
        elif have:
            kind = "del"
        else:
            kind = "add"
        if kind == "add":
            k = rng.choice(absent)
            ops.append(("sa-add", k, churn_sa(rng, k[0], k[1])))
            present.add(k)
            used.add(k)
        elif kind == "replace":
            old = rng.choice(have)
            cands = [k for k in absent if k[1] == old[1]] or \
                [k for k in pool if k not in present and k[1] == old[1]]
            if not cands:
                continue
            k = rng.choice(cands)
            ops.append(("sa-add", k, churn_sa(rng, k[0], k[1], replaces=old[0])))
            present.add(k)
            used.add(k)
        else:
            k = rng.choice(have)
            ops.append(("sa-del", k, None))
            present.discard(k)
    return ops, present


def sanitizer_report(stderr):
    """The AddressSanitizer / LeakSanitizer report in stderr, or ''."""
    k = stderr.find("==ERROR: ")
    if k < 0:
        k = stderr.find("Sanitizer")
    if k < 0:
        return ""
    k = stderr.rfind("\n", 0, k) + 1
    return stderr[k:k + 12000]


def snapshot(c, spis):
    rep = c.pipeline([("stats", {})] + [("sa-show", {"spi": "%#x" % s, "dir": "out"})
                                          for s in spis])
    for r in rep:
        assert r.get("ok"), r
    return rep[0]["stats"], {s: r["sa"] for s, r in zip(spis, rep[1:])}


def test_churn(spigate_bin, workdir, seed_rng):
    sc = OutScenario(rng=seed_rng, dep=topo.out_deployment(lan_tx=False))
    steady.infinite_out(sc.dep)
    # replacing outbound churn SAs take over (from other churn SAs) during the churn
    sc.dep.extra["rekey"] = {"switch_timeout_ms": 100}
    flows = [sc.flow(i, ALGOS[i % len(ALGOS)], "4in4", install="eager")
             for i in range(N_TRAFFIC)]
    frames = interleave([[fr for _, fr in f.packets(8, size=64)] for f in flows])
    spis = [f.spi for f in flows]
    ops, final = plan(random.Random(seed_rng.random()))
    kinds = {"add": sum(1 for o in ops if o[0] == "sa-add" and not o[2].replaces),
             "replace": sum(1 for o in ops if o[0] == "sa-add" and o[2].replaces),
             "del": sum(1 for o in ops if o[0] == "sa-del")}
    touched = {o[1] for o in ops}
    assert len(touched) == N_POOL, len(touched)
    t0 = time.monotonic()
    with live.Live(sc.dep, frames, workdir, spigate_bin) as g:
        c = g.ctl()
        ev = g.events()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            st0, per0 = snapshot(c, spis)
            if all(v["packets"] > 0 for v in per0.values()):
                break
            time.sleep(0.05)
        else:
            raise AssertionError("not every traffic SA carries packets: %s" % per0)
        t_ops = time.monotonic()
        bad = []
        n = 0
        try:
            for n, (op, (spi, d), sa) in enumerate(ops):
                if op == "sa-add":
                    r = c.request(op, sa=sa.to_dict())
                else:
                    r = c.request(op, spi="%#x" % spi, dir=d)
                if r.get("ok") is not True:
                    bad.append((n, op, "%#x" % spi, d, r))
                if n % 100 == 99:
                    st, _ = snapshot(c, spis[:1])
                    assert not {k: v for k, v in st["drop"].items() if v}, \
                        "drops after %d ops: %s" % (n + 1, st["drop"])
        except (OSError, ctl.ControlError) as e:
            time.sleep(0.5)
            raise AssertionError("control connection lost at op %d (%s): %s\n%s"
                                 % (n, ops[n][:2], e, sanitizer_report(g.stderr())
                                    or g.stderr()[-4000:])) from None
        t_ops = time.monotonic() - t_ops
        assert g.proc.poll() is None, "spigate died during the churn\n" + g.stderr()[-4000:]
        assert not bad, "%d requests failed, first: %s" % (len(bad), bad[:5])
        have = c.sa_spis()
        want = final | {(s, "out") for s in spis}
        assert have == want, "SA list after the churn: missing %s, extra %s" % (
            sorted(want - have)[:10], sorted(have - want)[:10])
        st1, per1 = snapshot(c, spis)
        time.sleep(0.3)                     # let the events stream catch up
        res = g.stop()
        ev.close()
    ctx = res.describe()
    # events: one sa-added per add, one sa-removed per del, none lost
    assert ev.lost == 0, "events lost: %d" % ev.lost
    added = [e for e in ev.of("sa-added")]
    removed = [e for e in ev.of("sa-removed")]
    assert len(added) == kinds["add"] + kinds["replace"], (len(added), kinds)
    assert len(removed) == kinds["del"], (len(removed), kinds)
    assert not [e for e in ev.of("hard-expire")], "no SA may expire"
    # the 50 SAs
    grew = [s for s in spis if per1[s]["packets"] <= per0[s]["packets"]]
    assert not grew, "traffic SAs that carried nothing during the churn: %s" % grew
    dropped = {"%#x" % s: per1[s]["drop"] for s in spis if per1[s]["drop"]}
    assert not dropped, "per-SA drops: %s" % dropped
    tot = sum(v["packets"] for v in per1.values())
    assert abs(st1["encrypted"] - tot) <= SLACK, (st1["encrypted"], tot)
    assert 0 <= st1["rx"] - st1["encrypted"] <= SLACK, st1
    assert not {k: v for k, v in st1["drop"].items() if v}, st1["drop"]
    # after the drain: exact
    rep = sanitizer_report(res.stderr)
    assert not rep, "sanitizer report (exit %s):\n%s" % (res.returncode, rep)
    res.assert_ok()
    s = res.stats
    assert s.drops() == {}, ctx
    assert s.get_count("rx") == s.get_count("tx") == s.get_count("encrypted"), ctx
    print("churn: %d ops (%s) on %d SAs in %.1f s (%.2f ms/op); %d SAs at the end; "
          "%d packets encrypted; whole test %.1f s"
          % (len(ops), kinds, len(touched), t_ops, 1000 * t_ops / len(ops), len(final),
             s.get_count("encrypted"), time.monotonic() - t0))
