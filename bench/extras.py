"""The bench's measurements beyond throughput (docs/PERFORMANCE.md):

- lazy_install: SAs installed per second while a capture touches 100,000
  new SPIs (spigate /spigate/events "total", polled every 10 ms, and the
  --progress lines);
- first_packet: the extra latency of a new SA's first packet, from the
  nanosecond TX timestamps net_pcap writes: the new SA's first packet
  against the packet of an installed SA that arrived right after it;
- memory: RSS (/proc) and DPDK heap (/eal/heap_info) of a started gateway
  with 1,000 .. 1,000,000 configured SAs, and the time --check and the start
  take.
"""

import os
import re
import struct
import subprocess
import time

import gen_traffic as gt
from lib_run import BenchError, Foreign, Proc, Telemetry

HUGE = 10 ** 12


def log(msg):
    from bench import log as blog
    blog(msg)


# ------------------------------------------------------------------ lazy install

def lazy_install(b, nsas=100000, punt_rate=None):
    from bench import traffic, uniq, wait_for
    pcap, count = traffic("gcm128", "64", nsas)
    prefix = uniq("lazy")
    extra = ""
    if punt_rate:
        extra = "punt = { rate = %d; burst = %d; };\n" % (punt_rate, min(punt_rate, 65536))
    conf = b.spigate_conf(prefix, pcap, count, nsas, "gcm128", "cpu", 1, install="lazy",
                          extra=extra)
    argv = [b.spigate, "-f", conf, "--progress"]
    progress = []

    def on_line(t, line):
        m = re.search(r"SAs installed (\d+)/(\d+)", line)
        if m:
            progress.append((t, int(m.group(1))))
    b.wait_quiet()
    fg = Foreign().start()
    p = Proc("spigate", argv, prefix, os.path.join(b.rundir, prefix, "log"), line_cb=on_line)
    samples = []
    tel = None
    try:
        tel = Telemetry(prefix, p, 120)
        # the socket is up at EAL init, spigate's commands a little later
        wait_for(lambda: tel.cmd("/spigate/events,%d" % HUGE) is not None, p, 120,
                 "before registering its telemetry")
        t_end = time.monotonic() + (40 if b.quick else 90)
        while time.monotonic() < t_end:
            n = tel.cmd("/spigate/events,%d" % HUGE)["total"]
            samples.append((time.monotonic(), n))
            if n >= nsas:
                break
            if not p.alive():
                raise BenchError("spigate exited:\n" + p.log_tail())
            time.sleep(0.01)
        time.sleep(1.0)
        s0, t0 = tel.cmd("/spigate/stats"), time.monotonic()
        time.sleep(1.0)
        s1, t1 = tel.cmd("/spigate/stats"), time.monotonic()
    finally:
        if tel:
            tel.close()
        p.stop()
    first = next((t for t, n in samples if n > 0), None)
    if first is None:
        raise BenchError("no SA was installed")
    final = samples[-1][1]

    def t_at(k):
        return next((t for t, n in samples if n >= k), None)
    t10, t90 = t_at(nsas * 0.1), t_at(nsas * 0.9)
    t_all = t_at(nsas)
    r = {"sas": nsas, "installed": final, "punt_rate": punt_rate or 10000,
         "seconds_all": (t_all - first) if t_all else None,
         "rate_avg": (final / (samples[-1][0] - first)) if samples[-1][0] > first else None,
         "rate_10_90": (0.8 * nsas / (t90 - t10)) if t10 and t90 and t90 > t10 else None,
         "progress_last": progress[-1][1] if progress else None,
         "after_mpps": (s1["decrypted"] - s0["decrypted"]) / (t1 - t0) / 1e6,
         "foreign": fg.stop(),
         "drops": {k: v for k, v in s1["drop"].items() if v}}
    return r


# ------------------------------------------------------------------ first-packet latency

def _latency_frames(k_new, gap, filler):
    """SA 0 (eager) flows; after every `gap` of its packets comes the first
    packet of a new lazily installed SA (1..k_new). Between any two useful
    packets, `filler` frames to another MAC (dropped by the CFE as
    not_for_us) space the traffic out so that no queue builds up.
    Every useful packet carries its index in the inner IP id."""
    tmpl = bytearray(gt.inner_template(64))
    eth = gt._mac(gt.GW_MAC) + gt._mac(gt.PEER_MAC) + b"\x08\x00"
    junk = gt._mac("02:00:00:00:77:77") + gt._mac(gt.PEER_MAC) + b"\x08\x00" + b"\0" * 86
    sealers = {}
    seq = {}
    frames, meta = [], []
    idx = 0

    def esp(i):
        nonlocal idx
        s = sealers.get(i)
        if s is None:
            s = sealers[i] = gt.Sealer("gcm128", i)
        seq[i] = seq.get(i, 0) + 1
        inner = bytearray(tmpl)
        inner[4:6] = struct.pack("!H", idx & 0xFFFF)
        inner[12:16] = struct.pack("!I", gt.INNER_NET + i)
        inner[10:12] = b"\0\0"
        inner[10:12] = struct.pack("!H", gt._csum(bytes(inner[:20])))
        e = s.seal(bytes(inner), seq[i], struct.pack("!QQ", i, seq[i]))
        frames.append(eth + gt._ipv4(gt.OUTER_SRC, gt.OUTER_DST, 50, len(e)) + e)
        meta.append((i, idx & 0xFFFF))
        idx += 1
        frames.extend([junk] * filler)

    for j in range(k_new):
        for _ in range(gap):
            esp(0)
        esp(j + 1)
    for _ in range(gap):
        esp(0)
    return frames, meta


def _read_pcap_ns(path):
    """[(t_ns, frame)] of a pcap written by net_pcap (nanosecond or
    microsecond)."""
    out = []
    with open(path, "rb") as f:
        hdr = f.read(24)
        magic = struct.unpack("<I", hdr[:4])[0]
        if magic == 0xA1B23C4D:
            mult = 1
        elif magic == 0xA1B2C3D4:
            mult = 1000
        else:
            raise BenchError("%s: unknown pcap magic %#x" % (path, magic))
        while True:
            h = f.read(16)
            if len(h) < 16:
                break
            sec, frac, incl, _ = struct.unpack("<IIII", h)
            out.append((sec * 10 ** 9 + frac * mult, f.read(incl)))
    return out, mult


def first_packet(b, k_new=None, gap=200, filler=9):
    from bench import uniq
    k_new = k_new or (50 if b.quick else 200)
    d = os.path.join(b.rundir, uniq("lat"))
    os.makedirs(d, exist_ok=True)
    frames, meta = _latency_frames(k_new, gap, filler)
    pcap = os.path.join(d, "in.pcap")
    gt.write_pcap(pcap, frames)
    # policy: SA 0 eager, 1..k_new lazy
    pol = gt.spigate_policy("gcm128", k_new + 1, "lazy").replace(
        "spi: %d, dir: in," % gt.spi_of(0), "spi: %d, dir: in," % gt.spi_of(0), 1)
    lines = pol.splitlines()
    for n, l in enumerate(lines):
        if ("spi: %d," % gt.spi_of(0)) in l and "install: lazy" in l:
            lines[n] = l.replace("install: lazy", "install: eager")
            break
    policy = os.path.join(d, "policy.yaml")
    with open(policy, "w") as f:
        f.write("\n".join(lines) + "\n")
    out = os.path.join(d, "out.pcap")
    prefix = os.path.basename(d)
    conf = b.spigate_conf(prefix, pcap, len(frames), k_new + 1, "gcm128", "cpu", 1,
                          rx_vdev="net_pcap0,rx_pcap=%s" % pcap,
                          tx_vdev="net_pcap1,tx_pcap=%s" % out, policy=policy,
                          mbufs=65536)
    argv = [b.spigate, "-f", conf, "--exit-idle", "300"]
    b.wait_quiet()
    fg = Foreign().start()
    p = Proc("spigate", argv, prefix, os.path.join(d, "log"))
    try:
        p.p.wait(120)
    except subprocess.TimeoutExpired:
        pass
    rc = p.stop()
    foreign = fg.stop()
    if rc != 0:
        raise BenchError("spigate exited %s:\n%s" % (rc, p.log_tail()))
    got, mult = _read_pcap_ns(out)
    when = {}
    for t, fr in got:
        ip = fr[14:34]
        src = struct.unpack("!I", ip[12:16])[0] - gt.INNER_NET
        ident = struct.unpack("!H", ip[4:6])[0]
        when[(src, ident)] = t
    extra = []
    order = []
    for pos, (i, ident) in enumerate(meta):
        if i != 0:
            # the next packet of SA 0 after the new SA's first packet
            nxt = meta[pos + 1]
            tb, ta = when.get((i, ident)), when.get(nxt)
            if tb is not None and ta is not None:
                extra.append((tb - ta) / 1000.0)
                # and how many SA-0 packets left before it
                order.append(sum(1 for q in meta[pos + 1:pos + 1 + gap]
                                 if when.get(q, 0) and when[q] < tb))
    if not extra:
        raise BenchError("no new SA's first packet came out (%d frames out)" % len(got))
    extra.sort()

    def pct(q):
        return extra[min(len(extra) - 1, int(q * len(extra)))]
    return {"new_sas": k_new, "measured": len(extra), "out_frames": len(got),
            "resolution_ns": mult, "median_us": pct(0.5), "p90_us": pct(0.9),
            "max_us": extra[-1], "min_us": extra[0],
            "overtaken_median": sorted(order)[len(order) // 2] if order else None,
            "foreign": foreign}


# ------------------------------------------------------------------ memory

def memory(b, counts):
    from bench import cached_text, uniq, wait_for
    rows = []
    for n in counts:
        policy = cached_text("spigate-gcm128-%d-lazy.yaml" % n,
                             lambda: gt.spigate_policy("gcm128", n, "lazy"))
        prefix = uniq("mem")
        d = os.path.join(b.rundir, prefix)
        os.makedirs(d, exist_ok=True)
        conf = b.spigate_conf(prefix, None, 0, n, "gcm128", "cpu", 1, policy=policy,
                              rx_vdev="net_null1,no-rx=1", tx_vdev="net_null0,no-rx=1",
                              mbufs=16384)
        # memory needed grows with the SA count: -m large enough, not touched
        # unless used (--no-huge memory is ordinary anonymous memory)
        with open(conf) as f:
            txt = f.read()
        txt = re.sub(r'"-m", "\d+"', '"-m", "%d"' % max(2048, n // 150 + 1024), txt)
        with open(conf, "w") as f:
            f.write(txt)
        r = {"sas": n, "policy_mb": os.path.getsize(policy) / 2 ** 20}
        b.wait_quiet()
        check_limit = 300.0
        t0 = time.monotonic()
        with open(os.path.join(d, "check.log"), "wb") as cl:
            c = subprocess.Popen([b.spigate, "--check", "-f", conf], stdout=cl,
                                 stderr=subprocess.STDOUT, start_new_session=True)
            while True:
                pid, status, ru = os.wait4(c.pid, os.WNOHANG)
                if pid:
                    break
                if time.monotonic() - t0 > check_limit:
                    os.killpg(c.pid, 9)
                    pid, status, ru = os.wait4(c.pid, 0)
                    break
                time.sleep(0.1)
        c.returncode = os.waitstatus_to_exitcode(status)
        r["check_s"] = time.monotonic() - t0
        r["check_rss_mb"] = ru.ru_maxrss / 1024.0
        r["check_ok"] = c.returncode == 0
        if c.returncode != 0:
            with open(os.path.join(d, "check.log"), errors="replace") as cl:
                last = (cl.read().strip().splitlines() or ["(no output)"])[-1]
            r["error"] = ("--check did not finish in %.0f s (killed)" % check_limit
                          if c.returncode == -9 else "--check: " + last[:200])
            log("  memory %7d SAs: %s" % (n, r["error"]))
            rows.append(r)
            continue
        p = Proc("spigate", [b.spigate, "-f", conf], prefix, os.path.join(d, "log"))
        tel = None
        try:
            from bench import start_timeout
            tel = Telemetry(prefix, p, start_timeout(n))
            wait_for(lambda: tel.cmd("/spigate/info") is not None, p, start_timeout(n),
                     "before registering its telemetry")
            r["start_s"] = time.monotonic() - p.t_start
            time.sleep(0.5)
            rss = p.rss_kb()
            r["rss_mb"] = rss.get("VmRSS", 0) / 1024.0
            r["hwm_mb"] = rss.get("VmHWM", 0) / 1024.0
            heaps = tel.cmd("/eal/heap_list") or {}
            ids = heaps.get("Heap_id", [0]) if isinstance(heaps, dict) else [0]
            alloc = total = 0
            for h in ids:
                hi = tel.cmd("/eal/heap_info,%d" % h) or {}
                alloc += int(hi.get("Alloc_size", 0))
                total += int(hi.get("Heap_size", 0))
            r["heap_alloc_mb"] = alloc / 2 ** 20
            r["heap_size_mb"] = total / 2 ** 20
            r["sa_total"] = (tel.cmd("/spigate/sa/list") or {}).get("total")
        except BenchError as e:
            r["error"] = "start: " + str(e).splitlines()[0][:200]
        finally:
            if tel:
                tel.close()
            t1 = time.monotonic()
            r["rc"] = p.stop(timeout=120)
            r["stop_s"] = time.monotonic() - t1
        rows.append(r)
        log("  memory %7d SAs: check %.1f s, start %s s, RSS %s MB, heap %s MB%s"
            % (n, r["check_s"], "%.1f" % r["start_s"] if "start_s" in r else "-",
               "%.0f" % r["rss_mb"] if "rss_mb" in r else "-",
               "%.0f" % r["heap_alloc_mb"] if "heap_alloc_mb" in r else "-",
               ("  " + r["error"]) if "error" in r else ""))
    return rows


def run_all(b, quick):
    out = {}
    log("extras: lazy install of 100,000 SAs")
    for rate in ([2000000] if quick else [None, 2000000]):
        try:
            r = lazy_install(b, 100000, rate)
            out.setdefault("lazy", []).append(r)
            log("  punt.rate %d: %d SAs installed, %s SAs/s (10%%..90%%), all in %s s, "
                "then %.2f Mpps" % (r["punt_rate"], r["installed"],
                                    "%.0f" % r["rate_10_90"] if r["rate_10_90"] else "-",
                                    "%.2f" % r["seconds_all"] if r["seconds_all"] else "-",
                                    r["after_mpps"]))
        except BenchError as e:
            log("  lazy install failed: %s" % e)
            out.setdefault("lazy", []).append({"error": str(e).splitlines()[0],
                                               "punt_rate": rate or 10000})
    log("extras: first-packet latency of a new SA")
    try:
        r = first_packet(b)
        out["first_packet"] = r
        log("  %d new SAs: extra latency median %.1f us, p90 %.1f us, max %.1f us"
            % (r["measured"], r["median_us"], r["p90_us"], r["max_us"]))
    except BenchError as e:
        log("  first-packet latency failed: %s" % e)
        out["first_packet"] = {"error": str(e).splitlines()[0]}
    log("extras: memory with many configured SAs")
    out["memory"] = memory(b, [1000, 10000, 100000] if quick else
                           [1000, 10000, 100000, 500000, 1000000])
    return out
