"""Traffic of the bundled demo (config/demo): a few remote peers sending
through their SAs, with the SA keys read from config/demo/policy.yaml, plus
a sprinkling of what a gateway on the Internet also sees (a tampered packet,
replays, an unknown SPI, NAT keepalives, IKE).

build() returns the frames for wan0, the Expected egress and a manifest
(what went in and what must come out), used by scripts/gen-demo.py and by
tests/functional/test_demo.py.
"""

import random

from . import expect, traffic
from .config import Deployment
from .sa import SA

PEER_MAC = "02:00:00:00:10:01"       # the upstream router in front of wan0

# (name, spi, inner sources, inner destinations, protocols, packets)
PEERS = [
    ("branch-a (IPv4, AES-128-GCM, eager)", 0x1001,
     ["192.168.1.20", "192.168.1.21", "192.168.1.22"],
     ["192.168.105.10", "192.168.105.11", "192.168.200.7"], ("udp", "tcp", "icmp"), 200),
    ("branch-b (IPv6, AES-256-GCM, ESN)", 0x1002,
     ["2001:db8:b::20", "2001:db8:b::21"], ["2001:db8:105::10"], ("udp", "tcp", "icmp"), 150),
    ("branch-c (IPv4, AES-128-CBC/HMAC-SHA256)", 0x1003,
     ["192.168.3.50"], ["192.168.105.10", "192.168.105.11"], ("tcp", "udp"), 150),
    ("road warrior behind NAT (ESP in UDP 40500->4500, AES-256-CBC/HMAC-SHA512)", 0x1004,
     ["10.8.0.2"], ["192.168.105.10"], ("tcp", "icmp"), 100),
    ("branch-e (IPv4 over IPv6, AES-128-CTR/HMAC-SHA384)", 0x1005,
     ["192.168.7.9"], ["192.168.105.11", "192.168.200.9"], ("udp", "icmp"), 100),
]
SIZES = (40, 100, 300, 576, 1000, 1300)


def build(conf_path, seed=2024):
    rng = random.Random(seed)
    dep = Deployment.load(conf_path, rng=rng)
    wan = next(p for p in dep.ports if p.role == "unprotected")
    exp = expect.Expected()
    streams = []
    flows = {}
    manifest = {"peers": [], "expected": {}}
    for n, (name, spi, srcs, dsts, protos, count) in enumerate(PEERS):
        sa = dep.sa(spi)
        flow = traffic.Flow(sa, flow_id=n + 1, inner_family=None, srcs=srcs, dsts=dsts,
                            policies=[], protos=protos, sizes=SIZES)
        flow.dst_mac, flow.src_mac = wan.mac, PEER_MAC
        flows[spi] = flow
        frames = []
        for k in range(count):
            inner = flow.inner(dport=443 if spi == 0x1004 else None)
            frames.append(flow.frame(inner))
            exp.add_inner(dep, spi, inner)
        streams.append(frames)
        manifest["peers"].append({"name": name, "spi": "%#x" % spi,
                                  "algorithm": sa.algo.name, "mode": sa.mode,
                                  "outer": sa.remote, "packets": count})
    # merge the peers' streams as they would interleave in time
    frames = []
    idx = [0] * len(streams)
    while any(idx[i] < len(s) for i, s in enumerate(streams)):
        live = [i for i, s in enumerate(streams) if idx[i] < len(s)]
        i = rng.choice(live)
        frames.append(streams[i][idx[i]])
        idx[i] += 1
    forwarded = len(frames)

    drops = {}

    def inject(at, frame, reason):
        frames.insert(at, frame)
        drops[reason] = drops.get(reason, 0) + 1

    a, c, d = dep.sa(0x1001), dep.sa(0x1003), dep.sa(0x1004)
    # an on-path attacker flips a bit in a packet of branch-a (one with a
    # fresh sequence number, so it is judged by its ICV, not as a replay) ...
    fa = flows[a.spi]
    inject(len(frames) // 3, traffic.flip_icv(fa.frame(fa.inner())), "auth_failed")
    # ... and replays five of branch-c's packets later on
    fc = [f for f in frames if _spi(f) == c.spi][:5]
    for k, f in enumerate(fc):
        inject(max(len(frames) // 2, frames.index(f) + 1) + 7 * k, f, "replay")
    # a stale peer still using an SA that no longer exists
    ghost = traffic.Flow(SA(0x9999, "aes-128-gcm", local=a.local, remote="172.16.9.9",
                            rng=rng), 99, None, ["192.168.9.1"], ["192.168.105.10"], [])
    ghost.dst_mac, ghost.src_mac = wan.mac, PEER_MAC
    inject(len(frames) // 4, ghost.frame(ghost.inner()), "unknown_spi")
    # the road warrior's NAT keepalives and an IKE message (no IKE daemon yet)
    for k in range(2):
        inject(len(frames) * (k + 1) // 3,
               traffic.nat_keepalive_frame(d.remote, d.local, d.encap[0], wan.mac,
                                           PEER_MAC), "nat_keepalive")
    inject(len(frames) - 10,
           traffic.ike_marker_frame(d.remote, d.local, d.encap[0], wan.mac, PEER_MAC), "ike")

    manifest["expected"] = {"rx": len(frames), "tx": forwarded, "decrypted": forwarded,
                            "drop": drops}
    return frames, exp, manifest


def _spi(frame):
    from scapy.layers.ipsec import ESP
    from scapy.layers.l2 import Ether
    p = Ether(frame)
    return p[ESP].spi if ESP in p else None


def summary(stats, manifest=None):
    """Human summary of a stats.json reply (and the manifest's
    expectations, when given). Returns (text, ok)."""
    drop = {k: int(v) for k, v in (stats.get("drop") or {}).items() if int(v)}
    lines = ["packets in (rx):      %d" % int(stats.get("rx", 0)),
             "decrypted:            %d" % int(stats.get("decrypted", 0)),
             "packets out (tx):     %d" % int(stats.get("tx", 0))]
    for k in ("bypassed", "punted", "held", "reinjected"):
        if k in stats:
            lines.append("%-21s %d" % (k + ":", int(stats[k])))
    if drop:
        lines.append("drops:")
        for k in sorted(drop):
            lines.append("  %-18s %d" % (k, drop[k]))
    else:
        lines.append("drops:                none")
    ok = True
    if manifest:
        e = manifest["expected"]
        diffs = []
        for k in ("rx", "tx", "decrypted"):
            if int(stats.get(k, 0)) != e[k]:
                diffs.append("%s %d (expected %d)" % (k, int(stats.get(k, 0)), e[k]))
        for k in sorted(set(drop) | set(e["drop"])):
            if drop.get(k, 0) != e["drop"].get(k, 0):
                diffs.append("drop.%s %d (expected %d)" % (k, drop.get(k, 0),
                                                           e["drop"].get(k, 0)))
        if diffs:
            ok = False
            lines.append("MISMATCH against the generated traffic: " + "; ".join(diffs))
        else:
            lines.append("all counters match the generated traffic")
    return "\n".join(lines), ok
