"""spigate running in the background, queried over its DPDK telemetry
socket with the stock client (dpdk-telemetry.py), then stopped with
SIGTERM. The pattern of test_telemetry.py, reusable:

    with live.Live(dep, frames, workdir, spigate_bin) as g:
        g.wait_stats(lambda s: s["rx"] == len(frames))
        g.query("/spigate/sa/list")
        res = g.stop()              # SIGTERM; a gateway.Result (exit 0 expected)
"""

import json
import os
import shutil
import signal
import subprocess
import time

from . import gateway

CLIENT = "/usr/bin/dpdk-telemetry.py"


def query(prefix, cmd, timeout=20):
    """One telemetry command; returns the reply's value (the object under
    the command's name)."""
    p = subprocess.run(["/usr/bin/python3", CLIENT, "-f", prefix],
                       input=cmd + "\n", capture_output=True, text=True, timeout=timeout)
    lines = [ln for ln in p.stdout.splitlines() if ln.startswith("{")]
    if not lines:
        raise AssertionError("no reply to %s: %s %s" % (cmd, p.stdout, p.stderr))
    return json.loads(lines[-1])[cmd.split(",")[0]]


class Live:
    """netns: run spigate inside that network namespace (ip netns exec),
    for net_af_packet ports on interfaces the test created there."""

    def __init__(self, dep, frames, workdir, bin_path, extra_args=(), netns=None):
        self.dep = dep
        self.frames = frames
        self.workdir = os.path.abspath(workdir)
        self.bin = bin_path
        self.extra = list(extra_args)
        self.netns = netns
        self.proc = None

    def __enter__(self):
        self.dep.telemetry = True
        self.pr = gateway.prepare_io(self.dep, self.workdir, self.frames)
        self.stats_path = os.path.join(self.workdir, "stats.json")
        self.cmd = [self.bin, "-f", self.pr.conf, "--stats-out", self.stats_path] + self.extra
        self.so = open(os.path.join(self.workdir, "spigate.stdout"), "w+b")
        self.se = open(os.path.join(self.workdir, "spigate.stderr"), "w+b")
        self.t0 = time.monotonic()
        cmd = (["ip", "netns", "exec", self.netns] if self.netns else []) + self.cmd
        self.proc = subprocess.Popen(cmd, cwd=self.workdir, stdout=self.so,
                                     stderr=self.se, stdin=subprocess.DEVNULL)
        self.sock = os.path.join(gateway._runtime_dir(self.pr.prefix), "dpdk_telemetry.v2")
        return self

    def __exit__(self, *exc):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.so.close()
        self.se.close()
        shutil.rmtree(gateway._runtime_dir(self.pr.prefix), ignore_errors=True)
        return False

    @property
    def control_path(self):
        return self.pr.control

    def ctl(self, timeout=30):
        """A control-socket connection (sgtest.ctl.Control), once the
        socket answers."""
        from . import ctl
        ctl.wait_socket(self.pr.control, self.proc, timeout)
        return ctl.Control(self.pr.control)

    def events(self, timeout=30):
        """An events stream (sgtest.ctl.Events)."""
        from . import ctl
        ctl.wait_socket(self.pr.control, self.proc, timeout)
        return ctl.Events(self.pr.control)

    def stderr(self):
        self.se.seek(0)
        return self.se.read().decode(errors="replace")

    def query(self, cmd):
        return query(self.pr.prefix, cmd)

    def wait(self, pred, what, timeout=30, cmd="/spigate/stats"):
        """Poll cmd until pred(reply) is true; returns the reply."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("spigate exited early (status %s) while waiting for %s\n%s"
                                     % (self.proc.returncode, what, self.stderr()[-3000:]))
            if os.path.exists(self.sock):
                try:
                    last = self.query(cmd)
                    if pred(last):
                        return last
                except (AssertionError, subprocess.TimeoutExpired, ValueError, KeyError,
                        TypeError):
                    pass
            time.sleep(0.2)
        raise AssertionError("timed out waiting for %s; last %s reply: %s"
                             % (what, cmd, json.dumps(last)))

    def wait_stats(self, pred, what="counters", timeout=30):
        return self.wait(pred, what, timeout)

    def stop(self, timeout=15):
        """SIGTERM, wait, and collect what it sent and its final counters
        (a gateway.Result)."""
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
            raise AssertionError("spigate did not stop within %d s of SIGTERM" % timeout)
        self.so.seek(0)
        stdout = self.so.read().decode(errors="replace")
        stats = None
        if os.path.exists(self.stats_path):
            with open(self.stats_path) as f:
                stats = gateway.Stats(json.load(f))
        out, missing = {}, []
        for name, path in self.pr.tx.items():
            if os.path.exists(path):
                out[name] = gateway.read_pcap(path)
            else:
                out[name], missing = [], missing + [name]
        frames = out.get(self.pr.egress, [])
        res = gateway.Result(self.workdir, self.cmd, rc, stdout, self.stderr(), stats,
                             frames, self.pr.egress in missing, time.monotonic() - self.t0)
        res.out, res.missing_ports = out, missing
        return res
