"""An ESP implementation independent of scapy: byte parsing by hand,
python3-cryptography for AES (GCM, CBC, CTR) and hashlib/hmac for the ICV.

test_tooling.py proves scapy's ESP bytes against it; the fake gateway uses
it to open packets. Raises AuthError on a bad ICV/tag and Malformed when the
ESP cannot be valid (lengths, alignment, padding).
"""

import hashlib
import hmac
import struct

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM


class AuthError(Exception):
    pass


class Malformed(Exception):
    pass


def ip_checksum(hdr):
    s = 0
    if len(hdr) % 2:
        hdr += b"\x00"
    for i in range(0, len(hdr), 2):
        s += (hdr[i] << 8) | hdr[i + 1]
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


class Frame:
    """A parsed frame: Ethernet, IPv4/IPv6 (no IPv6 extension headers),
    and the L4 bytes bounded by the IP length."""

    def __init__(self, data):
        self.data = data
        if len(data) < 14:
            raise Malformed("short frame")
        self.dst_mac = data[0:6]
        self.src_mac = data[6:12]
        off = 12
        et = struct.unpack("!H", data[off:off + 2])[0]
        if et == 0x8100:
            off += 4
            et = struct.unpack("!H", data[off:off + 2])[0]
        self.ethertype = et
        self.l3_off = off + 2
        ip = data[self.l3_off:]
        self.ip = ip
        self.fragment = False
        if et == 0x0800:
            if len(ip) < 20:
                raise Malformed("short IPv4")
            ihl = (ip[0] & 0x0F) * 4
            total = struct.unpack("!H", ip[2:4])[0]
            if ip[0] >> 4 != 4 or ihl < 20 or total < ihl or total > len(ip):
                raise Malformed("IPv4 lengths")
            self.version = 4
            self.hlen = ihl
            self.proto = ip[9]
            self.ttl = ip[8]
            flags_frag = struct.unpack("!H", ip[6:8])[0]
            self.fragment = bool(flags_frag & 0x3FFF)
            self.src, self.dst = ip[12:16], ip[16:20]
            self.l4 = ip[ihl:total]
            self.ip = ip[:total]
        elif et == 0x86DD:
            if len(ip) < 40:
                raise Malformed("short IPv6")
            plen = struct.unpack("!H", ip[4:6])[0]
            if 40 + plen > len(ip):
                raise Malformed("IPv6 length")
            self.version = 6
            self.hlen = 40
            self.proto = ip[6]
            self.ttl = ip[7]
            self.src, self.dst = ip[8:24], ip[24:40]
            self.l4 = ip[40:40 + plen]
            self.ip = ip[:40 + plen]
        else:
            self.version = None


def esp_trailer_ok(plain):
    padlen = plain[-2]
    if padlen + 2 > len(plain):
        return False
    pad = plain[len(plain) - 2 - padlen:len(plain) - 2]
    return pad == bytes(range(1, padlen + 1))


def open_esp(sa, esp, seq_hi=0, check_padding=True):
    """Authenticate and decrypt ESP bytes (SPI..ICV) with SA sa. Returns
    (payload, next_header, plain) where payload excludes the trailer."""
    a = sa.algo
    ivl, icvl = a.iv_len, a.icv_len
    if len(esp) < 8 + ivl + icvl + 2:
        raise Malformed("truncated ESP")
    body_len = len(esp) - 8 - ivl - icvl
    if body_len % a.align or (a.cipher.block > 1 and body_len % a.cipher.block):
        raise Malformed("ESP payload length %d not aligned" % body_len)
    iv = esp[8:8 + ivl]
    ct = esp[8 + ivl:len(esp) - icvl]
    icv = esp[len(esp) - icvl:]
    hi = struct.pack("!I", seq_hi) if sa.esn else b""
    if a.aead:
        key, salt = sa.keys["key"][:-4], sa.keys["key"][-4:]
        try:
            plain = AESGCM(key).decrypt(salt + iv, ct + icv, esp[:4] + hi + esp[4:8])
        except InvalidTag:
            raise AuthError("GCM tag")
    else:
        if a.auth.digest:
            mac = hmac.new(sa.keys["auth_key"], esp[:len(esp) - icvl] + hi,
                           getattr(hashlib, a.auth.digest)).digest()[:icvl]
            if not hmac.compare_digest(mac, icv):
                raise AuthError("ICV")
        c = a.cipher.name
        if c == "null":
            plain = ct
        elif c.endswith("cbc"):
            d = Cipher(algorithms.AES(sa.keys["cipher_key"]), modes.CBC(iv)).decryptor()
            plain = d.update(ct) + d.finalize()
        elif c.endswith("ctr"):
            key, nonce = sa.keys["cipher_key"][:-4], sa.keys["cipher_key"][-4:]
            d = Cipher(algorithms.AES(key),
                       modes.CTR(nonce + iv + b"\x00\x00\x00\x01")).decryptor()
            plain = d.update(ct) + d.finalize()
        else:
            raise AssertionError(c)
    if check_padding and not esp_trailer_ok(plain):
        raise Malformed("ESP padding")
    padlen, nh = plain[-2], plain[-1]
    return plain[:len(plain) - 2 - padlen], nh, plain
