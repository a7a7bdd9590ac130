"""Expected egress and the comparator.

forwarded() computes the frame the gateway must emit for an inner packet:
Ethernet dst = the next hop's MAC, src = the egress port's MAC, and the
inner packet unchanged except TTL / hop limit minus 1 (and the IPv4 header
checksum recomputed).

Expected collects those frames per key (normally the SPI, or "bypass") in
the order the gateway must emit them. check() matches the output frames to
them by the tag in their payload and reports, with offsets and hexdumps:
missing packets, duplicates, packets out of order within a key, byte
differences and packets nobody expected.
"""

from scapy.layers.inet import IP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import Ether
from scapy.packet import raw
from scapy.utils import checksum, hexdump

from .traffic import find_tag


def _mac(m):
    return bytes.fromhex(m.replace(":", ""))


def forwarded_l3(inner):
    """inner (scapy packet or bytes) with TTL/hop limit - 1, IPv4 checksum
    recomputed. Byte-level, so nothing else can change."""
    b = bytearray(raw(inner) if not isinstance(inner, (bytes, bytearray)) else inner)
    if b[0] >> 4 == 4:
        ihl = (b[0] & 0x0F) * 4
        if b[8] == 0:
            raise ValueError("TTL 0 cannot be forwarded")
        b[8] -= 1
        b[10:12] = b"\x00\x00"
        b[10:12] = checksum(bytes(b[:ihl])).to_bytes(2, "big")
    elif b[0] >> 4 == 6:
        b[7] -= 1
    else:
        raise ValueError("not IP")
    return bytes(b)


def forwarded_scapy(inner):
    """The same via scapy (del chksum, rebuild); used to cross-check
    forwarded_l3 in the tooling self-test."""
    p = inner.__class__(raw(inner))
    if isinstance(p, IP):
        p.ttl -= 1
        del p.chksum
    elif isinstance(p, IPv6):
        p.hlim -= 1
    return raw(p.__class__(raw(p)))


def forwarded(dep, inner):
    """Frame bytes the deployment must emit for inner, or None when the
    destination has no route/neighbour."""
    b = raw(inner) if not isinstance(inner, (bytes, bytearray)) else bytes(inner)
    dst = IP(b).dst if b[0] >> 4 == 4 else IPv6(b).dst
    nh = dep.next_hop(dst)
    if nh is None:
        return None
    port, mac = nh
    et = b"\x08\x00" if b[0] >> 4 == 4 else b"\x86\xdd"
    return _mac(mac) + _mac(port.mac) + et + forwarded_l3(b)


class Expected:
    def __init__(self):
        self.by_key = {}       # key -> [frame bytes]
        self.tags = {}         # (flow, idx) -> (key, position)

    def add(self, key, frame):
        t = find_tag(frame)
        if t is None:
            raise ValueError("expected frame carries no tag")
        if t in self.tags:
            raise ValueError("tag %r expected twice" % (t,))
        lst = self.by_key.setdefault(key, [])
        self.tags[t] = (key, len(lst))
        lst.append(frame)

    def add_inner(self, dep, key, inner):
        f = forwarded(dep, inner)
        if f is None:
            raise ValueError("no route for %r" % inner)
        self.add(key, f)

    def count(self, key=None):
        if key is None:
            return sum(len(v) for v in self.by_key.values())
        return len(self.by_key.get(key, []))

    def keys(self):
        return list(self.by_key)

    # -- comparison -------------------------------------------------------
    def compare(self, outputs):
        """outputs: list of frame bytes in egress order. Returns a Report."""
        rep = Report(self)
        got = {}               # key -> [(output index, tag position, frame)]
        seen = {}
        for n, f in enumerate(outputs):
            t = find_tag(f)
            if t is None or t not in self.tags:
                rep.unexpected.append((n, f, t))
                continue
            if t in seen:
                rep.duplicates.append((n, f, t, seen[t]))
                continue
            seen[t] = n
            key, pos = self.tags[t]
            got.setdefault(key, []).append((n, pos, f))
        for key, exp in self.by_key.items():
            g = got.get(key, [])
            positions = [pos for _, pos, _ in g]
            have = set(positions)
            for pos in range(len(exp)):
                if pos not in have:
                    rep.missing.append((key, pos, exp[pos]))
            if positions != sorted(positions):
                rep.reordered.append((key, [(n, pos) for n, pos, _ in g]))
            for n, pos, f in g:
                if f != exp[pos]:
                    rep.mismatched.append((key, pos, n, exp[pos], f))
        return rep

    def check(self, outputs, key=None, context=""):
        """Raise AssertionError with a readable diff unless outputs match
        exactly (or, with key, unless that key's packets match)."""
        rep = self.compare(outputs)
        msg = rep.render(key)
        if msg:
            raise AssertionError((context + "\n" if context else "") + msg)


def _label(key):
    return "%#x" % key if isinstance(key, int) else str(key)


_FIELDS4 = [(0, "eth.dst"), (6, "eth.src"), (12, "eth.type"), (14, "ip.ver/ihl"),
            (15, "ip.tos"), (16, "ip.len"), (18, "ip.id"), (20, "ip.flags/frag"),
            (22, "ip.ttl"), (23, "ip.proto"), (24, "ip.chksum"), (26, "ip.src"),
            (30, "ip.dst"), (34, "l4")]
_FIELDS6 = [(0, "eth.dst"), (6, "eth.src"), (12, "eth.type"), (14, "ip6.ver/tc/fl"),
            (18, "ip6.plen"), (20, "ip6.nh"), (21, "ip6.hlim"), (22, "ip6.src"),
            (38, "ip6.dst"), (54, "l4")]


def field_at(frame, off):
    table = _FIELDS6 if frame[12:14] == b"\x86\xdd" else _FIELDS4
    name = table[0][1]
    for start, n in table:
        if off >= start:
            name = n
    return name


def first_diff(a, b):
    for i in range(min(len(a), len(b))):
        if a[i] != b[i]:
            return i
    return min(len(a), len(b)) if len(a) != len(b) else None


def _hex(b, limit=256):
    h = hexdump(b[:limit], dump=True)
    if len(b) > limit:
        h += "\n... (%d bytes in all)" % len(b)
    return h


class Report:
    MAX_DETAIL = 5

    def __init__(self, expected):
        self.exp = expected
        self.missing = []
        self.duplicates = []
        self.reordered = []
        self.mismatched = []
        self.unexpected = []

    def ok(self, key=None):
        return not self.render(key)

    def render(self, key=None):
        """Text describing every problem (for key only, if given); '' if
        none."""
        def mine(k):
            return key is None or k == key
        out = []
        miss = [m for m in self.missing if mine(m[0])]
        if miss:
            by = {}
            for k, pos, _ in miss:
                by.setdefault(k, []).append(pos)
            for k, ps in by.items():
                out.append("SA %s: %d of %d expected packets missing (positions %s)"
                           % (_label(k), len(ps), self.exp.count(k), _ranges(ps)))
            k, pos, f = miss[0]
            out.append("  first missing, SA %s #%d, expected:\n%s"
                       % (_label(k), pos, _indent(_hex(f))))
        for n, f, t, first in self.duplicates:
            k = self.exp.tags[t][0]
            if mine(k):
                out.append("SA %s: packet #%d came out twice (output frames %d and %d)"
                           % (_label(k), self.exp.tags[t][1], first, n))
        for k, order in self.reordered:
            if mine(k):
                out.append("SA %s: out of order; (output frame, expected position): %s"
                           % (_label(k), order[:40]))
        mm = [m for m in self.mismatched if mine(m[0])]
        for k, pos, n, exp, got in mm[:self.MAX_DETAIL]:
            d = first_diff(exp, got)
            out.append("SA %s packet #%d (output frame %d) differs: first at byte "
                       "offset %d (%s); expected %d bytes, got %d"
                       % (_label(k), pos, n, d, field_at(exp, d), len(exp), len(got)))
            out.append("  expected:\n%s\n  got:\n%s" % (_indent(_hex(exp)), _indent(_hex(got))))
        if len(mm) > self.MAX_DETAIL:
            out.append("... and %d more differing packets" % (len(mm) - self.MAX_DETAIL))
        if key is None and self.unexpected:
            out.append("%d unexpected output frame(s) (no known tag):" % len(self.unexpected))
            for n, f, t in self.unexpected[:self.MAX_DETAIL]:
                try:
                    summ = Ether(f).summary()
                except Exception:     # noqa: BLE001 - show whatever it is
                    summ = "?"
                out.append("  output frame %d (%s):\n%s" % (n, summ, _indent(_hex(f))))
        return "\n".join(out)


def _indent(s, n=4):
    return "\n".join(" " * n + line for line in s.splitlines())


def _ranges(ps):
    ps = sorted(ps)
    out = []
    start = prev = ps[0]
    for p in ps[1:]:
        if p == prev + 1:
            prev = p
            continue
        out.append("%d" % start if start == prev else "%d-%d" % (start, prev))
        start = prev = p
    out.append("%d" % start if start == prev else "%d-%d" % (start, prev))
    return ",".join(out)
