"""Loop guard and MTU handling of outbound ESP.

Loop guard: a packet whose inner destination is its SA's own remote
endpoint would be routed back into its own tunnel: dropped as `loop`.

MTU (wan0 mtu = 1000 here): when the ESP packet (outer IP total length)
would exceed the egress port's MTU,
  * an IPv4 inner packet with DF set, any IPv6 inner packet, and any
    transport-mode packet (RFC 4303 3.3.4: ESP on whole datagrams only) is
    dropped as `mtu_exceeded` (and nothing is sent back on lan0);
  * an IPv4 inner packet without DF in a tunnel SA is fragmented BEFORE
    encryption: each fragment is its own ESP packet (consecutive sequence
    numbers, each within the MTU) and, decrypted, the fragments reassemble
    to the original with TTL - 1.
The edges are exact: the largest packet whose ESP fits (exactly 1000 bytes
for AES-GCM, whose padding unit is 4) passes; one byte more does not.
"""

import pytest

from sgtest import outref, topo
from sgtest.config import Policy
from sgtest.scenario import OutScenario

GCM = "aes-128-gcm"
CBC = "aes-128-cbc+hmac-sha256-128"
MTU = 1000


@pytest.mark.negative
def test_loop_guard(spigate_bin, workdir, seed_rng):
    """Tunnel SAs whose policies cover their own remote endpoint: packets
    to the remote are dropped (loop), packets to its neighbours leave
    encrypted. A transport SA's packets go to its remote by definition and
    are not loops. IPv4 and IPv6, lazy and eager."""
    sc = OutScenario(rng=seed_rng)
    cases = []          # (flow, dst, loops?)

    def tunnel(i, algo, mode, remote, net, **kw):
        f = topo.make_out_flow(i, algo, mode, rng=sc.rng, remote=remote, **kw)
        f.policies = [Policy("out", f.policies[0].src, net, action="protect", sa=f.spi,
                             priority=100)]
        sc.add_sa(f.sa, f.policies)
        return f

    l4 = tunnel(0, GCM, "4in4", "172.16.1.5", "172.16.1.0/28")
    m4 = tunnel(1, CBC, "4in4", "172.16.1.20", "172.16.1.16/28", install="eager")
    l6 = tunnel(2, CBC, "6in6", "2001:db8:1::5", "2001:db8:1::/120")
    m6 = tunnel(3, GCM, "6in6", "2001:db8:1::105", "2001:db8:1::100/120", install="eager")
    t4 = sc.flow(4, GCM, "trans4")
    t6 = sc.flow(5, CBC, "trans6")
    cases += [(l4, "172.16.1.5", True), (l4, "172.16.1.6", False),
              (m4, "172.16.1.20", True), (m4, "172.16.1.21", False),
              (l6, "2001:db8:1::5", True), (l6, "2001:db8:1::6", False),
              (m6, "2001:db8:1::105", True), (m6, "2001:db8:1::104", False),
              (t4, t4.sa.remote, False), (t6, t6.sa.remote, False)]
    loops = 0
    for rnd in range(3):
        for f, dst, is_loop in cases:
            inner = f.inner(dst=dst)
            sc.send_inner(inner)
            if is_loop:
                loops += 1
            else:
                sc.protect(f.spi, inner)
    res = sc.run(workdir, spigate_bin)
    sc.check(res)
    n = sc.out.count()
    res.assert_counters(rx=len(sc.frames), tx=n, encrypted=n, only_drops={"loop": loops})


# -- MTU ------------------------------------------------------------------------------------

def edge_sizes(f, **kw):
    """(fit, over): the largest UDP payload whose ESP packet fits MTU and
    the smallest that does not, for flow f's SA."""
    b = bytes(f.inner(idx=0, size=10, proto="udp", **kw))
    hdr = len(b) - 10                      # IP + UDP headers
    fit = None
    for s in range(10, 1500):              # wire_len() reads the version and length only
        if f.sa.wire_len(b[:1] + bytes(hdr + s - 1)) > MTU:
            return fit, s
        fit = s
    raise AssertionError("no edge")


def min_fragments(f, inner):
    """Fewest fragments an IPv4 packet can be cut into so that each ESP
    packet fits the MTU."""
    b = bytes(inner)
    chunk = (outref.max_inner_ip(f.sa, MTU) - 20) & ~7
    return -(-(len(b) - 20) // chunk)


@pytest.mark.negative
@pytest.mark.parametrize("crypto", ["cpu", "lookaside"])
def test_mtu(crypto, spigate_bin, workdir, seed_rng):
    sc = OutScenario(crypto=crypto, rng=seed_rng)
    sc.dep.port("wan0").mtu = MTU
    g = sc.flow(0, GCM, "4in4")
    h = sc.flow(1, CBC, "6in6")
    i6 = sc.flow(2, GCM, "6in4", install="eager")
    j = sc.flow(3, CBC, "4in6")
    k = sc.flow(4, GCM, "4in4", natt=True)
    t4 = sc.flow(5, GCM, "trans4")
    t6 = sc.flow(6, "aes-128-ctr+hmac-sha384-192", "trans6", install="eager")
    exceeded = 0
    min_esp = {}

    def send(f, size, df=False, frag=False, drop=False, proto="udp"):
        nonlocal exceeded
        inner = f.inner(size=size, df=df, proto=proto)
        sc.send_inner(inner)
        if drop:
            exceeded += 1
            return
        sc.protect(f.spi, inner, frag=frag)
        min_esp[f.spi] = min_esp.get(f.spi, 0) + (min_fragments(f, inner) if frag else 1)

    g_fit, g_over = edge_sizes(g)
    assert g.sa.wire_len(g.inner(idx=0, size=g_fit, proto="udp")) == MTU, \
        "GCM (4-byte padding unit) can fill the MTU exactly"
    send(g, 100, df=True)
    send(g, g_fit, df=True)                        # exactly 1000 bytes: passes
    send(g, g_over, df=True, drop=True)            # one step more with DF: dropped
    send(g, g_over, df=False, frag=True)           # without DF: 2 fragments
    send(g, 1300, df=False, frag=True)
    send(g, 1200, df=False, frag=True, proto="icmp")
    send(g, 100, df=False)
    h_fit, h_over = edge_sizes(h)
    send(h, h_fit)
    send(h, h_over, drop=True)                     # IPv6: never fragmented
    send(h, 1300, drop=True)
    send(h, 50)
    i_fit, i_over = edge_sizes(i6)
    send(i6, i_over, drop=True)
    send(i6, i_fit)
    j_fit, j_over = edge_sizes(j)
    send(j, j_over, df=True, drop=True)
    send(j, 1300, df=False, frag=True)             # IPv4 in IPv6 outer: fragmented too
    send(j, j_fit, df=True)
    k_fit, k_over = edge_sizes(k)                  # NAT-T: 8 more bytes of UDP
    assert k_fit == g_fit - 8
    send(k, k_fit, df=True)
    send(k, k_over, df=True, drop=True)
    send(k, k_over, df=False, frag=True)
    t_fit, t_over = edge_sizes(t4)
    send(t4, t_fit, df=True)
    send(t4, t_over, df=True, drop=True)
    send(t4, t_over, df=False, drop=True)          # transport: never pre-fragmented
    t6_fit, t6_over = edge_sizes(t6)
    send(t6, t6_over, drop=True)
    send(t6, t6_fit)
    res = sc.run(workdir, spigate_bin)
    rep = sc.check(res)
    for spi, want in min_esp.items():
        got = rep.esp_frames.get(spi, 0)
        assert got >= want, "SA %#x: %d ESP packets, at least %d needed" % (spi, got, want)
    esp = rep.esp_total()
    res.assert_counters(rx=len(sc.frames), tx=esp, encrypted=esp,
                        only_drops={"mtu_exceeded": exceeded})
    assert not res.out.get("lan0"), "nothing goes back to lan0"


@pytest.mark.negative
def test_mtu_of_the_sa_egress_port(spigate_bin, workdir, seed_rng):
    """The MTU that counts is that of the port the SA's remote resolves to:
    wan1 (mtu 800) limits its SA, wan0 (default 1500) does not limit the
    same packet on another SA."""
    from sgtest.config import Route
    sc = OutScenario(rng=seed_rng, wan1=True)
    sc.dep.port("wan1").mtu = 800
    sc.dep.routes.append(Route("172.19.0.0/16", "wan1", topo.GW1_4))
    a = sc.flow(0, GCM, "4in4")
    b = topo.make_out_flow(1, GCM, "4in4", rng=sc.rng, remote="172.19.0.1")
    b.sa.local = topo.WAN1_4
    sc.add_sa(b.sa, b.policies)
    for f in (a, b):
        for df in (True, False):
            inner = f.inner(size=1000, df=df, proto="udp")
            sc.send_inner(inner)
            if f is a:
                sc.protect(f.spi, inner)
            elif not df:
                sc.protect(f.spi, inner, frag=True)
    res = sc.run(workdir, spigate_bin)
    rep = sc.check(res)
    assert len(res.out["wan0"]) == 2 and len(res.out["wan1"]) >= 2
    esp = rep.esp_total()
    res.assert_counters(rx=4, tx=esp, encrypted=esp, only_drops={"mtu_exceeded": 1})
