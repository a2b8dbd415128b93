"""Batch normalisation, the definition: statistics per channel, and the compact backward.

The input x is (N, C), (N, C, L) or (N, C, H, W); the channel axis is 1. Channel c is
normalised with the statistics of its m values in the batch (m = N, N*L or N*H*W); every
sum below runs over those m values, separately for each channel.

Forward, training mode:

    mu    = (1/m) sum x
    var   = (1/m) sum (x - mu)^2          (the biased variance: it is what normalises)
    sigma = sqrt(var + eps)
    xhat  = (x - mu) / sigma
    y     = gamma * xhat + beta

The running statistics follow PyTorch (momentum is the weight of the *new* value, and the
variance kept is the unbiased one):

    running_mean <- (1 - momentum) * running_mean + momentum * mu
    running_var  <- (1 - momentum) * running_var  + momentum * var * m / (m - 1)

Evaluation mode uses running_mean and running_var in place of mu and var, so y is a
fixed affine function of x.

Backward, training mode. g = dL/dy is given. beta and gamma are easy:

    dbeta  = sum g,      dgamma = sum g * xhat,      dxhat = g * gamma.

x reaches the loss three ways: directly through xhat, through mu and through var, so

    dvar = sum dxhat * (x - mu) * (-1/2) sigma^-3
    dmu  = sum dxhat * (-1/sigma) + dvar * (-2/m) sum (x - mu)  =  -(1/sigma) sum dxhat
           (the second term is 0: the deviations from the mean sum to zero)
    dx   = dxhat / sigma + dvar * 2 (x - mu) / m + dmu / m.

Substitute x - mu = sigma * xhat: dvar * 2 (x - mu)/m = -xhat sum(dxhat * xhat) / (m sigma),
and everything collects into the compact form

    dx = 1/(m sigma) * (m * dxhat - sum dxhat - xhat * sum(dxhat * xhat))

(two per-channel sums). A check: over a channel, sum dx = 0, as it must be, since
shifting a channel's x does not change y; with eps = 0 scaling it does not either, and
then sum dx * xhat = 0 too.

Evaluation mode: mu and sigma do not depend on x, so dx = dxhat / sigma, with
sigma = sqrt(running_var + eps); dgamma and dbeta as above.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from handgrad.ops.reference import _checks as check

__all__ = ["BatchNormCache", "batch_norm_forward", "batch_norm_backward"]


class BatchNormCache(NamedTuple):
    """What :func:`batch_norm_forward` keeps for :func:`batch_norm_backward`."""

    xhat: np.ndarray              # x's shape: the normalised input
    sigma: np.ndarray             # (1, C, 1, ...): sqrt(var + eps), broadcasts against x
    gamma: np.ndarray | None      # (1, C, 1, ...) or None (affine=False)
    has_beta: bool                # whether beta was given (else dbeta is None)
    training: bool                # batch statistics (True) or running statistics
    axes: tuple[int, ...]         # the axes the statistics run over: all but axis 1


def batch_norm_forward(x: np.ndarray, gamma: np.ndarray | None, beta: np.ndarray | None,
                       running_mean: np.ndarray | None = None,
                       running_var: np.ndarray | None = None, training: bool = True,
                       momentum: float | None = 0.1, eps: float = 1e-5
                       ) -> tuple[np.ndarray, BatchNormCache]:
    """``out, cache = batch_norm_forward(x, gamma, beta, running_mean, running_var,
    training, momentum, eps)``.

    x (N, C, ...); gamma, beta (C,) or None; running_mean, running_var (C,) or None,
    updated IN PLACE when training (as PyTorch; momentum None leaves them alone).
    Evaluation mode (training=False) needs both running statistics. out has x's shape.
    """
    fn = "batch_norm"
    check.float_array(x, fn, "input")
    check.layout(fn, "input", x, tuple(range(2, 9)), "(N, C), (N, C, L) or (N, C, H, W)")
    C = x.shape[1]
    for name, p in (("weight", gamma), ("bias", beta)):
        if p is not None:
            check.same_dtype(fn, name, p, "input", x)
            check.shape(fn, name, p, (C,), "(C,)")
    for name, s in (("running_mean", running_mean), ("running_var", running_var)):
        if s is not None:
            check.float_array(s, fn, name)
            check.shape(fn, name, s, (C,), "(C,)")
    axes = (0,) + tuple(range(2, x.ndim))           # every axis but the channel's
    m = x.size // C if C else 0                     # values per channel

    def per_channel(v: np.ndarray) -> np.ndarray:   # (C,) -> (1, C, 1, ...), broadcasts
        return v.reshape((1, C) + (1,) * (x.ndim - 2))

    if training:
        if m <= 1:
            raise ValueError(check.MSG("one_value_per_channel", fn=fn, shape=x.shape))
        mu = x.mean(axis=axes, keepdims=True)                       # (1, C, 1, ...)
        var = ((x - mu) ** 2).mean(axis=axes, keepdims=True)        # biased
        if momentum is not None and running_mean is not None:
            running_mean *= 1 - momentum
            running_mean += momentum * mu.reshape(C)
        if momentum is not None and running_var is not None:
            running_var *= 1 - momentum
            running_var += momentum * var.reshape(C) * (m / (m - 1))  # unbiased
    else:
        if running_mean is None or running_var is None:
            raise ValueError(check.MSG("needs", fn=fn, name="running_mean and running_var",
                                       when="training=False"))
        mu = per_channel(running_mean.astype(x.dtype))
        var = per_channel(running_var.astype(x.dtype))
    sigma = np.sqrt(var + eps)
    xhat = (x - mu) / sigma
    out = xhat.copy() if gamma is None else xhat * per_channel(gamma)   # y = gamma xhat
    if beta is not None:
        out += per_channel(beta)                                           #     + beta
    cache = BatchNormCache(xhat, sigma, None if gamma is None else per_channel(gamma),
                           beta is not None, training, axes)
    return out, cache


def batch_norm_backward(dout: np.ndarray, cache: BatchNormCache
                        ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """``dx, dgamma, dbeta = batch_norm_backward(dout, cache)``: dout and dx have x's
    shape, dgamma and dbeta (C,) (None where gamma / beta were None)."""
    xhat, sigma, gamma, has_beta, training, axes = cache
    check.float_array(dout, "batch_norm_backward", "dout")
    check.shape("batch_norm_backward", "dout", dout, xhat.shape, "x.shape")
    m = xhat.size // xhat.shape[1] if xhat.shape[1] else 0

    dbeta = dout.sum(axis=axes) if has_beta else None                  # sum g
    dgamma = (dout * xhat).sum(axis=axes) if gamma is not None else None  # sum g xhat
    dxhat = dout * gamma if gamma is not None else dout                # g gamma
    if not training:
        return dxhat / sigma, dgamma, dbeta
    sum_dxhat = dxhat.sum(axis=axes, keepdims=True)                    # sum dxhat
    sum_dxhat_xhat = (dxhat * xhat).sum(axis=axes, keepdims=True)      # sum dxhat xhat
    # dx = 1/(m sigma) (m dxhat - sum dxhat - xhat sum(dxhat xhat))
    dx = (m * dxhat - sum_dxhat - xhat * sum_dxhat_xhat) / (m * sigma)
    return dx, dgamma, dbeta
