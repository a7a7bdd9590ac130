"""Bad or forbidden input: nothing (or only the valid part) comes out and
exactly one drop reason counts exactly the bad packets; every other drop
reason stays 0. One spigate run per case.

Each case function gets a Scenario and fills it; it returns
(drops, extra counters) where drops = {reason: count}.
"""

import pytest

from sgtest import topo, traffic
from sgtest.config import Policy
from sgtest.scenario import Scenario
from sgtest.traffic import ether, inner_packet

GCM = "aes-128-gcm"
CBC = "aes-128-cbc+hmac-sha256-128"

CASES = {}


def case(name):
    def deco(fn):
        CASES[name] = fn
        return fn
    return deco


# -- integrity ---------------------------------------------------------------

def _bad_icv(sc, algo, mode="4in4", natt=False):
    f = sc.flow(0, algo, mode, natt)
    _, frame = f.packets(1)[0]
    sc.send(traffic.flip_icv(frame))
    return {"auth_failed": 1}


case("icv-gcm")(lambda sc: _bad_icv(sc, GCM))
case("icv-cbc-sha256")(lambda sc: _bad_icv(sc, CBC))
case("icv-ctr-sha384-6in6")(lambda sc: _bad_icv(sc, "aes-128-ctr+hmac-sha384-192", "6in6"))
case("icv-null-sha256-trans6")(lambda sc: _bad_icv(sc, "null+hmac-sha256-128", "trans6"))
case("icv-gcm-natt")(lambda sc: _bad_icv(sc, GCM, "4in4", True))


@case("ciphertext-bit-gcm")
def _(sc):
    """A flipped ciphertext bit (not the ICV) is an authentication failure."""
    f = sc.flow(0, GCM, "4in4")
    _, frame = f.packets(1)[0]
    sc.send(traffic.flip_ciphertext(frame, offset=f.sa.iv_len + 3))
    return {"auth_failed": 1}


# -- anti-replay ---------------------------------------------------------------

@case("replay-10")
def _(sc):
    """10 valid, then the same 10 again: 10 out, 10 replay drops."""
    f = sc.flow(0, CBC, "4in4")
    frames = sc.send_valid(f, 10)
    for fr in frames:
        sc.send(fr)
    return {"replay": 10}, {"tx": 10, "decrypted": 10}


@case("seq-0")
def _(sc):
    f = sc.flow(0, GCM, "4in4")
    sc.send(f.frame(f.inner(), seq=0))
    return {"replay": 1}


@case("left-of-window")
def _(sc):
    """window 64: seq 1 and 200 pass, then 100 (200 - 100 >= 64) is too old."""
    f = sc.flow(0, GCM, "4in4", replay_window=64)
    for seq in (1, 200):
        inner = f.inner()
        sc.send(f.frame(inner, seq=seq))
        sc.expect(f.spi, inner)
    sc.send(f.frame(f.inner(), seq=100))
    return {"replay": 1}, {"tx": 2}


@case("inside-window-out-of-order")
def _(sc):
    """Out-of-order but inside the window is NOT a replay: 1, 5, 3, 4, 2 all
    pass (in arrival order), then 3 again is."""
    f = sc.flow(0, GCM, "4in4", replay_window=64)
    for seq in (1, 5, 3, 4, 2):
        inner = f.inner()
        sc.send(f.frame(inner, seq=seq))
        sc.expect(f.spi, inner)
    sc.send(f.frame(f.inner(), seq=3))
    return {"replay": 1}, {"tx": 5}


@case("esn-replay-after-wrap")
def _(sc):
    """ESN: after crossing 2^32, a replay of 2^32-2 (inside the window) and
    one of 1 (far left) are both replays."""
    f = sc.flow(0, CBC, "4in4", esn=True, replay_window=64)
    seqs = [1, 100, 2**32 - 3, 2**32 - 2, 2**32 - 1, 2**32, 2**32 + 1]
    frames = {}
    for seq in seqs:
        inner = f.inner()
        frames[seq] = f.frame(inner, seq=seq)
        sc.send(frames[seq])
        sc.expect(f.spi, inner)
    sc.send(frames[2**32 - 2])
    sc.send(frames[1])
    return {"replay": 2}, {"tx": len(seqs)}


# -- lookup ----------------------------------------------------------------------

@case("unknown-spi")
def _(sc):
    known = sc.flow(0, GCM, "4in4")             # a configured SA, untouched
    stranger = topo.make_flow(1, GCM, "4in4", rng=sc.rng, spi=0xDEAD0001)
    assert stranger.spi != known.spi
    sc.send(stranger.packets(1)[0][1])
    return {"unknown_spi": 1}


@case("unknown-spi-natt")
def _(sc):
    sc.flow(0, GCM, "4in4", True)
    stranger = topo.make_flow(1, GCM, "4in4", True, rng=sc.rng, spi=0xDEAD0002)
    sc.send(stranger.packets(1)[0][1])
    return {"unknown_spi": 1}


# -- malformed -------------------------------------------------------------------

def _truncated(sc, algo, natt=False):
    f = sc.flow(0, algo, "4in4", natt)
    _, frame = f.packets(1)[0]
    sc.send(traffic.truncate_esp(frame, keep=4))
    return {"malformed": 1}


case("truncated-gcm")(lambda sc: _truncated(sc, GCM))
case("truncated-cbc")(lambda sc: _truncated(sc, CBC))
case("truncated-gcm-natt")(lambda sc: _truncated(sc, GCM, True))


@case("cbc-not-block-multiple")
def _(sc):
    f = sc.flow(0, CBC, "4in4")
    sc.send(f.cbc_not_block_multiple_frame(body_len=37))
    return {"malformed": 1}


@case("cbc-not-block-multiple-sha1")
def _(sc):
    f = sc.flow(0, "aes-256-cbc+hmac-sha1-96", "6in6")
    sc.send(f.cbc_not_block_multiple_frame(body_len=40))
    return {"malformed": 1}


def _bad_padding(sc, algo, mode="4in4", kind="bytes"):
    f = sc.flow(0, algo, mode)
    sc.send(f.bad_padding_frame(f.inner(size=61), kind=kind))
    return {"malformed": 1}


case("bad-padding-cbc")(lambda sc: _bad_padding(sc, CBC))
case("bad-padding-gcm")(lambda sc: _bad_padding(sc, GCM))
case("bad-padding-cbc-null-auth")(lambda sc: _bad_padding(sc, "aes-128-cbc+null"))
case("bad-padding-trans4")(lambda sc: _bad_padding(sc, GCM, "trans4"))
case("bad-padlen-cbc")(lambda sc: _bad_padding(sc, CBC, kind="length"))


# -- after decryption ----------------------------------------------------------------

@case("selector-src-v4")
def _(sc):
    """Inner source outside the SA's inbound policy."""
    f = sc.flow(0, GCM, "4in4")
    sc.send(f.frame(f.inner(src="10.250.250.1")))
    return {"policy_mismatch": 1}


@case("selector-dst-v6")
def _(sc):
    f = sc.flow(0, CBC, "6in6")
    sc.send(f.frame(f.inner(dst="2001:db8:ffff::1")))
    return {"policy_mismatch": 1}


@case("selector-other-sas-selectors")
def _(sc):
    """Inner packet allowed for SA B arriving through SA A."""
    a = sc.flow(0, GCM, "4in4")
    b = sc.flow(1, GCM, "4in4")
    sc.send(a.frame(a.inner(src=b.srcs[0])))
    return {"policy_mismatch": 1}


@case("selector-proto-port")
def _(sc):
    """The SA's policy allows UDP to port 7000 only; TCP comes through."""
    f = sc.flow(0, GCM, "4in4")
    f.policies[0].proto = "udp"
    f.policies[0].dport = 7000
    sc.send(f.frame(f.inner(proto="tcp")))
    return {"policy_mismatch": 1}


@case("ttl-1-v4")
def _(sc):
    f = sc.flow(0, GCM, "4in4")
    sc.send(f.frame(f.inner(ttl=1)))
    return {"ttl_exceeded": 1}


@case("hlim-1-v6")
def _(sc):
    f = sc.flow(0, GCM, "6in4")
    sc.send(f.frame(f.inner(ttl=1)))
    return {"ttl_exceeded": 1}


@case("no-route")
def _(sc):
    """Inner destination allowed by the policy but with no route."""
    f = sc.flow(0, GCM, "4in4")
    f.policies[0].dst = "0.0.0.0/0"
    sc.send(f.frame(f.inner(dst="198.18.0.1")))
    return {"no_route": 1}


# -- L2 / UDP 4500 / IKE ---------------------------------------------------------------

@case("wrong-dst-mac")
def _(sc):
    f = sc.flow(0, GCM, "4in4")
    _, frame = f.packets(1)[0]
    sc.send(traffic.with_dst_mac(frame, topo.OTHER_MAC))
    return {"not_for_us": 1}


@case("nat-keepalive")
def _(sc):
    sc.flow(0, GCM, "4in4", True)
    sc.send(traffic.nat_keepalive_frame("198.51.100.1", topo.WAN4, 40001,
                                        topo.WAN_MAC, topo.PEER_MAC))
    return {"nat_keepalive": 1}


@case("ike-marker-4500")
def _(sc):
    sc.flow(0, GCM, "4in4", True)
    sc.send(traffic.ike_marker_frame("198.51.100.1", topo.WAN4, 40001,
                                     topo.WAN_MAC, topo.PEER_MAC))
    return {"ike": 1}


@case("ike-500")
def _(sc):
    sc.flow(0, GCM, "4in4")
    sc.send(traffic.ike500_frame("198.51.100.1", topo.WAN4, topo.WAN_MAC, topo.PEER_MAC))
    return {"ike": 1}


# -- the punt path and the hold queue ------------------------------------------------

@case("punt-flood-policed")
def _(sc):
    """punt = { rate = 10; burst = 5; }: 200 packets of unknown SPIs in a row
    get 5 punts (counted unknown_spi by the CE) and 195 punt_policed, while
    an installed SA's traffic interleaved with the flood all comes out."""
    sc.dep.extra["punt"] = {"rate": 10, "burst": 5}
    good = sc.flow(0, GCM, "4in4", install="eager")
    for i in range(200):
        stranger = topo.make_flow(1, GCM, "4in4", rng=sc.rng, spi=0xDEAD0000 + i)
        _, frame = stranger.packets(1)[0]
        sc.send(frame)
        if i % 10 == 0:
            sc.send_valid(good, 1)
    return {"unknown_spi": 5, "punt_policed": 195}, {"tx": 20, "decrypted": 20}


@case("hold-overflow")
def _(sc):
    """hold = { packets = 4; }: 20 packets of a lazy SA in one RX burst, all
    punted before the SA exists: the first 4 are held and come out, in
    order; 16 are dropped as hold_overflow."""
    sc.dep.extra["hold"] = {"packets": 4}
    f = sc.flow(0, GCM, "4in4")
    for k, (inner, frame) in enumerate(f.packets(20)):
        sc.send(frame)
        if k < 4:
            sc.expect(f.spi, inner)
    return {"hold_overflow": 16}, {"tx": 4, "decrypted": 4, "held": 4,
                                   "reinjected": 4}


@case("outer-fragment")
def _(sc):
    """An outer IPv4 fragment of ESP: no reassembly, counted."""
    from scapy.all import Ether, IP
    f = sc.flow(0, GCM, "4in4")
    _, frame = f.packets(1)[0]
    pkt = Ether(frame)
    pkt[IP].flags = "MF"
    del pkt[IP].chksum
    sc.send(bytes(pkt))
    return {"fragment": 1}


@case("arp-non-ip")
def _(sc):
    from scapy.all import ARP, Ether
    sc.flow(0, GCM, "4in4")
    sc.send(bytes(Ether(dst="ff:ff:ff:ff:ff:ff", src=topo.PEER_MAC) /
                  ARP(psrc="172.16.2.1", pdst=topo.WAN4)))
    return {"non_ip": 1}


# -- clear traffic -------------------------------------------------------------------------

@case("clear-no-policy")
def _(sc):
    """Clear packet on wan0 and no bypass policy: default deny."""
    sc.flow(0, GCM, "4in4")
    p = inner_packet("198.51.100.7", topo.H4, "udp", 40, flow_id=900)
    sc.send(ether(p, topo.WAN_MAC, topo.PEER_MAC))
    return {"no_policy": 1}


@case("clear-discard")
def _(sc):
    sc.dep.policies.append(Policy("in", "198.51.100.0/24", "0.0.0.0/0", action="discard",
                                  priority=50))
    p = inner_packet("198.51.100.7", topo.H4, "udp", 40, flow_id=900)
    sc.send(ether(p, topo.WAN_MAC, topo.PEER_MAC))
    return {"discard": 1}


@pytest.mark.negative
@pytest.mark.parametrize("name", list(CASES))
def test_negative(name, spigate_bin, workdir, seed_rng):
    sc = Scenario(rng=seed_rng)
    r = CASES[name](sc)
    drops, extra = r if isinstance(r, tuple) else (r, {})
    res = sc.run(workdir, spigate_bin)
    sc.check(res)                               # zero egress unless valid packets expected
    extra = dict(extra)
    extra.setdefault("tx", sc.expected.count())
    res.assert_counters(rx=len(sc.frames), only_drops=drops, **extra)


@pytest.mark.negative
@pytest.mark.slow
@pytest.mark.parametrize("crypto", ["cpu", "lookaside"])
def test_long_replay_run(crypto, spigate_bin, workdir, seed_rng):
    """1,000 packets, then the same 1,000 again, replay_window 1024:
    exactly 1,000 out (in order) and 1,000 replay drops. (DPDK lib/ipsec's
    own window lets part of such a run through; the gateway must not.)"""
    sc = Scenario(crypto=crypto, rng=seed_rng)
    f = sc.flow(0, GCM, "4in4", replay_window=1024, install="eager")
    frames = sc.send_valid(f, 1000, size=40)
    for fr in frames:
        sc.send(fr)
    res = sc.run(workdir, spigate_bin)
    sc.check(res)
    res.assert_counters(rx=2000, tx=1000, decrypted=1000, only_drops={"replay": 1000})


@pytest.mark.negative
@pytest.mark.parametrize("crypto", ["cpu", "lookaside"])
def test_mixed_bursts(crypto, spigate_bin, workdir, seed_rng):
    """Good packets of two SAs mixed, inside the same bursts, with replays of
    earlier ones and with forgeries far ahead of the window (DEPENDENCY-NOTES:
    lib/ipsec-based gateways emitted corrupted packets on such bursts). Every
    good packet must come out once, in order, byte for byte; each replay and
    forgery must be counted, and a forgery must not move the window."""
    sc = Scenario(crypto=crypto, rng=seed_rng)
    flows = [sc.flow(0, GCM, "4in4", replay_window=1024, install="eager"),
             sc.flow(1, CBC, "4in4", replay_window=1024, install="eager")]
    sent = {0: [], 1: []}
    replays = forged = 0
    for i in range(1, 601):
        for k, f in enumerate(flows):
            inner = f.inner()
            frame = f.frame(inner, seq=i)
            sc.send(frame)
            sc.expect(f.spi, inner)
            sent[k].append(frame)
            if i % 3 == 0:
                sc.send(sent[k][sc.rng.randrange(len(sent[k]))])
                replays += 1
            if i % 7 == 0:
                sc.send(traffic.flip_icv(f.frame(f.inner(), seq=i + 100000)))
                forged += 1
    res = sc.run(workdir, spigate_bin)
    sc.check(res)
    res.assert_counters(rx=len(sc.frames), tx=1200, decrypted=1200,
                        only_drops={"replay": replays, "auth_failed": forged})
