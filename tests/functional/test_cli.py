"""Command line and configuration as CONTRACT.md states them: --check on
the configurations this suite generates (so a test failing later is not a
config-format misunderstanding), and exit status 2 with PATH:LINE on an
invalid one."""

import re

import pytest

from sgtest import gateway, topo
from sgtest.sa import MATRIX_ALGOS
from sgtest.scenario import Scenario

pytestmark = pytest.mark.cli


def full_scenario(rng, layout="shared", crypto="cpu"):
    sc = Scenario(layout=layout, crypto=crypto, rng=rng)
    i = 0
    for algo in MATRIX_ALGOS:
        for mode in topo.MODES:
            sc.flow(i, algo, mode, natt=False, esn=(i % 5 == 0),
                    install="eager" if i % 3 == 0 else None)
            i += 1
        sc.flow(i, algo, "4in4", natt=True)
        i += 1
    return sc


@pytest.mark.parametrize("layout,crypto", [("shared", "cpu"), ("split", "lookaside")])
def test_check_accepts_generated_config(layout, crypto, spigate_bin, workdir, seed_rng):
    sc = full_scenario(seed_rng, layout, crypto)
    rc, err = gateway.check_config(sc.dep, workdir, bin_path=spigate_bin)
    assert rc == 0, "spigate --check rejected a configuration this suite generates " \
        "(%s):\n%s" % (workdir, err)


def _line_of(path, needle):
    for n, line in enumerate(open(path), 1):
        if needle in line:
            return n
    raise AssertionError("%r not in %s" % (needle, path))


def test_check_rejects_bad_algorithm(spigate_bin, workdir, seed_rng):
    sc = Scenario(rng=seed_rng)
    sc.flow(0, "aes-128-gcm", "4in4")
    conf, _, _ = gateway.prepare(sc.dep, workdir, [])
    pol = conf.replace("gateway.conf", "policy.yaml")
    text = open(pol).read().replace("aead: aes-128-gcm", "aead: aes-999-gcm")
    open(pol, "w").write(text)
    line = _line_of(pol, "aes-999-gcm")
    import subprocess
    p = subprocess.run([spigate_bin, "--check", "-f", conf], capture_output=True,
                       timeout=30, cwd=workdir)
    err = p.stderr.decode(errors="replace")
    assert p.returncode == 2, "exit %d, stderr:\n%s" % (p.returncode, err)
    assert re.search(r"policy\.yaml:%d: " % line, err), \
        "no 'policy.yaml:%d: message' in stderr:\n%s" % (line, err)


def test_check_rejects_bad_crypto_mode(spigate_bin, workdir, seed_rng):
    sc = Scenario(rng=seed_rng)
    sc.flow(0, "aes-128-gcm", "4in4")
    conf, _, _ = gateway.prepare(sc.dep, workdir, [])
    text = open(conf).read().replace('mode = "cpu"', 'mode = "warp-drive"')
    open(conf, "w").write(text)
    line = _line_of(conf, "warp-drive")
    import subprocess
    p = subprocess.run([spigate_bin, "--check", "-f", conf], capture_output=True,
                       timeout=30, cwd=workdir)
    err = p.stderr.decode(errors="replace")
    assert p.returncode == 2, "exit %d, stderr:\n%s" % (p.returncode, err)
    assert re.search(r"gateway\.conf:%d: " % line, err), \
        "no 'gateway.conf:%d: message' in stderr:\n%s" % (line, err)
