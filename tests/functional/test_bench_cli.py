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
