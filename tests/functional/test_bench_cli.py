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
