"""Recurrent layers: RNN, LSTM, GRU and their one-step cells, shaped like torch.nn.

Parameters carry PyTorch's names, shapes and order, so a ``torch.nn.LSTM``'s
``state_dict()`` (as arrays) loads into :class:`LSTM` and back::

    weight_ih_l{k}[_reverse]   (G*hidden_size, input_size)       layer 0
                               (G*hidden_size, D*hidden_size)    layers k >= 1, D = 2 if
                                                                 bidirectional, else 1
    weight_hh_l{k}[_reverse]   (G*hidden_size, hidden_size)
    bias_ih_l{k}[_reverse]     (G*hidden_size,)
    bias_hh_l{k}[_reverse]     (G*hidden_size,)

with G = 1 (RNN), 4 (LSTM, gates i, f, g, o) or 3 (GRU, gates r, z, n). Every parameter
starts as U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)), PyTorch's default.

Each layer and direction is one fused Function over the whole sequence
(``handgrad.ops.recurrent``): the forward loop and the backpropagation-through-time loop
run inside it, so the graph has one node per layer and direction, not one per time step.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from handgrad.nn import functional as F
from handgrad.nn import init
from handgrad.nn.layers import check_positive_int
from handgrad.nn.module import Module, Parameter
from handgrad.ops import recurrent as R
from handgrad.ops.shape import Concat, GetItem, Reshape, Stack, Transpose
from handgrad.tensor import Tensor, get_default_dtype

__all__ = ["RNNBase", "RNN", "LSTM", "GRU", "RNNCellBase", "RNNCell", "LSTMCell", "GRUCell"]

_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


def _as_tensor(x: Any, name: str, layer: str) -> Tensor:
    if isinstance(x, Tensor):
        t = x
    else:
        t = Tensor(x)
    if t.data.dtype.kind != "f":
        raise TypeError(f"{layer}: {name} must be a floating-point tensor, got dtype {t.dtype} "
                        f"(shape {t.shape}). Token ids (integers) go through nn.Embedding "
                        f"first; numbers through .float()")
    return t


class RNNBase(Module):
    """What RNN, LSTM and GRU share: parameters, argument checks, layers and directions."""

    mode = "RNN_TANH"

    def __init__(self, mode: str, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, dtype: Any = None) -> None:
        super().__init__()
        name = type(self).__name__
        self.mode = mode
        self.input_size = check_positive_int(input_size, "input_size", name)
        self.hidden_size = check_positive_int(hidden_size, "hidden_size", name)
        self.num_layers = check_positive_int(num_layers, "num_layers", name)
        if isinstance(dropout, bool) or not isinstance(dropout, int | float) or \
                not 0.0 <= dropout <= 1.0:
            raise ValueError(f"{name}: dropout must be a probability in [0, 1], got {dropout!r}")
        self.bias = bool(bias)
        self.batch_first = bool(batch_first)
        self.dropout = float(dropout)
        self.bidirectional = bool(bidirectional)
        dirs = 2 if bidirectional else 1
        G = _GATES[mode]
        dt = np.dtype(dtype or get_default_dtype())
        self._names: list[list[tuple[str, str, str | None, str | None]]] = []
        for layer in range(num_layers):
            width = input_size if layer == 0 else hidden_size * dirs
            per_dir = []
            for d in range(dirs):
                sfx = f"_l{layer}" + ("_reverse" if d == 1 else "")
                setattr(self, "weight_ih" + sfx, Parameter(np.empty((G * hidden_size, width), dt)))
                setattr(self, "weight_hh" + sfx,
                        Parameter(np.empty((G * hidden_size, hidden_size), dt)))
                if bias:
                    setattr(self, "bias_ih" + sfx, Parameter(np.empty((G * hidden_size,), dt)))
                    setattr(self, "bias_hh" + sfx, Parameter(np.empty((G * hidden_size,), dt)))
                per_dir.append(("weight_ih" + sfx, "weight_hh" + sfx,
                                "bias_ih" + sfx if bias else None,
                                "bias_hh" + sfx if bias else None))
            self._names.append(per_dir)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Every weight and bias ~ U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)) (PyTorch)."""
        k = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            init.uniform_(p, -k, k)

    @property
    def num_directions(self) -> int:
        return 2 if self.bidirectional else 1

    def _weights(self, layer: int, d: int) -> tuple[Any, ...]:
        return tuple(None if n is None else getattr(self, n) for n in self._names[layer][d])

    def _check_state(self, h: Any, name: str, batched: bool, N: int, dt: np.dtype) -> Tensor:
        layer = type(self).__name__
        h = _as_tensor(h, name, layer)
        L = self.num_layers * self.num_directions
        want = (L, N, self.hidden_size) if batched else (L, self.hidden_size)
        if h.shape != want:
            layout = ("(num_layers * num_directions, batch, hidden_size)" if batched else
                      "(num_layers * num_directions, hidden_size) for unbatched input")
            raise ValueError(f"{layer}: {name} must have shape {layout} = {want}, got "
                             f"{h.shape}")
        if h.dtype != dt:
            raise TypeError(f"{layer}: {name} has dtype {h.dtype} but the input has dtype {dt}")
        return h

    def _prepare(self, input: Any) -> tuple[Tensor, bool]:  # noqa: A002
        layer = type(self).__name__
        x = _as_tensor(input, "input", layer)
        if x.ndim not in (2, 3):
            layout = ("(batch, seq_len, input_size)" if self.batch_first else
                      "(seq_len, batch, input_size)")
            raise ValueError(f"{layer}: input must be 3-D {layout} or 2-D (seq_len, input_size) "
                             f"unbatched, got shape {x.shape}")
        if x.shape[-1] != self.input_size:
            raise ValueError(f"{layer}: input.size(-1) must equal input_size = {self.input_size}, "
                             f"got input of shape {x.shape}")
        w = self.weight_ih_l0.data
        if x.dtype != w.dtype:
            raise TypeError(f"{layer}: input has dtype {x.dtype} but the parameters are "
                            f"{w.dtype}; convert one of them (.float() / .double())")
        batched = x.ndim == 3
        if not batched:
            x = Reshape.apply(x, shape=(x.shape[0], 1, x.shape[1]))
        elif self.batch_first:
            x = Transpose.apply(x, dim0=0, dim1=1)
        if x.shape[0] == 0:
            raise ValueError(f"{layer}: the sequence must have at least one step, got input of "
                             f"shape {input.shape if hasattr(input, 'shape') else ''}")
        return x, batched

    def _finish(self, out: Tensor, batched: bool) -> Tensor:
        if not batched:
            return Reshape.apply(out, shape=(out.shape[0], out.shape[2]))
        if self.batch_first:
            return Transpose.apply(out, dim0=0, dim1=1)
        return out

    def _run(self, x: Tensor, states: list[Any]) -> tuple[Tensor, list[list[Tensor]]]:
        """All layers and directions. ``states`` holds, per state kind (h, or h and c),
        the (L*dirs, N, H) initial tensor or None. Returns the last layer's output and,
        per state kind, the list of final states in PyTorch's order (layer-major)."""
        dirs = self.num_directions
        finals: list[list[Tensor]] = [[] for _ in states]
        for layer in range(self.num_layers):
            if layer > 0 and self.dropout > 0 and self.training:
                x = F.dropout(x, self.dropout, True)
            outs = []
            for d in range(dirs):
                k = layer * dirs + d
                init_states = [None if s is None else GetItem.apply(s, index=k) for s in states]
                res = self._cell_seq(x, init_states, self._weights(layer, d), d == 1)
                outs.append(res[0])
                for j, s in enumerate(res[1:]):
                    finals[j].append(s)
            x = outs[0] if dirs == 1 else Concat.apply(*outs, dim=2)
        return x, finals

    def _cell_seq(self, x: Tensor, init_states: list[Any], weights: tuple[Any, ...],
                  reverse: bool) -> tuple[Tensor, ...]:
        raise NotImplementedError

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.mode == "RNN_RELU":
            s += ", nonlinearity='relu'"
        if not self.bias:
            s += ", bias=False"
        if self.batch_first:
            s += ", batch_first=True"
        if self.dropout:
            s += f", dropout={self.dropout}"
        if self.bidirectional:
            s += ", bidirectional=True"
        return s


class RNN(RNNBase):
    """Elman RNN, PyTorch's ``torch.nn.RNN``: h_t = f(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh),
    f = tanh or relu. Call ``out, h_n = rnn(x, h0=None)``.

    x: (T, N, input_size) ((N, T, input_size) with batch_first) or (T, input_size);
    h0, h_n: (num_layers * num_directions, N, hidden_size); out: (T, N, D * hidden_size)
    with D = 2 if bidirectional (forward and reverse outputs concatenated).
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 nonlinearity: str = "tanh", bias: bool = True, batch_first: bool = False,
                 dropout: float = 0.0, bidirectional: bool = False, dtype: Any = None) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNN: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        super().__init__("RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU", input_size,
                         hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         dtype)
        self.nonlinearity = nonlinearity

    def _cell_seq(self, x: Tensor, init_states: list[Any], weights: tuple[Any, ...],
                  reverse: bool) -> tuple[Tensor, ...]:
        return R.RNNSequence.apply(x, init_states[0], *weights, nonlinearity=self.nonlinearity,
                                   reverse=reverse)

    def forward(self, input: Any, hx: Any = None) -> tuple[Tensor, Tensor]:  # noqa: A002
        x, batched = self._prepare(input)
        h0 = None
        if hx is not None:
            h0 = self._check_state(hx, "hx", batched, x.shape[1], x.dtype)
            if not batched:
                h0 = Reshape.apply(h0, shape=(h0.shape[0], 1, h0.shape[1]))
        out, (hs,) = self._run(x, [h0])
        h_n = Stack.apply(*hs, dim=0)
        if not batched:
            h_n = Reshape.apply(h_n, shape=(h_n.shape[0], h_n.shape[2]))
        return self._finish(out, batched), h_n


class GRU(RNNBase):
    """Gated recurrent unit, PyTorch's ``torch.nn.GRU`` (gates r, z, n)::

        r = sigma(W_ir x + b_ir + W_hr h + b_hr),  z = sigma(W_iz x + b_iz + W_hz h + b_hz)
        n = tanh(W_in x + b_in + r * (W_hn h + b_hn)),  h' = (1 - z) * n + z * h

    Call ``out, h_n = gru(x, h0=None)``; shapes as :class:`RNN`.
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, dtype: Any = None) -> None:
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first,
                         dropout, bidirectional, dtype)

    def _cell_seq(self, x: Tensor, init_states: list[Any], weights: tuple[Any, ...],
                  reverse: bool) -> tuple[Tensor, ...]:
        return R.GRUSequence.apply(x, init_states[0], *weights, reverse=reverse)

    forward = RNN.forward


class LSTM(RNNBase):
    """Long short-term memory, PyTorch's ``torch.nn.LSTM`` (gates i, f, g, o)::

        i, f, o = sigma(.), g = tanh(.)  of  x W_ih^T + b_ih + h W_hh^T + b_hh
        c' = f * c + i * g,   h' = o * tanh(c')

    Call ``out, (h_n, c_n) = lstm(x, (h0, c0))`` (the states are optional; zeros).
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, dtype: Any = None) -> None:
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first,
                         dropout, bidirectional, dtype)

    def _cell_seq(self, x: Tensor, init_states: list[Any], weights: tuple[Any, ...],
                  reverse: bool) -> tuple[Tensor, ...]:
        return R.LSTMSequence.apply(x, init_states[0], init_states[1], *weights,
                                    reverse=reverse)

    def forward(self, input: Any, hx: Any = None) -> tuple[Tensor, tuple[Tensor, Tensor]]:  # noqa: A002
        x, batched = self._prepare(input)
        h0 = c0 = None
        if hx is not None:
            if not isinstance(hx, tuple | list) or len(hx) != 2:
                raise TypeError(f"LSTM: hx must be a tuple (h0, c0), got "
                                f"{type(hx).__name__}")
            h0 = self._check_state(hx[0], "h0 (hx[0])", batched, x.shape[1], x.dtype)
            c0 = self._check_state(hx[1], "c0 (hx[1])", batched, x.shape[1], x.dtype)
            if not batched:
                h0 = Reshape.apply(h0, shape=(h0.shape[0], 1, h0.shape[1]))
                c0 = Reshape.apply(c0, shape=(c0.shape[0], 1, c0.shape[1]))
        out, (hs, cs) = self._run(x, [h0, c0])
        h_n = Stack.apply(*hs, dim=0)
        c_n = Stack.apply(*cs, dim=0)
        if not batched:
            h_n = Reshape.apply(h_n, shape=(h_n.shape[0], h_n.shape[2]))
            c_n = Reshape.apply(c_n, shape=(c_n.shape[0], c_n.shape[2]))
        return self._finish(out, batched), (h_n, c_n)


# -- cells: one time step, for loops the user writes ---------------------------------


class RNNCellBase(Module):
    """weight_ih (G*hidden, input), weight_hh (G*hidden, hidden), bias_ih, bias_hh (G*hidden,),
    all ~ U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)), as PyTorch's cells."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool, num_chunks: int,
                 dtype: Any = None) -> None:
        super().__init__()
        name = type(self).__name__
        self.input_size = check_positive_int(input_size, "input_size", name)
        self.hidden_size = check_positive_int(hidden_size, "hidden_size", name)
        self.bias = bool(bias)
        dt = np.dtype(dtype or get_default_dtype())
        G = num_chunks
        self.weight_ih = Parameter(np.empty((G * hidden_size, input_size), dt))
        self.weight_hh = Parameter(np.empty((G * hidden_size, hidden_size), dt))
        if bias:
            self.bias_ih = Parameter(np.empty((G * hidden_size,), dt))
            self.bias_hh = Parameter(np.empty((G * hidden_size,), dt))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        k = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            init.uniform_(p, -k, k)

    def _weights(self) -> tuple[Any, ...]:
        return self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh

    def _prepare(self, input: Any) -> tuple[Tensor, bool]:  # noqa: A002
        name = type(self).__name__
        x = _as_tensor(input, "input", name)
        if x.ndim not in (1, 2):
            raise ValueError(f"{name}: input must be 2-D (batch, input_size) or 1-D "
                             f"(input_size,), got shape {x.shape}")
        if x.shape[-1] != self.input_size:
            raise ValueError(f"{name}: input.size(-1) must equal input_size = "
                             f"{self.input_size}, got input of shape {x.shape}")
        if x.dtype != self.weight_ih.dtype:
            raise TypeError(f"{name}: input has dtype {x.dtype} but the parameters are "
                            f"{self.weight_ih.dtype}")
        if x.ndim == 1:
            return Reshape.apply(x, shape=(1, x.shape[0])), False
        return x, True

    def _state(self, h: Any, name: str, x: Tensor, batched: bool) -> Any:
        if h is None:
            return None
        cell = type(self).__name__
        h = _as_tensor(h, name, cell)
        want = (x.shape[0], self.hidden_size) if batched else (self.hidden_size,)
        if h.shape != want:
            raise ValueError(f"{cell}: {name} must have shape "
                             f"{'(batch, hidden_size)' if batched else '(hidden_size,)'} = "
                             f"{want}, got {h.shape}")
        if h.dtype != x.dtype:
            raise TypeError(f"{cell}: {name} has dtype {h.dtype} but the input has dtype "
                            f"{x.dtype}")
        return h if batched else Reshape.apply(h, shape=(1, self.hidden_size))

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}" + ("" if self.bias else ", bias=False")


def _unbatch(t: Tensor, batched: bool) -> Tensor:
    return t if batched else Reshape.apply(t, shape=(t.shape[1],))


class RNNCell(RNNCellBase):
    """h' = f(x W_ih^T + b_ih + h W_hh^T + b_hh). Call ``h = cell(x, h=None)``."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 nonlinearity: str = "tanh", dtype: Any = None) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNNCell: nonlinearity must be 'tanh' or 'relu', got "
                             f"{nonlinearity!r}")
        super().__init__(input_size, hidden_size, bias, 1, dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input: Any, hx: Any = None) -> Tensor:  # noqa: A002
        x, batched = self._prepare(input)
        h = self._state(hx, "hx", x, batched)
        out = R.RNNStep.apply(x, h, *self._weights(), nonlinearity=self.nonlinearity)
        return _unbatch(out, batched)


class LSTMCell(RNNCellBase):
    """One LSTM step. Call ``h, c = cell(x, (h, c))`` (the state is optional: zeros)."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 dtype: Any = None) -> None:
        super().__init__(input_size, hidden_size, bias, 4, dtype)

    def forward(self, input: Any, hx: Any = None) -> tuple[Tensor, Tensor]:  # noqa: A002
        x, batched = self._prepare(input)
        h = c = None
        if hx is not None:
            if not isinstance(hx, tuple | list) or len(hx) != 2:
                raise TypeError(f"LSTMCell: hx must be a tuple (h, c), got {type(hx).__name__}")
            h = self._state(hx[0], "h (hx[0])", x, batched)
            c = self._state(hx[1], "c (hx[1])", x, batched)
        h1, c1 = R.LSTMStep.apply(x, h, c, *self._weights())
        return _unbatch(h1, batched), _unbatch(c1, batched)


class GRUCell(RNNCellBase):
    """One GRU step (gates r, z, n). Call ``h = cell(x, h=None)``."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 dtype: Any = None) -> None:
        super().__init__(input_size, hidden_size, bias, 3, dtype)

    def forward(self, input: Any, hx: Any = None) -> Tensor:  # noqa: A002
        x, batched = self._prepare(input)
        h = self._state(hx, "hx", x, batched)
        return _unbatch(R.GRUStep.apply(x, h, *self._weights()), batched)
