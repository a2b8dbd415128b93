"""Text for character-level language models: a vocabulary, a loader, a split, and the
batcher for truncated backpropagation through time.

A character model reads a text as one long sequence of symbol ids x_1, x_2, ..., x_n and
learns P(x_t | x_1..x_{t-1}). Training uses *truncated* BPTT over *contiguous streams*:

* the ids are cut into ``batch_size`` equally long streams laid side by side (stream b
  holds characters ``b*L .. (b+1)*L - 1``), so one batch row always continues the row of
  the previous batch;
* each stream is read in chunks of ``seq_len`` steps; the target of the input at step t
  is the character at step t + 1 (targets are the inputs shifted by one);
* the model carries its hidden state from one chunk to the next (``h.detach()``), so it
  sees the whole stream as context while gradients stop at the chunk boundary.

Example::

    text = load_text()                        # the shipped tiny-shakespeare
    vocab = CharVocab.from_text(text)
    train, held_out = split_text(text, 0.1)   # the last 10% is held out
    batches = BPTTBatcher(vocab.encode(train), batch_size=32, seq_len=64)
    for x, y in batches:                      # x, y: int64 (batch_size, <= seq_len)
        ...
"""

from __future__ import annotations

import importlib.resources
import os
import stat
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["CharVocab", "load_text", "split_text", "BPTTBatcher", "default_text_path"]

_DEFAULT_TEXT = "tinyshakespeare.txt"


def _codepoints(text: str) -> np.ndarray:
    """The Unicode code points of ``text`` as a uint32 array (vectorised, no Python loop):
    UTF-32 stores every character in exactly 4 bytes."""
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype="<u4")


class CharVocab:
    """The characters of a text, sorted, each with an id 0..size-1.

    Sorting makes the ids depend only on the *set* of characters, never on the order they
    were met, so the same text always gives the same vocabulary (across processes too).
    """

    def __init__(self, chars: Iterable[str]) -> None:
        chars = list(chars)
        for c in chars:
            if not isinstance(c, str) or len(c) != 1:
                raise TypeError(f"CharVocab: chars must be single characters, got {c!r}")
        uniq = sorted(set(chars))
        if not uniq:
            raise ValueError("CharVocab: chars is empty; a vocabulary needs at least one "
                             "character")
        self.chars: list[str] = uniq
        self.stoi: dict[str, int] = {c: i for i, c in enumerate(uniq)}
        # code points in ascending order (Python sorts str by code point), for searchsorted
        self._codes = np.array([ord(c) for c in uniq], dtype=np.uint32)

    @classmethod
    def from_text(cls, text: str) -> CharVocab:
        if not isinstance(text, str):
            raise TypeError(f"CharVocab.from_text: text must be a str, got "
                            f"{type(text).__name__}")
        if not text:
            raise ValueError("CharVocab.from_text: text is empty")
        return cls(chr(int(c)) for c in np.unique(_codepoints(text)))

    # -- sizes ---------------------------------------------------------------------------
    @property
    def size(self) -> int:
        return len(self.chars)

    def __len__(self) -> int:
        return len(self.chars)

    def __contains__(self, char: object) -> bool:
        return char in self.stoi

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CharVocab) and self.chars == other.chars

    def __repr__(self) -> str:
        shown = "".join(self.chars[:40])
        return f"CharVocab(size={self.size}, chars={shown!r}{'...' if self.size > 40 else ''})"

    # -- encoding ------------------------------------------------------------------------
    def unknown_chars(self, text: str) -> list[str]:
        """The distinct characters of ``text`` that are not in the vocabulary, sorted."""
        cp = np.unique(_codepoints(text))
        idx = np.clip(np.searchsorted(self._codes, cp), 0, len(self._codes) - 1)
        missing = cp[self._codes[idx] != cp]
        return [chr(int(c)) for c in missing]

    def encode(self, text: str, name: str = "text") -> np.ndarray:
        """Ids of the characters of ``text`` (int64, shape (len(text),)).

        A character outside the vocabulary raises a ValueError that lists a few of them
        and where the first one occurs.
        """
        if not isinstance(text, str):
            raise TypeError(f"{name}: expected a str, got {type(text).__name__}")
        cp = _codepoints(text)
        idx = np.searchsorted(self._codes, cp)
        clipped = np.minimum(idx, len(self._codes) - 1)
        bad = self._codes[clipped] != cp
        if bad.any():
            missing = self.unknown_chars(text)
            first = int(np.argmax(bad))
            shown = ", ".join(repr(c) for c in missing[:8])
            more = f" and {len(missing) - 8} more" if len(missing) > 8 else ""
            raise ValueError(
                f"{name}: {len(missing)} character(s) are not in the model's vocabulary of "
                f"{self.size}: {shown}{more} (first at position {first}); the model can only "
                f"score text made of the characters it was trained on"
            )
        return idx.astype(np.int64)

    def decode(self, ids: Iterable[int] | np.ndarray) -> str:
        """The text of a sequence of ids."""
        arr = np.asarray(ids if isinstance(ids, np.ndarray) else list(ids))
        if arr.size == 0:
            return ""
        if arr.dtype.kind not in "iu":
            raise TypeError(f"decode: ids must be integers, got dtype {arr.dtype}")
        if arr.min() < 0 or arr.max() >= self.size:
            raise ValueError(f"decode: ids must lie in [0, {self.size}), got values from "
                             f"{arr.min()} to {arr.max()}")
        return self._codes[arr.ravel()].astype("<u4").tobytes().decode("utf-32-le")

    # -- saving --------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """A JSON-able description (a list of strings) for checkpoints and model files."""
        return {"chars": list(self.chars)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CharVocab:
        if not isinstance(d, dict) or "chars" not in d:
            keys = list(d) if isinstance(d, dict) else []
            raise ValueError(f"CharVocab.from_dict: expected a dict with key 'chars', got "
                             f"{type(d).__name__} with keys {keys}")
        chars = d["chars"]
        if isinstance(chars, np.ndarray):
            chars = chars.tolist()
        if isinstance(chars, str):
            chars = list(chars)
        vocab = cls(chars)
        if vocab.chars != list(chars):
            raise ValueError("CharVocab.from_dict: 'chars' must be sorted and without "
                             "repeats (as to_dict writes them)")
        return vocab


def default_text_path() -> Path:
    """The shipped tiny-shakespeare file (inside the installed package)."""
    ref = importlib.resources.files("handgrad") / "data" / "files" / _DEFAULT_TEXT
    return Path(str(ref))


#: the largest training text ``load_text`` reads (a character model keeps the whole text
#: in memory, as int64 ids: 8 bytes a character); use --max-chars on a prefix otherwise
MAX_TEXT_BYTES = 256 << 20


def load_text(path: str | os.PathLike | None = None, max_bytes: int | None = None) -> str:
    """Read a UTF-8 text file (any language; Korean included); default: the shipped
    tiny-shakespeare. A leading byte-order mark is dropped.

    Raises FileNotFoundError for a missing file, ValueError for a file that is not UTF-8
    (saying where the first bad byte is), that is empty, that is not a regular file (a
    FIFO or a device such as /dev/zero would block or never end), or that is larger than
    ``max_bytes`` (default :data:`MAX_TEXT_BYTES`).
    """
    p = default_text_path() if path is None else Path(path)
    limit = MAX_TEXT_BYTES if max_bytes is None else max_bytes
    if not p.exists():
        raise FileNotFoundError(f"text: no such file: {str(p)!r}")
    if p.is_dir():
        raise IsADirectoryError(f"text: {str(p)!r} is a folder; give a UTF-8 text file")
    fd = os.open(p, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise ValueError(f"text: {str(p)!r} is not a regular file (a FIFO, device or "
                             f"socket); give a UTF-8 text file")
        if st.st_size > limit:
            raise ValueError(f"text: {str(p)!r} has {st.st_size:,} bytes, more than the "
                             f"limit of {limit:,}; cut it first (e.g. `head -c "
                             f"{limit} in.txt > part.txt`)")
        os.set_blocking(fd, True)
        raw = f.read(limit + 1)
    if len(raw) > limit:  # grew while we read it
        raise ValueError(f"text: {str(p)!r} has more than {limit:,} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ValueError(
            f"text: {str(p)!r} is not UTF-8 (byte {raw[err.start:err.start + 1]!r} at "
            f"position {err.start} cannot start or continue a UTF-8 character); save it as "
            f"UTF-8, e.g. `iconv -f cp949 -t utf-8 in.txt > out.txt` for Korean EUC-KR/CP949"
        ) from None
    if text.startswith("\ufeff"):
        text = text[1:]
    if not text:
        raise ValueError(f"text: {str(p)!r} is empty")
    return text


def split_text(text: Sequence[Any] | str | np.ndarray, held_out: float = 0.1
               ) -> tuple[Any, Any]:
    """``(train, held_out)``: the last ``held_out`` fraction (default 10%) is held out.

    Works on a str or on an id array. The split is by position, not at random: a language
    model must be judged on text that continues, not on shuffled pieces it has seen.
    """
    if not 0.0 < held_out < 1.0:
        raise ValueError(f"split_text: held_out must lie strictly between 0 and 1, got "
                         f"{held_out}")
    n = len(text)
    n_held = int(round(n * held_out))
    if n_held < 2 or n - n_held < 2:
        raise ValueError(f"split_text: a text of {n} characters is too short to hold out "
                         f"{held_out:.0%} (each part needs at least 2 characters)")
    return text[: n - n_held], text[n - n_held:]


class BPTTBatcher:
    """Chunks of contiguous parallel streams for truncated BPTT.

    ``ids`` (length n) is cut into ``batch_size`` streams of length L = (n - 1) //
    batch_size (the tail that does not fill a stream is dropped; the -1 leaves room for
    the last target). Chunk i holds steps ``i*seq_len .. min((i+1)*seq_len, L) - 1`` of
    every stream: ``x`` the ids, ``y`` the next ids. Both are int64 arrays of shape
    (batch_size, T) with T = seq_len except possibly for the last chunk; with
    ``time_major=True`` they are (T, batch_size), the layout nn.LSTM reads by default.

    Indexable (``batches[i]``) so a resumed run can start at any chunk.
    """

    def __init__(self, ids: np.ndarray, batch_size: int, seq_len: int,
                 time_major: bool = False) -> None:
        ids = np.asarray(ids)
        if ids.ndim != 1 or ids.dtype.kind not in "iu":
            raise TypeError(f"BPTTBatcher: ids must be a 1-D integer array, got shape "
                            f"{ids.shape} and dtype {ids.dtype}")
        for name, v in (("batch_size", batch_size), ("seq_len", seq_len)):
            if not isinstance(v, int | np.integer) or isinstance(v, bool) or v < 1:
                raise ValueError(f"BPTTBatcher: {name} must be a positive integer, got {v!r}")
        stream_len = (len(ids) - 1) // batch_size
        if stream_len < 1:
            raise ValueError(f"BPTTBatcher: {len(ids)} ids are too few for batch_size="
                             f"{batch_size} (each stream needs at least 2 ids: one input and "
                             f"its target)")
        used = stream_len * batch_size
        self.inputs = np.ascontiguousarray(ids[:used].reshape(batch_size, stream_len),
                                           dtype=np.int64)
        self.targets = np.ascontiguousarray(ids[1:used + 1].reshape(batch_size, stream_len),
                                            dtype=np.int64)
        self.batch_size = int(batch_size)
        self.seq_len = int(seq_len)
        self.stream_len = stream_len
        self.time_major = time_major

    def __len__(self) -> int:
        return -(-self.stream_len // self.seq_len)

    @property
    def n_chars(self) -> int:
        """Characters predicted per pass over the batcher."""
        return self.stream_len * self.batch_size

    def __getitem__(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        n = len(self)
        if not isinstance(i, int | np.integer):
            raise TypeError(f"BPTTBatcher: index must be an int, got {type(i).__name__}")
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError(f"BPTTBatcher: chunk {i} out of range for {n} chunks")
        s = slice(i * self.seq_len, min((i + 1) * self.seq_len, self.stream_len))
        x, y = self.inputs[:, s], self.targets[:, s]
        if self.time_major:
            return np.ascontiguousarray(x.T), np.ascontiguousarray(y.T)
        return x, y

    def iter_from(self, start: int = 0) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Chunks ``start, start+1, ...`` (a resumed run continues mid-epoch)."""
        for i in range(start, len(self)):
            yield self[i]

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        return self.iter_from(0)
