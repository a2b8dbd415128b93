"""The GRU, the definition: one time step as a course writes it, and the sequence as a
loop of it.

One step (PyTorch's equations and gate order r, z, n; row vectors, N rows at once):

    [X_r | X_z | X_n] = x W_x + b_ih              (N, 3H): the input's side of each gate
    [R_r | R_z | R_n] = h_prev W_rec + b_hh       (N, 3H): the hidden state's side
    r = sigmoid(X_r + R_r)           reset gate:  how much of h_prev the candidate sees
    z = sigmoid(X_z + R_z)           update gate: how much of h_prev to keep
    n = tanh(X_n + r * R_n)          the candidate, n = tanh(W_in x + b_in + r * (W_hn h + b_hn))
    h = (1 - z) * n + z * h_prev

x (N, D), h_prev (N, H), W_x (D, 3H), W_rec (H, 3H). As for the RNN (``reference/rnn.py``),
handgrad stores the weights as PyTorch does: ``w_ih`` = W_x^T (3H, D) and ``w_hh`` =
W_rec^T (3H, H), the gates' rows stacked in the order r, z, n; b_ih, b_hh are (3H,).
The two sides of n cannot be added before r multiplies the hidden side, so, unlike the
LSTM's, the GRU's two biases are not interchangeable, and the two sides get different
gradients.

One step, backward. Given dh = dxi/dh:

    h = (1-z) n + z h_prev:   dn = dh * (1 - z),  dz = dh * (h_prev - n),  dh_prev = dh * z
    n = tanh(X_n + r R_n):    dX_n = dn * (1 - n^2)     (pre-tanh; the input's side of n)
                              dR_n = dX_n * r           (the hidden side, through r)
                              dr   = dX_n * R_n
    the gates:                dA_r = dr * r (1 - r),  dA_z = dz * z (1 - z)
                              (both sides of r and z get the same dA: they are added)
    with dX = [dA_r | dA_z | dX_n] and dR = [dA_r | dA_z | dR_n]:
        dx = dX W_x^T = dX @ w_ih,        dh_prev += dR W_rec^T = dR @ w_hh
        dW_x = x^T dX,   dW_rec = h_prev^T dR,   db_ih = sum of dX,   db_hh = sum of dR

The sequence (BPTT) loops the step backward from the LAST step to the first, carrying
dh and summing the weight gradients (``dW_x += ...``, ``dW_rec += ...``), as for the RNN.
h = (1-z) n + z h_prev carries the gradient back by dh * z, the update gate, besides
through W_rec: with z near 1 the gradient travels far, like the LSTM's cell.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from handgrad.ops.reference import _checks as check
from handgrad.ops.reference.lstm import sigmoid

__all__ = ["GRUStepCache", "GRUCache", "gru_step_forward", "gru_step_backward",
           "gru_forward", "gru_backward"]


class GRUStepCache(NamedTuple):
    """What :func:`gru_step_forward` keeps for :func:`gru_step_backward`."""

    x: np.ndarray          # (N, D)
    h_prev: np.ndarray     # (N, H) (zeros when None was given)
    r: np.ndarray          # (N, H) reset gate
    z: np.ndarray          # (N, H) update gate
    n: np.ndarray          # (N, H) candidate
    r_n: np.ndarray        # (N, H) R_n = h_prev W_hn^T + b_hn, the hidden side of n
    w_ih: np.ndarray       # (3H, D) W_x^T
    w_hh: np.ndarray       # (3H, H) W_rec^T
    given: tuple[bool, bool, bool]  # whether h_prev, b_ih, b_hh were given


def gru_step_forward(x: np.ndarray, h_prev: np.ndarray | None, w_ih: np.ndarray,
                     w_hh: np.ndarray, b_ih: np.ndarray | None = None,
                     b_hh: np.ndarray | None = None) -> tuple[np.ndarray, GRUStepCache]:
    """``h, cache = gru_step_forward(x, h_prev, w_ih, w_hh, b_ih, b_hh)``.

    x (N, D); h_prev (N, H) or None (zeros); w_ih (3H, D); w_hh (3H, H); b_ih, b_hh (3H,)
    or None. h (N, H).
    """
    fn = "gru_cell"
    _, N, _, H = check.recurrent(fn, x, (("hx", h_prev),), w_ih, w_hh, b_ih, b_hh, 3, False)
    given = (h_prev is not None, b_ih is not None, b_hh is not None)
    if h_prev is None:
        h_prev = np.zeros((N, H), dtype=x.dtype)
    xs = x @ w_ih.T                          # the input's side, x W_x + b_ih      (N, 3H)
    if b_ih is not None:
        xs = xs + b_ih
    hs = h_prev @ w_hh.T                     # the hidden side, h_prev W_rec + b_hh (N, 3H)
    if b_hh is not None:
        hs = hs + b_hh
    x_r, x_z, x_n = xs[:, :H], xs[:, H:2 * H], xs[:, 2 * H:]
    r_r, r_z, r_n = hs[:, :H], hs[:, H:2 * H], hs[:, 2 * H:]
    r = sigmoid(x_r + r_r)                   # reset gate
    z = sigmoid(x_z + r_z)                   # update gate
    n = np.tanh(x_n + r * r_n)               # candidate: r scales the hidden side only
    h = (1 - z) * n + z * h_prev             # keep z of the old state, take 1-z of the new
    return h, GRUStepCache(x, h_prev, r, z, n, r_n, w_ih, w_hh, given)


def gru_step_backward(dh: Any, cache: GRUStepCache) -> tuple[Any, ...]:
    """``dx, dh_prev, dw_ih, dw_hh, db_ih, db_hh = gru_step_backward(dh, cache)``.

    dh (N, H). Returns the gradients of every input of the step (None for h_prev, b_ih,
    b_hh when they were None).
    """
    (dh,) = check.upstream(dh, 1)
    x, h_prev, r, z, n, r_n, w_ih, w_hh, (has_h_prev, has_b_ih, has_b_hh) = cache
    dh = np.zeros_like(h_prev) if dh is None else dh
    check.shape("gru_step_backward", "dh", dh, h_prev.shape, "(N, H)")
    # h = (1 - z) * n + z * h_prev
    dn = dh * (1 - z)
    dz = dh * (h_prev - n)
    dh_prev = dh * z                         # the direct path to h_prev
    # n = tanh(X_n + r * R_n)
    dx_n = dn * (1 - n ** 2)                 # tanh' = 1 - tanh^2: the input's side of n
    dr_n = dx_n * r                          # the hidden side of n
    dr = dx_n * r_n
    # the gates: sigmoid' = sigmoid (1 - sigmoid); both sides of r and z are summed
    da_r = dr * r * (1 - r)
    da_z = dz * z * (1 - z)
    dxs = np.concatenate([da_r, da_z, dx_n], axis=1)    # d(x W_x + b_ih)        (N, 3H)
    dhs = np.concatenate([da_r, da_z, dr_n], axis=1)    # d(h_prev W_rec + b_hh) (N, 3H)
    dx = dxs @ w_ih                          # dX W_x^T     (N, D)
    dh_prev = dh_prev + dhs @ w_hh           # + dR W_rec^T (N, H)
    dW_x = x.T @ dxs                         # (D, 3H)
    dW_rec = h_prev.T @ dhs                  # (H, 3H)
    # stored transposed, as PyTorch: dw_ih = dW_x^T, dw_hh = dW_rec^T
    return (dx, dh_prev if has_h_prev else None, dW_x.T, dW_rec.T,
            dxs.sum(axis=0) if has_b_ih else None, dhs.sum(axis=0) if has_b_hh else None)


class GRUCache(NamedTuple):
    """What :func:`gru_forward` keeps for :func:`gru_backward`."""

    steps: list[GRUStepCache]    # steps[t]: the cache of the step that read x[t]
    order: tuple[int, ...]       # the time positions in the order the forward pass ran
    shape: tuple[int, int, int, int]  # (T, N, D, H)
    given: tuple[bool, bool, bool]    # whether h0, b_ih, b_hh were given


def gru_forward(x: np.ndarray, h0: np.ndarray | None, w_ih: np.ndarray, w_hh: np.ndarray,
                b_ih: np.ndarray | None = None, b_hh: np.ndarray | None = None,
                reverse: bool = False) -> tuple[tuple[np.ndarray, np.ndarray], GRUCache]:
    """``(out, h_n), cache = gru_forward(x, h0, w_ih, w_hh, b_ih, b_hh, reverse)``: the
    step, looped from the first time position (the last with reverse).

    x (T, N, D); h0 (N, H) or None (zeros). out (T, N, H) = h_1..h_T; h_n (N, H).
    """
    fn = "gru"
    T, N, D, H = check.recurrent(fn, x, (("h0", h0),), w_ih, w_hh, b_ih, b_hh, 3, True)
    given = (h0 is not None, b_ih is not None, b_hh is not None)
    # an absent state or bias is zeros (its gradient is then not returned)
    h = np.zeros((N, H), dtype=x.dtype) if h0 is None else h0
    b_ih = np.zeros(3 * H, dtype=x.dtype) if b_ih is None else b_ih
    b_hh = np.zeros(3 * H, dtype=x.dtype) if b_hh is None else b_hh
    order = tuple(range(T - 1, -1, -1) if reverse else range(T))
    out = np.zeros((T, N, H), dtype=x.dtype)
    steps: list[Any] = [None] * T
    for t in order:
        h, steps[t] = gru_step_forward(x[t], h, w_ih, w_hh, b_ih, b_hh)
        out[t] = h
    return (out, h), GRUCache(steps, order, (T, N, D, H), given)


def gru_backward(dout: Any, cache: GRUCache) -> tuple[Any, ...]:
    """``dx, dh0, dw_ih, dw_hh, db_ih, db_hh = gru_backward((dout, dh_n), cache)``: BPTT.

    dout (T, N, H); dh_n (N, H) (omitted or None: 0). Returns the gradients in the
    inputs' shapes (None for h0, b_ih, b_hh when they were None).
    """
    dout, dh_n = check.upstream(dout, 2)
    steps, order, (T, N, D, H), (has_h0, has_b_ih, has_b_hh) = cache
    check.shape("gru_backward", "dout", dout, (T, N, H), "(T, N, H)")
    dtype = dout.dtype
    dx = np.zeros((T, N, D), dtype=dtype)
    dW_x = np.zeros((D, 3 * H), dtype=dtype)  # the course's matrices, summed over steps
    dW_rec = np.zeros((H, 3 * H), dtype=dtype)
    db_ih = np.zeros(3 * H, dtype=dtype)
    db_hh = np.zeros(3 * H, dtype=dtype)
    if dh_n is None:
        dh_n = np.zeros((N, H), dtype=dtype)
    check.shape("gru_backward", "dh_n", dh_n, (N, H), "(N, H)")
    dh = np.array(dh_n, dtype=dtype)          # dxi/dh_T through the returned h_n
    for t in reversed(order):                 # from the last step to the first
        dh = dh + dout[t]                     # + the output's own gradient at this step
        dx[t], dh, dw_ih_t, dw_hh_t, db_ih_t, db_hh_t = gru_step_backward(dh, steps[t])
        dW_x += dw_ih_t.T                     # dW_x   += x_k^T dX_k
        dW_rec += dw_hh_t.T                   # dW_rec += h_{k-1}^T dR_k
        db_ih += db_ih_t
        db_hh += db_hh_t
    # back to the stored layout: dw_ih = dW_x^T, dw_hh = dW_rec^T
    return (dx, dh if has_h0 else None, dW_x.T, dW_rec.T,
            db_ih if has_b_ih else None, db_hh if has_b_hh else None)
