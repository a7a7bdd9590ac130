"""NAT mapping float over IPv6 (ESP in UDP in IPv6, tunnel mode): the
same behaviour as test_natfloat.py for IPv4, through the IPv6 path (the
DFE keeps an IPv6 NAT-T peer under a sequence counter, the CE publishes
the outbound destination under RCU: lib/dfe/dfe_sa.c dfe_sa_peer6_seen /
dfe_sa_set_peer6).

What leaves wan0 must be: ESP sequence numbers 1..N without a gap, a
prefix to the configured mapping, then the rest to the new one, never
anywhere else; every outer header right (Ethernet, IPv6 source, next
header UDP, payload length, UDP source port and length, and a valid UDP
checksum: IPv6 forbids a zero one); a sample around the switch decrypted
by scapy and compared with what was sent.
"""

import ipaddress
import json
import struct

from scapy.layers.inet6 import IPv6

from sgtest import expect, topo, traffic
from test_natfloat import GCM, CBC, from_mapping, run_live, decrypt_check
from sgtest.scenario import OutScenario

N_OUT = 200000        # still flowing when the CE (every 20 ms) floats the mapping
NEW = ("2001:db8:77::1", 31337)          # the peer's new NAT mapping
FORGER = ("2001:db8:66::6", 40001)
REPLAYER = ("2001:db8:67::7", 40002)


def build(rng, out_algo=GCM, in_algo=CBC):
    sc = OutScenario(rng=rng)
    sc.dep.port("wan0").io = "rxtx"
    sc.dep.port("lan0").io = "rxtx"
    o = sc.flow(0, out_algo, "6in6", natt=True, install="eager")
    i = topo.make_flow(0, in_algo, "6in6", natt=True, rng=rng, install="eager")
    sc.dep.add_sa(i.sa, i.policies)
    assert o.sa.remote == i.sa.remote and o.sa.encap == (4500, 4500) == i.sa.encap
    distinct = o.packets(64, size=80)
    lan = [fr for _, fr in distinct] * (N_OUT // 64) + [fr for _, fr in distinct[:N_OUT % 64]]
    return sc, o, i, [inner for inner, _ in distinct], lan


def with_source(frame, mapping):
    """An ESP-in-UDP-in-IPv6 frame as if from mapping (outer source and
    UDP source port rewritten; the UDP checksum left as the sender's)."""
    b = bytearray(frame)
    b[22:38] = ipaddress.ip_address(mapping[0]).packed
    b[54:56] = struct.pack("!H", mapping[1])
    return bytes(b)


def udp6_checksum(src, dst, udp):
    s = src + dst + struct.pack("!IxxxB", len(udp), 17) + udp
    if len(s) % 2:
        s += b"\0"
    t = sum(struct.unpack("!%dH" % (len(s) // 2), s))
    while t >> 16:
        t = (t & 0xffff) + (t >> 16)
    return t                                   # 0xffff when correct


def esp_out6(res, o):
    frames = res.out["wan0"]
    nh_mac = bytes.fromhex(topo.PEER_MAC.replace(":", ""))
    wan_mac = bytes.fromhex(topo.WAN_MAC.replace(":", ""))
    src = ipaddress.ip_address(o.sa.local).packed
    out, bad = [], []
    for n, f in enumerate(frames):
        plen = struct.unpack("!H", f[18:20])[0]
        sport, dport, ulen, ucs = struct.unpack("!HHHH", f[54:62])
        spi, seq = struct.unpack("!II", f[62:70])
        probs = []
        if f[0:6] != nh_mac or f[6:12] != wan_mac or f[12:14] != b"\x86\xdd":
            probs.append("Ethernet header")
        if f[14] >> 4 != 6 or f[20] != 17 or f[22:38] != src:
            probs.append("outer version/next header/source")
        if plen != len(f) - 54 or ulen != plen:
            probs.append("payload length %d, UDP length %d, frame %d" % (plen, ulen, len(f)))
        if sport != 4500 or ucs == 0 or udp6_checksum(f[22:38], f[38:54], f[54:]) != 0xffff:
            probs.append("UDP sport %d checksum %#x" % (sport, ucs))
        if spi != o.spi:
            probs.append("SPI %#x" % spi)
        if probs:
            bad.append("frame %d (seq %d): %s" % (n, seq, ", ".join(probs)))
        out.append((str(ipaddress.ip_address(f[38:54])), sport, dport, seq))
    assert not bad, "%d bad ESP frames, first: %s\n%s" % (len(bad), bad[:5], res.describe())
    return out


def decrypt6(res, o, inners, positions):
    frames = res.out["wan0"]
    for k in positions:
        ip = IPv6(frames[k][14:])
        got = bytes(o.sa.decrypt(ip))
        want = expect.forwarded_l3(inners[k % len(inners)])
        assert got == want, "ESP frame %d decrypts to\n%s\nexpected\n%s" % (
            k, got.hex(), want.hex())


def test_float6_moves_outbound(spigate_bin, workdir, seed_rng):
    """3 authentic packets from the configured mapping, 3 from a new one,
    then a forged one (bad ICV) from another address:port and an
    authentic one replayed from a third: the outbound ESP goes to
    [2001:db8:1::100]:4500, then from one packet on to
    [2001:db8:77::1]:31337, never to the forger; one nat-float event with
    the new mapping; 6 inbound packets forwarded, 1 auth_failed, 1 replay."""
    sc, o, i, inners, lan = build(seed_rng)
    old = (i.sa.remote, 4500)
    p_old = from_mapping(i, old, 3)
    p_new = from_mapping(i, NEW, 3)
    _, forged_src = from_mapping(i, FORGER, 1)[0]
    forged = traffic.flip_icv(forged_src)
    replayed = with_source(p_new[1][1], REPLAYER)
    wan = [fr for _, fr in p_old + p_new] + [forged, replayed]
    res, ev = run_live(sc, lan, wan, workdir, spigate_bin)
    ctx = res.describe()
    res.assert_counters(rx=N_OUT + 8, tx=N_OUT + 6, encrypted=N_OUT, decrypted=6,
                        only_drops={"auth_failed": 1, "replay": 1})
    exp = expect.Expected()
    for inner, _ in p_old + p_new:
        exp.add_inner(sc.dep, i.spi, inner)
    exp.check(res.out["lan0"], context=ctx)
    outs = esp_out6(res, o)
    assert [s for _, _, _, s in outs] == list(range(1, N_OUT + 1)), "sequence numbers\n" + ctx
    dests = [(d, dp) for d, _, dp, _ in outs]
    old_n = (str(ipaddress.ip_address(old[0])), old[1])
    switch = next((k for k, x in enumerate(dests) if x != old_n), len(dests))
    assert switch > 0, "no packet went to the configured mapping before the float\n" + ctx
    assert switch < len(dests), "the outbound ESP never moved\n" + ctx
    wrong = [(k, x) for k, x in enumerate(dests[switch:], switch) if x != NEW]
    assert not wrong, "after the float (packet %d) ESP went to %s\n%s" % (switch, wrong[:5], ctx)
    decrypt6(res, o, inners, sorted({0, switch - 1, switch, switch + 1, N_OUT - 1}))
    fl = ev.of("nat-float")
    assert len(fl) == 1, json.dumps(ev.events)
    e = fl[0]
    assert (int(e["spi"], 16), e["src"], e["sport"], e["dst"], e["dport"]) == \
        (i.spi, NEW[0], NEW[1], i.sa.local, 4500), e


def test_float6_forged_and_replayed_do_not_move(spigate_bin, workdir, seed_rng):
    """Only the configured mapping is authentic: a forged packet, a replay
    from another mapping and a packet far behind the window move nothing:
    no nat-float, every outbound ESP to the configured mapping."""
    sc, o, i, inners, lan = build(seed_rng, out_algo=CBC, in_algo=GCM)
    old = (i.sa.remote, 4500)
    i.next_seq = 1000
    p_old = from_mapping(i, old, 3)
    _, forged_src = from_mapping(i, FORGER, 1)[0]
    forged = traffic.flip_icv(forged_src)
    replayed = with_source(p_old[0][1], REPLAYER)
    i.next_seq = 10
    _, stale = from_mapping(i, NEW, 1)[0]
    wan = [fr for _, fr in p_old] + [forged, replayed, stale]
    res, ev = run_live(sc, lan, wan, workdir, spigate_bin)
    ctx = res.describe()
    res.assert_counters(rx=N_OUT + 6, tx=N_OUT + 3, encrypted=N_OUT, decrypted=3,
                        only_drops={"auth_failed": 1, "replay": 2})
    outs = esp_out6(res, o)
    assert [s for _, _, _, s in outs] == list(range(1, N_OUT + 1)), "sequence numbers\n" + ctx
    old_n = (str(ipaddress.ip_address(old[0])), old[1])
    moved = [(k, d, dp) for k, (d, _, dp, _) in enumerate(outs) if (d, dp) != old_n]
    assert not moved, "outbound ESP moved: %s\n%s" % (moved[:5], ctx)
    assert ev.of("nat-float") == [], json.dumps(ev.events)
    decrypt6(res, o, inners, [0, N_OUT // 2, N_OUT - 1])
