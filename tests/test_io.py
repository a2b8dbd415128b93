"""handgrad.save / handgrad.load: exact round trips, no pickle, every damaged file refused."""

from __future__ import annotations

import io
import json
import os
import zipfile
from pathlib import Path

import numpy as np
import pytest

import handgrad as hg
from handgrad import io as hio
from handgrad.io import CheckpointError

DTYPES = [np.float16, np.float32, np.float64, np.int8, np.int16, np.int32, np.int64,
          np.uint8, np.uint16, np.uint32, np.uint64, np.bool_, np.complex64, np.complex128]
SHAPES = [(), (0,), (3,), (2, 3), (0, 4), (2, 1, 3), (1, 1, 1, 1)]


def _array(dtype, shape, seed=0):
    rng = np.random.default_rng(seed)
    values = np.asarray(rng.normal(size=shape) * 50)
    if np.dtype(dtype).kind == "b":
        return np.asarray(values > 0)
    if np.dtype(dtype).kind == "c":
        return np.asarray(values + 1j * np.flip(values)).astype(dtype)
    if np.dtype(dtype).kind == "u":
        values = np.abs(values)
    return np.asarray(values.astype(dtype))


def assert_same(a, b, where="root"):
    """Equal values, types, dtypes and shapes, recursively (NaN equals NaN)."""
    assert type(a) is type(b), f"{where}: type {type(a)} != {type(b)}"
    if isinstance(a, np.ndarray | np.generic):
        assert a.dtype == b.dtype, f"{where}: dtype {a.dtype} != {b.dtype}"
        assert np.shape(a) == np.shape(b), f"{where}: shape"
        np.testing.assert_array_equal(a, b, err_msg=where)
    elif isinstance(a, dict):
        assert list(a) == list(b), f"{where}: keys {list(a)} != {list(b)}"
        for k in a:
            assert_same(a[k], b[k], f"{where}[{k!r}]")
    elif isinstance(a, list | tuple):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f"{where}[{i}]")
    elif isinstance(a, float) and a != a:
        assert b != b, where
    else:
        assert a == b, f"{where}: {a!r} != {b!r}"


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_round_trip_every_dtype_and_shape(tmp_path, dtype, shape):
    arr = _array(dtype, shape)
    hg.save({"x": arr}, tmp_path / "a.npz")
    back = hg.load(tmp_path / "a.npz")["x"]
    assert_same(arr, back)
    assert back.flags.writeable


def test_round_trip_nested_structure_and_python_values(tmp_path):
    big = 2**200 + 12345
    obj = {
        "model": {"0.weight": np.arange(6, dtype=np.float32).reshape(2, 3),
                  "0.bias": np.zeros(2, np.float64)},
        "optimizer": {"state": {0: {"step": 3, "exp_avg": np.ones(3, np.float32)},
                                1: {"step": 3, "exp_avg": np.ones((), np.float32)}},
                      "param_groups": [{"lr": 1e-3, "betas": (0.9, 0.999), "params": [0, 1],
                                        "nesterov": False, "foreach": None}]},
        "rng": np.random.default_rng(123).bit_generator.state,  # 128-bit ints
        "mt": np.random.MT19937(7).state,                       # an array inside
        "numbers": [big, -big, 0, 1.5, float("inf"), -0.0, float("nan"), 1 + 2j, True],
        "scalars": [np.float32(0.1), np.int64(-3), np.bool_(True), np.float16(2.5)],
        "text": "héllo\n\"quoted\"", "empty": {}, "empty_list": [], "nothing": None,
        "fortran": np.asfortranarray(np.arange(12.0).reshape(3, 4)),
        "view": np.arange(20, dtype=np.int32)[::3],
        "big_endian": np.arange(4, dtype=">f8"),
        "strings": ["a", "bc"],
    }
    path = tmp_path / "ckpt.npz"
    hg.save(obj, path)
    back = hg.load(path)
    assert_same(obj["model"], back["model"])
    assert_same(obj["optimizer"], back["optimizer"])
    assert back["rng"] == obj["rng"]
    assert_same(obj["mt"], back["mt"])
    assert_same(obj["numbers"], back["numbers"])
    assert_same(obj["scalars"], back["scalars"])
    for key in ("text", "empty", "empty_list", "nothing", "fortran", "view", "big_endian",
                "strings"):
        assert_same(obj[key], back[key], key)
    assert back["numbers"][0] == big and str(back["numbers"][5]) == "-0.0"
    # the restored RNG state reproduces the stream
    g = np.random.default_rng()
    g.bit_generator.state = back["rng"]
    np.testing.assert_array_equal(g.random(5), np.random.default_rng(123).random(5))


def test_tensors_and_modules_state_dicts(tmp_path):
    t = hg.tensor(np.arange(4.0), requires_grad=True)
    hg.save({"t": t, "lst": [t]}, tmp_path / "t.npz")
    back = hg.load(tmp_path / "t.npz")
    assert isinstance(back["t"], np.ndarray) and back["t"].dtype == np.float64
    np.testing.assert_array_equal(back["lst"][0], t.data)
    from handgrad import nn

    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    hg.save(model.state_dict(), tmp_path / "m.npz")
    other = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    other.load_state_dict(hg.load(tmp_path / "m.npz"))
    for (k1, v1), (k2, v2) in zip(model.state_dict().items(), other.state_dict().items()):
        assert k1 == k2
        assert_same(np.asarray(v1), np.asarray(v2), k1)


def test_loadable_by_numpy_without_pickle(tmp_path):
    arr = np.arange(5, dtype=np.int16)
    hg.save({"a": arr, "b": [arr * 2]}, tmp_path / "x.npz")
    with np.load(tmp_path / "x.npz", allow_pickle=False) as npz:
        header = json.loads(npz[hio.HEADER_MEMBER])
        assert header["format"] == hio.FORMAT and header["version"] == hio.FORMAT_VERSION
        member = header["root"]["items"][0][1]["member"]
        np.testing.assert_array_equal(npz[member.removesuffix(".npy")], arr)


@pytest.mark.parametrize("bad, where", [
    ({"f": lambda: 0}, "['f']"),
    ({"o": np.array([1, "a", None], dtype=object)}, "['o']"),
    ({1.5: 1}, "key 1.5"),
    ([{"x": {1, 2}}], "[0]['x']"),
    ({"b": b"raw"}, "['b']"),
    ({"s": np.array(["a", "bc"])}, "['s']"),          # strings: a list of str instead
    ({"z": np.zeros(3, dtype="S0")}, "['z']"),
    ({"v": np.zeros(2, dtype="V4")}, "['v']"),
])
def test_save_refuses_what_needs_pickle(tmp_path, bad, where):
    with pytest.raises(TypeError, match="save") as err:
        hg.save(bad, tmp_path / "bad.npz")
    assert where in str(err.value)
    assert not list(tmp_path.iterdir()), "a refused save must leave no file behind"


def test_save_suggests_state_dict_for_modules(tmp_path):
    from handgrad import nn

    with pytest.raises(TypeError, match=r"state_dict\(\)"):
        hg.save(nn.Linear(2, 2), tmp_path / "m.npz")


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file"):
        hg.load(tmp_path / "nope.npz")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        hg.save({}, tmp_path / "no_dir" / "x.npz")


# ---------------------------------------------------------------------------------
# damaged files
# ---------------------------------------------------------------------------------
@pytest.fixture
def good_file(tmp_path) -> Path:
    path = tmp_path / "good.npz"
    hg.save({"w": np.arange(40, dtype=np.float32).reshape(5, 8), "b": np.ones(3),
             "step": 7, "name": "run"}, path)
    return path


def test_truncated_at_every_tenth(good_file, tmp_path):
    data = good_file.read_bytes()
    for tenth in range(10):
        cut = tmp_path / f"cut{tenth}.npz"
        cut.write_bytes(data[: len(data) * tenth // 10])
        with pytest.raises(CheckpointError) as err:
            hg.load(cut)
        assert str(cut) in str(err.value)
    # and one byte short
    cut.write_bytes(data[:-1])
    with pytest.raises(CheckpointError, match="trailer"):
        hg.load(cut)


def test_every_flipped_byte_is_detected(good_file, tmp_path):
    data = bytearray(good_file.read_bytes())
    bad = tmp_path / "bad.npz"
    # every byte of a small file: local headers, .npy headers, data, central directory,
    # the zip's end record and the trailer itself
    for pos in range(len(data)):
        flipped = bytearray(data)
        flipped[pos] ^= 0xFF
        bad.write_bytes(flipped)
        with pytest.raises(CheckpointError):
            hg.load(bad)


def test_corruption_message_says_expected_and_found(good_file):
    data = bytearray(good_file.read_bytes())
    data[len(data) // 2] ^= 0x01
    good_file.write_bytes(data)
    with pytest.raises(CheckpointError, match="corrupted.*SHA-256.*hash to"):
        hg.load(good_file)


@pytest.mark.parametrize("content, match", [
    (b"", "empty"),
    (b"hello world, not a checkpoint", "zip signature"),
    (b"\x80\x04\x95pickled", "pickle"),
    (b"\x93NUMPY\x01\x00rest", r"\.npy"),
])
def test_wrong_magic(tmp_path, content, match):
    path = tmp_path / "x.npz"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match=match):
        hg.load(path)


def test_plain_npz_is_not_a_checkpoint(tmp_path):
    np.savez(tmp_path / "plain.npz", a=np.ones(3))
    with pytest.raises(CheckpointError, match="np.savez"):
        hg.load(tmp_path / "plain.npz")


def test_torch_file_points_to_from_torch(tmp_path):
    torch = pytest.importorskip("torch")
    torch.save({"w": torch.ones(2)}, tmp_path / "w.pt")
    with pytest.raises(CheckpointError, match="from_torch"):
        hg.load(tmp_path / "w.pt")


def _handmade(path: Path, header: dict, members: dict[str, bytes]) -> None:
    """A file with a valid zip and a valid trailer but contents of our choosing."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(hio.HEADER_MEMBER, json.dumps(header))
        for name, blob in members.items():
            zf.writestr(name, blob)
        zf.comment = hio._TRAILER_PREFIX + b"0" * 64
    hio._seal(buf)
    path.write_bytes(buf.getvalue())


def _npy(arr: np.ndarray, allow_pickle: bool = False) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=allow_pickle)
    return buf.getvalue()


def _header(root: dict, version: int = hio.FORMAT_VERSION, fmt: str = hio.FORMAT) -> dict:
    return {"format": fmt, "version": version, "root": root}


ARRAY_NODE = {"type": "array", "member": "arrays/0.npy", "dtype": "<f8", "shape": [3]}


def test_future_version(tmp_path):
    _handmade(tmp_path / "f.npz", _header(ARRAY_NODE, version=hio.FORMAT_VERSION + 1),
              {"arrays/0.npy": _npy(np.ones(3))})
    with pytest.raises(CheckpointError, match=r"version 2.*up to 1.*upgrade"):
        hg.load(tmp_path / "f.npz")


def test_wrong_format_name(tmp_path):
    _handmade(tmp_path / "f.npz", _header(ARRAY_NODE, fmt="something-else"),
              {"arrays/0.npy": _npy(np.ones(3))})
    with pytest.raises(CheckpointError, match="expected format 'handgrad-checkpoint', found "
                                              "'something-else'"):
        hg.load(tmp_path / "f.npz")


def test_pickled_object_array_is_refused_without_running_it(tmp_path):
    class Boom:
        def __reduce__(self):
            return (os.system, ("touch " + str(tmp_path / "PWNED"),))

    blob = _npy(np.array([Boom()], dtype=object), allow_pickle=True)
    node = {"type": "array", "member": "arrays/0.npy", "dtype": "|O", "shape": [1]}
    _handmade(tmp_path / "evil.npz", _header(node), {"arrays/0.npy": blob})
    with pytest.raises(CheckpointError, match="object"):
        hg.load(tmp_path / "evil.npz")
    # the header lies about the dtype: the member still is refused
    node = {"type": "array", "member": "arrays/0.npy", "dtype": "<f8", "shape": [1]}
    _handmade(tmp_path / "evil2.npz", _header(node), {"arrays/0.npy": blob})
    with pytest.raises(CheckpointError, match="dtype object"):
        hg.load(tmp_path / "evil2.npz")
    assert not (tmp_path / "PWNED").exists()


@pytest.mark.parametrize("root, members, match", [
    (ARRAY_NODE, {}, "no such member"),
    (ARRAY_NODE, {"arrays/0.npy": _npy(np.ones(4))}, r"shape \(3,\).*shape \(4,\)"),
    (ARRAY_NODE, {"arrays/0.npy": _npy(np.ones(3, np.float32))}, "dtype float64.*float32"),
    (ARRAY_NODE, {"arrays/0.npy": _npy(np.ones(3))[:-8]}, "expected 24 bytes"),
    (ARRAY_NODE, {"arrays/0.npy": b"not an npy"}, "not a valid .npy"),
    ({"type": "int", "value": 5}, {}, "malformed 'int'"),
    ({"type": "mystery"}, {}, "unknown node type"),
    ({"type": "dict", "items": [[["float", "1"], {"type": "none"}]]}, {}, "malformed 'dict'"),
    ({"type": "dict", "items": [[["str", "a"], {"type": "array"}]]}, {}, r"\['a'\]"),
    ([1, 2], {}, "expected a header node"),
])
def test_header_and_member_disagree(tmp_path, root, members, match):
    _handmade(tmp_path / "h.npz", _header(root), members)
    with pytest.raises(CheckpointError, match=match):
        hg.load(tmp_path / "h.npz")


def test_missing_header_member(tmp_path):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("other.npy", _npy(np.ones(2)))
        zf.comment = hio._TRAILER_PREFIX + b"0" * 64
    hio._seal(buf)
    (tmp_path / "m.npz").write_bytes(buf.getvalue())
    with pytest.raises(CheckpointError, match="handgrad.json"):
        hg.load(tmp_path / "m.npz")


def test_invalid_json_header(tmp_path):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(hio.HEADER_MEMBER, b"{not json")
        zf.comment = hio._TRAILER_PREFIX + b"0" * 64
    hio._seal(buf)
    (tmp_path / "j.npz").write_bytes(buf.getvalue())
    with pytest.raises(CheckpointError, match="not valid JSON"):
        hg.load(tmp_path / "j.npz")


def test_checkpoint_error_is_a_value_error():
    assert issubclass(hg.CheckpointError, ValueError)
    assert hg.CheckpointError is CheckpointError


def test_loads_bytes(good_file):
    assert hio.loads_bytes(good_file.read_bytes())["step"] == 7


# ---------------------------------------------------------------------------------
# atomic writes
# ---------------------------------------------------------------------------------
def test_failed_write_leaves_the_old_file_intact(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.npz"
    hg.save({"epoch": 1, "w": np.ones(1000)}, path)
    before = path.read_bytes()
    calls = []

    def crash_midway(fp, arr):
        calls.append(1)
        if len(calls) == 2:  # the first array is written, the second dies half-way
            fp.write(b"\x93NUMPY partial")
            raise OSError("disk full (simulated)")
        np.lib.format.write_array(fp, arr, allow_pickle=False)

    monkeypatch.setattr(hio, "_write_array", crash_midway)
    with pytest.raises(OSError, match="simulated"):
        hg.save({"epoch": 2, "w": np.zeros(1000), "v": np.zeros(1000)}, path)
    assert path.read_bytes() == before
    assert hg.load(path)["epoch"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt.npz"], "temp file left"


def test_write_goes_through_fsync_and_replace(tmp_path, monkeypatch):
    events = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(hio.os, "fsync", lambda fd: (events.append("fsync"), real_fsync(fd)))
    monkeypatch.setattr(hio.os, "replace",
                        lambda a, b: (events.append(("replace", Path(a).parent == Path(b).parent)),
                                      real_replace(a, b)))
    hg.save({"a": 1}, tmp_path / "x.npz")
    assert events[0] == "fsync" and events[1] == ("replace", True)
    assert hg.load(tmp_path / "x.npz") == {"a": 1}


# ---------------------------------------------------------------------------------
# PyTorch interop
# ---------------------------------------------------------------------------------
def test_from_torch_and_back(tmp_path):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 2))
    torch.save(net.state_dict(), tmp_path / "net.pt")
    state = hio.from_torch(tmp_path / "net.pt")
    assert list(state) == list(net.state_dict())
    for k, v in net.state_dict().items():
        assert state[k].dtype == np.float32
        np.testing.assert_array_equal(state[k], v.numpy())
    from handgrad import nn

    ours = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))
    ours.load_state_dict(state)
    x = np.random.default_rng(0).normal(size=(5, 3)).astype(np.float32)
    np.testing.assert_allclose(ours(hg.tensor(x)).data, net(torch.from_numpy(x)).detach(),
                               rtol=1e-5, atol=1e-6)
    back = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 2))
    back.load_state_dict(hio.to_torch_state_dict(ours), strict=True)
    np.testing.assert_array_equal(back(torch.from_numpy(x)).detach(),
                                  net(torch.from_numpy(x)).detach())
    # nested checkpoints keep their structure; bfloat16 becomes float32
    torch.save({"model": {"w": torch.ones(2, dtype=torch.bfloat16)}, "epoch": 3},
               tmp_path / "nested.pt")
    nested = hio.from_torch(tmp_path / "nested.pt")
    assert nested["epoch"] == 3 and nested["model"]["w"].dtype == np.float32


def test_from_torch_refuses_pickled_objects(tmp_path):
    torch = pytest.importorskip("torch")
    torch.save(torch.nn.Linear(2, 2), tmp_path / "whole.pt")
    with pytest.raises(CheckpointError, match="state_dict"):
        hio.from_torch(tmp_path / "whole.pt")


def test_from_torch_without_torch(tmp_path, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_torch(name, *args, **kwargs):
        if name == "torch" or name.startswith("torch."):
            raise ImportError("No module named 'torch'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_torch)
    with pytest.raises(ImportError, match=r"pip install torch==2\.13\.0"):
        hio.from_torch(tmp_path / "x.pt")


# ---------------------------------------------------------------------------------
# what the training commands save: model, optimizer, RNG; resuming is exact
# ---------------------------------------------------------------------------------
def test_checkpoint_resume_is_bit_identical(tmp_path):
    from handgrad import nn, optim

    def make():
        hg.manual_seed(3)
        model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 1))
        opt = optim.Adam(model.parameters(), lr=1e-2)
        return model, opt

    def step(model, opt):
        x = hg.tensor(hg.get_rng().normal(size=(5, 4)).astype(np.float32))
        loss = (model(x) * model(x)).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()

    model, opt = make()
    for _ in range(6):
        step(model, opt)
    reference = {k: np.array(v) for k, v in model.state_dict().items()}

    model, opt = make()
    for _ in range(3):
        step(model, opt)
    hg.save({"model": model.state_dict(), "optimizer": opt.state_dict(),
             "rng": hg.random.get_rng_state(), "step": 3}, tmp_path / "ckpt.npz")

    model, opt = make()  # a fresh process would start here
    hg.manual_seed(999)
    ckpt = hg.load(tmp_path / "ckpt.npz")
    model.load_state_dict(ckpt["model"])
    opt.load_state_dict(ckpt["optimizer"])
    hg.random.set_rng_state(ckpt["rng"])
    for _ in range(ckpt["step"], 6):
        step(model, opt)
    for k, v in model.state_dict().items():
        assert np.array_equal(np.asarray(v), reference[k]), k
