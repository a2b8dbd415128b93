"""Recurrent layers over a whole sequence (the embedding lookup is ops/embedding.py).

Where things are: the definition, one time step at a time with the gate order and
sigmoids of the docstrings (PyTorch's i, f, g, o and r, z, n) and BPTT written as the loop
from the last step to the first (``dW_x += ...``, ``dW_rec += ...``), is
``handgrad.ops.reference.rnn`` / ``.lstm`` / ``.gru``: read those first. This file holds
the derivation and the autograd Functions, whose loops are the fast path (gates fused and
reordered, sigmoid through tanh); tests assert reference == fast (float64, 1e-12) and
both == PyTorch.

The course writes a recurrent network as one recurrence on a state S_k:

    S_k = f(S_{k-1} . W_rec + X_k . W_x),        k = 1..T,  S_0 given

with row vectors (a batch of N rows at once), X_k: (N, D), S_k: (N, H), W_x: (D, H),
W_rec: (H, H). handgrad stores the weights the way PyTorch does, one row per output unit:
``w_ih`` = W_x^T of shape (G*H, D) and ``w_hh`` = W_rec^T of shape (G*H, H), where G is
the number of gates (1 for the plain RNN, 4 for the LSTM, 3 for the GRU), plus two biases
``b_ih``, ``b_hh`` of shape (G*H,). So S_{k-1} . W_rec is ``h @ w_hh.T`` in the code.

Time is the first axis: x is (T, N, D), the output sequence (T, N, H).

Backpropagation through time (BPTT)
-----------------------------------
Unroll the recurrence: it is a feed-forward network T layers deep whose layers share
W_rec and W_x. Write A_k = S_{k-1} W_rec + X_k W_x for the pre-activation, so S_k = f(A_k).
The loss xi depends on S_k directly (through the output y_k at step k, the upstream
gradient ``dout[k]``) and through every later state, so the chain rule gives, from the
last step back to the first:

    dxi/dS_T   = dout[T] (+ dh_n, the gradient of the returned final state)
    dxi/dA_k   = dxi/dS_k * f'(A_k)                       (elementwise)
    dxi/dS_k-1 = dout[k-1] + dxi/dA_k . W_rec^T           (the state carried back)

and, because W_x and W_rec are used at every step, their gradients are sums over steps:

    dxi/dW_x   = sum_k X_k^T     . dxi/dA_k   = X^T . dA        (one GEMM over all steps)
    dxi/dW_rec = sum_k S_{k-1}^T . dxi/dA_k   = S_prev^T . dA   (one GEMM over all steps)
    dxi/db     = sum_k sum_n dxi/dA_k

The loop is needed only for dxi/dS_k, which depends on step k+1; once every dxi/dA_k is
in one (T, N, G*H) buffer, the weight gradients are single matrix products over the
stacked steps ("dA" is (T*N, G*H), X is (T*N, D), S_prev the stacked S_0..S_{T-1}).

Why the gradient vanishes or explodes: carrying dxi/dS from step k back to step j < k
multiplies by diag(f'(A_i)) W_rec^T once per step, k - j factors in all:

    dxi/dS_j = dxi/dS_k . prod_{i=k..j+1} diag(f'(A_i)) W_rec^T.

With a scalar state and the identity f (the "counting ones" exercise) this is
W_rec^(k-j): it shrinks geometrically when |W_rec| < 1 and blows up when |W_rec| > 1.
tanh makes it worse (|f'| <= 1). The LSTM's cell state is carried by c_k = f*c_{k-1} +
i*g, whose Jacobian dc_k/dc_{k-1} = diag(f) holds no W_rec: a forget gate near 1 lets the
gradient travel far; the GRU's h_k = (1-z)*n + z*h_{k-1} does the same with z.

The layer-by-layer doors (CS231n names) run the very same code without a graph::

    (out, h_n), cache = rnn_forward(x, h0, w_ih, w_hh, b_ih, b_hh)
    dx, dh0, dw_ih, dw_hh, db_ih, db_hh = rnn_backward((dout, dh_n), cache)
    h, cache = rnn_step_forward(x_t, h_prev, w_ih, w_hh, b_ih, b_hh)
    dx_t, dh_prev, dw_ih, dw_hh, db_ih, db_hh = rnn_step_backward(dh, cache)

The step doors are the sequence code run for T = 1 (one implementation).

Speed notes (T=50, N=32, input 64, hidden 128, float32; benchmarks/bench_recurrent.py):
the input projections of all steps are one GEMM before the loop, and dW_ih, dW_hh, dx one
GEMM each after the BPTT loop; the loops write into preallocated (T, ...) buffers with
``out=`` (BLAS threads and the allocator are process-wide settings of handgrad.runtime);
sigmoid is computed as (1 + tanh(a/2)) / 2 with the 1/2 folded into the gate rows of the
weights (an exact scaling by a power of two), so one tanh call covers all gates of a step;
the LSTM keeps its gates in the order o, i, f, g internally so that the sigmoid gates and
the gates driven by dc are single slices. The plain RNN and the GRU compute their
derivative factors for all steps before the backward loop; the LSTM per step, on slices
that stay in cache (measured faster). The per-step GEMMs are about two thirds of the time.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from handgrad.function import Context, Function

__all__ = [
    "RNNSequence", "LSTMSequence", "GRUSequence", "RNNStep", "LSTMStep", "GRUStep",
    "rnn_forward", "rnn_backward", "rnn_step_forward", "rnn_step_backward",
    "lstm_forward", "lstm_backward", "lstm_step_forward", "lstm_step_backward",
    "gru_forward", "gru_backward", "gru_step_forward", "gru_step_backward",
]

_NONLINEARITIES = ("tanh", "relu")

# -- argument checks -------------------------------------------------------------------


def _check(op: str, x: np.ndarray, states: tuple[tuple[str, Any], ...], w_ih: np.ndarray,
           w_hh: np.ndarray, b_ih: Any, b_hh: Any, gates: int, seq: bool) -> tuple[int, ...]:
    """Shapes and dtypes of a recurrent call; returns (T, N, D, H). Errors name the argument."""
    want = 3 if seq else 2
    layout = "(T, N, input_size)" if seq else "(N, input_size)"
    if not isinstance(x, np.ndarray) or x.ndim != want:
        raise ValueError(f"{op}: input must be {want}-D {layout}, got shape {np.shape(x)}")
    if x.dtype.kind != "f":
        raise TypeError(f"{op}: input must be floating point, got dtype {x.dtype} (shape "
                        f"{x.shape}); integer token ids go through an Embedding first")
    if w_hh.ndim != 2 or w_hh.shape[0] != gates * w_hh.shape[1]:
        raise ValueError(f"{op}: weight_hh must have shape ({gates}*hidden_size, hidden_size), "
                         f"got {w_hh.shape}")
    H = w_hh.shape[1]
    D = x.shape[-1]
    if w_ih.ndim != 2 or w_ih.shape[0] != gates * H:
        raise ValueError(f"{op}: weight_ih must have shape ({gates}*hidden_size, input_size) = "
                         f"({gates * H}, {D}), got {w_ih.shape}")
    if w_ih.shape[1] != D:
        raise ValueError(f"{op}: input has {D} features (shape {x.shape}) but weight_ih expects "
                         f"input_size = {w_ih.shape[1]} (weight_ih shape {w_ih.shape})")
    for name, w in (("weight_ih", w_ih), ("weight_hh", w_hh), ("bias_ih", b_ih),
                    ("bias_hh", b_hh)):
        if w is not None and w.dtype != x.dtype:
            raise TypeError(f"{op}: {name} has dtype {w.dtype} but the input has dtype "
                            f"{x.dtype}; they must match (convert the input, or the module "
                            f"with .float()/.double())")
    for name, b in (("bias_ih", b_ih), ("bias_hh", b_hh)):
        if b is not None and b.shape != (gates * H,):
            raise ValueError(f"{op}: {name} must have shape ({gates * H},), got {b.shape}")
    N = x.shape[-2]
    for name, s in states:
        if s is None:
            continue
        if s.shape != (N, H):
            raise ValueError(f"{op}: {name} must have shape (batch, hidden_size) = ({N}, {H}), "
                             f"got {s.shape}")
        if s.dtype != x.dtype:
            raise TypeError(f"{op}: {name} has dtype {s.dtype} but the input has dtype "
                            f"{x.dtype}; they must match")
    T = x.shape[0] if seq else 1
    return T, N, D, H


def _input_projection(x: np.ndarray, w_ih: np.ndarray, bias: np.ndarray | None) -> np.ndarray:
    """X_k . W_x + b for all k at once: one (T*N, D) @ (D, G*H) GEMM, shape (T, N, G*H)."""
    T, N, D = x.shape
    xw = np.matmul(x.reshape(T * N, D), w_ih.T)
    if bias is not None:
        xw += bias
    return xw.reshape(T, N, w_ih.shape[0])  # (not -1: N may be 0)


def _mark_inputs(ctx: Context, inputs: tuple[Any, ...]) -> None:
    """No gradient for inputs that are absent (h0=None, bias=None), also through the
    layer-by-layer door, whose context asks for every gradient."""
    ctx.needs_input_grad = tuple(bool(n) and a is not None
                                 for n, a in zip(ctx.needs_input_grad, inputs))


def _bias_sum(b_ih: Any, b_hh: Any) -> Any:
    if b_ih is None:
        return b_hh
    if b_hh is None:
        return b_ih
    return b_ih + b_hh


def _direction(T: int, reverse: bool) -> tuple[int, int, int, range]:
    """States live in one (T+1, N, H) buffer. Forward in time, step t reads state t and
    writes state t+1 (S_0 at index 0); reversed, it reads t+1 and writes t (S_0 at index
    T). Either way the outputs and the "previous states" are contiguous slices of it."""
    if reverse:
        return 1, 0, T, range(T - 1, -1, -1)
    return 0, 1, 0, range(T)


def _split(buf: np.ndarray, reverse: bool) -> tuple[np.ndarray, np.ndarray]:
    """(outputs in time order, the state each step started from), both (T, N, H) views."""
    return (buf[:-1], buf[1:]) if reverse else (buf[1:], buf[:-1])


def _weight_grads(ctx: Context, dA: np.ndarray, x: np.ndarray, hprev: np.ndarray | None,
                  w_ih: np.ndarray, first: int = 2) -> list[Any]:
    """dx, dw_ih, dw_hh, db from the gate gradients of all steps, one GEMM each.

    dA: (T, N, G*H) = dxi/dA_k stacked; x: (T, N, D); hprev: (T, N, H) = S_0..S_{T-1}.
    ``first`` is the position of w_ih among the Function's inputs (x, states..., w_ih)."""
    T, N, G = dA.shape
    need = ctx.needs_input_grad
    dA2 = dA.reshape(T * N, G)
    dx = np.matmul(dA2, w_ih).reshape(x.shape) if need[0] else None
    dw_ih = np.matmul(dA2.T, x.reshape(T * N, x.shape[-1])) if need[first] else None
    dw_hh = None
    if hprev is not None and need[first + 1]:
        dw_hh = np.matmul(dA2.T, hprev.reshape(T * N, hprev.shape[-1]))
    db = dA2.sum(axis=0) if (len(need) > first + 2 and any(need[first + 2:])) else None
    return [dx, dw_ih, dw_hh, db]


def _bias_grads(ctx: Context, first: int, db_ih: Any, db_hh: Any) -> tuple[Any, Any]:
    need = ctx.needs_input_grad
    gi = db_ih if len(need) > first + 2 and need[first + 2] else None
    gh = db_hh if len(need) > first + 3 and need[first + 3] else None
    if gi is not None and gh is not None and gi is gh:
        gh = gh.copy()
    return gi, gh


# -- the plain RNN ------------------------------------------------------------------------


def _rnn_forward(ctx: Context, x: np.ndarray, h0: Any, w_ih: np.ndarray, w_hh: np.ndarray,
                 b_ih: Any, b_hh: Any, nonlinearity: str, reverse: bool,
                 seq: bool = True) -> tuple[np.ndarray, np.ndarray]:
    if nonlinearity not in _NONLINEARITIES:
        raise ValueError(f"rnn: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
    _mark_inputs(ctx, (x, h0, w_ih, w_hh, b_ih, b_hh))
    T, N, D, H = _check("rnn" if seq else "rnn_cell", x, (("h0" if seq else "hx", h0),),
                        w_ih, w_hh, b_ih, b_hh, 1, seq)
    if not seq:
        x = x[None]
    xw = _input_projection(x, w_ih, _bias_sum(b_ih, b_hh))
    hs = np.empty((T + 1, N, H), x.dtype)
    prev, new, start, steps = _direction(T, reverse)
    hs[start] = 0 if h0 is None else h0
    whh_t = np.ascontiguousarray(w_hh.T)     # W_rec, laid out for the row-major GEMM
    tanh = nonlinearity == "tanh"
    zero = x.dtype.type(0)
    for t in steps:
        h = hs[t + new]
        np.matmul(hs[t + prev], whh_t, out=h)   # S_{k-1} . W_rec
        h += xw[t]                              # + X_k . W_x + b
        if tanh:
            np.tanh(h, out=h)
        else:
            np.maximum(h, zero, out=h)
    ctx.rnn = (x, hs, w_ih, w_hh, tanh, reverse, seq)
    out, _ = _split(hs, reverse)
    return out, hs[T - start]


def _rnn_backward(ctx: Context, dout: np.ndarray, dh_n: Any) -> tuple[Any, ...]:
    x, hs, w_ih, w_hh, tanh, reverse, seq = ctx.rnn
    T, N, H = hs.shape[0] - 1, hs.shape[1], hs.shape[2]
    out, hprev = _split(hs, reverse)
    # f'(A_k) for every step at once: 1 - S_k^2 for tanh, [S_k > 0] for relu. The loop
    # below turns it, in place, into dxi/dA_k = dxi/dS_k * f'(A_k).
    if tanh:
        dA = np.multiply(out, out)
        np.subtract(1, dA, out=dA)
    else:
        dA = (out > 0).astype(out.dtype)
    dh = np.zeros((N, H), out.dtype) if dh_n is None else np.array(dh_n, dtype=out.dtype)
    _, _, _, steps = _direction(T, reverse)
    for t in reversed(steps):
        dh += dout[t]                       # dxi/dS_k: direct + carried from step k+1
        np.multiply(dh, dA[t], out=dA[t])   # dxi/dA_k
        np.matmul(dA[t], w_hh, out=dh)      # dxi/dS_{k-1} (direct part added next turn)
    dx, dw_ih, dw_hh, db = _weight_grads(ctx, dA, x, hprev, w_ih)
    db_ih, db_hh = _bias_grads(ctx, 2, db, db)
    dh0 = dh if ctx.needs_input_grad[1] else None
    if not seq and dx is not None:
        dx = dx[0]
    return dx, dh0, dw_ih, dw_hh, db_ih, db_hh


class RNNSequence(Function):
    """The Elman RNN over a whole sequence, one layer and one direction.

    Inputs: x (T, N, D), h0 (N, H) or None (zeros), w_ih (H, D), w_hh (H, H), b_ih and b_hh
    (H,) or None. Settings: ``nonlinearity`` ('tanh' or 'relu'), ``reverse`` (run from the
    last step to the first: the backward half of a bidirectional layer).
    Outputs: out (T, N, H) = S_1..S_T, h_n (N, H) = S_T.

        S_k = f(A_k),   A_k = S_{k-1} W_rec + X_k W_x + b,   W_rec = w_hh^T,  W_x = w_ih^T

    Backward (see the module docstring for the derivation), with dS_k = dxi/dS_k:

        dS_T = dout_T + dh_n;   dA_k = dS_k * f'(A_k);   dS_{k-1} = dout_{k-1} + dA_k W_rec^T
        f'(A) = 1 - S^2 (tanh), [S > 0] (relu)
        dw_ih = dA^T X,  dw_hh = dA^T S_prev,  db_ih = db_hh = sum of dA,  dx = dA w_ih,
        dh0 = dS_0

    so every step multiplies the carried gradient by diag(f'(A_k)) W_rec^T once: over many
    steps its norm shrinks or grows geometrically (vanishing / exploding gradients).
    """

    @staticmethod
    def forward(ctx: Context, x: np.ndarray, h0: Any, w_ih: np.ndarray, w_hh: np.ndarray,
                b_ih: Any = None, b_hh: Any = None, nonlinearity: str = "tanh",
                reverse: bool = False) -> tuple[np.ndarray, np.ndarray]:
        return _rnn_forward(ctx, x, h0, w_ih, w_hh, b_ih, b_hh, nonlinearity, reverse)

    @staticmethod
    def backward(ctx: Context, dout: np.ndarray, dh_n: Any = None) -> tuple[Any, ...]:
        return _rnn_backward(ctx, dout, dh_n)


class RNNStep(Function):
    """One step of the RNN (``RNNCell``): h = f(x w_ih^T + b_ih + h_prev w_hh^T + b_hh).

    Inputs: x (N, D), h_prev (N, H) or None, w_ih, w_hh, b_ih, b_hh. Output h (N, H).
    Backward: dA = dh * f'(A);  dx = dA w_ih;  dh_prev = dA w_hh;  dw_ih = dA^T x;
    dw_hh = dA^T h_prev;  db_ih = db_hh = sum_n dA. It is :class:`RNNSequence` with T = 1.
    """

    @staticmethod
    def forward(ctx: Context, x: np.ndarray, h_prev: Any, w_ih: np.ndarray, w_hh: np.ndarray,
                b_ih: Any = None, b_hh: Any = None, nonlinearity: str = "tanh") -> np.ndarray:
        _, h = _rnn_forward(ctx, x, h_prev, w_ih, w_hh, b_ih, b_hh, nonlinearity, False,
                            seq=False)
        return h

    @staticmethod
    def backward(ctx: Context, dh: np.ndarray) -> tuple[Any, ...]:
        return _rnn_backward(ctx, dh[None], None)


# -- the LSTM ---------------------------------------------------------------------------


def _recurrent_weight(w_hh: np.ndarray, H: int, rows: tuple[int, ...]) -> np.ndarray:
    """W_rec = w_hh^T as a row-major (H, G*H) copy, with the columns of the sigmoid gates
    halved, so that tanh(A/2) comes out of the same GEMM as the tanh gates
    (sigma(a) = (1 + tanh(a/2)) / 2). Halving is exact in floating point: the products
    round exactly as they would unscaled.

    Always a fresh copy: ``np.ascontiguousarray(w_hh.T)`` returns a *view* when w_hh.T
    is already contiguous (hidden_size 1, or a Fortran-ordered w_hh), and the in-place
    halving below would then write into the caller's weights."""
    w = np.array(w_hh.T, order="C", copy=True)
    half = w.dtype.type(0.5)
    for g in rows:
        w[:, g * H:(g + 1) * H] *= half
    return w


# Inside the loop the LSTM keeps its gates in the order o, i, f, g (PyTorch's i, f, g, o
# blocks permuted): the three sigmoid gates are then one slice in the forward pass, and the
# three gates driven by dc (i, f, g) one slice in the backward pass. Weights are permuted
# on the way in, weight gradients back on the way out.
_LSTM_PERM = (3, 0, 1, 2)      # internal block k holds PyTorch's gate _LSTM_PERM[k]
_LSTM_UNPERM = (1, 2, 3, 0)    # PyTorch's gate j sits in internal block _LSTM_UNPERM[j]


def _blocks(a: np.ndarray, order: tuple[int, ...]) -> np.ndarray:
    """Reorder the G row blocks of a (G*H, ...) array (a copy)."""
    G = len(order)
    return a.reshape(G, a.shape[0] // G, *a.shape[1:])[list(order)].reshape(a.shape)


def _lstm_forward(ctx: Context, x: np.ndarray, h0: Any, c0: Any, w_ih: np.ndarray,
                  w_hh: np.ndarray, b_ih: Any, b_hh: Any, reverse: bool,
                  seq: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    names = (("h0", h0), ("c0", c0)) if seq else (("hx", h0), ("cx", c0))
    _mark_inputs(ctx, (x, h0, c0, w_ih, w_hh, b_ih, b_hh))
    T, N, D, H = _check("lstm" if seq else "lstm_cell", x, names, w_ih, w_hh, b_ih, b_hh, 4,
                        seq)
    if not seq:
        x = x[None]
    dt = x.dtype
    half = dt.type(0.5)
    H3 = 3 * H
    # internal order o, i, f, g; the sigmoid gates' rows halved (sigma(a) = (1 + tanh(a/2))/2)
    w_ih_p = _blocks(w_ih, _LSTM_PERM)
    w_hh_p = _blocks(w_hh, _LSTM_PERM)
    w_x = w_ih_p.copy()
    w_x[:H3] *= half
    bias = _bias_sum(b_ih, b_hh)
    if bias is not None:
        bias = _blocks(bias, _LSTM_PERM)
        bias[:H3] *= half
    xw = _input_projection(x, w_x, bias)            # all steps' x-side pre-activations
    whh_t = _recurrent_weight(w_hh_p, H, (0, 1, 2))

    acts = np.empty((T, N, 4 * H), dt)      # o, i, f, g after their nonlinearities
    hs = np.empty((T + 1, N, H), dt)
    cs = np.empty((T + 1, N, H), dt)
    tcs = np.empty((T, N, H), dt)           # tanh(c_k)
    tmp = np.empty((N, H), dt)
    prev, new, start, steps = _direction(T, reverse)
    hs[start] = 0 if h0 is None else h0
    cs[start] = 0 if c0 is None else c0
    H2 = 2 * H
    for t in steps:
        a = acts[t]
        np.matmul(hs[t + prev], whh_t, out=a)
        a += xw[t]
        np.tanh(a, out=a)
        sig = a[:, :H3]                  # o, i, f: sigma = (1 + tanh(a/2)) / 2
        sig *= half
        sig += half
        c = cs[t + new]
        np.multiply(a[:, H2:H3], cs[t + prev], out=c)       # f * c_{k-1}
        np.multiply(a[:, H:H2], a[:, H3:], out=tmp)         # + i * g
        c += tmp
        np.tanh(c, out=tcs[t])
        np.multiply(a[:, :H], tcs[t], out=hs[t + new])      # h_k = o * tanh(c_k)
    ctx.lstm = (x, hs, cs, acts, tcs, w_ih_p, w_hh_p, reverse, seq)
    out, _ = _split(hs, reverse)
    return out, hs[T - start], cs[T - start]


def _lstm_backward(ctx: Context, dout: np.ndarray, dh_n: Any, dc_n: Any) -> tuple[Any, ...]:
    x, hs, cs, acts, tcs, w_ih_p, w_hh_p, reverse, seq = ctx.lstm
    T, N, H = tcs.shape
    dt = tcs.dtype
    _, hprev = _split(hs, reverse)
    _, cprev = _split(cs, reverse)
    a4 = acts.reshape(T, N, 4, H)
    dA = np.empty((T, N, 4 * H), dt)         # internal order o, i, f, g
    dA4 = dA.reshape(T, N, 4, H)
    dh = np.zeros((N, H), dt) if dh_n is None else np.array(dh_n, dtype=dt)
    dc = np.zeros((N, H), dt) if dc_n is None else np.array(dc_n, dtype=dt)
    u, v, w = (np.empty((N, H), dt) for _ in range(3))
    s2 = np.empty((N, 2, H), dt)
    _, _, _, steps = _direction(T, reverse)
    # Per step, on (N, H) slices that stay in cache (measured faster than computing the
    # derivative factors for all steps at once in large arrays):
    #   dA_o = dh * tanh(c) * o(1-o);   dc += dh * o * (1 - tanh(c)^2)
    #   dA_i = dc * g * i(1-i);  dA_f = dc * c_prev * f(1-f);  dA_g = dc * i * (1-g^2)
    #   dxi/dc_{k-1} = dc * f;   dxi/dh_{k-1} = dA_k w_hh (+ the output's own gradient)
    for t in reversed(steps):
        a, d, tc = a4[t], dA4[t], tcs[t]
        o, i, g = a[:, 0], a[:, 1], a[:, 3]
        dh += dout[t]                               # dxi/dh_k
        np.multiply(dh, o, out=u)                   # u = dh o
        np.multiply(u, tc, out=v)                   # v = dh o tanh(c)
        dc += u
        np.multiply(v, tc, out=u)
        dc -= u                                     # dc += dh o (1 - tanh(c)^2)
        np.multiply(v, o, out=u)
        np.subtract(v, u, out=d[:, 0])              # dA_o = v (1 - o)
        sig = a[:, 1:3]
        np.multiply(sig, sig, out=s2)
        np.subtract(sig, s2, out=s2)                # i(1-i), f(1-f)
        np.multiply(g, g, out=w)
        np.subtract(1, w, out=w)
        w *= i
        np.multiply(dc, w, out=d[:, 3])             # dA_g = dc i (1 - g^2)
        s2[:, 0] *= g
        s2[:, 1] *= cprev[t]
        np.multiply(dc[:, None], s2, out=d[:, 1:3])  # dA_i, dA_f
        dc *= a[:, 2]                               # dxi/dc_{k-1} = dc f
        np.matmul(dA[t], w_hh_p, out=dh)            # dxi/dh_{k-1} (carried part)
    dx, dw_ih, dw_hh, db = _weight_grads(ctx, dA, x, hprev, w_ih_p, first=3)
    dw_ih = None if dw_ih is None else _blocks(dw_ih, _LSTM_UNPERM)
    dw_hh = None if dw_hh is None else _blocks(dw_hh, _LSTM_UNPERM)
    db = None if db is None else _blocks(db, _LSTM_UNPERM)
    need = ctx.needs_input_grad
    db_ih, db_hh = _bias_grads(ctx, 3, db, db)
    dh0 = dh if need[1] else None
    dc0 = dc if need[2] else None
    if not seq and dx is not None:
        dx = dx[0]
    return dx, dh0, dc0, dw_ih, dw_hh, db_ih, db_hh


class LSTMSequence(Function):
    """The LSTM over a whole sequence, one layer and one direction (PyTorch's equations).

    Inputs: x (T, N, D), h0 and c0 (N, H) or None (zeros), w_ih (4H, D), w_hh (4H, H),
    b_ih and b_hh (4H,) or None; gate order i, f, g, o. Setting ``reverse``.
    Outputs: out (T, N, H) = h_1..h_T, h_n (N, H), c_n (N, H).

        [A_i A_f A_g A_o] = x_k w_ih^T + b_ih + h_{k-1} w_hh^T + b_hh        (N, 4H)
        i = sigma(A_i),  f = sigma(A_f),  g = tanh(A_g),  o = sigma(A_o)
        c_k = f * c_{k-1} + i * g
        h_k = o * tanh(c_k)

    Backward, from the last step to the first, with dh = dxi/dh_k (the output's own
    gradient plus what step k+1 sent back) and dc = dxi/dc_k:

        dA_o = dh * tanh(c_k) * o (1 - o)
        dc   = dc_from_k+1 + dh * o * (1 - tanh(c_k)^2)
        dA_i = dc * g * i (1 - i);  dA_f = dc * c_{k-1} * f (1 - f);  dA_g = dc * i * (1 - g^2)
        dxi/dc_{k-1} = dc * f;      dxi/dh_{k-1} = dA_k w_hh  (+ the output's gradient)

    then dw_ih = dA^T X, dw_hh = dA^T H_prev, db = sum dA, dx = dA w_ih over all steps.
    The cell path multiplies by f, not by W_rec: the gradient can survive long lags.
    """

    @staticmethod
    def forward(ctx: Context, x: np.ndarray, h0: Any, c0: Any, w_ih: np.ndarray,
                w_hh: np.ndarray, b_ih: Any = None, b_hh: Any = None,
                reverse: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return _lstm_forward(ctx, x, h0, c0, w_ih, w_hh, b_ih, b_hh, reverse)

    @staticmethod
    def backward(ctx: Context, dout: np.ndarray, dh_n: Any = None,
                 dc_n: Any = None) -> tuple[Any, ...]:
        return _lstm_backward(ctx, dout, dh_n, dc_n)


class LSTMStep(Function):
    """One LSTM step (``LSTMCell``): inputs x (N, D), h_prev, c_prev (N, H) or None,
    w_ih, w_hh, b_ih, b_hh; outputs (h, c). Same equations as :class:`LSTMSequence`
    (it is that code with T = 1); backward takes (dh, dc) and returns
    (dx, dh_prev, dc_prev, dw_ih, dw_hh, db_ih, db_hh)."""

    @staticmethod
    def forward(ctx: Context, x: np.ndarray, h_prev: Any, c_prev: Any, w_ih: np.ndarray,
                w_hh: np.ndarray, b_ih: Any = None,
                b_hh: Any = None) -> tuple[np.ndarray, np.ndarray]:
        _, h, c = _lstm_forward(ctx, x, h_prev, c_prev, w_ih, w_hh, b_ih, b_hh, False,
                                seq=False)
        return h, c

    @staticmethod
    def backward(ctx: Context, dh: np.ndarray, dc: Any = None) -> tuple[Any, ...]:
        return _lstm_backward(ctx, dh[None], None, dc)


# -- the GRU ---------------------------------------------------------------------------


def _gru_forward(ctx: Context, x: np.ndarray, h0: Any, w_ih: np.ndarray, w_hh: np.ndarray,
                 b_ih: Any, b_hh: Any, reverse: bool,
                 seq: bool = True) -> tuple[np.ndarray, np.ndarray]:
    _mark_inputs(ctx, (x, h0, w_ih, w_hh, b_ih, b_hh))
    T, N, D, H = _check("gru" if seq else "gru_cell", x, (("h0" if seq else "hx", h0),),
                        w_ih, w_hh, b_ih, b_hh, 3, seq)
    if not seq:
        x = x[None]
    dt = x.dtype
    half = dt.type(0.5)
    H2 = 2 * H
    # x-side pre-activations of r, z, n; b_hr and b_hz join them (they are plain sums),
    # b_hn cannot: it sits inside r * (W_hn h + b_hn)
    # (r and z rows halved, see _recurrent_weight)
    w_x = w_ih.copy()
    w_x[:H2] *= half
    bias = None if b_ih is None else b_ih.copy()
    if b_hh is not None:
        if bias is None:
            bias = np.zeros(3 * H, dt)
        bias[:H2] += b_hh[:H2]
    if bias is not None:
        bias[:H2] *= half
    xw = _input_projection(x, w_x, bias)
    whh_t = _recurrent_weight(w_hh, H, (0, 1))
    b_hn = None if b_hh is None else b_hh[H2:]

    hw = np.empty((T, N, 3 * H), dt)    # r, z (activated) and hn = W_hn h + b_hn per step
    ns = np.empty((T, N, H), dt)        # n
    hs = np.empty((T + 1, N, H), dt)
    prev, new, start, steps = _direction(T, reverse)
    hs[start] = 0 if h0 is None else h0
    for t in steps:
        a = hw[t]
        hp = hs[t + prev]
        np.matmul(hp, whh_t, out=a)
        rz = a[:, :H2]
        rz += xw[t, :, :H2]
        np.tanh(rz, out=rz)
        rz *= half
        rz += half                                  # r, z = sigma(.)
        hn = a[:, H2:]
        if b_hn is not None:
            hn += b_hn
        n = ns[t]
        np.multiply(a[:, :H], hn, out=n)
        n += xw[t, :, H2:]
        np.tanh(n, out=n)                           # n = tanh(W_in x + b_in + r * hn)
        h = hs[t + new]
        np.subtract(hp, n, out=h)
        h *= a[:, H:H2]
        h += n                                      # h = (1 - z) n + z h_prev
    ctx.gru = (x, hs, hw, ns, w_ih, w_hh, reverse, seq)
    out, _ = _split(hs, reverse)
    return out, hs[T - start]


def _gru_backward(ctx: Context, dout: np.ndarray, dh_n: Any) -> tuple[Any, ...]:
    x, hs, hw, ns, w_ih, w_hh, reverse, seq = ctx.gru
    T, N, H = ns.shape
    dt = ns.dtype
    _, hprev = _split(hs, reverse)
    hw3 = hw.reshape(T, N, 3, H)
    r, z, hn = hw3[:, :, 0], hw3[:, :, 1], hw3[:, :, 2]
    # factors free of the carried gradient, all steps at once:
    #   dA_n = dh * (1 - z)(1 - n^2);  dA_r = dA_n * hn * r(1 - r)
    #   dA_z = dh * (h_prev - n) z(1 - z)
    #   d(W_hn h + b_hn) = dA_n * r;   dxi/dh_prev = dh * z + [dA_r dA_z dhn] w_hh
    A1 = ns * ns
    np.subtract(1, A1, out=A1)
    tmp = np.subtract(1, z)
    A1 *= tmp
    Br = np.multiply(r, r)
    np.subtract(r, Br, out=Br)
    Br *= hn
    Bz = np.multiply(z, z, out=tmp)
    np.subtract(z, Bz, out=Bz)
    Bz *= hprev - ns

    D = np.empty((T, N, 3 * H), dt)     # hh-side gate gradients [dA_r, dA_z, dhn]
    D3 = D.reshape(T, N, 3, H)
    DN = np.empty((T, N, H), dt)        # dA_n (the x side of n)
    dh = np.zeros((N, H), dt) if dh_n is None else np.array(dh_n, dtype=dt)
    carry = np.empty((N, H), dt)
    _, _, _, steps = _direction(T, reverse)
    for t in reversed(steps):
        dh += dout[t]
        np.multiply(dh, A1[t], out=DN[t])
        np.multiply(DN[t], Br[t], out=D3[t, :, 0])
        np.multiply(dh, Bz[t], out=D3[t, :, 1])
        np.multiply(DN[t], r[t], out=D3[t, :, 2])
        np.multiply(dh, z[t], out=carry)
        np.matmul(D[t], w_hh, out=dh)
        dh += carry
    need = ctx.needs_input_grad
    T_N = T * N
    D2 = D.reshape(T_N, 3 * H)
    dw_hh = np.matmul(D2.T, hprev.reshape(T_N, H)) if need[3] else None
    db_hh = D2.sum(axis=0) if len(need) > 5 and need[5] else None
    D3[:, :, 2] = DN                    # now the x-side gate gradients [dA_r, dA_z, dA_n]
    dx, dw_ih, _, db_ih = _weight_grads(ctx, D, x, None, w_ih)
    if not (len(need) > 4 and need[4]):
        db_ih = None
    dh0 = dh if need[1] else None
    if not seq and dx is not None:
        dx = dx[0]
    return dx, dh0, dw_ih, dw_hh, db_ih, db_hh


class GRUSequence(Function):
    """The GRU over a whole sequence, one layer and one direction (PyTorch's equations).

    Inputs: x (T, N, D), h0 (N, H) or None, w_ih (3H, D), w_hh (3H, H), b_ih, b_hh (3H,)
    or None; gate order r, z, n. Setting ``reverse``. Outputs out (T, N, H), h_n (N, H).

        r = sigma(x W_ir^T + b_ir + h_{k-1} W_hr^T + b_hr)
        z = sigma(x W_iz^T + b_iz + h_{k-1} W_hz^T + b_hz)
        n = tanh(x W_in^T + b_in + r * (h_{k-1} W_hn^T + b_hn))
        h_k = (1 - z) * n + z * h_{k-1}

    Backward per step, dh = dxi/dh_k, hn = h_{k-1} W_hn^T + b_hn:

        dA_n = dh * (1 - z) * (1 - n^2)          (pre-tanh of n; x side of n)
        dhn  = dA_n * r                          (hh side of n)
        dA_r = dA_n * hn * r (1 - r)
        dA_z = dh * (h_{k-1} - n) * z (1 - z)
        dxi/dh_{k-1} = dh * z + [dA_r dA_z dhn] w_hh

    dw_ih = [dA_r dA_z dA_n]^T X, dw_hh = [dA_r dA_z dhn]^T H_prev, biases their sums.
    """

    @staticmethod
    def forward(ctx: Context, x: np.ndarray, h0: Any, w_ih: np.ndarray, w_hh: np.ndarray,
                b_ih: Any = None, b_hh: Any = None,
                reverse: bool = False) -> tuple[np.ndarray, np.ndarray]:
        return _gru_forward(ctx, x, h0, w_ih, w_hh, b_ih, b_hh, reverse)

    @staticmethod
    def backward(ctx: Context, dout: np.ndarray, dh_n: Any = None) -> tuple[Any, ...]:
        return _gru_backward(ctx, dout, dh_n)


class GRUStep(Function):
    """One GRU step (``GRUCell``): x (N, D), h_prev (N, H) or None, w_ih, w_hh, b_ih,
    b_hh -> h (N, H). :class:`GRUSequence` with T = 1."""

    @staticmethod
    def forward(ctx: Context, x: np.ndarray, h_prev: Any, w_ih: np.ndarray, w_hh: np.ndarray,
                b_ih: Any = None, b_hh: Any = None) -> np.ndarray:
        _, h = _gru_forward(ctx, x, h_prev, w_ih, w_hh, b_ih, b_hh, False, seq=False)
        return h

    @staticmethod
    def backward(ctx: Context, dh: np.ndarray) -> tuple[Any, ...]:
        return _gru_backward(ctx, dh[None], None)


# -- the layer-by-layer doors (CS231n names), the same code as the Functions -------------
rnn_forward, rnn_backward = RNNSequence.layer_forward, RNNSequence.layer_backward
rnn_step_forward, rnn_step_backward = RNNStep.layer_forward, RNNStep.layer_backward
lstm_forward, lstm_backward = LSTMSequence.layer_forward, LSTMSequence.layer_backward
lstm_step_forward, lstm_step_backward = LSTMStep.layer_forward, LSTMStep.layer_backward
gru_forward, gru_backward = GRUSequence.layer_forward, GRUSequence.layer_backward
gru_step_forward, gru_step_backward = GRUStep.layer_forward, GRUStep.layer_backward
