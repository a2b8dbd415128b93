"""Bad input, catalogued (issue 6 item 5): one table, one test.

Each row is ``(id, thunk, expected exception type, substrings of the message)``. The
thunk makes one invalid call to the public API; the test asserts the exception TYPE and
that the message contains every substring: the substrings are chosen so that the message
must NAME THE ARGUMENT (or the shapes) and STATE THE RULE, not merely fail. It also
asserts the error was raised by handgrad (or by Python's own argument binding), never
from inside NumPy, so a learner never has to read a NumPy-internal traceback.

CLI rows run ``handgrad.cli.main([...])`` in-process: the command must print ONE line to
stderr (no traceback, no NumPy internals) and exit non-zero; the row's substrings are
then checked against that line.

A row whose message the library does not yet get right is marked
``xfail(strict=True)`` with the reason, so fixing the library turns it into a failure
that asks for the marker to be removed.
"""

from __future__ import annotations

import fractions
import os
import sys
import traceback
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import handgrad as hg
import handgrad.nn as nn
import handgrad.nn.functional as F
import handgrad.optim as optim
from handgrad.io import CheckpointError
from handgrad.nn.module import StateDictError


# ------------------------------------------------------------------------------------
# helpers
# ------------------------------------------------------------------------------------
def T(*shape: int, dtype: Any = np.float32, requires_grad: bool = False) -> hg.Tensor:
    """A tensor of ones of the given shape (float32 unless told)."""
    return hg.tensor(np.ones(shape, dtype=dtype), requires_grad=requires_grad)


def idx(*values: int) -> np.ndarray:
    return np.array(values, dtype=np.int64)


def params() -> Any:
    return nn.Linear(2, 2).parameters()


class CliExit(Exception):
    """Raised by a CLI thunk after ``main`` returned (or exited): carries the status."""

    def __init__(self, status: Any) -> None:
        super().__init__(f"exit status {status!r}")
        self.status = status


def cli(*argv: str) -> Callable[[], None]:
    def run() -> None:
        raise CliExit(_exit_of(list(argv)))

    return run


def _not_a_checkpoint(path: str = "notes.npz") -> str:
    with open(path, "w") as f:
        f.write("these are my notes, not a checkpoint\n")
    return path


def _plain_npz(path: str = "plain.npz") -> str:
    np.savez(path, weight=np.ones((2, 3), np.float32))
    return path


def _load_text_as_checkpoint() -> None:
    hg.load(_not_a_checkpoint())


def _from_torch_not_torch() -> None:
    from handgrad.io import from_torch

    pytest.importorskip("torch")
    from_torch(_not_a_checkpoint("weights.pt"))


def _from_torch_without_torch() -> None:
    """As if PyTorch were not installed: ``import torch`` raises ImportError."""
    saved = sys.modules.get("torch")
    sys.modules["torch"] = None  # type: ignore[assignment]  (makes `import torch` fail)
    try:
        hg.io.from_torch("weights.pt")
    finally:
        if saved is None:
            del sys.modules["torch"]
        else:
            sys.modules["torch"] = saved


def _predict_with_text_file() -> None:
    _not_a_checkpoint("model.npz")
    raise CliExit(_exit_of(["predict", "model.npz", "digit.png"]))


def _exit_of(argv: list[str]) -> Any:
    """``handgrad.cli.main(argv)``'s exit status; SystemExit (argparse) counts the same,
    as it does for the console script."""
    from handgrad.cli import main

    try:
        return main(argv)
    except SystemExit as exit_:
        return exit_.code


def _cli_on_text_file(*argv: str) -> None:
    _not_a_checkpoint("model.npz")
    raise CliExit(_exit_of(list(argv)))


def _mnist_model_file(path: str = "model.npz") -> str:
    """A tiny (untrained) model file in the format `handgrad train mnist` writes."""
    from handgrad.experiments.mnist_cnn import MODEL_FORMAT, MnistCNN

    model = MnistCNN(channels=(2, 2), hidden=4)
    hg.save({"format": MODEL_FORMAT, "kind": "model", "arch": model.arch,
             "model": model.state_dict()}, path)
    return path


def _predict(model: Callable[[], str], image: Callable[[], str]) -> Callable[[], None]:
    def run() -> None:
        raise CliExit(_exit_of(["predict", model(), image()]))

    return run


def _text_file(path: str) -> Callable[[], str]:
    def make() -> str:
        with open(path, "w") as f:
            f.write("not an image\n")
        return path

    return make


def _sd_missing_and_unexpected() -> None:
    nn.Linear(3, 2).load_state_dict({"weight": np.zeros((2, 3), np.float32),
                                     "wieght_extra": np.zeros(2, np.float32)})


def _sd_wrong_shape() -> None:
    nn.Linear(3, 2).load_state_dict({"weight": np.zeros((3, 2), np.float32),
                                     "bias": np.zeros(2, np.float32)})


def _sd_conv_wrong_kernel() -> None:
    nn.Conv2d(3, 4, 3).load_state_dict({"weight": np.zeros((4, 3, 5, 5), np.float32),
                                        "bias": np.zeros(4, np.float32)})


def _sd_lstm_missing() -> None:
    nn.LSTM(3, 4).load_state_dict({"weight_ih_l0": np.zeros((16, 3), np.float32),
                                   "weight_hh_l0": np.zeros((16, 4), np.float32)})


def _sd_strings() -> None:
    nn.Linear(3, 2).load_state_dict({"weight": np.full((2, 3), "w"),
                                     "bias": np.zeros(2, np.float32)})


# ------------------------------------------------------------------------------------
# the table
# ------------------------------------------------------------------------------------
def case(id_: str, thunk: Callable[[], Any], exc: type[BaseException], subs: list[str],
         xfail: str | None = None) -> Any:
    marks = [pytest.mark.xfail(strict=True, reason=xfail)] if xfail else []
    return pytest.param(thunk, exc, subs, id=id_, marks=marks)


KERNEL_RULE = "floor((H + 2P - D(K-1) - 1)/S) + 1"

CASES = [
    # -- shapes ------------------------------------------------------------------------
    case("matmul-inner-dims", lambda: T(2, 3) @ T(4, 5), ValueError,
         ["matmul", "(2, 3)", "(4, 5)", "last dimension", "second-to-last"]),
    case("matmul-0d", lambda: T() @ T(3), ValueError, ["matmul", "at least 1 dimension"]),
    case("linear-in-features", lambda: nn.Linear(3, 2)(T(4, 5)), ValueError,
         ["input", "(4, 5)", "(2, 3)", "in_features", "3"]),
    case("F.linear-shapes", lambda: F.linear(T(4, 5), T(2, 3)), ValueError,
         ["input", "weight", "in_features"]),
    case("add-broadcast", lambda: T(2, 3) + T(4), ValueError,
         ["(2, 3)", "(4,)", "broadcast", "equal or one of them 1"]),
    case("reshape-numel", lambda: T(2, 3).reshape(4, 2), ValueError,
         ["reshape", "(2, 3)", "(4, 2)", "number of elements"]),
    case("cat-shapes", lambda: hg.cat([T(2, 3), T(2, 4)], dim=0), ValueError,
         ["cat", "same shape except in dim 0", "(2, 3)", "(2, 4)"]),
    case("stack-shapes", lambda: hg.stack([T(2), T(3)]), ValueError,
         ["stack", "same shape", "(2,)", "(3,)"]),
    case("sum-dim-range", lambda: T(2, 3).sum(dim=5), ValueError,
         ["dim=5", "Dimension out of range", "[-2, 1]"]),
    case("softmax-dim-range", lambda: F.softmax(T(2, 3), dim=3), ValueError,
         ["softmax", "dim=3", "out of range"]),
    case("transpose-dim-range", lambda: T(2, 3).transpose(0, 2), ValueError,
         ["transpose", "dim", "out of range"]),
    case("cross-entropy-target-shape",
         lambda: F.cross_entropy(T(4, 5), np.zeros(3, np.int64)), ValueError,
         ["cross_entropy", "target", "(3,)", "(4, 5)", "i.e. (4,)"]),
    case("mse-shapes", lambda: F.mse_loss(T(4, 5), T(4, 3)), ValueError,
         ["mse_loss", "(4, 5)", "(4, 3)", "must be equal"]),
    case("conv2d-kernel-larger-than-input",
         lambda: F.conv2d(T(1, 3, 4, 4), T(2, 3, 5, 5)), ValueError,
         ["conv2d", "kernel is larger", KERNEL_RULE,
          "floor((4 + 2*0 - 1*(5-1) - 1)/1) + 1 = 0"]),
    case("Conv2d-module-kernel-too-big", lambda: nn.Conv2d(3, 4, 5)(T(1, 3, 4, 4)),
         ValueError, ["kernel is larger", KERNEL_RULE]),
    case("conv2d-in-channels", lambda: nn.Conv2d(3, 4, 3)(T(1, 2, 8, 8)), ValueError,
         ["weight", "(4, 3, 3, 3)", "(1, 2, 8, 8)", "in_channels/groups"]),
    case("conv2d-2d-input", lambda: nn.Conv2d(3, 4, 3)(T(8, 8)), ValueError,
         ["input", "4-D (N, C, H, W)", "(8, 8)"]),
    case("conv_output_size-formula", lambda: F.conv_output_size(4, 5), ValueError,
         [KERNEL_RULE, "= 0 < 1"]),
    case("max_pool-kernel-larger-than-input", lambda: F.max_pool2d(T(1, 1, 2, 2), 3),
         ValueError, ["max_pool2d", "kernel is larger", KERNEL_RULE]),
    case("avg_pool-kernel-larger-than-input", lambda: nn.AvgPool2d(5)(T(1, 1, 3, 3)),
         ValueError, ["avg_pool2d", "kernel is larger", "H + 2P = 3"]),
    case("max_pool-padding-over-half", lambda: F.max_pool2d(T(1, 1, 8, 8), 2, padding=2),
         ValueError, ["padding", "at most half", "padding=2", "kernel_size=2"]),
    case("batchnorm-channels", lambda: nn.BatchNorm2d(3)(T(2, 4, 5, 5)), ValueError,
         ["BatchNorm2d", "(2, 4, 5, 5)", "4 channels", "num_features = 3"]),
    case("batchnorm2d-ndim", lambda: nn.BatchNorm2d(3)(T(2, 3, 4)), ValueError,
         ["BatchNorm2d", "4-D", "(2, 3, 4)"]),
    case("batchnorm-batch-of-one-training", lambda: nn.BatchNorm1d(3)(T(1, 3)), ValueError,
         ["more than 1 value per channel", "training", "(1, 3)"]),
    case("rnn-input-size", lambda: nn.RNN(3, 4)(T(5, 2, 6)), ValueError,
         ["input.size(-1)", "input_size = 3", "(5, 2, 6)"]),
    case("rnn-4d-input", lambda: nn.RNN(3, 4)(T(5, 2, 3, 1)), ValueError,
         ["input", "3-D", "(5, 2, 3, 1)"]),
    case("rnn-h0-batch", lambda: nn.RNN(3, 4)(T(5, 2, 3), T(1, 3, 4)), ValueError,
         ["hx", "(num_layers * num_directions, batch, hidden_size) = (1, 2, 4)", "(1, 3, 4)"]),
    case("rnn-h0-layers", lambda: nn.RNN(3, 4, num_layers=2)(T(5, 2, 3), T(1, 2, 4)),
         ValueError, ["hx", "= (2, 2, 4)", "(1, 2, 4)"]),
    case("gru-bidirectional-h0", lambda: nn.GRU(3, 4, bidirectional=True)(T(5, 2, 3),
                                                                            T(1, 2, 4)),
         ValueError, ["GRU", "num_directions", "= (2, 2, 4)"]),
    case("rnn-batch-first-h0", lambda: nn.RNN(3, 4, batch_first=True)(T(2, 5, 3), T(1, 5, 4)),
         ValueError, ["hx", "= (1, 2, 4)", "(1, 5, 4)"]),
    case("lstm-hx-not-tuple", lambda: nn.LSTM(3, 4)(T(5, 2, 3), T(1, 2, 4)), TypeError,
         ["LSTM", "hx", "tuple (h0, c0)"]),
    case("lstm-c0-shape", lambda: nn.LSTM(3, 4)(T(5, 2, 3), (T(1, 2, 4), T(1, 2, 5))),
         ValueError, ["c0", "= (1, 2, 4)", "(1, 2, 5)"]),
    case("lstmcell-h-shape", lambda: nn.LSTMCell(3, 4)(T(2, 3), (T(2, 5), T(2, 4))),
         ValueError, ["LSTMCell", "(batch, hidden_size) = (2, 4)", "(2, 5)"]),
    case("grucell-input-size", lambda: nn.GRUCell(3, 4)(T(2, 5)), ValueError,
         ["GRUCell", "input_size = 3", "(2, 5)"]),
    case("backward-grad-shape",
         lambda: (T(3, requires_grad=True) * 2).backward(np.ones(4, np.float32)),
         ValueError, ["grad", "(4,)", "(3,)", "must match"]),
    # -- dtypes ------------------------------------------------------------------------
    case("int-tensor-requires-grad", lambda: hg.tensor([1, 2, 3], requires_grad=True),
         TypeError, ["requires_grad", "floating-point", "int64"]),
    case("int-Parameter", lambda: nn.Parameter(np.arange(3)), TypeError,
         ["Parameter", "floating-point", "int64"]),
    case("int-input-to-linear", lambda: nn.Linear(3, 4)(T(5, 3, dtype=np.int64)), TypeError,
         ["input", "floating-point", "int64", ".float()"]),
    case("int-input-to-gru", lambda: nn.GRU(3, 4)(T(5, 2, 3, dtype=np.int64)), TypeError,
         ["GRU", "input", "floating-point", "int64", "Embedding"]),
    case("float64-input-to-float32-rnn", lambda: nn.RNN(3, 4)(T(5, 2, 3, dtype=np.float64)),
         TypeError, ["input", "float64", "float32"]),
    case("float64-input-to-float32-conv", lambda: nn.Conv2d(3, 4, 3)(T(1, 3, 8, 8,
                                                                         dtype=np.float64)),
         TypeError, ["input dtype float64", "weight dtype float32"]),
    case("matmul-float32-float64", lambda: T(2, 3) @ T(3, 2, dtype=np.float64), TypeError,
         ["matmul", "float32", "float64"]),
    case("int-weight-to-linear", lambda: F.linear(T(2, 3), T(2, 3, dtype=np.int64)),
         TypeError, ["weight", "int64"]),
    case("cross-entropy-float-targets", lambda: F.cross_entropy(T(4, 5), np.zeros(4)),
         TypeError, ["target", "integers", "float64", "astype(np.int64)"]),
    case("embedding-float-indices", lambda: nn.Embedding(10, 3)(np.array([1.0, 2.0])),
         TypeError, ["embedding", "integer indices", "float64"]),
    case("tensor-bad-dtype-name", lambda: hg.tensor([1.0], dtype="bogus"), TypeError,
         ["dtype", "bogus"]),
    # -- ranges ------------------------------------------------------------------------
    case("cross-entropy-target-too-big",
         lambda: F.cross_entropy(T(4, 5), idx(0, 1, 5, 2)), ValueError,
         ["target", "5", "out of range", "[0, 5)"]),
    case("cross-entropy-target-negative",
         lambda: F.cross_entropy(T(4, 5), idx(0, 1, -3, 2)), ValueError,
         ["target", "-3", "[0, 5)", "ignore_index"]),
    case("nll-target-range", lambda: F.nll_loss(T(4, 5), idx(0, 1, 7, 2)), ValueError,
         ["nll_loss", "target", "7", "[0, 5)"]),
    case("dropout-module-p", lambda: nn.Dropout(1.5), ValueError,
         ["Dropout", "p", "probability in [0, 1]", "1.5"]),
    case("dropout-functional-p", lambda: F.dropout(T(3), p=-0.1), ValueError,
         ["dropout", "p", "[0, 1]", "-0.1"]),
    case("rnn-dropout-p", lambda: nn.RNN(3, 4, dropout=2), ValueError,
         ["dropout", "[0, 1]", "2"]),
    case("Linear-zero-in", lambda: nn.Linear(0, 3), ValueError,
         ["Linear", "in_features", "positive integer", "0"]),
    case("Linear-negative-out", lambda: nn.Linear(3, -2), ValueError,
         ["out_features", "positive integer", "-2"]),
    case("Linear-fractional-size", lambda: nn.Linear(3.5, 2), ValueError,
         ["in_features", "positive integer", "3.5"]),
    case("Conv2d-zero-out-channels", lambda: nn.Conv2d(3, 0, 3), ValueError,
         ["Conv2d", "out_channels", "positive integer", "0"]),
    case("Conv2d-zero-kernel", lambda: nn.Conv2d(3, 4, 0), ValueError,
         ["kernel_size", "positive"]),
    case("Conv2d-zero-dilation", lambda: nn.Conv2d(3, 4, 3, dilation=0), ValueError,
         ["dilation", "positive"]),
    case("Conv2d-negative-padding", lambda: nn.Conv2d(3, 4, 3, padding=-1), ValueError,
         ["padding", ">= 0", "-1"]),
    case("Conv2d-padding-word", lambda: nn.Conv2d(3, 4, 3, padding="full"), ValueError,
         ["padding", "'same' or 'valid'", "'full'"]),
    case("Conv2d-padding-mode", lambda: nn.Conv2d(3, 4, 3, padding_mode="reflect"),
         ValueError, ["padding_mode", "'zeros'", "'reflect'"]),
    case("Conv2d-same-with-stride", lambda: nn.Conv2d(3, 4, 3, stride=2, padding="same"),
         ValueError, ["padding='same'", "strided"]),
    case("conv2d-stride-zero",
         lambda: F.conv2d(T(1, 3, 8, 8), T(2, 3, 3, 3), stride=0), ValueError,
         ["stride", "positive", "S = 0"]),
    case("MaxPool2d-stride-zero", lambda: nn.MaxPool2d(2, stride=0)(T(1, 1, 4, 4)),
         ValueError, ["stride", "positive", "S = 0"]),
    case("Conv2d-groups-in", lambda: nn.Conv2d(3, 4, 3, groups=2), ValueError,
         ["in_channels = 3", "divisible by groups = 2"]),
    case("Conv2d-groups-out", lambda: nn.Conv2d(4, 3, 3, groups=2), ValueError,
         ["out_channels = 3", "divisible by groups = 2"]),
    case("conv2d-groups-functional",
         lambda: F.conv2d(T(1, 4, 8, 8), T(2, 2, 3, 3), groups=3), ValueError,
         ["in_channels = 4", "(1, 4, 8, 8)", "not divisible by groups = 3"]),
    case("BatchNorm-zero-features", lambda: nn.BatchNorm1d(0), ValueError,
         ["num_features", "positive integer"]),
    case("LSTM-zero-hidden", lambda: nn.LSTM(3, 0), ValueError,
         ["hidden_size", "positive integer", "0"]),
    case("GRU-zero-layers", lambda: nn.GRU(3, 4, num_layers=0), ValueError,
         ["num_layers", "positive integer"]),
    case("RNN-nonlinearity", lambda: nn.RNN(3, 4, nonlinearity="sigmoid"), ValueError,
         ["nonlinearity", "'tanh' or 'relu'", "'sigmoid'"]),
    case("Embedding-zero-rows", lambda: nn.Embedding(0, 3), ValueError,
         ["num_embeddings", "positive integer"]),
    case("Embedding-padding-idx", lambda: nn.Embedding(10, 3, padding_idx=10), ValueError,
         ["padding_idx", "[-10, 9]", "10"]),
    case("embedding-out-of-vocabulary", lambda: nn.Embedding(10, 3)(idx(1, 10)), IndexError,
         ["index 10", "num_embeddings = 10", "[0, 9]"]),
    case("embedding-negative-index", lambda: nn.Embedding(10, 3)(idx(1, -1)), IndexError,
         ["index -1", "[0, 9]"]),
    case("CrossEntropyLoss-reduction", lambda: nn.CrossEntropyLoss(reduction="avg"),
         ValueError, ["reduction", "'none', 'mean', 'sum'", "'avg'"]),
    case("DataLoader-batch-size-zero",
         lambda: hg.data.DataLoader(hg.data.TensorDataset(np.ones((4, 2))), batch_size=0),
         ValueError, ["batch_size", ">= 1", "0"]),
    case("TensorDataset-lengths",
         lambda: hg.data.TensorDataset(np.ones((4, 2)), np.ones(3)), ValueError,
         ["same length", "(4, 2)", "(3,)"]),
    case("manual_seed-negative", lambda: hg.manual_seed(-1), ValueError,
         ["seed", "non-negative integer"]),
    case("zeros-negative-size", lambda: hg.zeros(2, -3), ValueError,
         ["zeros", "size", "-3"]),
    case("Flatten-start-dim", lambda: nn.Flatten(start_dim=3)(T(2, 3)), IndexError,
         ["start_dim", "3", "out of range"]),
    case("index-out-of-range", lambda: T(2, 3)[5], IndexError,
         ["index 5", "(2, 3)", "out of bounds for axis 0 with size 2"]),
    # -- optimizers --------------------------------------------------------------------
    case("SGD-no-params", lambda: optim.SGD([], lr=0.1), ValueError,
         ["SGD", "empty parameter list"]),
    case("Adam-empty-generator", lambda: optim.Adam(iter([]), lr=0.1), ValueError,
         ["Adam", "empty parameter list"]),
    case("SGD-negative-lr", lambda: optim.SGD(params(), lr=-1), ValueError,
         ["SGD", "lr", ">= 0", "-1"]),
    case("Adam-negative-lr", lambda: optim.Adam(params(), lr=-1), ValueError,
         ["Adam", "lr", ">= 0"]),
    case("Adam-lr-string", lambda: optim.Adam(params(), lr="0.1"), ValueError,
         ["lr", "number", "'0.1'"]),
    case("Adam-betas", lambda: optim.Adam(params(), betas=(1.5, 0.9)), ValueError,
         ["betas", "[0, 1)", "(1.5, 0.9)"]),
    case("SGD-negative-momentum", lambda: optim.SGD(params(), lr=0.1, momentum=-1),
         ValueError, ["momentum", ">= 0"]),
    case("SGD-negative-weight-decay", lambda: optim.SGD(params(), lr=0.1, weight_decay=-1),
         ValueError, ["weight_decay", ">= 0"]),
    case("SGD-nesterov-without-momentum", lambda: optim.SGD(params(), lr=0.1, nesterov=True),
         ValueError, ["nesterov=True", "momentum > 0", "dampening = 0"]),
    case("SGD-single-tensor", lambda: optim.SGD(nn.Linear(2, 2).weight, lr=0.1), TypeError,
         ["params", "iterable", "single Tensor", "wrap it in a list"]),
    case("StepLR-step-size-zero",
         lambda: optim.lr_scheduler.StepLR(optim.SGD(params(), lr=0.1), step_size=0),
         ValueError, ["step_size", "positive integer"]),
    # -- types -------------------------------------------------------------------------
    case("fractions-object-array",
         lambda: hg.tensor([fractions.Fraction(1, 2), fractions.Fraction(1, 3)]), TypeError,
         ["dtype=object", "Fraction", "np.asarray", "dtype=np.float64"]),
    case("string-scalar", lambda: hg.tensor("abc"), TypeError,
         ["expected numbers", "strings", "'abc'"]),
    case("list-of-strings", lambda: hg.tensor(["a", "b"]), TypeError,
         ["expected numbers", "strings"]),
    case("ragged-list", lambda: hg.tensor([[1, 2], [3]]), TypeError,
         ["rectangular", "same length"]),
    case("None-data", lambda: hg.tensor(None), TypeError, ["dtype=object", "None"]),
    case("save-object-array",
         lambda: hg.save({"a": np.array([fractions.Fraction(1, 2)], dtype=object)}, "x.npz"),
         TypeError, ["save", "dtype object", "without pickle", "np.asarray"]),
    case("Sequential-non-module", lambda: nn.Sequential(3), TypeError,
         ["Sequential", "argument 0", "int", "not a Module"]),
    case("load_state_dict-list", lambda: nn.Linear(3, 2).load_state_dict([1, 2]), TypeError,
         ["load_state_dict", "dict of arrays", "list"]),
    case("load_state_dict-strings", _sd_strings, TypeError,
         ["load_state_dict", "'weight'", "numeric array", "<U1"]),
    case("softmax-int-input", lambda: F.softmax(T(2, 3, dtype=np.int64), dim=1), TypeError,
         ["softmax", "floating-point", "int64", "(2, 3)"]),
    case("Module.to-int-dtype", lambda: nn.Linear(2, 2).to(np.int32), TypeError,
         ["Module.to", "dtype", "floating-point", "int32"]),
    case("Module.to-device", lambda: nn.Linear(2, 2).to("cuda"), TypeError,
         ["Module.to", "'cuda'", "CPU"]),
    case("train-mode-not-bool", lambda: nn.Linear(2, 2).train("yes"), TypeError,
         ["train", "mode", "bool", "str"]),
    case("Conv2d-padding-triple", lambda: nn.Conv2d(3, 4, 3, padding=(1, 1, 1)), TypeError,
         ["padding", "pair of ints (height, width)", "(1, 1, 1)"]),
    case("Conv2d-kernel-string", lambda: nn.Conv2d(3, 4, "3"), TypeError,
         ["kernel_size", "int or a pair of ints", "'3'"]),
    case("adaptive-pool-zero", lambda: F.adaptive_avg_pool2d(T(1, 1, 4, 4), 0), ValueError,
         ["output_size", "positive", "0"]),
    case("Embedding-zero-dim", lambda: nn.Embedding(10, 0), ValueError,
         ["embedding_dim", "positive integer", "0"]),
    case("F.embedding-1d-weight", lambda: F.embedding(idx(1), T(5)), ValueError,
         ["weight", "2-D (num_embeddings, embedding_dim)", "(5,)"]),
    case("cross-entropy-spatial-target", lambda: F.cross_entropy(T(2, 3, 4, 4),
                                                                 np.zeros((2, 4, 5), np.int64)),
         ValueError, ["target", "(2, 4, 5)", "(2, 3, 4, 4)", "i.e. (2, 4, 4)"]),
    case("cross-entropy-class-weights", lambda: F.cross_entropy(T(2, 3), idx(0, 1),
                                                                weight=np.ones(4)),
         ValueError, ["weight", "(C,) = (3,)", "(4,)"]),
    case("bce-with-logits-shapes",
         lambda: F.binary_cross_entropy_with_logits(T(3), T(4)), ValueError,
         ["target", "(4,)", "(3,)", "must be equal"]),
    case("StepLR-not-an-optimizer", lambda: optim.lr_scheduler.StepLR("opt", 1), TypeError,
         ["StepLR", "Optimizer", "str"]),
    case("DataLoader-not-a-dataset", lambda: hg.data.DataLoader(3, batch_size=1), TypeError,
         ["dataset", "__len__ and __getitem__", "int"]),
    case("TensorDataset-nothing", lambda: hg.data.TensorDataset(), ValueError,
         ["TensorDataset", "at least one array"]),
    case("gradcheck-not-callable", lambda: hg.gradcheck(3, (T(2),)), TypeError,
         ["gradcheck", "fn", "callable", "int"]),
    case("gradcheck-nothing-to-check",
         lambda: hg.gradcheck(lambda x: x * 2, (hg.tensor(np.ones(3, np.int64)),)), ValueError,
         ["gradcheck", "nothing to check", "requires_grad=True"]),
    case("gradcheck-eps-zero",
         lambda: hg.gradcheck(lambda x: x * 2, (T(3, dtype=np.float64, requires_grad=True),),
                              eps=0), ValueError,
         ["eps", "positive", "0"]),
    # -- missing arguments -------------------------------------------------------------
    case("Linear-missing-out-features", lambda: nn.Linear(3), TypeError,
         ["missing", "out_features"]),
    case("Conv2d-missing-kernel", lambda: nn.Conv2d(3, 4), TypeError,
         ["missing", "kernel_size"]),
    case("F.conv2d-missing-weight", lambda: F.conv2d(T(1, 3, 8, 8)), TypeError,
         ["missing", "weight"]),
    case("cross_entropy-missing-target", lambda: F.cross_entropy(T(4, 5)), TypeError,
         ["missing", "target"]),
    case("RNN-missing-hidden-size", lambda: nn.RNN(3), TypeError,
         ["missing", "hidden_size"]),
    # -- empty tensors and other states ------------------------------------------------
    case("max-of-empty", lambda: T(0).max(), ValueError,
         ["max", "empty", "(0,)"]),
    case("max-of-empty-dim", lambda: T(0, 3).max(dim=0), ValueError,
         ["max", "empty", "(0, 3)"]),
    case("rnn-empty-sequence", lambda: nn.RNN(3, 4)(T(0, 2, 3)), ValueError,
         ["at least one step", "(0, 2, 3)"]),
    case("cross-entropy-0d-input", lambda: F.cross_entropy(T(), np.array(0)), ValueError,
         ["input", "class dimension", "0-d"]),
    case("item-of-vector", lambda: T(3).item(), ValueError,
         ["item()", "one element", "(3,)"]),
    case("backward-non-scalar", lambda: (T(3, requires_grad=True) * 2).backward(),
         RuntimeError, ["backward()", "one element", "(3,)", "grad="]),
    case("backward-no-graph", lambda: T().backward(), RuntimeError,
         ["backward()", "does not require grad", "requires_grad=True"]),
    # -- state dicts -------------------------------------------------------------------
    case("state-dict-missing-and-unexpected", _sd_missing_and_unexpected, StateDictError,
         ["Linear", "missing keys", "'bias'", "unexpected keys", "'wieght_extra'"]),
    case("state-dict-wrong-shape", _sd_wrong_shape, StateDictError,
         ["weight", "(2, 3)", "(3, 2)"]),
    case("state-dict-conv-kernel", _sd_conv_wrong_kernel, StateDictError,
         ["Conv2d", "weight", "(4, 3, 3, 3)", "(4, 3, 5, 5)"]),
    case("state-dict-lstm-missing-biases", _sd_lstm_missing, StateDictError,
         ["LSTM", "missing keys", "'bias_ih_l0'", "'bias_hh_l0'"]),
    # -- files -------------------------------------------------------------------------
    case("load-text-file", _load_text_as_checkpoint, CheckpointError,
         ["notes.npz", "not a handgrad-checkpoint", "expected", "found"]),
    case("load-plain-npz", lambda: hg.load(_plain_npz()), CheckpointError,
         ["plain.npz", "trailer", "np.load(path, allow_pickle=False)"]),
    case("load-missing-file", lambda: hg.load("missing.npz"), FileNotFoundError,
         ["load", "no such file", "missing.npz"]),
    case("load-folder", lambda: hg.load("."), IsADirectoryError,
         ["load", "folder", "checkpoint file"]),
    case("from_torch-not-torch", _from_torch_not_torch, CheckpointError,
         ["weights.pt", "weights_only=True", "state_dict"]),
    case("from_torch-missing", lambda: hg.io.from_torch("missing.pt"), FileNotFoundError,
         ["from_torch", "no such file", "missing.pt"]),
    case("from_torch-without-torch", _from_torch_without_torch, ImportError,
         ["PyTorch is not installed", "pip install torch"]),
    # -- the command line --------------------------------------------------------------
    case("cli-predict-missing-model", cli("predict", "missing.npz", "x.png"), CliExit,
         ["missing.npz", "not found"]),
    case("cli-predict-not-a-checkpoint", _predict_with_text_file, CliExit,
         ["model.npz", "not a handgrad-checkpoint"]),
    case("cli-predict-missing-image", _predict(_mnist_model_file, lambda: "missing.png"),
         CliExit, ["image", "not found", "missing.png"]),
    case("cli-predict-image-not-an-image", _predict(_mnist_model_file,
                                                    _text_file("digit.png")),
         CliExit, ["digit.png", "not an image", "PNG/JPG"]),
    case("cli-predict-other-handgrad-file",
         _predict(lambda: (hg.save({"weights": np.ones(2)}, "other.npz"), "other.npz")[1],
                  lambda: "digit.png"),
         CliExit, ["other.npz", "not an MNIST CNN model", "handgrad train mnist"]),
    case("cli-predict-folder-without-model", cli("predict", ".", "digit.png"), CliExit,
         ["folder without model.npz"]),
    case("cli-charlm-missing-text", cli("train", "charlm", "--text", "missing.txt"), CliExit,
         ["text", "no such file", "missing.txt"]),
    case("cli-check-missing-file", cli("check", "missing.py::f"), CliExit,
         ["check", "no such file", "missing.py"]),
    case("cli-check-no-pair-name", cli("check", "layers.py"), CliExit,
         ["FILE::NAME", "'layers.py'"]),
    case("cli-sample-missing-model", cli("sample", "missing.npz"), CliExit,
         ["MODEL", "no such file", "missing.npz"]),
    case("cli-mnist-resume-missing", cli("train", "mnist", "--resume", "nowhere"), CliExit,
         ["--resume", "nowhere", "checkpoint"]),
    case("cli-mnist-negative-lr", cli("train", "mnist", "--lr", "-1"), CliExit,
         ["--lr", "positive finite number", "-1"]),
    case("cli-sample-not-a-checkpoint", lambda: _cli_on_text_file("sample", "model.npz"),
         CliExit, ["model.npz", "not a handgrad-checkpoint"]),
    case("cli-score-missing-text", lambda: _cli_on_text_file("score", "model.npz",
                                                             "missing.txt"),
         CliExit, ["no such file", "missing.txt"]),
    case("cli-mnist-missing-data-folder", cli("train", "mnist", "--data", "nowhere"), CliExit,
         ["--data", "nowhere", "no such folder"]),
    case("cli-charlm-negative-lr", cli("train", "charlm", "--lr", "-1"), CliExit,
         ["--lr", "positive finite number", "-1"]),
    case("cli-charlm-zero-hidden", cli("train", "charlm", "--hidden", "0"), CliExit,
         ["--hidden", "positive integer", "0"]),
    case("cli-charlm-zero-layers", cli("train", "charlm", "--layers", "0"), CliExit,
         ["--layers", "positive integer", "0"]),
    case("cli-charlm-zero-seq-len", cli("train", "charlm", "--seq-len", "0"), CliExit,
         ["--seq-len", "positive integer", "0"]),
    case("cli-count-ones-zero-iterations",
         cli("experiment", "count-ones", "--iterations", "0"), CliExit,
         ["--iterations", "positive integer", "0"]),
    case("cli-vanishing-zero-seeds", cli("experiment", "vanishing", "--seeds", "0"), CliExit,
         ["--seeds", "positive integer", "0"]),
    case("cli-vanishing-negative-lag", cli("experiment", "vanishing", "--lags", "-3"), CliExit,
         ["--lags", "positive integer", "-3"]),
    case("cli-linreg-negative-lr", cli("experiment", "linreg", "--lr", "-1"), CliExit,
         ["--lr", "positive", "-1"]),
    case("cli-linreg-zero-batch", cli("experiment", "linreg", "--batch-size", "0"), CliExit,
         ["--batch-size", "positive integer", "0"]),
    case("cli-mle-negative-lr", cli("experiment", "mle", "--lr", "-1"), CliExit,
         ["--lr", "positive", "-1"]),
    case("cli-bench-zero-repeats", cli("bench", "--repeats", "0"), CliExit,
         ["--repeats", "positive integer", "0"]),
    case("cli-bench-only-matches-nothing", cli("bench", "--quick", "--only", "zzz"), CliExit,
         ["--only", "'zzz'"]),
    case("cli-charlm-bad-choice", cli("train", "charlm", "--cell", "cnn"), CliExit,
         ["--cell", "invalid choice", "'cnn'"]),
    case("cli-charlm-negative-clip", cli("train", "charlm", "--clip", "-1"), CliExit,
         ["--clip", ">= 0", "-1"]),
    case("cli-mnist-resume-with-settings", cli("train", "mnist", "--resume", "x", "--lr", "1"),
         CliExit, ["--resume", "settings saved in its checkpoint", "drop --lr"]),
    case("cli-charlm-resume-with-settings",
         cli("train", "charlm", "--resume", "x", "--hidden", "8"),
         CliExit, ["--resume", "settings saved in its checkpoint", "drop --hidden"]),
    case("cli-unknown-command", cli("frobnicate"), CliExit,
         ["unknown command", "'frobnicate'", "handgrad --help"]),
    case("cli-unknown-subcommand", cli("train", "foo"), CliExit,
         ["unknown command", "'train foo'", "mnist, charlm"]),
    case("cli-bad-option-value", cli("train", "mnist", "--epochs", "abc"), CliExit,
         ["--epochs", "positive integer", "'abc'"]),
    case("cli-unknown-option", cli("bench", "--bogus"), CliExit,
         ["unrecognized arguments", "--bogus"]),
    # -- issue 9 item 9: arguments that reached NumPy's own messages ----------------------
    case("F.linear-input-list", lambda: F.linear([[1.0, 2.0, 3.0]], T(2, 3)), TypeError,
         ["linear", "input", "Tensor", "list"]),
    case("F.linear-weight-list", lambda: F.linear(T(1, 3), [[1.0, 2.0, 3.0]]), TypeError,
         ["linear", "weight", "list"]),
    case("F.linear-bias-list", lambda: F.linear(T(1, 3), T(2, 3), [0.0, 0.0]), TypeError,
         ["linear", "bias", "list"]),
    case("Linear-called-on-list", lambda: nn.Linear(2, 2)([1.0, 2.0]), TypeError,
         ["input", "Tensor", "list"]),
    case("F.mse_loss-list", lambda: F.mse_loss([1.0, 2.0], T(2)), TypeError,
         ["mse_loss", "input", "list"]),
    case("F.l1_loss-list", lambda: F.l1_loss([1.0, 2.0], T(2)), TypeError,
         ["l1_loss", "input", "list"]),
    case("F.cross_entropy-list", lambda: F.cross_entropy([[1.0, 2.0]], idx(0)), TypeError,
         ["cross_entropy", "input", "list"]),
    case("F.nll_loss-list", lambda: F.nll_loss([[-1.0, -2.0]], idx(0)), TypeError,
         ["nll_loss", "input", "list"]),
    case("conv2d-zero-input-channels", lambda: F.conv2d(T(1, 0, 5, 5), T(2, 0, 3, 3)),
         ValueError, ["conv2d", "(1, 0, 5, 5)", "at least one input", "in_channels = 0"]),
    case("arange-step-zero", lambda: hg.arange(0, 10, 0), ValueError,
         ["arange", "step", "nonzero"]),
    case("arange-wrong-sign", lambda: hg.arange(0, 10, -1), ValueError,
         ["arange", "step sign", "never reaches 10"]),
    case("arange-string", lambda: hg.arange("a"), TypeError, ["arange", "start", "'a'"]),
    case("arange-string-end", lambda: hg.arange(0, "b"), TypeError, ["arange", "end", "'b'"]),
    case("full-string-value", lambda: hg.full((2, 2), "a"), TypeError,
         ["full", "fill_value", "real number", "'a'"]),
    case("randint-low-above-high", lambda: hg.randint(5, 2, (3,)), ValueError,
         ["randint", "low", "high", "5", "2", "[low, high)"]),
    case("randint-low-equals-high", lambda: hg.randint(2, 2, (3,)), ValueError,
         ["randint", "low=2 >= high=2"]),
    case("randint-float-low", lambda: hg.randint(0.5, 2, (3,)), TypeError,
         ["randint", "low", "integer", "0.5"]),
    case("where-unbroadcastable", lambda: hg.where(T(2) > 0, T(3), T(4)), ValueError,
         ["where", "(2,)", "(3,)", "(4,)", "broadcast"]),
    case("where-float-condition", lambda: hg.where(T(2), T(2), T(2)), TypeError,
         ["where", "condition", "boolean", "float32"]),
    case("leaky_relu-string-slope", lambda: F.leaky_relu(T(2), "a"), TypeError,
         ["leaky_relu", "negative_slope", "'a'"]),
    case("clamp-no-bounds", lambda: T(2).clamp(), RuntimeError,
         ["clamp", "min", "max", "must not be None"]),
    case("clamp-string-bound", lambda: T(2).clamp("a"), TypeError,
         ["clamp", "min", "number", "'a'"]),
    case("cat-a-tensor", lambda: hg.cat(T(2, 3)), TypeError,
         ["cat", "list or tuple", "Tensor"]),
    case("stack-a-tensor", lambda: hg.stack(T(2, 3)), TypeError,
         ["stack", "list or tuple", "Tensor"]),
    case("astype-unknown-dtype", lambda: T(2).astype("foo"), TypeError,
         ["astype", "'foo'", "dtype"]),
    case("clip_grad_norm_-string", lambda: nn.utils.clip_grad_norm_(params(), "a"), TypeError,
         ["clip_grad_norm_", "max_norm", "'a'"]),
    case("clip_grad_norm_-negative", lambda: nn.utils.clip_grad_norm_(params(), -1.0),
         ValueError, ["clip_grad_norm_", "max_norm", ">= 0", "-1.0"]),
]


# ------------------------------------------------------------------------------------
# the test
# ------------------------------------------------------------------------------------
def _raised_inside_numpy(err: BaseException) -> bool:
    frames = traceback.extract_tb(err.__traceback__)
    if not frames:
        return False
    last = frames[-1].filename.replace(os.sep, "/")
    return "/numpy/" in last


@pytest.mark.parametrize("thunk, exc, subs", CASES)
def test_bad_input(thunk, exc, subs, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # relative 'missing' files are missing; writes stay here
    monkeypatch.delenv("HANDGRAD_DEBUG", raising=False)
    torch = sys.modules.get("torch")
    threads = torch.get_num_threads() if torch else None
    try:
        with pytest.raises(BaseException) as info:
            thunk()
    finally:  # `handgrad bench` sets torch's thread count: leave it as the suite had it
        if torch and torch.get_num_threads() != threads:
            torch.set_num_threads(threads)
    err = info.value
    assert isinstance(err, exc), (
        f"expected {exc.__name__}, got {type(err).__name__}: {err}")
    if isinstance(err, CliExit):
        captured = capsys.readouterr()
        assert err.status not in (0, None), f"exit status {err.status!r}: {captured}"
        lines = [line for line in captured.err.splitlines() if line.strip()]
        assert len(lines) == 1, f"the CLI must print ONE line to stderr, got:\n{captured.err}"
        message = lines[0]
        assert message.startswith("handgrad"), message
        for text in (captured.err, captured.out):
            assert "Traceback" not in text and "numpy" not in text.lower(), text
    else:
        assert not _raised_inside_numpy(err), (
            f"raised from inside NumPy (a learner would read NumPy internals): "
            f"{type(err).__name__}: {err}")
        message = str(err)
    missing = [s for s in subs if s not in message]
    assert not missing, f"message lacks {missing}:\n{type(err).__name__}: {message}"


def test_table_is_large_and_unique():
    ids = [p.id for p in CASES]
    assert len(ids) >= 60
    assert len(set(ids)) == len(ids)


@pytest.mark.parametrize("argv", [
    ["train", "charlm", "--lr", "-1"],
    ["train", "charlm", "--text", "missing.txt"],
    ["train", "mnist", "--data", "nowhere"],
    ["train", "mnist", "--lr", "-1"],
    ["train", "mnist", "--resume", "nowhere"],
    ["experiment", "linreg", "--lr", "-1"],
    ["experiment", "count-ones", "--iterations", "0"],
    ["experiment", "vanishing", "--seeds", "0"],
    ["experiment", "mle", "--lr", "-1"],
], ids=" ".join)
def test_rejected_command_leaves_nothing_behind(argv, tmp_path, monkeypatch, capsys):
    """A command refused for a bad option or a missing input writes no files or folders."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("HANDGRAD_DEBUG", raising=False)
    status = _exit_of(argv)
    capsys.readouterr()
    assert status not in (0, None)
    left = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*"))
    assert left == [], f"{' '.join(argv)} was refused but left {left}"
