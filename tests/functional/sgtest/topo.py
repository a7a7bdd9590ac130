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
        if outer != 4:
            raise ValueError("the matrix keeps NAT-T on IPv4 outer headers")
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
