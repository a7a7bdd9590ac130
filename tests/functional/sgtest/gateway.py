"""Run spigate on a Deployment and collect what came out.

    res = run(dep, frames, workdir)          # frames: bytes, into wan0
    res.returncode, res.stats, res.frames, res.stderr

Interface assumed of the binary (CONTRACT.md):
    spigate -f WORKDIR/gateway.conf --exit-idle 500 --stats-out WORKDIR/stats.json
  * gateway.conf: eal (with a unique --file-prefix, net_pcap vdevs whose
    rx_pcap/tx_pcap are absolute paths in WORKDIR, the crypto vdev), ports,
    lcores, crypto, policy = "policy.yaml" (relative to the conf file),
    telemetry = false, control = WORKDIR/control.sock.
  * exits by itself 500 ms after the last packet, status 0, having written
    stats.json: {"rx": N, "tx": N, ..., "drop": {"reason": N, ...}}.
  * the tx pcap of lan0 holds every frame sent on lan0 (net_pcap writes it;
    it must be complete when the process has exited).
A run that has not exited after `timeout` seconds is terminated (SIGTERM,
then SIGKILL) and raises GatewayTimeout: the test fails, never hangs.
"""

import itertools
import json
import os
import shutil
import signal
import struct
import subprocess
import time

from scapy.utils import RawPcapReader
from scapy.layers.l2 import Ether

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
DEFAULT_TIMEOUT = 60
_counter = itertools.count()


def binary():
    """Path of the spigate binary: $SPIGATE_BIN or <repo>/build/app/spigate."""
    return os.environ.get("SPIGATE_BIN") or os.path.join(REPO, "build", "app", "spigate")


class GatewayError(AssertionError):
    pass


class GatewayTimeout(GatewayError):
    pass


class Stats(dict):
    """The stats.json reply; missing counters and drop reasons read as 0."""

    def get_count(self, name):
        v = self.get(name, 0)
        return int(v) if isinstance(v, (int, float)) else 0

    def drop(self, reason):
        d = self.get("drop") or {}
        return int(d.get(reason, 0))

    def drops(self):
        """Non-zero drop reasons."""
        d = self.get("drop") or {}
        return {k: int(v) for k, v in d.items() if int(v)}

    def drop_total(self):
        return sum(self.drops().values())


class Result:
    def __init__(self, workdir, cmd, returncode, stdout, stderr, stats, frames,
                 tx_pcap_missing, elapsed):
        self.workdir = workdir
        self.cmd = cmd
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr
        self.stats = stats
        self.frames = frames                # raw bytes, egress order (lan0)
        self.tx_pcap_missing = tx_pcap_missing
        self.elapsed = elapsed
        self.out = {}                       # port name -> frames (every tx pcap)
        self.missing_ports = []

    @property
    def packets(self):
        return [Ether(f) for f in self.frames]

    def describe(self, tail=40):
        """Context for failure messages."""
        err = "\n".join(self.stderr.splitlines()[-tail:])
        ports = ""
        if len(self.out) > 1:
            ports = " (%s)" % ", ".join("%s: %d" % (k, len(v)) for k, v in sorted(self.out.items()))
        return ("spigate run in %s (exit %s, %.1f s)\n  cmd: %s\n  stats: %s\n"
                "  egress frames: %d%s%s\n  stderr (last %d lines):\n%s"
                % (self.workdir, self.returncode, self.elapsed, " ".join(self.cmd),
                   json.dumps(self.stats, sort_keys=True), len(self.frames),
                   " (tx pcap not written)" if self.tx_pcap_missing else "", ports,
                   tail, "\n".join("    " + x for x in err.splitlines())))

    def assert_ok(self):
        if self.returncode != 0:
            raise GatewayError("spigate exited with status %s\n%s"
                               % (self.returncode, self.describe()))
        if self.stats is None:
            raise GatewayError("spigate wrote no stats file\n%s" % self.describe())

    def assert_counters(self, tx=None, rx=None, only_drops=None, **counters):
        """Check counters: tx/rx/decrypted/... exactly, and only_drops =
        {reason: n}: those drop counts exactly and every other reason 0."""
        self.assert_ok()
        problems = []
        s = self.stats
        for name, want in (("tx", tx), ("rx", rx)) + tuple(counters.items()):
            if want is not None and s.get_count(name) != want:
                problems.append("%s = %d, expected %d" % (name, s.get_count(name), want))
        if only_drops is not None:
            have = s.drops()
            for r, n in only_drops.items():
                if have.get(r, 0) != n:
                    problems.append("drop.%s = %d, expected %d" % (r, have.get(r, 0), n))
            for r, n in have.items():
                if r not in only_drops:
                    problems.append("drop.%s = %d, expected 0" % (r, n))
        if problems:
            raise AssertionError("counters: " + "; ".join(problems) + "\n" + self.describe())


def _runtime_dir(prefix):
    base = "/var/run/dpdk" if os.geteuid() == 0 else \
        os.path.join(os.environ.get("XDG_RUNTIME_DIR", "/tmp"), "dpdk")
    return os.path.join(base, prefix)


class Prepared:
    """What prepare_io() wrote: conf path, file prefix, and the pcaps by
    port name (rx: fed in, tx: captured); out_pcap is the egress port's."""

    def __init__(self, conf, prefix, rx, tx, ingress, egress, control=None):
        self.conf = conf
        self.control = control      # the control socket's path
        self.prefix = prefix
        self.rx = rx
        self.tx = tx
        self.ingress = ingress
        self.egress = egress
        self.out_pcap = tx.get(egress) if egress else None
        self.workdir = os.path.dirname(conf)


def prepare_io(dep, workdir, frames, file_prefix=None):
    """Write the input pcaps, gateway.conf and policy.yaml into workdir.

    frames: a list (bytes or scapy packets) fed into the ingress port, or a
    dict {port name: list}. Each port gets the pcaps its Port.io asks for
    (default: unprotected ports rx, protected ports tx): the ingress port's
    rx pcap is in.pcap, the egress port's tx pcap out.pcap, the others
    <name>.in.pcap / <name>.out.pcap."""
    os.makedirs(workdir, exist_ok=True)
    workdir = os.path.abspath(workdir)
    prefix = file_prefix or "sgt%d_%d_%d" % (os.getpid(), int(time.time() * 1000) % 100000,
                                              next(_counter))
    ingress, egress, io = dep.pcap_ports()
    if not isinstance(frames, dict):
        if ingress is None and frames:
            raise ValueError("frames given but no port has an rx pcap")
        frames = {ingress: frames} if ingress else {}
    rx, tx, pcaps = {}, {}, {}
    for p in dep.ports:
        want_rx, want_tx = io[p.name]
        pc = pcaps.setdefault(p.device, {})
        if want_rx:
            rx[p.name] = os.path.join(workdir, "in.pcap" if p.name == ingress
                                      else "%s.in.pcap" % p.name)
            write_pcap(rx[p.name], frames.get(p.name, []))
            pc["rx"] = rx[p.name]
        elif frames.get(p.name):
            raise ValueError("frames for port %s, which has no rx pcap" % p.name)
        if want_tx:
            tx[p.name] = os.path.join(workdir, "out.pcap" if p.name == egress
                                      else "%s.out.pcap" % p.name)
            if os.path.exists(tx[p.name]):
                os.unlink(tx[p.name])
            pc["tx"] = tx[p.name]
    control = os.path.join(workdir, "control.sock")
    if len(control) > 100:
        control = "/tmp/%s.sock" % prefix
    with open(os.path.join(workdir, "policy.yaml"), "w") as f:
        f.write(dep.policy_yaml())
    conf = os.path.join(workdir, "gateway.conf")
    with open(conf, "w") as f:
        f.write(dep.gateway_conf(dep.eal_args(prefix, pcaps), "policy.yaml", control))
    return Prepared(conf, prefix, rx, tx, ingress, egress, control)


def prepare(dep, workdir, frames, file_prefix=None):
    """Write in.pcap, gateway.conf and policy.yaml into workdir. Returns
    (conf path, out pcap path, file prefix)."""
    p = prepare_io(dep, workdir, frames, file_prefix)
    return p.conf, p.out_pcap, p.prefix


def write_pcap(path, frames):
    """Write frames (bytes or scapy packets) byte-exact into a pcap."""
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for k, fr in enumerate(frames):
            b = bytes(fr)
            ts = 1700000000 * 1000000 + k * 100
            f.write(struct.pack("<IIII", ts // 1000000, ts % 1000000, len(b), len(b)))
            f.write(b)
    return path


def read_pcap(path):
    """Raw frames of a pcap, in file order."""
    out = []
    r = RawPcapReader(path)
    try:
        for data, _meta in r:
            out.append(bytes(data))
    finally:
        r.close()
    return out


def run(dep, frames, workdir, exit_idle=500, timeout=DEFAULT_TIMEOUT,
        extra_args=(), bin_path=None):
    """frames: a list into the ingress port or {port name: list} (see
    prepare_io). Result.frames is the egress port's capture, Result.out
    {port name: frames} every captured port's."""
    pr = prepare_io(dep, workdir, frames)
    stats_path = os.path.join(pr.workdir, "stats.json")
    if os.path.exists(stats_path):
        os.unlink(stats_path)
    cmd = [bin_path or binary(), "-f", pr.conf, "--exit-idle", str(exit_idle),
           "--stats-out", stats_path] + list(extra_args)
    return execute(cmd, pr.workdir, stats_path, pr.out_pcap, pr.prefix, timeout,
                   tx_pcaps=pr.tx)


def execute(cmd, cwd, stats_path, out_pcap, prefix=None, timeout=DEFAULT_TIMEOUT,
            tx_pcaps=None):
    t0 = time.monotonic()
    with open(os.path.join(cwd, "spigate.stdout"), "w+b") as so, \
            open(os.path.join(cwd, "spigate.stderr"), "w+b") as se:
        try:
            proc = subprocess.Popen(cmd, cwd=cwd, stdout=so, stderr=se,
                                    stdin=subprocess.DEVNULL)
        except OSError as e:
            raise GatewayError("cannot run %s: %s" % (cmd[0], e))
        timed_out = False
        try:
            rc = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            proc.send_signal(signal.SIGTERM)
            try:
                rc = proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                rc = proc.wait()
        so.seek(0)
        se.seek(0)
        stdout = so.read().decode(errors="replace")
        stderr = se.read().decode(errors="replace")
    elapsed = time.monotonic() - t0
    stats = None
    if os.path.exists(stats_path):
        try:
            with open(stats_path) as f:
                stats = Stats(json.load(f))
        except ValueError as e:
            stderr += "\n[sgtest] stats file is not JSON: %s" % e
    out, missing_ports = {}, []
    for name, path in (tx_pcaps or {}).items():
        out[name] = []
        if not os.path.exists(path):
            missing_ports.append(name)
            continue
        try:
            out[name] = read_pcap(path)
        except Exception as e:      # noqa: BLE001 - truncated by a crash, etc.
            stderr += "\n[sgtest] cannot read %s: %s" % (path, e)
            missing_ports.append(name)
    missing = out_pcap is None or not os.path.exists(out_pcap)
    frames = []
    if not missing:
        try:
            frames = read_pcap(out_pcap)
        except Exception as e:      # noqa: BLE001 - truncated by a crash, etc.
            stderr += "\n[sgtest] cannot read %s: %s" % (out_pcap, e)
            missing = True
    if prefix:
        shutil.rmtree(_runtime_dir(prefix), ignore_errors=True)
    res = Result(cwd, cmd, rc, stdout, stderr, stats, frames, missing, elapsed)
    res.out = out
    res.missing_ports = missing_ports
    if timed_out:
        raise GatewayTimeout("spigate did not exit within %d s (--exit-idle not "
                             "honoured, or hung); killed.\n%s" % (timeout, res.describe()))
    return res


def check_config(dep, workdir, bin_path=None, timeout=30):
    """spigate --check -f conf on the deployment; returns (rc, stderr)."""
    conf, _, _ = prepare(dep, workdir, [])
    proc = subprocess.run([bin_path or binary(), "--check", "-f", conf],
                          cwd=os.path.dirname(conf), capture_output=True,
                          timeout=timeout)
    return proc.returncode, proc.stderr.decode(errors="replace")
