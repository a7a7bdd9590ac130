"""Telemetry through the stock client (dpdk-telemetry.py), and SIGTERM:
a running gateway answers every /spigate command of CONTRACT.md with the
counters of what it did, then stops cleanly on SIGTERM (exit 0, final
counters printed, every valid packet out)."""

import json
import os
import signal
import subprocess
import time

import pytest

from sgtest import gateway, traffic
from sgtest.scenario import Scenario

GCM = "aes-128-gcm"
CBC = "aes-128-cbc+hmac-sha256-128"
CONTRACT_DROPS = ["unknown_spi", "auth_failed", "replay", "malformed",
                  "policy_mismatch", "no_policy", "discard", "no_route",
                  "ttl_exceeded", "punt_policed", "ring_full", "hold_overflow",
                  "hold_timeout", "lifetime_expired", "loop", "mtu_exceeded"]


def query(prefix, cmd):
    p = subprocess.run(["/usr/bin/python3", "/usr/bin/dpdk-telemetry.py", "-f", prefix],
                       input=cmd + "\n", capture_output=True, text=True, timeout=20)
    lines = [ln for ln in p.stdout.splitlines() if ln.startswith("{")]
    assert lines, "no reply to %s: %s %s" % (cmd, p.stdout, p.stderr)
    return json.loads(lines[-1])[cmd.split(",")[0]]


@pytest.fixture
def running(spigate_bin, workdir, seed_rng):
    sc = Scenario(rng=seed_rng)
    sc.dep.telemetry = True
    used = sc.flow(0, CBC, "4in4")
    sc.flow(1, GCM, "6in6", install="eager")          # never sees traffic
    sc.send_valid(used, 20)
    _, frame = used.packets(1)[0]
    sc.send(traffic.flip_icv(frame))
    conf, out_pcap, prefix = gateway.prepare(sc.dep, workdir, sc.frames)
    so = open(os.path.join(workdir, "spigate.stdout"), "w+")
    se = open(os.path.join(workdir, "spigate.stderr"), "w+")
    proc = subprocess.Popen([spigate_bin, "-f", conf], cwd=workdir, stdout=so,
                            stderr=se, stdin=subprocess.DEVNULL)
    sock = os.path.join("/var/run/dpdk", prefix, "dpdk_telemetry.v2")
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert proc.poll() is None, "spigate exited early"
            if os.path.exists(sock):
                try:
                    if query(prefix, "/spigate/stats")["rx"] == len(sc.frames):
                        break
                except (AssertionError, subprocess.TimeoutExpired, ValueError, TypeError):
                    # a null reply: the command not answering yet at start
                    pass
            time.sleep(0.3)
        else:
            pytest.fail("telemetry never showed all %d packets" % len(sc.frames))
        yield sc, used, proc, prefix, out_pcap, so
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        so.close()
        se.close()
        subprocess.run(["rm", "-rf", os.path.join("/var/run/dpdk", prefix)])


def test_telemetry_and_sigterm(running):
    sc, used, proc, prefix, out_pcap, so = running
    n = len(sc.frames)

    info = query(prefix, "/spigate/info")
    assert info["version"]
    assert info["uptime_s"] >= 0
    assert info["lcores"] == {"0": "ce", "1": "cfe+dfe"}
    # cpu crypto: intel-ipsec-mb's code of the DFEs (docs/architecture.md)
    assert info["crypto_mode"] == "cpu"
    assert info["cpu_crypto_aes"] in ("sse", "avx", "avx2", "avx512"), info
    assert info["cpu_crypto_sha"] in (info["cpu_crypto_aes"],
                                      "sse+sha-ext"), info
    with open("/proc/cpuinfo") as f:
        flags = f.read()
    if " sha_ni" not in flags:
        assert info["cpu_crypto_sha"] == info["cpu_crypto_aes"], info
    # inbound AES-CBC apart from the HMAC, from 512 bytes, exactly when the
    # HMAC is on the SSE manager and AVX-512 has VAES (lib/dfe/dfe_cbc.c)
    split = (info["cpu_crypto_sha"] == "sse+sha-ext"
             and info["cpu_crypto_aes"] == "avx512" and " vaes" in flags)
    assert info["cpu_crypto_cbc_split"] == (512 if split else 0), info

    st = query(prefix, "/spigate/stats")
    for k in ("rx", "tx", "decrypted", "encrypted", "bypassed", "punted",
              "held", "reinjected"):
        assert k in st, k
    assert st["rx"] == n and st["decrypted"] == n - 1 and st["tx"] == n - 1
    assert set(CONTRACT_DROPS) <= set(st["drop"])
    assert {k: v for k, v in st["drop"].items() if v} == {"auth_failed": 1}

    lc = query(prefix, "/spigate/lcores")
    assert lc["1"]["role"] == "cfe+dfe" and lc["1"]["packets"] == n
    assert lc["1"]["cycles_per_packet"] > 0
    assert lc["1"]["dfe"] == 0 and lc["1"]["sas"] == 2
    assert "dfe" not in lc["0"] and "sas" not in lc["0"]
    # a CFE's backpressure waits; a few packets never fill a ring
    assert lc["1"]["rx_waits"] == 0 and "rx_waits" not in lc["0"]
    assert info["sa_placement"] == "balanced"

    sl = query(prefix, "/spigate/sa/list")
    assert sl["total"] == 2
    states = {k: v["state"] for k, v in sl.items() if isinstance(v, dict)}
    assert states == {"0x%08x/in" % s.spi: "installed" for s in sc.dep.sas}

    si = query(prefix, "/spigate/sa/info,%#x" % used.spi)
    assert si["state"] == "installed" and si["dir"] == "in"
    assert si["packets"] == n - 1 and si["last_seq"] == n - 1
    assert si["drop"] == {"auth_failed": 1}
    assert si["dfe"] == 0 and si["dfe_lcore"] == 1
    assert "error" in query(prefix, "/spigate/sa/info,0xdead0001")
    assert "error" in query(prefix, "/spigate/sa/info,zz")
    assert "error" in query(prefix, "/spigate/sa/info")

    ports = query(prefix, "/spigate/ports")
    assert ports["wan0"]["role"] == "unprotected" and ports["lan0"]["role"] == "protected"
    assert ports["wan0"]["rx_packets"] == n
    assert ports["lan0"]["tx_packets"] == n - 1

    ev = query(prefix, "/spigate/events")
    types = [v["type"] for k, v in ev.items() if isinstance(v, dict)]
    assert ev["total"] == 2 and sorted(types) == ["sa-installed", "sa-installed"]

    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=15) == 0
    so.seek(0)
    out = so.read()
    assert "spigate: rx %d tx %d decrypted %d" % (n, n - 1, n - 1) in out, out
    got = gateway.read_pcap(out_pcap)
    sc.expected.check(got)


def _hammer(sock_path, cmds, replies, stop):
    """One telemetry client: the commands in turn, as fast as the gateway
    answers, until the socket closes (the process exited) or stop is set."""
    import socket
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    try:
        s.connect(sock_path)
        s.recv(1024)                           # the server's greeting
        k = 0
        while not stop.is_set():
            cmd = cmds[k % len(cmds)]
            k += 1
            s.send(cmd.encode())
            r = s.recv(1 << 20)
            if not r:
                return
            replies.append((cmd, json.loads(r)))
    except (ConnectionError, OSError):
        return
    finally:
        s.close()


def test_queries_while_stopping(spigate_bin, workdir, seed_rng):
    """Telemetry clients querying without pause while the gateway stops:
    ce_destroy() frees what the commands read (the per-lcore blocks, the SA
    table), so from its first step on they answer {"error": "spigate is
    stopping"} instead of reading it. Every reply is either whole data or
    that error, the gateway exits 0, and over a few stops the clients see
    the error (the teardown of 400 SAs takes long enough for their loops)."""
    import threading
    from sgtest import live
    sc = Scenario(rng=seed_rng)
    flows = [sc.flow(i, GCM, "4in4", install="eager") for i in range(400)]
    sc.send_valid(flows[0], 4)
    cmds = ["/spigate/lcores", "/spigate/stats", "/spigate/sa/list", "/spigate/info",
            "/spigate/sa/info,%#x" % flows[1].spi, "/spigate/ports", "/spigate/events"]
    stopping = 0
    for attempt in range(5):
        replies, threads, stop = [], [], threading.Event()
        try:
            with live.Live(sc.dep, sc.frames, workdir, spigate_bin) as g:
                g.wait_stats(lambda st: st["decrypted"] == 4)
                for _ in range(3):
                    t = threading.Thread(target=_hammer, args=(g.sock, cmds, replies, stop))
                    t.start()
                    threads.append(t)
                time.sleep(0.3)
                assert g.stop(timeout=30).returncode == 0
        finally:
            stop.set()
            for t in threads:
                t.join(timeout=10)
        assert replies, "no reply before the stop"
        for cmd, r in replies:
            body = r[cmd.split(",")[0]]
            if body == {"error": "spigate is stopping"}:
                stopping += 1
                continue
            if cmd == "/spigate/stats":
                assert body["rx"] == 4 and body["decrypted"] == 4, body
            elif cmd == "/spigate/lcores":
                assert body["1"]["role"] == "cfe+dfe" and body["1"]["sas"] == 400, body
            elif cmd == "/spigate/sa/list":
                assert body["total"] == 400, body
            elif cmd.startswith("/spigate/sa/info"):
                assert body["state"] == "installed" and body["spi"], body
            elif cmd == "/spigate/info":
                assert body["lcores"] == {"0": "ce", "1": "cfe+dfe"}, body
            elif cmd == "/spigate/ports":
                assert set(body) == {"wan0", "lan0"}, body
            else:
                assert body["total"] == 400, body
        if stopping:
            break
    assert stopping > 0, "no query answered 'spigate is stopping' in %d stops" % (attempt + 1)
