"""The LSTM, the definition: one time step as a course writes it, and the sequence as a
loop of it.

One step (PyTorch's equations and gate order i, f, g, o; row vectors, N rows at once):

    A = x W_x + b_ih + h_prev W_rec + b_hh = [A_i | A_f | A_g | A_o]      (N, 4H)
    i = sigmoid(A_i)     input gate:  how much of the candidate to write
    f = sigmoid(A_f)     forget gate: how much of the old cell to keep
    g = tanh(A_g)        the candidate values
    o = sigmoid(A_o)     output gate: how much of the cell to show
    c = f * c_prev + i * g
    h = o * tanh(c)

x (N, D), h_prev and c_prev (N, H), W_x (D, 4H), W_rec (H, 4H). As for the RNN
(``reference/rnn.py``), handgrad stores the weights as PyTorch does: ``w_ih`` = W_x^T
(4H, D) and ``w_hh`` = W_rec^T (4H, H), the four gates' rows stacked in the order
i, f, g, o; the biases b_ih, b_hh are (4H,).

One step, backward. Given dh = dxi/dh and dc = dxi/dc (the gradient reaching c from the
next step, or from c_n), walk the equations from the last to the first:

    h = o * tanh(c):       do = dh * tanh(c)
                           dc = dc + dh * o * (1 - tanh(c)^2)   (c also reaches xi through h)
    c = f*c_prev + i*g:    di = dc * g,  df = dc * c_prev,  dg = dc * i,  dc_prev = dc * f
    the gates:             dA_i = di * i (1 - i),  dA_f = df * f (1 - f),
                           dA_g = dg * (1 - g^2),  dA_o = do * o (1 - o)
                           (sigmoid' = sigmoid (1 - sigmoid), tanh' = 1 - tanh^2)
    A = x W_x + h_prev W_rec + b, with dA = [dA_i | dA_f | dA_g | dA_o]:
                           dx = dA W_x^T = dA @ w_ih,   dh_prev = dA W_rec^T = dA @ w_hh
                           dW_x = x^T dA,   dW_rec = h_prev^T dA,   db = sum over the batch of dA

The sequence (BPTT) loops the step backward from the LAST step to the first, carrying
dh and dc, and sums the weight gradients over the steps (``dW_x += ...``,
``dW_rec += ...``), as for the RNN. The cell path carries the gradient back by
dc_prev = dc * f, a product with the forget gate and not with W_rec: with f near 1 the
gradient survives long time lags, which the plain RNN's cannot.

sigmoid is 1 / (1 + e^-a), in its numerically stable form (:func:`sigmoid`).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from handgrad.ops.reference import _checks as check

__all__ = ["sigmoid", "LSTMStepCache", "LSTMCache", "lstm_step_forward", "lstm_step_backward",
           "lstm_forward", "lstm_backward"]


def sigmoid(a: np.ndarray) -> np.ndarray:
    """sigmoid(a) = 1 / (1 + e^-a), without overflow.

    For a >= 0, e^-a <= 1 is safe. For a < 0, e^-a can overflow; the same value is
    e^a / (1 + e^a) there, with e^a <= 1. Both are written with e^-|a|.
    """
    e = np.exp(-np.abs(a))
    return np.where(a >= 0, 1 / (1 + e), e / (1 + e))


class LSTMStepCache(NamedTuple):
    """What :func:`lstm_step_forward` keeps for :func:`lstm_step_backward`."""

    x: np.ndarray          # (N, D)
    h_prev: np.ndarray     # (N, H) (zeros when None was given)
    c_prev: np.ndarray     # (N, H) (zeros when None was given)
    i: np.ndarray          # (N, H) input gate
    f: np.ndarray          # (N, H) forget gate
    g: np.ndarray          # (N, H) candidate
    o: np.ndarray          # (N, H) output gate
    tanh_c: np.ndarray     # (N, H) tanh(c)
    w_ih: np.ndarray       # (4H, D) W_x^T
    w_hh: np.ndarray       # (4H, H) W_rec^T
    given: tuple[bool, bool, bool, bool]  # whether h_prev, c_prev, b_ih, b_hh were given


def lstm_step_forward(x: np.ndarray, h_prev: np.ndarray | None, c_prev: np.ndarray | None,
                      w_ih: np.ndarray, w_hh: np.ndarray, b_ih: np.ndarray | None = None,
                      b_hh: np.ndarray | None = None
                      ) -> tuple[tuple[np.ndarray, np.ndarray], LSTMStepCache]:
    """``(h, c), cache = lstm_step_forward(x, h_prev, c_prev, w_ih, w_hh, b_ih, b_hh)``.

    x (N, D); h_prev, c_prev (N, H) or None (zeros); w_ih (4H, D); w_hh (4H, H);
    b_ih, b_hh (4H,) or None. h, c (N, H).
    """
    fn = "lstm_cell"
    _, N, _, H = check.recurrent(fn, x, (("hx", h_prev), ("cx", c_prev)), w_ih, w_hh, b_ih,
                                 b_hh, 4, False)
    given = (h_prev is not None, c_prev is not None, b_ih is not None, b_hh is not None)
    if h_prev is None:
        h_prev = np.zeros((N, H), dtype=x.dtype)
    if c_prev is None:
        c_prev = np.zeros((N, H), dtype=x.dtype)
    a = x @ w_ih.T + h_prev @ w_hh.T         # A = x W_x + h_prev W_rec     (N, 4H)
    if b_ih is not None:
        a = a + b_ih
    if b_hh is not None:
        a = a + b_hh
    a_i, a_f, a_g, a_o = a[:, :H], a[:, H:2 * H], a[:, 2 * H:3 * H], a[:, 3 * H:]
    i = sigmoid(a_i)                         # input gate
    f = sigmoid(a_f)                         # forget gate
    g = np.tanh(a_g)                         # candidate
    o = sigmoid(a_o)                         # output gate
    c = f * c_prev + i * g                   # keep some of the old cell, write some new
    tanh_c = np.tanh(c)
    h = o * tanh_c                           # show some of the cell
    cache = LSTMStepCache(x, h_prev, c_prev, i, f, g, o, tanh_c, w_ih, w_hh, given)
    return (h, c), cache


def lstm_step_backward(dout: Any, cache: LSTMStepCache) -> tuple[Any, ...]:
    """``dx, dh_prev, dc_prev, dw_ih, dw_hh, db_ih, db_hh = lstm_step_backward((dh, dc), cache)``.

    dh, dc (N, H): dxi/dh and dxi/dc of this step's outputs (dc omitted or None: 0).
    Returns the gradients of every input of the step (None for h_prev, c_prev, b_ih,
    b_hh when they were None).
    """
    dh, dc = check.upstream(dout, 2)
    x, h_prev, c_prev, i, f, g, o, tanh_c, w_ih, w_hh, given = cache
    has_h_prev, has_c_prev, has_b_ih, has_b_hh = given
    dh = np.zeros_like(h_prev) if dh is None else dh
    dc = np.zeros_like(c_prev) if dc is None else dc
    check.shape("lstm_step_backward", "dh", dh, h_prev.shape, "(N, H)")
    check.shape("lstm_step_backward", "dc", dc, c_prev.shape, "(N, H)")
    # h = o * tanh(c)
    do = dh * tanh_c
    dc = dc + dh * o * (1 - tanh_c ** 2)     # c reaches xi directly and through h
    # c = f * c_prev + i * g
    di = dc * g
    df = dc * c_prev
    dg = dc * i
    dc_prev = dc * f
    # through the gates' nonlinearities, back to the pre-activations
    da_i = di * i * (1 - i)                  # sigmoid' = sigmoid (1 - sigmoid)
    da_f = df * f * (1 - f)
    da_g = dg * (1 - g ** 2)                 # tanh' = 1 - tanh^2
    da_o = do * o * (1 - o)
    da = np.concatenate([da_i, da_f, da_g, da_o], axis=1)   # (N, 4H), order i, f, g, o
    # A = x W_x + h_prev W_rec + b
    dx = da @ w_ih                           # dA W_x^T     (N, D)
    dh_prev = da @ w_hh                      # dA W_rec^T   (N, H)
    dW_x = x.T @ da                          # (D, 4H)
    dW_rec = h_prev.T @ da                   # (H, 4H)
    db = da.sum(axis=0)                      # (4H,)
    # stored transposed, as PyTorch: dw_ih = dW_x^T, dw_hh = dW_rec^T
    return (dx, dh_prev if has_h_prev else None, dc_prev if has_c_prev else None,
            dW_x.T, dW_rec.T, db if has_b_ih else None, db.copy() if has_b_hh else None)


class LSTMCache(NamedTuple):
    """What :func:`lstm_forward` keeps for :func:`lstm_backward`."""

    steps: list[LSTMStepCache]   # steps[t]: the cache of the step that read x[t]
    order: tuple[int, ...]       # the time positions in the order the forward pass ran
    shape: tuple[int, int, int, int]  # (T, N, D, H)
    given: tuple[bool, bool, bool, bool]  # whether h0, c0, b_ih, b_hh were given


def lstm_forward(x: np.ndarray, h0: np.ndarray | None, c0: np.ndarray | None,
                 w_ih: np.ndarray, w_hh: np.ndarray, b_ih: np.ndarray | None = None,
                 b_hh: np.ndarray | None = None, reverse: bool = False
                 ) -> tuple[tuple[np.ndarray, np.ndarray, np.ndarray], LSTMCache]:
    """``(out, h_n, c_n), cache = lstm_forward(x, h0, c0, w_ih, w_hh, b_ih, b_hh, reverse)``:
    the step, looped from the first time position (the last with reverse).

    x (T, N, D); h0, c0 (N, H) or None (zeros). out (T, N, H) = h_1..h_T; h_n, c_n (N, H).
    """
    fn = "lstm"
    T, N, D, H = check.recurrent(fn, x, (("h0", h0), ("c0", c0)), w_ih, w_hh, b_ih, b_hh,
                                 4, True)
    given = (h0 is not None, c0 is not None, b_ih is not None, b_hh is not None)
    # an absent state or bias is zeros (its gradient is then not returned)
    h = np.zeros((N, H), dtype=x.dtype) if h0 is None else h0
    c = np.zeros((N, H), dtype=x.dtype) if c0 is None else c0
    b_ih = np.zeros(4 * H, dtype=x.dtype) if b_ih is None else b_ih
    b_hh = np.zeros(4 * H, dtype=x.dtype) if b_hh is None else b_hh
    order = tuple(range(T - 1, -1, -1) if reverse else range(T))
    out = np.zeros((T, N, H), dtype=x.dtype)
    steps: list[Any] = [None] * T
    for t in order:
        (h, c), steps[t] = lstm_step_forward(x[t], h, c, w_ih, w_hh, b_ih, b_hh)
        out[t] = h
    return (out, h, c), LSTMCache(steps, order, (T, N, D, H), given)


def lstm_backward(dout: Any, cache: LSTMCache) -> tuple[Any, ...]:
    """``dx, dh0, dc0, dw_ih, dw_hh, db_ih, db_hh = lstm_backward((dout, dh_n, dc_n), cache)``.

    dout (T, N, H); dh_n, dc_n (N, H), the gradients of the final states (omitted or
    None: 0). Returns the gradients in the inputs' shapes (None for h0, c0, b_ih, b_hh
    when they were None).
    """
    dout, dh_n, dc_n = check.upstream(dout, 3)
    steps, order, (T, N, D, H), (has_h0, has_c0, has_b_ih, has_b_hh) = cache
    check.shape("lstm_backward", "dout", dout, (T, N, H), "(T, N, H)")
    dtype = dout.dtype
    dx = np.zeros((T, N, D), dtype=dtype)
    dW_x = np.zeros((D, 4 * H), dtype=dtype)  # the course's matrices, summed over steps
    dW_rec = np.zeros((H, 4 * H), dtype=dtype)
    db_ih = np.zeros(4 * H, dtype=dtype)
    db_hh = np.zeros(4 * H, dtype=dtype)
    carried = []
    for name, d in (("dh_n", dh_n), ("dc_n", dc_n)):
        d = np.zeros((N, H), dtype=dtype) if d is None else d
        check.shape("lstm_backward", name, d, (N, H), "(N, H)")
        carried.append(np.array(d, dtype=dtype))
    dh, dc = carried                          # dxi/dh_T and dxi/dc_T via h_n, c_n
    for t in reversed(order):                 # from the last step to the first
        dh = dh + dout[t]                     # + the output's own gradient at this step
        dx[t], dh, dc, dw_ih_t, dw_hh_t, db_ih_t, db_hh_t = lstm_step_backward((dh, dc),
                                                                               steps[t])
        dW_x += dw_ih_t.T                     # dW_x   += x_k^T dA_k
        dW_rec += dw_hh_t.T                   # dW_rec += h_{k-1}^T dA_k
        db_ih += db_ih_t
        db_hh += db_hh_t
    # back to the stored layout: dw_ih = dW_x^T, dw_hh = dW_rec^T
    return (dx, dh if has_h0 else None, dc if has_c0 else None, dW_x.T, dW_rec.T,
            db_ih if has_b_ih else None, db_hh if has_b_hh else None)
