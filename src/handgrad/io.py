"""Saving and loading without pickle; reading PyTorch weights.

``handgrad.save(obj, path)`` writes nested dicts / lists / tuples of NumPy arrays,
handgrad Tensors (saved as their arrays), Python numbers (ints of any size, so RNG
states survive), strings, bools and None. ``handgrad.load(path)`` gives them back with
every dtype and shape exactly as saved.

The file format (``handgrad-checkpoint``, version 1)
----------------------------------------------------
An ordinary ``.npz`` (zip, members stored uncompressed), so ``np.load(path,
allow_pickle=False)`` opens it too:

* ``handgrad.json``: the header. ``{"format": "handgrad-checkpoint", "version": 1,
  "root": NODE}`` where a NODE is ``{"type": "dict", "items": [[key, NODE], ...]}``,
  ``{"type": "list"|"tuple", "items": [NODE, ...]}``, ``{"type": "array", "member":
  "arrays/0.npy", "dtype": "<f4", "shape": [2, 3]}`` (``"scalar": true`` for a NumPy
  scalar), ``{"type": "int", "value": "123"}`` (a string: JSON numbers lose big ints),
  ``{"type": "float", "value": "0.1"}`` (``repr``, exact, also nan/inf), ``"bool"``,
  ``"str"``, ``"complex"``, ``"none"``. Dict keys are ``["str", k]`` or ``["int", "k"]``
  (optimizer states are keyed by parameter index, as in PyTorch).
* ``arrays/<i>.npy``: one ``.npy`` per array, never an object array.
* the zip comment, a trailer ``handgrad-sha256:<64 hex digits>``: the SHA-256 of every
  byte of the file before the digits. A cut or flipped byte anywhere is detected, also
  in the zip's own bookkeeping that its CRCs do not cover.

Why no pickle: unpickling runs code named by the file. Here loading only parses JSON
and raw ``.npy`` bytes (``allow_pickle=False``), so a file can at worst fail to load.

Writes are atomic: the file is written to a temporary file in the same folder,
flushed and fsync'ed, then renamed over the target (``os.replace``), so a crash in the
middle never leaves a half-written file where a good checkpoint used to be.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import numbers
import os
import stat
import struct
import tempfile
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["save", "load", "CheckpointError", "FORMAT", "FORMAT_VERSION", "from_torch",
           "to_torch_state_dict"]

FORMAT = "handgrad-checkpoint"
FORMAT_VERSION = 1
HEADER_MEMBER = "handgrad.json"
_TRAILER_PREFIX = b"handgrad-sha256:"
_TRAILER_LEN = len(_TRAILER_PREFIX) + 64
_ZIP_MAGIC = b"PK\x03\x04"
# dtype kinds a checkpoint may hold: bool, ints, unsigned, floats, complex. Object ("O")
# and structured ("V") arrays are refused (only pickle can store objects), and so are
# strings ("U", "S": a zero-size string dtype would hand back memory never written).
_ALLOWED_KINDS = "biufc"
_CHUNK = 1 << 20
_MAX_DEPTH = 200
#: the JSON header of a checkpoint is small (a node per value); a larger one is crafted
MAX_HEADER_BYTES = 64 << 20
_LOCAL_HEADER = struct.Struct("<4s22xHH")  # signature, (22 bytes), name and extra lengths


class CheckpointError(ValueError):
    """A file that is not a readable handgrad checkpoint: truncated, corrupted, another
    format, a newer format version, or members that disagree with the header."""


# ------------------------------------------------------------------------------------
# saving
# ------------------------------------------------------------------------------------
def _where(path: str) -> str:
    return path or "the object"


class _Encoder:
    """Turns the object into the JSON tree and the list of arrays to write."""

    def __init__(self) -> None:
        self.arrays: list[tuple[str, np.ndarray]] = []

    def add_array(self, arr: np.ndarray, where: str, scalar: bool = False) -> dict[str, Any]:
        if arr.dtype.kind not in _ALLOWED_KINDS or arr.dtype.fields is not None:
            hint = (" (strings: save a list of str instead, e.g. arr.tolist())"
                    if arr.dtype.kind in "US" else "")
            raise TypeError(
                f"save: {_where(where)} is an array of dtype {arr.dtype} (shape {arr.shape}); "
                f"only numeric and bool arrays can be saved without pickle{hint}. "
                f"Convert it first, e.g. np.asarray(x, dtype=np.float64)"
            )
        member = f"arrays/{len(self.arrays)}.npy"
        self.arrays.append((member, arr))
        node: dict[str, Any] = {"type": "array", "member": member, "dtype": arr.dtype.str,
                                "shape": list(arr.shape)}
        if scalar:
            node["scalar"] = True
        return node

    def encode(self, obj: Any, where: str, depth: int = 0) -> dict[str, Any]:
        if depth > _MAX_DEPTH:
            raise ValueError(f"save: {_where(where)} is nested more than {_MAX_DEPTH} levels "
                             f"deep (a structure that contains itself?)")
        from handgrad.tensor import Tensor

        if obj is None:
            return {"type": "none"}
        if isinstance(obj, bool | np.bool_) and not isinstance(obj, np.ndarray):
            if isinstance(obj, np.bool_):
                return self.add_array(np.asarray(obj), where, scalar=True)
            return {"type": "bool", "value": obj}
        if isinstance(obj, Tensor):
            return self.add_array(obj.data, where)
        if isinstance(obj, np.ndarray):
            return self.add_array(obj, where)
        if isinstance(obj, np.generic):
            return self.add_array(np.asarray(obj), where, scalar=True)
        if isinstance(obj, int):
            return {"type": "int", "value": str(int(obj))}
        if isinstance(obj, float):
            return {"type": "float", "value": repr(float(obj))}
        if isinstance(obj, complex):
            return {"type": "complex", "value": [repr(obj.real), repr(obj.imag)]}
        if isinstance(obj, str):
            return {"type": "str", "value": obj}
        if isinstance(obj, Mapping):
            items = []
            for key, value in obj.items():
                if isinstance(key, str):
                    jkey: list[str] = ["str", key]
                elif isinstance(key, numbers.Integral) and not isinstance(key, bool):
                    jkey = ["int", str(int(key))]
                else:
                    raise TypeError(
                        f"save: {_where(where)} has a key {key!r} of type "
                        f"{type(key).__name__}; dict keys must be str or int"
                    )
                items.append([jkey, self.encode(value, f"{where}[{key!r}]", depth + 1)])
            return {"type": "dict", "items": items}
        if isinstance(obj, list | tuple):
            kind = "tuple" if isinstance(obj, tuple) else "list"
            return {"type": kind, "items": [self.encode(v, f"{where}[{i}]", depth + 1)
                                            for i, v in enumerate(obj)]}
        hint = ""
        if hasattr(obj, "state_dict"):
            hint = " It has a state_dict(): save obj.state_dict() instead."
        raise TypeError(
            f"save: {_where(where)} is a {type(obj).__module__}.{type(obj).__qualname__}, "
            f"which cannot be saved without pickle. Supported: dict, list, tuple, "
            f"np.ndarray, handgrad.Tensor, int, float, complex, bool, str, None.{hint}"
        )


def _write_array(fp: Any, arr: np.ndarray) -> None:
    """One ``.npy`` member (a seam for tests that simulate a crash mid-write)."""
    np.lib.format.write_array(fp, arr, allow_pickle=False)


def _sha256_of(f: Any, length: int) -> str:
    """SHA-256 of the first ``length`` bytes of the open binary file ``f``."""
    f.seek(0)
    digest = hashlib.sha256()
    remaining = length
    while remaining > 0:
        block = f.read(min(_CHUNK, remaining))
        if not block:
            break
        digest.update(block)
        remaining -= len(block)
    return digest.hexdigest()


def _member_info(name: str) -> zipfile.ZipInfo:
    """A zip member entry stamped 1980-01-01 (zip's epoch) instead of the current time."""
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_STORED
    return info


def _write_checkpoint(f: Any, header: dict[str, Any],
                      arrays: list[tuple[str, np.ndarray]]) -> None:
    """Write the zip to the open binary file ``f`` (at position 0), then seal it."""
    with zipfile.ZipFile(f, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
        # a fixed timestamp on every member: the same state always gives the same bytes
        zf.writestr(_member_info(HEADER_MEMBER), json.dumps(header, allow_nan=False))
        for member, arr in arrays:
            with zf.open(_member_info(member), "w", force_zip64=True) as out:
                _write_array(out, arr)
        # placeholder of the final length; the digest goes in once the bytes are known
        zf.comment = _TRAILER_PREFIX + b"0" * 64
    _seal(f)


def _seal(f: Any) -> None:
    """Write the SHA-256 of everything before the trailer's digits into the trailer."""
    f.seek(0, os.SEEK_END)
    size = f.tell()
    digest = _sha256_of(f, size - 64)
    f.seek(size - 64)
    f.write(digest.encode("ascii"))


def save(obj: Any, path: str | os.PathLike) -> None:
    """Save ``obj`` (nested dicts/lists of arrays, Tensors, numbers, strings) to ``path``.

    The file is written exactly at ``path`` (no suffix is added; ``.npz`` is a good one).
    Raises TypeError naming the place in ``obj`` that cannot be saved without pickle.
    """
    path = Path(os.fspath(path))
    encoder = _Encoder()
    root = encoder.encode(obj, "")
    header = {"format": FORMAT, "version": FORMAT_VERSION, "root": root}
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise FileNotFoundError(f"save: folder {folder} does not exist (path {path})")
    _remove_stale_temporaries(folder, path.name)
    fd, tmp_name = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.{os.getpid()}.",
                                    suffix=".tmp")
    try:
        # mkstemp creates the file 0600; a saved file gets the permissions open() would
        # give it (0644 under umask 022), as np.save's do
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "w+b") as f:
            _write_checkpoint(f, header, encoder.arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        try:
            os.unlink(tmp_name)
        except OSError:
            pass
        raise
    _fsync_folder(folder)


def _umask() -> int:
    mask = os.umask(0o022)  # the only way to read the umask is to set it
    os.umask(mask)
    return mask


def _remove_stale_temporaries(folder: Path, name: str) -> None:
    """Delete ``.NAME.PID.*.tmp`` files left by a save that was killed (its process no
    longer exists); a save still running in another process keeps its file."""
    prefix = f".{name}."
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return
    for entry in entries:
        if not (entry.name.startswith(prefix) and entry.name.endswith(".tmp")):
            continue
        pid_text = entry.name[len(prefix):].split(".", 1)[0]
        if not pid_text.isdigit():
            continue
        pid = int(pid_text)
        if pid == os.getpid():
            continue              # this process's own save in another thread
        try:
            os.kill(pid, 0)
            continue              # alive: another process is saving right now
        except ProcessLookupError:
            pass                  # gone: its temporary file is garbage
        except OSError:
            continue              # alive but not ours to signal
        try:
            os.unlink(entry.path)
        except OSError:
            pass


def _fsync_folder(folder: Path) -> None:
    """Make the rename itself durable (POSIX); harmless where folders cannot be opened."""
    try:
        dir_fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)


# ------------------------------------------------------------------------------------
# loading
# ------------------------------------------------------------------------------------
def _check_envelope(f: Any, path: Path) -> None:
    """Magic bytes, trailer and digest: is this a complete, unmodified handgrad file?"""
    f.seek(0, os.SEEK_END)
    size = f.tell()
    f.seek(0)
    head = f.read(8)
    if size == 0:
        raise CheckpointError(f"{path}: the file is empty (0 bytes); expected a "
                              f"{FORMAT} file (a .npz zip). Was the save interrupted?")
    if not head.startswith(_ZIP_MAGIC):
        guess = ""
        if head[:1] == b"\x80":
            guess = " It looks like a pickle (e.g. an old torch.save file): handgrad never " \
                    "unpickles; for PyTorch weights use handgrad.io.from_torch(path)."
        elif head.startswith(b"\x93NUMPY"):
            guess = " It is a single .npy array: use np.load(path, allow_pickle=False)."
        raise CheckpointError(
            f"{path}: not a {FORMAT} file: expected it to start with the zip signature "
            f"{_ZIP_MAGIC!r}, found {head[:8]!r}.{guess}"
        )
    if size < _TRAILER_LEN:
        raise CheckpointError(f"{path}: truncated: the file has only {size} bytes")
    f.seek(size - _TRAILER_LEN)
    trailer = f.read(_TRAILER_LEN)
    prefix, digest = trailer[: len(_TRAILER_PREFIX)], trailer[len(_TRAILER_PREFIX):]
    if prefix != _TRAILER_PREFIX:
        hint = ""
        try:
            f.seek(0)
            with zipfile.ZipFile(f) as zf:
                names = zf.namelist()
            if any(n.endswith("data.pkl") for n in names):
                hint = (" It is a PyTorch file (torch.save): read its weights with "
                        "handgrad.io.from_torch(path).")
            elif HEADER_MEMBER not in names:
                hint = (" It is a zip/.npz written by something else (np.savez?): open it "
                        "with np.load(path, allow_pickle=False).")
        except (zipfile.BadZipFile, OSError, ValueError, EOFError):
            hint = (" The file is probably truncated (cut short while it was written or "
                    "copied) or is not a handgrad checkpoint.")
        raise CheckpointError(
            f"{path}: expected the file to end with the handgrad trailer "
            f"{_TRAILER_PREFIX.decode()}<sha256>, found {trailer[-24:]!r} at the end "
            f"({size} bytes).{hint}"
        )
    found = _sha256_of(f, size - 64)
    if digest != found.encode("ascii"):
        raise CheckpointError(
            f"{path}: corrupted: the SHA-256 recorded in the file is "
            f"{digest.decode('ascii', 'replace')!r} but its contents hash to {found!r}; "
            f"bytes were changed after it was written (disk or copy error?). Use an "
            f"earlier checkpoint."
        )


class _Decoder:
    """Rebuilds the saved object from the header, reading each array straight from the
    file into its final buffer (peak memory about 1x the arrays)."""

    def __init__(self, zf: zipfile.ZipFile, f: Any, path: Path) -> None:
        self.zf = zf
        self.f = f
        self.path = path
        self.names = set(zf.namelist())
        self.used: set[str] = set()

    def fail(self, where: str, message: str) -> CheckpointError:
        return CheckpointError(f"{self.path}: {_where(where)}: {message}")

    def decode(self, node: Any, where: str, depth: int = 0) -> Any:
        if depth > _MAX_DEPTH:
            raise self.fail(where, f"nested more than {_MAX_DEPTH} levels deep")
        if not isinstance(node, dict) or not isinstance(node.get("type"), str):
            raise self.fail(where, f"expected a header node {{'type': ...}}, found "
                                   f"{str(node)[:80]}")
        kind = node["type"]
        try:
            if kind == "none":
                return None
            if kind == "bool":
                value = node["value"]
                if not isinstance(value, bool):
                    raise TypeError("bool")
                return value
            if kind == "int":
                value = node["value"]
                if not isinstance(value, str):
                    raise TypeError("int must be stored as a string")
                return int(value)
            if kind == "float":
                return float(node["value"])
            if kind == "complex":
                re, im = node["value"]
                return complex(float(re), float(im))
            if kind == "str":
                value = node["value"]
                if not isinstance(value, str):
                    raise TypeError("str")
                return value
            if kind in ("list", "tuple"):
                items = [self.decode(v, f"{where}[{i}]", depth + 1)
                         for i, v in enumerate(node["items"])]
                return tuple(items) if kind == "tuple" else items
            if kind == "dict":
                out: dict[Any, Any] = {}
                for jkey, value in node["items"]:
                    key_kind, key = jkey
                    if key_kind == "str" and isinstance(key, str):
                        k: Any = key
                    elif key_kind == "int" and isinstance(key, str):
                        k = int(key)
                    else:
                        raise TypeError(f"bad key {jkey!r}")
                    out[k] = self.decode(value, f"{where}[{k!r}]", depth + 1)
                return out
            if kind == "array":
                return self.read_array(node, where)
        except CheckpointError:
            raise
        except (KeyError, TypeError, ValueError, IndexError) as err:
            raise self.fail(where, f"malformed {kind!r} node in the header "
                                   f"({type(err).__name__}: {err})") from None
        raise self.fail(where, f"unknown node type {kind!r} (written by a newer handgrad?)")

    def read_array(self, node: dict[str, Any], where: str) -> Any:
        member = node["member"]
        if not isinstance(member, str) or member not in self.names:
            raise self.fail(where, f"expected the array member {member!r} (dtype "
                                   f"{node.get('dtype')}, shape {node.get('shape')}), but the "
                                   f"file has no such member")
        want_dtype = np.dtype(node["dtype"])
        if (want_dtype.kind not in _ALLOWED_KINDS or want_dtype.fields is not None
                or want_dtype.itemsize == 0 or want_dtype.subdtype is not None):
            raise self.fail(where, f"the header declares dtype {want_dtype}, which handgrad "
                                   f"never writes (only numeric and bool arrays)")
        shape = node["shape"]
        if not isinstance(shape, list) or not all(
                isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in shape):
            raise TypeError(f"bad shape {shape!r}")
        want_shape = tuple(shape)
        if member in self.used:
            # handgrad writes each array once; a header pointing many nodes at one large
            # member would multiply the memory a load takes
            raise self.fail(where, f"member {member} is referenced twice in the header")
        self.used.add(member)
        info = self.zf.getinfo(member)
        start = _stored_data_offset(self.f, info, self.fail, where)
        f = self.f
        f.seek(start)
        try:
            version = np.lib.format.read_magic(f)
            if version == (1, 0):
                shp, fortran, dtype = np.lib.format.read_array_header_1_0(f)
            elif version == (2, 0):
                shp, fortran, dtype = np.lib.format.read_array_header_2_0(f)
            else:
                raise ValueError(f"unsupported .npy version {version}")
        except ValueError as err:
            raise self.fail(where, f"member {member} is not a valid .npy array: "
                                   f"{err}") from None
        if dtype != want_dtype or tuple(shp) != want_shape:
            raise self.fail(where, f"member {member}: the header expects dtype "
                                   f"{want_dtype} and shape {want_shape}, the member "
                                   f"holds dtype {dtype} and shape {tuple(shp)}")
        nbytes = math.prod(want_shape) * want_dtype.itemsize
        available = start + info.file_size - f.tell()
        if available != nbytes:
            raise self.fail(where, f"member {member}: expected {nbytes} bytes of data "
                                   f"for dtype {want_dtype} and shape {want_shape}, "
                                   f"found {available}")
        arr = np.empty(want_shape, dtype=want_dtype, order="F" if fortran else "C")
        if nbytes:
            raw = arr.ravel(order="K").view(np.uint8)
            got = f.readinto(raw)
            if got != nbytes:
                raise self.fail(where, f"member {member}: expected {nbytes} bytes, "
                                       f"read {got}")
        if node.get("scalar"):
            if want_shape != ():
                raise self.fail(where, f"a scalar with shape {want_shape}")
            return arr[()]
        return arr


def _stored_data_offset(f: Any, info: zipfile.ZipInfo, fail: Any, where: str) -> int:
    """Where member ``info``'s bytes start in the file. Only stored (uncompressed)
    members are accepted: handgrad never compresses, and a compressed member is how a
    few megabytes of file become gigabytes of memory."""
    if info.compress_type != zipfile.ZIP_STORED or info.compress_size != info.file_size:
        raise fail(where, f"member {info.filename} is compressed (zip method "
                          f"{info.compress_type}); handgrad writes stored members only")
    f.seek(info.header_offset)
    local = f.read(_LOCAL_HEADER.size)
    if len(local) != _LOCAL_HEADER.size:
        raise fail(where, f"member {info.filename}: its local header is cut off")
    signature, name_len, extra_len = _LOCAL_HEADER.unpack(local)
    if signature != _ZIP_MAGIC:
        raise fail(where, f"member {info.filename}: no local header at offset "
                          f"{info.header_offset}")
    start = info.header_offset + _LOCAL_HEADER.size + name_len + extra_len
    f.seek(0, os.SEEK_END)
    if start + info.file_size > f.tell() - _TRAILER_LEN:
        raise fail(where, f"member {info.filename}: declares {info.file_size} bytes, more "
                          f"than the file holds")
    return start


def _open_regular(path: Path) -> Any:
    """Open ``path`` for reading only if it is a regular file: a FIFO would block forever,
    a device (/dev/zero, /dev/urandom) never ends. O_NONBLOCK makes the open itself
    return at once, so the check runs before anything waits."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            kind = ("a FIFO (named pipe)" if stat.S_ISFIFO(mode) else
                    "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else
                    "a socket" if stat.S_ISSOCK(mode) else "not a regular file")
            raise CheckpointError(f"{path}: is {kind}; handgrad loads regular files only")
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def load(path: str | os.PathLike) -> Any:
    """Load what :func:`save` wrote. Raises :class:`CheckpointError` for any file that is
    not a complete, unmodified handgrad checkpoint this version can read.

    Only what ``save`` writes is accepted: a regular file, stored (uncompressed)
    members, numeric and bool arrays whose declared shape matches their byte size, a
    header of at most :data:`MAX_HEADER_BYTES`. Each array is read straight into its
    final buffer, so a load needs about as much memory as the arrays it returns.
    """
    path = Path(os.fspath(path))
    if not path.exists():
        raise FileNotFoundError(f"load: no such file: {path}")
    if path.is_dir():
        raise IsADirectoryError(f"load: {path} is a folder; give the checkpoint file inside")
    with _open_regular(path) as f:
        return _load_stream(f, path)


def _load_stream(f: Any, where: Path) -> Any:
    """Check the envelope (length, trailer, digest), then decode the zip inside. Every
    failure is a CheckpointError (the file is data: nothing in it may raise anything
    else, be it MemoryError, RuntimeError or NotImplementedError from the zip reader)."""
    try:
        _check_envelope(f, where)
        f.seek(0)
        try:
            zf = zipfile.ZipFile(f)
        except (zipfile.BadZipFile, OSError, ValueError, EOFError) as err:
            raise CheckpointError(f"{where}: not a readable zip/.npz: {err}") from None
        with zf:
            return _load_from_zip(zf, f, where)
    except CheckpointError:
        raise
    except Exception as err:
        raise CheckpointError(f"{where}: cannot be read as a {FORMAT} file "
                              f"({type(err).__name__}: {err})") from None


def _load_from_zip(zf: zipfile.ZipFile, f: Any, path: Path) -> Any:
    try:
        info = zf.getinfo(HEADER_MEMBER)
    except KeyError:
        raise CheckpointError(f"{path}: expected a {HEADER_MEMBER!r} member (the {FORMAT} "
                              f"header), found only {zf.namelist()[:5]}") from None
    if info.file_size > MAX_HEADER_BYTES:
        raise CheckpointError(f"{path}: the header {HEADER_MEMBER!r} declares "
                              f"{info.file_size} bytes, more than the {MAX_HEADER_BYTES} a "
                              f"handgrad header can have")
    start = _stored_data_offset(
        f, info, lambda where, msg: CheckpointError(f"{path}: {msg}"), "header")
    f.seek(start)
    raw = f.read(info.file_size)
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as err:
        raise CheckpointError(f"{path}: the header {HEADER_MEMBER!r} is not valid JSON: "
                              f"{err}") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        found = header.get("format") if isinstance(header, dict) else type(header).__name__
        raise CheckpointError(f"{path}: expected format {FORMAT!r}, found {found!r}")
    version = header.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise CheckpointError(f"{path}: expected an integer format version >= 1, found "
                              f"{version!r}")
    if version > FORMAT_VERSION:
        raise CheckpointError(
            f"{path}: written in {FORMAT} version {version}, but this handgrad reads "
            f"versions up to {FORMAT_VERSION}; upgrade handgrad (pip install -U handgrad)"
        )
    if "root" not in header:
        raise CheckpointError(f"{path}: the header has no 'root' entry")
    decoder = _Decoder(zf, f, path)
    try:
        return decoder.decode(header["root"], "")
    except RecursionError:
        raise CheckpointError(f"{path}: the header is nested too deeply") from None
    except (zipfile.BadZipFile, OSError, EOFError) as err:
        raise CheckpointError(f"{path}: a member cannot be read: {err}") from None


def loads_bytes(data: bytes) -> Any:
    """Load a checkpoint held in memory (bytes), with the same checks as :func:`load`."""
    return _load_stream(io.BytesIO(data), Path("<bytes>"))


# ------------------------------------------------------------------------------------
# PyTorch interop (torch is optional: imported only here, only when asked)
# ------------------------------------------------------------------------------------
_TORCH_HINT = ("PyTorch is not installed; install the CPU build with "
               "`pip install torch==2.13.0` (or `pip install -e .[test]`)")


def _import_torch() -> Any:
    try:
        import torch
    except ImportError as err:
        raise ImportError(f"{_TORCH_HINT} ({err})") from None
    return torch


def _torch_to_numpy(obj: Any, torch: Any) -> Any:
    if isinstance(obj, torch.Tensor):
        t = obj.detach().cpu()
        if t.dtype == torch.bfloat16:  # NumPy has no bfloat16; float32 holds it exactly
            t = t.float()
        return t.numpy().copy()
    if isinstance(obj, Mapping):
        return {k: _torch_to_numpy(v, torch) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return type(obj)(_torch_to_numpy(v, torch) for v in obj)
    return obj


def from_torch(path: str | os.PathLike) -> dict[str, Any]:
    """Read a PyTorch ``.pt``/``.pth`` file into NumPy arrays, never running its code.

    Uses ``torch.load(path, map_location="cpu", weights_only=True)``: only tensors and
    plain containers are accepted. A ``state_dict`` gives ``{name: np.ndarray}`` with
    PyTorch's names, which ``handgrad`` modules accept in ``load_state_dict``; nested
    dicts (e.g. ``{"model": ..., "optimizer": ...}``) keep their structure.
    """
    torch = _import_torch()
    path = Path(os.fspath(path))
    if not path.exists():
        raise FileNotFoundError(f"from_torch: no such file: {path}")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises UnpicklingError, RuntimeError, EOFError ...
        raise CheckpointError(
            f"{path}: torch.load(weights_only=True) refused or failed to read the file "
            f"({type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}). "
            f"If it holds a whole pickled model, re-save it with "
            f"torch.save(model.state_dict(), path)."
        ) from None
    result = _torch_to_numpy(obj, torch)
    if not isinstance(result, dict):
        return {"": result} if isinstance(result, np.ndarray) else result
    return result


def to_torch_state_dict(state: Any) -> Any:
    """A handgrad ``state_dict`` (names -> arrays) as PyTorch tensors, ready for
    ``torch_module.load_state_dict(..., strict=True)`` or ``torch.save``.
    Modules (anything with ``state_dict()``) are converted from their state dict."""
    torch = _import_torch()
    from collections import OrderedDict

    from handgrad.tensor import Tensor

    if hasattr(state, "state_dict") and callable(state.state_dict):
        state = state.state_dict()

    def convert(obj: Any) -> Any:
        if isinstance(obj, Tensor):
            obj = obj.data
        if isinstance(obj, np.ndarray | np.generic):
            return torch.from_numpy(np.array(obj, copy=True))
        if isinstance(obj, Mapping):
            return OrderedDict((k, convert(v)) for k, v in obj.items())
        if isinstance(obj, list | tuple):
            return type(obj)(convert(v) for v in obj)
        return obj

    return convert(state)
