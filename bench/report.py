"""Results of a bench run: CSV, markdown, gnuplot charts, and the block of
docs/PERFORMANCE.md between the markers of the run's kind (quick / full).

Definitions (docs/PERFORMANCE.md, "Method"):
- Mpps: decrypted (inbound) or encrypted (outbound) packets per second
  (spigate: /spigate/stats decrypted / encrypted; ipsec-secgw: /ethdev/stats
  opackets of its protected / unprotected port), median of the repetitions,
  [min..max].
- inner Gbps: Mpps x mean inner IP packet size x 8.
- cycles/pkt: TSC cycles of all worker CPUs per packet = workers x TSC Hz /
  packets per second (the workers poll without pause, so every cycle of
  their CPUs is spent on the traffic).
- rig limit, per worker core: crypto-perf cycles/op (same algorithm, same
  ESP payload size, one lcore) + testpmd io cycles/pkt (same pcap -> null
  rig, one forwarding lcore); limit Mpps = workers x TSC Hz / limit cycles.
"""

import csv
import datetime
import json
import os
import platform
import re
import statistics
import subprocess

import gen_traffic as gt

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
DOC = os.path.join(ROOT, "docs", "PERFORMANCE.md")


DISTURBED = 0.15     # CPU used by other processes during a window


def cpuinfo_hz():
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("cpu MHz"):
                return float(line.split(":")[1]) * 1e6
    return None


def med(v):
    v = [x for x in v if x is not None]
    return statistics.median(v) if v else None


def f2(x, nd=2):
    return "-" if x is None else ("%%.%df" % nd) % x


def sh(cmd):
    try:
        return subprocess.run(cmd, shell=True, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                              universal_newlines=True, timeout=30).stdout.strip()
    except Exception:
        return ""


def machine():
    m = {}
    ls = sh("lscpu")
    for k in ("Model name", "CPU(s)", "Thread(s) per core", "Core(s) per socket", "Socket(s)",
              "Hypervisor vendor", "L1d cache", "L2 cache", "L3 cache", "CPU family", "Model",
              "Stepping"):
        mm = re.search(r"^%s:\s*(.*)$" % re.escape(k), ls, re.M)
        if mm:
            m[k] = mm.group(1).strip()
    flags = sh("grep -m1 '^flags' /proc/cpuinfo").split()
    m["crypto flags"] = " ".join(x for x in ("aes", "vaes", "vpclmulqdq", "avx2", "avx512f",
                                             "sha_ni", "constant_tsc", "nonstop_tsc")
                                 if x in flags)
    m["cpu MHz (/proc/cpuinfo)"] = sh("grep -m1 'cpu MHz' /proc/cpuinfo | cut -d: -f2").strip()
    m["memory"] = sh("grep MemTotal /proc/meminfo | awk '{printf \"%.1f GiB\", $2/1048576}'")
    m["hugepages"] = sh("grep HugePages_Total /proc/meminfo | awk '{print $2}'")
    m["kernel"] = platform.release()
    m["debian"] = sh("cat /etc/debian_version")
    m["DPDK"] = sh("pkg-config --modversion libdpdk") + " (dpdk " + \
        sh("dpkg-query -W -f='${Version}' dpdk") + ")"
    m["intel-ipsec-mb"] = sh("dpkg-query -W -f='${Version}' 'libipsec-mb1*' 2>/dev/null | head -1")
    m["gcc"] = sh("gcc -dumpfullversion")
    # "-dirty" for changes to the sources, not for what the run itself
    # rewrites (its results and the results section of PERFORMANCE.md)
    dirty = sh("git -C %s status --porcelain --untracked-files=no -- . "
               "':(exclude)bench/results' ':(exclude)docs/PERFORMANCE.md'" % ROOT)
    m["spigate"] = sh("git -C %s rev-parse --short HEAD" % ROOT) + \
        ("-dirty" if dirty else "") + " (" + \
        sh("git -C %s log -1 --format=%%cd --date=iso" % ROOT) + ")"
    return m


def save_machine(resdir):
    """The machine and versions of a run, taken as it starts (the commit
    measured), into the results folder: the run's report and a later
    --report-only name these, never an earlier run's machine.json left in
    the folder (the quick folder kept naming its previous commit)."""
    m = machine()
    with open(os.path.join(resdir, "machine.json"), "w") as f:
        json.dump(m, f, indent=1)
    return m


def summarize(rows, res, fwd, cry, tsc):
    """Per row: medians of the undisturbed repetitions; the ratios are
    medians of per-repetition ratios (spigate and the peer run back to back,
    the limit in the same repetition), which cancels slow drifts of the
    machine."""
    out = []

    def by_rep(lst):
        return {r["rep"]: r for r in lst if "rep" in r}

    def ok(r):
        return (r is not None and r.get("mpps", r.get("cycles")) is not None
                and (r.get("foreign") or 0) < DISTURBED)

    for row in rows:
        S = by_rep(res.get((row.id, "spigate"), []))
        P = by_rep(res.get((row.id, "peer"), []))
        C = by_rep(cry.get((row.alg, row.size, row.dir), []))
        F = by_rep(fwd.get((row.alg, row.size, row.sas, row.dir), []))
        reps = sorted(set(S) | set(P))

        def pick(D):
            good = [r for r in D.values() if ok(r)]
            if good:
                return good, len([r for r in D.values() if r.get("mpps") is not None]) - len(good)
            return [r for r in D.values() if r.get("mpps") is not None], 0
        sres, s_excl = pick(S)
        pres, p_excl = pick(P)
        s = [r["mpps"] for r in sres]
        p = [r["mpps"] for r in pres]
        lim_rep, cyc_rep, fcyc_rep, crypto_rep = {}, {}, {}, {}
        for rep in set(C) & set(F):
            if C[rep].get("cycles") and F[rep].get("mpps"):
                fc = tsc / (F[rep]["mpps"] * 1e6)
                cyc_rep[rep] = C[rep]["cycles"] + fc
                fcyc_rep[rep], crypto_rep[rep] = fc, C[rep]["cycles"]
                lim_rep[rep] = row.workers * tsc / cyc_rep[rep] / 1e6
        lim_ok = [rep for rep in lim_rep if ok(C[rep]) and ok(F[rep])] or list(lim_rep)

        def paired(X, Y, clean_only=True):
            v = [X[r]["mpps"] / Y[r]["mpps"] for r in reps if r in X and r in Y
                 and X[r].get("mpps") and Y[r].get("mpps") and (not clean_only or
                                                              (ok(X[r]) and ok(Y[r])))]
            return v if v or not clean_only else paired(X, Y, False)

        def vs_limit(X):
            v = [X[r]["mpps"] / lim_rep[r] for r in reps if r in X and r in lim_rep
                 and X[r].get("mpps") and ok(X[r])]
            v = v or [X[r]["mpps"] / lim_rep[r] for r in reps if r in X and r in lim_rep
                      and X[r].get("mpps")]
            return med(v)
        busy = [r.get("busy_cpp") for r in sres]
        foreign = [r.get("foreign") or 0 for r in sres + pres]
        drops = {}
        for r in sres:
            for k, v in (r.get("drops") or {}).items():
                drops[k] = drops.get(k, 0) + v
        peer_lost = [r["drops"]["not forwarded (%)"] for r in pres if r.get("drops")]
        errors = sorted({r["error"] for r in list(S.values()) + list(P.values())
                         if r.get("error")})
        sm, pm = med(s), med(p)
        size = gt.mean_size(row.size)
        d = {"row": row, "spigate": sm, "spigate_min": min(s, default=None),
             "spigate_max": max(s, default=None),
             "peer": pm, "peer_min": min(p, default=None), "peer_max": max(p, default=None),
             "spigate_gbps": sm * size * 8 / 1000 if sm else None,
             "peer_gbps": pm * size * 8 / 1000 if pm else None,
             "spigate_cpp": row.workers * tsc / (sm * 1e6) if sm else None,
             "peer_cpp": row.workers * tsc / (pm * 1e6) if pm else None,
             "busy_cpp": med(busy),
             "crypto_cyc": med([crypto_rep[r] for r in lim_ok]),
             "fwd_cyc": med([fcyc_rep[r] for r in lim_ok]),
             "limit_cyc": med([cyc_rep[r] for r in lim_ok]),
             "limit": med([lim_rep[r] for r in lim_ok]),
             "ratio_peer": med(paired(S, P)),
             "ratio_limit": vs_limit(S), "peer_ratio_limit": vs_limit(P),
             "foreign": max(foreign) if foreign else 0, "drops": drops, "errors": errors,
             "peer_lost": max(peer_lost) if peer_lost else None,
             "n": len(s), "excluded": s_excl + p_excl,
             "spigate_ready": med([r.get("ready_s") for r in sres]),
             "peer_ready": med([r.get("ready_s") for r in pres]),
             "spigate_rss": med([r.get("rss_mb") for r in sres]),
             "peer_rss": med([r.get("rss_mb") for r in pres]),
             "xcore": [x for r in sres + pres for x in r.get("xcore") or []],
             "placement": by_placement(sres, pres)}
        out.append(d)
    return out


# bench/xcore.c: a cache line's round trip between CPU 0 and CPU 1 reads
# about 200-320 cycles when the host places the two vCPUs close together and
# about 950-1,100 when it places them far apart (docs/PERFORMANCE.md, Two
# cores); a measurement is "close" or "far" when the probe before and the
# one after it agree, else "mixed"
XCORE_FAR = 600


def placement(r):
    x = [v for v in r.get("xcore") or [] if v is not None]
    if not x:
        return None
    if all(v < XCORE_FAR for v in x):
        return "close"
    if all(v >= XCORE_FAR for v in x):
        return "far"
    return "mixed"


def by_placement(sres, pres):
    """'close: spigate 16.40 (2), ipsec-secgw 11.74 (1); far: ...': medians
    of the measurements in each vCPU placement, with their count."""
    parts = []
    for pl in ("close", "far", "mixed"):
        s = [r["mpps"] for r in sres if placement(r) == pl]
        p = [r["mpps"] for r in pres if placement(r) == pl]
        if not s and not p:
            continue
        parts.append("%s: spigate %s, ipsec-secgw %s" % (
            pl, "%s (%d)" % (f2(med(s)), len(s)) if s else "-",
            "%s (%d)" % (f2(med(p)), len(p)) if p else "-"))
    return "; ".join(parts)


def mm(d, k):
    if d[k] is None:
        return "-"
    if d["%s_min" % k] is None or d["%s_max" % k] == d["%s_min" % k]:
        return f2(d[k])
    return "%s [%s..%s]" % (f2(d[k]), f2(d["%s_min" % k]), f2(d["%s_max" % k]))


SIZE_LABEL = {"64": "64", "512": "512", "1420": "1420", "imix": "IMIX"}
ALG_LABEL = {"gcm128": "AES-128-GCM", "gcm256": "AES-256-GCM", "cbc128-sha256": "AES-128-CBC+SHA256"}


def table_md(summary):
    h = ("| dir | algorithm | inner B | SAs | crypto | workers | spigate Mpps [min..max] | "
         "ipsec-secgw Mpps [min..max] | spigate / ipsec-secgw | rig limit Mpps | "
         "spigate / limit | ipsec-secgw / limit | spigate Gbps | ipsec-secgw Gbps | "
         "spigate cyc/pkt | ipsec-secgw cyc/pkt | limit cyc/pkt (crypto + fwd) | notes |")
    lines = [h, "|" + "---|" * (h.count("|") - 1)]
    for d in summary:
        r = d["row"]
        notes = []
        if r.rx_queues():
            notes.append("each RX queue replays %s" % r.rx_queues())
        if d["busy_cpp"]:
            notes.append("busy %s cyc/pkt" % f2(d["busy_cpp"], 0))
        if d["drops"]:
            notes.append("spigate drops: " + ", ".join("%s %d" % kv
                                                       for kv in sorted(d["drops"].items())))
        if d["peer_lost"]:
            notes.append("ipsec-secgw forwarded %.1f%% less than it received" % d["peer_lost"])
        if d["foreign"] >= DISTURBED:
            notes.append("disturbed: other load up to %.2f CPU" % d["foreign"])
        if d["excluded"]:
            notes.append("%d disturbed measurement(s) left out" % d["excluded"])
        if d.get("xcore"):
            notes.append("CPU 0-1 round trip %.0f..%.0f cycles" % (min(d["xcore"]),
                                                                   max(d["xcore"])))
        if d.get("placement"):
            notes.append("Mpps by vCPU placement: " + d["placement"])
        notes += ["error: " + e for e in d["errors"]]
        lines.append("| %s | %s | %s | %s | %s | %d | %s | %s | %s | %s | %s | %s | %s | %s | "
                     "%s | %s | %s | %s |" % (
                         r.dir, ALG_LABEL[r.alg], SIZE_LABEL[r.size], "{:,}".format(r.sas),
                         r.mode, r.workers, mm(d, "spigate"), mm(d, "peer"),
                         f2(d["ratio_peer"]), f2(d["limit"]), f2(d["ratio_limit"]),
                         f2(d["peer_ratio_limit"]), f2(d["spigate_gbps"]), f2(d["peer_gbps"]),
                         f2(d["spigate_cpp"], 0), f2(d["peer_cpp"], 0),
                         "%s (%s + %s)" % (f2(d["limit_cyc"], 0), f2(d["crypto_cyc"], 0),
                                           f2(d["fwd_cyc"], 0)) if d["limit_cyc"] else "-",
                         "; ".join(notes)))
    return "\n".join(lines)


def write_csv(path, summary):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["dir", "alg", "size", "sas", "mode", "workers", "reps",
                    "spigate_mpps", "spigate_min", "spigate_max", "peer_mpps", "peer_min",
                    "peer_max", "ratio_spigate_peer", "limit_mpps", "ratio_spigate_limit",
                    "ratio_peer_limit", "spigate_gbps", "peer_gbps", "spigate_cycles_per_pkt",
                    "peer_cycles_per_pkt", "spigate_busy_cycles_per_pkt", "crypto_cycles",
                    "fwd_cycles", "limit_cycles", "max_foreign_cpu", "spigate_drops", "errors",
                    "rx_queues"])
        for d in summary:
            r = d["row"]
            w.writerow([r.dir, r.alg, r.size, r.sas, r.mode, r.workers, d["n"]] + [
                f2(d[k], 4) if d[k] is not None else "" for k in (
                    "spigate", "spigate_min", "spigate_max", "peer", "peer_min", "peer_max",
                    "ratio_peer", "limit", "ratio_limit", "peer_ratio_limit", "spigate_gbps",
                    "peer_gbps", "spigate_cpp", "peer_cpp", "busy_cpp", "crypto_cyc",
                    "fwd_cyc", "limit_cyc", "foreign")] + [
                json.dumps(d["drops"]) if d["drops"] else "", "; ".join(d["errors"]),
                r.rx_queues()])


# ------------------------------------------------------------------ charts

def _gp_escape(s):
    return s.replace('"', '\\"')


def charts(resdir, summary, kind):
    """Two PNGs: Mpps against inner size (1 SA) and against SA count (64 B),
    one panel per algorithm, cpu crypto, one worker; spigate, ipsec-secgw
    and the rig limit, with min..max bars."""
    made = []
    dat = os.path.join(resdir, "chart-data")
    os.makedirs(dat, exist_ok=True)

    def series(pred, xkey):
        pts = {"spigate": [], "peer": [], "limit": []}
        for d in summary:
            r = d["row"]
            if not pred(r):
                continue
            x = xkey(r)
            if d["spigate"] is not None:
                pts["spigate"].append((x, d["spigate"], d["spigate_min"], d["spigate_max"]))
            if d["peer"] is not None:
                pts["peer"].append((x, d["peer"], d["peer_min"], d["peer_max"]))
            if d["limit"] is not None:
                pts["limit"].append((x, d["limit"], d["limit"], d["limit"]))
        return {k: sorted(v) for k, v in pts.items()}

    for name, title, xlabel, pred_of, xkey, logx in (
        ("throughput-vs-size", "inbound, 1 SA, cpu crypto, one worker core", "inner packet size (bytes; IMIX = 7:4:1 of 64/512/1420, mean %.0f B)" % gt.mean_size("imix"),
         lambda alg: (lambda r: r.alg == alg and r.sas == 1 and r.mode == "cpu"
                      and r.workers == 1 and r.dir == "in"),
         lambda r: gt.mean_size(r.size), False),
        ("throughput-vs-sas", "inbound, 64 B, cpu crypto, one worker core", "SAs (traffic spread round-robin over all of them)",
         lambda alg: (lambda r: r.alg == alg and r.size == "64" and r.mode == "cpu"
                      and r.workers == 1 and r.dir == "in"),
         lambda r: r.sas, True),
    ):
        panels = []
        for alg in gt.ALGS:
            pts = series(pred_of(alg), xkey)
            if not any(pts.values()):
                continue
            files = {}
            for k, v in pts.items():
                fn = os.path.join(dat, "%s-%s-%s.dat" % (name, alg, k))
                with open(fn, "w") as f:
                    f.write("# x mpps min max\n")
                    for x, y, lo, hi in v:
                        f.write("%s %.4f %.4f %.4f\n" % (x, y, lo, hi))
                files[k] = (os.path.relpath(fn, resdir), len(v))
            panels.append((alg, files))
        if not panels:
            continue
        png = os.path.join(resdir, "%s.png" % name)
        gp = os.path.join(dat, "%s.gp" % name)
        w = 520 * len(panels)
        L = ['set terminal pngcairo size %d,460 font "DejaVu Sans,10"' % w,
             'set output "%s"' % os.path.basename(png),
             'set multiplot layout 1,%d title "%s (%s run)"' % (len(panels), _gp_escape(title), kind),
             'set grid', 'set key top right', 'set ylabel "Mpps (decrypted)"',
             'set xlabel "%s"' % _gp_escape(xlabel), 'set yrange [0:*]',
             'set offsets 0, 0, graph 0.22, 0']
        if logx:
            L += ['set logscale x', 'set xrange [0.5:300000]', 'set format x "10^{%L}"']
        else:
            L += ['set xrange [0:1500]',
                  'set xtics ("64" 64, "IMIX" %.0f, "512" 512, "1420" 1420)' % gt.mean_size("imix")]
        for alg, files in panels:
            L.append('set title "%s"' % ALG_LABEL[alg])
            plots = []
            style = {"spigate": ('lc rgb "#1f77b4" lw 2 pt 7', "spigate"),
                     "peer": ('lc rgb "#d62728" lw 2 pt 5', "ipsec-secgw"),
                     "limit": ('lc rgb "#555555" lw 1 dt 2 pt 1', "rig limit")}
            for k in ("spigate", "peer", "limit"):
                fn, n = files[k]
                if n == 0:
                    continue
                st, lab = style[k]
                if k == "limit":
                    plots.append('"%s" using 1:2 with linespoints %s title "%s"' % (fn, st, lab))
                else:
                    plots.append('"%s" using 1:2:3:4 with yerrorlines %s title "%s"'
                                 % (fn, st, lab))
            L.append("plot " + ", \\\n     ".join(plots))
        L.append("unset multiplot")
        with open(gp, "w") as f:
            f.write("\n".join(L) + "\n")
        # paths in the script are relative to the results folder
        r = subprocess.run(["gnuplot", os.path.relpath(gp, resdir)], cwd=resdir,
                           stderr=subprocess.PIPE, universal_newlines=True)
        if r.returncode == 0 and os.path.exists(png):
            made.append(png)
        else:
            print("report: gnuplot failed for %s: %s" % (name, r.stderr[-500:]))
    return made


# ------------------------------------------------------------------ extras

def extras_md(ext):
    L = []
    lazy = ext.get("lazy") or []
    if lazy:
        L.append("**Lazy install** (100,000 SAs, `install: lazy`, one capture touching every "
                 "SPI in turn, AES-128-GCM 64 B; SAs counted by `/spigate/events` `total` "
                 "polled every 10 ms):\n")
        L.append("| punt.rate (pkts/s per CFE) | SAs installed | SAs/s, 10%..90% | SAs/s, average "
                 "| all installed after | then Mpps | drops (totals) |")
        L.append("|---|---|---|---|---|---|---|")
        for r in lazy:
            if r.get("error"):
                L.append("| %s | error: %s | | | | | |" % ("{:,}".format(r["punt_rate"]),
                                                          r["error"]))
                continue
            L.append("| %s | %s | %s | %s | %s | %s | %s |" % (
                "{:,}".format(r["punt_rate"]) + (" (other load %.2f CPU)" % r["foreign"]
                                                 if r.get("foreign", 0) >= 0.15 else ""),
                "{:,}".format(r["installed"]),
                "{:,.0f}".format(r["rate_10_90"]) if r["rate_10_90"] else "-",
                "{:,.0f}".format(r["rate_avg"]) if r["rate_avg"] else "-",
                ("%.2f s" % r["seconds_all"]) if r["seconds_all"] else "not all",
                f2(r["after_mpps"]),
                ", ".join("%s %s" % (k, "{:,}".format(v)) for k, v in sorted(r["drops"].items()))))
        L.append("")
    fp = ext.get("first_packet")
    if fp:
        if fp.get("error"):
            L.append("**First-packet extra latency**: not measured: %s\n" % fp["error"])
        else:
            L.append("**First-packet extra latency** of a new lazily installed SA (%d new SAs, "
                     "%d measured; TX timestamps of net_pcap, %s resolution): median "
                     "**%.1f us**, 90th percentile %.1f us, min %.1f us, max %.1f us. Method: "
                     "the new SA's first packet against the packet of an installed SA that "
                     "arrived right after it (see Method).%s\n"
                     % (fp["new_sas"], fp["measured"],
                        "1 ns" if fp["resolution_ns"] == 1 else "1 us",
                        fp["median_us"], fp["p90_us"], fp["min_us"], fp["max_us"],
                        (" Other load during the run: %.2f CPU." % fp["foreign"])
                        if fp.get("foreign", 0) >= 0.15 else ""))
    mem = ext.get("memory")
    if mem:
        L.append("**Memory** with configured SAs (`install: lazy`, AES-128-GCM, one inbound "
                 "protect policy each, no traffic; `mbufs = 16384`):\n")
        L.append("| SAs | policy file MB | --check s | --check max RSS MB | start s (to "
                 "telemetry) | RSS MB | peak RSS MB | DPDK heap allocated MB | stop s | notes |")
        L.append("|---|---|---|---|---|---|---|---|---|---|")
        for r in mem:
            L.append("| %s | %.0f | %s | %s | %s | %s | %s | %s | %s | %s |" % (
                "{:,}".format(r["sas"]), r["policy_mb"], f2(r.get("check_s"), 1),
                f2(r.get("check_rss_mb"), 0), f2(r.get("start_s"), 1), f2(r.get("rss_mb"), 0),
                f2(r.get("hwm_mb"), 0),
                f2(r.get("heap_alloc_mb"), 0), f2(r.get("stop_s"), 1),
                "; ".join(x for x in (r.get("error", ""), r.get("note", ""),
                                      "" if r.get("rc") in (0, None) else
                                      "exit status %s" % r.get("rc")) if x)))
        L.append("")
    return "\n".join(L)


# ------------------------------------------------------------------ all outputs

def commands_md(commands, b):
    import shlex
    L = []
    for k in sorted(commands):
        argv, conf, text = commands[k]
        L.append("%s:\n\n```\n%s\n```\n" % (k, " ".join(shlex.quote(os.path.relpath(a, ROOT)
                                                                   if a.startswith(ROOT) else a)
                                                      for a in argv)))
        if text:
            L.append("with %s:\n\n```\n%s```\n" % (os.path.relpath(conf, ROOT),
                                                   text.replace(ROOT + "/", "")))
    return "\n".join(L)


def save_meta(resdir, kind, rows, reps, ext, tsc, commands, started, finished, b):
    """What --report-only needs besides raw.csv (run.json)."""
    meta = {"kind": kind, "rows": [[r.alg, r.size, r.sas, r.mode, r.workers, r.dir, r.steer]
                                   for r in rows],
            "reps": reps, "tsc": tsc, "started": started.isoformat(),
            "finished": finished.isoformat(), "warm": b.warm, "window": b.window,
            "disturbed": b.disturbed, "quiet_waited": b.quiet_waited,
            "commands": {k: [argv, conf, open(conf).read() if conf and os.path.exists(conf)
                             else None] for k, (argv, conf) in commands.items()}}
    with open(os.path.join(resdir, "run.json"), "w") as f:
        json.dump(meta, f, indent=1)
    with open(os.path.join(resdir, "extras.json"), "w") as f:
        json.dump(ext, f, indent=1, default=str)


def load_raw(resdir):
    """raw.csv back into the structures bench.py builds while measuring."""
    res, fwd, cry = {}, {}, {}
    with open(os.path.join(resdir, "raw.csv")) as f:
        for r in csv.DictReader(f):
            rep = int(r["rep"])
            d = {"rep": rep}
            for k, col in (("tsc_hz", "tsc_hz"), ("busy_cpp", "busy_cycles_per_pkt"),
                           ("ready_s", "ready_s"), ("foreign", "foreign_cpu"),
                           ("steal", "steal_cpu"), ("rss_mb", "rss_mb")):
                if r.get(col):
                    d[k] = float(r[col])
            if r.get("xcore_cycles"):
                d["xcore"] = [float(x) for x in r["xcore_cycles"].split("/")]
            val = float(r["value"]) if r["value"] else None
            notes = r.get("notes") or ""
            if notes.startswith("{"):
                d["drops"] = json.loads(notes)
            elif notes:
                d["error"] = notes
            dr = r.get("dir") or "in"
            if r["impl"] == "crypto-perf":
                d["cycles"] = val
                cry.setdefault((r["alg"], r["size"], dr), []).append(d)
            elif r["impl"] == "testpmd-io":
                d["mpps"] = val
                fwd.setdefault((r["alg"], r["size"], int(r["sas"]), dr), []).append(d)
            else:
                d["mpps"] = val
                res.setdefault((r["row"], r["impl"]), []).append(d)
    # IMIX crypto: the 7:4:1 average of the sizes, per repetition
    for alg, dr in {(a, d) for a, _, d in cry}:
        parts = [(alg, str(x), dr) for x in gt.IMIX]
        if all(p in cry for p in parts):
            reps = set.intersection(*[{d["rep"] for d in cry[p]} for p in parts])
            for rep in sorted(reps):
                ds = [next(d for d in cry[p] if d["rep"] == rep) for p in parts]
                cry.setdefault((alg, "imix", dr), []).append(
                    {"rep": rep, "cycles": sum(d["cycles"] for d in ds) / len(ds),
                     "foreign": max(d.get("foreign", 0) for d in ds)})
    return res, fwd, cry


def write_all(resdir, kind, rows, reps, res, fwd, cry, ext, tsc, commands, started, finished,
              b, write_docs=True, mach=None):
    """mach: the machine and versions of the run (--report-only passes the
    folder's machine.json, so that the commit measured stays named)."""
    summary = summarize(rows, res, fwd, cry, tsc)
    write_csv(os.path.join(resdir, "results.csv"), summary)
    mach = mach or machine()
    pngs = charts(resdir, summary, kind)
    md = []
    md.append("Run: **%s** (`make bench%s`), %s to %s UTC, %d rows x %d repetitions "
              "(warm-up %.0f s, window %.0f s per measurement), spigate %s."
              % (kind, " QUICK=1" if kind == "quick" else "",
                 started.strftime("%Y-%m-%d %H:%M"), finished.strftime("%H:%M"), len(rows), reps,
                 b.warm, b.window, mach.get("spigate", "")))
    md.append("TSC: %.4f GHz, calibrated from spigate's lcore cycle counters over the "
              "measurement windows (/proc/cpuinfo says %s MHz). Measurements disturbed by "
              "other work on the box after retries: %d; time spent waiting for a quiet box: "
              "%.0f s.\n" % (tsc / 1e9, mach.get("cpu MHz (/proc/cpuinfo)", "?"), b.disturbed,
                            b.quiet_waited))
    md.append(table_md(summary))
    md.append("")
    big = [d for d in summary if d["row"].sas > 1]
    if big:
        md.append("Start (process start to the first decrypted or encrypted packet, every SA "
                  "installed eagerly; two workers with each RX queue replaying its half of the "
                  "SAs: spigate's SAs are lazy, installed on their first packet) and RSS "
                  "during the window, rows with many SAs (medians):\n")
        md.append("| row | spigate start s | ipsec-secgw start s | spigate RSS MB | "
                  "ipsec-secgw RSS MB |")
        md.append("|---|---|---|---|---|")
        for d in big:
            md.append("| %s | %s | %s | %s | %s |" % (
                d["row"].label(), f2(d["spigate_ready"], 1), f2(d["peer_ready"], 1),
                f2(d["spigate_rss"], 0), f2(d["peer_rss"], 0)))
        md.append("")
    for p in pngs:
        rel = os.path.relpath(p, os.path.dirname(DOC))
        md.append("![%s](%s)\n" % (os.path.basename(p)[:-4], rel))
    md.append(extras_md(ext))
    md.append("<details><summary>Machine</summary>\n\n| | |\n|---|---|")
    for k, v in mach.items():
        md.append("| %s | %s |" % (k, v))
    md.append("\n</details>\n")
    md.append("<details><summary>Exact commands of this run (first of each kind)</summary>\n")
    md.append(commands_md(commands, b))
    md.append("</details>\n")
    text = "\n".join(md)
    with open(os.path.join(resdir, "results.md"), "w") as f:
        f.write(text + "\n")
    with open(os.path.join(resdir, "machine.json"), "w") as f:
        json.dump(mach, f, indent=1)
    if write_docs:
        update_doc(kind, text)


def update_doc(kind, text):
    begin = "<!-- bench:%s:begin (written by bench/report.py) -->" % kind
    end = "<!-- bench:%s:end -->" % kind
    if os.path.exists(DOC):
        with open(DOC) as f:
            doc = f.read()
    else:
        doc = "# Performance\n\n"
    block = "%s\n%s\n%s" % (begin, text, end)
    if begin in doc and end in doc[doc.index(begin):]:
        a = doc.index(begin)
        z = doc.index(end, a) + len(end)
        doc = doc[:a] + block + doc[z:]
    else:
        doc = doc.rstrip() + "\n\n" + block + "\n"
    with open(DOC + ".tmp", "w") as f:
        f.write(doc)
    os.replace(DOC + ".tmp", DOC)
