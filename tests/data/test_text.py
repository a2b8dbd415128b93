"""The text data layer: vocabulary, loader, split, truncated-BPTT batcher."""

from __future__ import annotations

import numpy as np
import pytest

from handgrad.data.text import BPTTBatcher, CharVocab, load_text, split_text

KOREAN = "가는 말이 고와야 오는 말이 곱다.\n낮말은 새가 듣고 밤말은 쥐가 듣는다.\n"


def test_shipped_text_loads():
    text = load_text()
    assert len(text) == 1_115_394
    vocab = CharVocab.from_text(text)
    assert vocab.size == 65
    assert vocab.chars == sorted(set(text))


@pytest.mark.parametrize("text", ["hello world", KOREAN, "a", "\t\n é 日本 🙂 x"])
def test_encode_decode_round_trip(text):
    vocab = CharVocab.from_text(text)
    ids = vocab.encode(text)
    assert ids.dtype == np.int64 and ids.shape == (len(text),)
    assert vocab.decode(ids) == text
    # ids agree with the plain dictionary definition
    assert ids.tolist() == [vocab.stoi[c] for c in text]
    assert vocab.chars == sorted(set(text))


def test_vocab_dict_round_trip_is_json_able():
    import json

    vocab = CharVocab.from_text(KOREAN)
    d = json.loads(json.dumps(vocab.to_dict()))
    assert CharVocab.from_dict(d) == vocab
    with pytest.raises(ValueError, match="sorted"):
        CharVocab.from_dict({"chars": ["b", "a"]})
    with pytest.raises(ValueError, match="chars"):
        CharVocab.from_dict({"letters": []})


def test_unknown_characters_are_listed():
    vocab = CharVocab.from_text("abc")
    with pytest.raises(ValueError, match=r"'x'.*'y'.*position 1"):
        vocab.encode("axyb")
    assert vocab.unknown_chars("zzab") == ["z"]
    with pytest.raises(ValueError, match="ids must lie"):
        vocab.decode([0, 3])


def test_load_text_utf8_korean_and_errors(tmp_path):
    p = tmp_path / "ko.txt"
    p.write_text(KOREAN, encoding="utf-8")
    assert load_text(p) == KOREAN
    bom = tmp_path / "bom.txt"
    bom.write_bytes(b"\xef\xbb\xbf" + KOREAN.encode())
    assert load_text(bom) == KOREAN
    cp949 = tmp_path / "cp949.txt"
    cp949.write_bytes(KOREAN.encode("cp949"))
    with pytest.raises(ValueError, match="not UTF-8.*position 0"):
        load_text(cp949)
    with pytest.raises(FileNotFoundError, match="no such file"):
        load_text(tmp_path / "missing.txt")
    with pytest.raises(IsADirectoryError):
        load_text(tmp_path)
    (tmp_path / "empty.txt").write_text("")
    with pytest.raises(ValueError, match="empty"):
        load_text(tmp_path / "empty.txt")


def test_split_holds_out_the_last_tenth():
    text = "".join(chr(97 + i % 26) for i in range(1000))
    train, held = split_text(text)
    assert train + held == text and len(held) == 100
    ids = np.arange(50)
    a, b = split_text(ids, 0.2)
    np.testing.assert_array_equal(b, np.arange(40, 50))
    with pytest.raises(ValueError, match="held_out"):
        split_text(text, 1.5)
    with pytest.raises(ValueError, match="too short"):
        split_text("abc")


@pytest.mark.parametrize("n,batch,seq", [(101, 4, 7), (50, 1, 49), (1000, 8, 16), (9, 4, 3)])
def test_batcher_streams_are_contiguous(n, batch, seq):
    ids = np.arange(n)
    b = BPTTBatcher(ids, batch, seq)
    L = (n - 1) // batch
    xs = np.concatenate([x for x, _ in b], axis=1)
    ys = np.concatenate([y for _, y in b], axis=1)
    assert xs.shape == (batch, L)
    # stream r is a contiguous slice of the text; targets are the next characters
    np.testing.assert_array_equal(xs, np.arange(batch * L).reshape(batch, L))
    np.testing.assert_array_equal(ys, xs + 1)
    assert len(b) == -(-L // seq)
    assert all(x.shape[1] == seq for x, _ in list(b)[:-1])
    # indexable and resumable mid-epoch; time-major gives the transpose
    tm = BPTTBatcher(ids, batch, seq, time_major=True)
    for i, (x, y) in enumerate(b.iter_from(len(b) // 2), start=len(b) // 2):
        np.testing.assert_array_equal(tm[i][0], x.T)
        np.testing.assert_array_equal(tm[i][1], y.T)


def test_batcher_rejects_bad_settings():
    with pytest.raises(ValueError, match="batch_size"):
        BPTTBatcher(np.arange(10), 0, 4)
    with pytest.raises(ValueError, match="too few"):
        BPTTBatcher(np.arange(3), 4, 4)
    with pytest.raises(TypeError, match="1-D integer"):
        BPTTBatcher(np.zeros(10), 2, 4)


def test_load_text_refuses_devices_fifos_and_huge_files(tmp_path):
    import os

    fifo = tmp_path / "pipe.txt"
    os.mkfifo(fifo)
    with pytest.raises(ValueError, match="not a regular file"):
        load_text(fifo)
    with pytest.raises(ValueError, match="not a regular file"):
        load_text("/dev/zero")
    big = tmp_path / "big.txt"
    big.write_text("abc" * 100)
    with pytest.raises(ValueError, match="300 bytes, more than the limit of 299"):
        load_text(big, max_bytes=299)
    assert load_text(big, max_bytes=300) == "abc" * 100
