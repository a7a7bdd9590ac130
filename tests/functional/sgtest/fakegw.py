"""A Python stand-in for spigate, ONLY to self-test the functional suite.

    SPIGATE_BIN=tests/functional/fake-spigate /usr/bin/python3 -m pytest tests/functional

It reads the same gateway.conf and policy.yaml, reads the rx pcaps named in
the EAL --vdev arguments, applies the inbound rules the suite expects of
spigate (sequentially, in arrival order; no lcores, no hold queues), writes
the tx pcaps and --stats-out. If the suite passes against this, the suite's
expectations are self-consistent; it says nothing about spigate.
"""

import ipaddress
import json
import os
import struct
import sys

from . import expect, libconf, outref
from .config import Deployment
from .gateway import read_pcap, write_pcap
from .refesp import AuthError, Frame, Malformed, ip_checksum, open_esp


class Replay:
    """RFC 4303 anti-replay with ESN reconstruction (Appendix A)."""

    def __init__(self, window, esn):
        self.w = window
        self.esn = esn
        self.top = 0
        self.seen = set()

    def seq64(self, low):
        if not self.esn:
            return low
        tl, th = self.top & 0xFFFFFFFF, self.top >> 32
        w = max(self.w, 1)
        if tl >= w - 1:
            return ((th + 1) << 32 | low) if low < tl - w + 1 else (th << 32 | low)
        if th and low >= (tl - w + 1) & 0xFFFFFFFF:
            return (th - 1) << 32 | low
        return th << 32 | low

    def check(self, s):
        if self.w == 0:
            return True
        if s == 0:
            return False
        if s > self.top:
            return True
        if s + self.w <= self.top:
            return False
        return s not in self.seen

    def update(self, s):
        if self.w == 0:
            self.top = max(self.top, s)
            return
        self.seen.add(s)
        if s > self.top:
            self.top = s
            self.seen = {x for x in self.seen if x + self.w > s}


class Fake:
    def __init__(self, conf):
        self.dep = Deployment.load(conf)
        if self.dep.crypto not in ("cpu", "lookaside"):
            raise ValueError("crypto mode '%s' is not cpu or lookaside" % self.dep.crypto)
        self.stats = {"rx": 0, "tx": 0, "decrypted": 0, "encrypted": 0,
                      "bypassed": 0, "punted": 0, "held": 0, "reinjected": 0,
                      "drop": {}}
        self.sas = {s.spi: s for s in self.dep.sas if s.direction == "in"}
        self.replay = {s.spi: Replay(s.replay_window, s.esn) for s in self.sas.values()}
        self.out = {p.name: [] for p in self.dep.ports}
        # outbound (issue 3), modelled sequentially: RX in bursts of 32; a
        # lazy SA's packets of the burst that triggered its install are
        # held and released at the end of the burst; packets for an SPI no
        # SA has are held per policy and time out at the end of the run.
        hold = libconf.load(conf).get("hold", {}) or {}
        self.hold_max = int(hold.get("packets", 256))
        self.out_sas = {s.spi: s for s in self.dep.sas if s.direction == "out"}
        self.seq = {spi: 0 for spi in self.out_sas}
        self.state = {spi: "installed" if s.install == "eager" else "configured"
                      for spi, s in self.out_sas.items()}
        self.installing = {}          # spi -> [held ip bytes]
        self.unconfigured = {}        # policy index -> held count
        self.pcaps = {}
        eal = self.dep.eal or []
        for i, a in enumerate(eal):
            if a == "--vdev":
                parts = eal[i + 1].split(",")
                kv = dict(x.split("=", 1) for x in parts[1:] if "=" in x)
                self.pcaps[parts[0]] = kv

    def drop(self, why):
        self.stats["drop"][why] = self.stats["drop"].get(why, 0) + 1

    def run(self):
        for p in self.dep.ports:
            rx = self.pcaps.get(p.device, {}).get("rx_pcap")
            if rx:
                frames = read_pcap(rx)
                for b in range(0, len(frames), 32):
                    for f in frames[b:b + 32]:
                        self.stats["rx"] += 1
                        self.rx(p, f)
                    self.end_burst()
        for n in self.unconfigured.values():
            for _ in range(n):
                self.drop("hold_timeout")
        for p in self.dep.ports:
            tx = self.pcaps.get(p.device, {}).get("tx_pcap")
            if tx:
                write_pcap(tx, self.out[p.name])

    def rx(self, port, data):
        try:
            fr = Frame(data)
        except Malformed:
            return self.drop("malformed")
        if fr.dst_mac != bytes.fromhex(port.mac.replace(":", "")) and not fr.dst_mac[0] & 1:
            return self.drop("not_for_us")
        if fr.version is None:
            return self.drop("non_ip")
        if fr.fragment:
            return self.drop("fragment")
        if port.role != "unprotected":
            return self.outbound(fr)
        l4 = fr.l4
        if fr.proto == 50:
            return self.esp(fr, l4, None)
        sport = dport = None
        if fr.proto in (6, 17) and len(l4) >= 4:
            sport, dport = struct.unpack("!HH", l4[:4])
        if fr.proto == 17:
            if len(l4) < 8 or struct.unpack("!H", l4[4:6])[0] > len(l4):
                return self.drop("malformed")
            pl = l4[8:struct.unpack("!H", l4[4:6])[0]]
            if dport == 4500:
                if len(pl) >= 8 and pl[:4] != b"\x00\x00\x00\x00":
                    return self.esp(fr, pl, (sport, dport))
                if len(pl) >= 4 and pl[:4] == b"\x00\x00\x00\x00":
                    self.stats["punted"] += 1
                    return self.drop("ike")
                if pl == b"\xff":
                    return self.drop("nat_keepalive")
                return self.drop("malformed")
            if sport == 500 or dport == 500:
                self.stats["punted"] += 1
                return self.drop("ike")
        src, dst = _ip(fr.src), _ip(fr.dst)
        pol = self.dep.inbound_policy(src, dst, fr.proto, sport, dport)
        if pol is None:
            return self.drop("no_policy")
        if pol.action == "discard":
            return self.drop("discard")
        if pol.action == "protect":
            return self.drop("policy_mismatch")
        if self.forward(fr.ip):
            self.stats["bypassed"] += 1

    def esp(self, fr, esp, udp):
        if len(esp) < 8:
            return self.drop("malformed")
        spi, low = struct.unpack("!II", esp[:8])
        sa = self.sas.get(spi)
        if sa is None:
            return self.drop("unknown_spi")
        rp = self.replay[spi]
        seq = rp.seq64(low)
        if not rp.check(seq):
            return self.drop("replay")
        try:
            payload, nh, _ = open_esp(sa, esp, seq >> 32)
        except AuthError:
            return self.drop("auth_failed")
        except Malformed:
            return self.drop("malformed")
        rp.update(seq)
        self.stats["decrypted"] += 1
        if sa.mode == "tunnel":
            fam = 4 if nh == 4 else 6 if nh == 41 else None
            if fam is None or not payload or payload[0] >> 4 != fam:
                return self.drop("malformed")
            inner = payload
        else:
            h = bytearray(fr.ip[:fr.hlen])
            if fr.version == 4:
                h[9] = nh
                h[2:4] = struct.pack("!H", len(h) + len(payload))
                h[10:12] = b"\x00\x00"
                h[10:12] = struct.pack("!H", ip_checksum(bytes(h)))
            else:
                h[6] = nh
                h[4:6] = struct.pack("!H", len(payload))
            inner = bytes(h) + payload
        try:
            ifr = Frame(b"\x00" * 12 + (b"\x08\x00" if inner[0] >> 4 == 4 else b"\x86\xdd")
                        + inner)
        except Malformed:
            return self.drop("malformed")
        sport = dport = None
        if ifr.proto in (6, 17) and len(ifr.l4) >= 4:
            sport, dport = struct.unpack("!HH", ifr.l4[:4])
        ok = any(p.direction == "in" and p.action == "protect" and p.sa == spi and
                 p.matches(_ip(ifr.src), _ip(ifr.dst), ifr.proto, sport, dport)
                 for p in self.dep.policies)
        if not ok:
            return self.drop("policy_mismatch")
        self.forward(ifr.ip)

    def forward(self, ip):
        fr = Frame(b"\x00" * 12 + (b"\x08\x00" if ip[0] >> 4 == 4 else b"\x86\xdd") + ip)
        nh = self.dep.next_hop(_ip(fr.dst))
        if nh is None:
            self.drop("no_route")
            return False
        if fr.ttl <= 1:
            self.drop("ttl_exceeded")
            return False
        self.out[nh[0].name].append(expect.forwarded(self.dep, ip))
        self.stats["tx"] += 1
        return True


    # -- outbound -----------------------------------------------------------------
    def outbound(self, fr):
        sport = dport = 0
        if fr.proto in (6, 17, 132) and len(fr.l4) >= 4:
            sport, dport = struct.unpack("!HH", fr.l4[:4])
        pol = self.dep.outbound_policy(_ip(fr.src), _ip(fr.dst), fr.proto, sport, dport)
        if pol is None:
            return self.drop("no_policy")
        if pol.action == "discard":
            return self.drop("discard")
        if pol.action == "bypass":
            if self.forward(fr.ip):
                self.stats["bypassed"] += 1
            return
        sa = self.out_sas.get(pol.sa)
        if sa is None:
            k = self.dep.policies.index(pol)
            if self.unconfigured.get(k, 0) >= self.hold_max:
                return self.drop("hold_overflow")
            self.unconfigured[k] = self.unconfigured.get(k, 0) + 1
            self.stats["punted"] += 1
            self.stats["held"] += 1
            return
        st = self.state[sa.spi]
        if st == "configured":
            st = self.state[sa.spi] = "failed" if self.refused(sa) else "installing"
            self.installing[sa.spi] = []
        if st == "failed":
            return self.drop("no_route")
        if st == "installing":
            held = self.installing[sa.spi]
            if len(held) >= self.hold_max:
                return self.drop("hold_overflow")
            self.stats["punted"] += 1
            self.stats["held"] += 1
            held.append(fr.ip)
            return
        self.protect(sa, fr.ip)

    def refused(self, sa):
        nh = self.dep.next_hop(sa.remote)
        if nh is None:
            return True
        return sa.mode == "tunnel" and not nh[0].owns(sa.local)

    def end_burst(self):
        for spi, held in self.installing.items():
            self.state[spi] = "installed"
            for ip in held:
                self.stats["reinjected"] += 1
                self.protect(self.out_sas[spi], ip)
        self.installing = {}

    def protect(self, sa, ip):
        fr = Frame(b"\x00" * 12 + (b"\x08\x00" if ip[0] >> 4 == 4 else b"\x86\xdd") + ip)
        if fr.ttl <= 1:
            return self.drop("ttl_exceeded")
        if sa.mode == "tunnel" and _ip(fr.dst) == str(ipaddress.ip_address(sa.remote)):
            return self.drop("loop")
        nh = self.dep.next_hop(sa.remote)
        if nh is None:
            return self.drop("no_route")
        port = nh[0]
        fwd = expect.forwarded_l3(ip)
        pieces = [fwd]
        if sa.wire_len(fwd) > port.effective_mtu:
            if fr.version == 6 or fwd[6] & 0x40 or sa.mode != "tunnel":
                return self.drop("mtu_exceeded")
            pieces = outref.fragment4(fwd, outref.max_inner_ip(sa, port.effective_mtu))
        for piece in pieces:
            self.seq[sa.spi] += 1
            self.out[port.name].append(outref.emit(self.dep, sa, piece, self.seq[sa.spi],
                                                   forwarded=True))
            self.stats["encrypted"] += 1
            self.stats["tx"] += 1


def _ip(b):
    return str(ipaddress.ip_address(bytes(b)))


def _where(conf, msg):
    """PATH:LINE of the first quoted token of msg in the conf or policy."""
    import re
    m = re.search(r"'([^']+)'", msg)
    paths = [conf, os.path.join(os.path.dirname(os.path.abspath(conf)), "policy.yaml")]
    if m:
        for path in paths:
            try:
                for n, line in enumerate(open(path), 1):
                    if m.group(1) in line:
                        return "%s:%d" % (path, n)
            except OSError:
                pass
    return "%s:1" % conf


def main(argv):
    conf = stats = None
    check = False
    if "--" in argv:
        argv = argv[argv.index("--") + 1:]
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "-f":
            conf = argv[i + 1]
            i += 1
        elif a == "--stats-out":
            stats = argv[i + 1]
            i += 1
        elif a == "--exit-idle":
            i += 1
        elif a == "--check":
            check = True
        i += 1
    if not conf:
        print("usage: fake-spigate -f FILE", file=sys.stderr)
        return 2
    try:
        g = Fake(conf)
    except Exception as e:  # noqa: BLE001
        print("%s: %s" % (_where(conf, str(e)), e), file=sys.stderr)
        return 2
    if check:
        return 0
    g.run()
    print("fake-spigate: rx %d tx %d drops %s" % (g.stats["rx"], g.stats["tx"],
                                                    g.stats["drop"]), file=sys.stderr)
    if stats:
        with open(stats, "w") as f:
            json.dump(g.stats, f)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
