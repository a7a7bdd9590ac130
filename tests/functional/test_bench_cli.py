"""The bench's own input checks (bench/bench.py), no measurement run.

What a wrong invocation of `make bench` gets: a clear error and exit 1
before anything is built or started, and no results folder written
(a row filter that matched nothing used to write an empty report over
the committed quick results). The hugepage check says what is missing.
"""

import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BENCH = os.path.join(ROOT, "bench", "bench.py")


def run_bench(*args):
    return subprocess.run(["/usr/bin/python3", BENCH] + list(args), cwd=ROOT,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, timeout=120)


@pytest.mark.parametrize("extra", [[], ["--quick"], ["--huge"]])
def test_rows_matching_nothing(tmp_path, extra):
    res = tmp_path / "results"
    r = run_bench("--rows", "no-such-row", "--results", str(res), *extra)
    assert r.returncode == 1
    assert "no row matches --rows 'no-such-row'" in r.stderr
    assert not res.exists()


def test_huge_check_names_what_is_missing():
    sys.path.insert(0, os.path.join(ROOT, "bench"))
    try:
        import bench
    finally:
        sys.path.pop(0)
    # more than any box has: either no hugetlbfs, or too few free pages
    err = bench.huge_check(10 ** 9)
    assert err is not None
    assert ("no hugetlbfs mounted" in err or
            ("MB of hugepages free, a row needs 1000000000 MB" in err and
             "/proc/sys/vm/nr_hugepages" in err))


def import_bench_module(name):
    sys.path.insert(0, os.path.join(ROOT, "bench"))
    try:
        return __import__(name)
    finally:
        sys.path.pop(0)


def test_placement_split_by_probe():
    """Two-worker measurements are told apart by the cross-core probe
    before and after each (bench/report.py): both below 600 cycles close,
    both at or above far, one of each mixed; no probe, no placement."""
    report = import_bench_module("report")
    assert report.placement({"xcore": [250.0, 310.0]}) == "close"
    assert report.placement({"xcore": [1000.0, 600.0]}) == "far"
    assert report.placement({"xcore": [250.0, 1000.0]}) == "mixed"
    assert report.placement({"xcore": [None, 1000.0]}) == "far"
    assert report.placement({}) is None
    assert report.placement({"xcore": [None, None]}) is None
    s = [{"mpps": 16.0, "xcore": [250.0, 260.0]}, {"mpps": 17.0, "xcore": [240.0, 300.0]},
         {"mpps": 12.0, "xcore": [1000.0, 990.0]}]
    p = [{"mpps": 11.0, "xcore": [250.0, 1000.0]}]
    assert report.by_placement(s, p) == ("close: spigate 16.50 (2), ipsec-secgw -; "
                                         "far: spigate 12.00 (1), ipsec-secgw -; "
                                         "mixed: spigate -, ipsec-secgw 11.00 (1)")
    assert report.by_placement([{"mpps": 9.0}], []) == ""


def test_report_only_keeps_the_commit_measured(tmp_path):
    """--report-only redoes a results folder's tables from its raw data;
    the commit named is the one measured (machine.json), not the tree's."""
    import json
    import shutil
    src = os.path.join(ROOT, "bench", "results", "steered-2w")
    res = tmp_path / "r"
    shutil.copytree(src, res)
    with open(res / "machine.json") as f:
        measured = json.load(f)["spigate"]
    r = run_bench("--report-only", "--no-docs", "--results", str(res))
    assert r.returncode == 0, r.stderr
    text = (res / "results.md").read_text()
    assert "spigate %s." % measured in text
    assert "Mpps by vCPU placement: close: spigate" in text


def test_a_run_names_its_own_commit(tmp_path):
    """A measuring run writes the machine and the commit it measures into
    its results folder as it starts (report.save_machine(), called by
    bench.py before the first row): the machine.json of an earlier run in
    the same folder, which the report reads, is replaced."""
    import json
    report = import_bench_module("report")
    (tmp_path / "machine.json").write_text(json.dumps({"spigate": "0000000 (old)"}))
    report.save_machine(str(tmp_path))
    head = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                          stdout=subprocess.PIPE, universal_newlines=True).stdout.strip()
    with open(tmp_path / "machine.json") as f:
        assert json.load(f)["spigate"].startswith(head)
    with open(BENCH) as f:
        src = f.read()
    assert src.index("report.save_machine(resdir)") < src.index("b.throughput(rows, reps")


def test_row_variants():
    """Two workers with many SAs: inbound rows are steered (each RX queue
    its half of the SAs) under their plain id; outbound has both, the
    steered one named so; every id of both matrices is unique, and rows
    with one worker or one SA have no variant."""
    bench = import_bench_module("bench")
    for quick in (False, True):
        ids = [r.id for r in bench.row_matrix(quick)]
        assert len(ids) == len(set(ids))
        assert "out-gcm128-64-1000sa-cpu-2w" in ids
        assert "out-gcm128-64-1000sa-cpu-2w-steered" in ids
        assert "in-gcm128-64-1000sa-cpu-2w" in ids
    R = bench.Row
    assert R("gcm128", "64", 1000, "cpu", 2).steered
    assert R("gcm128", "64", 1000, "cpu", 2).rx_queues() == "its half of the SAs"
    assert not R("gcm128", "64", 1000, "cpu", 2, "out").steered
    assert R("gcm128", "64", 1000, "cpu", 2, "out").rx_queues() == "the whole capture"
    assert R("gcm128", "64", 1000, "cpu", 2, "in", False).id == "in-gcm128-64-1000sa-cpu-2w-spread"
    st = R("gcm128", "64", 1000, "lookaside", 2, "out", True)
    assert st.steered and st.label() == "out gcm128 64B 1000SA lookaside 2w steered"
    for r in (R("gcm128", "64", 1, "cpu", 2, "out", True), R("gcm128", "64", 1000, "cpu", 1,
                                                            "out", True)):
        assert not r.steered and r.variant == "" and r.rx_queues() == ""
    # a run.json of before the variants (six fields): rows as then, no note
    old = bench.rows_of_meta([["gcm128", "64", 1000, "cpu", 2, "out"]])[0]
    assert old.id == "out-gcm128-64-1000sa-cpu-2w" and old.rx_queues() == ""
    new = bench.rows_of_meta([["gcm128", "64", 1000, "cpu", 2, "out", True]])[0]
    assert new.id == "out-gcm128-64-1000sa-cpu-2w-steered"


@pytest.mark.parametrize("direction", ["in", "out"])
def test_queue_captures_split_by_sa(tmp_path, monkeypatch, direction):
    """The steered rows' per-queue captures: SA i's packets on queue i % 2,
    in their order (inbound by SPI, outbound by inner destination); a frame
    of no SA of the bench is refused."""
    bench = import_bench_module("bench")
    gt, go = bench.gt, bench.go
    nsas, count = 4, 16
    frames = (go.build_frames("64", nsas, count) if direction == "out" else
              gt.build_frames("gcm128", "64", nsas, count))
    pcap = str(tmp_path / "cap.pcap")
    gt.write_pcap(pcap, frames)
    monkeypatch.setattr(bench, "traffic", lambda *a: (pcap, count))
    q0, q1 = bench.queue_captures("gcm128", "64", nsas, 2, direction)

    def sa(fr):
        if direction == "in":
            return int.from_bytes(fr[34:38], "big") - gt.SPI_BASE
        return int.from_bytes(fr[30:34], "big") - gt.INNER_NET
    got = [go.read_pcap(q0), go.read_pcap(q1)]
    assert [len(g) for g in got] == [count // 2, count // 2]
    for q in (0, 1):
        assert [sa(fr) for fr in got[q]] == [k % nsas for k in range(count) if k % nsas % 2 == q]
        assert got[q] == [fr for fr in frames if sa(fr) % 2 == q]
    # one frame of an SA the bench does not have: refused, named
    bad = bytearray(frames[0])
    if direction == "in":
        bad[34:38] = (gt.SPI_BASE + nsas).to_bytes(4, "big")
    else:
        bad[30:34] = (gt.INNER_NET + nsas).to_bytes(4, "big")
    gt.write_pcap(pcap, frames + [bytes(bad)])
    os.utime(pcap, (os.path.getmtime(q0) + 10,) * 2)
    with pytest.raises(bench.BenchError, match="a frame of no SA of the bench"):
        bench.queue_captures("gcm128", "64", nsas, 2, direction)
