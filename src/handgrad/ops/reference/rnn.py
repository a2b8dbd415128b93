"""The plain (Elman) RNN, the definition: one time step, and the sequence as a loop of it.

The course writes the recurrence on a state S_k with row vectors (N rows at once):

    S_k = f(A_k),    A_k = S_{k-1} W_rec + X_k W_x + b,        k = 1..T,  S_0 given

X_k (N, D), S_k (N, H), W_x (D, H), W_rec (H, H), b (H,), f = tanh (or relu). In the
code S_k is ``h`` (the hidden state) and X_k is ``x[t]``.

**How the weights are stored.** handgrad stores them as PyTorch does, one row per hidden
unit: ``w_ih`` = W_x^T of shape (H, D) and ``w_hh`` = W_rec^T of shape (H, H), plus two
biases ``b_ih``, ``b_hh`` (H,) that are simply added (b = b_ih + b_hh). So X_k W_x is
``x @ w_ih.T`` and S_{k-1} W_rec is ``h_prev @ w_hh.T``, and the gradients come back in
that layout too: dw_ih = dW_x^T, dw_hh = dW_rec^T.

One step, backward. Given dS_k = dxi/dS_k (N, H), the chain rule through S_k = f(A_k):

    dA_k     = dS_k * f'(A_k)          f'(A) = 1 - S_k^2 (tanh),  [A > 0] = [S_k > 0] (relu)
    dX_k     = dA_k W_x^T   = dA_k @ w_ih            (N, D)
    dS_{k-1} = dA_k W_rec^T = dA_k @ w_hh            (N, H)
    dW_x     = X_k^T dA_k                            (D, H)
    dW_rec   = S_{k-1}^T dA_k                        (H, H)
    db       = sum over the batch of dA_k            (H,)   (db_ih = db_hh = db)

The sequence, backward: backpropagation through time (BPTT). Unrolled, the recurrence is
a T-layer network whose layers share W_x, W_rec and b. The loss xi depends on S_k
directly (dout[k], the gradient of output k) and through S_{k+1}, so from the LAST step
to the first

    dS_T = dout[T] + dh_n,        dS_k = dout[k] + (dS_k sent back by step k+1)

and, since the same weights serve every step, their gradients are sums over the steps:

    dW_x = sum_k X_k^T dA_k,      dW_rec = sum_k S_{k-1}^T dA_k,      db = sum_k sum_n dA_k

which :func:`rnn_backward` accumulates step by step (``dW_x += ...``, ``dW_rec += ...``).

Why the gradient vanishes or explodes: carrying dS from step k back to step j < k
multiplies it by diag(f'(A_i)) W_rec^T once per step, k - j times. Its size shrinks or
grows geometrically with the distance (W_rec's norm below or above 1; tanh' <= 1 only
shrinks it further).

``reverse=True`` runs the recurrence from the last time position to the first (the
backward half of a bidirectional layer): out[t] is still the state at time position t,
and h_n the state after position 0.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from handgrad.ops.reference import _checks as check

__all__ = ["RNNStepCache", "RNNCache", "rnn_step_forward", "rnn_step_backward",
           "rnn_forward", "rnn_backward"]


class RNNStepCache(NamedTuple):
    """What :func:`rnn_step_forward` keeps for :func:`rnn_step_backward`."""

    x: np.ndarray          # (N, D)  X_k
    h_prev: np.ndarray     # (N, H)  S_{k-1} (zeros when None was given)
    h: np.ndarray          # (N, H)  S_k = f(A_k)
    w_ih: np.ndarray       # (H, D)  W_x^T
    w_hh: np.ndarray       # (H, H)  W_rec^T
    nonlinearity: str      # 'tanh' or 'relu'
    given: tuple[bool, bool, bool]  # whether h_prev, b_ih, b_hh were given (else: None back)


def rnn_step_forward(x: np.ndarray, h_prev: np.ndarray | None, w_ih: np.ndarray,
                     w_hh: np.ndarray, b_ih: np.ndarray | None = None,
                     b_hh: np.ndarray | None = None, nonlinearity: str = "tanh"
                     ) -> tuple[np.ndarray, RNNStepCache]:
    """``h, cache = rnn_step_forward(x, h_prev, w_ih, w_hh, b_ih, b_hh, nonlinearity)``.

    x (N, D); h_prev (N, H) or None (zeros); w_ih (H, D); w_hh (H, H); b_ih, b_hh (H,) or
    None. h (N, H) = f(x w_ih^T + b_ih + h_prev w_hh^T + b_hh).
    """
    fn = "rnn_cell"
    check.choice(nonlinearity, ("tanh", "relu"), fn, "nonlinearity")
    _, N, _, H = check.recurrent(fn, x, (("hx", h_prev),), w_ih, w_hh, b_ih, b_hh, 1, False)
    given = (h_prev is not None, b_ih is not None, b_hh is not None)
    if h_prev is None:
        h_prev = np.zeros((N, H), dtype=x.dtype)
    a = x @ w_ih.T + h_prev @ w_hh.T          # A = X_k W_x + S_{k-1} W_rec   (N, H)
    if b_ih is not None:
        a = a + b_ih                          #   + b
    if b_hh is not None:
        a = a + b_hh
    h = np.tanh(a) if nonlinearity == "tanh" else np.maximum(a, 0)   # S_k = f(A_k)
    return h, RNNStepCache(x, h_prev, h, w_ih, w_hh, nonlinearity, given)


def rnn_step_backward(dh: Any, cache: RNNStepCache) -> tuple[Any, ...]:
    """``dx, dh_prev, dw_ih, dw_hh, db_ih, db_hh = rnn_step_backward(dh, cache)``.

    dh (N, H) = dxi/dS_k. Returns the gradients of every input of the step, in their
    shapes (None for h_prev, b_ih, b_hh when they were None).
    """
    (dh,) = check.upstream(dh, 1)
    x, h_prev, h, w_ih, w_hh, nonlinearity, (has_h_prev, has_b_ih, has_b_hh) = cache
    if dh is None:
        dh = np.zeros_like(h)
    check.shape("rnn_step_backward", "dh", dh, h.shape, "(N, H)")
    # dA_k = dS_k * f'(A_k)
    if nonlinearity == "tanh":
        da = dh * (1 - h * h)                 # tanh'(A) = 1 - tanh(A)^2 = 1 - S_k^2
    else:
        da = dh * (h > 0)                     # relu'(A) = [A > 0] = [S_k > 0]
    dx = da @ w_ih                            # dX_k     = dA_k W_x^T
    dh_prev = da @ w_hh                       # dS_{k-1} = dA_k W_rec^T
    dW_x = x.T @ da                           # (D, H)
    dW_rec = h_prev.T @ da                    # (H, H)
    db = da.sum(axis=0)                       # (H,)
    # stored transposed, as PyTorch: dw_ih = dW_x^T, dw_hh = dW_rec^T
    return (dx, dh_prev if has_h_prev else None, dW_x.T, dW_rec.T,
            db if has_b_ih else None, db.copy() if has_b_hh else None)


class RNNCache(NamedTuple):
    """What :func:`rnn_forward` keeps for :func:`rnn_backward`."""

    steps: list[RNNStepCache]    # steps[t]: the cache of the step that read x[t]
    order: tuple[int, ...]       # the time positions in the order the forward pass ran
    shape: tuple[int, int, int, int]  # (T, N, D, H)
    given: tuple[bool, bool, bool]    # whether h0, b_ih, b_hh were given


def rnn_forward(x: np.ndarray, h0: np.ndarray | None, w_ih: np.ndarray, w_hh: np.ndarray,
                b_ih: np.ndarray | None = None, b_hh: np.ndarray | None = None,
                nonlinearity: str = "tanh", reverse: bool = False
                ) -> tuple[tuple[np.ndarray, np.ndarray], RNNCache]:
    """``(out, h_n), cache = rnn_forward(x, h0, w_ih, w_hh, b_ih, b_hh, nonlinearity,
    reverse)``: the step, looped from the first time position (the last with reverse).

    x (T, N, D); h0 (N, H) or None (zeros). out (T, N, H) = S_1..S_T; h_n (N, H).
    """
    fn = "rnn"
    check.choice(nonlinearity, ("tanh", "relu"), fn, "nonlinearity")
    T, N, D, H = check.recurrent(fn, x, (("h0", h0),), w_ih, w_hh, b_ih, b_hh, 1, True)
    given = (h0 is not None, b_ih is not None, b_hh is not None)
    # an absent state or bias is zeros (its gradient is then not returned)
    h = np.zeros((N, H), dtype=x.dtype) if h0 is None else h0
    b_ih = np.zeros(H, dtype=x.dtype) if b_ih is None else b_ih
    b_hh = np.zeros(H, dtype=x.dtype) if b_hh is None else b_hh
    order = tuple(range(T - 1, -1, -1) if reverse else range(T))
    out = np.zeros((T, N, H), dtype=x.dtype)
    steps: list[Any] = [None] * T
    for t in order:                           # S_k = f(S_{k-1} W_rec + X_k W_x + b)
        h, steps[t] = rnn_step_forward(x[t], h, w_ih, w_hh, b_ih, b_hh, nonlinearity)
        out[t] = h
    return (out, h), RNNCache(steps, order, (T, N, D, H), given)


def rnn_backward(dout: Any, cache: RNNCache) -> tuple[Any, ...]:
    """``dx, dh0, dw_ih, dw_hh, db_ih, db_hh = rnn_backward((dout, dh_n), cache)``: BPTT.

    dout (T, N, H), the gradient of every output; dh_n (N, H) that of the final state
    (omitted or None: 0). Returns the gradients in the inputs' shapes (None for h0,
    b_ih, b_hh when they were None).
    """
    dout, dh_n = check.upstream(dout, 2)
    steps, order, (T, N, D, H), (has_h0, has_b_ih, has_b_hh) = cache
    check.shape("rnn_backward", "dout", dout, (T, N, H), "(T, N, H)")
    dtype = dout.dtype
    dx = np.zeros((T, N, D), dtype=dtype)
    dW_x = np.zeros((D, H), dtype=dtype)      # the course's matrices, summed over steps
    dW_rec = np.zeros((H, H), dtype=dtype)
    db_ih = np.zeros(H, dtype=dtype)
    db_hh = np.zeros(H, dtype=dtype)
    if dh_n is None:
        dh_n = np.zeros((N, H), dtype=dtype)
    check.shape("rnn_backward", "dh_n", dh_n, (N, H), "(N, H)")
    dh = np.array(dh_n, dtype=dtype)          # dxi/dS_T through the returned h_n
    for t in reversed(order):                 # from the last step to the first
        dh = dh + dout[t]                     # dS_k = dout[k] + what step k+1 sent back
        dx[t], dh, dw_ih_t, dw_hh_t, db_ih_t, db_hh_t = rnn_step_backward(dh, steps[t])
        dW_x += dw_ih_t.T                     # dW_x   += X_k^T dA_k
        dW_rec += dw_hh_t.T                   # dW_rec += S_{k-1}^T dA_k
        db_ih += db_ih_t
        db_hh += db_hh_t
    # back to the stored layout: dw_ih = dW_x^T, dw_hh = dW_rec^T
    return (dx, dh if has_h0 else None, dW_x.T, dW_rec.T,
            db_ih if has_b_ih else None, db_hh if has_b_hh else None)
