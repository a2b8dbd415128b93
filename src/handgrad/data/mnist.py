"""MNIST digits: the 10,000 shipped with handgrad, and a reader for the standard IDX files.

The shipped set (``data/files/mnist10k.npz``) holds 10,000 real MNIST digits, 28x28 grey
levels 0-255, shuffled once with seed 0. The project-wide split is fixed: the **first
8,000 train, the last 2,000 are held out**, so everyone reports accuracy on the same
digits. Class counts over all 10,000: 1001/1127/991/1032/980/863/1014/1070/944/978.

``load_mnist(root=DIR)`` reads the full MNIST (60,000 + 10,000) or Fashion-MNIST from the
four standard IDX files a user downloaded (``train-images-idx3-ubyte``,
``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte``, ``t10k-labels-idx1-ubyte``,
each gzipped or not).

The IDX format (LeCun's MNIST page), all integers big-endian::

    bytes 0-1   0x00 0x00
    byte  2     element type: 0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32,
                0x0D float32, 0x0E float64
    byte  3     number of dimensions d
    4*d bytes   the size of each dimension (uint32)
    then        prod(sizes) elements, row-major

So an image file starts ``00 00 08 03`` (2051), a label file ``00 00 08 01`` (2049).

Preprocessing: images become float32 ``(N, 1, 28, 28)`` in [0, 1] (x / 255); with
``normalize=True`` they are then standardised, (x - 0.1307) / 0.3081, the mean and
standard deviation of the MNIST training pixels, so the first layer sees inputs of mean
about 0 and variance about 1 (which is what PyTorch's default initialisation assumes).
"""

from __future__ import annotations

import gzip
import importlib.resources
import os
import zlib
from pathlib import Path

import numpy as np

__all__ = ["load_mnist", "read_idx", "MNIST_MEAN", "MNIST_STD", "N_TRAIN", "N_HELD_OUT",
           "default_mnist_path", "preprocess"]

MNIST_MEAN = 0.1307
MNIST_STD = 0.3081
N_TRAIN = 8000       # first 8,000 shipped digits
N_HELD_OUT = 2000    # last 2,000 shipped digits
_SHIPPED = "mnist10k.npz"
_SPLITS = ("train", "test", "all")

# IDX element types: code -> big-endian NumPy dtype
_IDX_TYPES: dict[int, np.dtype] = {
    0x08: np.dtype(">u1"), 0x09: np.dtype(">i1"), 0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8"),
}
_GZIP_MAGIC = b"\x1f\x8b"


def default_mnist_path() -> Path:
    """Where the shipped ``mnist10k.npz`` lives inside the installed package."""
    ref = importlib.resources.files("handgrad") / "data" / "files" / _SHIPPED
    return Path(str(ref))


# ------------------------------------------------------------------------------------
# IDX
# ------------------------------------------------------------------------------------
def _read_bytes(path: Path) -> bytes:
    """The file's bytes, gunzipped when it starts with the gzip magic (the name's .gz is
    not trusted: users rename files)."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise FileNotFoundError(f"IDX file not found: {path}") from None
    if raw[:2] == _GZIP_MAGIC:
        try:
            return gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as err:
            raise ValueError(f"{path}: damaged gzip file ({err}); download it again") from None
    return raw


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read one IDX file (gzipped or not) into a native-endian array.

    Raises ``ValueError`` naming the file when the magic number, the number of
    dimensions or the size do not match the format.
    """
    path = Path(path)
    raw = _read_bytes(path)
    if len(raw) < 4:
        raise ValueError(f"{path}: not an IDX file: only {len(raw)} bytes, the header "
                         f"alone needs 4")
    if raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_TYPES:
        raise ValueError(
            f"{path}: not an IDX file: bad magic number 0x{raw[:4].hex()} (expected "
            f"00 00 <type> <ndim> with type one of "
            f"{', '.join(f'0x{t:02x}' for t in _IDX_TYPES)}; e.g. 0x00000803 for images, "
            f"0x00000801 for labels)")
    dtype = _IDX_TYPES[raw[2]]
    ndim = raw[3]
    if ndim == 0:
        raise ValueError(f"{path}: IDX header says 0 dimensions (magic 0x{raw[:4].hex()})")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"{path}: truncated IDX header: {ndim} dimensions need {header} "
                         f"bytes, the file has {len(raw)}")
    shape = tuple(int(s) for s in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    actual = len(raw) - header
    if actual != expected:
        what = "truncated" if actual < expected else "too long"
        raise ValueError(
            f"{path}: {what} IDX file: header says shape {shape} of {dtype.name} = "
            f"{expected} data bytes, found {actual}")
    data = np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)
    return data.astype(dtype.newbyteorder("="))  # native byte order, and a writable copy


def _find_idx(root: Path, stem: str) -> Path:
    """``stem`` in ``root``: plain or .gz, with '-idx' or '.idx' (both spellings circulate)."""
    alternatives = [stem, stem.replace("-idx", ".idx")]
    for name in alternatives:
        for candidate in (root / name, root / (name + ".gz")):
            if candidate.is_file():
                return candidate
    raise FileNotFoundError(
        f"--data {root}: no {stem} or {stem}.gz (the standard MNIST/Fashion-MNIST IDX "
        f"file names: train-images-idx3-ubyte, train-labels-idx1-ubyte, "
        f"t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte)")


def _read_pair(root: Path, prefix: str) -> tuple[np.ndarray, np.ndarray]:
    img_path = _find_idx(root, f"{prefix}-images-idx3-ubyte")
    lbl_path = _find_idx(root, f"{prefix}-labels-idx1-ubyte")
    images = read_idx(img_path)
    labels = read_idx(lbl_path)
    if images.ndim != 3 or images.dtype != np.uint8:
        raise ValueError(f"{img_path}: expected uint8 images of shape (N, rows, cols), "
                         f"got {images.dtype} {images.shape}")
    if labels.ndim != 1:
        raise ValueError(f"{lbl_path}: expected labels of shape (N,), got {labels.shape}")
    if len(images) != len(labels):
        raise ValueError(f"{img_path} holds {len(images)} images but {lbl_path} holds "
                         f"{len(labels)} labels; they must match")
    if labels.size and (labels.min() < 0 or labels.max() > 9):
        raise ValueError(f"{lbl_path}: labels must be 0..9, found "
                         f"{int(labels.min())}..{int(labels.max())}")
    return images, labels


# ------------------------------------------------------------------------------------
# the public loader
# ------------------------------------------------------------------------------------
def preprocess(images: np.ndarray, normalize: bool = True) -> np.ndarray:
    """uint8 ``(N, H, W)`` (or ``(N, 1, H, W)``) grey levels -> float32 ``(N, 1, H, W)``:
    x / 255 in [0, 1], then (x - 0.1307) / 0.3081 when ``normalize``."""
    images = np.asarray(images)
    if images.ndim == 3:
        images = images[:, None]
    if images.ndim != 4 or images.shape[1] != 1:
        raise ValueError(f"preprocess: images must have shape (N, H, W) or (N, 1, H, W), "
                         f"got {images.shape}")
    x = images.astype(np.float32)
    x *= np.float32(1.0 / 255.0)
    if normalize:
        x -= np.float32(MNIST_MEAN)
        x *= np.float32(1.0 / MNIST_STD)
    return x


def load_mnist(split: str = "train", root: str | os.PathLike | None = None,
               normalize: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """MNIST images and labels.

    Args:
        split: ``'train'`` (shipped: first 8,000; IDX: the 60,000 ``train-*`` files),
            ``'test'`` (shipped: the last 2,000, held out; IDX: the ``t10k-*`` files) or
            ``'all'`` (both, train first).
        root: a folder with the standard IDX files (MNIST or Fashion-MNIST); ``None``
            for the digits shipped with handgrad.
        normalize: standardise with the MNIST mean/std (0.1307, 0.3081); otherwise the
            pixels stay in [0, 1].

    Returns:
        ``images`` float32 ``(N, 1, 28, 28)``, ``labels`` int64 ``(N,)``.
    """
    if split not in _SPLITS:
        raise ValueError(f"load_mnist: split must be one of {_SPLITS}, got {split!r}")
    if root is None:
        path = default_mnist_path()
        with np.load(path, allow_pickle=False) as f:
            images, labels = f["images"], f["labels"]
        if split == "train":
            images, labels = images[:N_TRAIN], labels[:N_TRAIN]
        elif split == "test":
            images, labels = images[-N_HELD_OUT:], labels[-N_HELD_OUT:]
    else:
        root = Path(root)
        if not root.is_dir():
            raise FileNotFoundError(f"--data {root}: no such folder (expected a folder "
                                    f"holding the MNIST IDX files)")
        parts = {"train": ["train"], "test": ["t10k"], "all": ["train", "t10k"]}[split]
        pairs = [_read_pair(root, p) for p in parts]
        images = np.concatenate([p[0] for p in pairs]) if len(pairs) > 1 else pairs[0][0]
        labels = np.concatenate([p[1] for p in pairs]) if len(pairs) > 1 else pairs[0][1]
    return preprocess(images, normalize), labels.astype(np.int64)
