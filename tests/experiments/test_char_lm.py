"""The character language model: training files, sampling, beam search, scoring,
Korean text, and bit-identical resume after SIGKILL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import handgrad as hg
from handgrad.experiments import char_lm as cl
from handgrad.experiments.char_lm_sample import beam_search

KOREAN = ("동해 물과 백두산이 마르고 닳도록 하느님이 보우하사 우리나라 만세.\n"
          "무궁화 삼천리 화려강산 대한 사람 대한으로 길이 보전하세.\n") * 20

TINY = {"hidden": 16, "embed": 8, "seq_len": 12, "batch_size": 4, "steps": 30,
        "max_chars": 6000, "eval_every": 15, "checkpoint_every": 10, "sample_length": 40}


@pytest.fixture(scope="module")
def quick_model(tmp_path_factory):
    out = tmp_path_factory.mktemp("charlm")
    metrics = cl.run(dict(TINY), out=out, verbose=False)
    return out, metrics


def test_quick_run_writes_files(quick_model):
    out, m = quick_model
    for name in ("model.npz", "checkpoint.npz", "metrics.json", "loss_curve.png"):
        assert (out / name).stat().st_size > 0, name
    saved = json.loads((out / "metrics.json").read_text())
    bpc = saved["summary"]["held_out_bpc"]
    assert np.isfinite(bpc) and 0 < bpc < np.log2(saved["vocab_size"]) + 0.5
    assert len(saved["train_loss_bpc"]) == TINY["steps"]
    assert saved["eval"]["steps"] == [15, 30]
    assert saved["sample"]["text"].startswith("ROMEO:")
    # the model file loads back into a model that gives the same held-out score
    model, vocab, settings = cl.load_model(out / "model.npz")
    assert settings["hidden"] == 16 and vocab.size == saved["vocab_size"]


def test_bpc_is_independent_of_the_evaluation_chunk(quick_model):
    """Carrying the state across chunks equals one pass over the whole text."""
    out, _ = quick_model
    model, vocab, _ = cl.load_model(out)
    ids = vocab.encode(hg.data.load_text()[:500])
    a = cl.evaluate_bpc(model, ids, chunk=7)
    b = cl.evaluate_bpc(model, ids, chunk=4096)
    np.testing.assert_allclose(a["bits"], b["bits"], rtol=1e-5)
    # and equals -log2 of the chain-rule product computed by hand, one character at a time
    logits, _ = model(ids[:-1, None])
    lp = cl._log_probs(logits.data[:, 0].astype(np.float64))
    by_hand = -lp[np.arange(ids.size - 1), ids[1:]].sum() / np.log(2)
    np.testing.assert_allclose(a["bits"], by_hand, rtol=1e-4)
    assert a["chars"] == ids.size - 1


def test_sample_and_score_cli(quick_model, tmp_path, capsys):
    from handgrad.cli import main

    out, _ = quick_model
    assert main(["sample", str(out / "model.npz"), "--prime", "ROMEO:", "--length", "50",
                 "--temperature", "0.8", "--seed", "3"]) == 0
    first = capsys.readouterr().out
    assert first.startswith("ROMEO:") and len(first.rstrip("\n")) >= 50
    assert main(["sample", str(out / "model.npz"), "--length", "50", "--seed", "3"]) == 0
    assert capsys.readouterr().out == first      # same seed, same text
    text = tmp_path / "t.txt"
    text.write_text("First Citizen:\nBefore we proceed any further, hear me speak.\n")
    assert main(["score", str(out / "model.npz"), str(text)]) == 0
    shown = capsys.readouterr().out
    assert "bits per character" in shown and "log P" in shown
    bad = tmp_path / "bad.txt"
    bad.write_text("hello 안녕 world")
    assert main(["score", str(out / "model.npz"), str(bad)]) == 1
    err = capsys.readouterr().err
    assert "'안'" in err and "'녕'" in err and "vocabulary" in err
    assert main(["sample", str(tmp_path / "nope.npz")]) == 1


def test_beam_search_scores_its_continuation(quick_model, capsys):
    out, _ = quick_model
    model, vocab, _ = cl.load_model(out)
    text, logp = beam_search(model, vocab, "ROMEO:", 20, beam=4)
    assert text.startswith("ROMEO:") and len(text) == 26
    # the reported score is the model's summed log-probability of that continuation
    ids = vocab.encode(text)
    logits, _ = model(ids[:-1, None])
    lp = cl._log_probs(logits.data[:, 0].astype(np.float64))
    recomputed = lp[np.arange(5, ids.size - 1), ids[6:]].sum()
    np.testing.assert_allclose(logp, recomputed, rtol=1e-4)
    # beam 1 is greedy decoding: always the most likely next character
    greedy, _ = beam_search(model, vocab, "ROMEO:", 10, beam=1)
    gids = vocab.encode(greedy)
    logits, _ = model(gids[:-1, None])
    np.testing.assert_array_equal(logits.data[5:, 0].argmax(axis=1), gids[6:])
    from handgrad.cli import main
    assert main(["sample", str(out), "--beam", "3", "--length", "15"]) == 0
    assert "beam 3" in capsys.readouterr().out


def test_korean_text(tmp_path):
    f = tmp_path / "ko.txt"
    f.write_text(KOREAN, encoding="utf-8")
    m = cl.run({**TINY, "text": str(f), "max_chars": None, "steps": 10, "eval_every": 0},
               out=tmp_path / "run", verbose=False)
    assert np.isfinite(m["summary"]["held_out_bpc"])
    model, vocab, _ = cl.load_model(tmp_path / "run")
    assert "한" in vocab
    text, _ = beam_search(model, vocab, "대한", 5, beam=2)
    assert text.startswith("대한") and len(text) == 7
    rng = np.random.default_rng(0)
    assert cl.sample_text(model, vocab, "우리", 5, 0.8, rng).startswith("우리")


def test_bad_settings_are_refused(tmp_path):
    with pytest.raises(ValueError, match="--hidden"):
        cl.run({**TINY, "hidden": 0}, out=tmp_path / "new", verbose=False)
    assert not (tmp_path / "new").exists()       # nothing left behind
    with pytest.raises(FileNotFoundError, match="no such file"):
        cl.run({**TINY, "text": str(tmp_path / "missing.txt")}, out=tmp_path, verbose=False)
    with pytest.raises(FileNotFoundError, match="checkpoint"):
        cl.run(resume=tmp_path / "nothing", verbose=False)


def _state_of(path: Path) -> dict:
    return hg.load(path)["state_dict"]


def test_sigkill_and_resume_is_bit_identical(tmp_path):
    cfg = {**TINY, "steps": 240, "checkpoint_every": 4, "eval_every": 60, "max_chars": 3000,
           "hidden": 8, "embed": 4, "seq_len": 8, "sample_length": cl.DEFAULTS["sample_length"]}
    ref = cl.run(dict(cfg), out=tmp_path / "ref", verbose=False)

    killed = tmp_path / "killed"
    args = [sys.executable, "-m", "handgrad", "train", "charlm", "--out", str(killed)]
    for key in ("hidden", "embed", "seq_len", "batch_size", "steps", "max_chars",
                "eval_every", "checkpoint_every"):
        args += ["--" + key.replace("_", "-"), str(cfg[key])]
    env = {**os.environ, "HANDGRAD_PROGRESS": ""}
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    ckpt = killed / "checkpoint.npz"
    deadline = time.time() + 120
    while not ckpt.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.005)
    time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read().decode()
    step = int(hg.load(ckpt)["position"]["step"])
    assert 0 < step < cfg["steps"], "the kill must land mid-run"
    assert not (killed / "model.npz").exists()

    resumed = cl.run(resume=killed, verbose=False)
    a, b = _state_of(tmp_path / "ref" / "model.npz"), _state_of(killed / "model.npz")
    assert list(a) == list(b)
    for k in a:
        assert a[k].dtype == b[k].dtype
        assert np.array_equal(a[k], b[k]), k                       # bit for bit
    np.testing.assert_array_equal(resumed["train_loss_bpc"], ref["train_loss_bpc"])
    assert resumed["eval"] == ref["eval"]
    assert resumed["summary"]["held_out_bpc"] == ref["summary"]["held_out_bpc"]
    assert resumed["sample"] == ref["sample"]


@pytest.mark.slow
def test_default_run_reaches_2_3_bits_per_character(tmp_path):
    m = cl.run(out=tmp_path, verbose=False)
    assert m["summary"]["held_out_bpc"] <= 2.3


def test_nan_loss_stops_and_names_the_op(tmp_path, monkeypatch):
    build = cl.build_model

    def broken(settings, vocab_size):
        model = build(settings, vocab_size)
        model.head.weight.data[0, 0] = np.nan
        return model

    monkeypatch.setattr(cl, "build_model", broken)
    with pytest.raises(FloatingPointError, match=r"step 1 .*Linear"):
        cl.run({**TINY, "steps": 3}, out=tmp_path, verbose=False)


@pytest.mark.parametrize("cell,layers", [("rnn", 1), ("gru", 2), ("lstm", 2)])
def test_other_cells_train_sample_and_beam(tmp_path, cell, layers):
    cl.run({**TINY, "cell": cell, "layers": layers, "steps": 6, "eval_every": 0,
            "checkpoint_every": 3, "sample_length": 10}, out=tmp_path, verbose=False)
    model, vocab, settings = cl.load_model(tmp_path)
    assert settings["cell"] == cell and settings["layers"] == layers
    text, logp = beam_search(model, vocab, "ROMEO:", 8, beam=3)
    assert len(text) == 14 and np.isfinite(logp)



@pytest.mark.parametrize("cell", ["rnn", "gru"])
def test_crash_after_a_checkpoint_resumes_exactly(tmp_path, monkeypatch, cell):
    """The carried state (a single tensor for rnn/gru) is restored on resume."""
    cfg = {**TINY, "cell": cell, "steps": 8, "eval_every": 4, "checkpoint_every": 3}
    ref = cl.run(dict(cfg), out=tmp_path / "ref", verbose=False)
    save = cl._save_checkpoint

    def save_then_crash(*args, **kwargs):
        save(*args, **kwargs)
        raise KeyboardInterrupt  # dies right after the step-3 checkpoint

    monkeypatch.setattr(cl, "_save_checkpoint", save_then_crash)
    with pytest.raises(KeyboardInterrupt):
        cl.run(dict(cfg), out=tmp_path / "crash", verbose=False)
    monkeypatch.setattr(cl, "_save_checkpoint", save)
    assert int(hg.load(tmp_path / "crash" / "checkpoint.npz")["position"]["step"]) == 3
    got = cl.run(resume=tmp_path / "crash", verbose=False)
    np.testing.assert_array_equal(got["train_loss_bpc"], ref["train_loss_bpc"])
    a, b = _state_of(tmp_path / "ref" / "model.npz"), _state_of(tmp_path / "crash" / "model.npz")
    assert all(np.array_equal(a[k], b[k]) for k in a)
