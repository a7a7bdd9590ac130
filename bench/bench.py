#!/usr/bin/python3
"""spigate's benchmark: `make bench` (full) and `make bench QUICK=1`.

    bench/bench.py [--build build] [--quick] [--reps N] [--rows PATTERN]
                   [--no-extras] [--no-docs] [--results DIR]

Runs spigate and DPDK's ipsec-secgw (the peer, built by bench/peer/build.sh)
alternately on the same captures, CPUs and lcore counts, measures the rig
limit (dpdk-test-crypto-perf + dpdk-testpmd io forwarding) in the same run,
then the lazy-install rate, the first-packet latency of a new SA and the
memory with many configured SAs. Writes bench/results/{quick,full}/ (CSV,
markdown, PNG charts, the exact commands, the machine) and the matching
block of docs/PERFORMANCE.md. Method: docs/PERFORMANCE.md.

The bench is not part of `make test` and asserts no timing.
"""

import argparse
import atexit
import csv
import datetime
import itertools
import json
import math
import os
import re
import shutil
import signal
import statistics
import struct
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)

import gen_traffic as gt  # noqa: E402
import gen_outbound as go  # noqa: E402
from lib_run import (BenchError, Proc, Telemetry, kill_all, cpu_jiffies,  # noqa: E402
                     self_jiffies, CLK_TCK)

WORK = os.path.join(HERE, "build")             # gitignored: captures, configs, logs
TESTPMD = "dpdk-testpmd"
CRYPTOPERF = "dpdk-test-crypto-perf"
EAL_COMMON = ["--no-huge", "--no-pci"]
# --huge: every process (spigate, the peer, testpmd, crypto-perf) on 2 MB
# hugepages instead; the pages are unlinked when each process exits
EAL_HUGE = ["--huge-unlink", "--no-pci"]

# lcore -> CPU maps (docs/PERFORMANCE.md, "CPUs and lcores")
MAP = {
    # spigate: CE alone on CPU 0 (main lcore 0), CFE+DFE lcore 1 on CPU 1
    ("spigate", 1): ("0@0,1@1", [1], [1]),
    # spigate, one SA: CE + CFE on lcore 0 (CPU 0), DFE on lcore 1 (CPU 1).
    # An SA is owned by one DFE, so a single SA cannot use two DFEs.
    ("spigate", 2): ("0@0,1@1", [0], [1]),
    # spigate, many SAs: CFE + DFE on both lcores (the CE shares lcore 0),
    # one RX queue each, as the peer gets
    ("spigate", "2many"): ("0@0,1@1", [0, 1], [0, 1]),
    # ipsec-secgw: one worker = its main lcore 1 on CPU 1 (CPU 0 left idle)
    ("peer", 1): ("1@1", None, None),
    # ipsec-secgw: two workers, lcore 0 (main) on CPU 0, lcore 1 on CPU 1
    ("peer", 2): ("0@0,1@1", None, None),
}


def spigate_map(workers, nsas):
    """(--lcores, cfe lcores, dfe lcores) of spigate for a row."""
    if workers == 2 and nsas > 1:
        return MAP[("spigate", "2many")]
    return MAP[("spigate", workers)]


T0 = time.monotonic()
COMMANDS = {}        # kind -> one example argv, for the docs
_uniq = itertools.count()


def log(msg):
    el = int(time.monotonic() - T0)
    print("[%02d:%02d:%02d] %s" % (el // 3600, el // 60 % 60, el % 60, msg), flush=True)


def uniq(kind):
    return "sgb%d-%s%d" % (os.getpid(), kind, next(_uniq))


def median(v):
    v = [x for x in v if x is not None]
    return statistics.median(v) if v else None


def fmt(x, nd=2):
    if x is None:
        return "-"
    if isinstance(x, float) and math.isnan(x):
        return "-"
    return ("%%.%df" % nd) % x


def quote(argv):
    import shlex
    return " ".join(shlex.quote(a) for a in argv)


# ------------------------------------------------------------------ rows

class Row:
    """One row of the matrix. steer (two workers, many SAs only): each RX
    queue replays the packets of its own half of the SAs, as from a NIC that
    puts each SA's packets on one queue (RSS on the ESP SPI inbound; on the
    inner addresses outbound, where each of the bench's SAs has one address
    pair), spigate installing the SAs lazily with lcores.sa_placement = "rx"
    so that each SA lives on the lcore whose queue receives it; otherwise
    each queue replays the whole capture, and half of each queue's packets
    belong to the other lcore's SAs (docs/PERFORMANCE.md, CPUs and lcores).
    None is the direction's default: steered inbound (since step 23), the
    whole capture outbound; a row that is not the default says so in its
    id (-steered, -spread)."""

    def __init__(self, alg, size, sas, mode, workers, direction="in", steer=None):
        self.dir, self.alg, self.size, self.sas = direction, alg, str(size), int(sas)
        self.mode, self.workers = mode, int(workers)
        self.default_steer = direction == "in"
        self.steer = self.default_steer if steer is None else bool(steer)
        self.queues_known = True

    @property
    def steered(self):
        return self.workers == 2 and self.sas > 1 and self.steer

    @property
    def variant(self):
        """'' for the default, else 'steered' or 'spread'."""
        if self.workers != 2 or self.sas == 1 or self.steer == self.default_steer:
            return ""
        return "steered" if self.steer else "spread"

    @property
    def id(self):
        return "%s-%s-%s-%dsa-%s-%dw%s" % (self.dir, self.alg, self.size, self.sas, self.mode,
                                          self.workers, "-" + self.variant if self.variant
                                          else "")

    def label(self):
        size = "IMIX" if self.size == "imix" else self.size + "B"
        return "%s %s %s %dSA %s %dw%s" % (self.dir, self.alg, size, self.sas, self.mode,
                                           self.workers, " " + self.variant if self.variant
                                           else "")

    def rx_queues(self):
        """What each RX queue replays, for the tables ('' with one worker
        or one SA)."""
        if self.workers != 2 or self.sas == 1 or not self.queues_known:
            return ""
        return "its half of the SAs" if self.steer else "the whole capture"


def row_matrix(quick):
    R = []
    if quick:
        R += [Row("gcm128", s, 1, "cpu", 1) for s in ("64", "1420")]
        R += [Row("gcm128", "64", 1, "lookaside", 1)]
        R += [Row("gcm128", "64", 1, "cpu", 2)]
        R += [Row("gcm128", "64", n, "cpu", 1) for n in (1000, 100000)]
        R += [Row("gcm128", "64", 1000, "cpu", 2)]
        R += [Row("cbc128-sha256", "64", n, "cpu", 1) for n in (1, 1000)]
        R += [Row("gcm256", "imix", 1, "cpu", 1)]
        R += [Row("gcm128", "64", n, "cpu", 1, "out") for n in (1, 1000)]
        R += [Row("gcm128", "64", 1000, "cpu", 2, "out", steer=st) for st in (False, True)]
        R += [Row("gcm128", "64", 1, "lookaside", 1, "out")]
        R += [Row("cbc128-sha256", "64", 1, "cpu", 1, "out")]
        return R
    for mode in ("cpu", "lookaside"):
        for alg in gt.ALGS:
            for s in gt.SIZES:                                   # throughput vs size
                R.append(Row(alg, s, 1, mode, 1))
            for n in (1000, 100000):                             # vs SA count
                R.append(Row(alg, "64", n, mode, 1))
        for alg in gt.ALGS:                                      # two workers
            for s in ("64", "1420"):
                R.append(Row(alg, s, 1, mode, 2))
        for n in (1000, 100000):
            R.append(Row("gcm128", "64", n, mode, 2))
    for mode in ("cpu", "lookaside"):                            # outbound, one worker
        for alg in gt.ALGS:
            for s in gt.SIZES:
                R.append(Row(alg, s, 1, mode, 1, "out"))
            R.append(Row(alg, "64", 1000, mode, 1, "out"))
        for alg in gt.ALGS:                                      # outbound, two workers
            for s in ("64", "1420"):
                R.append(Row(alg, s, 1, mode, 2, "out"))
        for st in (False, True):
            R.append(Row("gcm128", "64", 1000, mode, 2, "out", steer=st))
    return R


# ------------------------------------------------------------------ traffic

def traffic(alg, size, nsas, direction="in"):
    """(pcap path, packet count); generated once, regenerated when the
    generator changes. Outbound captures are clear traffic, the same for
    every algorithm."""
    d = os.path.join(WORK, "traffic")
    os.makedirs(d, exist_ok=True)
    count = gt.default_count(size, nsas)
    if direction == "out":
        path = os.path.join(d, "out-%s-%d.pcap" % (size, nsas))
        gen = os.path.join(HERE, "gen_outbound.py")
        if not os.path.exists(path) or os.path.getmtime(path) < os.path.getmtime(gen):
            gt.write_pcap(path, go.build_frames(size, nsas, count))
            log("  generated %s (%d frames)" % (os.path.relpath(path, ROOT), count))
        return path, count
    path = os.path.join(d, "%s-%s-%d.pcap" % (alg, size, nsas))
    gen = os.path.join(HERE, "gen_traffic.py")
    if not os.path.exists(path) or os.path.getmtime(path) < os.path.getmtime(gen):
        t = time.monotonic()
        frames = gt.build_frames(alg, size, nsas, count)
        gt.verify(alg, frames, nsas)
        gt.write_pcap(path, frames)
        log("  generated %s (%d frames, %.1f s)" % (os.path.relpath(path, ROOT), count,
                                                     time.monotonic() - t))
    return path, count


def queue_captures(alg, size, nsas, nq, direction="in"):
    """The capture split over nq RX queues by SA, SA i's packets all on
    queue i % nq, in their order: inbound by SPI (SPI_BASE + i), outbound by
    inner destination (10.0.0.1 + i). Written next to the capture, again
    when it is newer."""
    pcap, count = traffic(alg, size, nsas, direction)
    paths = [pcap[:-len(".pcap")] + ".q%dof%d.pcap" % (q, nq) for q in range(nq)]
    if all(os.path.exists(x) and os.path.getmtime(x) >= os.path.getmtime(pcap) for x in paths):
        return paths
    per = [[] for _ in range(nq)]
    for fr in go.read_pcap(pcap):
        # Ethernet, IPv4 without options, then ESP (inbound) or the clear
        # packet whose destination names the SA (outbound): the generators'
        # frames
        if fr[12:14] != b"\x08\x00" or fr[14] != 0x45:
            raise BenchError("%s: a frame that is not IPv4 without options" % pcap)
        if direction == "in":
            if fr[23] != 50:
                raise BenchError("%s: a frame that is not ESP" % pcap)
            i = struct.unpack("!I", fr[34:38])[0] - gt.SPI_BASE
        else:
            i = struct.unpack("!I", fr[30:34])[0] - gt.INNER_NET
        if not 0 <= i < nsas:
            raise BenchError("%s: a frame of no SA of the bench" % pcap)
        per[i % nq].append(fr)
    for x, frames in zip(paths, per):
        gt.write_pcap(x, frames)
    log("  split %s over %d queues by SA (%s frames)"
        % (os.path.relpath(pcap, ROOT), nq, "/".join(str(len(f)) for f in per)))
    return paths


def cached_text(name, fn, gen="gen_traffic.py"):
    d = os.path.join(WORK, "conf")
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, name)
    gen = os.path.join(HERE, gen)
    if not os.path.exists(path) or os.path.getmtime(path) < os.path.getmtime(gen):
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            f.write(fn())
        os.replace(tmp, path)
    return path


def spigate_policy_file(alg, nsas, install="eager", direction="in"):
    if direction == "out":
        return cached_text("spigate-out-%s-%d%s.yaml" % (alg, nsas,
                                                         "" if install == "eager" else "-" + install),
                           lambda: go.spigate_policy(alg, nsas, install), "gen_outbound.py")
    return cached_text("spigate-%s-%d-%s.yaml" % (alg, nsas, install),
                       lambda: gt.spigate_policy(alg, nsas, install))


def peer_cfg_file(alg, nsas, sa_type, direction="in"):
    if direction == "out":
        return cached_text("peer-out-%s-%d-%s.cfg" % (alg, nsas, sa_type or "lookaside-none"),
                           lambda: go.peer_cfg(alg, nsas, sa_type), "gen_outbound.py")
    return cached_text("peer-%s-%d-%s.cfg" % (alg, nsas, sa_type or "lookaside-none"),
                       lambda: gt.peer_cfg(alg, nsas, sa_type))


def mem_mb(mbufs, nsas=0):
    # mbufs of 2,176 B data room + headers; crypto sessions and tables per SA,
    # and the direct GCM path's key block of each installed SA (1.2 KB)
    return max(1024, int(math.ceil((mbufs * 2600 + nsas * 9500) / 2 ** 20)) + 512)


def huge_check(need_mb):
    """Why a --huge run cannot start (None if it can): free 2 MB pages for
    the largest process, and a mounted hugetlbfs."""
    info = {}
    with open("/proc/meminfo") as f:
        for line in f:
            k, v = line.split(":", 1)
            info[k] = int(v.split()[0])
    free_mb = info.get("HugePages_Free", 0) * info.get("Hugepagesize", 0) // 1024
    with open("/proc/mounts") as f:
        mounted = any(line.split()[2] == "hugetlbfs" for line in f)
    if not mounted:
        return "no hugetlbfs mounted (mount -t hugetlbfs nodev /dev/hugepages)"
    if free_mb < need_mb:
        return ("%d MB of hugepages free, a row needs %d MB "
                "(echo %d > /proc/sys/vm/nr_hugepages)"
                % (free_mb, need_mb, (need_mb + 1) // 2 + 64))
    return None


def round_up(n, k):
    return (n + k - 1) // k * k


# ------------------------------------------------------------------ one measurement

class Window:
    """Counters before and after a fixed window, with the CPU time of
    everything else on the box (foreign load) and the hypervisor's steal."""

    def __init__(self, procs):
        self.procs = procs

    def snap(self, sample):
        busy, steal = cpu_jiffies()
        return {"t": time.monotonic(), "busy": busy, "steal": steal, "self": self_jiffies(),
                "procs": sum(p.jiffies() for p in self.procs), "sample": sample()}

    def measure(self, sample, warm, window):
        time.sleep(warm)
        a = self.snap(sample)
        time.sleep(window)
        b = self.snap(sample)
        dt = b["t"] - a["t"]
        foreign = ((b["busy"] - a["busy"]) - (b["procs"] - a["procs"])
                   - (b["self"] - a["self"])) / CLK_TCK / dt
        steal = (b["steal"] - a["steal"]) / CLK_TCK / dt
        return a, b, dt, max(0.0, foreign), steal


def wait_for(pred, proc, timeout, what):
    deadline = time.monotonic() + timeout
    while True:
        if not proc.alive():
            raise BenchError("%s exited (status %s) %s:\n%s" % (proc.name, proc.p.returncode,
                                                                what, proc.log_tail()))
        try:
            if pred():
                return
        except (OSError, ValueError, TypeError, KeyError):
            pass
        if time.monotonic() > deadline:
            raise BenchError("%s: timeout (%.0f s) %s" % (proc.name, timeout, what))
        time.sleep(0.05)


def xcore_probe():
    """Cycles of a cache line's round trip between CPU 0 and CPU 1
    (bench/xcore.c, built on first use), None if it cannot be run."""
    src = os.path.join(HERE, "xcore.c")
    exe = os.path.join(WORK, "xcore")
    try:
        if not os.path.exists(exe) or os.path.getmtime(exe) < os.path.getmtime(src):
            os.makedirs(WORK, exist_ok=True)
            subprocess.run(["cc", "-O2", "-pthread", "-o", exe, src], check=True,
                           capture_output=True, timeout=60)
        out = subprocess.run([exe], capture_output=True, text=True, timeout=30, check=True)
        return float(out.stdout.split()[0])
    except (OSError, subprocess.SubprocessError, ValueError, IndexError):
        return None


def start_timeout(nsas):
    # generous: 100,000 SAs start in about 6 s today (the quick run's memory
    # extras), 1,000,000 in about 70 s; the loader was once quadratic
    return 60 + nsas / 500.0 + (nsas / 30000.0) ** 2


class Bench:
    def __init__(self, a):
        self.a = a
        self.quick = a.quick
        self.warm = 1.0 if a.quick else 2.0
        self.window = 2.0 if a.quick else 4.0
        self.spigate = os.path.join(a.build if os.path.isabs(a.build)
                                    else os.path.join(ROOT, a.build), "app", "spigate")
        self.rundir = os.path.join(WORK, "run")
        os.makedirs(self.rundir, exist_ok=True)
        self.tsc_samples = []
        # other work on this box (a build, a test suite) skews a measurement:
        # wait for a quiet box before each one, within a budget for the run
        self.quiet_budget = 120.0 if a.quick else 3600.0
        self.quiet_waited = 0.0
        self.disturbed = 0
        self.out_checked = {}

    def wait_quiet(self, limit=0.10, max_wait=60.0):
        """Wait until the other processes of the box use less than `limit`
        CPU over half a second. Returns the seconds waited."""
        t0 = time.monotonic()
        max_wait = min(max_wait, max(0.0, self.quiet_budget - self.quiet_waited))
        while True:
            b0, _ = cpu_jiffies()
            s0 = self_jiffies()
            time.sleep(0.5)
            b1, _ = cpu_jiffies()
            load = ((b1 - b0) - (self_jiffies() - s0)) / CLK_TCK / 0.5
            waited = time.monotonic() - t0
            if load < limit or waited >= max_wait:
                self.quiet_waited += waited
                if waited > 5:
                    log("  waited %.0f s for other work on the box to stop (load %.2f CPU)"
                        % (waited, load))
                return waited

    def measured(self, fn, *args):
        """fn(*args) on a quiet box; again (twice at most) when other work
        ran during its window."""
        for attempt in range(3):
            self.wait_quiet()
            r = fn(*args)
            if (r.get("foreign") or 0) < 0.15 or self.quiet_waited >= self.quiet_budget:
                break
            log("  foreign load %.2f CPU during the window: measuring again" % r["foreign"])
        if (r.get("foreign") or 0) >= 0.15:
            self.disturbed += 1
        return r

    # -------- spigate
    def spigate_conf(self, prefix, pcap, count, nsas, alg, mode, workers, install="eager",
                     extra="", rx_vdev=None, tx_vdev=None, mbufs=None, policy=None,
                     direction="in", placement=None):
        """Inbound: the capture arrives on wan0 (unprotected), lan0 sends to
        net_null. Outbound: the capture arrives on lan0 (protected), wan0
        sends the ESP to net_null (or where tx_vdev says)."""
        lc, cfe, dfe = spigate_map(workers, nsas)
        # one RX queue per CFE: net_pcap gives a queue per rx_pcap, each
        # replaying its own copy of the capture (the peer's 2-worker setup)
        nq = len(cfe)
        mbufs = mbufs or round_up(count * nq + 32768, 1024)
        rx = rx_vdev or "net_pcap0,%s,infinite_rx=1" % ",".join(["rx_pcap=%s" % pcap] * nq)
        tx = tx_vdev or "net_null0,no-rx=1"
        eal = ["--lcores", lc, "-m", str(mem_mb(mbufs, nsas))] + EAL_COMMON + [
            "--file-prefix", prefix, "--vdev", rx, "--vdev", tx, "--vdev", "crypto_aesni_mb0"]
        policy = policy or spigate_policy_file(alg, nsas, install, direction)
        wan, lan = (rx, tx) if direction == "in" else (tx, rx)
        d = os.path.join(self.rundir, prefix)
        os.makedirs(d, exist_ok=True)
        conf = os.path.join(d, "gateway.conf")
        with open(conf, "w") as f:
            f.write("# generated by bench/bench.py\n")
            f.write("eal = [ %s ];\n" % ", ".join('"%s"' % x for x in eal))
            f.write('ports = (\n'
                    '  { name = "wan0"; device = "%s"; role = "unprotected";\n'
                    '    mac = "%s"; address = "%s/24"; },\n'
                    '  { name = "lan0"; device = "%s"; role = "protected";\n'
                    '    mac = "%s"; address = "192.168.105.1/24"; }\n);\n'
                    % (wan.split(",")[0], gt.GW_MAC, gt.OUTER_DST, lan.split(",")[0], gt.LAN_MAC))
            f.write("lcores = { cfe = [ %s ]; dfe = [ %s ]; ce = 0;%s };\n"
                    % (", ".join(map(str, cfe)), ", ".join(map(str, dfe)),
                       ' sa_placement = "%s";' % placement if placement else ""))
            f.write('crypto = { mode = "%s"; devices = [ "crypto_aesni_mb0" ]; };\n' % mode)
            f.write('policy = "%s";\ntelemetry = true;\nmbufs = %d;\n%s' % (policy, mbufs, extra))
        return conf

    def check_outbound(self, row):
        """Before an outbound row is trusted: spigate on the row's capture
        (replayed once, not in a loop), wan0 written to a pcap. Every packet
        must come out, as ESP that scapy decrypts to the packet sent."""
        key = (row.alg, row.size, row.sas, row.mode)
        if key in self.out_checked:
            return self.out_checked[key]
        pcap, count = traffic(row.alg, row.size, row.sas, "out")
        prefix = uniq("sgchk")
        d = os.path.join(self.rundir, prefix)
        os.makedirs(d, exist_ok=True)
        outp = os.path.join(d, "wan0.pcap")
        conf = self.spigate_conf(prefix, pcap, count, row.sas, row.alg, row.mode, 1,
                                 rx_vdev="net_pcap0,rx_pcap=%s" % pcap,
                                 tx_vdev="net_pcap1,tx_pcap=%s" % outp, direction="out")
        stats = os.path.join(d, "stats.json")
        argv = [self.spigate, "-f", conf, "--exit-idle", "500", "--stats-out", stats]
        p = Proc("spigate", argv, prefix, os.path.join(d, "log"))
        try:
            p.p.wait(start_timeout(row.sas) + 60)
        except subprocess.TimeoutExpired:
            pass
        p.stop()
        frames = go.read_pcap(outp)
        with open(stats) as f:
            st = json.load(f)
        sample = frames[:8] + frames[len(frames) // 2:len(frames) // 2 + 8]
        bad = go.check_esp(row.alg, row.size, row.sas, sample, len(sample))
        if len(frames) != count or st.get("encrypted") != count:
            bad.append("%d packets in, %d encrypted, %d frames out"
                       % (count, st.get("encrypted", 0), len(frames)))
        r = {"frames": len(frames), "sent": count, "checked": len(sample), "problems": bad}
        log("  outbound check %s: %d of %d packets out as ESP, %d decrypted by scapy%s"
            % (row.label(), len(frames), count, len(sample),
               (": " + "; ".join(bad[:3])) if bad else ", all as sent"))
        self.out_checked[key] = r
        return r

    def run_spigate(self, row):
        if row.dir == "out":
            chk = self.check_outbound(row)
            if chk["problems"]:
                raise BenchError("outbound output is not the ESP expected: %s"
                                 % "; ".join(chk["problems"][:3]))
        pcap, count = traffic(row.alg, row.size, row.sas, row.dir)
        prefix = uniq("sg")
        kw = {}
        if row.steered:
            kw = {"rx_vdev": "net_pcap0,%s,infinite_rx=1" % ",".join(
                      "rx_pcap=%s" % x for x in queue_captures(row.alg, row.size, row.sas, 2,
                                                               row.dir)),
                  "install": "lazy", "placement": "rx",
                  "extra": "punt = { rate = 2000000; burst = 65536; };\n"}
        conf = self.spigate_conf(prefix, pcap, count, row.sas, row.alg, row.mode, row.workers,
                                 direction=row.dir, **kw)
        argv = [self.spigate, "-f", conf]
        COMMANDS.setdefault("spigate %dw %s%s" % (row.workers, row.dir,
                                                   " steered" if row.steered else ""),
                            (argv, conf))
        p = Proc("spigate", argv, prefix, os.path.join(self.rundir, prefix, "log"))
        tel = None
        try:
            tel = Telemetry(prefix, p, start_timeout(row.sas))
            # the telemetry socket is up at EAL init; spigate's commands once
            # the deployment (and every eager SA) is installed
            wait_for(lambda: tel.cmd("/spigate/stats") is not None, p, start_timeout(row.sas),
                     "before its telemetry commands came up")
            ctr = "decrypted" if row.dir == "in" else "encrypted"
            wait_for(lambda: tel.cmd("/spigate/stats")[ctr] > 0, p, 60,
                     "before %s anything" % ("decrypting" if row.dir == "in" else "encrypting"))
            t_ready = time.monotonic() - p.t_start
            if kw:
                # lazy SAs: every one installed (an sa-installed event each)
                # before the warm-up starts
                wait_for(lambda: tel.cmd("/spigate/events,%d" % 10 ** 12)["total"] >= row.sas,
                         p, start_timeout(row.sas), "before installing every SA")

            def sample():
                return tel.cmd("/spigate/stats"), tel.cmd("/spigate/lcores")
            a, b, dt, foreign, steal = Window([p]).measure(sample, self.warm, self.window)
            rss = p.rss_kb().get("VmRSS", 0) / 1024.0
        finally:
            if tel:
                tel.close()
            rc = p.stop()
        (s0, l0), (s1, l1) = a["sample"], b["sample"]
        dec = s1[ctr] - s0[ctr]
        workers = [k for k, v in l1.items() if ("cfe" in v["role"] or "dfe" in v["role"])]
        busy = sum(l1[k]["busy_cycles"] - l0[k]["busy_cycles"] for k in workers)
        # TSC Hz, calibrated: a worker lcore's busy + idle cycles over the wall window
        k = workers[0]
        tsc = ((l1[k]["busy_cycles"] + l1[k]["idle_cycles"])
               - (l0[k]["busy_cycles"] + l0[k]["idle_cycles"])) / dt
        self.tsc_samples.append(tsc)
        drops = {r: s1["drop"][r] - s0["drop"].get(r, 0) for r in s1["drop"]
                 if s1["drop"][r] - s0["drop"].get(r, 0)}
        return {"mpps": dec / dt / 1e6, "tx_mpps": (s1["tx"] - s0["tx"]) / dt / 1e6,
                "busy_cpp": busy / dec if dec else None, "tsc_hz": tsc, "foreign": foreign,
                "steal": steal, "ready_s": t_ready, "drops": drops, "rc": rc, "rss_mb": rss}

    # -------- ipsec-secgw
    def run_peer(self, row):
        pcap, count = traffic(row.alg, row.size, row.sas, row.dir)
        prefix = uniq("peer")
        lc = MAP[("peer", row.workers)][0]
        sa_type = "cpu-crypto" if row.mode == "cpu" else None
        cfg = peer_cfg_file(row.alg, row.sas, sa_type, row.dir)
        nq = row.workers
        mbufs = count * nq + 16384
        qp = [pcap] * nq
        if row.steered:
            qp = queue_captures(row.alg, row.size, row.sas, nq, row.dir)
        rx = "net_pcap0," + ",".join("rx_pcap=%s" % x for x in qp) + ",infinite_rx=1"
        lcores = [int(x.split("@")[0]) for x in lc.split(",")]
        config = ",".join("(0,%d,%d)" % (q, lcores[q]) for q in range(nq))
        if row.dir == "out":
            # the capture arrives on port 1; port 0 (net_null, nothing to
            # receive) keeps a queue too: the peer sets up the crypto of its
            # inbound SAs only for lcores that poll the unprotected port
            config = ",".join("(1,%d,%d),(0,%d,%d)" % (q, lcores[q], q, lcores[q])
                              for q in range(nq))
        # port 0 is the unprotected port (-u 0x1), port 1 the protected one;
        # ports are numbered in --vdev order
        vdevs = [rx, "net_null0,no-rx=1"] if row.dir == "in" else ["net_null0,no-rx=1", rx]
        inp, outp = (0, 1) if row.dir == "in" else (1, 0)
        # -l: lib/ipsec. Two workers outbound: both number the packets of
        # every SA, which lib/ipsec does safely only with atomic sequence
        # numbers (-a, RTE_IPSEC_SAFLAG_SQN_ATOM); without it the two
        # would send duplicate sequence numbers that a receiver drops
        sqn = ["-a"] if row.dir == "out" and nq > 1 else []
        argv = [self.peer, "--lcores", lc, "-m", str(mem_mb(mbufs, row.sas))] + EAL_COMMON + [
            "--file-prefix", prefix, "--vdev", vdevs[0], "--vdev", vdevs[1],
            "--vdev", "crypto_aesni_mb0", "--",
            "-p", "0x3", "-P", "-u", "0x1", "-l"] + sqn + [
            "-s", str(mbufs), "-f", cfg, "--config", config]
        COMMANDS.setdefault("ipsec-secgw %dw %s%s" % (row.workers, row.dir,
                                                       " steered" if row.steered else ""),
                            (argv, None))
        d = os.path.join(self.rundir, prefix)
        os.makedirs(d, exist_ok=True)
        p = Proc("ipsec-secgw", argv, prefix, os.path.join(d, "log"))
        tel = None
        try:
            tel = Telemetry(prefix, p, start_timeout(row.sas) * 2)
            wait_for(lambda: tel.cmd("/ethdev/stats,%d" % outp)["opackets"] > 0, p, 60,
                     "before forwarding anything")
            t_ready = time.monotonic() - p.t_start

            def sample():
                return (tel.cmd("/ethdev/stats,%d" % outp)["opackets"],
                        tel.cmd("/ethdev/stats,%d" % inp))
            a, b, dt, foreign, steal = Window([p]).measure(sample, self.warm, self.window)
            rss = p.rss_kb().get("VmRSS", 0) / 1024.0
        finally:
            if tel:
                tel.close()
            rc = p.stop()
        n = b["sample"][0] - a["sample"][0]
        rx = b["sample"][1]["ipackets"] - a["sample"][1]["ipackets"]
        lost = (rx - n) / rx if rx > 0 else 0.0
        r = {"mpps": n / dt / 1e6, "rx_mpps": rx / dt / 1e6, "foreign": foreign, "steal": steal,
             "ready_s": t_ready, "rc": rc, "rss_mb": rss}
        if lost > 0.01:
            r["drops"] = {"not forwarded (%)": round(100 * lost, 1)}
        return r

    # -------- the rig: pcap -> null forwarding
    def run_fwd(self, alg, size, nsas, direction="in"):
        pcap, count = traffic(alg, size, nsas, direction)
        prefix = uniq("fwd")
        mbufs = count + 16384
        argv = [TESTPMD, "--lcores", "0@0,1@1", "-m", str(mem_mb(mbufs))] + EAL_COMMON + [
            "--file-prefix", prefix, "--vdev", "net_pcap0,rx_pcap=%s,infinite_rx=1" % pcap,
            "--vdev", "net_null0,no-rx=1", "--",
            "--forward-mode=io", "--nb-cores=1", "--rxq=1", "--txq=1", "--burst=32",
            "--total-num-mbufs=%d" % mbufs]
        COMMANDS.setdefault("testpmd", (argv, None))
        d = os.path.join(self.rundir, prefix)
        os.makedirs(d, exist_ok=True)
        p = Proc("testpmd", argv, prefix, os.path.join(d, "log"), stdin_pipe=True)
        tel = None
        try:
            tel = Telemetry(prefix, p, 60)
            wait_for(lambda: tel.cmd("/ethdev/stats,1")["opackets"] > 0, p, 30,
                     "before forwarding anything")

            def sample():
                return tel.cmd("/ethdev/stats,1")["opackets"]
            a, b, dt, foreign, steal = Window([p]).measure(sample, self.warm, self.window)
        finally:
            if tel:
                tel.close()
            p.stop()
        return {"mpps": (b["sample"] - a["sample"]) / dt / 1e6, "foreign": foreign,
                "steal": steal}

    # -------- the rig: crypto
    def cbc_vector(self, n):
        """A crypto-perf test vector for AES-128-CBC + HMAC-SHA256-128 over n
        bytes (decrypt + verify needs one): the digest is right, so every
        operation verifies, as on the gateway."""
        import hashlib
        import hmac
        from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
        d = os.path.join(WORK, "cryptovec")
        os.makedirs(d, exist_ok=True)
        path = os.path.join(d, "cbc128-sha256-%d.data" % n)
        if os.path.exists(path):
            return path
        k, ak, iv = bytes(range(16)), bytes(range(32, 64)), bytes(range(100, 116))
        pt = bytes((i * 7) & 255 for i in range(n))
        e = Cipher(algorithms.AES(k), modes.CBC(iv)).encryptor()
        ct = e.update(pt) + e.finalize()
        dg = hmac.new(ak, ct, hashlib.sha256).digest()[:16]

        def arr(b):
            return ", ".join("0x%02x" % x for x in b)
        with open(path + ".tmp", "w") as f:
            f.write("# AES-128-CBC + HMAC-SHA256-128 over %d bytes (bench/bench.py)\n" % n)
            f.write("plaintext = %s\nciphertext = %s\ncipher_key = %s\nauth_key = %s\n"
                    "cipher_iv = %s\n[esp]\ndigest = %s\n"
                    % (arr(pt), arr(ct), arr(k), arr(ak), arr(iv), arr(dg)))
        os.replace(path + ".tmp", path)
        return path

    @staticmethod
    def esp_payload(alg, size):
        """Bytes the crypto processes for an inner packet of `size`: the ESP
        payload (inner packet, padding, pad length, next header)."""
        align = 4 if gt.ALGS[alg]["kind"] == "gcm" else 16
        s = int(size)
        return s + 2 + (-(s + 2)) % align

    def run_crypto(self, alg, size, direction="in"):
        """dpdk-test-crypto-perf --ptest throughput, one lcore (lcore 1 on
        CPU 1), aesni_mb, the operation ESP needs in that direction (decrypt
        + verify inbound, encrypt + generate outbound), on one size."""
        kind = gt.ALGS[alg]["kind"]
        buf = self.esp_payload(alg, size)
        prefix = uniq("cp")
        if direction == "out" and kind == "gcm":
            alg_args = ["--optype", "aead", "--aead-algo", "aes-gcm", "--aead-op", "encrypt",
                        "--aead-key-sz", str(gt.ALGS[alg]["klen"]), "--aead-iv-sz", "12",
                        "--aead-aad-sz", "8", "--digest-sz", "16"]
        elif direction == "out":
            alg_args = ["--optype", "cipher-then-auth", "--cipher-algo", "aes-cbc",
                        "--cipher-op", "encrypt", "--cipher-key-sz", "16",
                        "--cipher-iv-sz", "16", "--auth-algo", "sha2-256-hmac",
                        "--auth-op", "generate", "--auth-key-sz", "32", "--digest-sz", "16"]
        elif kind == "gcm":
            alg_args = ["--optype", "aead", "--aead-algo", "aes-gcm", "--aead-op", "decrypt",
                        "--aead-key-sz", str(gt.ALGS[alg]["klen"]), "--aead-iv-sz", "12",
                        "--aead-aad-sz", "8", "--digest-sz", "16"]
        else:
            alg_args = ["--optype", "auth-then-cipher", "--cipher-algo", "aes-cbc",
                        "--cipher-op", "decrypt", "--cipher-key-sz", "16", "--cipher-iv-sz", "16",
                        "--auth-algo", "sha2-256-hmac", "--auth-op", "verify",
                        "--auth-key-sz", "32", "--digest-sz", "16",
                        "--test-file", self.cbc_vector(buf), "--test-name", "esp"]
        ops = {"64": 8000000, "512": 5000000, "1420": 3000000}[str(size)]
        if self.quick:
            ops //= 2
        argv = [CRYPTOPERF, "--lcores", "0@0,1@1", "-m", "1024"] + EAL_COMMON + [
            "--file-prefix", prefix, "--vdev", "crypto_aesni_mb0", "--",
            "--ptest", "throughput", "--devtype", "crypto_aesni_mb"] + alg_args + [
            "--buffer-sz", str(buf), "--burst-sz", "32",
            "--total-ops", str(ops), "--silent", "--csv-friendly"]
        COMMANDS.setdefault("crypto-perf %s %s" % (kind, direction), (argv, None))
        d = os.path.join(self.rundir, prefix)
        os.makedirs(d, exist_ok=True)
        import resource
        ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        (busy0, st0), self0, t0 = cpu_jiffies(), self_jiffies(), time.monotonic()
        p = Proc("crypto-perf", argv, prefix, os.path.join(d, "log"))
        try:
            p.p.wait(120)
        except subprocess.TimeoutExpired:
            pass
        p.stop()
        ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        (busy1, st1), self1, dt = cpu_jiffies(), self_jiffies(), time.monotonic() - t0
        child = (ru1.ru_utime + ru1.ru_stime) - (ru0.ru_utime + ru0.ru_stime)
        foreign = max(0.0, ((busy1 - busy0) - (self1 - self0)) / CLK_TCK / dt - child / dt)
        with open(os.path.join(d, "log")) as f:
            out = f.read()
        m = [l for l in out.splitlines() if re.match(r"^\s*1,", l)]
        if not m:
            raise BenchError("crypto-perf printed no result:\n" + out[-1500:])
        f = m[-1].split(",")
        return {"cycles": float(f[-1]), "mops": float(f[7]), "foreign": foreign,
                "steal": (st1 - st0) / CLK_TCK / dt, "buffer": buf}

    # ------------------------------------------------------------------ the throughput table
    def throughput(self, rows, reps, writer):
        res = {}
        fwd, cry = {}, {}
        n = len(rows)
        for rep in range(reps):
            for i, row in enumerate(rows):
                tag = "[row %d/%d rep %d/%d]" % (i + 1, n, rep + 1, reps)
                ck = (row.alg, row.size, row.dir)
                fk = (row.alg, row.size, row.sas, row.dir)
                def have(d, k):
                    return any(r.get("rep") == rep for r in d.get(k, []))

                def of_rep(d, k):
                    return next(r for r in d[k] if r.get("rep") == rep)
                try:
                    if not have(cry, ck):
                        # IMIX: the 7:4:1 average of the three sizes' cycles
                        parts = gt.IMIX if row.size == "imix" else [row.size]
                        for sz in sorted(set(map(str, parts))):
                            k2 = (row.alg, sz, row.dir)
                            if not have(cry, k2):
                                r = self.measured(self.run_crypto, row.alg, sz, row.dir)
                                r["rep"] = rep
                                cry.setdefault(k2, []).append(r)
                                writer(rep, Row(row.alg, sz, 1, "-", 1, row.dir),
                                       "crypto-perf", r["cycles"], r)
                        if row.size == "imix":
                            c = sum(of_rep(cry, (row.alg, str(x), row.dir))["cycles"]
                                    for x in parts)
                            f = max(of_rep(cry, (row.alg, str(x), row.dir)).get("foreign") or 0
                                    for x in parts)
                            cry.setdefault(ck, []).append({"cycles": c / len(parts), "rep": rep,
                                                           "foreign": f})
                    if not have(fwd, fk):
                        r = self.measured(self.run_fwd, *fk)
                        r["rep"] = rep
                        fwd.setdefault(fk, []).append(r)
                        writer(rep, row, "testpmd-io", r["mpps"], r)
                except BenchError as e:
                    log("%s limit measurement failed: %s" % (tag, e))
                order = ("spigate", "peer") if rep % 2 == 0 else ("peer", "spigate")
                got = {}
                for impl in order:
                    # two workers: how far apart the host has placed the two
                    # CPUs, before and after (bench/xcore.c)
                    xc0 = xcore_probe() if row.workers == 2 else None
                    try:
                        r = self.measured(self.run_spigate if impl == "spigate"
                                          else self.run_peer, row)
                    except BenchError as e:
                        log("%s %s %s FAILED: %s" % (tag, impl, row.label(), e))
                        r = {"mpps": None, "error": str(e).splitlines()[0]}
                    if xc0 is not None:
                        r["xcore"] = [xc0, xcore_probe()]
                    r["rep"] = rep
                    got[impl] = r
                    res.setdefault((row.id, impl), []).append(r)
                    writer(rep, row, impl, r.get("mpps"), r)
                s, p = got["spigate"], got["peer"]
                extra = ""
                if s.get("drops"):
                    extra += "  spigate drops %s" % s["drops"]
                if max(s.get("foreign") or 0, p.get("foreign") or 0) > 0.1:
                    extra += "  (foreign load %.2f/%.2f CPU)" % (s.get("foreign") or 0,
                                                                  p.get("foreign") or 0)
                if s.get("xcore") and p.get("xcore"):
                    extra += "  (cross-core round trip %s / %s cycles)" % (
                        "-".join("%.0f" % x for x in s["xcore"] if x is not None),
                        "-".join("%.0f" % x for x in p["xcore"] if x is not None))
                log("%s %-34s spigate %s Mpps  ipsec-secgw %s Mpps%s"
                    % (tag, row.label(), fmt(s.get("mpps")), fmt(p.get("mpps")), extra))
        return res, fwd, cry


def rows_of_meta(meta_rows):
    """The rows of a results folder's run.json: [alg, size, sas, mode,
    workers, dir, steer]. Runs before the steered outbound rows wrote no
    steer and did not record what each RX queue replayed (inbound: the whole
    capture before step 23): their tables leave that note out."""
    rows = [Row(*m) for m in meta_rows]
    for r, m in zip(rows, meta_rows):
        r.queues_known = len(m) > 6
    return rows


def render(resdir, report, write_docs=True):
    """Tables, charts and the docs block from a results folder (raw.csv,
    run.json, extras.json)."""
    import types
    with open(os.path.join(resdir, "run.json")) as f:
        meta = json.load(f)
    with open(os.path.join(resdir, "extras.json")) as f:
        ext = json.load(f)
    res, fwd, cry = report.load_raw(resdir)
    mach = None
    if os.path.exists(os.path.join(resdir, "machine.json")):
        with open(os.path.join(resdir, "machine.json")) as f:
            mach = json.load(f)
    rows = rows_of_meta(meta["rows"])
    b = types.SimpleNamespace(warm=meta["warm"], window=meta["window"],
                              disturbed=meta["disturbed"], quiet_waited=meta["quiet_waited"])
    report.write_all(resdir, meta["kind"], rows, meta["reps"], res, fwd, cry, ext, meta["tsc"],
                     meta["commands"],
                     datetime.datetime.fromisoformat(meta["started"]),
                     datetime.datetime.fromisoformat(meta["finished"]), b,
                     write_docs=write_docs, mach=mach)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", default="build")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--reps", type=int)
    ap.add_argument("--rows", help="only rows whose id matches this regex")
    ap.add_argument("--no-extras", action="store_true")
    ap.add_argument("--no-docs", action="store_true")
    ap.add_argument("--results", help="results folder (default bench/results/quick|full)")
    ap.add_argument("--huge", action="store_true",
                    help="run every process on 2 MB hugepages (reserved beforehand, "
                    "hugetlbfs mounted) instead of --no-huge; implies --no-extras")
    ap.add_argument("--report-only", action="store_true",
                    help="only redo the tables, charts and docs from the results folder")
    a = ap.parse_args()

    # extras.py imports helpers from this module: let it find this run's
    # module (its clock, its COMMANDS), not a second copy
    sys.modules.setdefault("bench", sys.modules[__name__])
    import report  # noqa: E402  (bench/report.py)
    import extras  # noqa: E402  (bench/extras.py)

    kind = "quick" if a.quick else "full"
    resdir = a.results or os.path.join(HERE, "results", kind)
    if a.report_only:
        render(resdir, report, write_docs=not a.no_docs)
        return 0

    atexit.register(kill_all)

    def on_signal(sig, frame):
        kill_all()
        sys.exit(128 + sig)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    # what to run, checked before anything is built or started
    rows = row_matrix(a.quick)
    if a.rows:
        rows = [r for r in rows if re.search(a.rows, r.id)]
    if not rows:
        print("bench: no row matches --rows %r" % a.rows, file=sys.stderr)
        return 1
    if a.huge:
        # the largest -m of a row: spigate's, two RX queues of the capture
        err = huge_check(max(mem_mb(max(4096, r.sas) * 2 + 32768, r.sas)
                             for r in rows))
        if err:
            print("bench: --huge: %s" % err, file=sys.stderr)
            return 1
        EAL_COMMON[:] = EAL_HUGE
        a.no_extras = True
    b = Bench(a)
    if not os.access(b.spigate, os.X_OK):
        print("bench: %s not found: build first (make build)" % b.spigate, file=sys.stderr)
        return 1
    for tool in (TESTPMD, CRYPTOPERF, "gnuplot"):
        if shutil.which(tool) is None:
            print("bench: %s not found: run scripts/install-deps.sh" % tool, file=sys.stderr)
            return 1
    out = subprocess.run([os.path.join(HERE, "peer", "build.sh")], stdout=subprocess.PIPE,
                         universal_newlines=True)
    if out.returncode != 0:
        return 1
    b.peer = out.stdout.strip().splitlines()[-1]

    os.makedirs(resdir, exist_ok=True)
    report.save_machine(resdir)
    reps = a.reps or 3
    started = datetime.datetime.now(datetime.timezone.utc)
    log("bench (%s): %d rows x %d repetitions, warm-up %.0f s, window %.0f s, results in %s"
        % (kind, len(rows), reps, b.warm, b.window, os.path.relpath(resdir, ROOT)))

    raw_path = os.path.join(resdir, "raw.csv")
    rawf = open(raw_path, "w", newline="")
    rw = csv.writer(rawf)
    rw.writerow(["row", "dir", "alg", "size", "sas", "mode", "workers", "rep", "impl",
                 "value", "unit", "tsc_hz", "busy_cycles_per_pkt", "ready_s",
                 "foreign_cpu", "steal_cpu", "rss_mb", "notes", "xcore_cycles"])

    def writer(rep, row, impl, value, r):
        unit = "cycles/op" if impl == "crypto-perf" else "Mpps"
        notes = r.get("error") or (json.dumps(r["drops"]) if r.get("drops") else "")
        rw.writerow([row.id, row.dir, row.alg, row.size, row.sas, row.mode, row.workers, rep,
                     impl, fmt(value, 4) if value is not None else "", unit,
                     fmt(r.get("tsc_hz"), 0) if r.get("tsc_hz") else "",
                     fmt(r.get("busy_cpp"), 1) if r.get("busy_cpp") else "",
                     fmt(r.get("ready_s"), 2) if r.get("ready_s") else "",
                     fmt(r.get("foreign"), 3) if r.get("foreign") is not None else "",
                     fmt(r.get("steal"), 3) if r.get("steal") is not None else "",
                     fmt(r.get("rss_mb"), 0) if r.get("rss_mb") else "", notes,
                     "/".join("%.0f" % x for x in r.get("xcore") or [] if x is not None)])
        rawf.flush()

    res, fwd, cry = b.throughput(rows, reps, writer)
    rawf.close()

    ext = {}
    if not a.no_extras:
        ext = extras.run_all(b, a.quick)
    tsc = median(b.tsc_samples) or report.cpuinfo_hz()
    finished = datetime.datetime.now(datetime.timezone.utc)
    report.save_meta(resdir, kind, rows, reps, ext, tsc, COMMANDS, started, finished, b)
    render(resdir, report, write_docs=not a.no_docs)
    log("done in %.1f min: %s" % ((time.monotonic() - T0) / 60, os.path.relpath(resdir, ROOT)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
