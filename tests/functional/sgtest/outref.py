"""Reference outbound emitter: the frames an outbound gateway must send, built
with scapy's own ESP (sgtest.sa.SA.encrypt_out). Used by the checker's
self-tests (test_outcheck.py) to prove the checker accepts exactly this and
rejects each defect, and by the fake gateway (fakegw.py)."""

import struct

from scapy.packet import raw
from scapy.utils import checksum

from . import expect
from .traffic import ether


def emit(dep, sa, inner, seq, iv=None, forwarded=False):
    """Frame bytes for inner (as received on lan0; forwarded=True: already
    TTL - 1) protected by outbound SA sa with sequence number seq, sent to
    the next hop toward sa.remote."""
    fwd = bytes(inner) if forwarded else expect.forwarded_l3(raw(inner) if not isinstance(
        inner, (bytes, bytearray)) else inner)
    port, mac = dep.next_hop(sa.remote)
    return ether(sa.encrypt_out(fwd, seq, iv=iv), mac, port.mac)


def fragment4(b, max_ip):
    """IPv4 packet bytes b (DF clear) cut into fragments of at most max_ip
    bytes of IP each (payload a multiple of 8 except the last), in offset
    order, header (with options) copied to each, checksums recomputed."""
    ihl = (b[0] & 0x0F) * 4
    tot = struct.unpack("!H", b[2:4])[0]
    payload = b[ihl:tot]
    chunk = (max_ip - ihl) & ~7
    if chunk <= 0:
        raise ValueError("MTU too small to fragment")
    base = struct.unpack("!H", b[6:8])[0]
    base_off, base_mf = (base & 0x1FFF) * 8, base & 0x2000
    out = []
    for off in range(0, len(payload), chunk):
        part = payload[off:off + chunk]
        last = off + chunk >= len(payload)
        h = bytearray(b[:ihl])
        h[2:4] = struct.pack("!H", ihl + len(part))
        flags = (0x2000 if (not last or base_mf) else 0) | ((base_off + off) // 8)
        h[6:8] = struct.pack("!H", (base & 0x4000) | flags)
        h[10:12] = b"\x00\x00"
        h[10:12] = struct.pack("!H", checksum(bytes(h)))
        out.append(bytes(h) + part)
    return out


def max_inner_ip(sa, mtu):
    """The largest protected IP packet (bytes of inner IP for tunnel mode)
    whose ESP packet fits mtu, for IPv4 inner packets with a 20-byte
    header; used to cut fragments."""
    hi = mtu
    lo = 28
    best = None
    while lo <= hi:
        mid = (lo + hi) // 2
        fake = bytes([0x45]) + bytes(mid - 1)
        if sa.wire_len(fake) <= mtu:
            best = mid
            lo = mid + 1
        else:
            hi = mid - 1
    return best
