"""Process and telemetry plumbing of the benchmark (bench/bench.py).

Every DPDK process the bench starts goes through Proc: its own
--file-prefix, its own session (so a signal reaches its threads only), a log
file, and a stop() that sends SIGINT, waits, then SIGKILLs. Procs still
alive when the bench exits (exception, Ctrl-C, SIGTERM) are killed by
kill_all(), by pid, never by name.
"""

import json
import os
import signal
import socket
import subprocess
import time

_LIVE = {}          # pid -> Proc
CLK_TCK = os.sysconf("SC_CLK_TCK")
DPDK_RUN = "/var/run/dpdk"


class BenchError(Exception):
    pass


class Proc:
    def __init__(self, name, argv, prefix, log_path, cwd=None, stdin_pipe=False,
                 line_cb=None):
        self.name = name
        self.argv = argv
        self.prefix = prefix
        self.log_path = log_path
        self.t_start = time.monotonic()
        self.log = open(log_path, "wb")
        self.p = subprocess.Popen(argv, cwd=cwd, stdout=subprocess.PIPE if line_cb else self.log,
                                  stderr=subprocess.STDOUT,
                                  stdin=subprocess.PIPE if stdin_pipe else subprocess.DEVNULL,
                                  start_new_session=True)
        self.pid = self.p.pid
        _LIVE[self.pid] = self
        self._reader = None
        if line_cb:
            import threading

            def pump():
                for raw in self.p.stdout:
                    self.log.write(raw)
                    self.log.flush()
                    try:
                        line_cb(time.monotonic(), raw.decode(errors="replace"))
                    except Exception:       # the callback must never kill the pump
                        pass
            self._reader = threading.Thread(target=pump, daemon=True)
            self._reader.start()

    def alive(self):
        return self.p.poll() is None

    def log_tail(self, n=15):
        try:
            with open(self.log_path, "rb") as f:
                lines = f.read().decode(errors="replace").splitlines()
            return "\n".join(lines[-n:])
        except OSError:
            return ""

    def jiffies(self):
        """utime + stime of the whole process (all threads), in clock ticks."""
        try:
            with open("/proc/%d/stat" % self.pid) as f:
                s = f.read()
            fields = s[s.rindex(")") + 2:].split()
            return int(fields[11]) + int(fields[12])
        except (OSError, ValueError, IndexError):
            return 0

    def rss_kb(self):
        out = {}
        try:
            with open("/proc/%d/status" % self.pid) as f:
                for line in f:
                    k, _, v = line.partition(":")
                    if k in ("VmRSS", "VmHWM", "RssAnon", "RssFile", "RssShmem"):
                        out[k] = int(v.split()[0])
        except OSError:
            pass
        return out

    def stop(self, timeout=20.0):
        """SIGINT, wait up to timeout, then SIGKILL. Returns the exit status."""
        rc = self.p.poll()
        if rc is None:
            try:
                os.kill(self.pid, signal.SIGINT)
            except ProcessLookupError:
                pass
            try:
                rc = self.p.wait(timeout)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(self.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                rc = self.p.wait()
        if self._reader:
            self._reader.join(2)
        self.log.close()
        _LIVE.pop(self.pid, None)
        # DPDK leaves its runtime folder (config, sockets) behind
        if self.prefix:
            d = os.path.join(DPDK_RUN, self.prefix)
            if os.path.isdir(d):
                for fn in os.listdir(d):
                    try:
                        os.unlink(os.path.join(d, fn))
                    except OSError:
                        pass
                try:
                    os.rmdir(d)
                except OSError:
                    pass
        return rc


def kill_all():
    for pid, p in list(_LIVE.items()):
        try:
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            p.p.wait(5)
        except Exception:
            pass
        _LIVE.pop(pid, None)


class Telemetry:
    """A client of DPDK's telemetry v2 socket (what dpdk-telemetry.py speaks)."""

    def __init__(self, prefix, proc=None, timeout=60.0):
        path = os.path.join(DPDK_RUN, prefix, "dpdk_telemetry.v2")
        deadline = time.monotonic() + timeout
        last = None
        while True:
            if proc is not None and not proc.alive():
                raise BenchError("%s exited (status %s) before its telemetry came up:\n%s"
                                 % (proc.name, proc.p.returncode, proc.log_tail()))
            try:
                s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
                s.connect(path)
                s.settimeout(30)
                info = json.loads(s.recv(16384).decode())
                self.s = s
                self.maxlen = int(info.get("max_output_len", 16384))
                return
            except (OSError, ValueError) as e:
                last = e
                try:
                    s.close()
                except Exception:
                    pass
            if time.monotonic() > deadline:
                raise BenchError("no telemetry socket at %s after %.0f s (%s)"
                                 % (path, timeout, last))
            time.sleep(0.1)

    def cmd(self, c):
        self.s.send(c.encode())
        raw = self.s.recv(self.maxlen + 64)
        d = json.loads(raw.decode())
        return d.get(c.split(",")[0])

    def close(self):
        try:
            self.s.close()
        except Exception:
            pass


def cpu_jiffies():
    """(busy, steal) clock ticks of all CPUs together, from /proc/stat. busy
    is user + nice + system + irq + softirq; steal is time the hypervisor
    gave to someone else."""
    with open("/proc/stat") as f:
        parts = f.readline().split()
    v = [int(x) for x in parts[1:]]
    # user nice system idle iowait irq softirq steal guest guest_nice
    return v[0] + v[1] + v[2] + v[5] + v[6], v[7]


def self_jiffies():
    t = os.times()
    return int((t.user + t.system) * CLK_TCK)


class Foreign:
    """CPU used by other processes between start() and stop(): all CPU
    time (/proc/stat) minus this process's and its reaped children's. Call
    stop() only after the measured children have been waited for."""

    def start(self):
        import resource
        self.ru = resource.getrusage(resource.RUSAGE_CHILDREN)
        self.busy, _ = cpu_jiffies()
        self.self = self_jiffies()
        self.t = time.monotonic()
        return self

    def stop(self):
        import resource
        ru = resource.getrusage(resource.RUSAGE_CHILDREN)
        busy, _ = cpu_jiffies()
        dt = time.monotonic() - self.t
        child = (ru.ru_utime + ru.ru_stime) - (self.ru.ru_utime + self.ru.ru_stime)
        return max(0.0, ((busy - self.busy) - (self_jiffies() - self.self)) / CLK_TCK / dt
                   - child / dt)
