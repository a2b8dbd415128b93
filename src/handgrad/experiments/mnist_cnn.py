"""Train a small CNN on MNIST digits: handgrad's main job.

The network (LeNet-like, every gradient derived by hand in handgrad)::

    x (N, 1, 28, 28)
    Conv2d(1, 16, 3, padding=1) -> ReLU -> MaxPool2d(2)      (N, 16, 14, 14)
    Conv2d(16, 32, 3, padding=1) -> ReLU -> MaxPool2d(2)     (N, 32, 7, 7)
    Flatten -> Linear(32*7*7, 128) -> ReLU -> Linear(128, 10)  logits (N, 10)
    loss = cross_entropy(logits, y)  (softmax + negative log-likelihood, fused)

With no options it trains on the 8,000 shipped digits and reports the accuracy on the
2,000 held-out ones (>= 98% in a couple of minutes on two cores): Adam, batch 64, a
cosine-decayed learning rate, and mild augmentation (each training digit shifted by up
to 2 pixels), all seeded.

Output folder (``--out``, default ``runs/mnist-<timestamp>/``): ``metrics.json``,
``model.npz`` (architecture + weights, no pickle; ``handgrad predict`` reads it),
``checkpoint.npz`` and the pictures ``curves.png``, ``confusion.png``, ``kernels.png``,
``feature_maps.png``, ``misclassified.png``.

Checkpoints and exact resume: ``checkpoint.npz`` is rewritten atomically every epoch (or
every ``--checkpoint-every`` steps) with the weights, the optimizer's moments, handgrad's
RNG state, the data loader's position and RNG states, and the metrics so far.
``--resume DIR`` continues from it; a run killed at any moment (even ``kill -9``) and
resumed ends with bit-identical weights and metrics to an uninterrupted run. Everything
that decides the numbers is a function of that saved state: the learning rate is a pure
function of the step number, and augmentation draws from handgrad's saved generator.

Determinism: the same settings, seed and BLAS thread count give bit-identical weights and
metrics, whatever else runs on the machine. The thread count (``--threads``, default 1)
is a setting of the run: printed, stored in ``metrics.json`` and the checkpoint, and kept
by ``--resume`` (another count at resume is refused: 1 and 2 threads sum the products in
different orders, so the last bits differ).

    handgrad train mnist [--epochs 12] [--batch-size 64] [--optimizer adam|sgd]
                         [--lr 0.002 for adam, 0.05 for sgd] [--seed 0] [--data DIR]
                         [--out DIR] [--checkpoint-every N] [--resume DIR] [--limit N]
                         [--threads N] [--no-augment] [--quiet]
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

import handgrad as hg
from handgrad import cli_args, runtime
from handgrad.experiments._common import (
    make_out_dir,
    print_table,
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

__all__ = ["MnistCNN", "DEFAULTS", "run", "main", "add_arguments", "build_model",
           "load_model", "TrainingDivergedError", "shift_batch"]

MODEL_FORMAT = "handgrad-mnist-cnn"

DEFAULTS: dict[str, Any] = {
    "epochs": 12,
    "batch_size": 64,
    "lr": None,               # None: 2e-3 for Adam, 0.05 for SGD (see DEFAULT_LR)
    "optimizer": "adam",
    "momentum": 0.9,          # SGD only
    "weight_decay": 0.0,
    "schedule": "cosine",     # learning rate: 'cosine' decay to 0 over the run, or 'constant'
    "shift": 2,               # augmentation: random shifts of up to this many pixels (0: off)
    "seed": 0,
    "data": None,
    "out": None,
    "checkpoint_every": None,  # steps; None: at the end of every epoch
    "limit": None,
    "test_limit": None,       # evaluate on the first N held-out digits only (quick tests)
    "plots": True,
    "threads": None,          # BLAS threads; None: runtime.DEFAULT_THREADS (or the resumed run's)
    "quiet": False,
    "arch": {"channels": [16, 32], "hidden": 128, "classes": 10, "image_size": 28},
}


DEFAULT_LR = {"adam": 2e-3, "sgd": 0.05}


# ------------------------------------------------------------------------------------
# the model
# ------------------------------------------------------------------------------------
class MnistCNN(hg.nn.Module):
    """conv-relu-pool twice, then two linear layers (see the module docstring)."""

    def __init__(self, channels: tuple[int, int] | list[int] = (16, 32), hidden: int = 128,
                 classes: int = 10, image_size: int = 28) -> None:
        super().__init__()
        nn = hg.nn
        c1, c2 = (int(c) for c in channels)
        if image_size % 4:
            raise ValueError(f"MnistCNN: image_size must be divisible by 4 (two 2x2 "
                             f"poolings), got {image_size}")
        self.arch = {"channels": [c1, c2], "hidden": int(hidden), "classes": int(classes),
                     "image_size": int(image_size)}
        side = image_size // 4
        self.conv1 = nn.Conv2d(1, c1, 3, padding=1)
        self.conv2 = nn.Conv2d(c1, c2, 3, padding=1)
        self.pool = nn.MaxPool2d(2)
        self.relu = nn.ReLU()
        self.flatten = nn.Flatten()
        self.fc1 = nn.Linear(c2 * side * side, hidden)
        self.fc2 = nn.Linear(hidden, classes)

    def features(self, x: Any) -> list[Any]:
        """The activations after each conv-relu-pool block (for pictures)."""
        h1 = self.pool(self.relu(self.conv1(x)))
        h2 = self.pool(self.relu(self.conv2(h1)))
        return [h1, h2]

    def forward(self, x: Any) -> Any:
        h = self.features(x)[-1]
        return self.fc2(self.relu(self.fc1(self.flatten(h))))


def build_model(arch: dict[str, Any] | None = None) -> MnistCNN:
    arch = dict(DEFAULTS["arch"] if arch is None else arch)
    return MnistCNN(**arch)


def load_model(path: str | os.PathLike) -> tuple[MnistCNN, dict[str, Any]]:
    """A trained model from ``model.npz`` (or a ``checkpoint.npz``), in eval mode, and
    the file's contents (architecture, normalisation, accuracy)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"model file not found: {path}")
    if path.is_dir():
        for name in ("model.npz", "checkpoint.npz"):
            if (path / name).is_file():
                path = path / name
                break
        else:
            raise FileNotFoundError(f"{path} is a folder without model.npz or checkpoint.npz")
    obj = hg.load(path)  # raises CheckpointError (a ValueError) for a damaged file
    if not isinstance(obj, dict) or obj.get("format") != MODEL_FORMAT:
        raise ValueError(f"{path} is a handgrad file but not an MNIST CNN model (format "
                         f"{obj.get('format') if isinstance(obj, dict) else None!r}, "
                         f"expected {MODEL_FORMAT!r}); give the model.npz written by "
                         f"'handgrad train mnist'")
    model = build_model(obj["arch"])
    model.load_state_dict(obj["model"])
    refuse_nonfinite_model(model, path)
    model.eval()
    return model, obj


# ------------------------------------------------------------------------------------
# pieces of the training step
# ------------------------------------------------------------------------------------
def shift_batch(x: np.ndarray, max_shift: int, rng: np.random.Generator) -> np.ndarray:
    """Shift each image by its own random (dy, dx) in [-max_shift, max_shift], filling with
    the background value (the minimum of the batch: 0 before normalisation).

    Vectorised: pad once, then one fancy-indexing gather picks each image's 28x28 window
    at offset (max_shift + dy, max_shift + dx).
    """
    if max_shift <= 0:
        return x
    n, c, h, w = x.shape
    s = int(max_shift)
    pad = np.pad(x, ((0, 0), (0, 0), (s, s), (s, s)), constant_values=x.min())
    off = rng.integers(0, 2 * s + 1, size=(2, n))
    rows = off[0][:, None, None] + np.arange(h)[None, :, None]  # (n, h, 1)
    cols = off[1][:, None, None] + np.arange(w)[None, None, :]  # (n, 1, w)
    idx_n = np.arange(n)[:, None, None]
    # advanced indices (n, h, w) around the channel slice: result (n, h, w, c)
    out = pad[idx_n, :, rows, cols]
    return np.ascontiguousarray(out.transpose(0, 3, 1, 2))


def lr_at(step: int, total: int, base: float, schedule: str) -> float:
    """Learning rate of step ``step`` (0-based) out of ``total``: a pure function of the
    step, so a resumed run uses exactly the same rates."""
    if schedule == "constant" or total <= 1:
        return base
    return 0.5 * base * (1.0 + math.cos(math.pi * step / total))


def make_optimizer(name: str, params: Any, cfg: dict[str, Any]) -> Any:
    if name == "adam":
        return hg.optim.Adam(params, lr=cfg["lr"], weight_decay=cfg["weight_decay"])
    if name == "sgd":
        return hg.optim.SGD(params, lr=cfg["lr"], momentum=cfg["momentum"],
                            weight_decay=cfg["weight_decay"])
    raise ValueError(f"--optimizer must be 'sgd' or 'adam', got {name!r}")


def predict_logits(model: MnistCNN, x: np.ndarray, batch_size: int = 500) -> np.ndarray:
    """Logits for a whole array, in batches, without recording a graph."""
    was_training = model.training
    model.eval()
    outs = []
    with hg.no_grad():
        for i in range(0, len(x), batch_size):
            outs.append(model(hg.tensor(x[i:i + batch_size])).data)
    model.train(was_training)
    return np.concatenate(outs) if outs else np.zeros((0, 10), np.float32)


def softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def _diverged(what: str, model: Any, xb: np.ndarray, yb: np.ndarray,
              out: Path) -> TrainingDivergedError:
    """The error for a NaN/Inf loss or gradient: what happened, and which op made it."""
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        where = _name_the_op(model, xb, yb).rstrip(".")
    return TrainingDivergedError(f"{what}: {where}. Training stopped; the last good "
                                 f"checkpoint is {out / CHECKPOINT} (try a smaller --lr)")


def _name_the_op(model: MnistCNN, xb: np.ndarray, yb: np.ndarray) -> str:
    """Re-run the failing step under anomaly detection to name the op that made the
    first NaN/Inf (forward or backward)."""
    F = hg.nn.functional
    try:
        with hg.detect_anomaly():
            loss = F.cross_entropy(model(hg.tensor(xb)), yb)
            loss.backward()
    except FloatingPointError as err:
        return str(err).strip().splitlines()[0]
    except Exception as err:  # anomaly detection is a diagnosis, never a second failure
        return f"(anomaly detection could not run: {type(err).__name__}: {err})"
    finally:
        model.zero_grad()
    return "(anomaly detection found no non-finite op output: the loss itself overflowed)"


# ------------------------------------------------------------------------------------
# checkpoints
# ------------------------------------------------------------------------------------
CHECKPOINT = "checkpoint.npz"
_CONFIG_KEYS = ("epochs", "batch_size", "lr", "optimizer", "momentum", "weight_decay",
                "schedule", "shift", "seed", "data", "checkpoint_every", "limit",
                "test_limit", "arch", "threads")


def _json_config(cfg: dict[str, Any]) -> dict[str, Any]:
    out = {k: cfg[k] for k in _CONFIG_KEYS}
    out["data"] = None if cfg["data"] is None else str(cfg["data"])
    return out


def _digest(*arrays: np.ndarray) -> str:
    """SHA-256 of the arrays' shapes, dtypes and bytes (the data set's fingerprint)."""
    import hashlib

    h = hashlib.sha256()
    for a in arrays:
        h.update(f"{a.dtype.str}{a.shape}".encode())
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


def _save_checkpoint(out: Path, model: Any, opt: Any, loader: Any, st: dict[str, Any],
                     cfg: dict[str, Any]) -> None:
    # a checkpoint is never written with NaN/Inf in it: the one on disk stays the last good
    check_before_checkpoint(model, opt, f"before the checkpoint at step {st['step']}")
    hg.save({
        "format": MODEL_FORMAT, "kind": "checkpoint", "arch": cfg["arch"],
        "config": _json_config(cfg),
        "model": model.state_dict(),
        "optimizer": opt.state_dict(),
        "rng": hg.random.get_rng_state(),
        "loader": loader.state_dict(),
        "progress": st,
        "data_sha256": cfg.get("data_sha256"),
    }, out / CHECKPOINT)


# ------------------------------------------------------------------------------------
# the run
# ------------------------------------------------------------------------------------
def _check_config(cfg: dict[str, Any]) -> None:
    for key in ("epochs", "batch_size"):
        v = cfg[key]
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"--{key.replace('_', '-')} must be a positive integer, got {v!r}")
    for key in ("limit", "test_limit"):
        v = cfg[key]
        if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 1):
            raise ValueError(f"--{key.replace('_', '-')} must be a positive integer, got "
                             f"{v!r}")
    ce = cfg["checkpoint_every"]
    if ce is not None and (not isinstance(ce, int) or ce < 1):
        raise ValueError(f"--checkpoint-every must be a positive integer (steps), got {ce!r}")
    if cfg["optimizer"] not in ("sgd", "adam"):
        raise ValueError(f"--optimizer must be 'sgd' or 'adam', got {cfg['optimizer']!r}")
    if cfg["lr"] is None and cfg["optimizer"] in DEFAULT_LR:
        cfg["lr"] = DEFAULT_LR[cfg["optimizer"]]
    if not (isinstance(cfg["lr"], int | float) and math.isfinite(cfg["lr"]) and cfg["lr"] > 0):
        raise ValueError(f"--lr must be a positive number, got {cfg['lr']!r}")
    if cfg["schedule"] not in ("cosine", "constant"):
        raise ValueError(f"schedule must be 'cosine' or 'constant', got {cfg['schedule']!r}")
    if not isinstance(cfg["seed"], int) or cfg["seed"] < 0:
        raise ValueError(f"--seed must be a non-negative integer, got {cfg['seed']!r}")


def run(config: dict[str, Any] | None = None, resume: str | os.PathLike | None = None
        ) -> dict[str, Any]:
    """Train (or, with ``resume=DIR``, continue training) and write the output folder.

    ``config`` overrides :data:`DEFAULTS`. With ``resume``, the configuration stored in
    ``DIR/checkpoint.npz`` is used (only ``quiet``, ``plots`` and ``threads`` are taken
    from ``config``) and the outputs go to ``DIR``. Returns the metrics dict (also
    written to metrics.json).
    """
    requested = (config or {}).get("threads")
    saved_threads = None
    if resume is not None:
        rdir = Path(resume)
        path = rdir / CHECKPOINT if rdir.is_dir() else rdir
        if path.is_file():
            saved = hg.load(path)
            if isinstance(saved, dict) and isinstance(saved.get("config"), dict):
                saved_threads = saved["config"].get("threads", runtime.DEFAULT_THREADS)
    threads = runtime.resolve_threads(requested, saved_threads, "training run")
    with runtime.blas_threads(threads):
        return _run({**(config or {}), "threads": threads}, resume, threads)


def _run(config: dict[str, Any] | None, resume: str | os.PathLike | None,
         threads: int) -> dict[str, Any]:
    from handgrad.data import DataLoader, TensorDataset, load_mnist

    config = dict(config or {})
    unknown = set(config) - set(DEFAULTS) - {"resume"}
    if unknown:
        raise ValueError(f"run: unknown configuration keys {sorted(unknown)}; known: "
                         f"{sorted(DEFAULTS)}")
    resume = resume or config.pop("resume", None)
    ckpt = None
    if resume is not None:
        rdir = Path(resume)
        path = rdir / CHECKPOINT if rdir.is_dir() else rdir
        if not path.is_file():
            raise FileNotFoundError(f"--resume {resume}: no {CHECKPOINT} there to resume from")
        ckpt = hg.load(path)
        if not isinstance(ckpt, dict) or ckpt.get("kind") != "checkpoint":
            raise ValueError(f"--resume {resume}: {path} is not a 'train mnist' checkpoint")
        cfg = {**DEFAULTS, **ckpt["config"], "threads": threads,
               "quiet": config.get("quiet", False),
               "plots": config.get("plots", True), "out": path.parent}
    else:
        cfg = {**DEFAULTS, **config}
        cfg["arch"] = {**DEFAULTS["arch"], **(cfg.get("arch") or {})}
    _check_config(cfg)
    quiet = bool(cfg["quiet"])

    # -- data (read before the output folder exists: a bad --data leaves nothing behind) --
    x_train, y_train = load_mnist("train", root=cfg["data"])
    x_test, y_test = load_mnist("test", root=cfg["data"])
    out = make_out_dir(cfg["out"], "mnist")
    if cfg["limit"] is not None:
        x_train, y_train = x_train[: cfg["limit"]], y_train[: cfg["limit"]]
    if cfg["test_limit"] is not None:
        x_test, y_test = x_test[: cfg["test_limit"]], y_test[: cfg["test_limit"]]
    # the data a run trains on is part of what makes it that run: a resumed run refuses
    # another data set (a changed --data folder) instead of silently mixing the two
    cfg["data_sha256"] = _digest(x_train, y_train, x_test, y_test)
    if ckpt is not None and ckpt.get("data_sha256") not in (None, cfg["data_sha256"]):
        raise ValueError(f"--resume {resume}: the training data differs from the data the "
                         f"run started with (was the --data folder changed?); start a new "
                         f"run instead")
    if x_train.shape[-1] != cfg["arch"]["image_size"]:
        cfg["arch"]["image_size"] = int(x_train.shape[-1])

    # -- model, optimizer, loader (the same construction order -> the same draws) ------
    hg.manual_seed(cfg["seed"])
    model = build_model(cfg["arch"])
    opt = make_optimizer(cfg["optimizer"], model.parameters(), cfg)
    loader = DataLoader(TensorDataset(x_train, y_train), batch_size=cfg["batch_size"],
                        shuffle=True, drop_last=False)
    steps_per_epoch = len(loader)
    total_steps = steps_per_epoch * cfg["epochs"]
    st: dict[str, Any] = {"epoch": 0, "step": 0, "loss_sum": 0.0, "correct": 0, "seen": 0,
                          "epoch_time": 0.0, "history": [], "step_loss": []}
    if ckpt is not None:
        model.load_state_dict(ckpt["model"])
        opt.load_state_dict(ckpt["optimizer"])
        hg.random.set_rng_state(ckpt["rng"])
        loader.load_state_dict(ckpt["loader"])
        st = dict(ckpt["progress"])
        st["history"] = list(st["history"])
        st["step_loss"] = list(st["step_loss"])
        if not quiet and st["epoch"] >= cfg["epochs"]:
            print(f"resuming {out}: all {cfg['epochs']} epochs were done; writing the results")
        elif not quiet:
            print(f"resuming {out} in epoch {st['epoch'] + 1} after step {st['step']} "
                  f"({total_steps} steps in all)")
    else:
        _save_checkpoint(out, model, opt, loader, st, cfg)

    if not quiet:
        n_params = sum(p.data.size for p in model.parameters())
        print(f"handgrad train mnist: {len(x_train)} training / {len(x_test)} held-out "
              f"digits, {n_params:,} parameters, {cfg['optimizer']} lr {cfg['lr']:g} "
              f"({cfg['schedule']}), batch {cfg['batch_size']}, {cfg['epochs']} epochs, "
              f"seed {cfg['seed']}, {threads} BLAS thread{'s' if threads > 1 else ''} -> {out}")

    F = hg.nn.functional
    every = cfg["checkpoint_every"]
    params = list(model.parameters())
    watch = DivergenceWatch.replay(st["step_loss"])
    model.train()
    while st["epoch"] < cfg["epochs"]:
        epoch = st["epoch"]
        t0 = time.perf_counter()
        start_pos = loader.position if 0 < loader.position < steps_per_epoch else 0
        # all batches of this epoch already done (killed before its end-of-epoch
        # bookkeeping): go straight to the evaluation below
        batches = loader if loader.position < steps_per_epoch else []
        bar = progress(batches, total=steps_per_epoch, desc=f"epoch {epoch + 1}/"
                       f"{cfg['epochs']}", disable=True if quiet else None, unit="batch")
        if start_pos:
            bar.update(start_pos)
        for xb, yb in bar:
            step = st["step"]
            lr = lr_at(step, total_steps, cfg["lr"], cfg["schedule"])
            for g in opt.param_groups:
                g["lr"] = lr
            if cfg["shift"]:
                xb = shift_batch(xb, cfg["shift"], hg.get_rng())
            # overflow is caught below, by name: NumPy's warnings would only add noise
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                logits = model(hg.tensor(xb))
                loss = F.cross_entropy(logits, yb)
            loss_value = float(loss.data)
            if not math.isfinite(loss_value):
                bar.close()
                raise _diverged(f"loss is {loss_value} at step {step + 1} (epoch {epoch + 1}, "
                                f"lr {lr:.3g})", model, xb, yb, out)
            runaway = watch.update(loss_value)
            if runaway:
                bar.close()
                raise TrainingDivergedError(
                    f"training diverged at step {step + 1} (epoch {epoch + 1}, lr {lr:.3g}): "
                    f"{runaway}. Training stopped; the last good checkpoint is "
                    f"{out / CHECKPOINT} (try a smaller --lr)")
            opt.zero_grad()
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                loss.backward()
            # a finite loss can still have non-finite gradients; never step on them, so
            # neither the weights nor any later checkpoint are poisoned
            if not all(np.isfinite(p.grad).all() for p in params if p.grad is not None):
                bar.close()
                raise _diverged(f"non-finite gradient at step {step + 1} (epoch {epoch + 1}, "
                                f"lr {lr:.3g}, loss {loss_value:.4g})", model, xb, yb, out)
            try:   # never go on (or checkpoint) with non-finite weights
                optimizer_step(opt, f"at step {step + 1}")
                check_parameters(model, f"after the optimizer step at step {step + 1} "
                                        f"(epoch {epoch + 1}, lr {lr:.3g})")
            except TrainingDivergedError as err:
                bar.close()
                raise TrainingDivergedError(f"{err}. Training stopped; the last good "
                                            f"checkpoint is {out / CHECKPOINT} (try a "
                                            f"smaller --lr)") from None
            n = len(yb)
            st["step"] = step + 1
            st["loss_sum"] += loss_value * n
            st["correct"] += int((logits.data.argmax(axis=1) == yb).sum())
            st["seen"] += n
            st["step_loss"].append(loss_value)
            if not quiet and st["step"] % 10 == 0:
                elapsed = st["epoch_time"] + time.perf_counter() - t0
                bar.set_postfix(loss=f"{st['loss_sum'] / st['seen']:.4f}",
                                acc=f"{st['correct'] / st['seen']:.4f}",
                                img_s=f"{st['seen'] / max(elapsed, 1e-9):.0f}", refresh=False)
            if every and st["step"] % every == 0 and loader.position < steps_per_epoch:
                st["epoch_time"] += time.perf_counter() - t0
                t0 = time.perf_counter()
                _save_checkpoint(out, model, opt, loader, st, cfg)
        bar.close()
        train_time = st["epoch_time"] + time.perf_counter() - t0
        # -- end of epoch: held-out accuracy, bookkeeping, checkpoint ------------------
        t_eval = time.perf_counter()
        test_pred = predict_logits(model, x_test).argmax(axis=1)
        test_acc = float((test_pred == y_test).mean())
        eval_time = time.perf_counter() - t_eval
        row = {"epoch": epoch + 1, "train_loss": st["loss_sum"] / max(st["seen"], 1),
               "train_accuracy": st["correct"] / max(st["seen"], 1),
               "test_accuracy": test_acc, "lr": lr_at(st["step"] - 1, total_steps,
                                                      cfg["lr"], cfg["schedule"]),
               "time": train_time, "eval_time": eval_time,
               "images_per_s": st["seen"] / max(train_time, 1e-9)}
        st["history"].append(row)
        st.update(epoch=epoch + 1, loss_sum=0.0, correct=0, seen=0, epoch_time=0.0)
        if not quiet:
            print(f"epoch {epoch + 1:>2}/{cfg['epochs']}: loss {row['train_loss']:.4f}  "
                  f"train acc {row['train_accuracy']:.4f}  held-out acc {test_acc:.4f}  "
                  f"{row['images_per_s']:.0f} images/s  ({train_time:.1f}s)")
        _save_checkpoint(out, model, opt, loader, st, cfg)

    # -- the results -------------------------------------------------------------------
    logits = predict_logits(model, x_test)
    probs = softmax(logits.astype(np.float64))
    pred = probs.argmax(axis=1)
    final_acc = float((pred == y_test).mean())
    # confusion[true, predicted]: count the pairs, encoded as one number 10*true + pred
    confusion = np.bincount(y_test * 10 + pred, minlength=100).reshape(10, 10)
    hist = st["history"]
    total_time = float(sum(r["time"] + r["eval_time"] for r in hist))
    metrics = {
        "command": "handgrad train mnist",
        "config": _json_config(cfg),
        "seed": cfg["seed"],
        "n_train": len(x_train), "n_test": len(x_test),
        "n_parameters": int(sum(p.data.size for p in model.parameters())),
        "epochs": hist,
        "step_loss": st["step_loss"],
        "final_test_accuracy": final_acc,
        "final_train_loss": hist[-1]["train_loss"] if hist else None,
        "confusion_matrix": confusion.tolist(),
        "train_time_s": float(sum(r["time"] for r in hist)),
        "total_time_s": total_time,
        "images_per_s": (float(np.mean([r["images_per_s"] for r in hist])) if hist else None),
        "resumed": ckpt is not None,
        "blas_threads": threads,
        "machine": {"cpus": os.cpu_count(), "load_average_1min": _load_average()},
    }
    hg.save({"format": MODEL_FORMAT, "kind": "model", "arch": cfg["arch"],
             "model": model.state_dict(),
             "normalize": {"mean": hg.data.MNIST_MEAN, "std": hg.data.MNIST_STD},
             "test_accuracy": final_acc, "config": _json_config(cfg)}, out / "model.npz")
    write_metrics(out, metrics)
    if cfg["plots"]:
        _plots(out, model, hist, st["step_loss"], confusion, x_test, y_test, probs)
    if not quiet:
        print()
        print_table([{"epoch": r["epoch"], "train loss": round(r["train_loss"], 4),
                      "train acc": round(r["train_accuracy"], 4),
                      "held-out acc": round(r["test_accuracy"], 4),
                      "images/s": round(r["images_per_s"]), "time s": round(r["time"], 1)}
                     for r in hist])
        print(f"\nheld-out accuracy: {final_acc:.4f} ({int((pred == y_test).sum())}/"
              f"{len(y_test)})   training time {metrics['train_time_s']:.1f}s")
        print(f"wrote {out}/: metrics.json, model.npz, checkpoint.npz, curves.png, "
              f"confusion.png, kernels.png, feature_maps.png, misclassified.png")
        print(f"try:  handgrad predict {out / 'model.npz'} your_digit.png")
    metrics["out"] = str(out)
    return metrics


def _load_average() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


# ------------------------------------------------------------------------------------
# pictures
# ------------------------------------------------------------------------------------
def _plots(out: Path, model: MnistCNN, hist: list[dict[str, Any]], step_loss: list[float],
           confusion: np.ndarray, x_test: np.ndarray, y_test: np.ndarray,
           probs: np.ndarray) -> None:
    plt = pyplot()
    # loss and accuracy curves
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 3.8))
    if step_loss:
        steps = np.arange(1, len(step_loss) + 1)
        a1.plot(steps, step_loss, lw=0.6, alpha=0.4, label="per step")
        k = max(1, len(step_loss) // 50)
        smooth = np.convolve(step_loss, np.ones(k) / k, mode="valid")
        a1.plot(steps[k - 1:], smooth, lw=1.5, label=f"mean of {k} steps")
        a1.set_yscale("log")
    a1.set(xlabel="step", ylabel="cross-entropy loss", title="training loss")
    a1.legend()
    ep = [r["epoch"] for r in hist]
    a2.plot(ep, [r["train_accuracy"] for r in hist], "o-", label="train (augmented)")
    a2.plot(ep, [r["test_accuracy"] for r in hist], "s-", label="held-out")
    a2.axhline(0.98, color="grey", ls=":", lw=1, label="98%")
    a2.set(xlabel="epoch", ylabel="accuracy", title="accuracy")
    a2.legend()
    save_figure(fig, out, "curves.png")

    # confusion matrix
    fig, ax = plt.subplots(figsize=(5.2, 4.6))
    im = ax.imshow(confusion, cmap="Blues")
    for i in range(10):
        for j in range(10):
            v = confusion[i, j]
            if v:
                ax.text(j, i, str(v), ha="center", va="center", fontsize=7,
                        color="white" if v > confusion.max() / 2 else "black")
    ax.set(xticks=range(10), yticks=range(10), xlabel="predicted", ylabel="true",
           title="held-out confusion matrix")
    fig.colorbar(im, ax=ax, fraction=0.046)
    save_figure(fig, out, "confusion.png")

    # first layer's kernels
    w = model.conv1.weight.data[:, 0]
    cols = 8
    rows = -(-len(w) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 0.9, rows * 0.9 + 0.4))
    lim = float(np.abs(w).max()) or 1.0
    for i, ax in enumerate(np.ravel(axes)):
        ax.axis("off")
        if i < len(w):
            ax.imshow(w[i], cmap="RdBu_r", vmin=-lim, vmax=lim)
    fig.suptitle("conv1 kernels (3x3; red +, blue -)")
    save_figure(fig, out, "kernels.png")

    # feature maps of one held-out digit
    with hg.no_grad():
        was = model.training
        model.eval()
        x0 = x_test[:1]
        h1, h2 = (h.data[0] for h in model.features(hg.tensor(x0)))
        model.train(was)
    fig = plt.figure(figsize=(10, 6))
    ax = fig.add_subplot(3, 9, 1)
    ax.imshow(x0[0, 0], cmap="gray")
    ax.set_title(f"input ({int(y_test[0])})", fontsize=8)
    ax.axis("off")
    for i in range(min(8, len(h1))):
        ax = fig.add_subplot(3, 9, 2 + i)
        ax.imshow(h1[i], cmap="viridis")
        ax.set_title(f"block1 #{i}", fontsize=7)
        ax.axis("off")
    for i in range(min(18, len(h2))):
        ax = fig.add_subplot(3, 9, 10 + i)
        ax.imshow(h2[i], cmap="viridis")
        ax.set_title(f"block2 #{i}", fontsize=7)
        ax.axis("off")
    fig.suptitle("feature maps after conv-relu-pool (14x14, then 7x7)")
    save_figure(fig, out, "feature_maps.png")

    # worst-misclassified digits: wrong, and most confident about it
    pred = probs.argmax(axis=1)
    wrong = np.flatnonzero(pred != y_test)
    order = wrong[np.argsort(-probs[wrong, pred[wrong]], kind="stable")][:16]
    fig, axes = plt.subplots(2, 8, figsize=(11, 3.4))
    for ax in np.ravel(axes):
        ax.axis("off")
    for ax, i in zip(np.ravel(axes), order):
        ax.imshow(x_test[i, 0], cmap="gray")
        ax.set_title(f"true {y_test[i]}, said {pred[i]}\np={probs[i, pred[i]]:.2f}",
                     fontsize=7)
    fig.suptitle(f"worst-misclassified held-out digits ({len(wrong)} wrong in all)")
    save_figure(fig, out, "misclassified.png")


# ------------------------------------------------------------------------------------
# the command
# ------------------------------------------------------------------------------------
def add_arguments(parser: argparse.ArgumentParser) -> None:
    d = DEFAULTS
    parser.add_argument("--epochs", type=cli_args.positive_int, default=d["epochs"],
                        help=f"passes over the training digits (default {d['epochs']})")
    parser.add_argument("--batch-size", type=cli_args.positive_int, default=d["batch_size"],
                        help=f"digits per step (default {d['batch_size']})")
    parser.add_argument("--lr", type=cli_args.positive_float, default=None,
                        help=f"peak learning rate, cosine-decayed (default "
                             f"{DEFAULT_LR['adam']:g} for adam, {DEFAULT_LR['sgd']:g} for sgd)")
    parser.add_argument("--optimizer", choices=("sgd", "adam"), default=d["optimizer"],
                        help=f"default {d['optimizer']}; sgd uses momentum 0.9")
    parser.add_argument("--seed", type=cli_args.nonnegative_int, default=d["seed"],
                        help=f"seed of every random draw (default {d['seed']})")
    parser.add_argument("--data", metavar="DIR", default=None,
                        help="a folder with MNIST or Fashion-MNIST IDX files "
                             "(default: the 10,000 digits shipped with handgrad)")
    parser.add_argument("--out", metavar="DIR", default=None,
                        help="output folder (default runs/mnist-<timestamp>/)")
    parser.add_argument("--checkpoint-every", type=cli_args.positive_int, default=None, metavar="N",
                        help="also checkpoint every N steps (default: every epoch)")
    parser.add_argument("--resume", metavar="DIR", default=None,
                        help="continue the run whose checkpoint.npz is in DIR")
    parser.add_argument("--limit", type=cli_args.positive_int, default=None, metavar="N",
                        help="train on the first N digits only (quick tests)")
    runtime.add_threads_argument(parser)
    parser.add_argument("--no-augment", action="store_true",
                        help="no random shifts of the training digits")
    parser.add_argument("--quiet", action="store_true", help="print nothing but errors")


def main(args: argparse.Namespace) -> int:
    config = {"epochs": args.epochs, "batch_size": args.batch_size, "lr": args.lr,
              "optimizer": args.optimizer, "seed": args.seed, "data": args.data,
              "out": args.out, "checkpoint_every": args.checkpoint_every,
              "limit": args.limit, "quiet": args.quiet, "threads": args.threads}
    if args.no_augment:
        config["shift"] = 0
    if args.resume is not None:
        # a resumed run must be the run it continues: its settings come from the checkpoint
        given = [k for k in ("epochs", "batch_size", "lr", "optimizer", "seed", "data", "out",
                             "checkpoint_every", "limit") if config[k] != DEFAULTS[k]]
        given += ["no_augment"] if args.no_augment else []
        if given:
            names = ", ".join("--" + k.replace("_", "-") for k in given)
            raise ValueError(f"--resume continues a run with the settings saved in its "
                             f"checkpoint; drop {names}")
    try:
        if args.resume is not None:
            run({"quiet": args.quiet, "threads": args.threads}, resume=args.resume)
        else:
            run(config)
    except TrainingDivergedError as err:
        print(f"handgrad train mnist: {err}", file=sys.stderr)
        return 1
    return 0
