"""Train a character-level language model (LSTM by default) on tiny-shakespeare or your text.

    handgrad train charlm [--cell lstm|gru|rnn] [--hidden 256] [--layers 1] [--steps N]
                          [--text FILE] [--out DIR] [--checkpoint-every N] [--resume DIR]

What the model computes
-----------------------
A text is a sequence of characters X_1, X_2, ..., X_n. Its probability factorises as

    P(X_1, ..., X_t) = P(X_t | X_1, ..., X_{t-1}) * P(X_1, ..., X_{t-1})
                     = P(X_1) * P(X_2 | X_1) * ... * P(X_t | X_1, ..., X_{t-1}).

This is the *chain rule of probability*, not Bayes' rule: it is the definition of a
conditional probability, P(A | B) = P(A, B) / P(B), multiplied out as P(A, B) =
P(A | B) P(B) and applied again to P(X_1..X_{t-1}), and so on down to P(X_1). Bayes'
rule P(B | A) = P(A | B) P(B) / P(A) *inverts* a conditional (from P(A|B) to P(B|A)) and
so needs the evidence P(A) in the denominator to normalise. Here nothing is inverted:
every factor already conditions the next character on the ones before it, each factor is
a normalised distribution over the next character (the softmax of the network), and
their product is the joint probability directly. So there is no evidence term.

The network supplies each factor: the LSTM reads X_1..X_{t-1} into its hidden state h
(its summary of the past), and a Linear layer + softmax turns h into P(X_t | X_<t).
Taking -log2 of the product turns it into a sum, so the training loss (cross-entropy)
is the sum of -log P(x_t | x_<t) over positions, and the held-out

    bits per character = (1 / m) * sum_t -log2 P(x_t | x_<t)

over the m predicted characters of the held-out text (the first character is only
context). One bit per character would mean the model halves its uncertainty about each
character to two equally likely choices; a uniform guess over 65 characters costs
log2 65 = 6.02 bits, the character frequencies alone about 4.3.

Training is truncated backpropagation through time over contiguous streams (see
handgrad.data.text): the hidden state is carried from one chunk to the next with
``detach()`` (the model keeps the context, gradients stop at the chunk boundary); Adam;
gradient-norm clipping; held-out text = the last 10%, evaluated with carried state over
the whole of it.

Checkpoints (``checkpoint.npz`` in the output folder, every ``--checkpoint-every`` steps
and at the end) hold the model, the optimizer state, the RNG state, the position in the
stream (epoch, chunk), the carried hidden state and the metrics so far, so a run killed
at any moment (even SIGKILL) and continued with ``--resume DIR`` ends bit-identical to an
uninterrupted one. ``model.npz`` holds the weights, the vocabulary and the settings
(written with handgrad.save: no pickle); ``handgrad sample`` and ``handgrad score`` read it.
"""

from __future__ import annotations

import argparse
import hashlib
import math
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

import handgrad as hg
from handgrad import cli_args, nn, runtime
from handgrad.data.text import BPTTBatcher, CharVocab, load_text, split_text
from handgrad.experiments._common import (
    make_out_dir,
    progress,
    pyplot,
    save_figure,
    write_metrics,
)
from handgrad.experiments.guard import (
    DivergenceWatch,
    TrainingDivergedError,
    check_before_checkpoint,
    check_parameters,
    optimizer_step,
    refuse_nonfinite_model,
)
from handgrad.nn import functional as F
from handgrad.random import get_rng_state, manual_seed, set_rng_state

__all__ = ["CharModel", "DEFAULTS", "QUICK", "run", "evaluate_bpc", "load_model",
           "add_arguments", "main", "MODEL_FORMAT"]

MODEL_FORMAT = "handgrad-charlm"
CHECKPOINT = "checkpoint.npz"
MODEL_FILE = "model.npz"
LN2 = math.log(2.0)

DEFAULTS: dict[str, Any] = {
    "cell": "lstm",
    "layers": 1,
    "hidden": 256,
    "embed": 64,
    "seq_len": 64,
    "batch_size": 32,
    "lr": 0.01,
    "lr_min": 0.001,
    "clip": 1.0,
    "steps": 2000,
    "epochs": None,
    "text": None,
    "max_chars": None,
    "held_out": 0.1,
    "seed": 0,
    "eval_every": 500,
    "checkpoint_every": 200,
    "sample_length": 300,
    "temperature": 0.8,
    "dtype": "float32",
    "threads": runtime.DEFAULT_THREADS,
}

QUICK: dict[str, Any] = {
    "hidden": 32, "embed": 16, "seq_len": 16, "batch_size": 8, "steps": 40,
    "max_chars": 20000, "eval_every": 20, "checkpoint_every": 10, "sample_length": 60,
}


# --------------------------------------------------------------------------------------
# the model
# --------------------------------------------------------------------------------------
class CharModel(nn.Module):
    """Embedding -> RNN/GRU/LSTM -> Linear: logits of the next character at every step.

    ``forward(x, state)`` takes ids ``x`` of shape (T, B) (time first) and the carried
    state (None: zeros); returns logits (T, B, V) and the new state.
    """

    def __init__(self, vocab_size: int, cell: str = "lstm", hidden: int = 256,
                 layers: int = 1, embed: int = 64) -> None:
        super().__init__()
        rnn_class = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}.get(cell)
        if rnn_class is None:
            raise ValueError(f"cell must be one of rnn, gru, lstm, got {cell!r}")
        self.cell = cell
        self.embedding = nn.Embedding(vocab_size, embed)
        self.rnn = rnn_class(embed, hidden, num_layers=layers)
        self.head = nn.Linear(hidden, vocab_size)

    def forward(self, x: Any, state: Any = None) -> tuple[hg.Tensor, Any]:
        e = self.embedding(x)                      # (T, B, E)
        out, state = self.rnn(e, state)            # (T, B, H); h_n or (h_n, c_n)
        return self.head(out), state               # (T, B, V)


def detach_state(state: Any) -> Any:
    """Cut the carried state from the graph (truncated BPTT: gradients stop here)."""
    if state is None:
        return None
    if isinstance(state, tuple):
        return tuple(s.detach() for s in state)
    return state.detach()


def state_arrays(state: Any) -> list[np.ndarray]:
    if state is None:
        return []
    if isinstance(state, tuple):
        return [s.data.copy() for s in state]
    return [state.data.copy()]


def state_from_arrays(arrays: list[np.ndarray], cell: str) -> Any:
    if not arrays:
        return None
    tensors = [hg.tensor(np.asarray(a)) for a in arrays]
    return tuple(tensors) if cell == "lstm" else tensors[0]


def build_model(settings: dict[str, Any], vocab_size: int) -> CharModel:
    model = CharModel(vocab_size, settings["cell"], settings["hidden"], settings["layers"],
                      settings["embed"])
    if settings.get("dtype", "float32") == "float64":
        model.double()
    return model


# --------------------------------------------------------------------------------------
# evaluation
# --------------------------------------------------------------------------------------
def _log_probs(logits: np.ndarray) -> np.ndarray:
    """log softmax over the last axis, stably (subtract the max before exp)."""
    m = logits.max(axis=-1, keepdims=True)
    z = logits - m
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def evaluate_bpc(model: CharModel, ids: np.ndarray, chunk: int = 2048) -> dict[str, float]:
    """Sum of -log2 P(x_t | x_<t) over ``ids[1:]`` with the state carried over the whole
    sequence (one stream, read ``chunk`` characters at a time: the same as one pass over
    all of it), and that sum divided by the number of predicted characters."""
    ids = np.asarray(ids, dtype=np.int64)
    if ids.size < 2:
        raise ValueError(f"evaluate_bpc: need at least 2 characters, got {ids.size}")
    was_training = model.training
    model.eval()
    total_nats = 0.0
    state = None
    with hg.no_grad():
        for start in range(0, ids.size - 1, chunk):
            x = ids[start:min(start + chunk, ids.size - 1)]
            y = ids[start + 1:start + 1 + x.size]
            logits, state = model(x[:, None], state)
            lp = _log_probs(logits.data[:, 0, :])
            total_nats -= float(np.sum(lp[np.arange(y.size), y], dtype=np.float64))
    model.train(was_training)
    n = ids.size - 1
    return {"bits": total_nats / LN2, "chars": n, "bpc": total_nats / LN2 / n,
            "log_prob_nats": -total_nats}


def sample_text(model: CharModel, vocab: CharVocab, prime: str, length: int,
                temperature: float, rng: np.random.Generator) -> str:
    """Feed ``prime``, then draw ``length`` characters from softmax(logits / temperature)."""
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    ids = vocab.encode(prime, name="prime")
    if ids.size == 0:
        raise ValueError("prime must contain at least one character")
    out = []
    was_training = model.training
    model.eval()
    with hg.no_grad():
        logits, state = model(ids[:, None], None)
        last = logits.data[-1, 0].astype(np.float64)
        for _ in range(length):
            p = np.exp(_log_probs(last / temperature))
            nxt = int(rng.choice(p.size, p=p / p.sum()))
            out.append(nxt)
            logits, state = model(np.array([[nxt]]), state)
            last = logits.data[-1, 0].astype(np.float64)
    model.train(was_training)
    return prime + vocab.decode(out)


# --------------------------------------------------------------------------------------
# saving
# --------------------------------------------------------------------------------------
def learning_rate(cfg: dict[str, Any], step: int, total: int) -> float:
    """Cosine decay from ``lr`` at step 0 to ``lr_min`` at the last step: large steps
    early, small ones at the end to settle into the minimum."""
    lr, lr_min = float(cfg["lr"]), float(cfg.get("lr_min") or cfg["lr"])
    frac = step / max(1, total - 1)
    return lr_min + 0.5 * (lr - lr_min) * (1.0 + math.cos(math.pi * min(1.0, frac)))


def _find_anomaly(model: CharModel, x: np.ndarray, y: np.ndarray, state: Any,
                  vocab_size: int) -> str:
    """Redo the failing step under handgrad.detect_anomaly() to name the op."""
    try:
        with hg.detect_anomaly():
            logits, _ = model(x, state)
            F.cross_entropy(logits.reshape(-1, vocab_size), y.reshape(-1)).backward()
    except Exception as err:  # the anomaly report is what we want to show
        return f"first non-finite value: {err}"
    return "detect_anomaly found no op with a non-finite output"


def _settings_of(cfg: dict[str, Any]) -> dict[str, Any]:
    keep = ("cell", "layers", "hidden", "embed", "seq_len", "batch_size", "lr", "lr_min", "clip",
            "steps", "epochs", "max_chars", "held_out", "seed", "eval_every",
            "checkpoint_every", "sample_length", "temperature", "dtype", "threads")
    s = {k: cfg[k] for k in keep}
    s["text"] = None if cfg["text"] is None else str(cfg["text"])
    return s


def save_model(path: Path, model: CharModel, vocab: CharVocab, settings: dict[str, Any],
               summary: dict[str, Any]) -> None:
    hg.save({"format": MODEL_FORMAT, "version": 1, "state_dict": model.state_dict(),
             "vocab": vocab.to_dict(), "settings": settings, "summary": summary}, path)


def load_model(path: str | Path) -> tuple[CharModel, CharVocab, dict[str, Any]]:
    """Read a ``model.npz`` written by ``handgrad train charlm`` (or a checkpoint)."""
    p = Path(path)
    if p.is_dir():
        p = p / MODEL_FILE
    if not p.exists():
        raise FileNotFoundError(f"MODEL: no such file: {str(p)!r} (give the model.npz that "
                                f"`handgrad train charlm` wrote, or its folder)")
    obj = hg.load(p)
    if not isinstance(obj, dict) or obj.get("format") not in (MODEL_FORMAT,
                                                              MODEL_FORMAT + "-checkpoint"):
        found = obj.get("format") if isinstance(obj, dict) else type(obj).__name__
        raise ValueError(f"MODEL: {str(p)!r} is not a character model (format {found!r}, "
                         f"expected {MODEL_FORMAT!r})")
    vocab = CharVocab.from_dict(obj["vocab"])
    settings = obj["settings"]
    model = build_model(settings, vocab.size)
    model.load_state_dict(obj["state_dict"] if "state_dict" in obj else obj["model"])
    refuse_nonfinite_model(model, f"MODEL {str(p)!r}")
    model.eval()
    return model, vocab, settings


# --------------------------------------------------------------------------------------
# training
# --------------------------------------------------------------------------------------
def _prepare_text(cfg: dict[str, Any]) -> tuple[str, CharVocab, np.ndarray, np.ndarray]:
    text = load_text(cfg["text"])
    if cfg["max_chars"]:
        text = text[: int(cfg["max_chars"])]
    vocab = CharVocab.from_text(text)
    train, held = split_text(text, cfg["held_out"])
    return text, vocab, vocab.encode(train), vocab.encode(held)


def _check_config(cfg: dict[str, Any]) -> None:
    for key in ("layers", "hidden", "embed", "seq_len", "batch_size"):
        v = cfg[key]
        if not isinstance(v, int) or isinstance(v, bool) or v < 1:
            raise ValueError(f"--{key.replace('_', '-')} must be a positive integer, got {v!r}")
    if cfg["cell"] not in ("rnn", "gru", "lstm"):
        raise ValueError(f"--cell must be one of rnn, gru, lstm, got {cfg['cell']!r}")
    if not (isinstance(cfg["lr"], int | float) and math.isfinite(cfg["lr"]) and cfg["lr"] > 0):
        raise ValueError(f"--lr must be a positive finite number, got {cfg['lr']}")
    if not (isinstance(cfg["lr_min"], int | float) and 0 <= cfg["lr_min"] < math.inf):
        raise ValueError(f"--lr-min must be a finite number >= 0, got {cfg['lr_min']}")
    if cfg["lr_min"] > cfg["lr"]:
        raise ValueError(f"--lr-min {cfg['lr_min']} is above --lr {cfg['lr']}: the cosine "
                         f"schedule decays from --lr down to --lr-min")
    if not cfg["clip"] >= 0:
        raise ValueError(f"--clip must be >= 0 (a maximum gradient norm; 0: no clipping), "
                         f"got {cfg['clip']}")
    if cfg["steps"] is not None and cfg["steps"] < 1:
        raise ValueError(f"--steps must be a positive integer, got {cfg['steps']}")
    if cfg["epochs"] is not None and cfg["epochs"] < 1:
        raise ValueError(f"--epochs must be a positive integer, got {cfg['epochs']}")
    if cfg["checkpoint_every"] is not None and cfg["checkpoint_every"] < 0:
        raise ValueError("--checkpoint-every must be >= 0 (0: only at the end)")


def _save_checkpoint(out_dir: Path, model: CharModel, opt: Any, vocab: CharVocab,
                     settings: dict[str, Any], pos: dict[str, int], state: Any,
                     history: dict[str, Any], text_sha256: str | None = None) -> None:
    hg.save({
        "format": MODEL_FORMAT + "-checkpoint", "version": 1,
        "model": model.state_dict(), "optimizer": opt.state_dict(),
        "rng": get_rng_state(), "position": pos, "carried_state": state_arrays(state),
        "vocab": vocab.to_dict(), "settings": settings, "text_sha256": text_sha256,
        "history": {"step_loss": np.asarray(history["step_loss"], dtype=np.float64),
                    "eval_steps": list(history["eval_steps"]),
                    "eval_bpc": list(history["eval_bpc"]),
                    "seconds": history["seconds"]},
    }, out_dir / CHECKPOINT)


def run(config: dict[str, Any] | None = None, resume: str | Path | None = None,
        out: str | Path | None = None, verbose: bool = True) -> dict[str, Any]:
    """Train (or continue training from ``resume``); return the metrics.

    BLAS runs on ``threads`` threads (default :data:`handgrad.runtime.DEFAULT_THREADS`,
    one: the recurrent loop multiplies small matrices one time step after another, where
    threads cost more than they gain). A resumed run keeps the count it was started with.
    """
    requested = (config or {}).get("threads")
    saved_threads = None
    if resume is not None and (Path(resume) / CHECKPOINT).is_file():
        saved = hg.load(Path(resume) / CHECKPOINT)
        if isinstance(saved, dict) and isinstance(saved.get("settings"), dict):
            saved_threads = saved["settings"].get("threads", runtime.DEFAULT_THREADS)
    threads = runtime.resolve_threads(requested, saved_threads, "char-LM run")
    if resume is None:
        config = {**(config or {}), "threads": threads}
    with runtime.blas_threads(threads):
        return _run(config, resume, out, verbose)


def _run(config: dict[str, Any] | None, resume: str | Path | None,
         out: str | Path | None, verbose: bool) -> dict[str, Any]:
    t_start = time.perf_counter()
    ckpt = None
    if resume is not None:
        rdir = Path(resume)
        cpath = rdir / CHECKPOINT
        if not cpath.exists():
            raise FileNotFoundError(f"--resume: no {CHECKPOINT} in {str(rdir)!r}")
        ckpt = hg.load(cpath)
        cfg = {**DEFAULTS, **ckpt["settings"]}
    else:
        cfg = {**DEFAULTS, **(config or {})}
    # check the settings and read the text before making the run folder, so a bad option
    # or a missing file leaves nothing behind
    _check_config(cfg)
    settings = _settings_of(cfg)
    text, vocab, train_ids, held_ids = _prepare_text(cfg)
    if ckpt is not None:
        out_dir = make_out_dir(rdir, "charlm")
    else:
        out_dir = make_out_dir(out if out is not None else cfg.get("out"), "charlm")
    text_sha256 = hashlib.sha256(text.encode("utf-8")).hexdigest()
    if ckpt is not None and ckpt.get("text_sha256") not in (None, text_sha256):
        raise ValueError("--resume: the training text differs from the text the run started "
                         "with (was the --text file changed?); start a new run instead")
    if ckpt is not None and CharVocab.from_dict(ckpt["vocab"]) != vocab:
        raise ValueError("--resume: the text's vocabulary differs from the checkpoint's; "
                         "was the text file changed?")
    batches = BPTTBatcher(train_ids, cfg["batch_size"], cfg["seq_len"], time_major=True)
    if cfg["epochs"] is not None:
        total_steps = int(cfg["epochs"]) * len(batches)
    else:
        total_steps = int(cfg["steps"])

    manual_seed(int(cfg["seed"]))
    model = build_model(settings, vocab.size)
    opt = hg.optim.Adam(model.parameters(), lr=cfg["lr"])
    history: dict[str, Any] = {"step_loss": [], "eval_steps": [], "eval_bpc": [],
                               "seconds": 0.0}
    pos = {"step": 0, "epoch": 0, "chunk": 0}
    state = None
    if ckpt is not None:
        model.load_state_dict(ckpt["model"])
        opt.load_state_dict(ckpt["optimizer"])
        set_rng_state(ckpt["rng"])
        pos = {k: int(v) for k, v in ckpt["position"].items()}
        state = state_from_arrays(list(ckpt["carried_state"]), cfg["cell"])
        h = ckpt["history"]
        history = {"step_loss": [float(v) for v in np.asarray(h["step_loss"])],
                   "eval_steps": [int(v) for v in h["eval_steps"]],
                   "eval_bpc": [float(v) for v in h["eval_bpc"]],
                   "seconds": float(h["seconds"])}
        if verbose:
            print(f"resuming {out_dir} at step {pos['step']} of {total_steps} "
                  f"(epoch {pos['epoch']}, chunk {pos['chunk']} of {len(batches)})")
    elif verbose:
        n_params = sum(p.data.size for p in model.parameters())
        print(f"charlm: {cfg['cell'].upper()} {cfg['layers']}x{cfg['hidden']}, "
              f"{n_params:,} parameters; text {len(text):,} characters, vocabulary "
              f"{vocab.size}; {len(batches)} chunks of {cfg['batch_size']}x{cfg['seq_len']} "
              f"per epoch; {total_steps} steps")

    params = list(model.parameters())
    watch = DivergenceWatch.replay(history["step_loss"])
    seconds_before = history["seconds"]
    t_train = time.perf_counter()
    ckpt_every = int(cfg["checkpoint_every"] or 0)
    eval_every = int(cfg["eval_every"] or 0)
    bar = progress(range(pos["step"], total_steps), total=total_steps, desc="charlm",
                   unit="step", disable=None if verbose else True)
    if hasattr(bar, "update") and pos["step"]:
        bar.n = pos["step"]
    model.train()
    final_eval = None
    for _ in bar:
        if pos["chunk"] >= len(batches):          # a new epoch: new streams from the start
            pos["chunk"] = 0
            pos["epoch"] += 1
            state = None
        x, y = batches[pos["chunk"]]
        for group in opt.param_groups:             # a function of the step: resume-safe
            group["lr"] = learning_rate(cfg, pos["step"], total_steps)
        carried = state = detach_state(state)      # truncated BPTT
        logits, state = model(x, state)
        loss = F.cross_entropy(logits.reshape(-1, vocab.size), y.reshape(-1))
        value = float(loss.item())
        stopped = (f"; the last good checkpoint is {out_dir / CHECKPOINT} (try a smaller "
                   f"--lr or --clip)")
        if not math.isfinite(value):
            raise TrainingDivergedError(
                f"the training loss became {value} at step {pos['step'] + 1} "
                f"({_find_anomaly(model, x, y, carried, vocab.size)})" + stopped)
        diverged = watch.update(value)
        if diverged:
            raise TrainingDivergedError(f"training diverged at step {pos['step'] + 1}: "
                                        f"{diverged}" + stopped)
        opt.zero_grad()
        loss.backward()
        if cfg["clip"]:
            nn.utils.clip_grad_norm_(params, cfg["clip"])
        try:   # never go on (or save) with non-finite weights
            optimizer_step(opt, f"at step {pos['step'] + 1}")
            check_parameters(model, f"after the optimizer step at step {pos['step'] + 1}")
        except TrainingDivergedError as err:
            raise TrainingDivergedError(str(err) + stopped) from None
        pos["step"] += 1
        pos["chunk"] += 1
        history["step_loss"].append(value)
        if hasattr(bar, "set_postfix") and pos["step"] % 10 == 0:
            bar.set_postfix(bpc=f"{value / LN2:.3f}")
        last = pos["step"] == total_steps
        if eval_every and (pos["step"] % eval_every == 0 or last):
            final_eval = evaluate_bpc(model, held_ids)
            history["eval_steps"].append(pos["step"])
            history["eval_bpc"].append(final_eval["bpc"])
            if verbose:
                bar.write(f"step {pos['step']}: train {value / LN2:.3f} bits/char, held-out "
                          f"{history['eval_bpc'][-1]:.3f} bits/char")
        if (ckpt_every and pos["step"] % ckpt_every == 0) or last:
            history["seconds"] = seconds_before + time.perf_counter() - t_train
            check_before_checkpoint(model, opt, f"before the checkpoint at step {pos['step']}")
            _save_checkpoint(out_dir, model, opt, vocab, settings, pos, state, history,
                             text_sha256)
    if hasattr(bar, "close"):
        bar.close()
    history["seconds"] = seconds_before + time.perf_counter() - t_train

    if history["eval_steps"] and history["eval_steps"][-1] == pos["step"] and \
            final_eval is not None:
        final = final_eval
    else:
        final = evaluate_bpc(model, held_ids)
        if not history["eval_steps"] or history["eval_steps"][-1] != pos["step"]:
            history["eval_steps"].append(pos["step"])
            history["eval_bpc"].append(final["bpc"])
    rng = np.random.default_rng(int(cfg["seed"]))
    prime = "ROMEO:" if all(c in vocab for c in "ROMEO:") else vocab.decode(train_ids[:1])
    sample = sample_text(model, vocab, prime, int(cfg["sample_length"]),
                         float(cfg["temperature"]), rng)
    step_loss = np.asarray(history["step_loss"], dtype=np.float64)
    tail = step_loss[-min(50, step_loss.size):] if step_loss.size else step_loss
    summary = {
        "held_out_bpc": final["bpc"], "held_out_bits": final["bits"],
        "held_out_chars": final["chars"],
        "train_bpc_last50": float(tail.mean() / LN2) if tail.size else None,
        "steps": pos["step"], "epochs_done": pos["step"] / len(batches),
        "train_seconds": history["seconds"],
    }
    save_model(out_dir / MODEL_FILE, model, vocab, settings, summary)
    plots = [_plot_curves(out_dir, step_loss, history)]
    metrics = {
        "experiment": "charlm", "settings": settings, "summary": summary,
        "what_bpc_means": (
            "held_out_bpc = (1/m) * sum_t -log2 P(x_t | x_<t) over the m predicted held-out "
            "characters, state carried over the whole held-out text. The sum is -log2 of "
            "P(x_1..x_n) / P(x_1) by the chain rule of probability, P(X_1..X_t) = "
            "P(X_t | X_1..X_{t-1}) P(X_1..X_{t-1}): the definition of conditional "
            "probability applied repeatedly, not Bayes' rule, so there is no evidence term "
            "(nothing is inverted; every factor is already a normalised softmax)."),
        "vocab_size": vocab.size, "text_chars": len(text),
        "train_chars": int(train_ids.size), "held_out_chars": int(held_ids.size),
        "parameters": int(sum(p.data.size for p in model.parameters())),
        "train_loss_bpc": step_loss / LN2,
        "eval": {"steps": history["eval_steps"], "held_out_bpc": history["eval_bpc"]},
        "sample": {"prime": prime, "temperature": cfg["temperature"], "text": sample},
        "files": [MODEL_FILE, CHECKPOINT, "metrics.json", *plots],
        "seconds": time.perf_counter() - t_start,
    }
    write_metrics(out_dir, metrics)
    metrics["out_dir"] = out_dir
    if verbose:
        print(f"\nheld-out: {final['bpc']:.3f} bits per character over {final['chars']:,} "
              f"characters (train, last 50 steps: {summary['train_bpc_last50']:.3f}); "
              f"{pos['step']} steps in {history['seconds']:.0f} s")
        print(f"\nsample (temperature {cfg['temperature']}):\n{sample}\n")
        print(f"wrote {out_dir}/{MODEL_FILE}, {CHECKPOINT}, metrics.json, {', '.join(plots)}")
    return metrics


def _plot_curves(out_dir: Path, step_loss: np.ndarray, history: dict[str, Any]) -> str:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    bpc = step_loss / LN2
    ax.plot(np.arange(1, bpc.size + 1), bpc, lw=0.5, alpha=0.4, label="train (per step)")
    if bpc.size >= 20:
        w = max(5, bpc.size // 50)
        smooth = np.convolve(bpc, np.ones(w) / w, mode="valid")
        ax.plot(np.arange(w, bpc.size + 1), smooth, lw=1.5, label=f"train ({w}-step mean)")
    ax.plot(history["eval_steps"], history["eval_bpc"], "o-", label="held-out")
    ax.axhline(2.3, color="grey", ls="--", lw=0.8, label="2.3 bits/char")
    ax.set_xlabel("step")
    ax.set_ylabel("bits per character")
    ax.set_title("character language model")
    ax.legend()
    return save_figure(fig, out_dir, "loss_curve.png").name


# --------------------------------------------------------------------------------------
# command line
# --------------------------------------------------------------------------------------
def add_arguments(parser: argparse.ArgumentParser) -> None:
    d = DEFAULTS
    parser.add_argument("--cell", choices=("rnn", "gru", "lstm"), default=None,
                        help=f"recurrent cell (default {d['cell']})")
    parser.add_argument("--layers", type=cli_args.positive_int, default=None,
                        help=f"stacked recurrent layers (default {d['layers']})")
    parser.add_argument("--hidden", type=cli_args.positive_int, default=None,
                        help=f"hidden size (default {d['hidden']})")
    parser.add_argument("--embed", type=cli_args.positive_int, default=None,
                        help=f"embedding size (default {d['embed']})")
    parser.add_argument("--seq-len", type=cli_args.positive_int, default=None,
                        help=f"truncated-BPTT length (default {d['seq_len']})")
    parser.add_argument("--batch-size", type=cli_args.positive_int, default=None,
                        help=f"parallel streams (default {d['batch_size']})")
    parser.add_argument("--lr", type=cli_args.positive_float, default=None,
                        help=f"Adam learning rate (default {d['lr']})")
    parser.add_argument("--lr-min", type=cli_args.nonnegative_float, default=None,
                        help=f"learning rate at the last step, cosine decay "
                             f"(default {d['lr_min']})")
    parser.add_argument("--clip", type=cli_args.nonnegative_float, default=None,
                        help=f"max gradient norm, 0 for none (default {d['clip']})")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--steps", type=cli_args.positive_int, default=None,
                       help=f"training steps (default {d['steps']})")
    group.add_argument("--epochs", type=cli_args.positive_int, default=None,
                       help="train for whole passes over the training text instead")
    parser.add_argument("--text", default=None,
                        help="a UTF-8 text file (default: the shipped tiny-shakespeare)")
    parser.add_argument("--max-chars", type=cli_args.positive_int, default=None,
                        help="use only the first N characters of the text")
    parser.add_argument("--seed", type=cli_args.nonnegative_int, default=None,
                        help="random seed (default 0)")
    parser.add_argument("--eval-every", type=cli_args.nonnegative_int, default=None,
                        help=f"held-out evaluation every N steps (default {d['eval_every']})")
    parser.add_argument("--checkpoint-every", type=cli_args.nonnegative_int, default=None,
                        help=f"checkpoint every N steps (default {d['checkpoint_every']}; "
                             f"always at the end)")
    runtime.add_threads_argument(parser)
    parser.add_argument("--resume", default=None, metavar="DIR",
                        help="continue the run whose checkpoint is in DIR (its settings)")
    parser.add_argument("--out", default=None, help="output folder (default runs/charlm-*)")
    parser.add_argument("--quick", action="store_true",
                        help="a tiny model on 20,000 characters (seconds; for tests)")


_SETTINGS = ("cell", "layers", "hidden", "embed", "seq_len", "batch_size", "lr", "lr_min",
             "clip", "steps", "epochs", "text", "max_chars", "seed", "eval_every",
             "checkpoint_every")


def main(args: argparse.Namespace) -> int:
    given = [k for k in _SETTINGS if getattr(args, k) is not None]
    if args.resume is not None:
        # a resumed run must be the run it continues: its settings come from the checkpoint
        if given or args.quick or args.out is not None:
            names = ", ".join("--" + k.replace("_", "-") for k in given
                              + (["quick"] if args.quick else [])
                              + (["out"] if args.out is not None else []))
            raise ValueError(f"--resume continues a run with the settings saved in its "
                             f"checkpoint; drop {names}")
        return _train_or_report(lambda: run({"threads": args.threads}, resume=args.resume))
    cfg: dict[str, Any] = dict(QUICK) if args.quick else {}
    for key in given:
        cfg[key] = getattr(args, key)
    cfg["threads"] = args.threads
    if args.epochs is not None:
        cfg["steps"] = None
    return _train_or_report(lambda: run(cfg, out=args.out))


def _train_or_report(train: Any) -> int:
    """Run ``train()``; a diverged run is one line on stderr and exit status 1."""
    try:
        train()
    except TrainingDivergedError as err:
        print(f"handgrad train charlm: {err}", file=sys.stderr)
        return 1
    return 0
