"""Self-test of the outbound checker (sgtest.outcheck), no spigate needed.

The reference frames are built with scapy's own ESP (sgtest.outref.emit:
SA.encrypt_out = SecurityAssociation.encrypt with the outer header the
gateway must write). The checker must accept them for every algorithm x
mode x NAT-T x ESN, and reject each defect a gateway could have, naming
it: wrong TTL, wrong outer source, non-consecutive sequence numbers,
repeated IV, predictable CBC IV, wrong DF, bad outer checksum, and more.
"""

import random
import struct

import pytest
from scapy.layers.inet import IP, UDP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import Ether
from scapy.packet import raw
from scapy.utils import checksum

from sgtest import expect, outref, topo, traffic
from sgtest.sa import MATRIX_ALGOS, fix_lengths
from sgtest.scenario import OutScenario

pytestmark = pytest.mark.tooling

GCM = "aes-128-gcm"
CBC = "aes-128-cbc+hmac-sha256-128"
SEED = 20240602


def combos():
    for algo in MATRIX_ALGOS:
        for mode in topo.MODES:
            for natt in ([False, True] if topo.MODES[mode][1] == 4 else [False]):
                yield algo, mode, natt


COMBOS = list(combos())


def cid(c):
    return "%s-%s%s" % (c[0], c[1], "-natt" if c[2] else "")


def scenario(algo=GCM, mode="4in4", natt=False, n=4, esn=False, wan1=False, **kw):
    sc = OutScenario(rng=random.Random(SEED), wan1=wan1)
    f = sc.flow(3, algo, mode, natt, esn=esn, **kw)
    inners = sc.send_valid(f, n)
    return sc, f, inners


def good_frames(sc, f, inners, **kw):
    return [outref.emit(sc.dep, f.sa, p, k + 1, **kw) for k, p in enumerate(inners)]


def problems(sc, frames, port="wan0"):
    return sc.out.compare({port: frames}).render()


def assert_rejected(sc, frames, *words):
    msg = problems(sc, frames)
    assert msg, "the checker accepted a defective output"
    for w in words:
        assert w in msg, "%r not in the checker's message:\n%s" % (w, msg)
    return msg


def patch_outer(frame, fn):
    """Apply fn(scapy outer IP/IPv6) and rebuild the frame (lengths and
    checksums recomputed unless fn sets them)."""
    e = Ether(frame)
    fn(e.payload)
    return raw(e)


# -- acceptance ------------------------------------------------------------------

@pytest.mark.parametrize("esn", [False, True], ids=["", "esn"])
@pytest.mark.parametrize("combo", COMBOS, ids=cid)
def test_accepts_reference(combo, esn):
    algo, mode, natt = combo
    sc, f, inners = scenario(algo, mode, natt, n=6, esn=esn)
    frames = good_frames(sc, f, inners)
    rep = sc.out.compare({"wan0": frames, "lan0": []})
    assert rep.ok(), rep.render()
    assert rep.esp_total() == 6
    # and the outer header is what the contract says, checked here by hand
    for k, (p, fr) in enumerate(zip(inners, frames)):
        e = Ether(fr)
        assert e.dst == topo.PEER_MAC and e.src == topo.WAN_MAC
        o = e.payload
        b = raw(p)
        if f.sa.mode == "tunnel" and isinstance(o, IP):
            assert (o.ttl, o.id, o.src, o.dst) == (64, (k + 1) & 0xFFFF, f.sa.local, f.sa.remote)
            assert o.tos == (b[1] if b[0] >> 4 == 4 else raw(IPv6(b))[0] << 4 & 0xF0 | b[1] >> 4)
            assert bool(o.flags.DF) == (b[0] >> 4 == 4 and bool(b[6] & 0x40))
        if natt:
            assert o[UDP].sport == f.sa.encap[0] and o[UDP].dport == f.sa.encap[1]
            assert o[UDP].chksum == 0


def test_flows_vary_dscp_ecn_df():
    """The outbound traffic exercises the copied fields: several DSCP/ECN
    values and both DF settings."""
    sc, f, inners = scenario(GCM, "4in4", n=10)
    assert len({raw(p)[1] for p in inners}) >= 4
    assert {bool(raw(p)[6] & 0x40) for p in inners} == {True, False}


def test_gcm_ctr_iv_is_seq_cbc_is_random():
    for algo, seqiv in ((GCM, True), ("aes-128-ctr+hmac-sha384-192", True), (CBC, False)):
        sc, f, inners = scenario(algo)
        for k, fr in enumerate(good_frames(sc, f, inners)):
            iv = raw(Ether(fr)[traffic.ESP])[8:8 + f.sa.iv_len]
            assert (iv == struct.pack("!Q", k + 1)) == seqiv


# -- each defect is rejected, by name ------------------------------------------------------

@pytest.mark.parametrize("mode", ["4in4", "6in6", "trans4", "trans6"])
def test_rejects_ttl_not_decremented(mode):
    sc, f, inners = scenario(GCM, mode)
    frames = good_frames(sc, f, inners)
    frames[1] = outref.emit(sc.dep, f.sa, raw(inners[1]), 2, forwarded=True)
    assert_rejected(sc, frames, "differs", "ttl" if mode[-1] == "4" else "hlim")


def test_rejects_inner_checksum_not_fixed():
    sc, f, inners = scenario(GCM, "4in4")
    frames = good_frames(sc, f, inners)
    b = bytearray(raw(inners[2]))
    b[8] -= 1                                      # TTL - 1, checksum left alone
    frames[2] = outref.emit(sc.dep, f.sa, bytes(b), 3, forwarded=True)
    assert_rejected(sc, frames, "differs", "ip.chksum")


@pytest.mark.parametrize("mode", ["4in4", "6in6"])
def test_rejects_wrong_outer_src(mode):
    sc, f, inners = scenario(CBC, mode)
    frames = good_frames(sc, f, inners)
    other = "172.16.2.99" if mode == "4in4" else "2001:db8:2::99"
    frames[0] = patch_outer(frames[0], lambda o: setattr(o, "src", other))
    assert_rejected(sc, frames, "outer source")


def test_rejects_non_consecutive_seq():
    sc, f, inners = scenario(GCM)
    frames = [outref.emit(sc.dep, f.sa, p, s) for p, s in zip(inners, (1, 2, 4, 5))]
    assert_rejected(sc, frames, "sequence number 4, expected 3")


def test_rejects_seq_not_starting_at_1():
    sc, f, inners = scenario(GCM)
    frames = [outref.emit(sc.dep, f.sa, p, k) for k, p in enumerate(inners)]
    assert_rejected(sc, frames, "sequence number 0, expected 1")


@pytest.mark.parametrize("algo", [GCM, CBC, "aes-128-ctr+hmac-sha384-192"])
def test_rejects_repeated_iv(algo):
    sc, f, inners = scenario(algo)
    iv = bytes(range(f.sa.iv_len))
    frames = good_frames(sc, f, inners)
    frames[1] = outref.emit(sc.dep, f.sa, inners[1], 2, iv=iv)
    frames[3] = outref.emit(sc.dep, f.sa, inners[3], 4, iv=iv)
    assert_rejected(sc, frames, "IV %s repeated (first used by ESP #2)" % iv.hex())


def test_rejects_cbc_iv_from_seq():
    """What DPDK lib/ipsec writes for AES-CBC: the sequence number."""
    sc, f, inners = scenario(CBC)
    frames = [outref.emit(sc.dep, f.sa, p, k + 1, iv=struct.pack("!QQ", k + 1, 0))
              for k, p in enumerate(inners)]
    assert_rejected(sc, frames, "carries the sequence number")


def test_rejects_cbc_counter_iv():
    sc, f, inners = scenario(CBC)
    base = 0x1234567890ABCDEF1122334455667788
    frames = [outref.emit(sc.dep, f.sa, p, k + 1, iv=(base + k).to_bytes(16, "big"))
              for k, p in enumerate(inners)]
    assert_rejected(sc, frames, "counter-like")


def test_rejects_cbc_chained_iv():
    sc, f, inners = scenario(CBC)
    frames = [outref.emit(sc.dep, f.sa, inners[0], 1)]
    for k in range(1, len(inners)):
        w = Ether(frames[-1])[traffic.ESP]
        body = raw(w)[8 + 16:len(raw(w)) - f.sa.icv_len]
        frames.append(outref.emit(sc.dep, f.sa, inners[k], k + 1, iv=body[-16:]))
    assert_rejected(sc, frames, "last ciphertext block")


@pytest.mark.parametrize("flip", ["set", "clear"])
def test_rejects_wrong_df(flip):
    sc, f, inners = scenario(GCM, "4in4", n=4)
    frames = good_frames(sc, f, inners)
    k = 1 if flip == "clear" else 0              # inner 1 has DF, inner 0 not
    assert bool(raw(inners[k])[6] & 0x40) == (flip == "clear")
    frames[k] = patch_outer(frames[k], lambda o: setattr(
        o, "flags", 0 if flip == "clear" else "DF"))
    assert_rejected(sc, frames, "outer DF")


def test_rejects_df_on_ipv6_inner():
    sc, f, inners = scenario(GCM, "6in4", n=2)
    frames = good_frames(sc, f, inners)
    frames[0] = patch_outer(frames[0], lambda o: setattr(o, "flags", "DF"))
    assert_rejected(sc, frames, "outer DF")


def test_rejects_bad_outer_checksum():
    sc, f, inners = scenario(GCM, "4in4")
    frames = good_frames(sc, f, inners)
    b = bytearray(frames[2])
    b[14 + 10] ^= 0x5A
    frames[2] = bytes(b)
    assert_rejected(sc, frames, "header checksum valid")


def test_rejects_bad_transport_checksum():
    sc, f, inners = scenario(GCM, "trans4")
    frames = good_frames(sc, f, inners)
    b = bytearray(frames[0])
    b[14 + 11] ^= 0x01
    frames[0] = bytes(b)
    assert_rejected(sc, frames, "IPv4 header checksum invalid")


@pytest.mark.parametrize("field,value,word", [
    ("ttl", 63, "outer TTL"), ("tos", 0x04, "outer TOS"), ("id", 7, "outer id"),
    ("dst", "172.17.0.99", "outer destination"), ("proto", 51, "unexpected")])
def test_rejects_outer_v4_fields(field, value, word):
    sc, f, inners = scenario(GCM, "4in4")
    frames = good_frames(sc, f, inners)
    frames[1] = patch_outer(frames[1], lambda o: setattr(o, field, value))
    assert_rejected(sc, frames, word)


@pytest.mark.parametrize("field,value,word", [
    ("hlim", 63, "outer hop limit"), ("fl", 5, "outer flow label"),
    ("tc", 0xFC, "outer traffic class")])
def test_rejects_outer_v6_fields(field, value, word):
    sc, f, inners = scenario(GCM, "4in6")
    frames = good_frames(sc, f, inners)
    frames[1] = patch_outer(frames[1], lambda o: setattr(o, field, value))
    assert_rejected(sc, frames, word)


def test_rejects_wrong_macs_and_port():
    sc, f, inners = scenario(GCM, "4in4", wan1=True)
    frames = good_frames(sc, f, inners)
    b = traffic.with_dst_mac(frames[0], topo.OTHER_MAC)
    b = b[:6] + bytes.fromhex(topo.LAN_MAC.replace(":", "")) + b[12:]
    msg = assert_rejected(sc, [b] + frames[1:], "Ethernet destination", "Ethernet source")
    assert "next hop %s" % topo.PEER_MAC in msg
    msg = sc.out.compare({"wan0": frames[:2], "wan1": frames[2:]}).render()
    assert "left port wan1, expected wan0" in msg


def test_rejects_mtu_exceeded():
    sc, f, inners = scenario(GCM, "4in4")
    frames = good_frames(sc, f, inners)
    sc.dep.port("wan0").mtu = 100
    assert_rejected(sc, frames, "exceed wan0's MTU 100")


@pytest.mark.parametrize("defect,word", [
    ("checksum", "NAT-T UDP checksum"), ("ports", "UDP ports"),
    ("plain", "plain ESP, but the SA has encap")])
def test_rejects_natt_defects(defect, word):
    sc, f, inners = scenario(GCM, "4in4", natt=True)
    frames = good_frames(sc, f, inners)
    e = Ether(frames[1])
    if defect == "checksum":
        e[UDP].chksum = 0x1234
    elif defect == "ports":
        e[UDP].dport = 4501
    else:
        ip = e[IP]
        esp = e[traffic.ESP]
        ip.remove_payload()
        ip.proto = 50
        e = Ether(raw(e.__class__(dst=e.dst, src=e.src) / fix_lengths(ip / esp)))
    frames[1] = raw(e)
    assert_rejected(sc, frames, word)


def test_rejects_natt_v6_zero_checksum():
    """ESP in UDP over IPv6 needs a real UDP checksum."""
    sc = OutScenario(rng=random.Random(SEED))
    f = topo.make_out_flow(5, GCM, "6in6", rng=sc.rng)
    f.sa.encap = (4500, 4500)
    sc.add_sa(f.sa, f.policies)
    inners = sc.send_valid(f, 2)
    frames = good_frames(sc, f, inners)
    assert sc.out.compare({"wan0": frames}).ok()
    e = Ether(frames[0])
    e[UDP].chksum = 0
    frames[0] = raw(e)
    assert_rejected(sc, frames, "UDP checksum 0x0000 invalid over IPv6")


def test_rejects_missing_duplicate_reordered():
    sc, f, inners = scenario(GCM, n=5)
    frames = good_frames(sc, f, inners)
    assert_rejected(sc, frames[:4], "1 of 5 expected packets missing (positions 4)")
    # a retransmitted frame: same seq again
    assert_rejected(sc, frames + [frames[2]], "came out twice", "sequence number 3, expected 6")
    # reordered packets with sequence numbers in egress order
    fr = [outref.emit(sc.dep, f.sa, p, k + 1) for k, p in
          enumerate([inners[0], inners[2], inners[1], inners[3], inners[4]])]
    assert_rejected(sc, fr, "out of order")


def test_rejects_wrong_sa():
    sc = OutScenario(rng=random.Random(SEED))
    a = sc.flow(1, GCM, "4in4")
    b = sc.flow(2, CBC, "4in4")
    ia = sc.send_valid(a, 2)
    ib = sc.send_valid(b, 2)
    frames = [outref.emit(sc.dep, a.sa, ia[0], 1), outref.emit(sc.dep, a.sa, ib[0], 2),
              outref.emit(sc.dep, b.sa, ib[1], 1), outref.emit(sc.dep, a.sa, ia[1], 3)]
    msg = sc.out.compare({"wan0": frames}).render()
    assert "wrong SA" in msg and "missing" in msg


def test_rejects_wrong_key_and_esn_mismatch():
    sc, f, inners = scenario(CBC, esn=True)
    frames = good_frames(sc, f, inners)
    assert sc.out.compare({"wan0": frames}).ok()
    f.sa.esn = False                               # what a gateway ignoring ESN sends
    bad = good_frames(sc, f, inners)
    f.sa.esn = True
    assert_rejected(sc, bad, "ICV/tag does not verify with ESN high half 0")
    sc2, g, inners2 = scenario(GCM, esn=True)
    g.sa.esn = False
    bad = good_frames(sc2, g, inners2)
    g.sa.esn = True
    assert_rejected(sc2, bad, "does not verify")


def test_rejects_bad_padding():
    sc, f, inners = scenario(CBC, "4in4")
    frames = good_frames(sc, f, inners)
    fwd = expect.forwarded_l3(raw(inners[0]))
    outer = f.sa.encrypt_custom(IP(fwd), 1, padding=b"\x00" * 14)
    # encrypt_custom builds the inbound outer header: put the outbound one
    e = Ether(frames[0])
    esp = outer[traffic.ESP]
    hdr = f.sa.out_tunnel_header(fwd, 1)
    frames[0] = raw(Ether(dst=e.dst, src=e.src) / fix_lengths(hdr / esp))
    assert_rejected(sc, frames, "ESP padding is not 1, 2, 3")


def test_rejects_unexpected_and_leaked_frames():
    sc, f, inners = scenario(GCM, n=2)
    frames = good_frames(sc, f, inners)
    leak = traffic.lan_frame(inners[0])
    msg = sc.out.compare({"wan0": frames, "lan0": [leak]}).render()
    assert "unexpected" in msg or "twice" in msg
    stranger = topo.make_out_flow(9, GCM, "4in4", spi=0x7777)
    junk = outref.emit(sc.dep, stranger.sa, inners[0], 1)
    assert_rejected(sc, frames + [junk], "ESP with unknown SPI 0x7777")


def test_bypass_expectations():
    sc, f, inners = scenario(GCM, n=1)
    sc.dep.routes.append(topo.Route("10.200.0.0/16", "wan0", topo.GW4))
    p = traffic.inner_packet(topo.H4, "10.200.0.1", "udp", 50, flow_id=77, idx=1)
    sc.bypass(p)
    out = good_frames(sc, f, inners) + [expect.forwarded(sc.dep, p)]
    assert sc.out.compare({"wan0": out}).ok()
    e = Ether(out[-1])
    assert e.dst == topo.PEER_MAC and e.src == topo.WAN_MAC and e[IP].ttl == 63
    assert_rejected(sc, out[:-1], "missing")


# -- fragmentation ---------------------------------------------------------------------

def frag_frames(sc, f, inner, mtu, seq0=1, drop=None, reverse=False):
    fwd = expect.forwarded_l3(raw(inner))
    pieces = outref.fragment4(fwd, outref.max_inner_ip(f.sa, mtu))
    if reverse:
        pieces = pieces[::-1]
    if drop is not None:
        del pieces[drop]
    return [outref.emit(sc.dep, f.sa, p, seq0 + k, forwarded=True)
            for k, p in enumerate(pieces)]


@pytest.mark.parametrize("algo", [GCM, CBC, "null+hmac-sha256-128"])
@pytest.mark.parametrize("mode", ["4in4", "4in6", "trans4"])
def test_fragments_accepted(algo, mode):
    sc = OutScenario(rng=random.Random(SEED))
    sc.dep.port("wan0").mtu = 600
    f = sc.flow(1, algo, mode)
    big = f.inner(size=1400, df=False, proto="udp")
    small = f.inner(size=100)
    sc.protect(f.spi, big, frag=True)
    sc.protect(f.spi, small)
    frames = frag_frames(sc, f, big, 600)
    assert len(frames) >= 3
    frames.append(outref.emit(sc.dep, f.sa, small, len(frames) + 1))
    rep = sc.out.compare({"wan0": frames})
    assert rep.ok(), rep.render()
    assert rep.esp_total() == len(frames)
    for fr in frames:
        w = Ether(fr).payload
        assert len(raw(w)) <= 600
    # in reverse offset order: still one datagram, consecutive ESP
    rev = frag_frames(sc, f, big, 600, reverse=True)
    rev.append(outref.emit(sc.dep, f.sa, small, len(rev) + 1))
    assert sc.out.compare({"wan0": rev}).ok()


def test_fragment_defects():
    sc = OutScenario(rng=random.Random(SEED))
    sc.dep.port("wan0").mtu = 600
    f = sc.flow(1, GCM, "4in4")
    big = f.inner(size=1400, df=False, proto="udp")
    sc.protect(f.spi, big, frag=True)
    assert_rejected(sc, frag_frames(sc, f, big, 600, drop=1), "gap")
    # not fragmented at all (and too big for the MTU)
    whole = [outref.emit(sc.dep, f.sa, big, 1)]
    assert_rejected(sc, whole, "must be fragmented", "exceed wan0's MTU 600")
    # fragments with a wrong TTL
    fwd = bytearray(expect.forwarded_l3(raw(big)))
    fwd[8] += 1
    fwd[10:12] = b"\x00\x00"
    fwd[10:12] = struct.pack("!H", checksum(bytes(fwd[:20])))
    pieces = outref.fragment4(bytes(fwd), outref.max_inner_ip(f.sa, 600))
    frames = [outref.emit(sc.dep, f.sa, p, k + 1, forwarded=True) for k, p in enumerate(pieces)]
    assert_rejected(sc, frames, "header differs")
    # fragments of a packet that must not be fragmented
    sc2 = OutScenario(rng=random.Random(SEED))
    g = sc2.flow(1, GCM, "4in4")
    p = g.inner(size=1400, df=False, proto="udp")
    sc2.protect(g.spi, p)
    assert_rejected(sc2, frag_frames(sc2, g, p, 600), "must not be fragmented")


def test_wire_len_matches_scapy():
    """SA.wire_len (used to hit the MTU edge exactly) is the length scapy's
    own encryption produces, for every algorithm and mode."""
    rng = random.Random(SEED)
    for algo, mode, natt in COMBOS:
        f = topo.make_out_flow(1, algo, mode, natt, rng=rng)
        for size in (10, 11, 12, 13, 14, 15, 16, 17, 100, 1001):
            p = f.inner(size=size)
            fwd = expect.forwarded_l3(raw(p))
            assert len(raw(f.sa.encrypt_out(fwd, 1))) == f.sa.wire_len(p), (algo, mode, size)


def test_fragment4_reassembles():
    p = traffic.inner_packet(topo.H4, "10.1.0.1", "udp", 1000, 5, 6)
    pieces = outref.fragment4(raw(p), 300)
    assert all(len(x) <= 300 for x in pieces) and len(pieces) == 4
    body = b"".join(x[20:] for x in pieces)
    assert body == raw(p)[20:]
    assert all(checksum(x[:20]) == 0 for x in pieces)
