"""Traffic over time, for runs where things change while packets flow.

A pcap is read once, at full speed. For constant traffic the net_pcap
device replays its rx pcap from memory forever (infinite_rx=1) and the
other side is net_null (no-rx=1: it receives nothing; what it sends is
discarded). Such a run is judged by counters (stats, sa-show), never by
captures:

    sc = OutScenario(dep=topo.out_deployment(lan_tx=False))
    steady.infinite_out(sc.dep)        # lan0 replays in.pcap forever
    sc = Scenario(); steady.infinite_in(sc.dep)   # wan0 replays forever
    (inbound SAs need replay_window: 0, replays being accepted then)

Frames injected at a chosen moment: VethNS, a network namespace holding a
veth pair; spigate runs inside it (live.Live(..., netns=ns.name)) with
net_af_packet on one end, and the test writes frames into the other end.
The namespace has no addresses and IPv6 is off in it, so the kernel sends
nothing into the gateway by itself.
"""

import os
import subprocess
import tempfile

from . import gateway


def infinite_out(dep):
    """lan0 replays its rx pcap forever; wan0 is net_null (sends to
    nowhere, receives nothing)."""
    lan, wan = dep.port("lan0"), dep.port("wan0")
    lan.io = "rx"
    lan.vdev_args = ["infinite_rx=1"]
    wan.device, wan.io, wan.vdev_args = "net_null0", "none", ["no-rx=1"]
    dep.ingress, dep.egress = "lan0", None
    return dep


def infinite_in(dep):
    """wan0 replays its rx pcap forever; lan0 is net_null."""
    lan, wan = dep.port("lan0"), dep.port("wan0")
    wan.io = "rx"
    wan.vdev_args = ["infinite_rx=1"]
    lan.device, lan.io, lan.vdev_args = "net_null1", "none", ["no-rx=1"]
    dep.ingress, dep.egress = "wan0", None
    return dep


def af_packet(dep, port, iface):
    """Port `port` becomes net_af_packet on iface (in the namespace the
    gateway runs in)."""
    p = dep.port(port)
    idx = [q.name for q in dep.ports].index(port)
    p.device, p.io, p.vdev_args = "net_af_packet%d" % idx, "none", ["iface=" + iface]
    return dep


_SENDER = r"""
import socket, struct, sys
iface, path = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((iface, 0))
with open(path, "rb") as f:
    f.read(24)
    n = 0
    while True:
        h = f.read(16)
        if len(h) < 16:
            break
        _, _, incl, _ = struct.unpack("<IIII", h)
        s.send(f.read(incl))
        n += 1
print(n)
"""


class VethNS:
    """ip netns NAME with a veth pair: `inner` (the gateway's, net_af_packet)
    and `outer` (the test's end)."""

    def __init__(self, name, inner="sgA", outer="sgB"):
        self.name = name
        self.inner = inner
        self.outer = outer
        # a namespace of that name left by a killed run goes first
        subprocess.run(["ip", "netns", "del", name], capture_output=True, timeout=30)
        self._run("ip", "netns", "add", name)
        try:
            for k in ("all", "default"):
                self.exec("sysctl", "-q", "-w", "net.ipv6.conf.%s.disable_ipv6=1" % k)
            self.exec("ip", "link", "add", "name", inner, "type", "veth", "peer",
                      "name", outer)
            for i in (inner, outer):
                self.exec("sysctl", "-q", "-w", "net.ipv6.conf.%s.disable_ipv6=1" % i)
                self.exec("ip", "link", "set", i, "up")
        except Exception:
            self.close()
            raise

    @staticmethod
    def _run(*cmd):
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
        if p.returncode != 0:
            raise AssertionError("%s: exit %d: %s" % (" ".join(cmd), p.returncode,
                                                      p.stderr.strip()))
        return p.stdout

    def exec(self, *cmd):
        return self._run("ip", "netns", "exec", self.name, *cmd)

    def send(self, frames):
        """Write frames (bytes or scapy) into the outer end, in order;
        returns when they are sent."""
        fd, path = tempfile.mkstemp(suffix=".pcap")
        os.close(fd)
        try:
            gateway.write_pcap(path, frames)
            out = self.exec("/usr/bin/python3", "-c", _SENDER, self.outer, path)
        finally:
            os.unlink(path)
        n = int(out.strip())
        if n != len(frames):
            raise AssertionError("sent %d of %d frames" % (n, len(frames)))
        return n

    def link_stats(self, iface=None):
        """{rx_packets, tx_packets, ...} of an interface in the namespace."""
        iface = iface or self.outer
        base = "/sys/class/net/%s/statistics/" % iface
        out = self.exec("sh", "-c", "cd %s && grep . *" % base)
        return {ln.split(":")[0]: int(ln.split(":")[1]) for ln in out.split()}

    def close(self):
        subprocess.run(["ip", "netns", "del", self.name], capture_output=True, timeout=30)
