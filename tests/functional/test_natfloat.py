"""NAT mapping float (RFC 7296 2.23 behaviour; lib/ce/ce_sadb.c
ce_natt_poll, lib/dfe/dfe_outbound.c fixup): an inbound NAT-T packet that
authenticates (ICV and replay window) and comes from a new outer
address:port moves the outbound SAs toward the same configured `remote`:
their ESP leaves to that address and UDP port from then on (event
nat-float). A forged packet (bad ICV) or a replayed one from another
mapping moves nothing.

The runs are finite (everything checked on the captures): wan0 reads the
peer's NAT-T ESP (a few packets, at start) and its transmissions are
captured; lan0 reads 100,000 clear packets for the outbound SA, so the
outbound stream is still flowing when the CE (which looks every 20 ms)
moves the mapping. What leaves wan0 must be: ESP sequence numbers 1..N
without a gap, a prefix to the configured mapping, then (after the float)
the rest to the new one, never anywhere else, every outer header right
(source, UDP source port, lengths, IPv4 checksum, UDP checksum 0); a
sample of the packets around the switch is decrypted and compared with
what was sent. The gateway is a live one (sgtest.live) so the events can
be read from the control socket before it is stopped.
"""

import ipaddress
import json
import struct
import time

from scapy.layers.inet import IP
from scapy.utils import checksum

from sgtest import expect, live, topo, traffic
from sgtest.sa import SA
from sgtest.scenario import OutScenario

GCM = "aes-128-gcm"
CBC = "aes-128-cbc+hmac-sha256-128"
N_OUT = 100000
NEW = ("198.51.100.77", 31337)          # the peer's new NAT mapping
FORGER = ("203.0.113.66", 40001)        # an attacker's address:port
REPLAYER = ("203.0.113.67", 40002)


def build(rng, out_algo=GCM, in_algo=CBC):
    """Inbound NAT-T SA I and outbound NAT-T SA O, both toward the peer
    198.51.100.1 (its packets from 4500 to 4500); wan0 reads and is
    captured, lan0 reads N_OUT clear packets for O (64 distinct ones,
    repeated) and is captured (decrypted inbound packets)."""
    sc = OutScenario(rng=rng)
    sc.dep.port("wan0").io = "rxtx"
    sc.dep.port("lan0").io = "rxtx"
    o = sc.flow(0, out_algo, "4in4", natt=True, install="eager")
    i = topo.make_flow(0, in_algo, "4in4", natt=True, rng=rng, install="eager")
    sc.dep.add_sa(i.sa, i.policies)
    assert o.sa.remote == i.sa.remote and o.sa.encap == (4500, 4500) == i.sa.encap
    distinct = o.packets(64, size=60)
    lan = [fr for _, fr in distinct] * (N_OUT // 64) + [fr for _, fr in distinct[:N_OUT % 64]]
    return sc, o, i, [inner for inner, _ in distinct], lan


def from_mapping(flow, mapping, n, inners=None):
    """n (inner, frame) of flow's SA as they arrive from mapping =
    (address, port) (the NAT's outer source), next sequence numbers."""
    sa = flow.sa
    twin = SA(sa.spi, sa.algo, mode=sa.mode, local=sa.local, remote=mapping[0],
              encap=(mapping[1], sa.encap[1]), replay_window=sa.replay_window,
              keys=sa.keys, rng=sa._rng)
    out = []
    for k in range(n):
        inner = inners[k] if inners else flow.inner(size=60)
        out.append((inner, traffic.ether(twin.encrypt(inner, flow.take_seq()),
                                          topo.WAN_MAC, topo.PEER_MAC)))
    return out


def with_source(frame, mapping):
    """frame (an ESP-in-UDP frame) as if it came from mapping: outer
    source address, UDP source port and IPv4 checksum rewritten; the ESP
    is untouched (still authentic, same sequence number)."""
    b = bytearray(frame)
    b[26:30] = ipaddress.ip_address(mapping[0]).packed
    b[34:36] = struct.pack("!H", mapping[1])
    b[24:26] = b"\x00\x00"
    b[24:26] = struct.pack("!H", checksum(bytes(b[14:34])))
    return bytes(b)


def run_live(sc, lan, wan, workdir, spigate_bin):
    total = len(lan) + len(wan)
    with live.Live(sc.dep, {"lan0": lan, "wan0": wan}, workdir, spigate_bin) as g:
        c = g.ctl()
        ev = g.events()
        deadline = time.monotonic() + 60
        while c.stats()["rx"] < total and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(0.2)
        res = g.stop()
        ev.close()
    res.assert_ok()
    return res, ev


def esp_out(res, o):
    """(dst, sport, dport, seq) of every frame wan0 sent, after checking
    what must not change: Ethernet, outer source, protocol, UDP source
    port, lengths, checksums, SPI."""
    frames = res.out["wan0"]
    nh_mac = bytes.fromhex(topo.PEER_MAC.replace(":", ""))
    wan_mac = bytes.fromhex(topo.WAN_MAC.replace(":", ""))
    src = ipaddress.ip_address(o.sa.local).packed
    out, bad = [], []
    for n, f in enumerate(frames):
        h = f[14:34]
        tot = struct.unpack("!H", h[2:4])[0]
        sport, dport, ulen, ucs = struct.unpack("!HHHH", f[34:42])
        spi, seq = struct.unpack("!II", f[42:50])
        probs = []
        if f[0:6] != nh_mac or f[6:12] != wan_mac or f[12:14] != b"\x08\x00":
            probs.append("Ethernet header")
        if h[0] != 0x45 or h[9] != 17 or h[12:16] != src:
            probs.append("outer version/protocol/source")
        if checksum(h) != 0:
            probs.append("IPv4 header checksum")
        if tot != len(f) - 14 and not (len(f) == 60 and tot < 46):
            probs.append("IPv4 total length %d for a %d-byte frame" % (tot, len(f)))
        if sport != 4500 or ulen != tot - 20 or ucs != 0:
            probs.append("UDP sport %d len %d (IP %d) checksum %#x" % (sport, ulen, tot, ucs))
        if spi != o.spi:
            probs.append("SPI %#x" % spi)
        if probs:
            bad.append("frame %d (seq %d): %s" % (n, seq, ", ".join(probs)))
        out.append((str(ipaddress.ip_address(h[16:20])), sport, dport, seq))
    assert not bad, "%d bad ESP frames, first: %s\n%s" % (len(bad), bad[:5], res.describe())
    return out


def decrypt_check(res, o, inners, positions):
    """Decrypt the ESP frames at positions (scapy) and compare with what
    was sent: frame k carries the k-th clear packet of lan0."""
    frames = res.out["wan0"]
    for k in positions:
        f = frames[k]
        ip = IP(f[14:])
        inner = o.sa.decrypt(ip)
        want = expect.forwarded_l3(inners[k % len(inners)])
        got = bytes(inner)
        assert got == want, "ESP frame %d decrypts to\n%s\nexpected\n%s" % (
            k, got.hex(), want.hex())


def test_float_moves_outbound(spigate_bin, workdir, seed_rng):
    """3 authentic packets from the configured mapping, 3 from a new one
    (198.51.100.77:31337), then a forged one (bad ICV) from another
    address:port and an authentic packet replayed from a third: the
    outbound ESP goes to 198.51.100.1:4500 first, then, from one packet on,
    to 198.51.100.77:31337, never to the forger; one nat-float event naming
    the new mapping; the 6 authentic inbound packets are forwarded, the
    forged one is auth_failed, the replay is replay."""
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
    # inbound: the 6 authentic packets, whatever their outer source
    exp = expect.Expected()
    for inner, _ in p_old + p_new:
        exp.add_inner(sc.dep, i.spi, inner)
    exp.check(res.out["lan0"], context=ctx)
    # outbound: a prefix to the old mapping, the rest to the new one
    outs = esp_out(res, o)
    assert [s for _, _, _, s in outs] == list(range(1, N_OUT + 1)), "sequence numbers\n" + ctx
    dests = [(d, dp) for d, _, dp, _ in outs]
    switch = next((k for k, x in enumerate(dests) if x != old), len(dests))
    assert switch > 0, "no packet went to the configured mapping before the float\n" + ctx
    assert switch < len(dests), "the outbound ESP never moved to %s:%d\n%s" % (NEW + (ctx,))
    wrong = [(k, x) for k, x in enumerate(dests[switch:], switch) if x != NEW]
    assert not wrong, "after the float (packet %d) ESP went to %s\n%s" % (switch, wrong[:5], ctx)
    decrypt_check(res, o, inners, sorted({0, switch - 1, switch, switch + 1, N_OUT - 1}))
    fl = ev.of("nat-float")
    assert len(fl) == 1, json.dumps(ev.events)
    e = fl[0]
    assert (int(e["spi"], 16), e["src"], e["sport"], e["dst"], e["dport"]) == \
        (i.spi, NEW[0], NEW[1], i.sa.local, 4500), e
    print("float after %d of %d outbound packets" % (switch, N_OUT))


def test_forged_and_replayed_do_not_move(spigate_bin, workdir, seed_rng):
    """Only the configured mapping is authentic: 3 packets from it, then a
    forged packet (bad ICV) from a new address:port, one of the 3 replayed
    from another, and a packet with a valid ICV but a sequence number far
    behind the window from a third: no nat-float event, every outbound
    ESP to 198.51.100.1:4500."""
    sc, o, i, inners, lan = build(seed_rng, out_algo=CBC, in_algo=GCM)
    old = (i.sa.remote, 4500)
    i.next_seq = 1000
    p_old = from_mapping(i, old, 3)
    _, forged_src = from_mapping(i, FORGER, 1)[0]
    forged = traffic.flip_icv(forged_src)
    replayed = with_source(p_old[0][1], REPLAYER)
    i.next_seq = 10                                  # 1002 - 10 > window 64
    _, stale = from_mapping(i, NEW, 1)[0]
    wan = [fr for _, fr in p_old] + [forged, replayed, stale]
    res, ev = run_live(sc, lan, wan, workdir, spigate_bin)
    ctx = res.describe()
    res.assert_counters(rx=N_OUT + 6, tx=N_OUT + 3, encrypted=N_OUT, decrypted=3,
                        only_drops={"auth_failed": 1, "replay": 2})
    outs = esp_out(res, o)
    assert [s for _, _, _, s in outs] == list(range(1, N_OUT + 1)), "sequence numbers\n" + ctx
    moved = [(k, d, dp) for k, (d, _, dp, _) in enumerate(outs) if (d, dp) != old]
    assert not moved, "outbound ESP moved: %s\n%s" % (moved[:5], ctx)
    assert ev.of("nat-float") == [], json.dumps(ev.events)
    decrypt_check(res, o, inners, [0, N_OUT // 2, N_OUT - 1])
