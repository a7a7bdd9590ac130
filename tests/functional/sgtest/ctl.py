"""The control socket (lib/ce/ce_ctl.c): a UNIX stream socket, one JSON
request per line, one JSON reply per request; op "events" turns a
connection into a stream of {"event": {...}} lines.

    c = Control(path)
    c.ok("sa-add", sa=sa.to_dict())          # raises unless {"ok": true}
    c.sa_show(0x2000, "out")["packets"]
    ev = Events(path)                         # a background reader
    ev.wait(lambda e: e["type"] == "rekey-switch", "the switch")
    ev.close()
"""

import json
import os
import socket
import threading
import time


class ControlError(AssertionError):
    pass


def wait_socket(path, proc=None, timeout=30):
    """Wait until the control socket accepts connections (spigate creates
    it once the ports are up); fails early if proc has exited."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise ControlError("spigate exited (status %s) before its control "
                               "socket %s answered" % (proc.returncode, path))
        if os.path.exists(path):
            try:
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.connect(path)
                s.close()
                return
            except OSError:
                pass
        time.sleep(0.05)
    raise ControlError("control socket %s never answered" % path)


class Control:
    """One request/reply connection."""

    def __init__(self, path, timeout=10):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.buf = b""

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def _line(self):
        while b"\n" not in self.buf:
            d = self.sock.recv(65536)
            if not d:
                raise ControlError("control socket closed the connection")
            self.buf += d
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def send(self, op, **kw):
        req = dict(kw)
        req["op"] = op
        self.sock.sendall(json.dumps(req).encode() + b"\n")

    def request(self, op, **kw):
        """Send one request, return the reply (a dict)."""
        self.send(op, **kw)
        return self._line()

    def pipeline(self, reqs):
        """Send every (op, kw) request at once, then read the replies in
        order (the daemon answers a connection's requests in order)."""
        data = b"".join(json.dumps(dict(kw, op=op)).encode() + b"\n" for op, kw in reqs)
        self.sock.sendall(data)
        return [self._line() for _ in reqs]

    def ok(self, op, **kw):
        r = self.request(op, **kw)
        if r.get("ok") is not True:
            raise ControlError("%s %s: %s" % (op, json.dumps(kw)[:300], r))
        return r

    # -- the operations --------------------------------------------------
    def stats(self):
        return self.ok("stats")["stats"]

    def sa_list(self):
        return self.ok("sa-list")["sas"]

    def sa_spis(self, direction=None):
        """{(spi int, dir)} of the SAs the daemon has."""
        return {(int(s["spi"], 16), s["dir"]) for s in self.sa_list()
                if direction is None or s["dir"] == direction}

    def sa_show(self, spi, direction):
        return self.ok("sa-show", spi="%#x" % spi, dir=direction)["sa"]

    def sa_show_or_none(self, spi, direction):
        r = self.request("sa-show", spi="%#x" % spi, dir=direction)
        return r["sa"] if r.get("ok") else None

    def sa_add(self, sa):
        """sa: an sgtest.sa.SA or a dict."""
        return self.ok("sa-add", sa=sa if isinstance(sa, dict) else sa.to_dict())

    def sa_del(self, spi, direction):
        return self.ok("sa-del", spi="%#x" % spi, dir=direction)


class Events:
    """A connection streaming events, read by a background thread into
    self.events (each {"seq", "type", "spi", "detail"?, "time_ms", ...}).
    Attaching replays the events the daemon still keeps."""

    def __init__(self, path, timeout=10):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.sock.sendall(b'{"op":"events"}\n')
        self.events = []
        self.lost = 0
        self.reply = None
        self.error = None
        self._cv = threading.Condition()
        self._stop = False
        self.sock.settimeout(0.2)
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()

    def _run(self):
        buf = b""
        while not self._stop:
            try:
                d = self.sock.recv(65536)
            except socket.timeout:
                continue
            except OSError as e:
                self.error = str(e)
                break
            if not d:
                self.error = "closed by the daemon"
                break
            buf += d
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                o = json.loads(line)
                with self._cv:
                    if "event" in o:
                        if "lost" in o["event"]:
                            self.lost += o["event"]["lost"]
                        else:
                            self.events.append(o["event"])
                    else:
                        self.reply = o
                    self._cv.notify_all()
        with self._cv:
            self._cv.notify_all()

    def of(self, type_=None, spi=None):
        with self._cv:
            return [e for e in self.events
                    if (type_ is None or e["type"] == type_)
                    and (spi is None or int(e["spi"], 16) == spi)]

    def wait(self, pred, what, timeout=10):
        """The first event with pred(event) true (waits for it)."""
        deadline = time.monotonic() + timeout
        with self._cv:
            while True:
                for e in self.events:
                    if pred(e):
                        return e
                left = deadline - time.monotonic()
                if left <= 0 or self.error:
                    raise AssertionError("no event %s within %.1f s (%s); events: %s"
                                         % (what, timeout, self.error or "timeout",
                                            json.dumps(self.events[-30:])))
                self._cv.wait(min(left, 0.2))

    def close(self):
        self._stop = True
        self._t.join(2)
        self.sock.close()
