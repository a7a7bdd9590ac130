"""Inner packets, ESP frames and the negative cases.

Every inner packet carries a tag at the start of its L4 payload:
MAGIC (4 bytes) | flow id (2 bytes) | packet index (4 bytes), followed by
filler that depends on (flow, index), so every packet of a run is distinct
and an output packet can be traced back to the packet it came from.
"""

import struct

from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.inet6 import ICMPv6EchoRequest, IPv6
from scapy.layers.ipsec import ESP
from scapy.layers.l2 import Ether
from scapy.packet import Raw, raw

from .sa import fix_lengths

MAGIC = b"\xa5SGT"
TAG_LEN = 10
MIN_FRAME = 60          # Ethernet minimum without FCS

PROTOS = ("udp", "tcp", "icmp")
SIZES = (20, 64, 200, 777, 1300)


def tag(flow_id, idx):
    return MAGIC + struct.pack("!HI", flow_id & 0xFFFF, idx & 0xFFFFFFFF)


def find_tag(data):
    """(flow_id, idx) of the first tag in data, or None."""
    k = data.find(MAGIC)
    if k < 0 or k + TAG_LEN > len(data):
        return None
    return struct.unpack("!HI", data[k + 4:k + TAG_LEN])


def payload(flow_id, idx, size):
    size = max(size, TAG_LEN)
    seed = (flow_id * 131 + idx * 7) & 0xFF
    filler = bytes((seed + k) & 0xFF for k in range(size - TAG_LEN))
    return tag(flow_id, idx) + filler


def inner_packet(src, dst, proto="udp", size=64, flow_id=0, idx=0, ttl=64,
                 sport=None, dport=None, tos=0, df=False, tcp_flags="PA", ip_id=None):
    """An IPv4 or IPv6 packet (by the address family of src) with an L4
    payload of `size` bytes (at least the 10-byte tag). tos: the IPv4 TOS
    byte / IPv6 traffic class (DSCP << 2 | ECN); df: IPv4 Don't Fragment;
    proto: "udp", "tcp", "icmp" or a protocol number (the payload follows
    the IP header directly; 132 (SCTP) gets a 12-byte SCTP common header
    with sport/dport)."""
    data = payload(flow_id, idx, size)
    v6 = ":" in src
    if v6:
        ip = IPv6(src=src, dst=dst, hlim=ttl, fl=idx & 0xFFFFF, tc=tos)
    else:
        ip = IP(src=src, dst=dst, ttl=ttl, id=(idx if ip_id is None else ip_id) & 0xFFFF,
                tos=tos, flags="DF" if df else 0)
    sport = sport if sport is not None else 1024 + (idx % 60000)
    if isinstance(proto, int):
        if proto == 132:
            data = struct.pack("!HHII", sport, dport if dport is not None else 7000,
                               0, 0) + data
        if v6:
            ip.nh = proto
        else:
            ip.proto = proto
        pkt = ip / Raw(data)
        return pkt.__class__(raw(pkt))
    if proto == "udp":
        l4 = UDP(sport=sport, dport=dport if dport is not None else 7000)
    elif proto == "tcp":
        l4 = TCP(sport=sport, dport=dport if dport is not None else 80,
                 flags=tcp_flags, seq=1000 + idx, ack=0 if "A" not in tcp_flags else 1)
    elif proto == "icmp":
        l4 = ICMPv6EchoRequest(id=flow_id, seq=idx & 0xFFFF) if v6 else \
            ICMP(type=8, id=flow_id, seq=idx & 0xFFFF)
    else:
        raise ValueError(proto)
    pkt = ip / l4 / Raw(data)
    return pkt.__class__(raw(pkt))      # freeze lengths and checksums


def ether(outer, dst_mac, src_mac, pad=True):
    """Frame bytes for an IP/IPv6 packet; short frames are zero-padded to
    the Ethernet minimum as a NIC would deliver them (the gateway must use
    the IP length, not the frame length)."""
    b = raw(Ether(dst=dst_mac, src=src_mac) / outer)
    if pad and len(b) < MIN_FRAME:
        b += b"\x00" * (MIN_FRAME - len(b))
    return b


class Flow:
    """One SA and the inner traffic sent through it."""

    def __init__(self, sa, flow_id, inner_family, srcs, dsts, policies,
                 src_net=None, protos=PROTOS, sizes=SIZES):
        from . import topo
        self.sa = sa
        self.flow_id = flow_id
        self.inner_family = inner_family
        self.srcs = list(srcs)
        self.dsts = list(dsts)
        self.policies = list(policies)
        self.src_net = src_net
        self.protos = protos
        self.sizes = sizes
        self.next_seq = 1
        self.next_idx = 0
        self.dst_mac = topo.WAN_MAC
        self.src_mac = topo.PEER_MAC

    @property
    def spi(self):
        return self.sa.spi

    def inner(self, idx=None, proto=None, size=None, src=None, dst=None,
              ttl=64, **kw):
        if idx is None:
            idx = self.next_idx
            self.next_idx += 1
        k = idx + self.flow_id
        return inner_packet(src or self.srcs[idx % len(self.srcs)],
                            dst or self.dsts[idx % len(self.dsts)],
                            proto or self.protos[k % len(self.protos)],
                            size if size is not None else self.sizes[k % len(self.sizes)],
                            flow_id=self.flow_id, idx=idx, ttl=ttl, **kw)

    def take_seq(self, seq=None):
        if seq is None:
            seq = self.next_seq
        self.next_seq = seq + 1
        return seq

    def encrypt(self, inner, seq=None):
        """Outer packet (scapy) for inner with the next (or given) seq."""
        return self.sa.encrypt(inner, self.take_seq(seq))

    def frame(self, inner, seq=None, dst_mac=None):
        return ether(self.encrypt(inner, seq), dst_mac or self.dst_mac, self.src_mac)

    def packets(self, n, **kw):
        """n fresh (inner, frame) pairs with consecutive sequence numbers."""
        out = []
        for _ in range(n):
            i = self.inner(**kw)
            out.append((i, self.frame(i)))
        return out

    # -- negative cases --------------------------------------------------
    def frame_custom(self, inner, seq=None, **kw):
        """Frame from SA.encrypt_custom (bad padding etc.)."""
        return ether(self.sa.encrypt_custom(inner, self.take_seq(seq), **kw),
                     self.dst_mac, self.src_mac)

    def bad_padding_frame(self, inner, seq=None, kind="bytes"):
        """Valid ICV, invalid ESP padding. kind "bytes": pad bytes are not
        1, 2, 3, ... (RFC 4303 2.4); "length": Pad Length larger than the
        decrypted payload."""
        sa = self.sa
        align = sa.algo.align
        plain_len = sa.esp_payload_len(inner) + 2
        if kind == "bytes":
            # the normal pad length, at least 2 bytes, all zero
            n = (-plain_len) % align
            if n < 2:
                n += align
            return self.frame_custom(inner, seq, padding=b"\x00" * n)
        if kind == "length":
            n = (-plain_len) % align
            pad = bytes(range(1, n + 1))
            return self.frame_custom(inner, seq, padding=pad, padlen=255)
        raise ValueError(kind)

    def cbc_not_block_multiple_frame(self, seq=None, body_len=37):
        """ESP whose ciphertext is not a multiple of the cipher block, with
        a valid ICV over it: must fail on length, not on authentication."""
        sa = self.sa
        if sa.algo.cipher.block <= 1:
            raise ValueError("needs a block cipher")
        seq = self.take_seq(seq)
        body = bytes((7 * k) & 0xFF for k in range(body_len))
        if body_len % sa.algo.cipher.block == 0:
            raise ValueError("body_len is a block multiple")
        esp = ESP(spi=sa.spi, seq=seq, data=sa.new_iv() + body)
        esp.data = esp.data + sa.icv(raw(esp), seq >> 32)
        return ether(sa.wrap(self._outer_ip(), esp), self.dst_mac, self.src_mac)

    def _outer_ip(self):
        sa = self.sa
        if sa.mode == "tunnel":
            return sa.outer_header()
        if ":" in sa.local:
            return IPv6(src=sa.remote, dst=sa.local)
        return IP(src=sa.remote, dst=sa.local)


# DSCP/ECN values cycled through by outbound flows: 0, EF (not ECT),
# AF11 + ECT(1), CE alone, CS1 + ECT(0).
TOS_CYCLE = (0x00, 0xB8, 0x29, 0x03, 0x22)


class OutFlow:
    """One outbound SA and the clear traffic it protects: frames from a
    lan-side host (or the router it is behind) to lan0's MAC. The
    inner packets vary protocol, size, DSCP/ECN and (IPv4) DF."""

    def __init__(self, sa, flow_id, inner_family, srcs, dsts, policies,
                 protos=PROTOS, sizes=SIZES, tos_cycle=TOS_CYCLE):
        self.sa = sa
        self.flow_id = flow_id
        self.inner_family = inner_family
        self.srcs = list(srcs)
        self.dsts = list(dsts)
        self.policies = list(policies)
        self.protos = protos
        self.sizes = sizes
        self.tos_cycle = tos_cycle
        self.next_idx = 0

    @property
    def spi(self):
        return self.sa.spi

    def inner(self, idx=None, proto=None, size=None, src=None, dst=None,
              ttl=64, tos=None, df=None, **kw):
        if idx is None:
            idx = self.next_idx
            self.next_idx += 1
        k = idx + self.flow_id
        src = src or self.srcs[idx % len(self.srcs)]
        if tos is None:
            tos = self.tos_cycle[k % len(self.tos_cycle)]
        if df is None:
            df = ":" not in src and idx % 2 == 1
        return inner_packet(src, dst or self.dsts[idx % len(self.dsts)],
                            proto or self.protos[k % len(self.protos)],
                            size if size is not None else self.sizes[k % len(self.sizes)],
                            flow_id=self.flow_id, idx=idx, ttl=ttl, tos=tos, df=df, **kw)

    def frame(self, inner):
        return lan_frame(inner)

    def packets(self, n, **kw):
        """n fresh (inner, frame) pairs."""
        out = []
        for _ in range(n):
            i = self.inner(**kw)
            out.append((i, self.frame(i)))
        return out


def lan_frame(inner, dst_mac=None, src_mac=None):
    """A clear frame arriving on lan0: to lan0's MAC from the source host
    (or the router it is behind)."""
    from . import topo
    b = raw(inner)
    src = IP(b).src if b[0] >> 4 == 4 else IPv6(b).src
    return ether(inner, dst_mac or topo.LAN_MAC, src_mac or topo.lan_src_mac(src))


# -- frame surgery ------------------------------------------------------

def _esp_of(pkt):
    if ESP in pkt:
        return pkt[ESP]
    raise ValueError("no ESP layer")


def mutate_esp(frame, fn):
    """Apply fn(esp_data_bytes) -> bytes to the ESP data (IV..ICV) of an
    ESP or ESP-in-UDP frame and fix the IP/UDP lengths."""
    pkt = Ether(frame)
    esp = _esp_of(pkt)
    esp.data = fn(bytes(esp.data))
    return raw(fix_lengths(pkt))


def flip_icv(frame, byte=-1):
    """Flip one bit of one ICV byte (the last byte of the frame's ESP)."""
    def f(d):
        d = bytearray(d)
        d[byte] ^= 0x01
        return bytes(d)
    return mutate_esp(frame, f)


def flip_ciphertext(frame, offset=0):
    """Flip a bit in the ESP data at offset (from the start of the IV)."""
    return flip_icv(frame, offset)


def truncate_esp(frame, keep=4):
    """Keep only `keep` bytes of ESP data after SPI and sequence number."""
    return mutate_esp(frame, lambda d: d[:keep])


def with_dst_mac(frame, mac):
    return bytes.fromhex(mac.replace(":", "")) + frame[6:]


def udp_frame(src, dst, sport, dport, data, dst_mac, src_mac, ttl=64):
    ip = IPv6(src=src, dst=dst, hlim=ttl) if ":" in src else IP(src=src, dst=dst, ttl=ttl)
    pkt = ip / UDP(sport=sport, dport=dport) / Raw(data)
    return ether(pkt.__class__(raw(pkt)), dst_mac, src_mac)


IKE_HDR = bytes.fromhex("0123456789abcdef" "0000000000000000"
                        "21202208" "00000000" "0000001c")   # 28-byte IKEv2 header


def nat_keepalive_frame(src, dst, sport, dst_mac, src_mac):
    """RFC 3948 NAT keepalive: UDP to 4500 with the single byte 0xFF."""
    return udp_frame(src, dst, sport, 4500, b"\xff", dst_mac, src_mac)


def ike_marker_frame(src, dst, sport, dst_mac, src_mac):
    """IKE on 4500: the 4-byte non-ESP marker (zero) then an IKE header."""
    return udp_frame(src, dst, sport, 4500, b"\x00\x00\x00\x00" + IKE_HDR,
                     dst_mac, src_mac)


def ike500_frame(src, dst, dst_mac, src_mac):
    return udp_frame(src, dst, 500, 500, IKE_HDR, dst_mac, src_mac)


def interleave(lists):
    """Round-robin merge of lists (of frames or tuples)."""
    out = []
    lists = [list(x) for x in lists]
    i = 0
    while any(lists):
        for lst in lists:
            if i < len(lst):
                out.append(lst[i])
        i += 1
        if all(i >= len(lst) for lst in lists):
            break
    return out
