"""The direct CBC path (lib/dfe/dfe_cbc.c: inbound tunnel-mode AES-CBC + HMAC
SAs; in cpu mode every packet in one intel-ipsec-mb manager, the jobs kept
there across bursts; in lookaside mode the DFE's own operations on the
crypto device) against lib/ipsec's path of the same mode (the same binary
with SPIGATE_DIRECT_CBC=0).

One capture of scapy-built ESP: every key size and HMAC of the product,
every tunnel shape, NAT-T, ESN across 2^32 (the high half authenticated
after the payload), SAs interleaved packet by packet so that each burst
mixes many SAs in the lanes, and every kind of bad packet (ICV, ciphertext,
not a whole number of blocks, empty, padding, pad length, next header,
truncation, replays, sequence number 0, a forged copy of a packet still in
the manager). Each path's output must be exactly
what scapy expects, the two outputs identical byte for byte, every counter
and drop reason equal.
"""

import pytest

from sgtest import direct, traffic
from sgtest.scenario import Scenario
from sgtest.traffic import interleave

ALGOS = ["aes-128-cbc+hmac-sha256-128", "aes-256-cbc+hmac-sha1-96",
         "aes-128-cbc+hmac-sha384-192", "aes-256-cbc+hmac-sha512-256"]
SHAPES = [("4in4", False), ("6in6", False), ("4in6", False), ("6in4", False),
          ("4in4", True), ("6in4", True)]



def build(rng, crypto):
    """The scenario and the drops it must produce."""
    sc = Scenario(crypto=crypto, rng=rng)
    drops = {}
    i = 0
    flows = []
    per_flow = []
    for k, algo in enumerate(ALGOS):
        for mode, natt in SHAPES[k % 2::2] if k > 1 else SHAPES:
            f = sc.flow(i, algo, mode, natt, replay_window=64, install="eager")
            i += 1
            flows.append(f)
            frames = []
            for inner, fr in f.packets(9):
                sc.expect(f.spi, inner)
                frames.append(fr)
            per_flow.append(frames)
    # many SAs per burst: packet k of every flow, then packet k + 1, ...
    sc.frames += interleave(per_flow)
    for f in flows[::2]:
        direct.send_bad(sc, f, drops, lambda f: f.cbc_not_block_multiple_frame(body_len=37))
        direct.send_bad_long(sc, f, drops)
    # ESN across 2^32, the high half after the payload in the ICV
    f = sc.flow(i, ALGOS[0], "4in4", esn=True, replay_window=64,
                install="eager")
    i += 1
    direct.send_esn(sc, f, drops)
    # the other paths in the same capture: NULL cipher, CTR, transport
    for algo, mode in (("null+hmac-sha256-128", "4in4"),
                       ("aes-128-ctr+hmac-sha384-192", "6in6"),
                       (ALGOS[0], "trans4")):
        f = sc.flow(i, algo, mode, install="eager")
        i += 1
        sc.send_valid(f, 4)
    # jobs stay in the manager across bursts (with SHA-256 the last 15 of
    # each 32), operations in the device until the next poll: a forged
    # copy (ICV flipped) of the last packet of a burst, first in the next
    # burst, passes the pre-check while that packet is still in the crypto.
    # It must count as a replay, as on lib/ipsec's path, where the window
    # already holds its number; and so must the genuine copy after it.
    # (The CFE reads the capture 32 frames at a time.)
    f = sc.flow(i, ALGOS[0], "4in4", replay_window=64, install="eager")
    i += 1
    valid = sc.send_valid(f, (-len(sc.frames)) % 32 + 32)
    assert len(sc.frames) % 32 == 0
    sc.send(traffic.flip_icv(valid[-1]))
    sc.send(valid[-1])
    direct.count(drops, "replay", 2)
    return sc, drops


@pytest.fixture(scope="module", params=list(direct.CBC_MODES))
def runs(request, spigate_bin, tmp_path_factory):
    return direct.two_runs(build, "SPIGATE_DIRECT_CBC", "dcbc", spigate_bin,
                           tmp_path_factory, crypto=request.param.split("-")[0],
                           env=direct.CBC_MODES[request.param])


@pytest.mark.parametrize("path", direct.PATHS)
def test_exact(runs, path):
    """Each path: every valid packet out once, in order per SA, byte-exact
    (scapy's expectations); exactly the expected drops."""
    direct.assert_inbound_exact(runs[path])


def test_same_output(runs):
    """The two paths: the same frames per SA, byte for byte, in the same
    order, and the same counters. (Across SAs the direct path forwards a
    burst's CBC groups after its other groups.)"""
    _, _, a = runs["lib/ipsec"]
    _, _, b = runs["direct"]
    assert len(a.frames) == len(b.frames)
    assert sorted(bytes(x) for x in a.frames) == sorted(bytes(y) for y in b.frames)

    def by_dst_mac_and_src(frames):
        # frames of one SA keep their order: compare the sequences of
        # frames that share inner source (one SA each here)
        out = {}
        for fr in frames:
            fr = bytes(fr)
            out.setdefault(fr[:6] + fr[26:30] if fr[12:14] == b"\x08\x00"
                           else fr[:6] + fr[22:38], []).append(fr)
        return out
    assert by_dst_mac_and_src(a.frames) == by_dst_mac_and_src(b.frames)
    assert a.stats == b.stats


def test_sha_engine(runs, request):
    """The direct path ran on the HMAC engine its mode asks for (spigate
    logs it at start)."""
    direct.assert_sha_engine(runs, request.node.callspec.params["runs"])
