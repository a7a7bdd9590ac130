"""Self-test of the functional-test toolkit (sgtest), no spigate needed.

Proves the reference before it judges the gateway:
  * scapy round trip: every algorithm x every mode x NAT-T, and ESN across
    2^32, decrypts back to the inner packet;
  * an independent ESP opener (sgtest/refesp.py: python3-cryptography and
    hashlib/hmac only, byte parsing by hand, no scapy) accepts the exact
    bytes scapy produced, for every algorithm: AES-GCM (nonce = salt || IV,
    AAD = SPI || [seq_hi ||] seq), AES-CBC / AES-CTR (RFC 3686 counter
    block) with HMAC-SHA1/256/384/512 truncated ICVs over SPI..trailer
    [|| seq_hi], NULL; and it checks the RFC 4303 trailer (pad bytes
    1, 2, 3, ..., alignment);
  * each negative-case builder produces exactly the defect it claims, and
    nothing else (bad padding has a valid ICV, the non-block-multiple CBC
    payload has a valid ICV, ...);
  * the YAML and libconfig writers produce what CONTRACT.md shows and
    load back to the same keys;
  * the expected-output computation and the comparator.
"""

import hashlib
import hmac
import ipaddress
import random
import struct

import pytest
import yaml
from scapy.layers.inet import UDP
from scapy.layers.ipsec import IPSecIntegrityError
from scapy.layers.l2 import Ether
from scapy.packet import raw
from scapy.utils import checksum

from sgtest import config, expect, gateway, libconf, refesp, topo, traffic
from sgtest.sa import MATRIX_ALGOS, SA

pytestmark = pytest.mark.tooling

SEED = 20240601
ALL_MODES = list(topo.MODES)


def combos():
    for algo in MATRIX_ALGOS:
        for mode in ALL_MODES:
            yield algo, mode, False
            if topo.MODES[mode][1] == 4:
                yield algo, mode, True


COMBOS = list(combos())


def cid(c):
    return "%s-%s%s" % (c[0], c[1], "-natt" if c[2] else "")


# --------------------------------------------------------------------------
# Independent ESP implementation (no scapy).

class Opened:
    def __init__(self, **kw):
        self.__dict__.update(kw)


def parse_frame(frame):
    """Ethernet / IPv4|IPv6 / [UDP 4500] / ESP, by hand. Returns the IP
    header bytes, the ESP bytes (SPI..ICV) and whether UDP was present."""
    et = struct.unpack("!H", frame[12:14])[0]
    ip = frame[14:]
    if et == 0x0800:
        ihl = (ip[0] & 0x0F) * 4
        total = struct.unpack("!H", ip[2:4])[0]
        assert checksum(ip[:ihl]) == 0, "outer IPv4 checksum"
        proto, l4, hdr = ip[9], ip[ihl:total], ip[:ihl]
        assert len(ip) >= total
    elif et == 0x86DD:
        plen = struct.unpack("!H", ip[4:6])[0]
        proto, l4, hdr = ip[6], ip[40:40 + plen], ip[:40]
        assert len(ip) >= 40 + plen
    else:
        raise AssertionError("ethertype %#x" % et)
    udp = None
    if proto == 17:
        sport, dport, ulen, csum = struct.unpack("!HHHH", l4[:8])
        assert ulen == len(l4), "UDP length %d != %d" % (ulen, len(l4))
        assert csum == 0, "NAT-T UDP checksum should be 0"
        udp = (sport, dport)
        l4 = l4[8:]
    else:
        assert proto == 50, "IP protocol %d" % proto
    return hdr, l4, udp


def ref_open(sa, frame, seq_hi=0):
    """Authenticate and decrypt the ESP in frame with SA sa's keys, with
    the scapy-free implementation of sgtest.refesp (padding not judged
    here: the callers check it)."""
    hdr, esp, udp = parse_frame(frame)
    spi, seq = struct.unpack("!II", esp[:8])
    assert spi == sa.spi
    data, nh, plain = refesp.open_esp(sa, esp, seq_hi, check_padding=False)
    padlen = plain[-2]
    pad = plain[len(plain) - 2 - padlen:len(plain) - 2]
    return Opened(spi=spi, seq=seq, iv=esp[8:8 + sa.iv_len], plain=plain, data=data,
                  pad=pad, padlen=padlen, nh=nh, udp=udp, hdr=hdr, esp_len=len(esp))


def check_trailer(sa, o):
    assert o.pad == bytes(range(1, o.padlen + 1)), "pad bytes %r" % o.pad
    assert (len(o.plain) + sa.iv_len) % 4 == 0, "ESP not 4-byte aligned"
    assert len(o.plain) % sa.algo.align == 0


def expected_payload(sa, inner):
    """What the ESP payload must be: the whole inner packet (tunnel) or
    its L4 part (transport), and the next header value."""
    b = raw(inner)
    if sa.mode == "tunnel":
        return b, (4 if b[0] >> 4 == 4 else 41)
    if b[0] >> 4 == 4:
        ihl = (b[0] & 0x0F) * 4
        return b[ihl:], b[9]
    return b[40:], b[6]


# --------------------------------------------------------------------------

@pytest.fixture
def rng():
    return random.Random(SEED)


@pytest.mark.parametrize("combo", COMBOS, ids=cid)
def test_scapy_round_trip(combo, rng):
    algo, mode, natt = combo
    f = topo.make_flow(7, algo, mode, natt, rng=rng)
    for inner, frame in f.packets(5):
        back = f.sa.decrypt(Ether(frame).payload)
        assert raw(back) == raw(inner)


@pytest.mark.parametrize("combo", COMBOS, ids=cid)
def test_independent_decrypt(combo, rng):
    """The exact bytes scapy built open with the independent implementation,
    with a valid trailer; tunnel/transport/NAT-T headers are as configured."""
    algo, mode, natt = combo
    f = topo.make_flow(9, algo, mode, natt, rng=rng)
    for k, (inner, frame) in enumerate(f.packets(5)):
        o = ref_open(f.sa, frame)
        check_trailer(f.sa, o)
        data, nh = expected_payload(f.sa, inner)
        assert o.data == data
        assert o.nh == nh
        assert o.seq == k + 1
        if natt:
            assert o.udp == f.sa.encap
        else:
            assert o.udp is None
        outer_src = ipaddress.ip_address(
            o.hdr[12:16] if o.hdr[0] >> 4 == 4 else o.hdr[8:24])
        assert str(outer_src) == str(ipaddress.ip_address(f.sa.remote))
        # the wire says ESP (or UDP for NAT-T) with the right lengths
        assert Ether(frame)[traffic.ESP].spi == f.sa.spi


@pytest.mark.parametrize("algo", MATRIX_ALGOS)
@pytest.mark.parametrize("mode", ["4in4", "6in6", "trans4"])
def test_esn_across_2_32(algo, mode, rng):
    """ESN: seq_hi goes into the AEAD AAD / the HMAC input (RFC 4303
    2.2.1), checked independently; scapy round trip with the same hi."""
    f = topo.make_flow(3, algo, mode, rng=rng, esn=True)
    for seq in (1, 100, 2**32 - 2, 2**32 - 1, 2**32, 2**32 + 1, 5 * 2**32 + 7):
        inner = f.inner()
        frame = f.frame(inner, seq=seq)
        o = ref_open(f.sa, frame, seq_hi=seq >> 32)
        assert o.seq == seq & 0xFFFFFFFF
        check_trailer(f.sa, o)
        assert o.data == expected_payload(f.sa, inner)[0]
        back = f.sa.decrypt(Ether(frame).payload, seq_hi=seq >> 32)
        assert raw(back) == raw(inner)
        if f.sa.algo.icv_len:
            # a wrong seq_hi must not authenticate
            with pytest.raises(Exception):
                ref_open(f.sa, frame, seq_hi=(seq >> 32) + 1)


def test_seq_zero_is_on_the_wire(rng):
    f = topo.make_flow(1, "aes-128-gcm", "4in4", rng=rng)
    frame = f.frame(f.inner(), seq=0)
    o = ref_open(f.sa, frame)
    assert o.seq == 0


def test_iv_is_fresh(rng):
    f = topo.make_flow(1, "aes-128-gcm", "4in4", rng=rng)
    ivs = {ref_open(f.sa, fr).iv for _, fr in f.packets(50)}
    assert len(ivs) == 50


# -- negative-case builders ------------------------------------------------

@pytest.mark.parametrize("algo", ["aes-128-gcm", "aes-128-cbc+hmac-sha256-128",
                                  "null+hmac-sha256-128"])
def test_flip_icv(algo, rng):
    f = topo.make_flow(1, algo, "4in4", rng=rng)
    inner, frame = f.packets(1)[0]
    bad = traffic.flip_icv(frame)
    assert len(bad) == len(frame)
    assert sum(a != b for a, b in zip(bad, frame)) == 1
    assert bad[-1] != frame[-1]
    with pytest.raises(Exception):
        ref_open(f.sa, bad)
    with pytest.raises(IPSecIntegrityError):
        f.sa.decrypt(Ether(bad).payload)


@pytest.mark.parametrize("algo", ["aes-128-gcm", "aes-128-cbc+hmac-sha256-128",
                                  "aes-128-cbc+null", "aes-128-ctr+hmac-sha384-192"])
@pytest.mark.parametrize("mode", ["4in4", "6in6", "trans4"])
def test_bad_padding_bytes(algo, mode, rng):
    """Authentic (valid ICV), decrypts, but the pad bytes are not 1,2,3..."""
    f = topo.make_flow(1, algo, mode, rng=rng)
    inner = f.inner(size=61)
    frame = f.bad_padding_frame(inner)
    o = ref_open(f.sa, frame)                       # ICV valid
    assert o.padlen >= 2
    assert o.pad != bytes(range(1, o.padlen + 1))
    assert o.pad == b"\x00" * o.padlen
    assert o.data == expected_payload(f.sa, inner)[0]
    assert len(o.plain) % f.sa.algo.align == 0


def test_bad_padding_length(rng):
    f = topo.make_flow(1, "aes-128-cbc+hmac-sha256-128", "4in4", rng=rng)
    inner = f.inner(size=20)
    frame = f.bad_padding_frame(inner, kind="length")
    hdr, esp, _ = parse_frame(frame)
    o = ref_open(f.sa, frame)                       # ICV valid
    assert o.padlen == 255 and len(o.plain) < 255 + 2


@pytest.mark.parametrize("algo", ["aes-128-cbc+hmac-sha256-128", "aes-256-cbc+hmac-sha1-96",
                                  "aes-128-cbc+hmac-sha512-256"])
def test_cbc_not_block_multiple(algo, rng):
    f = topo.make_flow(1, algo, "4in4", rng=rng)
    frame = f.cbc_not_block_multiple_frame()
    hdr, esp, _ = parse_frame(frame)
    a = f.sa.algo
    body = esp[8 + a.iv_len:len(esp) - a.icv_len]
    assert len(body) % 16 != 0
    mac = hmac.new(f.sa.keys["auth_key"], esp[:len(esp) - a.icv_len],
                   getattr(hashlib, a.auth.digest)).digest()[:a.icv_len]
    assert mac == esp[len(esp) - a.icv_len:], "ICV must be valid"


@pytest.mark.parametrize("natt", [False, True])
def test_truncate_esp(natt, rng):
    f = topo.make_flow(0, "aes-128-gcm", "4in4", natt, rng=rng)
    _, frame = f.packets(1)[0]
    t = traffic.truncate_esp(frame, keep=4)
    hdr, esp, udp = parse_frame(t)                  # lengths consistent
    assert len(esp) == 12
    assert struct.unpack("!I", esp[:4])[0] == f.sa.spi
    assert (udp is not None) == natt


def test_udp_4500_specials():
    ka = traffic.nat_keepalive_frame("198.51.100.9", topo.WAN4, 40001,
                                     topo.WAN_MAC, topo.PEER_MAC)
    p = Ether(ka)
    assert len(ka) == 60                            # padded like a NIC delivers it
    assert p[UDP].dport == 4500 and p[UDP].len == 9
    assert bytes(p[UDP].payload)[:1] == b"\xff"
    ike = Ether(traffic.ike_marker_frame("198.51.100.9", topo.WAN4, 4500,
                                         topo.WAN_MAC, topo.PEER_MAC))
    data = raw(ike[UDP])[8:]
    assert data[:4] == b"\x00" * 4 and len(data) == 32
    i5 = Ether(traffic.ike500_frame("198.51.100.9", topo.WAN4, topo.WAN_MAC, topo.PEER_MAC))
    assert i5[UDP].sport == 500 and i5[UDP].dport == 500


def test_wrong_mac(rng):
    f = topo.make_flow(0, "aes-128-gcm", "4in4", rng=rng)
    _, frame = f.packets(1)[0]
    w = traffic.with_dst_mac(frame, topo.OTHER_MAC)
    assert Ether(w).dst == topo.OTHER_MAC and w[6:] == frame[6:]


def test_policy_mismatch_and_ttl(rng):
    f = topo.make_flow(0, "aes-128-gcm", "4in4", rng=rng)
    dep = topo.deployment()
    dep.add_sa(f.sa, f.policies)
    outside = f.inner(src="10.250.250.1")
    assert not f.policies[0].matches(outside.src, outside.dst, outside.proto)
    ok = f.inner()
    assert f.policies[0].matches(ok.src, ok.dst, ok.proto)
    ttl1 = f.inner(ttl=1)
    o = ref_open(f.sa, f.frame(ttl1))
    assert o.data[8] == 1


# -- config writers ----------------------------------------------------------

def build_dep(rng, crypto="cpu", layout="shared"):
    dep = topo.deployment(layout=layout, crypto=crypto)
    flows = [topo.make_flow(i, algo, mode, natt, rng=rng)
             for i, (algo, mode, natt) in enumerate(COMBOS)]
    for f in flows:
        dep.add_sa(f.sa, f.policies)
    dep.sas[0].install = "eager"
    return dep, flows


def test_policy_yaml_round_trip(rng):
    dep, flows = build_dep(rng)
    text = dep.policy_yaml()
    db = yaml.load(text, Loader=yaml.BaseLoader)
    assert set(db) == {"sas", "policies", "routes", "neighbors"}
    assert len(db["sas"]) == len(COMBOS)
    for item, f in zip(db["sas"], flows):
        back = SA.from_yaml(item)
        assert back.spi == f.sa.spi and back.keys == f.sa.keys
        assert back.algo.name == f.sa.algo.name
        assert (back.mode, back.local, back.remote, back.encap, back.esn) == \
            (f.sa.mode, f.sa.local, f.sa.remote, f.sa.encap, f.sa.esn)
        # the SA loaded from the YAML opens the original's traffic
        inner, frame = f.packets(1)[0]
        assert raw(back.decrypt(Ether(frame).payload)) == raw(inner)
    # the keys of CONTRACT.md, nothing else
    allowed = {"spi", "dir", "mode", "aead", "key", "cipher", "cipher_key", "auth",
               "auth_key", "local", "remote", "encap", "replay_window", "esn",
               "lifetime", "install"}
    for item in db["sas"]:
        assert set(item) <= allowed
        assert item["spi"].startswith("0x")
    assert db["sas"][0]["install"] == "eager"
    for p in db["policies"]:
        assert set(p) <= {"dir", "src", "dst", "proto", "sport", "dport", "action",
                          "sa", "priority"}
    # safe_load view (YAML 1.1 typing): 0x.. keys are ints, null is None,
    # the IPv6 addresses stay strings
    typed = yaml.safe_load(text)
    assert all(isinstance(s["spi"], int) for s in typed["sas"])
    assert any(s.get("cipher", "x") is None for s in typed["sas"])   # "cipher: null"
    assert all(isinstance(s["local"], str) for s in typed["sas"])


@pytest.mark.parametrize("layout", ["shared", "split"])
@pytest.mark.parametrize("crypto", ["cpu", "lookaside"])
def test_gateway_conf(tmp_path, rng, layout, crypto):
    dep, _ = build_dep(rng, crypto, layout)
    conf, out, prefix = gateway.prepare(dep, str(tmp_path), [b"\x00" * 60])
    c = libconf.load(conf)
    assert set(c) == {"eal", "ports", "lcores", "crypto", "policy", "telemetry", "control"}
    eal = c["eal"]
    assert eal[eal.index("--file-prefix") + 1] == prefix
    vdevs = [eal[i + 1] for i, a in enumerate(eal) if a == "--vdev"]
    assert vdevs[0] == "net_pcap0,rx_pcap=%s/in.pcap" % tmp_path
    assert vdevs[1] == "net_pcap1,tx_pcap=%s/out.pcap" % tmp_path
    assert vdevs[2] == "crypto_aesni_mb0"
    assert "--no-huge" in eal and "--no-pci" in eal
    assert ("-l" in eal) != ("--lcores" in eal)
    want = {"shared": ([1], [1]), "split": ([1], [2])}[layout]
    assert (c["lcores"]["cfe"], c["lcores"]["dfe"], c["lcores"]["ce"]) == want + (0,)
    assert c["crypto"] == {"mode": crypto, "devices": ["crypto_aesni_mb0"]}
    assert c["policy"] == "policy.yaml" and c["telemetry"] is False
    assert [p["name"] for p in c["ports"]] == ["wan0", "lan0"]
    assert c["ports"][0]["role"] == "unprotected" and c["ports"][1]["role"] == "protected"
    # loads back through the loader the demo and the fake gateway use
    back = config.Deployment.load(conf)
    assert [s.spi for s in back.sas] == [s.spi for s in dep.sas]
    assert len(back.policies) == len(dep.policies)


def test_eal_lcores_mapping():
    assert config.eal_lcores(1) in (["-l", "0-0"], ["--lcores", "0@%d" % min(
        __import__("os").sched_getaffinity(0))])
    args = config.eal_lcores(64)
    assert args[0] == "--lcores" and len(args[1].split(",")) == 64


def test_libconf_parser():
    text = '''# c
    a = 1; b = 0x10L; c = "x" "y"; d = true; e = [ "p", "q" ];
    f = ( { g = -2; }, { h = 1.5; } ); /* block
    comment */ i : { j = [ ]; }; // tail
    '''
    assert libconf.loads(text) == {"a": 1, "b": 16, "c": "xy", "d": True,
                                   "e": ["p", "q"], "f": [{"g": -2}, {"h": 1.5}],
                                   "i": {"j": []}}
    with pytest.raises(libconf.ParseError):
        libconf.loads("a = ;")


# -- expected output and comparator ---------------------------------------------

@pytest.mark.parametrize("fam", [4, 6])
def test_forwarded_matches_scapy_rebuild(fam):
    src, dst = ("10.1.0.1", topo.H4) if fam == 4 else ("2001:db8:a::1", topo.H6)
    for proto in traffic.PROTOS:
        for size in (20, 333):
            p = traffic.inner_packet(src, dst, proto, size, 1, 2, ttl=64)
            a = expect.forwarded_l3(p)
            assert a == expect.forwarded_scapy(p)
            if fam == 4:
                assert a[8] == 63 and checksum(a[:20]) == 0
            else:
                assert a[7] == 63
            ttl_at = 8 if fam == 4 else 7
            body_at = 12 if fam == 4 else 8
            assert a[:ttl_at] == raw(p)[:ttl_at] and a[body_at:] == raw(p)[body_at:]


def test_forwarded_l2_and_routes():
    dep = topo.deployment()
    for dst, mac in ((topo.H4, topo.H4_MAC), ("192.168.200.7", topo.R4_MAC),
                     (topo.H6, topo.H6_MAC), ("2001:db8:1a0::9", topo.R6_MAC)):
        src = "10.1.0.1" if ":" not in dst else "2001:db8:a::1"
        f = expect.forwarded(dep, traffic.inner_packet(src, dst))
        e = Ether(f)
        assert e.dst == mac and e.src == topo.LAN_MAC
    assert expect.forwarded(dep, traffic.inner_packet("10.1.0.1", "198.18.0.1")) is None


def _exp(n_keys=3, n=4):
    dep = topo.deployment()
    e = expect.Expected()
    frames = []
    for k in range(n_keys):
        for i in range(n):
            p = traffic.inner_packet("10.1.%d.1" % k, topo.H4, "udp", 40 + i, k, i)
            f = expect.forwarded(dep, p)
            e.add(0x100 + k, f)
            frames.append(f)
    return e, frames


def test_comparator_accepts_interleaved():
    e, frames = _exp()
    by = [frames[k * 4:(k + 1) * 4] for k in range(3)]
    e.check(traffic.interleave(by))
    assert e.compare(frames).ok()


def test_comparator_reports_each_defect():
    e, frames = _exp()
    # missing
    r = e.compare(frames[1:])
    assert not r.ok() and r.missing and "missing" in r.render()
    assert r.ok(0x101) and not r.ok(0x100)
    # duplicate
    r = e.compare(frames + [frames[5]])
    assert r.duplicates and "twice" in r.render()
    # reordered within one SA
    fr = list(frames)
    fr[0], fr[1] = fr[1], fr[0]
    r = e.compare(fr)
    assert r.reordered and "out of order" in r.render()
    # a byte differs: offset and field named
    fr = list(frames)
    b = bytearray(fr[2])
    b[22] ^= 0xFF                                   # IPv4 TTL
    fr[2] = bytes(b)
    r = e.compare(fr)
    msg = r.render()
    assert r.mismatched and "offset 22 (ip.ttl)" in msg
    # something nobody expected
    r = e.compare(frames + [b"\x01" * 60])
    assert r.unexpected and "unexpected" in r.render()
    with pytest.raises(AssertionError):
        e.check(frames[:-1])


def test_pcap_round_trip(tmp_path):
    frames = [bytes([k]) * (60 + k) for k in range(10)]
    p = gateway.write_pcap(str(tmp_path / "x.pcap"), frames)
    assert gateway.read_pcap(p) == frames


def test_interleave():
    assert traffic.interleave([[1, 2, 3], [4], [5, 6]]) == [1, 4, 5, 2, 6, 3]


# -- the fake gateway's ESP opener judges like the suite expects -----------------

def test_refesp_verdicts(rng):
    f = topo.make_flow(1, "aes-128-cbc+hmac-sha256-128", "4in4", rng=rng)
    g = topo.make_flow(2, "aes-128-gcm", "4in4", rng=rng)

    def esp_of(frame):
        return parse_frame(frame)[1]
    _, good = f.packets(1)[0]
    refesp.open_esp(f.sa, esp_of(good))
    with pytest.raises(refesp.AuthError):
        refesp.open_esp(f.sa, esp_of(traffic.flip_icv(good)))
    with pytest.raises(refesp.AuthError):
        refesp.open_esp(g.sa, esp_of(traffic.flip_icv(g.packets(1)[0][1])))
    with pytest.raises(refesp.Malformed):
        refesp.open_esp(f.sa, esp_of(traffic.truncate_esp(good)))
    with pytest.raises(refesp.Malformed):
        refesp.open_esp(f.sa, esp_of(f.cbc_not_block_multiple_frame()))
    for sa_flow in (f, g):
        with pytest.raises(refesp.Malformed):
            refesp.open_esp(sa_flow.sa, esp_of(sa_flow.bad_padding_frame(sa_flow.inner())))
