"""The direct CBC path outbound (lib/dfe/dfe_cbc.c, dfe_cbc_outbound():
outbound tunnel-mode AES-CBC + HMAC SAs encapsulated without lib/ipsec; in
cpu mode encrypted and authenticated in the DFE's intel-ipsec-mb manager,
the jobs kept there across bursts with the inbound ones; in lookaside mode
as the DFE's own operations on the crypto device) against the path it
replaces, lib/ipsec and the aesni_mb queue pair (the same binary with
SPIGATE_DIRECT_CBC=0).

One capture of clear packets into lan0: every key size and HMAC of the
product, every tunnel shape (4in4, 6in6, 4in6, 6in4, NAT-T over IPv4 and
IPv6 outer, ESN), every padding length (16 consecutive sizes), DSCP/ECN
values, DF set and clear; the SAs interleaved packet by packet, so that a
burst's jobs of many SAs share the lanes; at the egress MTU (wan0: 1000)
the packet that fits exactly, the one that does not (dropped, or
fragmented before encryption when it is IPv4 without DF); TTL 1; an SA
whose hard packet lifetime runs out mid-capture; and, through wan1 (MTU
9000), packets near the mbuf's size, where lib/ipsec runs out of tail room
(no_mbuf). Each path's output must be exactly what scapy expects
(sgtest.outcheck decrypts every ESP frame), the two outputs identical byte
for byte on every port (each SA's packets in the same order), and every
counter equal.

The IV of every packet is checked on its own as well: decrypted with the
SA's key (AES, one block), it must be the 64-bit sequence number and 8
zero bytes, lib/ipsec's construction (docs/architecture.md, "The direct
crypto paths").

The sequence numbers start at 1 (spigate has no setting for the first one),
so the ESN SAs carry a high half of 0; it is authenticated all the same,
and scapy checks it.
"""

import struct

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from sgtest import direct, outcheck

ALGOS = ("aes-128-cbc+hmac-sha256-128", "aes-256-cbc+hmac-sha1-96",
         "aes-128-cbc+hmac-sha384-192", "aes-256-cbc+hmac-sha512-256")
ICV = {ALGOS[0]: 16, ALGOS[1]: 12, ALGOS[2]: 24, ALGOS[3]: 32}
GCM = "aes-128-gcm"



def no_room(frame_len, algo, esn):
    """lib/ipsec's tail room check for a tunnel CBC packet in one mbuf:
    padding to 16 bytes with the trailer, the ICV and, with ESN, the high
    half of the sequence number (4) must fit after the frame."""
    plen = frame_len - 14
    pad2 = -(-(plen + 2) // 16) * 16 - plen
    return pad2 + ICV[algo] + (4 if esn else 0) > direct.DATA_ROOM - frame_len


def build(rng, crypto):
    """The scenario and the drops it must produce."""
    b = direct.OutBuild(rng, crypto)
    for a, algo in enumerate(ALGOS):
        # every shape with the first two algorithms, half of them with the
        # other two
        for mode, natt, esn in direct.OUT_SHAPES if a < 2 else direct.OUT_SHAPES[a % 2::2]:
            f = b.flow(algo, mode, natt, esn=esn)
            v4 = f.inner_family == 4
            fr = []
            # 16 consecutive sizes: every padding length
            for k in range(16):
                inner = f.inner(size=40 + k + (b.i % 3) * 16,
                                tos=direct.OUT_TOS[k % len(direct.OUT_TOS)],
                                df=(k % 2 == 1) if v4 else None)
                b.send(f, fr, inner)
            b.edges(f, fr)
            b.per.append(fr)
    b.lifetime(ALGOS[0], range(64, 74))
    # wan1: frames up to the mbuf's data room
    b.tailroom(((ALGOS[0], "4in4", False), (ALGOS[3], "6in6", True),
                (ALGOS[1], "6in4", False)), 1980, no_room)
    # the other paths in the same capture: CBC transport (lib/ipsec), GCM
    # (the direct GCM path)
    for algo, mode in ((ALGOS[0], "trans4"), (ALGOS[1], "trans6"), (GCM, "4in4")):
        f = b.flow(algo, mode)
        fr = []
        for k in range(6):
            b.send(f, fr, f.inner(size=64 + k))
        b.per.append(fr)
    return b.done()


@pytest.fixture(scope="module", params=list(direct.CBC_MODES))
def runs(request, spigate_bin, tmp_path_factory):
    return direct.two_runs(build, "SPIGATE_DIRECT_CBC", "dcbco", spigate_bin,
                           tmp_path_factory, crypto=request.param.split("-")[0],
                           env=direct.CBC_MODES[request.param])


@pytest.mark.parametrize("path", direct.PATHS)
def test_exact(runs, path):
    """Each path: every packet out once, in order, as scapy expects it
    (decrypted, outer header, sequence numbers, IVs, fragments); exactly
    the expected drops."""
    direct.assert_out_exact(runs[path])


@pytest.mark.parametrize("path", direct.PATHS)
def test_iv_construction(runs, path):
    """Every CBC tunnel packet's IV, decrypted with the SA's key, is its
    64-bit sequence number and 8 zero bytes (the high half is 0 here): the
    IV is E_K(seq || 0^64), unique per packet and unpredictable without the
    key, on either path."""
    sc, _, res = runs[path]
    sas = {f.spi: f.sa for f in sc.flows if f.sa.algo.name in ALGOS}
    seen = 0
    for port in ("wan0", "wan1"):
        for fr in res.out[port]:
            w = outcheck.Wire(bytes(fr))
            sa = sas.get(w.spi)
            if sa is None or sa.mode != "tunnel":
                continue
            dec = Cipher(algorithms.AES(sa.keys["cipher_key"]), modes.ECB()).decryptor()
            seed = dec.update(w.esp[8:24]) + dec.finalize()
            assert seed == struct.pack("!QQ", w.seq, 0), \
                "SPI %#x seq %d: IV %s decrypts to %s" % (w.spi, w.seq, w.esp[8:24].hex(),
                                                          seed.hex())
            seen += 1
    assert seen > 500


def by_spi(frames):
    """{spi: [frame, ...]} in capture order."""
    out = {}
    for fr in frames:
        fr = bytes(fr)
        out.setdefault(outcheck.Wire(fr).spi, []).append(fr)
    return out


def test_same_output(runs):
    """The two paths: the same frames on every port, byte for byte, each
    SA's in the same order, and the same counters. (Across SAs the direct
    path sends a CBC group when its jobs come out of the lanes, after
    groups submitted later that took other paths.)"""
    _, _, a = runs["lib/ipsec"]
    _, _, b = runs["direct"]
    assert sorted(a.out) == sorted(b.out)
    for port in a.out:
        assert len(a.out[port]) == len(b.out[port]), port
        assert by_spi(a.out[port]) == by_spi(b.out[port]), port
    assert a.stats == b.stats


def test_sha_engine(runs, request):
    """The direct path ran on the HMAC engine its mode asks for (spigate
    logs it at start)."""
    direct.assert_sha_engine(runs, request.node.callspec.params["runs"])
