#!/usr/bin/python3
"""Benchmark traffic and configurations for `make bench` (docs/PERFORMANCE.md).

    bench/gen_traffic.py --alg gcm128 --size 64 --sas 1000 --out FILE.pcap
    bench/gen_traffic.py --alg cbc128-sha256 --size imix --sas 1 --out F.pcap \
                         --spigate-policy policy.yaml --peer-cfg ep.cfg

Writes a capture of ESP tunnel-mode IPv4 packets, as a remote peer sends them
to the gateway's unprotected port: outer 172.16.1.5 -> 172.16.2.5, inner
IPv4/UDP from 10.0.0.0/8 (one source address per SA) to 192.168.105.10.
Packet k belongs to SA k mod N (traffic spread round-robin over every SA, so
consecutive packets of a burst hit different SAs whenever N > 1); its
sequence number is its rank within its SA, from 1.

Sizes are inner IP packet lengths (what the gateway forwards, without
Ethernet): 64, 512, 1420, or imix = 64/512/1420 in the ratio 7:4:1.

The SA keys are derived from the SPI (sha256), so the capture, spigate's
policy database and ipsec-secgw's SA file agree without sharing state.
SPIs are 0x1000 + SA index.

scapy builds the inner packet templates and checks the first packets of
every capture (scapy's own ESP implementation decrypts them); the bulk
encryption uses python3-cryptography directly, which is ~50x faster than
scapy's per-packet path and matters for 100,000-packet captures.
"""

import argparse
import hashlib
import hmac
import os
import struct
import sys

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

ALGS = {
    # name: spigate keys, peer keys, ESP layout
    "gcm128": {"kind": "gcm", "klen": 16, "label": "AES-128-GCM"},
    "gcm256": {"kind": "gcm", "klen": 32, "label": "AES-256-GCM"},
    "cbc128-sha256": {"kind": "cbc", "klen": 16, "alen": 32,
                      "label": "AES-128-CBC+HMAC-SHA256-128"},
}
SIZES = ["64", "512", "1420", "imix"]
IMIX = [64] * 7 + [512] * 4 + [1420]          # 7:4:1, interleaved below
IMIX_ORDER = [64, 512, 64, 64, 512, 64, 1420, 64, 512, 64, 512, 64]
assert sorted(IMIX_ORDER) == sorted(IMIX)

SPI_BASE = 0x1000
GW_MAC = "02:00:00:00:00:01"      # spigate wan0
PEER_MAC = "02:00:00:00:00:99"    # the simulated remote peer
LAN_MAC = "02:00:00:00:00:02"     # spigate lan0
HOST_MAC = "02:00:00:00:01:10"    # 192.168.105.10, behind lan0
OUTER_SRC = "172.16.1.5"
OUTER_DST = "172.16.2.5"
INNER_DST = "192.168.105.10"
INNER_NET = 0x0A000001            # SA i sends from 10.0.0.1 + i


def mean_size(size):
    if size == "imix":
        return sum(IMIX) / len(IMIX)
    return int(size)


def default_count(size, nsas):
    """Packets in a capture: at least 4,096 and at least one per SA, a
    multiple of the IMIX cycle (12) for imix."""
    n = max(4096, nsas)
    if size == "imix":
        n = (n + 11) // 12 * 12
    return n


def spi_of(i):
    return SPI_BASE + i


def inner_src(i):
    a = INNER_NET + i
    return "%d.%d.%d.%d" % (a >> 24, (a >> 16) & 255, (a >> 8) & 255, a & 255)


def keys_of(alg, i):
    """Deterministic keying material of SA i: (cipher key, salt or None,
    auth key or None)."""
    a = ALGS[alg]
    seed = hashlib.sha256(b"spigate-bench/%s/%d" % (alg.encode(), spi_of(i))).digest()
    seed += hashlib.sha256(seed).digest()
    k = seed[:a["klen"]]
    if a["kind"] == "gcm":
        return k, seed[a["klen"]:a["klen"] + 4], None
    return k, None, seed[32:32 + a["alen"]]


def _csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def _ipv4(src, dst, proto, payload_len, ident=0, ttl=64):
    h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + payload_len, ident, 0x4000, ttl, proto,
                    0, bytes(map(int, src.split("."))), bytes(map(int, dst.split("."))))
    c = _csum(h)
    return h[:10] + struct.pack("!H", c) + h[12:]


def _mac(s):
    return bytes(int(x, 16) for x in s.split(":"))


class Sealer:
    """ESP tunnel-mode encryption of one SA (RFC 4303, 4106)."""

    def __init__(self, alg, i):
        self.alg = alg
        self.kind = ALGS[alg]["kind"]
        self.spi = spi_of(i)
        k, salt, ak = keys_of(alg, i)
        self.salt = salt
        self.ak = ak
        if self.kind == "gcm":
            self.aead = AESGCM(k)
        else:
            self.k = k

    def seal(self, inner, seq, iv_seed):
        align = 4 if self.kind == "gcm" else 16
        padlen = (-(len(inner) + 2)) % align
        pt = inner + bytes(range(1, padlen + 1)) + bytes((padlen, 4))   # next header: IPv4
        hdr = struct.pack("!II", self.spi, seq)
        if self.kind == "gcm":
            iv = iv_seed[:8]
            ct = self.aead.encrypt(self.salt + iv, pt, hdr)        # ciphertext || 16-byte tag
            return hdr + iv + ct
        iv = iv_seed[:16]
        enc = Cipher(algorithms.AES(self.k), modes.CBC(iv)).encryptor()
        ct = enc.update(pt) + enc.finalize()
        icv = hmac.new(self.ak, hdr + iv + ct, hashlib.sha256).digest()[:16]
        return hdr + iv + ct + icv


def inner_template(size):
    """Inner IPv4/UDP packet of `size` bytes, built with scapy."""
    from scapy.layers.inet import IP, UDP
    from scapy.packet import Raw
    if size < 28:
        raise ValueError("inner size %d < 28" % size)
    p = IP(src=inner_src(0), dst=INNER_DST, ttl=64, id=0) / UDP(sport=1024, dport=5001) \
        / Raw(b"\x5a" * (size - 28))
    b = bytes(p)
    assert len(b) == size
    return b


def build_frames(alg, size, nsas, count=None):
    """The capture's frames (bytes), in order."""
    count = count or default_count(size, nsas)
    sizes = [int(size)] if size != "imix" else IMIX_ORDER
    tmpl = {s: bytearray(inner_template(s)) for s in set(sizes)}
    sealers = {}
    seqs = [0] * nsas
    eth = _mac(GW_MAC) + _mac(PEER_MAC) + b"\x08\x00"
    frames = []
    for k in range(count):
        i = k % nsas
        s = sealers.get(i)
        if s is None:
            s = sealers[i] = Sealer(alg, i)
        seqs[i] += 1
        sz = sizes[k % len(sizes)]
        inner = tmpl[sz]
        # per-SA source address and UDP source port, fresh IP checksum,
        # UDP checksum 0 (allowed for UDP over IPv4)
        a = INNER_NET + i
        inner[4:6] = struct.pack("!H", k & 0xFFFF)      # IP id
        inner[12:16] = struct.pack("!I", a)
        inner[10:12] = b"\0\0"
        inner[10:12] = struct.pack("!H", _csum(bytes(inner[:20])))
        inner[20:22] = struct.pack("!H", 1024 + (k % 50000))
        inner[26:28] = b"\0\0"
        ivs = hashlib.blake2b(struct.pack("!QQ", i, seqs[i]), digest_size=16).digest()
        assert len(inner) == sz
        esp = s.seal(bytes(inner), seqs[i], ivs)
        frames.append(eth + _ipv4(OUTER_SRC, OUTER_DST, 50, len(esp), ident=k & 0xFFFF) + esp)
    return frames


def write_pcap(path, frames):
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for n, fr in enumerate(frames):
            f.write(struct.pack("<IIII", n // 1000000, n % 1000000, len(fr), len(fr)))
            f.write(fr)
    os.replace(tmp, path)


def verify(alg, frames, nsas, n=3):
    """Decrypt the first n frames with scapy's ESP and compare the inner
    packet with what the capture should hold."""
    from scapy.layers.ipsec import SecurityAssociation, ESP
    from scapy.layers.inet import IP
    from scapy.layers.l2 import Ether
    for k in range(min(n, len(frames))):
        i = k % nsas
        ck, salt, ak = keys_of(alg, i)
        if ALGS[alg]["kind"] == "gcm":
            sa = SecurityAssociation(ESP, spi=spi_of(i), crypt_algo="AES-GCM",
                                     crypt_key=ck + salt)
        else:
            sa = SecurityAssociation(ESP, spi=spi_of(i), crypt_algo="AES-CBC", crypt_key=ck,
                                     auth_algo="SHA2-256-128", auth_key=ak)
        pkt = Ether(frames[k])[IP]
        dec = sa.decrypt(pkt)          # transport view: outer header + inner IP
        if dec.proto == 4:
            dec = dec.payload
        if dec.src != inner_src(i) or dec.dst != INNER_DST:
            raise AssertionError("frame %d decrypts to %s -> %s" % (k, dec.src, dec.dst))


# ---------------------------------------------------------------- configs

def _hex(b):
    return "0x" + b.hex()


def spigate_policy(alg, nsas, install="eager", replay_window=0):
    """spigate's policy database (YAML) for nsas inbound SAs, one protect
    policy each, a route and a neighbour for 192.168.105.0/24."""
    kind = ALGS[alg]["kind"]
    out = ["# generated by bench/gen_traffic.py: %d SAs, %s, install %s, replay_window %d"
           % (nsas, ALGS[alg]["label"], install, replay_window),
           "# replay_window 0: the capture is replayed in a loop (infinite_rx), so",
           "# sequence numbers repeat; a window would drop every replayed packet.",
           "sas:"]
    common = "mode: tunnel, local: %s, remote: %s, replay_window: %d, install: %s" % (
        OUTER_DST, OUTER_SRC, replay_window, install)
    for i in range(nsas):
        ck, salt, ak = keys_of(alg, i)
        if kind == "gcm":
            alg_s = "aead: aes-%d-gcm, key: %s" % (len(ck) * 8, _hex(ck + salt))
        else:
            alg_s = ("cipher: aes-128-cbc, cipher_key: %s, auth: hmac-sha256-128, auth_key: %s"
                     % (_hex(ck), _hex(ak)))
        out.append("  - { spi: %d, dir: in, %s, %s }" % (spi_of(i), alg_s, common))
    out.append("policies:")
    for i in range(nsas):
        out.append("  - { dir: in, src: %s/32, dst: 192.168.105.0/24, action: protect, sa: %d }"
                   % (inner_src(i), spi_of(i)))
    out.append("routes:")
    out.append("  - { dst: 192.168.105.0/24, port: lan0 }")
    out.append("neighbors:")
    out.append('  - { ip: %s, mac: "%s", port: lan0 }' % (INNER_DST, HOST_MAC))
    return "\n".join(out) + "\n"


def _colon(b):
    return ":".join("%02x" % x for x in b)


def peer_cfg(alg, nsas, sa_type=None):
    """ipsec-secgw's configuration file (sp / sa / rt / neigh lines, see its
    sample_app_ug and ep0.cfg): port 0 unprotected, port 1 protected.
    sa_type: None (lookaside-none) or "cpu-crypto"."""
    kind = ALGS[alg]["kind"]
    out = ["# generated by bench/gen_traffic.py: %d SAs, %s, type %s"
           % (nsas, ALGS[alg]["label"], sa_type or "lookaside-none")]
    for i in range(nsas):
        out.append("sp ipv4 in esp protect %d pri 1 src %s/32 dst 192.168.105.0/24 "
                   "sport 0:65535 dport 0:65535" % (spi_of(i), inner_src(i)))
    t = (" type %s" % sa_type) if sa_type else ""
    for i in range(nsas):
        ck, salt, ak = keys_of(alg, i)
        if kind == "gcm":
            a = "aead_algo aes-%d-gcm aead_key %s" % (len(ck) * 8, _colon(ck + salt))
        else:
            a = ("cipher_algo aes-128-cbc cipher_key %s auth_algo sha256-hmac auth_key %s"
                 % (_colon(ck), _colon(ak)))
        out.append("sa in %d %s mode ipv4-tunnel src %s dst %s%s"
                   % (spi_of(i), a, OUTER_SRC, OUTER_DST, t))
    out.append("rt ipv4 dst 192.168.105.0/24 port 1")
    out.append("neigh port 1 %s" % HOST_MAC)
    return "\n".join(out) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--alg", choices=sorted(ALGS), default="gcm128")
    ap.add_argument("--size", choices=SIZES, default="64")
    ap.add_argument("--sas", type=int, default=1)
    ap.add_argument("--count", type=int, help="packets (default: max(4096, SAs))")
    ap.add_argument("--out", help="capture to write")
    ap.add_argument("--spigate-policy", help="also write spigate's policy database here")
    ap.add_argument("--install", choices=["eager", "lazy"], default="eager")
    ap.add_argument("--peer-cfg", help="also write ipsec-secgw's SA/SP file here")
    ap.add_argument("--peer-type", choices=["lookaside-none", "cpu-crypto"],
                    default="lookaside-none")
    a = ap.parse_args()
    if a.out:
        frames = build_frames(a.alg, a.size, a.sas, a.count)
        verify(a.alg, frames, a.sas)
        write_pcap(a.out, frames)
        print("gen_traffic: %d frames, %s, inner %s B, %d SAs -> %s"
              % (len(frames), ALGS[a.alg]["label"], a.size, a.sas, a.out))
    if a.spigate_policy:
        with open(a.spigate_policy, "w") as f:
            f.write(spigate_policy(a.alg, a.sas, a.install))
    if a.peer_cfg:
        with open(a.peer_cfg, "w") as f:
            f.write(peer_cfg(a.alg, a.sas,
                             None if a.peer_type == "lookaside-none" else a.peer_type))
    return 0


if __name__ == "__main__":
    sys.exit(main())
