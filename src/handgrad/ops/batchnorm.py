"""Batch normalisation over the channel axis 1: (N, C), (N, C, L) or (N, C, H, W).

Per channel c, with m = the number of values of that channel in the batch (N, N*L or
N*H*W) and the sums running over them:

    mu = (1/m) sum x,   var = (1/m) sum (x - mu)^2   (biased, used to normalise)
    sigma = sqrt(var + eps),   xhat = (x - mu) / sigma,   y = gamma * xhat + beta

Running statistics (PyTorch's convention; momentum 0.1 is the weight of the NEW value):

    running_mean <- (1 - momentum) running_mean + momentum * mu
    running_var  <- (1 - momentum) running_var  + momentum * var * m / (m - 1)   (unbiased)

In evaluation mode the running statistics replace mu and var, and y is an affine map of x.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from handgrad.function import Context, Function

__all__ = ["BatchNorm", "batch_norm_forward", "batch_norm_backward"]


class BatchNorm(Function):
    """y = gamma * (x - mu) / sqrt(var + eps) + beta, statistics per channel (axis 1).

    Training-mode backward (batch statistics depend on x). Write g = dL/dy, sums over
    the m values of one channel, sigma = sqrt(var + eps):

        dL/dbeta  = sum g
        dL/dgamma = sum g * xhat
        dL/dxhat  = g * gamma
        dL/dvar   = sum dL/dxhat * (x - mu) * (-1/2) sigma^-3
        dL/dmu    = -sum dL/dxhat / sigma   (the dvar/dmu term is -2/m sum(x - mu) = 0)
        dL/dx     = dL/dxhat / sigma + dL/dvar * 2 (x - mu)/m + dL/dmu / m

    Substituting (x - mu) = sigma * xhat and collecting, everything folds into

        dL/dx = (1/m) * gamma / sigma * (m g - sum g - xhat * sum(g * xhat))

    one line, three per-channel sums: the "compact" form. (Check: sum over a channel of
    dL/dx is 0 and sum of dL/dx * xhat is 0, as it must be, since y is unchanged when x
    is shifted or scaled.)

    Evaluation mode: y = gamma * (x - running_mean) / sqrt(running_var + eps) + beta, so
    dL/dx = g * gamma / sqrt(running_var + eps), and dL/dgamma, dL/dbeta as above with
    xhat computed from the running statistics.

    ``running_mean`` / ``running_var`` (arrays or None) are updated IN PLACE when
    training, as PyTorch does. weight (gamma) and bias (beta) may be None (affine=False).
    """

    @staticmethod
    def forward(ctx: Context, x: np.ndarray, weight: np.ndarray | None = None,
                bias: np.ndarray | None = None, running_mean: np.ndarray | None = None,
                running_var: np.ndarray | None = None, training: bool = True,
                momentum: float | None = 0.1, eps: float = 1e-5) -> np.ndarray:
        if not isinstance(x, np.ndarray) or x.dtype.kind != "f":
            raise TypeError(f"batch_norm: input must be a floating-point array, got "
                            f"{getattr(x, 'dtype', type(x).__name__)}")
        if x.ndim < 2:
            raise ValueError(f"batch_norm: input must be (N, C), (N, C, L) or (N, C, H, W), "
                             f"got shape {x.shape}")
        C = x.shape[1]
        for arr, label in ((weight, "weight"), (bias, "bias"), (running_mean, "running_mean"),
                           (running_var, "running_var")):
            if arr is not None and arr.shape != (C,):
                raise ValueError(f"batch_norm: {label} must have shape (C,) = ({C},) for "
                                 f"input shape {x.shape}, got {arr.shape}")
        if not training and (running_mean is None or running_var is None):
            raise ValueError("batch_norm: evaluation mode (training=False) needs running_mean "
                             "and running_var")
        N, m = x.shape[0], x.size // C
        x3 = x.reshape(N, C, m // N if N else int(np.prod(x.shape[2:])))  # (N, C, L)
        dt = x.dtype.type
        if training and m == 0:
            # an empty batch: an empty output, and the running statistics stay as they
            # are (there is nothing to average; PyTorch does the same)
            mu, var = np.zeros(C, x.dtype), np.ones(C, x.dtype)
            xc = x3 - mu[:, None]
        elif training:
            if m == 1:
                raise ValueError(f"batch_norm: expected more than 1 value per channel when "
                                 f"training, got input shape {x.shape}")
            mu = x3.mean(axis=(0, 2))
            xc = x3 - mu[:, None]
            # sum of squares without a temporary (x - mu)^2 array
            var = np.einsum("ncl,ncl->c", xc, xc) / dt(m)
            if running_mean is not None and momentum is not None:
                mom = dt(momentum)
                running_mean *= 1 - mom
                running_mean += mom * mu.astype(running_mean.dtype, copy=False)
            if running_var is not None and momentum is not None:
                mom = dt(momentum)
                running_var *= 1 - mom
                running_var += (mom * var * dt(m / (m - 1))).astype(running_var.dtype,
                                                                    copy=False)
        else:
            mu = running_mean.astype(x.dtype, copy=False)
            var = running_var.astype(x.dtype, copy=False)
            xc = x3 - mu[:, None]
        inv_sigma = (1.0 / np.sqrt(var + dt(eps))).astype(x.dtype, copy=False)
        xhat = xc
        xhat *= inv_sigma[:, None]  # xc is a fresh array: reuse it
        y = xhat * weight[:, None] if weight is not None else xhat.copy()
        if bias is not None:
            y += bias[:, None]
        ctx.save_for_backward(xhat, inv_sigma, weight)
        ctx.training = training
        ctx.has = (weight is not None, bias is not None)
        return y.reshape(x.shape)

    @staticmethod
    def backward(ctx: Context, dy: np.ndarray) -> tuple[Any, ...]:
        xhat, inv_sigma, weight = ctx.saved_arrays
        needs = ctx.needs_input_grad
        dy3 = dy.reshape(xhat.shape)  # (N, C, L)
        m = xhat.shape[0] * xhat.shape[2]
        dt = dy.dtype.type
        sum_dy = dy3.sum(axis=(0, 2))
        sum_dy_xhat = np.einsum("ncl,ncl->c", dy3, xhat)
        dx = dw = db = None
        if needs[0]:
            scale = inv_sigma if weight is None else weight * inv_sigma  # gamma / sigma
            if m == 0:
                dx = np.zeros_like(dy3)
            elif ctx.training:
                # (1/m) gamma/sigma (m dy - sum dy - xhat sum(dy xhat))
                #   = gamma/sigma (dy - [xhat mean(dy xhat) + mean(dy)]), in one buffer
                dx = xhat * (sum_dy_xhat / dt(m))[:, None]
                dx += (sum_dy / dt(m))[:, None]
                np.subtract(dy3, dx, out=dx)
                dx *= scale[:, None]
            else:
                dx = dy3 * scale[:, None]
            dx = dx.reshape(dy.shape)
        if len(needs) > 1 and needs[1] and ctx.has[0]:
            dw = sum_dy_xhat
        if len(needs) > 2 and needs[2] and ctx.has[1]:
            db = sum_dy
        return dx, dw, db, None, None


def batch_norm_forward(x: np.ndarray, gamma: np.ndarray | None, beta: np.ndarray | None,
                       running_mean: np.ndarray | None = None,
                       running_var: np.ndarray | None = None, training: bool = True,
                       momentum: float = 0.1, eps: float = 1e-5) -> tuple[np.ndarray, Context]:
    """Layer door: ``out, cache = batch_norm_forward(x, gamma, beta, ...)``."""
    return BatchNorm.layer_forward(x, gamma, beta, running_mean, running_var,
                                   training=training, momentum=momentum, eps=eps)


def batch_norm_backward(dout: np.ndarray, cache: Context) -> tuple[Any, Any, Any]:
    """Layer door: ``dx, dgamma, dbeta = batch_norm_backward(dout, cache)``."""
    dx, dgamma, dbeta, _, _ = BatchNorm.layer_backward(dout, cache)
    return dx, dgamma, dbeta
