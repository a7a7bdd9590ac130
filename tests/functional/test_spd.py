"""The outbound security policy database, decided on the wire and in the
counters: clear packets sent into lan0 against `dir: out` policies with
priorities (the highest wins; ties: first in file order), overlapping
prefixes, protocols, port ranges (edges), IPv6, and default deny. Each
decision is its own test item:

  protect A  -> leaves wan0 in SA A's ESP (decrypted byte for byte, TTL - 1)
  bypass     -> leaves in clear, routed (next hop MAC, TTL - 1)
  discard    -> leaves nowhere, counted `discard`
  no_policy  -> leaves nowhere, counted `no_policy` (default deny)

One spigate run per table; every case is sent twice (the same decision
for two packets, in order), three times in the tables whose rules select
by addresses only: there the CFE remembers verdicts per address pair (the
SPD memo, docs/architecture.md), and the later rounds are answered from
it, in other bursts than the first. Before anything runs, the tables are checked
against the policy oracle (sgtest.config.Deployment.outbound_policy), so
the expectations written here and the rules they come from agree.
"""

import random

import pytest

from sgtest import SEED, live, steady, topo, traffic
from sgtest.config import Policy, Route
from sgtest.scenario import OutScenario

GCM = "aes-128-gcm"
CBC = "aes-128-cbc+hmac-sha256-128"
H4, H6 = topo.H4, topo.H6
B4 = "192.168.200.5"                  # a host behind R4
B6 = "2001:db8:1a0::5"                # a host behind R6

# SA label -> (algorithm, mode, remote)
SAS = {
    "A": (GCM, "4in4", "172.17.0.1"),
    "B": (CBC, "4in4", "172.17.0.2"),
    "C": ("aes-256-gcm", "4in4", "172.17.0.3"),
    "D": ("aes-128-ctr+hmac-sha384-192", "4in4", "172.17.0.4"),
    "E": (GCM, "6in6", "2001:db8:1::e"),
    "F": (CBC, "6in4", "172.17.0.6"),
}
SPI = {k: 0x3000 + i for i, k in enumerate(SAS)}


def P(src, dst, action, prio=None, sa=None, proto="any", sport="any", dport="any"):
    return Policy("out", src, dst, proto=proto, sport=sport, dport=dport, action=action,
                  sa=SPI[sa] if sa else None, priority=0 if prio is None else prio)


# -- the tables ---------------------------------------------------------------------------
# policies in file order; cases (name, src, dst, proto, sport, dport, decision)

PRIORITY_POLICIES = [
    P("192.168.0.0/16", "10.3.0.0/16", "protect", 10, "C"),       # tie with the next two: first wins
    P("192.168.0.0/16", "10.0.0.0/8", "protect", 10, "A"),
    P("192.168.0.0/16", "10.3.0.0/16", "protect", 10, "B"),
    P("192.168.0.0/16", "10.1.0.0/16", "bypass", 20),
    P("192.168.0.0/16", "10.1.2.0/24", "discard", 5),             # more specific, lower priority
    P("192.168.105.0/24", "10.2.0.0/16", "discard", 30),
    P("192.168.200.0/24", "10.2.5.0/24", "protect", 40, "B"),
    P("192.168.105.10/32", "10.4.4.4/32", "protect", None, "B"),  # host route, priority 0
    P("192.168.0.0/16", "10.5.0.0/16", "discard", 10),            # tie: listed after A's
    P("192.168.0.0/16", "10.6.6.0/24", "bypass", 10),             # loses to the next
    P("192.168.0.0/16", "10.6.0.0/16", "protect", 11, "C"),       # wider, but higher priority
    P("192.168.0.0/16", "10.7.7.0/24", "bypass", 10),             # tie: listed after A's
    Policy("in", "192.168.0.0/16", "11.0.0.0/8", action="bypass", priority=99),  # wrong direction
]
PRIORITY_CASES = [
    ("prefix-A", H4, "10.0.0.1", "udp", None, None, "A"),
    ("tie-first-in-file-C", H4, "10.3.0.1", "tcp", None, None, "C"),
    ("tie-first-in-file-C-behind-router", B4, "10.3.9.9", "icmp", None, None, "C"),
    ("higher-prio-bypass", H4, "10.1.0.1", "udp", None, None, "bypass"),
    ("higher-prio-beats-longer-prefix", H4, "10.1.2.1", "tcp", None, None, "bypass"),
    ("src-prefix-discard", H4, "10.2.0.1", "udp", None, None, "discard"),
    ("src-prefix-mismatch-falls-to-A", B4, "10.2.0.1", "udp", None, None, "A"),
    ("prio-40-protect-B", B4, "10.2.5.1", "icmp", None, None, "B"),
    ("prio-40-src-mismatch-discard", H4, "10.2.5.1", "udp", None, None, "discard"),
    ("host-policy-prio-0-loses", H4, "10.4.4.4", "udp", None, None, "A"),
    ("tie-with-A-discard-listed-later", H4, "10.5.0.1", "udp", None, None, "A"),
    ("tie-with-A-bypass-listed-later", H4, "10.7.7.7", "udp", None, None, "A"),
    ("wider-higher-prio-beats-narrower", H4, "10.6.6.6", "udp", None, None, "C"),
    ("wider-higher-prio-C", H4, "10.6.1.1", "udp", None, None, "C"),
    ("default-deny-dst", H4, "11.0.0.1", "udp", None, None, "no_policy"),
    ("default-deny-src", "172.30.0.1", "10.0.0.1", "udp", None, None, "no_policy"),
    ("default-deny-v6-no-v6-policy", H6, "2001:db8:a::1", "udp", None, None, "no_policy"),
]

PORT_POLICIES = [
    P("192.168.0.0/16", "10.0.0.0/8", "protect", 10, "C"),                       # the rest
    P("192.168.0.0/16", "10.0.0.0/8", "protect", 50, "A", proto="udp", dport="1000-2000"),
    P("192.168.0.0/16", "10.0.0.0/8", "discard", 50, proto="tcp", dport="80"),
    P("192.168.0.0/16", "10.0.0.0/8", "protect", 60, "B", proto="tcp", sport="5000-5001",
      dport="443"),
    P("192.168.0.0/16", "10.0.0.0/8", "bypass", 40, proto="icmp"),
    P("192.168.0.0/16", "10.0.0.0/8", "discard", 45, proto="47"),
    P("192.168.0.0/16", "10.0.0.0/8", "protect", 35, "D", sport="0", dport="0"),   # portless protos
    P("192.168.0.0/16", "10.0.0.0/8", "protect", 55, "B", dport="7000-7001"),     # any proto
    P("192.168.0.0/16", "10.0.0.0/8", "discard", 70, proto="udp", sport="0-1023", dport="9"),
]
PORT_CASES = [
    ("udp-dport-999-below", H4, "10.0.0.1", "udp", 3000, 999, "C"),
    ("udp-dport-1000-low-edge", H4, "10.0.0.1", "udp", 3000, 1000, "A"),
    ("udp-dport-1500", B4, "10.0.0.1", "udp", 3000, 1500, "A"),
    ("udp-dport-2000-high-edge", H4, "10.0.0.1", "udp", 3000, 2000, "A"),
    ("udp-dport-2001-above", H4, "10.0.0.1", "udp", 3000, 2001, "C"),
    ("tcp-dport-1500-proto-mismatch", H4, "10.0.0.1", "tcp", 3000, 1500, "C"),
    ("tcp-dport-80-discard", H4, "10.0.0.1", "tcp", 3000, 80, "discard"),
    ("udp-dport-80-not-tcp", H4, "10.0.0.1", "udp", 3000, 80, "C"),
    ("tcp-sport-4999", H4, "10.0.0.1", "tcp", 4999, 443, "C"),
    ("tcp-sport-5000-edge", H4, "10.0.0.1", "tcp", 5000, 443, "B"),
    ("tcp-sport-5001-edge", H4, "10.0.0.1", "tcp", 5001, 443, "B"),
    ("tcp-sport-5002", H4, "10.0.0.1", "tcp", 5002, 443, "C"),
    ("tcp-dport-444", H4, "10.0.0.1", "tcp", 5000, 444, "C"),
    ("icmp-bypass", H4, "10.0.0.1", "icmp", None, None, "bypass"),
    ("proto-47-discard", H4, "10.0.0.1", 47, None, None, "discard"),
    ("proto-99-ports-0", H4, "10.0.0.1", 99, None, None, "D"),
    ("sctp-dport-7001-ports-read", H4, "10.0.0.1", 132, 3000, 7001, "B"),
    ("sctp-dport-7002", H4, "10.0.0.1", 132, 3000, 7002, "C"),
    ("udp-dport-7000-any-proto-range", H4, "10.0.0.1", "udp", 3000, 7000, "B"),
    ("udp-sport-0-dport-9-discard", H4, "10.0.0.1", "udp", 0, 9, "discard"),
    ("udp-sport-1023-edge-discard", H4, "10.0.0.1", "udp", 1023, 9, "discard"),
    ("udp-sport-1024-dport-9", H4, "10.0.0.1", "udp", 1024, 9, "C"),
    ("udp-ports-0-0-match-ports-0", H4, "10.0.0.1", "udp", 0, 0, "D"),
    ("udp-sport-0-dport-1", H4, "10.0.0.1", "udp", 0, 1, "C"),
]

V6_POLICIES = [
    P("2001:db8:100::/40", "2001:db8:a::/48", "protect", 10, "E"),
    P("2001:db8:100::/40", "2001:db8:a:1::/64", "bypass", 20),
    P("2001:db8:105::10/128", "2001:db8:a:1::5/128", "discard", 30),
    P("2001:db8:100::/40", "2001:db8:a:2::/64", "protect", 25, "F", proto="udp", dport="53"),
    P("2001:db8:100::/40", "2001:db8:a:3::/64", "discard", 25, proto="icmp6"),
    P("192.168.0.0/16", "10.0.0.0/8", "protect", 10, "A"),
    P("::/0", "2001:db8:a:9::/64", "bypass", 5),
    P("2001:db8:105::/64", "::/0", "discard", 1),
]
V6_CASES = [
    ("v6-prefix-E", H6, "2001:db8:a::1", "udp", None, None, "E"),
    ("v6-bypass-64", H6, "2001:db8:a:1::1", "tcp", None, None, "bypass"),
    ("v6-host-discard-128", H6, "2001:db8:a:1::5", "udp", None, None, "discard"),
    ("v6-host-discard-src-mismatch", B6, "2001:db8:a:1::5", "udp", None, None, "bypass"),
    ("v6-udp-53-F-6in4", H6, "2001:db8:a:2::1", "udp", 3000, 53, "F"),
    ("v6-udp-54-E", H6, "2001:db8:a:2::1", "udp", 3000, 54, "E"),
    ("v6-tcp-53-E", H6, "2001:db8:a:2::1", "tcp", 3000, 53, "E"),
    ("v6-icmp6-discard", B6, "2001:db8:a:3::1", "icmp", None, None, "discard"),
    ("v6-udp-not-icmp6-E", H6, "2001:db8:a:3::1", "udp", None, None, "E"),
    ("v6-any-src-bypass", "2001:db8:99::1", "2001:db8:a:9::1", "udp", None, None, "bypass"),
    ("v6-low-prio-discard", H6, "2001:db8:b::1", "udp", None, None, "discard"),
    ("v6-default-deny", B6, "2001:db8:b::1", "udp", None, None, "no_policy"),
    ("v6-default-deny-src", "2001:db8:99::1", "2001:db8:a::1", "icmp", None, None, "no_policy"),
    ("v4-alongside-A", H4, "10.9.9.9", "udp", None, None, "A"),
    ("v4-default-deny", H4, "12.0.0.1", "udp", None, None, "no_policy"),
]

# Address-only IPv6 rules (any protocol, every port): the IPv6 memo applies.
V6_ADDR_POLICIES = [
    P("2001:db8:100::/40", "2001:db8:a::/48", "protect", 10, "E"),
    P("2001:db8:100::/40", "2001:db8:a:1::/64", "bypass", 20),
    P("2001:db8:105::10/128", "2001:db8:a:1::5/128", "discard", 30),
    P("2001:db8:100::/40", "2001:db8:a:2::/64", "protect", 25, "F"),
    P("::/0", "2001:db8:a:9::/64", "bypass", 5),
    P("2001:db8:105::/64", "::/0", "discard", 1),
    P("192.168.0.0/16", "10.0.0.0/8", "protect", 10, "A"),
]
V6_ADDR_CASES = [
    ("v6a-prefix-E", H6, "2001:db8:a::1", "udp", None, None, "E"),
    ("v6a-bypass-64", H6, "2001:db8:a:1::1", "tcp", None, None, "bypass"),
    ("v6a-host-discard-128", H6, "2001:db8:a:1::5", "udp", None, None, "discard"),
    ("v6a-host-discard-src-mismatch", B6, "2001:db8:a:1::5", "udp", None, None, "bypass"),
    ("v6a-F-6in4-udp", H6, "2001:db8:a:2::1", "udp", 3000, 54, "F"),
    ("v6a-F-6in4-tcp", H6, "2001:db8:a:2::1", "tcp", 3000, 53, "F"),
    ("v6a-F-6in4-other-host", B6, "2001:db8:a:2::9", "icmp", None, None, "F"),
    ("v6a-any-src-bypass", "2001:db8:99::1", "2001:db8:a:9::1", "udp", None, None, "bypass"),
    ("v6a-low-prio-discard", H6, "2001:db8:b::1", "udp", None, None, "discard"),
    ("v6a-default-deny", B6, "2001:db8:b::1", "udp", None, None, "no_policy"),
    ("v6a-default-deny-src", "2001:db8:99::1", "2001:db8:a::1", "icmp", None, None, "no_policy"),
    ("v4-alongside-A", H4, "10.9.9.9", "udp", None, None, "A"),
]

# An SPD with no dir: out policy at all (only an inbound one): everything is denied.
EMPTY_POLICIES = [Policy("in", "10.0.0.0/8", "192.168.0.0/16", action="bypass", priority=5)]
EMPTY_CASES = [
    ("empty-spd-v4", H4, "10.0.0.1", "udp", None, None, "no_policy"),
    ("empty-spd-v4-reverse-of-inbound-bypass", H4, "10.0.0.1", "tcp", None, None, "no_policy"),
    ("empty-spd-v6", H6, "2001:db8:a::1", "icmp", None, None, "no_policy"),
]

TABLES = {
    "priority": (PRIORITY_POLICIES, PRIORITY_CASES),
    "ports": (PORT_POLICIES, PORT_CASES),
    "ipv6": (V6_POLICIES, V6_CASES),
    "ipv6-addr": (V6_ADDR_POLICIES, V6_ADDR_CASES),
    "empty": (EMPTY_POLICIES, EMPTY_CASES),
}
# rounds of each table's cases: three where the memo applies (the first
# burst of 32 frames misses it, the rounds after it are answered from it)
ROUNDS = {"priority": 3, "ipv6-addr": 3}


def _proto_num(proto, v6):
    if isinstance(proto, int):
        return proto
    return {"udp": 17, "tcp": 6, "icmp": 58 if v6 else 1}[proto]


def build(table, rng):
    """The scenario of one table: SAs A..F, the table's policies in order,
    routes for the bypassed destinations, and the cases sent ROUNDS times.
    Returns (scenario, {case name: [tags]}, expected totals)."""
    policies, cases = TABLES[table]
    sc = OutScenario(rng=rng)
    for i, (label, (algo, mode, remote)) in enumerate(SAS.items()):
        f = topo.make_out_flow(i, algo, mode, rng=rng, spi=SPI[label], remote=remote)
        sc.add_sa(f.sa)
    sc.dep.policies.extend(policies)
    sc.dep.routes += [Route("10.0.0.0/8", "wan0", topo.GW4),
                      Route("2001:db8:a::/48", "wan0", topo.GW6)]
    tags = {}
    totals = {"protect": 0, "bypass": 0, "discard": 0, "no_policy": 0}
    idx = 0
    for rnd in range(ROUNDS.get(table, 2)):
        for name, src, dst, proto, sport, dport, want in cases:
            v6 = ":" in src
            inner = traffic.inner_packet(src, dst, proto, 40 + idx % 50, flow_id=0x5000,
                                         idx=idx, sport=sport, dport=dport,
                                         tos=traffic.TOS_CYCLE[idx % 5])
            idx += 1
            # the oracle must agree with the decision written in the table
            ports = (sport if sport is not None else 1024 + ((idx - 1) % 60000),
                     dport if dport is not None else {"udp": 7000, "tcp": 80}.get(proto, 7000))
            pol = sc.dep.outbound_policy(src, dst, _proto_num(proto, v6), *ports)
            got = "no_policy" if pol is None else (
                pol.action if pol.action != "protect" else
                next(k for k, v in SPI.items() if v == pol.sa))
            assert got == want, "table %s case %s: the rules say %s, the table %s" % (
                table, name, got, want)
            sc.send_inner(inner)
            tags.setdefault(name, []).append(traffic.find_tag(bytes(inner)))
            if want in SPI:
                sc.protect(SPI[want], inner)
                totals["protect"] += 1
            elif want == "bypass":
                sc.bypass(inner, key=name)
                totals["bypass"] += 1
            else:
                totals[want] += 1
    return sc, tags, totals


class SpdRun:
    def __init__(self, table, spigate_bin, workdir):
        rng = random.Random("%d/spd/%s" % (SEED, table))
        self.sc, self.tags, self.totals = build(table, rng)
        self.res = self.sc.run(workdir, spigate_bin)
        self.res.assert_ok()
        self.rep = self.sc.report(self.res)


@pytest.fixture(scope="module")
def spd_runs(spigate_bin, tmp_path_factory):
    cache = {}

    def get(table):
        if table not in cache:
            cache[table] = SpdRun(table, spigate_bin, str(tmp_path_factory.mktemp("spd_" + table)))
        return cache[table]
    return get


def all_cases():
    for table, (_, cases) in TABLES.items():
        for c in cases:
            yield pytest.param(table, c, id="%s-%s-%s" % (table, c[0], c[6]))


@pytest.mark.parametrize("table,case", list(all_cases()))
def test_decision(spd_runs, table, case):
    run = spd_runs(table)
    name, want = case[0], case[6]
    where = {t: run.rep.seen(t) for t in run.tags[name]}
    ctx = run.res.describe()
    if want in SPI:
        spi = SPI[want]
        for t, w in where.items():
            assert w == [spi], "%s: packet %r must leave in SA %s (%#x), left: %s\n%s" % (
                name, t, want, spi, w or "nowhere", ctx)
        run.sc.check(run.res, spi=spi)
    elif want == "bypass":
        for t, w in where.items():
            assert w == ["clear"], "%s: packet %r must be bypassed, left: %s\n%s" % (
                name, t, w or "nowhere", ctx)
        msg = run.rep.clear.render(name)
        assert not msg, "%s: bypassed packet wrong:\n%s\n%s" % (name, msg, ctx)
    else:
        for t, w in where.items():
            assert not w, "%s: packet %r must be dropped (%s), left: %s\n%s" % (
                name, t, want, w, ctx)


@pytest.mark.parametrize("table", list(TABLES))
def test_totals(spd_runs, table):
    """Nothing unexpected anywhere; every counter exact."""
    run = spd_runs(table)
    run.sc.check(run.res)
    t = run.totals
    run.res.assert_counters(rx=len(run.sc.frames), tx=t["protect"] + t["bypass"],
                            encrypted=t["protect"], bypassed=t["bypass"],
                            only_drops={k: t[k] for k in ("discard", "no_policy") if t[k]})


@pytest.mark.negative
@pytest.mark.parametrize("fam", [4, 6])
def test_bypass_ttl(fam, spigate_bin, workdir, seed_rng):
    """Bypass is routing: TTL/hop limit 2 leaves with 1, 1 is dropped as
    ttl_exceeded; a bypassed destination without a route is no_route."""
    sc = OutScenario(rng=seed_rng)
    if fam == 4:
        src, dst, net, nort = H4, "10.7.0.1", ("192.168.0.0/16", "10.0.0.0/8"), "10.8.0.1"
        sc.dep.routes.append(Route("10.7.0.0/16", "wan0", topo.GW4))
    else:
        src, dst, net, nort = H6, "2001:db8:a:7::1", ("2001:db8:100::/40", "2001:db8:a::/48"), \
            "2001:db8:a:8::1"
        sc.dep.routes.append(Route("2001:db8:a:7::/64", "wan0", topo.GW6))
    sc.dep.policies.append(Policy("out", net[0], net[1], action="bypass", priority=1))
    for k, ttl in enumerate((2, 1, 64, 1, 2)):
        p = traffic.inner_packet(src, dst, "udp", 30, flow_id=0x5100, idx=k, ttl=ttl)
        sc.send_inner(p)
        if ttl > 1:
            sc.bypass(p)
    sc.send_inner(traffic.inner_packet(src, nort, "udp", 30, flow_id=0x5100, idx=9))
    res = sc.run(workdir, spigate_bin)
    sc.check(res)
    res.assert_counters(rx=6, tx=3, bypassed=3, encrypted=0,
                        only_drops={"ttl_exceeded": 2, "no_route": 1})


@pytest.mark.parametrize("selectors", ["addresses", "ports", "ipv6-ports"])
def test_memo_counters(selectors, spigate_bin, workdir, seed_rng):
    """/spigate/lcores on the CFE's lcore says what the SPD memo did, while
    lan0 replays one flow forever. Address-only policies: after the first
    burst every packet is decided from it (hits grow, misses stay within
    one burst). One more IPv4 policy that names a protocol and a port (for
    other destinations) keeps the memo out of IPv4: neither counter moves
    while packets are encrypted. The same in IPv6 leaves the IPv4 memo in
    use."""
    sc = OutScenario(rng=seed_rng, dep=topo.out_deployment(lan_tx=False))
    steady.infinite_out(sc.dep)
    f = sc.flow(0, GCM, install="eager")
    if selectors == "ports":
        sc.dep.policies.append(Policy("out", "0.0.0.0/0", "203.0.113.0/24", proto="udp",
                                      dport="9", action="discard", priority=1))
    elif selectors == "ipv6-ports":
        sc.dep.policies.append(Policy("out", "::/0", "2001:db8:ff::/48", proto="udp",
                                      dport="9", action="discard", priority=1))
    frames = [fr for _, fr in f.packets(32, size=100)]
    with live.Live(sc.dep, frames, workdir, spigate_bin) as g:
        lc = g.wait(lambda r: r["1"]["packets"] > 20000, "20,000 packets",
                    cmd="/spigate/lcores")
        st = g.query("/spigate/stats")
        hits, misses = lc["1"]["spd_memo_hits"], lc["1"]["spd_memo_misses"]
        assert "spd_memo_hits" not in lc["0"], lc
        assert lc["1"]["spd_memo_skipped"] == 0, lc
        if selectors == "ports":
            assert hits == 0 and misses == 0, lc
        else:
            assert 0 < misses <= 32 and hits > 10000, lc
        assert st["encrypted"] > 10000, st
        res = g.stop()
    res.assert_ok()
    assert {k: v for k, v in res.stats.drops().items() if v} == {}, res.describe()
