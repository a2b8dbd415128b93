"""Crafted and damaged checkpoint files (issue 9 item 7).

The SHA-256 trailer catches accidents, not intent: anyone can recompute it. So every
file here is *sealed* with a valid trailer after being crafted, and ``handgrad.load``
must still accept only what ``handgrad.save`` writes, and fail with ``CheckpointError``
(never MemoryError, RuntimeError, NotImplementedError, a hang, or uninitialised memory).
"""

from __future__ import annotations

import io
import json
import os
import signal
import threading
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest

import handgrad as hg
from handgrad import io as hio
from handgrad.io import CheckpointError


def npy_bytes(arr: np.ndarray | None = None, header: dict | None = None,
              data: bytes | None = None) -> bytes:
    """A .npy member: from an array, or a hand-written header dict plus raw data."""
    if header is None:
        buf = io.BytesIO()
        np.lib.format.write_array(buf, arr, allow_pickle=False)
        return buf.getvalue()
    text = repr(header).encode("latin1")
    pad = 64 - (10 + len(text) + 1) % 64
    text += b" " * pad + b"\n"
    return b"\x93NUMPY\x01\x00" + len(text).to_bytes(2, "little") + text + (data or b"")


def array_node(member: str, dtype: str, shape: list[int]) -> dict:
    return {"type": "array", "member": member, "dtype": dtype, "shape": shape}


def craft(members: dict[str, bytes], root: dict | None = None,
          compress: set[str] = frozenset(), header_text: str | None = None) -> bytes:
    """A sealed handgrad file: the header (``root``) and the given members."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        head = header_text if header_text is not None else json.dumps(
            {"format": hio.FORMAT, "version": hio.FORMAT_VERSION, "root": root})
        method = zipfile.ZIP_DEFLATED if hio.HEADER_MEMBER in compress else zipfile.ZIP_STORED
        zf.writestr(zipfile.ZipInfo(hio.HEADER_MEMBER), head, compress_type=method)
        for name, data in members.items():
            method = zipfile.ZIP_DEFLATED if name in compress else zipfile.ZIP_STORED
            zf.writestr(zipfile.ZipInfo(name), data, compress_type=method)
        zf.comment = hio._TRAILER_PREFIX + b"0" * 64
    hio._seal(buf)
    return buf.getvalue()


def reseal(data: bytes) -> bytes:
    buf = io.BytesIO(bytearray(data))
    hio._seal(buf)
    return buf.getvalue()


def expect_refused(data: bytes, match: str | None = None) -> None:
    with pytest.raises(CheckpointError, match=match):
        hio.loads_bytes(data)


def test_a_crafted_but_honest_file_loads():
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    back = hio.loads_bytes(craft({"arrays/0.npy": npy_bytes(a)},
                                 array_node("arrays/0.npy", "<f4", [2, 3])))
    np.testing.assert_array_equal(back, a)


@pytest.mark.parametrize("dtype", ["|S0", "<U0", "|V0", "|O", "<U3", "|S2", "|V8",
                                   "[('a', '<f4')]", "('<f4', (2,))"])
def test_dtypes_handgrad_never_writes(dtype):
    """Zero-size, string, raw-void, object, structured and sub-array dtypes are refused
    (a zero-size dtype used to hand back memory nobody wrote)."""
    header = {"descr": dtype if not dtype.startswith(("[", "(")) else eval(dtype),
              "fortran_order": False, "shape": (4,)}
    zero_size = dtype in ("|S0", "<U0", "|V0")
    data = npy_bytes(header=header, data=b"" if zero_size else b"\0" * 32)
    root = array_node("arrays/0.npy", dtype if not dtype.startswith(("[", "(")) else "|V4",
                      [4])
    if dtype.startswith("["):
        root["dtype"] = [["a", "<f4"]]
    expect_refused(craft({"arrays/0.npy": data}, root))


def test_compressed_member_is_refused_before_it_is_inflated():
    """A few kilobytes of deflate that would inflate to 64 MB: refused as compressed,
    without allocating the array."""
    big = np.zeros(8 << 20, dtype=np.float64)  # 64 MB of zeros -> ~64 KB deflated
    data = craft({"arrays/0.npy": npy_bytes(big)}, array_node("arrays/0.npy", "<f8",
                                                               [8 << 20]),
                 compress={"arrays/0.npy"})
    assert len(data) < 1 << 20
    tracemalloc.start()
    try:
        expect_refused(data, "compressed")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 << 20, peak


def test_compressed_header_is_refused():
    expect_refused(craft({}, {"type": "none"}, compress={hio.HEADER_MEMBER}), "compressed")


@pytest.mark.parametrize("shape, nbytes", [([4], 8), ([2, 3], 100), ([10**12], 16),
                                           ([2**62, 4], 0), ([0], 4)])
def test_declared_shape_must_match_the_bytes(shape, nbytes):
    header = {"descr": "<f4", "fortran_order": False, "shape": tuple(shape)}
    data = craft({"arrays/0.npy": npy_bytes(header=header, data=b"\1" * nbytes)},
                 array_node("arrays/0.npy", "<f4", shape))
    expect_refused(data)


def test_header_size_is_bounded(monkeypatch):
    monkeypatch.setattr(hio, "MAX_HEADER_BYTES", 1000)
    root = {"type": "list", "items": [{"type": "none"}] * 200}
    expect_refused(craft({}, root), "header")


def test_one_member_referenced_many_times_is_refused():
    a = np.zeros(1000)
    node = array_node("arrays/0.npy", "<f8", [1000])
    expect_refused(craft({"arrays/0.npy": npy_bytes(a)},
                         {"type": "list", "items": [node] * 50}), "referenced twice")


def test_deep_header_and_odd_json():
    deep = '{"type": "list", "items": [' * 5000 + "]}" * 5000
    expect_refused(craft({}, header_text=json.dumps(
        {"format": hio.FORMAT, "version": 1}).replace("}", ', "root": ' + deep + "}")))
    for text in ["[]", "null", '{"format": 1}', "\ud800".encode("utf-8", "surrogatepass")
                 .decode("latin1"), "1e999999", '{"format": "handgrad-checkpoint"}']:
        expect_refused(craft({}, header_text=text))


@pytest.mark.parametrize("special", ["fifo", "/dev/zero", "/dev/null"])
def test_only_regular_files_are_read(tmp_path, special):
    if special == "fifo":
        path = tmp_path / "pipe.npz"
        os.mkfifo(path)
    else:
        path = Path(special)
        if not path.exists():
            pytest.skip(f"{special} missing")
    result: list[BaseException | None] = []

    def go():
        try:
            hg.load(path)
            result.append(None)
        except BaseException as err:  # noqa: BLE001 - the test inspects it
            result.append(err)

    t = threading.Thread(target=go, daemon=True)
    t.start()
    t.join(10)
    if t.is_alive():  # unblock the reader before failing
        if special == "fifo":
            fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
            os.close(fd)
        pytest.fail(f"load({special}) blocked")
    assert isinstance(result[0], CheckpointError), result
    assert "regular files only" in str(result[0])


def test_load_peak_memory_is_about_the_array(tmp_path):
    arr = np.random.default_rng(0).standard_normal(4 << 20)  # 32 MB
    hg.save({"w": arr}, tmp_path / "big.npz")
    del arr
    tracemalloc.start()
    try:
        back = hg.load(tmp_path / "big.npz")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert back["w"].nbytes == 32 << 20
    assert peak < 1.15 * back["w"].nbytes, f"peak {peak / 2**20:.1f} MB for a 32 MB array"


def test_saved_files_honour_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        hg.save({"a": 1}, tmp_path / "a.npz")
        assert (tmp_path / "a.npz").stat().st_mode & 0o777 == 0o644
        os.umask(0o077)
        hg.save({"a": 1}, tmp_path / "b.npz")
        assert (tmp_path / "b.npz").stat().st_mode & 0o777 == 0o600
    finally:
        os.umask(old)


def test_save_removes_the_temporary_file_of_a_killed_save(tmp_path):
    import subprocess
    import sys

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp_path / f".m.npz.{dead.pid}.abc123.tmp"
    stale.write_bytes(b"half a checkpoint")
    alive = tmp_path / f".m.npz.{os.getppid()}.def456.tmp"   # a save still running
    alive.write_bytes(b"in progress")
    other = tmp_path / f".other.npz.{dead.pid}.x.tmp"        # another file's: not ours
    other.write_bytes(b"x")
    hg.save({"a": 1}, tmp_path / "m.npz")
    assert not stale.exists() and alive.exists() and other.exists()
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".m.npz")) == \
        [alive.name]


def test_an_interrupted_save_leaves_no_temporary_file(tmp_path, monkeypatch):
    def boom(fp, arr):
        raise KeyboardInterrupt

    monkeypatch.setattr(hio, "_write_array", boom)
    with pytest.raises(KeyboardInterrupt):
        hg.save({"a": np.ones(3)}, tmp_path / "m.npz")
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------------------------
# randomized damage: flips, truncations, insertions, resealed or not
# ------------------------------------------------------------------------------------
def _good() -> bytes:
    obj = {"model": {"w": np.arange(24, dtype=np.float32).reshape(4, 6),
                     "b": np.ones(3, np.float64), "i": np.arange(5, dtype=np.int64)},
           "step": 7, "name": "run", "flags": [True, None, 1.5]}
    enc = hio._Encoder()
    root = enc.encode(obj, "")
    buf = io.BytesIO()
    hio._write_checkpoint(buf, {"format": hio.FORMAT, "version": hio.FORMAT_VERSION,
                                "root": root}, enc.arrays)
    return buf.getvalue()


def _damage(data: bytes, rng: np.random.Generator) -> tuple[bytes, bool]:
    """One random damage; returns (bytes, resealed). A resealed file may still be valid
    (a flipped bit inside a float's data), so it may load; an unsealed one never may."""
    b = bytearray(data)
    kind = rng.integers(6)
    if kind == 0:                                  # flip 1-8 random bytes
        for pos in rng.integers(0, len(b), rng.integers(1, 9)):
            b[pos] ^= int(rng.integers(1, 256))
    elif kind == 1:                                # truncate
        b = b[: int(rng.integers(0, len(b)))]
    elif kind == 2:                                # insert junk
        pos = int(rng.integers(0, len(b)))
        b[pos:pos] = rng.integers(0, 256, int(rng.integers(1, 64)), dtype=np.uint8).tobytes()
    elif kind == 3:                                # overwrite a run with 0xFF / 0x00
        pos = int(rng.integers(0, len(b)))
        b[pos:pos + int(rng.integers(1, 32))] = bytes([0xFF if rng.random() < .5 else 0]) * 8
    elif kind == 4:                                # edit the JSON header's numbers
        text = bytes(b)
        start = text.find(b'"shape": [')
        if start >= 0:
            b[start + 10:start + 11] = str(int(rng.integers(0, 10))).encode()
    else:                                          # grow a length field anywhere
        pos = int(rng.integers(0, max(len(b) - 4, 1)))
        b[pos:pos + 4] = int(rng.integers(0, 2**32)).to_bytes(4, "little")
    resealed = bool(rng.random() < 0.6) and len(b) >= hio._TRAILER_LEN and \
        bytes(b[-hio._TRAILER_LEN:-64]) == hio._TRAILER_PREFIX
    return (reseal(bytes(b)) if resealed else bytes(b)), resealed


def _check_damaged(count: int, seed: int) -> None:
    good = _good()
    rng = np.random.default_rng(seed)
    loaded = refused = 0
    for i in range(count):
        data, resealed = _damage(good, rng)
        try:
            hio.loads_bytes(data)
        except CheckpointError:
            refused += 1
            continue
        except BaseException as err:
            raise AssertionError(f"case {i}: {type(err).__name__}: {err}") from None
        assert resealed or data == good, f"case {i}: an unsealed damaged file loaded"
        loaded += 1
    assert refused > count // 2


def test_100_damaged_and_crafted_files():
    _check_damaged(100, seed=0)


@pytest.mark.slow
def test_2000_damaged_and_crafted_files():
    _check_damaged(2000, seed=1)


def test_damage_cannot_hang(tmp_path):
    """A SIGALRM guard: no damaged file may keep load busy (e.g. a huge declared size
    read a byte at a time)."""
    good = _good()
    rng = np.random.default_rng(7)
    signal.signal(signal.SIGALRM, lambda *a: (_ for _ in ()).throw(TimeoutError()))
    signal.alarm(20)
    try:
        for _ in range(50):
            data, _ = _damage(good, rng)
            try:
                hio.loads_bytes(data)
            except CheckpointError:
                pass
    finally:
        signal.alarm(0)
