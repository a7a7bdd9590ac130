"""Outbound expectations and the checker of what leaves the unprotected
ports.

OutExpected knows, per outbound SA, the clear packets that must leave
protected by it (in order), and the clear packets that must leave bypassed.
check() takes the frames captured on the ports ({port name: [frames]}, or
one list for the default port) and, for every ESP frame:

  * finds the SA by SPI (ESP, or ESP in UDP for an SA with encap);
  * checks the sequence number: 1, 2, 3, ... per SA in egress order;
  * decrypts it with scapy's own implementation
    (SecurityAssociation.decrypt, NAT-T aware; sgtest.sa works around
    scapy's ESN-with-HMAC bug), with the high half of the expected
    sequence number for ESN SAs;
  * checks the ESP trailer with the independent opener (sgtest.refesp):
    pad bytes 1, 2, 3, ..., alignment, next header;
  * checks Ethernet (next hop MAC toward the SA's remote, egress port MAC),
    the outer header (tunnel: local -> remote, TTL/hop limit 64, protocol
    50 or UDP, IPv4 id = low 16 bits of the sequence number, DF copied
    from an IPv4 inner packet and 0 for IPv6, DSCP+ECN copied, valid header
    checksum, IPv6 flow label 0; transport: the packet's own header with
    protocol 50 / UDP, lengths and checksum right), the NAT-T UDP header
    (ports as configured, checksum 0 on IPv4, valid on IPv6), and the
    egress port's MTU;
  * compares the decrypted inner packet byte for byte with the expected
    one: the original with TTL/hop limit - 1 and the IPv4 checksum fixed.
    An expected packet marked frag=True must arrive as IPv4 fragments,
    each in its own ESP packet with consecutive sequence numbers, which
    reassemble to the expected packet;
  * IVs: unique per SA; for AES-CBC also not the sequence number, not
    counter-like, not the previous packet's last ciphertext block.

Every other frame is clear and compared with the bypass expectations
(sgtest.expect.Expected, byte for byte); anything else is unexpected.
Problems are collected per SA (Report.render(spi)) so a matrix can report
each combination as its own test item.
"""

import ipaddress
import struct

from scapy.layers.inet import IP
from scapy.layers.inet6 import IPv6
from scapy.layers.ipsec import IPSecIntegrityError
from scapy.utils import checksum, hexdump

from . import expect, refesp
from .sa import MASK32, inner_tos
from .traffic import find_tag


def _ip(b):
    return str(ipaddress.ip_address(bytes(b)))


def _same_ip(a, b):
    return ipaddress.ip_address(str(a)) == ipaddress.ip_address(str(b))


class Wire:
    """A frame parsed by hand: Ethernet, IPv4/IPv6 (no extension
    headers), optional UDP, ESP. `esp` is None for anything that is not
    ESP or ESP in UDP."""

    def __init__(self, frame):
        self.frame = frame
        self.problems = []
        self.esp = None
        self.udp = None
        self.spi = self.seq = None
        self.version = None
        if len(frame) < 14:
            return
        self.eth_dst, self.eth_src = frame[0:6], frame[6:12]
        et = struct.unpack("!H", frame[12:14])[0]
        ip = frame[14:]
        if et == 0x0800 and len(ip) >= 20 and ip[0] >> 4 == 4:
            ihl = (ip[0] & 0x0F) * 4
            tot = struct.unpack("!H", ip[2:4])[0]
            if tot < ihl or tot > len(ip):
                return
            self.version, self.hlen, self.ip_len = 4, ihl, tot
            self.proto = ip[9]
        elif et == 0x86DD and len(ip) >= 40 and ip[0] >> 4 == 6:
            plen = struct.unpack("!H", ip[4:6])[0]
            if 40 + plen > len(ip):
                return
            self.version, self.hlen, self.ip_len = 6, 40, 40 + plen
            self.proto = ip[6]
        else:
            return
        self.ethertype = et
        self.ip = ip[:self.ip_len]
        self.trailing = ip[self.ip_len:]
        l4 = self.ip[self.hlen:]
        if self.proto == 50 and len(l4) >= 8:
            self.esp = l4
        elif self.proto == 17 and len(l4) >= 16:
            sport, dport, ulen, csum = struct.unpack("!HHHH", l4[:8])
            if l4[8:12] != b"\x00\x00\x00\x00":
                self.udp = (sport, dport, ulen, csum)
                self.esp = l4[8:]
        if self.esp is not None:
            self.spi, self.seq = struct.unpack("!II", self.esp[:8])

    def scapy_ip(self):
        return IP(self.ip) if self.version == 4 else IPv6(self.ip)


class Item:
    """One clear packet expected to leave protected by an SA."""

    def __init__(self, spi, pos, original, expected, frag):
        self.spi = spi
        self.pos = pos
        self.original = original
        self.expected = expected
        self.frag = frag
        self.label = "#%d" % pos


def frag_key(b):
    """(src, dst, proto, id) of an IPv4 packet, the reassembly key."""
    return (b[12:16], b[16:20], b[9], b[4:6])


def is_fragment(b):
    return b[0] >> 4 == 4 and bool(struct.unpack("!H", b[6:8])[0] & 0x3FFF)


class OutExpected:
    def __init__(self, dep, port="wan0"):
        self.dep = dep
        self.port = port               # the port of a plain list given to check()
        self.sas = {}                  # spi -> SA
        self.items = {}                # spi -> [Item]
        self.by_tag = {}               # tag -> Item
        self.by_frag = {}              # frag_key -> Item
        self.clear = expect.Expected()

    # -- building ----------------------------------------------------------
    def add_sa(self, sa):
        if sa.spi in self.sas:
            raise ValueError("outbound SPI %#x registered twice" % sa.spi)
        self.sas[sa.spi] = sa
        self.items[sa.spi] = []
        return sa

    def protect(self, spi, inner, frag=False):
        """inner (scapy or bytes, as sent into lan0) must leave protected
        by SA spi, after the previously added ones; frag=True: as IPv4
        fragments (inner must be IPv4 without DF)."""
        if spi not in self.sas:
            raise KeyError("SA %#x not registered (add_sa)" % spi)
        b = bytes(inner) if isinstance(inner, (bytes, bytearray)) else bytes(inner)
        item = Item(spi, len(self.items[spi]), b, expect.forwarded_l3(b), frag)
        t = find_tag(b)
        if t is None:
            raise ValueError("expected packet carries no tag")
        if t in self.by_tag or t in self.clear.tags:
            raise ValueError("tag %r expected twice" % (t,))
        self.by_tag[t] = item
        if b[0] >> 4 == 4:
            k = frag_key(b)
            if frag and k in self.by_frag:
                raise ValueError("two fragmented packets share src/dst/proto/id")
            if frag:
                self.by_frag[k] = item
        elif frag:
            raise ValueError("only IPv4 packets are fragmented")
        self.items[spi].append(item)
        return item

    def bypass(self, inner, key="bypass"):
        """inner must leave in clear (routed by the deployment: next hop
        MAC, egress port MAC, TTL - 1)."""
        self.clear.add_inner(self.dep, key, inner)

    def count(self, spi=None):
        if spi is None:
            return sum(len(v) for v in self.items.values())
        return len(self.items[spi])

    def egress(self, spi):
        """(Port, next hop MAC) toward SA spi's remote, or None."""
        return self.dep.next_hop(self.sas[spi].remote)

    # -- checking ------------------------------------------------------------
    def compare(self, out):
        """out: {port name: [frames]} (e.g. Result.out) or a list of
        frames captured on self.port. Returns a Report."""
        ports = out if isinstance(out, dict) else {self.port: list(out)}
        rep = Report(self)
        per_sa = {}
        clear = []
        for pname, frames in ports.items():
            for n, f in enumerate(frames):
                w = Wire(f)
                if w.esp is not None and w.spi in self.sas:
                    sa = self.sas[w.spi]
                    if w.udp is not None and not sa.encap and 4500 not in w.udp[:2]:
                        clear.append((pname, n, f))
                        continue
                    per_sa.setdefault(w.spi, []).append((pname, n, w))
                elif w.esp is not None and w.udp is None and find_tag(f) not in self.clear.tags:
                    rep.unexpected.append((pname, n, f, "ESP with unknown SPI %#x" % w.spi))
                else:
                    clear.append((pname, n, f))
        for spi in self.sas:
            SAChecker(self, spi, per_sa.get(spi, []), rep).run()
        # clear frames: bypass expectations (all ports together)
        rep.clear = self.clear.compare([f for _, _, f in clear])
        rep.clear_tags = {find_tag(f) for _, _, f in clear} - {None}
        rep.clear_ports = [(p, n) for p, n, _ in clear]
        rep.esp_frames = {spi: len(v) for spi, v in per_sa.items()}
        return rep

    def check(self, out, spi=None, context=""):
        rep = self.compare(out)
        msg = rep.render(spi)
        if msg:
            raise AssertionError((context + "\n" if context else "") + msg)
        return rep


class SAChecker:
    def __init__(self, exp, spi, frames, rep):
        self.exp = exp
        self.spi = spi
        self.sa = exp.sas[spi]
        self.frames = frames
        self.rep = rep
        self.p = rep.problems.setdefault(spi, [])
        self.eg = exp.egress(spi)

    def where(self, k, pname, n, w):
        return "ESP #%d (%s frame %d, wire seq %d)" % (k + 1, pname, n, w.seq)

    def run(self):
        sa, p = self.sa, self.p
        if self.eg is None:
            p.append("the deployment has no route/neighbour toward remote %s "
                     "(test setup)" % sa.remote)
        ivs = {}
        seen = {}              # item pos -> first esp index
        frags = {}             # item pos -> [(k, offset, mf, bytes)]
        order = []             # item positions in order of first appearance
        prev_last_block = None
        prev_iv_int = None
        for k, (pname, n, w) in enumerate(self.frames):
            seq = k + 1
            where = self.where(k, pname, n, w)
            if w.seq != seq & MASK32:
                p.append("%s: sequence number %d, expected %d (1, 2, 3, ... per SA)"
                         % (where, w.seq, seq & MASK32))
            self.check_l2(where, pname, w)
            self.check_mtu(where, pname, w)
            # decrypt (scapy), with the high half of the expected sequence number
            try:
                dec = bytes(sa.decrypt(w.scapy_ip(), seq_hi=seq >> 32))
            except IPSecIntegrityError as e:
                p.append("%s: ICV/tag does not verify%s (%s)"
                         % (where, " with ESN high half %d" % (seq >> 32) if sa.esn else "", e))
                continue
            except Exception as e:      # noqa: BLE001 - report what scapy said
                p.append("%s: scapy cannot decrypt it: %r" % (where, e))
                continue
            # trailer and IV, with the independent opener
            try:
                payload, nh, plain = refesp.open_esp(sa, w.esp, seq >> 32,
                                                     check_padding=False)
            except (refesp.AuthError, refesp.Malformed) as e:
                p.append("%s: decrypts with scapy but not with sgtest.refesp: %s" % (where, e))
                continue
            if not refesp.esp_trailer_ok(plain):
                p.append("%s: ESP padding is not 1, 2, 3, ... (RFC 4303 2.4): "
                         "pad length %d, trailer %s" % (where, plain[-2], plain[-18:].hex()))
            if (len(plain) + sa.iv_len) % 4:
                p.append("%s: ESP payload not 4-byte aligned" % where)
            if sa.mode == "tunnel":
                want_nh = 4 if dec and dec[0] >> 4 == 4 else 41
                if nh != want_nh:
                    p.append("%s: ESP next header %d, expected %d" % (where, nh, want_nh))
                self.check_tunnel_outer(where, w, dec, seq)
            else:
                self.check_transport_outer(where, w, dec)
                want_nh = dec[9] if dec[0] >> 4 == 4 else dec[6]
                if nh != want_nh:
                    p.append("%s: ESP next header %d, restored protocol %d"
                             % (where, nh, want_nh))
            self.check_udp(where, w)
            # IVs
            if sa.iv_len:
                iv = w.esp[8:8 + sa.iv_len]
                if iv in ivs:
                    p.append("%s: IV %s repeated (first used by ESP #%d)"
                             % (where, iv.hex(), ivs[iv] + 1))
                else:
                    ivs[iv] = k
                if sa.algo.cipher.name.endswith("cbc"):
                    sq = struct.pack("!Q", seq)
                    if iv[:8] == sq or iv[8:] == sq or iv == b"\x00" * 16:
                        p.append("%s: AES-CBC IV %s carries the sequence number "
                                 "(predictable)" % (where, iv.hex()))
                    ivi = int.from_bytes(iv, "big")
                    if prev_iv_int is not None and abs(ivi - prev_iv_int) < (1 << 32):
                        p.append("%s: AES-CBC IV %s is counter-like (previous %032x)"
                                 % (where, iv.hex(), prev_iv_int))
                    if prev_last_block is not None and iv == prev_last_block:
                        p.append("%s: AES-CBC IV is the previous packet's last "
                                 "ciphertext block (predictable)" % where)
                    prev_iv_int = ivi
                    body = w.esp[8 + sa.iv_len:len(w.esp) - sa.icv_len]
                    prev_last_block = body[-16:]
            # which expected packet is it?
            self.match(where, k, dec, seen, frags, order)
        self.finish(seen, frags, order)

    # -- pieces ------------------------------------------------------------------
    def check_l2(self, where, pname, w):
        if self.eg is None:
            return
        port, mac = self.eg
        if pname != port.name:
            self.p.append("%s: left port %s, expected %s (toward remote %s)"
                          % (where, pname, port.name, self.sa.remote))
        if w.eth_dst != bytes.fromhex(mac.replace(":", "")):
            self.p.append("%s: Ethernet destination %s, expected the next hop %s"
                          % (where, w.eth_dst.hex(":"), mac))
        if w.eth_src != bytes.fromhex(port.mac.replace(":", "")):
            self.p.append("%s: Ethernet source %s, expected %s's %s"
                          % (where, w.eth_src.hex(":"), port.name, port.mac))

    def check_mtu(self, where, pname, w):
        try:
            mtu = self.exp.dep.port(pname).effective_mtu
        except KeyError:
            return
        if w.ip_len > mtu:
            self.p.append("%s: %d bytes of IP exceed %s's MTU %d"
                          % (where, w.ip_len, pname, mtu))
        if w.trailing and (len(w.frame) > 60 or any(w.trailing)):
            self.p.append("%s: %d bytes after the IP packet in the frame"
                          % (where, len(w.trailing)))

    def check_tunnel_outer(self, where, w, inner, seq):
        sa, p = self.sa, self.p
        h = w.ip
        fam = 4 if ":" not in sa.local else 6
        if w.version != fam:
            p.append("%s: outer IPv%d, the SA's endpoints are IPv%d" % (where, w.version, fam))
            return
        want_proto = 17 if sa.encap else 50
        tos = inner_tos(inner) if inner else 0
        if fam == 4:
            src, dst = _ip(h[12:16]), _ip(h[16:20])
            ff = struct.unpack("!H", h[6:8])[0]
            df = bool(ff & 0x4000)
            want_df = bool(inner) and inner[0] >> 4 == 4 and bool(inner[6] & 0x40)
            checks = [
                ("version/IHL", h[0], 0x45),
                ("TOS (DSCP+ECN copied from the inner packet)", h[1], tos),
                ("id (low 16 bits of the sequence number)",
                 struct.unpack("!H", h[4:6])[0], seq & 0xFFFF),
                ("DF (copied from an IPv4 inner packet, 0 for IPv6)", df, want_df),
                ("reserved flag / MF / fragment offset", ff & 0xBFFF, 0),
                ("TTL", h[8], 64),
                ("protocol", h[9], want_proto),
                ("header checksum valid", checksum(h[:20]) == 0, True),
            ]
        else:
            src, dst = _ip(h[8:24]), _ip(h[24:40])
            vtf = struct.unpack("!I", h[0:4])[0]
            checks = [
                ("traffic class (DSCP+ECN copied from the inner packet)",
                 (vtf >> 20) & 0xFF, tos),
                ("flow label", vtf & 0xFFFFF, 0),
                ("next header", h[6], want_proto),
                ("hop limit", h[7], 64),
            ]
        checks += [("source", src, str(ipaddress.ip_address(sa.local))),
                   ("destination", dst, str(ipaddress.ip_address(sa.remote)))]
        for name, got, want in checks:
            if got != want:
                p.append("%s: outer %s = %r, expected %r" % (where, name, got, want))

    def check_transport_outer(self, where, w, restored):
        sa, p = self.sa, self.p
        h = w.ip
        want_proto = 17 if sa.encap else 50
        if w.version == 4:
            if h[9] != want_proto:
                p.append("%s: IPv4 protocol %d, expected %d" % (where, h[9], want_proto))
            if checksum(h[:w.hlen]) != 0:
                p.append("%s: IPv4 header checksum invalid" % where)
        else:
            if h[6] != want_proto:
                p.append("%s: IPv6 next header %d, expected %d" % (where, h[6], want_proto))
        if not _same_ip(_ip(h[16:20] if w.version == 4 else h[24:40]), sa.remote):
            p.append("%s: transport packet to %s, the SA's remote is %s"
                     % (where, _ip(h[16:20] if w.version == 4 else h[24:40]), sa.remote))

    def check_udp(self, where, w):
        sa, p = self.sa, self.p
        if not sa.encap:
            if w.udp is not None:
                p.append("%s: ESP in UDP, but the SA has no encap" % where)
            return
        if w.udp is None:
            p.append("%s: plain ESP, but the SA has encap %s" % (where, sa.encap))
            return
        sport, dport, ulen, csum = w.udp
        if (sport, dport) != tuple(sa.encap):
            p.append("%s: UDP ports %d -> %d, expected %d -> %d"
                     % ((where, sport, dport) + tuple(sa.encap)))
        if ulen != w.ip_len - w.hlen:
            p.append("%s: UDP length %d, expected %d" % (where, ulen, w.ip_len - w.hlen))
        if w.version == 4:
            if csum != 0:
                p.append("%s: NAT-T UDP checksum %#06x, expected 0 (RFC 3948)" % (where, csum))
        else:
            seg = w.ip[40:]
            pseudo = w.ip[8:40] + struct.pack("!IxxxB", len(seg), 17)
            if csum == 0 or checksum(pseudo + seg) != 0:
                p.append("%s: UDP checksum %#06x invalid over IPv6" % (where, csum))

    def match(self, where, k, dec, seen, frags, order):
        exp, p = self.exp, self.p
        if len(dec) >= 20 and is_fragment(dec):
            item = exp.by_frag.get(frag_key(dec))
            if item is None:
                t = find_tag(dec)
                hint = exp.by_tag.get(t) if t else None
                if hint is not None and not hint.frag:
                    p.append("%s: carries a fragment of expected packet %s, which must "
                             "not be fragmented" % (where, hint.label))
                    return
                p.append("%s: a fragment of no expected packet:\n%s" % (where, _hex(dec)))
                return
            if item.spi != self.spi:
                self._wrong_sa(where, item)
                return
            ff = struct.unpack("!H", dec[6:8])[0]
            frags.setdefault(item.pos, []).append((k, (ff & 0x1FFF) * 8, bool(ff & 0x2000),
                                                   dec))
            if item.pos not in seen:
                seen[item.pos] = k
                order.append(item.pos)
            return
        t = find_tag(dec)
        if t is not None:
            self.rep.decrypted_tags.setdefault(t, []).append(self.spi)
        item = exp.by_tag.get(t) if t else None
        if item is None:
            p.append("%s: decrypts to a packet nobody expected:\n%s" % (where, _hex(dec)))
            return
        if item.spi != self.spi:
            self._wrong_sa(where, item)
            return
        if item.pos in seen:
            p.append("%s: packet %s came out twice (first as ESP #%d)"
                     % (where, item.label, seen[item.pos] + 1))
            return
        seen[item.pos] = k
        order.append(item.pos)
        if item.frag:
            p.append("%s: packet %s must be fragmented before encryption, came whole"
                     % (where, item.label))
        if dec != item.expected:
            self.rep.mismatched.setdefault(self.spi, []).append(
                (where, item, item.expected, dec))

    def _wrong_sa(self, where, item):
        other = self.exp.sas[item.spi]
        self.p.append("%s: carries packet %s of SA %s (%#x): wrong SA"
                      % (where, item.label, other.name, item.spi))
        self.rep.problems.setdefault(item.spi, []).append(
            "packet %s came out through SA %s (%#x) instead" % (item.label, self.sa.name, self.spi))

    def finish(self, seen, frags, order):
        p = self.p
        items = self.exp.items[self.spi]
        missing = [it.pos for it in items if it.pos not in seen]
        if missing:
            p.append("%d of %d expected packets missing (positions %s)"
                     % (len(missing), len(items), expect._ranges(missing)))
            first = items[missing[0]]
            p.append("  first missing, #%d, expected after decryption:\n%s"
                     % (first.pos, _hex(first.expected)))
        if order != sorted(order):
            p.append("out of order: expected positions in egress order %s" % order[:40])
        for pos, lst in frags.items():
            self.reassemble(items[pos], lst)

    def reassemble(self, item, lst):
        p = self.p
        lab = "packet %s (fragmented)" % item.label
        ks = sorted(k for k, _, _, _ in lst)
        if ks != list(range(ks[0], ks[0] + len(ks))):
            p.append("%s: its fragments are not in consecutive ESP packets: ESP #%s"
                     % (lab, [k + 1 for k in ks]))
        if len(lst) < 2:
            p.append("%s: only one fragment" % lab)
        exp = item.expected
        ihl = (exp[0] & 0x0F) * 4
        data = {}
        last = None
        for k, off, mf, b in lst:
            fihl = (b[0] & 0x0F) * 4
            tot = struct.unpack("!H", b[2:4])[0]
            if checksum(b[:fihl]) != 0:
                p.append("%s: fragment at offset %d: IPv4 checksum invalid" % (lab, off))
            hdr_exp = bytearray(exp[:ihl])
            hdr_got = bytearray(b[:fihl])
            for hb in (hdr_exp, hdr_got):
                hb[2:4] = b"\x00\x00"      # total length
                hb[6:8] = bytes([hb[6] & 0x40, 0])  # keep DF, drop MF/offset
                hb[10:12] = b"\x00\x00"    # checksum
            if hdr_exp != hdr_got:
                p.append("%s: fragment at offset %d: header differs from the expected "
                         "(TTL - 1) one apart from length/MF/offset/checksum:\n"
                         "  expected %s\n  got      %s" % (lab, off, bytes(hdr_exp).hex(),
                                                          bytes(hdr_got).hex()))
            payload = b[fihl:tot]
            if mf and len(payload) % 8:
                p.append("%s: non-last fragment of %d bytes (not a multiple of 8)"
                         % (lab, len(payload)))
            if off in data:
                p.append("%s: fragment offset %d twice" % (lab, off))
            data[off] = payload
            if not mf:
                if last is not None:
                    p.append("%s: more than one last fragment" % lab)
                last = off + len(payload)
        body = b""
        for off in sorted(data):
            if off != len(body):
                p.append("%s: fragments leave a gap or overlap at offset %d" % (lab, len(body)))
                return
            body += data[off]
        if last is None or last != len(body):
            p.append("%s: no last fragment (MF=0) at the end" % lab)
            return
        first = next(b for _, off, _, b in lst if off == 0)
        fihl = (first[0] & 0x0F) * 4
        h = bytearray(first[:fihl])
        h[2:4] = struct.pack("!H", fihl + len(body))
        h[6:8] = bytes([h[6] & 0x40, 0])
        h[10:12] = b"\x00\x00"
        h[10:12] = struct.pack("!H", checksum(bytes(h)))
        whole = bytes(h) + body
        if whole != exp:
            self.rep.mismatched.setdefault(self.spi, []).append(
                ("%s reassembled" % lab, item, exp, whole))


def _hex(b, limit=192):
    h = hexdump(b[:limit], dump=True)
    if len(b) > limit:
        h += "\n... (%d bytes in all)" % len(b)
    return expect._indent(h)


def _l3_field(b, off):
    et = b"\x08\x00" if b and b[0] >> 4 == 4 else b"\x86\xdd"
    return expect.field_at(b"\x00" * 12 + et + b, off + 14).replace("l4", "payload")


class Report:
    MAX_DETAIL = 4

    def __init__(self, exp):
        self.exp = exp
        self.problems = {}        # spi -> [text]
        self.mismatched = {}      # spi -> [(where, item, expected, got)]
        self.unexpected = []      # (port, n, frame, why)
        self.clear = None         # expect.Report of the clear frames
        self.clear_ports = []
        self.clear_tags = set()   # tags seen in clear frames (any port)
        self.esp_frames = {}      # spi -> ESP frames seen
        self.decrypted_tags = {}  # tag -> [spi] of every whole packet decrypted

    def ok(self, spi=None):
        return not self.render(spi)

    def seen(self, tag):
        """Where a packet with this tag left: ["clear"] and/or the SPIs it
        was decrypted from ([] = nowhere)."""
        return (["clear"] if tag in self.clear_tags else []) + \
            list(self.decrypted_tags.get(tag, []))

    def esp_total(self):
        """ESP frames seen, all SAs (what `encrypted` must count)."""
        return sum(self.esp_frames.values())

    def render(self, spi=None):
        out = []
        keys = [spi] if spi is not None else list(self.exp.sas)
        for s in keys:
            sa = self.exp.sas[s]
            lines = list(self.problems.get(s, []))
            for where, item, e, g in self.mismatched.get(s, [])[:self.MAX_DETAIL]:
                d = expect.first_diff(e, g)
                lines.append("%s: decrypted packet %s differs from the expected (original, "
                             "TTL - 1): first at byte %s (%s); expected %d bytes, got %d\n"
                             "  expected:\n%s\n  got:\n%s"
                             % (where, item.label, d, _l3_field(e, d or 0), len(e), len(g),
                                _hex(e), _hex(g)))
            more = len(self.mismatched.get(s, [])) - self.MAX_DETAIL
            if more > 0:
                lines.append("... and %d more differing packets" % more)
            if lines:
                out.append("SA %s (%#x):" % (sa.name, s))
                shown = lines[:12]
                out += ["  " + ln for ln in shown]
                if len(lines) > 12:
                    out.append("  ... %d more problems" % (len(lines) - 12))
        if spi is None:
            for pname, n, f, why in self.unexpected[:self.MAX_DETAIL]:
                out.append("unexpected %s frame %d: %s\n%s" % (pname, n, why, _hex(f)))
            if len(self.unexpected) > self.MAX_DETAIL:
                out.append("... %d unexpected frames in all" % len(self.unexpected))
            if self.clear is not None:
                c = self.clear.render()
                if c:
                    out.append("clear (bypassed or leaked) frames, ports/frame numbers %s:\n%s"
                               % (self.clear_ports[:10], c))
        return "\n".join(out)
