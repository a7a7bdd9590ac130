"""spigate's control socket (docs/control.md) at the protocol level, for
test_control.py: a raw client (bytes in, lines out, how the connection
ended), SAs as sa-add objects, spigatectl's KEY=VALUE words, and a
running gateway whose control socket is up. sgtest.ctl is the
convenience client the other tests use.

    with control.Running(dep, frames, workdir, spigate_bin) as g:
        c = g.client()
        c.request({"op": "stats"})          # -> {"ok": True, "stats": {...}}
        res = g.stop()                      # SIGTERM; a gateway.Result
"""

import json
import os
import select
import shutil
import signal
import socket
import subprocess
import time

from . import gateway, libconf

REPO = gateway.REPO


def ctl_binary():
    """Path of spigatectl: $SPIGATECTL_BIN, else next to the spigate binary
    ($SPIGATE_BIN or <repo>/build/app/)."""
    return os.environ.get("SPIGATECTL_BIN") or os.path.join(
        os.path.dirname(gateway.binary()), "spigatectl")


class Closed(Exception):
    """The daemon closed the connection."""


class Client:
    """One connection to the control socket. Replies are read line by line
    and decoded; `raw_lines` keeps them as they came."""

    def __init__(self, path, timeout=10.0):
        self.path = path
        self.timeout = timeout
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        # a blocking connect waits while the listen backlog is full; a
        # non-blocking one (what settimeout() makes) fails with EAGAIN
        self.sock.connect(path)
        self.sock.settimeout(timeout)
        self.buf = b""
        self.raw_lines = []

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def send_raw(self, data):
        self.sock.sendall(data)

    def send(self, obj):
        self.send_raw(json.dumps(obj).encode() + b"\n")

    def line(self, timeout=None):
        """The next line (bytes, without its newline). Raises Closed when
        the daemon closed the connection first (EOF or reset), and
        socket.timeout when nothing comes."""
        self.sock.settimeout(self.timeout if timeout is None else timeout)
        while b"\n" not in self.buf:
            try:
                d = self.sock.recv(65536)
            except ConnectionResetError:
                d = b""
            if not d:
                raise Closed("connection closed; unterminated data: %r" % self.buf[:200])
            self.buf += d
        ln, self.buf = self.buf.split(b"\n", 1)
        self.raw_lines.append(ln)
        return ln

    def reply(self, timeout=None):
        return json.loads(self.line(timeout))

    def request(self, obj):
        self.send(obj)
        return self.reply()

    def closed(self, timeout=5.0):
        """True once the daemon has closed the connection (EOF or reset),
        after reading whatever is left; the lines read on the way are
        returned as the second element."""
        lines = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                lines.append(self.line(timeout=max(0.05, deadline - time.monotonic())))
            except Closed:
                if self.buf:                    # an unterminated last line
                    lines.append(self.buf)
                    self.buf = b""
                return True, lines
            except (socket.timeout, TimeoutError):
                return False, lines
        return False, lines

    def nothing_within(self, seconds):
        """True if no byte arrives within `seconds`."""
        if b"\n" in self.buf:
            return False
        r, _, _ = select.select([self.sock], [], [], seconds)
        return not r


def request(path, obj, timeout=10.0):
    """One request on a fresh connection."""
    with Client(path, timeout) as c:
        return c.request(obj)


def sa_json(sa, **override):
    """An sgtest SA as the object of {"op": "sa-add", "sa": ...} (SA.to_dict():
    the keys of an SA in the policy database), with override: key -> value
    (None removes the key)."""
    d = sa.to_dict()
    for k, v in override.items():
        if v is None:
            d.pop(k, None)
        else:
            d[k] = v
    return d


def dotted(obj, prefix=""):
    """{"encap": {"sport": 4500}, "esn": False} -> ["encap.sport=4500",
    "esn=false"]: spigatectl's `sa add KEY=VALUE` arguments."""
    out = []
    for k, v in obj.items():
        if isinstance(v, dict):
            out += dotted(v, prefix + k + ".")
        elif isinstance(v, bool):
            out.append("%s%s=%s" % (prefix, k, "true" if v else "false"))
        else:
            out.append("%s%s=%s" % (prefix, k, v))
    return out


class Running:
    """spigate started on a deployment (no --exit-idle: it runs until
    stop()), its control socket up. The socket path is the deployment
    file's `control` (sgtest writes WORKDIR/control.sock)."""

    def __init__(self, dep, frames, workdir, bin_path, extra_args=()):
        self.dep = dep
        self.frames = frames
        self.workdir = os.path.abspath(workdir)
        self.bin = bin_path
        self.extra = list(extra_args)
        self.proc = None

    def __enter__(self):
        self.pr = gateway.prepare_io(self.dep, self.workdir, self.frames)
        self.path = libconf.load(self.pr.conf)["control"]
        self.stats_path = os.path.join(self.workdir, "stats.json")
        self.cmd = [self.bin, "-f", self.pr.conf, "--stats-out", self.stats_path] + self.extra
        self.so = open(os.path.join(self.workdir, "spigate.stdout"), "w+b")
        self.se = open(os.path.join(self.workdir, "spigate.stderr"), "w+b")
        self.t0 = time.monotonic()
        self.proc = subprocess.Popen(self.cmd, cwd=self.workdir, stdout=self.so,
                                     stderr=self.se, stdin=subprocess.DEVNULL)
        try:
            self.wait_socket()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.so.close()
        self.se.close()
        shutil.rmtree(gateway._runtime_dir(self.pr.prefix), ignore_errors=True)
        return False

    def stderr(self):
        self.se.seek(0)
        return self.se.read().decode(errors="replace")

    def alive(self):
        if self.proc.poll() is not None:
            raise AssertionError("spigate exited (status %s)\n%s"
                                 % (self.proc.returncode, self.stderr()[-3000:]))

    def wait_socket(self, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.alive()
            try:
                request(self.path, {"op": "stats"}, timeout=2)
                return
            except (OSError, ValueError):
                time.sleep(0.05)
        raise AssertionError("control socket %s never answered\n%s"
                             % (self.path, self.stderr()[-3000:]))

    def client(self, timeout=10.0):
        self.alive()
        return Client(self.path, timeout)

    def request(self, obj):
        self.alive()
        return request(self.path, obj)

    def wait(self, obj, pred, what, timeout=20):
        """Repeat the request until pred(reply); returns the reply."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            last = self.request(obj)
            if pred(last):
                return last
            time.sleep(0.02)
        raise AssertionError("timed out waiting for %s; last reply to %s: %s"
                             % (what, json.dumps(obj), json.dumps(last)))

    def ctl(self, *args, env=None, timeout=20, input=None):
        """Run spigatectl -s SOCKET ARGS...; a CompletedProcess (text)."""
        return subprocess.run([ctl_binary(), "-s", self.path] + list(args),
                              capture_output=True, text=True, timeout=timeout,
                              env=env, input=input)

    def stop(self, timeout=15):
        """SIGTERM, wait, collect what was sent and the final counters (a
        gateway.Result)."""
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("spigate did not stop within %d s of SIGTERM" % timeout)
        self.so.seek(0)
        stdout = self.so.read().decode(errors="replace")
        stats = None
        if os.path.exists(self.stats_path):
            with open(self.stats_path) as f:
                stats = gateway.Stats(json.load(f))
        out, missing = {}, []
        for name, p in self.pr.tx.items():
            if os.path.exists(p):
                out[name] = gateway.read_pcap(p)
            else:
                out[name], missing = [], missing + [name]
        res = gateway.Result(self.workdir, self.cmd, rc, stdout, self.stderr(), stats,
                             out.get(self.pr.egress, []), self.pr.egress in missing,
                             time.monotonic() - self.t0)
        res.out, res.missing_ports = out, missing
        return res
