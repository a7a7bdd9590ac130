"""A deployment described in Python: ports, SAs, policies, routes,
neighbours, lcore layout and crypto mode. Writes the libconfig deployment
file and the YAML policy database of CONTRACT.md; loads them back (the demo
and the fake gateway read files written by hand); answers the routing
question the expected-output computation needs (longest prefix, neighbour
MAC).
"""

import ipaddress
import os

import yaml

from . import libconf
from .sa import SA, yaml_scalar


def _net(s):
    return ipaddress.ip_network(str(s), strict=False)


def _addr(s):
    return ipaddress.ip_address(str(s))


class Port:
    """One port. mtu: None leaves the key out (spigate's default, 1500).
    io: which pcaps the harness gives the port's net_pcap device: "rx"
    (frames are fed in), "tx" (what it sends is captured), "rxtx", "none"
    (not a pcap device: net_null, net_af_packet); None = the historical
    default: unprotected ports rx, protected ports tx.
    vdev_args: more "key=value" device arguments, after the pcaps
    ("infinite_rx=1", "no-rx=1", "iface=veth0")."""

    def __init__(self, name, device, role, mac, addresses, mtu=None, io=None,
                 vdev_args=()):
        self.name = name
        self.device = device
        self.role = role
        self.mac = mac.lower()
        self.addresses = list(addresses) if isinstance(addresses, (list, tuple)) \
            else [addresses]
        self.mtu = mtu
        self.io = io
        self.vdev_args = list(vdev_args)

    @property
    def effective_mtu(self):
        return self.mtu if self.mtu is not None else 1500

    def pcap_io(self):
        """(rx, tx) booleans for the harness."""
        io = self.io or ("rx" if self.role == "unprotected" else "tx")
        if io == "none":
            return False, False
        if io not in ("rx", "tx", "rxtx"):
            raise ValueError("port %s: io %r is not rx, tx, rxtx or none" % (self.name, io))
        return "rx" in io, "tx" in io

    def conf(self):
        d = {"name": self.name, "device": self.device, "role": self.role,
             "mac": self.mac}
        d["address"] = self.addresses[0] if len(self.addresses) == 1 else self.addresses
        if self.mtu is not None:
            d["mtu"] = self.mtu
        return d

    def owns(self, ip):
        ip = _addr(ip)
        return any(ipaddress.ip_interface(a).ip == ip for a in self.addresses)


class Policy:
    """One `policies:` item. src/dst are prefixes (CONTRACT.md shows no
    "any" for addresses: use 0.0.0.0/0 or ::/0); proto/sport/dport take
    "any"."""

    def __init__(self, direction, src, dst, proto="any",
                 sport="any", dport="any", action="protect", sa=None,
                 priority=100):
        self.direction = direction
        self.src = str(src)
        self.dst = str(dst)
        self.proto = proto
        self.sport = sport
        self.dport = dport
        self.action = action
        self.sa = sa
        self.priority = priority

    def yaml_lines(self):
        q = yaml_scalar
        lines = ["  - dir: %s" % self.direction,
                 "    src: %s" % q(self.src),
                 "    dst: %s" % q(self.dst),
                 "    proto: %s" % self.proto,
                 "    sport: %s" % self.sport,
                 "    dport: %s" % self.dport,
                 "    action: %s" % self.action]
        if self.sa is not None:
            lines.append("    sa: %#x" % self.sa)
        lines.append("    priority: %d" % self.priority)
        return lines

    # matching, for the expected-output computation and the fake gateway
    PROTOS = {"tcp": 6, "udp": 17, "icmp": 1, "icmp6": 58}

    def matches(self, src, dst, proto, sport=None, dport=None):
        def in_net(a, n):
            if n == "any":
                return True
            a, n = _addr(a), _net(n)
            return a.version == n.version and a in n

        def port_ok(p, spec):
            if spec in ("any", None):
                return True
            if p is None:
                return False
            spec = str(spec)
            if "-" in spec:
                lo, hi = spec.split("-")
                return int(lo) <= p <= int(hi)
            return p == int(spec)

        if not (in_net(src, self.src) and in_net(dst, self.dst)):
            return False
        if self.proto != "any":
            want = self.PROTOS.get(str(self.proto), None)
            if want is None:
                want = int(str(self.proto), 0)
            if proto != want:
                return False
        return port_ok(sport, self.sport) and port_ok(dport, self.dport)


class Route:
    def __init__(self, dst, port, via=None):
        self.dst = str(dst)
        self.port = port
        self.via = via

    def yaml_line(self):
        q = yaml_scalar
        s = "  - { dst: %s, port: %s" % (q(self.dst), self.port)
        if self.via:
            s += ", via: %s" % q(self.via)
        return s + " }"


class Neighbor:
    def __init__(self, ip, mac, port):
        self.ip = str(ip)
        self.mac = mac.lower()
        self.port = port

    def yaml_line(self):
        return '  - { ip: %s, mac: "%s", port: %s }' % (yaml_scalar(self.ip),
                                                        self.mac, self.port)


LAYOUTS = {
    # name: (lcores needed incl. main, cfe, dfe)
    "shared": (2, [1], [1]),     # CFE and DFE on lcore 1, CE on main lcore 0
    "split": (3, [1], [2]),      # CFE on 1, DFE on 2
    "two": (3, [1, 2], [1, 2]),  # a CFE and a DFE on each of 1 and 2
    "alone": (1, [0], [0]),      # the CE, the CFE and the DFE on lcore 0
}


def eal_lcores(n):
    """EAL arguments for lcores 0..n-1. Uses -l when the CPUs exist in our
    affinity mask, else --lcores to map the lcores onto the CPUs we have
    (a 2-CPU CI box can still run the 3-lcore layout)."""
    try:
        cpus = sorted(os.sched_getaffinity(0))
    except AttributeError:
        cpus = list(range(os.cpu_count() or 1))
    if all(i in cpus for i in range(n)):
        return ["-l", "0-%d" % (n - 1)]
    return ["--lcores", ",".join("%d@%d" % (i, cpus[i % len(cpus)]) for i in range(n))]


class Deployment:
    def __init__(self, ports=None, sas=None, policies=None, routes=None,
                 neighbors=None, layout="shared", crypto="cpu",
                 crypto_devices=("crypto_aesni_mb0",), telemetry=False):
        self.ports = list(ports or [])
        self.sas = list(sas or [])
        self.policies = list(policies or [])
        self.routes = list(routes or [])
        self.neighbors = list(neighbors or [])
        self.layout = layout
        self.crypto = crypto
        self.crypto_devices = list(crypto_devices)
        self.telemetry = telemetry
        self.control = None
        self.eal = None          # set by load(); write() builds its own
        self.extra = {}
        # The ports whose pcaps are in.pcap (frames given as a plain list go
        # there) and out.pcap (Result.frames). None: the first port with rx
        # (resp. tx) in the ports' order. Other ports with rx/tx get
        # <name>.in.pcap / <name>.out.pcap (see Port.io).
        self.ingress = None
        self.egress = None

    # -- building ---------------------------------------------------------
    def port(self, name):
        for p in self.ports:
            if p.name == name:
                return p
        raise KeyError(name)

    def add_sa(self, sa, policies=()):
        if any(x.spi == sa.spi and x.direction == sa.direction for x in self.sas):
            raise ValueError("duplicate SPI %#x" % sa.spi)
        self.sas.append(sa)
        self.policies.extend(policies)
        return sa

    def sa(self, spi):
        for s in self.sas:
            if s.spi == spi:
                return s
        raise KeyError("%#x" % spi)

    # -- files ------------------------------------------------------------
    def policy_yaml(self):
        out = ["# written by tests/functional/sgtest (CONTRACT.md format)", "sas:"]
        for sa in self.sas:
            out += sa.yaml_lines()
        if not self.sas:
            out[-1] = "sas: []"
        out.append("policies:" if self.policies else "policies: []")
        for p in self.policies:
            out += p.yaml_lines()
        out.append("routes:" if self.routes else "routes: []")
        out += [r.yaml_line() for r in self.routes]
        out.append("neighbors:" if self.neighbors else "neighbors: []")
        out += [n.yaml_line() for n in self.neighbors]
        return "\n".join(out) + "\n"

    def eal_args(self, file_prefix, pcaps):
        """pcaps: {device: {"rx": path or None, "tx": path or None}}"""
        n = LAYOUTS[self.layout][0]
        args = eal_lcores(n) + ["--no-huge", "-m", "1024", "--no-pci",
                                "--file-prefix", file_prefix]
        for p in self.ports:
            kv = [p.device]
            pc = pcaps.get(p.device, {})
            if pc.get("rx"):
                kv.append("rx_pcap=" + pc["rx"])
            if pc.get("tx"):
                kv.append("tx_pcap=" + pc["tx"])
            kv += getattr(p, "vdev_args", [])
            args += ["--vdev", ",".join(kv)]
        for d in self.crypto_devices:
            args += ["--vdev", d]
        return args

    def gateway_conf(self, eal, policy_file="policy.yaml", control=None):
        _, cfe, dfe = LAYOUTS[self.layout]
        s = {"eal": eal,
             "ports": [p.conf() for p in self.ports],
             "lcores": {"cfe": cfe, "dfe": dfe, "ce": 0},
             "crypto": {"mode": self.crypto, "devices": self.crypto_devices},
             "policy": policy_file,
             "telemetry": self.telemetry}
        if control:
            s["control"] = control
        s.update(self.extra)
        head = "# written by tests/functional/sgtest (CONTRACT.md format)\n"
        return head + libconf.dumps(s)

    # -- loading (files written by hand: the demo) ---------------------------
    @classmethod
    def load(cls, conf_path, rng=None):
        c = libconf.load(conf_path)
        d = cls()
        d.eal = list(c.get("eal", []))
        for p in c.get("ports", []):
            d.ports.append(Port(p["name"], p["device"], p.get("role", "protected"),
                                p.get("mac", "00:00:00:00:00:00"), p.get("address", []),
                                mtu=p.get("mtu")))
        lc = c.get("lcores", {})
        d.lcores = lc
        cr = c.get("crypto", {})
        d.crypto = cr.get("mode", "cpu")
        d.crypto_devices = list(cr.get("devices", []))
        d.telemetry = c.get("telemetry", False)
        d.control = c.get("control")
        pol = c.get("policy")
        if pol:
            path = pol if os.path.isabs(pol) else os.path.join(
                os.path.dirname(os.path.abspath(conf_path)), pol)
            d.load_policy(path, rng=rng)
        return d

    def load_policy(self, path, rng=None):
        with open(path) as f:
            db = yaml.load(f, Loader=yaml.BaseLoader) or {}
        for s in db.get("sas", []) or []:
            self.sas.append(SA.from_yaml(s, rng=rng))
        for p in db.get("policies", []) or []:
            sa = p.get("sa")
            self.policies.append(Policy(
                direction=p.get("dir", "in"), src=p.get("src", "any"),
                dst=p.get("dst", "any"), proto=p.get("proto", "any"),
                sport=p.get("sport", "any"), dport=p.get("dport", "any"),
                action=p.get("action", "protect"),
                sa=int(sa, 0) if sa is not None else None,
                priority=int(p.get("priority", "0"), 0)))
        for r in db.get("routes", []) or []:
            self.routes.append(Route(r["dst"], r["port"], r.get("via")))
        for n in db.get("neighbors", []) or []:
            self.neighbors.append(Neighbor(n["ip"], n["mac"], n["port"]))

    # -- forwarding oracle --------------------------------------------------
    def route(self, dst):
        """Longest-prefix route for dst, or None."""
        a = _addr(dst)
        best = None
        for r in self.routes:
            n = _net(r.dst)
            if n.version == a.version and a in n:
                if best is None or n.prefixlen > _net(best.dst).prefixlen:
                    best = r
        return best

    def next_hop(self, dst):
        """(egress Port, next-hop MAC) for dst, or None when unroutable."""
        r = self.route(dst)
        if r is None:
            return None
        nh = _addr(r.via) if r.via else _addr(dst)
        for n in self.neighbors:
            if _addr(n.ip) == nh and n.port == r.port:
                return self.port(r.port), n.mac
        return None

    def pcap_ports(self):
        """(ingress port name, egress port name, {name: (rx, tx)})."""
        io = {p.name: p.pcap_io() for p in self.ports}
        ing = self.ingress or next((p.name for p in self.ports if io[p.name][0]), None)
        eg = self.egress or next((p.name for p in self.ports if io[p.name][1]), None)
        for role, name, k in (("ingress", ing, 0), ("egress", eg, 1)):
            if name is not None and not io[name][k]:
                raise ValueError("%s port %s has no %s pcap" % (role, name, "rx tx".split()[k]))
        return ing, eg, io

    def outbound_policy(self, src, dst, proto, sport=None, dport=None):
        """The dir: out policy deciding a clear packet from the protected
        side: highest priority first, ties in file order (the first that
        matches decides); None = default deny. Protocols without ports
        (all but TCP, UDP, SCTP) match as ports 0 and 0
        (docs/configuration.md)."""
        if proto not in (6, 17, 132):
            sport = dport = 0
        return self._spd("out", src, dst, proto, sport, dport)

    def _spd(self, direction, src, dst, proto, sport, dport):
        best = None
        for p in self.policies:
            if p.direction != direction or not p.matches(src, dst, proto, sport, dport):
                continue
            if best is None or p.priority > best.priority:
                best = p
        return best

    def inbound_policy(self, src, dst, proto, sport=None, dport=None):
        """The highest-priority inbound policy matching, or None."""
        best = None
        for p in self.policies:
            if p.direction != "in":
                continue
            if p.matches(src, dst, proto, sport, dport):
                if best is None or p.priority > best.priority:
                    best = p
        return best
