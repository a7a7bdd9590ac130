"""The standard functional-test topology.

                 peers (172.17.0.0/16, 2001:db8:1::/64, NAT 198.51.100.0/24)
                   |  frames from PEER_MAC
        +----------+-----------+
        | wan0 (unprotected)   | 02:00:00:00:00:01  172.16.2.5/24  2001:db8:2::5/64
        |        spigate       |
        | lan0 (protected)     | 02:00:00:00:00:02  192.168.105.1/24  2001:db8:105::1/64
        +----------+-----------+
                   |
   host H4 192.168.105.10 (02:00:00:00:01:10)   host H6 2001:db8:105::10 (02:00:00:00:01:16)
   router R4 192.168.105.2 (02:00:00:00:01:02) -> 192.168.200.0/24
   router R6 2001:db8:105::2 (02:00:00:00:01:06) -> 2001:db8:1a0::/64

Tunnel SA number i protects inner sources 10.<1+i/250>.<i%250>.0/24 or
2001:db8:a:<i>::/64 towards 192.168.0.0/16 or 2001:db8:100::/40; its inner
packets alternate between a directly connected host (neighbour = the host)
and a network behind a router (neighbour = the router), so both kinds of
next hop are exercised.
"""

import random

from .config import Deployment, Neighbor, Policy, Port, Route
from .sa import SA
from . import traffic

WAN_MAC = "02:00:00:00:00:01"
LAN_MAC = "02:00:00:00:00:02"
PEER_MAC = "02:00:00:00:10:01"
OTHER_MAC = "02:00:00:00:99:99"

WAN4, WAN6 = "172.16.2.5", "2001:db8:2::5"
LAN4, LAN6 = "192.168.105.1", "2001:db8:105::1"
H4, H4_MAC = "192.168.105.10", "02:00:00:00:01:10"
H6, H6_MAC = "2001:db8:105::10", "02:00:00:00:01:16"
R4, R4_MAC = "192.168.105.2", "02:00:00:00:01:02"
R6, R6_MAC = "2001:db8:105::2", "02:00:00:00:01:06"
BEHIND_R4 = "192.168.200.0/24"
BEHIND_R6 = "2001:db8:1a0::/64"
PROTECTED4 = "192.168.0.0/16"
PROTECTED6 = "2001:db8:100::/40"

# mode name -> (SA mode, outer family, inner family)
MODES = {
    "4in4": ("tunnel", 4, 4),
    "6in6": ("tunnel", 6, 6),
    "4in6": ("tunnel", 6, 4),
    "6in4": ("tunnel", 4, 6),
    "trans4": ("transport", 4, 4),
    "trans6": ("transport", 6, 6),
}


def deployment(layout="shared", crypto="cpu"):
    """The standard two-port deployment with routes and neighbours."""
    return Deployment(
        ports=[Port("wan0", "net_pcap0", "unprotected", WAN_MAC,
                    [WAN4 + "/24", WAN6 + "/64"]),
               Port("lan0", "net_pcap1", "protected", LAN_MAC,
                    [LAN4 + "/24", LAN6 + "/64"])],
        routes=[Route("192.168.105.0/24", "lan0"),
                Route(BEHIND_R4, "lan0", R4),
                Route("2001:db8:105::/64", "lan0"),
                Route(BEHIND_R6, "lan0", R6)],
        neighbors=[Neighbor(H4, H4_MAC, "lan0"), Neighbor(R4, R4_MAC, "lan0"),
                   Neighbor(H6, H6_MAC, "lan0"), Neighbor(R6, R6_MAC, "lan0")],
        layout=layout, crypto=crypto)


def peer_addr(i, family, natt=False):
    if family == 4:
        if natt:
            return "198.51.100.%d" % (1 + i % 250)
        return "172.17.%d.%d" % (i // 250, 1 + i % 250)
    return "2001:db8:1::%x" % (0x100 + i)


def make_flow(i, algo, mode="4in4", natt=False, rng=None, spi=None,
              natt_sport=None, **sa_kw):
    """Flow number i (0..~60000): an SA of the given algorithm and mode with
    its inbound protect policy and its inner traffic generator.
    natt: ESP in UDP; the peer's source port is natt_sport or, by default,
    4500 for even i and a NAT-mapped 40000+i for odd i."""
    rng = rng or random.Random()
    sa_mode, outer, inner = MODES[mode]
    spi = spi if spi is not None else 0x1000 + i
    encap = None
    if natt:
        sport = natt_sport if natt_sport is not None else \
            (4500 if i % 2 == 0 else 40000 + i)
        encap = (sport, 4500)
    remote = peer_addr(i, outer, natt)
    if sa_mode == "tunnel":
        local = WAN4 if outer == 4 else WAN6
        if inner == 4:
            src_net = "10.%d.%d.0/24" % (1 + i // 250, i % 250)
            srcs = ["10.%d.%d.%d" % (1 + i // 250, i % 250, h) for h in (1, 2)]
            dsts = [H4, "192.168.200.%d" % (1 + i % 250)]
            pol_dst = PROTECTED4
        else:
            src_net = "2001:db8:a:%x::/64" % i
            srcs = ["2001:db8:a:%x::%d" % (i, h) for h in (1, 2)]
            dsts = [H6, "2001:db8:1a0::%x" % (i + 1)]
            pol_dst = PROTECTED6
    else:
        local = H4 if outer == 4 else H6
        srcs, dsts = [remote], [local]
        src_net = remote + ("/32" if outer == 4 else "/128")
        pol_dst = local + ("/32" if outer == 4 else "/128")
    sa = SA(spi, algo, mode=sa_mode, local=local, remote=remote, encap=encap,
            rng=rng, name="%s/%s%s/%#x" % (algo, mode, "+natt" if natt else "", spi),
            **sa_kw)
    pol = Policy("in", src_net, pol_dst, action="protect", sa=spi, priority=100)
    return traffic.Flow(sa, flow_id=i, inner_family=inner, srcs=srcs, dsts=dsts,
                        policies=[pol], src_net=src_net)


# -- outbound ---------------------------------------------------------------------
#
#   lan hosts (H4, 192.168.200.x behind R4, H6, 2001:db8:1a0::x behind R6)
#        | clear frames to LAN_MAC
#   lan0 -- spigate -- wan0 (172.16.2.5, 2001:db8:2::5)
#                        | ESP to the next hop toward each SA's remote:
#                        | GW4 172.16.2.1 / GW6 2001:db8:2::1 (PEER_MAC),
#                        | GW4B 172.16.2.2 / GW6B 2001:db8:2::2 (PEER2_MAC)
#   remote gateways 172.16.1.0/24, 172.17.0.0/16, 198.51.100.0/24 (NAT),
#   2001:db8:1::/64; transport-mode peers 172.18.0.0/16, 2001:db8:18::/64.
#
# Outbound tunnel SA i protects 192.168.0.0/16 (or 2001:db8:100::/40) ->
# 10.<1+i/250>.<i%250>.0/24 (or 2001:db8:a:<i>::/64). No route covers those
# inner destinations: tunnel egress is pinned to the SA's remote.

GW4, GW6 = "172.16.2.1", "2001:db8:2::1"
GW4B, GW6B = "172.16.2.2", "2001:db8:2::2"
PEER2_MAC = "02:00:00:00:10:02"
B_WAN4, B_WAN6 = "172.16.1.5", "2001:db8:1::5"   # the peer gateway of back-to-back runs
WAN1_MAC = "02:00:00:00:00:03"
WAN1_4, WAN1_6 = "172.16.3.5", "2001:db8:3::5"
GW1_4, GW1_6 = "172.16.3.1", "2001:db8:3::1"
PEER3_MAC = "02:00:00:00:10:03"

OUT_ROUTES = [("172.16.1.0/24", GW4), ("172.17.0.0/16", GW4), ("172.18.0.0/16", GW4),
              ("198.51.100.0/24", GW4), ("2001:db8:1::/64", GW6),
              ("2001:db8:18::/64", GW6)]


def out_deployment(layout="shared", crypto="cpu", wan1=False, lan_tx=True):
    """The standard deployment set up for outbound runs: frames are fed
    into lan0 (in.pcap); wan0's transmissions are captured (out.pcap =
    Result.frames), and lan0's too (lan0.out.pcap) unless lan_tx=False,
    so that nothing can leave unnoticed. wan1 (optional) is a second
    unprotected port, 172.16.3.5/24, next hop GW1_4/GW1_6 (PEER3_MAC),
    with routes only for what a test adds."""
    dep = deployment(layout=layout, crypto=crypto)
    dep.port("lan0").io = "rxtx" if lan_tx else "rx"
    dep.port("wan0").io = "tx"
    if wan1:
        dep.ports.append(Port("wan1", "net_pcap2", "unprotected", WAN1_MAC,
                              [WAN1_4 + "/24", WAN1_6 + "/64"], io="tx"))
        dep.neighbors += [Neighbor(GW1_4, PEER3_MAC, "wan1"),
                          Neighbor(GW1_6, PEER3_MAC, "wan1")]
    dep.ingress, dep.egress = "lan0", "wan0"
    dep.routes += [Route(dst, "wan0", via) for dst, via in OUT_ROUTES]
    dep.neighbors += [Neighbor(GW4, PEER_MAC, "wan0"), Neighbor(GW6, PEER_MAC, "wan0")]
    return dep


def lan_src_mac(addr):
    """MAC a clear packet from a lan-side source arrives from: the host
    itself, or the router it is behind."""
    a = str(addr)
    if a in (H4, H6):
        return H4_MAC if a == H4 else H6_MAC
    if a.startswith("192.168.200."):
        return R4_MAC
    if a.startswith("2001:db8:1a0:"):
        return R6_MAC
    if ":" in a:
        return H6_MAC
    return H4_MAC


def transport_peer(i, family):
    """Peer host of outbound transport SA i (the packets' destination)."""
    if family == 4:
        return "172.18.%d.%d" % (i // 250, 1 + i % 250)
    return "2001:db8:18::%x" % (0x100 + i)


def make_out_flow(i, algo, mode="4in4", natt=False, rng=None, spi=None,
                  remote=None, encap=None, priority=100, **sa_kw):
    """Outbound flow number i: a dir: out SA of the given algorithm and
    mode, its dir: out protect policy and its clear-traffic generator.
    Tunnel: local = wan0's address, remote = `remote` or peer_addr(i)
    (198.51.100.x with natt). Transport: local = H4/H6 (the packets'
    source), remote = transport_peer(i) (their destination).
    natt: ESP in UDP, encap = `encap` or, as they leave, (4500, 4500) for
    even i and (4500, 40000+i) (a NAT-mapped peer port) for odd i."""
    rng = rng or random.Random()
    sa_mode, outer, inner = MODES[mode]
    spi = spi if spi is not None else 0x2000 + i
    if natt:
        encap = encap or (4500, 4500 if i % 2 == 0 else 40000 + i)
    elif encap:
        raise ValueError("encap without natt")
    if sa_mode == "tunnel":
        local = WAN4 if outer == 4 else WAN6
        remote = remote or peer_addr(i, outer, natt)
        if inner == 4:
            srcs = [H4, "192.168.200.%d" % (1 + i % 250)]
            dst_net = "10.%d.%d.0/24" % (1 + i // 250, i % 250)
            dsts = ["10.%d.%d.%d" % (1 + i // 250, i % 250, h) for h in (1, 2)]
            src_net = PROTECTED4
        else:
            srcs = [H6, "2001:db8:1a0::%x" % (i + 1)]
            dst_net = "2001:db8:a:%x::/64" % i
            dsts = ["2001:db8:a:%x::%d" % (i, h) for h in (1, 2)]
            src_net = PROTECTED6
    else:
        local = H4 if outer == 4 else H6
        remote = remote or transport_peer(i, outer)
        srcs, dsts = [local], [remote]
        plen = "/32" if outer == 4 else "/128"
        src_net, dst_net = local + plen, remote + plen
    sa = SA(spi, algo, mode=sa_mode, local=local, remote=remote, encap=encap,
            rng=rng, direction="out",
            name="out %s/%s%s%s/%#x" % (algo, mode, "+natt" if natt else "",
                                        "+esn" if sa_kw.get("esn") else "", spi),
            **sa_kw)
    pol = Policy("out", src_net, dst_net, action="protect", sa=spi, priority=priority)
    return traffic.OutFlow(sa, flow_id=0x4000 + i, inner_family=inner, srcs=srcs,
                           dsts=dsts, policies=[pol])


def mirror(dep_a, out_flows, layout="shared", crypto="cpu"):
    """The peer of an outbound deployment for back-to-back runs: gateway B,
    whose wan0 (MAC = PEER_MAC, the next hop A sends to; addresses B_WAN4,
    B_WAN6) receives A's ESP and whose lan0 delivers the decrypted packets.
    Every out SA of A becomes a dir: in SA of B with the same SPI and keys,
    local/remote swapped and encap as the packets arrive; every out
    protect policy an in protect policy with the same selectors naming it.
    B routes A's inner destinations (10.0.0.0/8, 2001:db8:a::/48 and the
    transport peers) to lan0 neighbours."""
    b = Deployment(
        ports=[Port("wan0", "net_pcap0", "unprotected", PEER_MAC,
                    [B_WAN4 + "/24", B_WAN6 + "/64"]),
               Port("lan0", "net_pcap1", "protected", "02:00:00:00:b0:02",
                    ["10.0.0.1/8", "2001:db8:a::1/48"])],
        routes=[Route("10.0.0.0/8", "lan0", "10.0.0.2"),
                Route("2001:db8:a::/48", "lan0", "2001:db8:a::2"),
                Route("172.18.0.0/16", "lan0", "10.0.0.3"),
                Route("2001:db8:18::/64", "lan0", "2001:db8:a::3")],
        neighbors=[Neighbor("10.0.0.2", "02:00:00:00:b1:02", "lan0"),
                   Neighbor("2001:db8:a::2", "02:00:00:00:b1:06", "lan0"),
                   Neighbor("10.0.0.3", "02:00:00:00:b1:03", "lan0"),
                   Neighbor("2001:db8:a::3", "02:00:00:00:b1:07", "lan0")],
        layout=layout, crypto=crypto)
    for f in out_flows:
        a = f.sa
        if a.encap and a.encap[1] != 4500:
            raise ValueError("%s: spigate recognises ESP in UDP by destination port "
                             "4500 only" % a.name)
        sa = SA(a.spi, a.algo, mode=a.mode, local=a.remote, remote=a.local,
                encap=a.encap, replay_window=a.replay_window or 64, esn=a.esn,
                install=a.install, direction="in", keys=a.keys,
                name="in(B) " + a.name[4:])
        pols = [Policy("in", p.src, p.dst, p.proto, p.sport, p.dport, "protect",
                       sa=a.spi, priority=p.priority)
                for p in f.policies if p.action == "protect"]
        b.add_sa(sa, pols)
    return b
