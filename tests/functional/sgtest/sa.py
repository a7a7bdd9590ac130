"""SA descriptions: one object gives both the YAML of CONTRACT.md and a scapy
SecurityAssociation configured identically, so the traffic scapy encrypts is
exactly what the gateway configured from the YAML must accept.

Algorithm names are those of CONTRACT.md. An SA's algorithm is written either
as the AEAD name ("aes-128-gcm") or as "<cipher>+<auth>"
("aes-128-cbc+hmac-sha256-128", "null+hmac-sha256-128", "aes-128-cbc+null").

scapy 2.5 notes (scapy/layers/ipsec.py), handled here:
  * AES-GCM and AES-CTR keys are given to scapy with the 4-byte salt/nonce
    appended (scapy splits the last salt_size bytes off), which is also the
    RFC 4106 / RFC 3686 keying material CONTRACT.md puts in `key` /
    `cipher_key`.
  * encrypt(seq_num=0) and encrypt(esn=0) fall back to the SA's own counters
    (`seq_num or self.seq_num`), so we always set SecurityAssociation.seq_num
    and .esn directly and never pass them as arguments.
  * NAT-T: scapy 2.5 emits the UDP header with length 8 (it re-dissects
    IP/UDP before appending the ESP), so we recompute the UDP length.
  * ESN with an HMAC: scapy adds the high 32 bits to the AEAD AAD but NOT to
    the ESP ICV input (AuthAlgo.sign ignores esn for ESP). RFC 4303 2.2.1
    wants the ICV over ESP || seq_hi; we compute that ICV ourselves (the only
    place this module does not defer to scapy).
"""

import hmac
import ipaddress
import random
import struct

from scapy.layers.inet import IP, UDP
from scapy.layers.inet6 import IPv6
from scapy.layers.ipsec import (AUTH_ALGOS, ESP, SecurityAssociation,
                                _ESPPlain, split_for_transport)
from scapy.packet import raw
import socket

MASK32 = 0xFFFFFFFF


class Cipher:
    def __init__(self, name, scapy_name, key_len, salt_len, iv_len, block):
        self.name = name
        self.scapy_name = scapy_name
        self.key_len = key_len      # bytes, without salt/nonce
        self.salt_len = salt_len    # bytes appended to the key (GCM salt, CTR nonce)
        self.iv_len = iv_len        # bytes of IV on the wire
        self.block = block          # payload alignment unit of the cipher

    def __repr__(self):
        return "Cipher(%s)" % self.name


class Auth:
    def __init__(self, name, scapy_name, key_len, icv_len, digest):
        self.name = name
        self.scapy_name = scapy_name
        self.key_len = key_len
        self.icv_len = icv_len
        self.digest = digest        # hashlib name, None for null

    def __repr__(self):
        return "Auth(%s)" % self.name


AEADS = {
    "aes-128-gcm": Cipher("aes-128-gcm", "AES-GCM", 16, 4, 8, 1),
    "aes-256-gcm": Cipher("aes-256-gcm", "AES-GCM", 32, 4, 8, 1),
}
GCM_ICV = 16

CIPHERS = {
    "aes-128-cbc": Cipher("aes-128-cbc", "AES-CBC", 16, 0, 16, 16),
    "aes-256-cbc": Cipher("aes-256-cbc", "AES-CBC", 32, 0, 16, 16),
    "aes-128-ctr": Cipher("aes-128-ctr", "AES-CTR", 16, 4, 8, 1),
    "null": Cipher("null", "NULL", 0, 0, 0, 1),
}

AUTHS = {
    "hmac-sha256-128": Auth("hmac-sha256-128", "SHA2-256-128", 32, 16, "sha256"),
    "hmac-sha1-96": Auth("hmac-sha1-96", "HMAC-SHA1-96", 20, 12, "sha1"),
    "hmac-sha384-192": Auth("hmac-sha384-192", "SHA2-384-192", 48, 24, "sha384"),
    "hmac-sha512-256": Auth("hmac-sha512-256", "SHA2-512-256", 64, 32, "sha512"),
    "null": Auth("null", None, 0, 0, None),
}

# The algorithm set of the functional matrix (issue 2).
MATRIX_ALGOS = [
    "aes-128-gcm",
    "aes-256-gcm",
    "aes-128-cbc+hmac-sha256-128",
    "aes-256-cbc+hmac-sha1-96",
    "aes-128-ctr+hmac-sha384-192",
    "aes-128-cbc+hmac-sha512-256",
    "null+hmac-sha256-128",
    "aes-128-cbc+null",
]


class Algo:
    """A parsed algorithm name: AEAD, or cipher + auth."""

    def __init__(self, name):
        self.name = name
        if name in AEADS:
            self.aead = True
            self.cipher = AEADS[name]
            self.auth = None
        else:
            if "+" not in name:
                raise ValueError("unknown algorithm %r (want an AEAD or cipher+auth)" % name)
            c, a = name.split("+", 1)
            if c not in CIPHERS or a not in AUTHS:
                raise ValueError("unknown algorithm %r" % name)
            self.aead = False
            self.cipher = CIPHERS[c]
            self.auth = AUTHS[a]

    @property
    def icv_len(self):
        return GCM_ICV if self.aead else self.auth.icv_len

    @property
    def iv_len(self):
        return self.cipher.iv_len

    @property
    def align(self):
        """ESP payload alignment (RFC 4303: block size, at least 4)."""
        b = self.cipher.block
        return b if b % 4 == 0 else 4 * b // _gcd(4, b)

    @property
    def has_hmac(self):
        return self.auth is not None and self.auth.digest is not None

    def __repr__(self):
        return "Algo(%s)" % self.name


def _gcd(a, b):
    while b:
        a, b = b, a % b
    return a


def hexkey(b):
    return "0x" + b.hex()


def unhexkey(s):
    s = str(s).strip()
    if s.lower().startswith("0x"):
        s = s[2:]
    return bytes.fromhex(s)


def _family(addr):
    return ipaddress.ip_address(addr).version


class SA:
    """One inbound (or outbound) SA.

    mode: "tunnel" | "transport". local/remote: for tunnel mode the outer
    addresses (local = this gateway's side); for transport mode
    (bump-in-the-wire) the addresses of the ESP packets' IP header: local =
    the protected host the ESP is sent to, remote = the peer that sends it.
    encap: None or (sport, dport) for ESP in UDP (RFC 3948).
    keys: None for random keys from rng, or a dict with "key" (AEAD: key +
    salt) or "cipher_key" (+ nonce for CTR) and "auth_key".
    """

    def __init__(self, spi, algo, mode="tunnel", local=None, remote=None,
                 encap=None, replay_window=64, esn=False, install=None,
                 direction="in", keys=None, rng=None, name=None,
                 lifetime=None, replaces=None):
        self.spi = int(spi)
        self.algo = algo if isinstance(algo, Algo) else Algo(algo)
        if mode not in ("tunnel", "transport"):
            raise ValueError("mode must be tunnel or transport")
        self.mode = mode
        self.local = local
        self.remote = remote
        self.encap = tuple(encap) if encap else None
        self.replay_window = replay_window
        self.esn = bool(esn)
        self.install = install
        self.direction = direction
        self.name = name or "sa-%#x" % self.spi
        # lifetime: None or {"soft": {...}, "hard": {...}}, each of
        # seconds/bytes/packets; replaces: the SPI this SA rekeys (or None)
        self.lifetime = lifetime
        self.replaces = replaces
        rng = rng or random.Random()
        self._rng = random.Random(rng.getrandbits(64))   # IVs
        if keys is None:
            keys = self.random_keys(self.algo, rng)
        self.keys = dict(keys)
        self._check_keys()
        self._scapy = None

    # -- keys -------------------------------------------------------------
    @staticmethod
    def random_keys(algo, rng):
        c = algo.cipher
        if algo.aead:
            return {"key": rng.randbytes(c.key_len + c.salt_len)}
        k = {}
        if c.key_len:
            k["cipher_key"] = rng.randbytes(c.key_len + c.salt_len)
        if algo.auth.key_len:
            k["auth_key"] = rng.randbytes(algo.auth.key_len)
        return k

    def _check_keys(self):
        c = self.algo.cipher
        if self.algo.aead:
            want = {"key": c.key_len + c.salt_len}
        else:
            want = {}
            if c.key_len:
                want["cipher_key"] = c.key_len + c.salt_len
            if self.algo.auth.key_len:
                want["auth_key"] = self.algo.auth.key_len
        for k, n in want.items():
            if k not in self.keys:
                raise ValueError("%s: missing %s" % (self.name, k))
            if len(self.keys[k]) != n:
                raise ValueError("%s: %s must be %d bytes, got %d"
                                 % (self.name, k, n, len(self.keys[k])))

    # -- geometry ---------------------------------------------------------
    @property
    def outer_family(self):
        return _family(self.local) if self.local else None

    @property
    def icv_len(self):
        return self.algo.icv_len

    @property
    def iv_len(self):
        return self.algo.iv_len

    # -- YAML (CONTRACT.md) -----------------------------------------------
    def yaml_lines(self):
        """The SA as one item of the `sas:` list, in CONTRACT.md's format."""
        q = yaml_scalar
        lines = ["  - spi: %#x" % self.spi,
                 "    dir: %s" % self.direction,
                 "    mode: %s" % self.mode]
        if self.algo.aead:
            lines += ["    aead: %s" % self.algo.name,
                      "    key: %s" % hexkey(self.keys["key"])]
        else:
            lines.append("    cipher: %s" % self.algo.cipher.name)
            if "cipher_key" in self.keys:
                lines.append("    cipher_key: %s" % hexkey(self.keys["cipher_key"]))
            lines.append("    auth: %s" % self.algo.auth.name)
            if "auth_key" in self.keys:
                lines.append("    auth_key: %s" % hexkey(self.keys["auth_key"]))
        if self.local:
            lines.append("    local: %s" % q(self.local))
        if self.remote:
            lines.append("    remote: %s" % q(self.remote))
        if self.encap:
            lines.append("    encap: { sport: %d, dport: %d }" % self.encap)
        lines.append("    replay_window: %d" % self.replay_window)
        lines.append("    esn: %s" % ("true" if self.esn else "false"))
        if self.install:
            lines.append("    install: %s" % self.install)
        if self.lifetime:
            lines.append("    lifetime: %s" % _flow_map(self.lifetime))
        if self.replaces is not None:
            lines.append("    replaces: %#x" % self.replaces)
        return lines

    def to_dict(self):
        """The SA as the JSON object of a control-socket sa-add request
        (the same keys as yaml_lines())."""
        d = {"spi": "%#x" % self.spi, "dir": self.direction, "mode": self.mode}
        if self.algo.aead:
            d["aead"] = self.algo.name
            d["key"] = hexkey(self.keys["key"])
        else:
            d["cipher"] = self.algo.cipher.name
            if "cipher_key" in self.keys:
                d["cipher_key"] = hexkey(self.keys["cipher_key"])
            d["auth"] = self.algo.auth.name
            if "auth_key" in self.keys:
                d["auth_key"] = hexkey(self.keys["auth_key"])
        if self.local:
            d["local"] = str(self.local)
        if self.remote:
            d["remote"] = str(self.remote)
        if self.encap:
            d["encap"] = {"sport": self.encap[0], "dport": self.encap[1]}
        d["replay_window"] = self.replay_window
        d["esn"] = self.esn
        if self.install:
            d["install"] = self.install
        if self.lifetime:
            d["lifetime"] = {k: dict(v) for k, v in self.lifetime.items()}
        if self.replaces is not None:
            d["replaces"] = "%#x" % self.replaces
        return d

    @classmethod
    def from_yaml(cls, d, rng=None):
        """Build from one `sas:` item as loaded by yaml.BaseLoader (all
        scalars strings) or yaml.SafeLoader."""
        def s(v):
            return None if v is None else str(v)
        spi = d["spi"]
        spi = spi if isinstance(spi, int) else int(str(spi), 0)
        if "aead" in d:
            algo = s(d["aead"])
            keys = {"key": unhexkey(_keystr(d["key"]))}
        else:
            cipher = s(d.get("cipher")) or "null"
            auth = s(d.get("auth")) or "null"
            if cipher in ("~", "None"):
                cipher = "null"
            if auth in ("~", "None"):
                auth = "null"
            algo = cipher + "+" + auth
            keys = {}
            if d.get("cipher_key") not in (None, "", "null"):
                keys["cipher_key"] = unhexkey(_keystr(d["cipher_key"]))
            if d.get("auth_key") not in (None, "", "null"):
                keys["auth_key"] = unhexkey(_keystr(d["auth_key"]))
        encap = None
        if d.get("encap"):
            e = d["encap"]
            encap = (int(str(e.get("sport", 4500)), 0), int(str(e.get("dport", 4500)), 0))
        esn = str(d.get("esn", "false")).lower() in ("true", "yes", "on", "1")
        return cls(spi, algo, mode=s(d.get("mode", "tunnel")),
                   local=s(d.get("local")), remote=s(d.get("remote")),
                   encap=encap,
                   replay_window=int(str(d.get("replay_window", 64)), 0),
                   esn=esn, install=s(d.get("install")),
                   direction=s(d.get("dir", "in")), keys=keys, rng=rng)

    # -- scapy ------------------------------------------------------------
    def scapy_sa(self, tunnel_header=None):
        """A fresh scapy SecurityAssociation configured like this SA. The
        tunnel header is the inbound one (remote -> local) unless given
        (scapy uses it only to encrypt; decryption ignores its fields)."""
        kw = {}
        if self.algo.aead:
            kw["crypt_algo"] = "AES-GCM"
            kw["crypt_key"] = self.keys["key"]          # key || salt
        else:
            kw["crypt_algo"] = self.algo.cipher.scapy_name
            kw["crypt_key"] = self.keys.get("cipher_key")
            if self.algo.auth.scapy_name:
                kw["auth_algo"] = self.algo.auth.scapy_name
                kw["auth_key"] = self.keys["auth_key"]
        tunnel = tunnel_header
        if self.mode == "tunnel" and tunnel is None:
            if _family(self.local) == 4:
                tunnel = IP(src=self.remote, dst=self.local)
            else:
                tunnel = IPv6(src=self.remote, dst=self.local)
        natt = None
        if self.encap:
            natt = UDP(sport=self.encap[0], dport=self.encap[1])
        return SecurityAssociation(ESP, spi=self.spi, tunnel_header=tunnel,
                                   nat_t_header=natt, esn_en=self.esn, **kw)

    @property
    def scapy(self):
        if self._scapy is None:
            self._scapy = self.scapy_sa()
        return self._scapy

    def new_iv(self):
        return self._rng.randbytes(self.iv_len) if self.iv_len else b""

    def encrypt(self, inner, seq, iv=None):
        """Encrypt inner (scapy IP/IPv6) with the 64-bit sequence number seq
        (low 32 bits on the wire; the high 32 bits are used only with ESN).
        Returns the outer scapy packet (IP/[UDP/]ESP)."""
        return self._encrypt_with(self.scapy, inner, seq, iv)

    def _encrypt_with(self, s, inner, seq, iv=None):
        if seq >> 32 and not self.esn:
            raise ValueError("%s: seq %#x needs ESN" % (self.name, seq))
        s.seq_num = seq & MASK32
        s.esn = seq >> 32
        iv = self.new_iv() if iv is None else iv
        if self.esn and self.algo.has_hmac:
            saved = s.auth_algo
            s.auth_algo = AUTH_ALGOS["NULL"]
            try:
                pkt = s.encrypt(inner, iv=iv)
            finally:
                s.auth_algo = saved
            esp = pkt[ESP]
            esp.data = esp.data + self.icv(raw(esp), seq >> 32)
            pkt = fix_lengths(pkt)
        else:
            pkt = s.encrypt(inner, iv=iv)
            if self.encap:
                # scapy 2.5 freezes the NAT-T UDP length at 8 (it rebuilds
                # the IP/UDP header before appending ESP): recompute it
                pkt = fix_lengths(pkt)
        return pkt

    # -- outbound (what spigate must emit for a dir: out SA) ---------------
    def out_iv(self, seq):
        """The IV an outbound gateway writes: the 64-bit sequence number for
        AES-GCM and AES-CTR (RFC 4106/3686, as DPDK lib/ipsec), a random
        block for AES-CBC, nothing for NULL."""
        if not self.iv_len:
            return b""
        if self.algo.aead or self.algo.cipher.name.endswith("ctr"):
            return struct.pack("!Q", seq)
        return self.new_iv()

    def out_tunnel_header(self, inner, seq):
        """The outer header of a tunnel-mode packet for inner (bytes or
        scapy): local -> remote, TTL/hop limit 64, DSCP+ECN copied from
        inner, IPv4: id = low 16 bits of seq, DF copied from an IPv4 inner
        (0 for IPv6 inner); IPv6: flow label 0."""
        b = raw(inner) if not isinstance(inner, (bytes, bytearray)) else bytes(inner)
        tos = inner_tos(b)
        if _family(self.local) == 4:
            df = b[0] >> 4 == 4 and bool(b[6] & 0x40)
            return IP(src=self.local, dst=self.remote, ttl=64, tos=tos,
                      id=seq & 0xFFFF, flags="DF" if df else 0)
        return IPv6(src=self.local, dst=self.remote, hlim=64, tc=tos, fl=0)

    def encrypt_out(self, fwd, seq, iv=None):
        """The outer packet an outbound gateway emits for fwd, the inner
        packet as forwarded (TTL/hop limit already decremented): tunnel
        mode with out_tunnel_header(), transport mode after fwd's own
        header; NAT-T UDP checksum 0 on IPv4, computed on IPv6."""
        if not isinstance(fwd, (IP, IPv6)):
            b = bytes(fwd)
            fwd = IP(b) if b[0] >> 4 == 4 else IPv6(b)
        tunnel = self.out_tunnel_header(fwd, seq) if self.mode == "tunnel" else None
        s = self.scapy_sa(tunnel_header=tunnel)
        pkt = self._encrypt_with(s, fwd, seq, self.out_iv(seq) if iv is None else iv)
        if self.encap:
            pkt = fix_lengths(pkt)
            if isinstance(pkt, IPv6):
                pkt[UDP].chksum = None
                pkt = pkt.__class__(raw(pkt))
        return pkt

    def wire_len(self, inner):
        """Outer IP total length of the ESP packet for inner (bytes or
        scapy) with the minimal RFC 4303 padding (what lib/ipsec adds)."""
        b = raw(inner) if not isinstance(inner, (bytes, bytearray)) else bytes(inner)
        if self.mode == "tunnel":
            hdr = 20 if _family(self.local) == 4 else 40
            body = len(b)
        else:
            hdr = (b[0] & 0x0F) * 4 if b[0] >> 4 == 4 else 40
            body = len(b) - hdr
        a = self.algo.align
        padded = -(-(body + 2) // a) * a
        return (hdr + (8 if self.encap else 0) + 8 + self.iv_len + padded
                + self.icv_len)

    def icv(self, esp_bytes, seq_hi=0):
        """HMAC ICV over the ESP header..trailer (+ seq_hi with ESN)."""
        a = self.algo.auth
        if a is None or a.digest is None:
            return b""
        data = esp_bytes + (struct.pack("!L", seq_hi) if self.esn else b"")
        return hmac.new(self.keys["auth_key"], data, a.digest).digest()[:a.icv_len]

    def decrypt(self, outer, seq_hi=0):
        """Decrypt an outer packet (IP/IPv6 with ESP) with scapy; returns
        the inner packet (tunnel) or the restored packet (transport). Raises
        scapy.layers.ipsec.IPSecIntegrityError on a bad ICV."""
        from scapy.layers.ipsec import IPSecIntegrityError
        s = self.scapy_sa()
        s.esn = seq_hi
        pkt = outer.__class__(raw(outer))
        if self.esn and self.algo.has_hmac:
            esp = pkt[ESP]
            icv = esp.data[-self.icv_len:]
            body = ESP(spi=esp.spi, seq=esp.seq, data=esp.data[:-self.icv_len])
            if self.icv(raw(body), seq_hi) != icv:
                raise IPSecIntegrityError("ESN ICV mismatch")
            return s.decrypt(pkt, verify=False)
        return s.decrypt(pkt)

    # -- hand-built ESP for negative cases -------------------------------
    def encrypt_custom(self, inner, seq, padding=None, padlen=None,
                       next_header=None, iv=None):
        """Like encrypt(), but with control over the ESP trailer: padding
        (bytes to use as the pad bytes, length must keep the alignment),
        padlen (the Pad Length byte to write), next_header. The ICV is valid
        for whatever is encrypted, so a receiver must reject the packet for
        its content, not for its authentication."""
        s = self.scapy
        iv = self.new_iv() if iv is None else iv
        pkt = inner
        if self.mode == "tunnel":
            t = s.tunnel_header.copy()
            if t.version == 4:
                del t.proto, t.len, t.chksum
            else:
                del t.nh, t.plen
            pkt = t.__class__(raw(t / inner))
        header, nh, payload = split_for_transport(pkt, socket.IPPROTO_ESP)
        esp = _ESPPlain(spi=self.spi, seq=seq & MASK32, iv=iv)
        esp.data = payload
        esp.nh = nh if next_header is None else next_header
        esp = s.crypt_algo.pad(esp)
        if padding is not None:
            esp.padding = padding
            esp.padlen = len(padding)
        if padlen is not None:
            esp.padlen = padlen
        total = len(raw(esp.data)) + len(esp.padding) + 2
        if total % self.algo.align:
            raise ValueError("custom padding breaks the %d-byte alignment"
                             % self.algo.align)
        s.seq_num = seq & MASK32
        s.esn = seq >> 32
        enc = s.crypt_algo.encrypt(s, esp, s.crypt_key, s.crypt_icv_size,
                                   esn_en=self.esn, esn=seq >> 32)
        enc.data = enc.data + self.icv(raw(enc), seq >> 32)
        return self.wrap(header, enc)

    def esp_payload_len(self, inner):
        """Bytes ESP encrypts before its trailer: the whole inner packet
        (tunnel) or what follows the IP header (transport)."""
        if self.mode == "tunnel":
            return len(raw(inner))
        _, _, payload = split_for_transport(inner, socket.IPPROTO_ESP)
        return len(raw(payload))

    def wrap(self, ip_header, esp):
        """Put an ESP layer under ip_header (adding the NAT-T UDP header
        when the SA has encap) and fix the lengths."""
        h = ip_header.copy()
        h.remove_payload()
        if h.version == 4:
            h.proto = 17 if self.encap else 50
        else:
            h.nh = 17 if self.encap else 50   # no extension headers here
        if self.encap:
            h = h / UDP(sport=self.encap[0], dport=self.encap[1], chksum=0) / esp
        else:
            h = h / esp
        return fix_lengths(h)

    def outer_header(self):
        """The outer IP header a packet of this SA carries (tunnel mode)."""
        if _family(self.local) == 4:
            return IP(src=self.remote, dst=self.local)
        return IPv6(src=self.remote, dst=self.local)

    def __repr__(self):
        return "SA(%#x %s %s%s)" % (self.spi, self.algo.name, self.mode,
                                   " natt" if self.encap else "")


def inner_tos(b):
    """DSCP+ECN byte of an IPv4 (TOS) or IPv6 (traffic class) packet."""
    if b[0] >> 4 == 4:
        return b[1]
    return ((b[0] & 0x0F) << 4) | (b[1] >> 4)


def _flow_map(d):
    """A nested dict of numbers as a YAML flow mapping."""
    if isinstance(d, dict):
        return "{ %s }" % ", ".join("%s: %s" % (k, _flow_map(v)) for k, v in d.items())
    return str(d)


def _keystr(v):
    if isinstance(v, int):
        raise ValueError("key parsed as an integer; load YAML with BaseLoader")
    return str(v)


def fix_lengths(pkt):
    """Recompute IP total length/checksum, IPv6 payload length and UDP length
    (the NAT-T UDP checksum stays 0) and re-dissect."""
    p = pkt.copy()
    layer = p
    while layer is not None and not isinstance(layer, type(None)):
        if isinstance(layer, IP):
            layer.len = None
            layer.chksum = None
        elif isinstance(layer, IPv6):
            layer.plen = None
        elif isinstance(layer, UDP):
            layer.len = None
            break
        elif isinstance(layer, ESP):
            break
        layer = layer.payload if layer.payload else None
    return p.__class__(raw(p))


def yaml_scalar(v):
    """Quote what a plain YAML scalar must not hold (IPv6 colons)."""
    v = str(v)
    if ":" in v or v == "" or v[0] in "!&*[]{}|>%@`'\"#,?-":
        return '"%s"' % v
    return v
