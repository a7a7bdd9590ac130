"""The direct crypto paths against lib/ipsec (docs/architecture.md, "The
direct crypto paths"): one scenario run twice, once with the path's
environment switch at "0" (lib/ipsec) and once without (direct)."""

import random
import re

import pytest

from . import SEED

PATHS = ("lib/ipsec", "direct")

# The CBC tests run their capture in cpu mode on each manager the
# HMAC-SHA-1/256 jobs can run on (lib/dfe/dfe_cbc.c, sha_engine()): the SSE
# one with the CPU's SHA extensions, while the SHA-384/512 jobs of the same
# bursts stay on the other; the one init_mb_mgr_auto() picks; and the one
# the start-up timing chooses; then in lookaside mode. With the HMAC on the
# SSE manager and AVX-512 with VAES, the inbound packets of at least 512
# bytes of ciphertext (the scenarios' 777- and 1300-byte inner packets) are
# decrypted on the AVX-512 one apart from their HMAC (split_init()).
CBC_MODES = {"cpu": None, "cpu-sha-sse": {"SPIGATE_CBC_SHA": "sse"},
             "cpu-sha-auto": {"SPIGATE_CBC_SHA": "auto"}, "lookaside": None}


def assert_sha_engine(runs, mode):
    """The direct path's run of a CBC_MODES mode used the engine it asks
    for, as spigate logs it at start."""
    with open("/proc/cpuinfo") as f:
        flags = f.read()
    shani, vaes = " sha_ni" in flags, " vaes" in flags
    for name in PATHS[1:]:
        log = runs[name][2].stdout + runs[name][2].stderr
        m = re.search(r"cpu crypto: intel-ipsec-mb (\w+); HMAC-SHA-1/256 on "
                      r"(\w+)( with the SHA extensions)?( \(timed: [^)]*\))?"
                      r"(; inbound AES-CBC of 512 bytes or more on (\w+), "
                      r"after the HMAC)?$", log, re.M)
        if mode == "lookaside":
            assert m is None, log
            continue
        assert m is not None, log
        aes, sha, ext, timed, split, split_on = m.groups()
        # decryption apart exactly where the HMAC left the AVX-512 manager
        assert (split is not None) == (sha == "sse" and aes == "avx512"
                                       and vaes), m.group(0)
        assert split_on in (None, aes), m.group(0)
        if mode == "cpu-sha-sse" and shani:
            assert (sha, ext, timed) == ("sse", " with the SHA extensions",
                                         None), m.group(0)
        elif mode == "cpu-sha-auto" or not shani or aes == "sse":
            # nothing to choose: one manager (the SSE one uses the SHA
            # extensions itself)
            assert sha == aes and timed is None, m.group(0)
        else:
            assert timed is not None and sha in (aes, "sse"), m.group(0)


def two_runs(build, switch, tag, spigate_bin, tmp_path_factory, crypto=None,
             env=None):
    """{path: (scenario, drops, result)}: build(rng) -> (scenario, drops)
    is called once per run with the same seed, so both runs get the same
    capture; `switch` is the environment variable (SPIGATE_DIRECT_GCM or
    SPIGATE_DIRECT_CBC). With `crypto` ("cpu" or "lookaside"), build(rng,
    crypto) and, in lookaside mode, a tag (seed and folder) of its own.
    `env`: more environment variables for both runs."""
    if crypto is not None:
        b, build = build, lambda rng: b(rng, crypto)
        if crypto != "cpu":
            tag += "_lksd"
    out = {}
    mp = pytest.MonkeyPatch()
    try:
        for k, v in (env or {}).items():
            mp.setenv(k, v)
            tag += "_" + v
        for name in PATHS:
            sc, drops = build(random.Random("%d/%s" % (SEED, tag)))
            if name == "direct":
                mp.delenv(switch, raising=False)
            else:
                mp.setenv(switch, "0")
            wd = str(tmp_path_factory.mktemp("%s_%s" % (tag, name.replace("/", "_"))))
            out[name] = (sc, drops, sc.run(wd, spigate_bin))
    finally:
        mp.undo()
    return out


def assert_inbound_exact(run):
    """Every valid packet out once, in order per SA, byte-exact (scapy's
    expectations); exactly the expected drops."""
    sc, drops, res = run
    sc.check(res)
    n = len(sc.frames)
    good = n - sum(drops.values())
    res.assert_counters(rx=n, tx=good, decrypted=good, only_drops=drops)


def count(drops, reason, n=1):
    drops[reason] = drops.get(reason, 0) + n


def send_bad(sc, f, drops, unaligned):
    """Every kind of bad inbound packet for flow f, then valid ones, into
    scenario sc; the drops they must produce added to `drops`.
    unaligned(f) -> a frame whose payload is not a whole number of the
    algorithm's units (4-byte words for GCM, blocks for CBC)."""
    from . import traffic
    _, fr = f.packets(1)[0]
    sc.send(traffic.flip_icv(fr))
    count(drops, "auth_failed")
    _, fr = f.packets(1)[0]
    sc.send(traffic.flip_ciphertext(fr, offset=f.sa.iv_len + 3))
    count(drops, "auth_failed")
    sc.send(unaligned(f))
    count(drops, "malformed")
    _, fr = f.packets(1)[0]
    sc.send(traffic.truncate_esp(fr, keep=4))
    count(drops, "malformed")
    sc.send(f.bad_padding_frame(f.inner(size=61)))
    count(drops, "malformed")
    sc.send(f.bad_padding_frame(f.inner(size=61), kind="length"))
    count(drops, "malformed")
    # valid ICV, but the next header names the other IP version
    wrong = 41 if f.inner_family == 4 else 4
    sc.send(f.frame_custom(f.inner(), next_header=wrong))
    count(drops, "malformed")
    nxt = f.next_seq
    sc.send(f.frame(f.inner(), seq=0))
    f.next_seq = nxt
    count(drops, "replay")
    valid = sc.send_valid(f, 2)
    sc.send(valid[0])
    count(drops, "replay")
    sc.send_valid(f, 2)         # still works after all that


def send_bad_long(sc, f, drops, size=1000):
    """send_bad()'s bad packets that carry a whole ciphertext, with `size`
    bytes of inner packet: on the direct CBC path these are decrypted apart
    from their HMAC where it splits them (512 bytes of ciphertext or more,
    lib/dfe/dfe_cbc.c). Then a valid one."""
    from . import traffic
    _, fr = f.packets(1, size=size)[0]
    sc.send(traffic.flip_icv(fr))
    count(drops, "auth_failed")
    _, fr = f.packets(1, size=size)[0]
    sc.send(traffic.flip_ciphertext(fr, offset=f.sa.iv_len + size // 2))
    count(drops, "auth_failed")
    sc.send(f.bad_padding_frame(f.inner(size=size + 1)))
    count(drops, "malformed")
    sc.send(f.bad_padding_frame(f.inner(size=size + 1), kind="length"))
    count(drops, "malformed")
    wrong = 41 if f.inner_family == 4 else 4
    sc.send(f.frame_custom(f.inner(size=size), next_header=wrong))
    count(drops, "malformed")
    sc.send_valid(f, 1)


def send_esn(sc, f, drops):
    """ESN across 2^32 for flow f (an ESN SA with a window of 64): six
    valid packets up to 2^32 + 70, then two that must fail their ICV."""
    frames = {}
    for seq in (1, 2**32 - 3, 2**32 - 1, 2**32, 2**32 + 5, 2**32 + 70):
        inner = f.inner()
        frames[seq] = f.frame(inner, seq=seq)
        sc.send(frames[seq])
        sc.expect(f.spi, inner)
    # 2^32 - 1 again: its low half is ahead of the top's (2^32 + 70), so it
    # is read as 2^33 - 1 (RFC 4303 A.2.2) and fails its ICV
    sc.send(frames[2**32 - 1])
    count(drops, "auth_failed")
    # a frame whose ESN high half is not the receiver's fails its ICV:
    # authenticated as 2^33 + 71, reconstructed as 2^32 + 71 (new, in the
    # window's subspace). In the same burst as the packet above, which
    # failed: a packet that did not authenticate must not move the high
    # half (it did, in the direct GCM path's first version).
    sc.send(f.frame(f.inner(), seq=2**33 + 71))
    count(drops, "auth_failed")


def assert_same_frames(xs, ys, where=""):
    """Two captures: the same frames, byte for byte, in the same order."""
    assert len(xs) == len(ys), where
    for k, (p, q) in enumerate(zip(xs, ys)):
        assert bytes(p) == bytes(q), "%s frame %d differs" % (where, k)


def assert_paths_reported(sc, want, direction, switch, spigate_bin, workdir,
                          monkeypatch):
    """sa-show's `crypto` of each SA of sc: want = {spi: f(switched)} with
    f(False) the path by default and f(True) the path with switch=0."""
    from . import control
    for off in (False, True):
        if off:
            monkeypatch.setenv(switch, "0")
        else:
            monkeypatch.delenv(switch, raising=False)
        wd = workdir + ("/env0" if off else "/default")
        with control.Running(sc.dep, [], wd, spigate_bin) as g:
            for spi, path in want.items():
                r = g.request({"op": "sa-show", "spi": spi, "dir": direction})
                assert r["ok"], r
                assert r["sa"]["crypto"] == path(off), (hex(spi), r["sa"])
            g.stop()


# Outbound: the direct paths' captures (test_direct_gcm_out.py,
# test_direct_cbc_out.py). Tunnel shapes (mode, natt, esn); wan0's MTU for
# the MTU edge and pre-fragmentation; wan1's, for frames as large as an
# mbuf; the mbuf's data room (RTE_MBUF_DEFAULT_DATAROOM), the frame and
# what ESP appends.
OUT_SHAPES = (("4in4", False, False), ("6in6", False, False), ("4in6", False, False),
              ("6in4", False, False), ("4in4", True, False), ("6in4", True, False),
              ("4in6", True, False), ("6in6", True, False), ("4in4", False, True),
              ("6in4", True, True), ("4in6", False, True))
OUT_MTU = 1000
OUT_BIG_MTU = 9000
DATA_ROOM = 2048
OUT_TOS = (0x00, 0x01, 0x02, 0x03, 0xB8, 0xBB, 0x29, 0xFF)


class OutBuild:
    """An outbound capture under construction: an OutScenario with wan0 at
    OUT_MTU and wan1 (OUT_BIG_MTU) routing 172.19.0.0/16 and
    2001:db8:19::/64, the drops it must produce, and per SA the frames
    sent into lan0 (interleaved by done(), so that a burst mixes SAs)."""

    def __init__(self, rng, crypto="cpu"):
        from . import topo
        from .config import Route
        from .scenario import OutScenario
        self.sc = OutScenario(crypto=crypto, rng=rng, wan1=True)
        self.sc.dep.port("wan0").mtu = OUT_MTU
        self.sc.dep.port("wan1").mtu = OUT_BIG_MTU
        self.sc.dep.routes += [Route("172.19.0.0/16", "wan1", topo.GW1_4),
                               Route("2001:db8:19::/64", "wan1", topo.GW1_6)]
        self.drops = {}
        self.per = []
        self.i = 0

    def flow(self, algo, mode="4in4", natt=False, **kw):
        """A new eagerly installed outbound SA and its flow."""
        f = self.sc.flow(self.i, algo, mode, natt, install="eager", **kw)
        self.i += 1
        return f

    def send(self, f, fr, inner, frag=False, drop=None):
        """inner into lan0 (appended to the SA's list fr): protected by
        f's SA (as IPv4 fragments with frag), or dropped for `drop`."""
        from .traffic import lan_frame
        fr.append(lan_frame(inner))
        if drop:
            count(self.drops, drop)
        else:
            self.sc.protect(f.spi, inner, frag=frag)

    def edges(self, f, fr):
        """At wan0's MTU: the packet that fits exactly, the one that does
        not with DF (mtu_exceeded), without DF (IPv4: fragmented before
        encryption), a large one without DF; TTL 1; one more."""
        fit, over = mtu_edge(f, OUT_MTU)
        self.send(f, fr, f.inner(size=fit, proto="udp", df=True, tos=0x03))
        self.send(f, fr, f.inner(size=over, proto="udp", df=True), drop="mtu_exceeded")
        if f.inner_family == 4:
            self.send(f, fr, f.inner(size=over, proto="udp", df=False), frag=True)
            self.send(f, fr, f.inner(size=1300, proto="udp", df=False, tos=0xBB),
                      frag=True)
        self.send(f, fr, f.inner(ttl=1), drop="ttl_exceeded")
        self.send(f, fr, f.inner(size=100, tos=0x02))

    def lifetime(self, algo, sizes):
        """An SA with a hard packet lifetime of 7 that runs out mid-capture:
        10 packets of the given sizes (in turn)."""
        f = self.flow(algo, "4in4", lifetime={"hard": {"packets": 7}})
        fr = []
        for k in range(10):
            self.send(f, fr, f.inner(size=sizes[k % len(sizes)]),
                      drop="lifetime_expired" if k >= 7 else None)
        self.per.append(fr)

    def tailroom(self, sas, first, no_room):
        """Through wan1, for each (algo, mode, esn) of sas: frames of every
        length from `first` to DATA_ROOM; no_room(frame_len, algo, esn)
        says which lack the tail room lib/ipsec wants (no_mbuf). Sizes
        ascend: the failures come last, so the sequence numbers they take
        leave no gap among the packets that leave."""
        from . import topo
        remotes = {4: ["172.19.0.%d" % k for k in range(1, 10)],
                   6: ["2001:db8:19::%d" % k for k in range(1, 10)]}
        for algo, mode, esn in sas:
            outer = 4 if mode.endswith("4") else 6
            f = topo.make_out_flow(self.i, algo, mode, rng=self.sc.rng,
                                   remote=remotes[outer].pop(0), esn=esn,
                                   install="eager")
            f.sa.local = topo.WAN1_4 if outer == 4 else topo.WAN1_6
            self.sc.add_sa(f.sa, f.policies)
            self.sc.flows.append(f)
            self.i += 1
            hdr = 14 + (20 if f.inner_family == 4 else 40) + 8
            fr = []
            for flen in range(first, DATA_ROOM + 1):
                inner = f.inner(size=flen - hdr, proto="udp", tos=flen & 0xFF)
                assert len(bytes(inner)) + 14 == flen
                self.send(f, fr, inner,
                          drop="no_mbuf" if no_room(flen, algo, esn) else None)
            self.per.append(fr)

    def done(self):
        """(scenario, drops), the frames interleaved SA by SA."""
        from .traffic import interleave
        self.sc.frames = interleave(self.per)
        return self.sc, self.drops


def mtu_edge(f, mtu):
    """(fit, over): the largest UDP payload of flow f whose ESP packet fits
    mtu and the smallest that does not."""
    b = bytes(f.inner(idx=0, size=10, proto="udp"))
    hdr = len(b) - 10
    fit = None
    for s in range(10, 1500):
        if f.sa.wire_len(b[:1] + bytes(hdr + s - 1)) > mtu:
            return fit, s
        fit = s
    raise AssertionError("no edge")


def assert_out_exact(run):
    """An outbound run: every packet out once, in order, as scapy expects
    it (decrypted, outer header, sequence numbers, IVs, fragments), wan1
    used, nothing back on lan0; exactly the expected drops. Returns the
    outcheck Report."""
    sc, drops, res = run
    rep = sc.check(res)
    assert set(res.out) == {"wan0", "wan1", "lan0"}, res.out.keys()
    assert not res.out["lan0"]
    assert len(res.out["wan1"]) > 0
    esp = rep.esp_total()
    n = len(sc.frames)
    assert esp > n - sum(drops.values()), "fragments: more ESP packets than packets"
    assert drops.get("no_mbuf", 0) > 0
    res.assert_counters(rx=n, tx=esp, encrypted=esp, only_drops=drops)
    return rep
