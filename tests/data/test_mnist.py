"""The shipped MNIST split and the IDX reader (gzipped or not, and its error messages)."""

from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest

from handgrad.data import load_mnist, read_idx
from handgrad.data.mnist import MNIST_MEAN, MNIST_STD

ALL_COUNTS = [1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978]


# ---------------------------------------------------------------- the shipped digits
@pytest.mark.parametrize("split,n", [("train", 8000), ("test", 2000), ("all", 10000)])
def test_shipped_split_sizes_and_dtypes(split, n):
    x, y = load_mnist(split)
    assert x.shape == (n, 1, 28, 28) and x.dtype == np.float32
    assert y.shape == (n,) and y.dtype == np.int64
    assert y.min() == 0 and y.max() == 9


def test_shipped_class_counts_and_split_is_first_8000_last_2000():
    xa, ya = load_mnist("all", normalize=False)
    assert np.bincount(ya).tolist() == ALL_COUNTS
    xtr, ytr = load_mnist("train", normalize=False)
    xte, yte = load_mnist("test", normalize=False)
    np.testing.assert_array_equal(np.concatenate([ytr, yte]), ya)
    np.testing.assert_array_equal(xtr, xa[:8000])
    np.testing.assert_array_equal(xte, xa[8000:])
    assert (np.bincount(ytr, minlength=10) + np.bincount(yte, minlength=10)).tolist() \
        == ALL_COUNTS


def test_scaling_and_standardisation():
    raw, _ = load_mnist("train", normalize=False)
    assert raw.min() == 0.0 and raw.max() == 1.0
    norm, _ = load_mnist("train", normalize=True)
    np.testing.assert_allclose(norm, (raw - MNIST_MEAN) / MNIST_STD, rtol=1e-5, atol=1e-5)
    # the MNIST statistics fit this subset: about zero mean, unit variance
    assert abs(float(norm.mean())) < 0.05 and abs(float(norm.std()) - 1) < 0.05


def test_bad_split():
    with pytest.raises(ValueError, match="split must be one of"):
        load_mnist("validation")


# ---------------------------------------------------------------- IDX files
def idx_bytes(arr: np.ndarray, code: int = 0x08) -> bytes:
    dt = {0x08: ">u1", 0x0B: ">i2", 0x0D: ">f4"}[code]
    head = bytes([0, 0, code, arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape)
    return head + arr.astype(dt).tobytes()


def write_mnist_dir(folder, n_train=7, n_test=5, gz=False, rows=28, rng=None):
    rng = rng or np.random.default_rng(0)
    data = {}
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        imgs = rng.integers(0, 256, size=(n, rows, 28), dtype=np.uint8)
        lbls = rng.integers(0, 10, size=n, dtype=np.uint8)
        for kind, arr in (("images-idx3", imgs), ("labels-idx1", lbls)):
            name = f"{prefix}-{kind}-ubyte"
            blob = idx_bytes(arr)
            if gz:
                (folder / (name + ".gz")).write_bytes(gzip.compress(blob))
            else:
                (folder / name).write_bytes(blob)
        data[prefix] = (imgs, lbls)
    return data


@pytest.mark.parametrize("gz", [False, True])
def test_idx_folder_round_trip(tmp_path, gz):
    data = write_mnist_dir(tmp_path, gz=gz)
    x, y = load_mnist("train", root=tmp_path, normalize=False)
    assert x.shape == (7, 1, 28, 28) and x.dtype == np.float32 and y.dtype == np.int64
    np.testing.assert_array_equal(np.rint(x[:, 0] * 255).astype(np.uint8), data["train"][0])
    np.testing.assert_array_equal(y, data["train"][1])
    xt, yt = load_mnist("test", root=tmp_path)
    assert xt.shape == (5, 1, 28, 28)
    np.testing.assert_array_equal(yt, data["t10k"][1])
    xa, ya = load_mnist("all", root=tmp_path)
    assert len(xa) == 12
    np.testing.assert_array_equal(ya, np.concatenate([data["train"][1], data["t10k"][1]]))


@pytest.mark.parametrize("code,values", [
    (0x08, np.arange(24, dtype=np.uint8).reshape(2, 3, 4)),
    (0x0B, np.array([-300, 0, 7, 32000], dtype=np.int16)),
    (0x0D, np.array([[1.5, -2.25], [3e8, 0.0]], dtype=np.float32)),
])
def test_read_idx_types_native_byte_order(tmp_path, code, values):
    p = tmp_path / "f-idx"
    p.write_bytes(idx_bytes(values, code))
    out = read_idx(p)
    assert out.dtype.isnative and out.shape == values.shape
    np.testing.assert_array_equal(out, values)
    out[...] = 0  # a writable copy, not a view of the file's bytes


def test_gzip_detected_by_content_not_name(tmp_path):
    p = tmp_path / "labels"  # no .gz suffix
    p.write_bytes(gzip.compress(idx_bytes(np.array([3, 1, 4], dtype=np.uint8))))
    np.testing.assert_array_equal(read_idx(p), [3, 1, 4])


def test_bad_magic_names_file(tmp_path):
    p = tmp_path / "train-images-idx3-ubyte"
    p.write_bytes(b"\x12\x34\x08\x03" + b"\x00" * 40)
    with pytest.raises(ValueError, match=r"train-images-idx3-ubyte.*bad magic number 0x12340803"):
        read_idx(p)


def test_unknown_type_code(tmp_path):
    p = tmp_path / "x"
    p.write_bytes(b"\x00\x00\x07\x01\x00\x00\x00\x01\x00")
    with pytest.raises(ValueError, match="bad magic number"):
        read_idx(p)


@pytest.mark.parametrize("cut", [2, 6, 17, 100])
def test_truncated_file(tmp_path, cut):
    blob = idx_bytes(np.zeros((3, 28, 28), np.uint8))
    p = tmp_path / "t10k-images-idx3-ubyte"
    p.write_bytes(blob[:-cut] if cut != 2 else blob[:2])
    with pytest.raises(ValueError, match=r"t10k-images-idx3-ubyte.*(truncated|only 2 bytes)"):
        read_idx(p)


def test_too_long_file(tmp_path):
    p = tmp_path / "f"
    p.write_bytes(idx_bytes(np.zeros(4, np.uint8)) + b"\x00")
    with pytest.raises(ValueError, match=r"too long.*shape \(4,\)"):
        read_idx(p)


def test_truncated_gzip(tmp_path):
    p = tmp_path / "train-labels-idx1-ubyte.gz"
    p.write_bytes(gzip.compress(idx_bytes(np.zeros(1000, np.uint8)))[:-30])
    with pytest.raises(ValueError, match=r"train-labels-idx1-ubyte\.gz.*damaged gzip"):
        read_idx(p)


def test_missing_folder_and_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such folder"):
        load_mnist(root=tmp_path / "nope")
    with pytest.raises(FileNotFoundError, match="train-images-idx3-ubyte"):
        load_mnist(root=tmp_path)


def test_count_mismatch_and_bad_labels(tmp_path):
    write_mnist_dir(tmp_path)
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(idx_bytes(np.zeros(6, np.uint8)))
    with pytest.raises(ValueError, match="7 images but .* 6 labels"):
        load_mnist("train", root=tmp_path)
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(
        idx_bytes(np.full(7, 12, np.uint8)))
    with pytest.raises(ValueError, match="labels must be 0..9"):
        load_mnist("train", root=tmp_path)
    # images stored as labels (1-D) are refused with the file named
    (tmp_path / "train-images-idx3-ubyte").write_bytes(idx_bytes(np.zeros(7, np.uint8)))
    with pytest.raises(ValueError, match=r"train-images-idx3-ubyte: expected uint8 images"):
        load_mnist("train", root=tmp_path)


def test_dot_idx_spelling_accepted(tmp_path):
    write_mnist_dir(tmp_path)
    for f in tmp_path.iterdir():
        f.rename(tmp_path / f.name.replace("-idx", ".idx"))
    x, _ = load_mnist("test", root=tmp_path)
    assert x.shape == (5, 1, 28, 28)
