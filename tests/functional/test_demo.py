"""The bundled demo (config/demo) end to end, in a scratch copy: the demo's
own deployment file and policy database, the traffic scripts/gen-demo.py
generates, the real binary; every decrypted packet out exactly, and the
counters equal to the manifest's."""

import json
import os
import re
import shutil

import pytest

from sgtest import demo, gateway

REPO = gateway.REPO


@pytest.mark.demo
def test_demo_end_to_end(spigate_bin, tmp_path):
    d = tmp_path / "config" / "demo"
    (d / "out").mkdir(parents=True)
    conf_text = (open(os.path.join(REPO, "config/demo/gateway.conf")).read())
    prefix = "sgtdemo%d" % os.getpid()
    conf_text, n = re.subn(r'"--file-prefix",\s*"[^"]*"', '"--file-prefix", "%s"' % prefix,
                           conf_text)
    assert n == 1, "config/demo/gateway.conf has no --file-prefix"
    conf_text = re.sub(r"telemetry\s*=\s*true", "telemetry = false", conf_text)
    (d / "gateway.conf").write_text(conf_text)
    shutil.copy(os.path.join(REPO, "config/demo/policy.yaml"), d / "policy.yaml")

    frames, expected, manifest = demo.build(str(d / "gateway.conf"))
    gateway.write_pcap(str(d / "traffic.pcap"), frames)

    cmd = [spigate_bin, "-f", "config/demo/gateway.conf", "--exit-idle", "500",
           "--stats-out", "config/demo/out/stats.json"]
    res = gateway.execute(cmd, str(tmp_path), str(d / "out" / "stats.json"),
                          str(d / "out" / "decrypted.pcap"), prefix)
    res.assert_ok()
    expected.check(res.frames, context=res.describe())
    text, ok = demo.summary(res.stats, manifest)
    assert ok, text + "\n" + res.describe()


@pytest.mark.demo
def test_demo_config_checks(spigate_bin):
    """spigate --check accepts the shipped demo deployment as is."""
    import subprocess
    p = subprocess.run([spigate_bin, "--check", "-f", "config/demo/gateway.conf"],
                       cwd=REPO, capture_output=True, timeout=30)
    assert p.returncode == 0, p.stderr.decode(errors="replace")


@pytest.mark.tooling
def test_demo_traffic_is_consistent():
    """(No binary needed.) The demo traffic opens with the demo keys and the
    manifest adds up."""
    frames, expected, manifest = demo.build(os.path.join(REPO, "config/demo/gateway.conf"))
    e = manifest["expected"]
    assert e["rx"] == len(frames)
    assert e["tx"] == expected.count() == sum(p["packets"] for p in manifest["peers"])
    assert e["rx"] == e["tx"] + sum(e["drop"].values())
    json.dumps(manifest)
