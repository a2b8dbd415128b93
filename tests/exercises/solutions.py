"""Learner-style solutions of every exercise, and typical buggy variants of each.

A bug is (old text, new text, the part that must fail, the diagnosis key or None): the
buggy file is the solution with ``old`` replaced by ``new``.
"""

SOLUTIONS = {
"quadratic_gd": '''
def f(x):
    return x ** 2 + 2 * x + 3

def grad_f(x):
    return 2 * x + 2

def numeric_grad(f, x, h=1e-5):
    return (f(x + h) - f(x - h)) / (2 * h)

def gradient_descent(x0, lr, steps):
    x = x0
    for _ in range(steps):
        x = x - lr * grad_f(x)
    return x
''',
"l2_norm_error": '''
import numpy as np

def l2_norm(w, b, x, y):
    return np.sqrt(np.sum((y - (w * x + b)) ** 2))

def l2_norm_grad(w, b, x, y):
    r = (w * x + b) - y
    n = np.sqrt(np.sum(r ** 2))
    if n == 0:
        return 0.0, 0.0
    return np.sum(r * x) / n, np.sum(r) / n
''',
"conv_output_size": '''
def conv_output_size(H, K, S=1, P=0, D=1):
    return (H + 2 * P - D * (K - 1) - 1) // S + 1
''',
"affine": '''
def affine_forward(x, w, b):
    out = x.reshape(x.shape[0], -1) @ w + b
    return out, (x, w, b)

def affine_backward(dout, cache):
    x, w, b = cache
    dx = (dout @ w.T).reshape(x.shape)
    dw = x.reshape(x.shape[0], -1).T @ dout
    db = dout.sum(axis=0)
    return dx, dw, db
''',
"relu": '''
import numpy as np

def relu_forward(x):
    return np.maximum(x, 0), x

def relu_backward(dout, cache):
    x = cache
    return dout * (x > 0)
''',
"softmax_loss": '''
import numpy as np

def softmax_loss(x, y):
    n = x.shape[0]
    z = x - x.max(axis=1, keepdims=True)
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    loss = -np.log(p[np.arange(n), y]).mean()
    dx = p.copy()
    dx[np.arange(n), y] -= 1
    dx /= n
    return loss, dx
''',
"conv_naive": '''
import numpy as np

def conv_forward_naive(x, w, b, conv_param):
    S, P = conv_param["stride"], conv_param["pad"]
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (P, P), (P, P)))
    Ho, Wo = 1 + (H + 2 * P - HH) // S, 1 + (W + 2 * P - WW) // S
    out = np.zeros((N, F, Ho, Wo))
    for n in range(N):
        for f in range(F):
            for i in range(Ho):
                for j in range(Wo):
                    win = xp[n, :, i * S:i * S + HH, j * S:j * S + WW]
                    out[n, f, i, j] = np.sum(win * w[f]) + b[f]
    return out, (x, w, b, conv_param)

def conv_backward_naive(dout, cache):
    x, w, b, conv_param = cache
    S, P = conv_param["stride"], conv_param["pad"]
    N, F, Ho, Wo = dout.shape
    _, _, HH, WW = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (P, P), (P, P)))
    dxp = np.zeros_like(xp)
    dw = np.zeros_like(w)
    db = dout.sum(axis=(0, 2, 3))
    for n in range(N):
        for f in range(F):
            for i in range(Ho):
                for j in range(Wo):
                    win = xp[n, :, i * S:i * S + HH, j * S:j * S + WW]
                    dw[f] += win * dout[n, f, i, j]
                    dxp[n, :, i * S:i * S + HH, j * S:j * S + WW] += w[f] * dout[n, f, i, j]
    dx = dxp[:, :, P:P + x.shape[2], P:P + x.shape[3]]
    return dx, dw, db
''',
"max_pool_naive": '''
import numpy as np

def max_pool_forward_naive(x, pool_param):
    ph, pw, S = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    N, C, H, W = x.shape
    Ho, Wo = 1 + (H - ph) // S, 1 + (W - pw) // S
    out = np.zeros((N, C, Ho, Wo))
    for i in range(Ho):
        for j in range(Wo):
            out[:, :, i, j] = x[:, :, i * S:i * S + ph, j * S:j * S + pw].max(axis=(2, 3))
    return out, (x, pool_param)

def max_pool_backward_naive(dout, cache):
    x, pool_param = cache
    ph, pw, S = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    dx = np.zeros_like(x)
    N, C, Ho, Wo = dout.shape
    for n in range(N):
        for c in range(C):
            for i in range(Ho):
                for j in range(Wo):
                    win = x[n, c, i * S:i * S + ph, j * S:j * S + pw]
                    k = np.unravel_index(np.argmax(win), win.shape)
                    dx[n, c, i * S + k[0], j * S + k[1]] += dout[n, c, i, j]
    return dx
''',
"batchnorm": '''
import numpy as np

def batchnorm_forward(x, gamma, beta, bn_param):
    eps = bn_param.get("eps", 1e-5)
    mu = x.mean(axis=0)
    var = x.var(axis=0)
    std = np.sqrt(var + eps)
    xhat = (x - mu) / std
    return gamma * xhat + beta, (xhat, gamma, std)

def batchnorm_backward(dout, cache):
    xhat, gamma, std = cache
    N = dout.shape[0]
    dbeta = dout.sum(axis=0)
    dgamma = (dout * xhat).sum(axis=0)
    dxhat = dout * gamma
    dx = (N * dxhat - dxhat.sum(axis=0) - xhat * (dxhat * xhat).sum(axis=0)) / (N * std)
    return dx, dgamma, dbeta
''',
"count_ones_bptt": '''
import numpy as np

def forward_states(X, w_x, w_rec):
    N, T = X.shape
    S = np.zeros((N, T + 1))
    for k in range(1, T + 1):
        S[:, k] = S[:, k - 1] * w_rec + X[:, k - 1] * w_x
    return S

def bptt(X, t, w_x, w_rec):
    S = forward_states(X, w_x, w_rec)
    N, T = X.shape
    dS = 2 * (S[:, T] - t) / N
    dw_x = 0.0
    dw_rec = 0.0
    for k in range(T, 0, -1):
        dw_x += np.sum(dS * X[:, k - 1])
        dw_rec += np.sum(dS * S[:, k - 1])
        dS = dS * w_rec
    return dw_x, dw_rec
''',
"rnn_step": '''
import numpy as np

def rnn_step_forward(x, prev_h, Wx, Wh, b):
    next_h = np.tanh(x @ Wx + prev_h @ Wh + b)
    return next_h, (x, prev_h, Wx, Wh, next_h)

def rnn_step_backward(dnext_h, cache):
    x, prev_h, Wx, Wh, next_h = cache
    da = dnext_h * (1 - next_h ** 2)
    return da @ Wx.T, da @ Wh.T, x.T @ da, prev_h.T @ da, da.sum(axis=0)
''',
"word_embedding": '''
import numpy as np

def word_embedding_forward(x, W):
    return W[x], (x, W.shape)

def word_embedding_backward(dout, cache):
    x, shape = cache
    dW = np.zeros(shape)
    np.add.at(dW, x, dout)
    return dW
''',
"lstm_step": '''
import numpy as np

def sigmoid(a):
    return 1 / (1 + np.exp(-a))

def lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b):
    H = prev_h.shape[1]
    a = x @ Wx + prev_h @ Wh + b
    i, f, o = sigmoid(a[:, :H]), sigmoid(a[:, H:2 * H]), sigmoid(a[:, 2 * H:3 * H])
    g = np.tanh(a[:, 3 * H:])
    next_c = f * prev_c + i * g
    next_h = o * np.tanh(next_c)
    return next_h, next_c, (x, prev_h, prev_c, Wx, Wh, i, f, o, g, next_c)

def lstm_step_backward(dnext_h, dnext_c, cache):
    x, prev_h, prev_c, Wx, Wh, i, f, o, g, next_c = cache
    tc = np.tanh(next_c)
    dc = dnext_c + dnext_h * o * (1 - tc ** 2)
    di, df, do, dg = dc * g, dc * prev_c, dnext_h * tc, dc * i
    da = np.hstack([di * i * (1 - i), df * f * (1 - f), do * o * (1 - o), dg * (1 - g ** 2)])
    return da @ Wx.T, da @ Wh.T, dc * f, x.T @ da, prev_h.T @ da, da.sum(axis=0)
''',
"rnn_sequence": '''
import numpy as np

def rnn_forward(x, h0, Wx, Wh, b):
    N, T, D = x.shape
    hs = []
    h = h0
    for t in range(T):
        h = np.tanh(x[:, t] @ Wx + h @ Wh + b)
        hs.append(h)
    return np.stack(hs, axis=1), (x, h0, Wx, Wh, hs)

def rnn_backward(dh, cache):
    x, h0, Wx, Wh, hs = cache
    N, T, D = x.shape
    dx = np.zeros_like(x)
    dWx = np.zeros_like(Wx)
    dWh = np.zeros_like(Wh)
    db = np.zeros(Wx.shape[1])
    dprev = np.zeros_like(h0)
    for t in range(T - 1, -1, -1):
        prev = hs[t - 1] if t > 0 else h0
        da = (dh[:, t] + dprev) * (1 - hs[t] ** 2)
        dx[:, t] = da @ Wx.T
        dWx += x[:, t].T @ da
        dWh += prev.T @ da
        db += da.sum(axis=0)
        dprev = da @ Wh.T
    return dx, dprev, dWx, dWh, db
''',
"gru_step": '''
import numpy as np

def sigmoid(a):
    return 1 / (1 + np.exp(-a))

def gru_step_forward(x, prev_h, Wx, Wh, b_x, b_h):
    H = prev_h.shape[1]
    a = x @ Wx + b_x
    u = prev_h @ Wh + b_h
    r = sigmoid(a[:, :H] + u[:, :H])
    z = sigmoid(a[:, H:2 * H] + u[:, H:2 * H])
    n = np.tanh(a[:, 2 * H:] + r * u[:, 2 * H:])
    next_h = (1 - z) * n + z * prev_h
    return next_h, (x, prev_h, Wx, Wh, r, z, n, u)

def gru_step_backward(dnext_h, cache):
    x, prev_h, Wx, Wh, r, z, n, u = cache
    H = prev_h.shape[1]
    dn = dnext_h * (1 - z)
    dz = dnext_h * (prev_h - n)
    dn_pre = dn * (1 - n ** 2)
    dr = dn_pre * u[:, 2 * H:]
    dr_pre = dr * r * (1 - r)
    dz_pre = dz * z * (1 - z)
    da = np.hstack([dr_pre, dz_pre, dn_pre])
    du = np.hstack([dr_pre, dz_pre, dn_pre * r])
    dprev_h = dnext_h * z + du @ Wh.T
    return da @ Wx.T, dprev_h, x.T @ da, prev_h.T @ du, da.sum(axis=0), du.sum(axis=0)
''',
"sample_temperature": '''
import numpy as np

def sample(logits, temperature, rng):
    z = logits / temperature
    p = np.exp(z - z.max())
    p /= p.sum()
    return rng.choice(len(p), p=p)
''',
}

BUGS = {
"quadratic_gd": [
    ("return 2 * x + 2", "return 2 * x", "grad_f", None),
    ("return (f(x + h) - f(x - h)) / (2 * h)", "return (f(x + h) - f(x)) / (2 * h)",
     "numeric_grad", None),
    ("x = x - lr * grad_f(x)", "x = x + lr * grad_f(x)", "gradient_descent", None),
],
"l2_norm_error": [
    ("    if n == 0:\n        return 0.0, 0.0\n", "", "l2_norm_grad", None),   # 0/0 = NaN
    ("return np.sum(r * x) / n, np.sum(r) / n", "return np.sum(r * x), np.sum(r)",
     "l2_norm_grad", None),
    ("return np.sqrt(np.sum((y - (w * x + b)) ** 2))", "return np.sum((y - (w * x + b)) ** 2)",
     "l2_norm", None),
],
"conv_output_size": [
    ("(H + 2 * P - D * (K - 1) - 1) // S + 1", "(H + P - D * (K - 1) - 1) // S + 1",
     "conv_output_size", None),
    ("(H + 2 * P - D * (K - 1) - 1) // S + 1", "(H + 2 * P - K) // S + 1",
     "conv_output_size", None),
    ("(H + 2 * P - D * (K - 1) - 1) // S + 1", "(H + 2 * P - D * (K - 1) - 1) / S + 1",
     "conv_output_size", None),
],
"affine": [
    ("dw = x.reshape(x.shape[0], -1).T @ dout", "dw = (x.reshape(x.shape[0], -1).T @ dout) * 2",
     "affine_backward", "factor"),
    ("db = dout.sum(axis=0)", "db = dout[0]", "affine_backward", None),
    ("dx = (dout @ w.T).reshape(x.shape)", "dx = -(dout @ w.T).reshape(x.shape)",
     "affine_backward", "sign"),
    ("out = x.reshape(x.shape[0], -1) @ w + b", "out = x.reshape(x.shape[0], -1) @ w",
     "affine_forward", None),
],
"relu": [
    ("return dout * (x > 0)", "return (x > 0) * 1.0", "relu_backward", "dout_ignored"),
    ("return dout * (x > 0)", "return dout * (x < 0)", "relu_backward", None),
    ("return dout * (x > 0)", "return dout", "relu_backward", None),
],
"softmax_loss": [
    ("dx /= n", "pass", "softmax_loss (dx)", "factor"),
    ("dx[np.arange(n), y] -= 1", "pass", "softmax_loss (dx)", None),
    ("loss = -np.log(p[np.arange(n), y]).mean()", "loss = -np.log(p[np.arange(n), y]).sum()",
     "softmax_loss (loss)", None),
],
"conv_naive": [
    ("dxp[n, :, i * S:i * S + HH, j * S:j * S + WW] += w[f] * dout[n, f, i, j]",
     "dxp[n, :, i * S:i * S + HH, j * S:j * S + WW] = w[f] * dout[n, f, i, j]",
     "conv_backward_naive", None),                                # = instead of +=
    ("dx = dxp[:, :, P:P + x.shape[2], P:P + x.shape[3]]",
     "dx = dxp[:, :, :x.shape[2], :x.shape[3]]", "conv_backward_naive", None),
    ("db = dout.sum(axis=(0, 2, 3))", "db = dout.sum(axis=0)[:, 0, 0]",
     "conv_backward_naive", None),
    ("out[n, f, i, j] = np.sum(win * w[f]) + b[f]", "out[n, f, i, j] = np.sum(win * w[f])",
     "conv_forward_naive", None),
],
"max_pool_naive": [
    # the famous one: = instead of += passes when windows do not overlap; here they do
    ("dx[n, c, i * S + k[0], j * S + k[1]] += dout[n, c, i, j]",
     "dx[n, c, i * S + k[0], j * S + k[1]] = dout[n, c, i, j]", "max_pool_backward_naive", None),
    ("dx[n, c, i * S + k[0], j * S + k[1]] += dout[n, c, i, j]",
     "dx[n, c, i * S:i * S + ph, j * S:j * S + pw] += dout[n, c, i, j]",
     "max_pool_backward_naive", None),
    ("dx[n, c, i * S + k[0], j * S + k[1]] += dout[n, c, i, j]",
     "dx[n, c, i * S + k[0], j * S + k[1]] += 1.0", "max_pool_backward_naive", "dout_ignored"),
    (".max(axis=(2, 3))", ".mean(axis=(2, 3))", "max_pool_forward_naive", None),
],
"batchnorm": [
    ("dx = (N * dxhat - dxhat.sum(axis=0) - xhat * (dxhat * xhat).sum(axis=0)) / (N * std)",
     "dx = dxhat / std", "batchnorm_backward", None),
    ("dgamma = (dout * xhat).sum(axis=0)", "dgamma = -(dout * xhat).sum(axis=0)",
     "batchnorm_backward", "sign"),
    ("var = x.var(axis=0)", "var = x.std(axis=0)", "batchnorm_forward", None),
],
"count_ones_bptt": [
    ("dw_rec += np.sum(dS * S[:, k - 1])", "dw_rec = np.sum(dS * S[:, k - 1])", "bptt", None),
    ("dw_x += np.sum(dS * X[:, k - 1])", "dw_x = np.sum(dS * X[:, k - 1])", "bptt", None),
    ("dS = dS * w_rec", "dS = dS", "bptt", None),
    ("S[:, k] = S[:, k - 1] * w_rec + X[:, k - 1] * w_x",
     "S[:, k] = S[:, k - 1] * w_x + X[:, k - 1] * w_rec", "forward_states", None),
],
"rnn_step": [
    ("da = dnext_h * (1 - next_h ** 2)", "da = dnext_h * (1 - prev_h ** 2)",
     "rnn_step_backward", None),
    ("x.T @ da, prev_h.T @ da", "x.T @ da, next_h.T @ da", "rnn_step_backward", None),
    ("return da @ Wx.T, da @ Wh.T", "return -(da @ Wx.T), da @ Wh.T", "rnn_step_backward",
     "sign"),
],
"word_embedding": [
    ("np.add.at(dW, x, dout)", "dW[x] += dout", "word_embedding_backward", None),
    ("np.add.at(dW, x, dout)", "dW[x] = dout", "word_embedding_backward", None),
    ("np.add.at(dW, x, dout)", "np.add.at(dW, x, 2 * dout)", "word_embedding_backward",
     "factor"),
],
"lstm_step": [
    ("dc = dnext_c + dnext_h * o * (1 - tc ** 2)", "dc = dnext_h * o * (1 - tc ** 2)",
     "lstm_step_backward", None),
    ("di, df, do, dg = dc * g, dc * prev_c, dnext_h * tc, dc * i",
     "di, df, do, dg = dc * prev_c, dc * g, dnext_h * tc, dc * i", "lstm_step_backward", None),
    ("dc * f, x.T @ da", "dc, x.T @ da", "lstm_step_backward", None),
    ("next_c = f * prev_c + i * g", "next_c = i * prev_c + f * g", "lstm_step_forward", None),
],
"rnn_sequence": [
    ("dWh += prev.T @ da", "dWh = prev.T @ da", "rnn_backward", None),
    ("da = (dh[:, t] + dprev) * (1 - hs[t] ** 2)", "da = dh[:, t] * (1 - hs[t] ** 2)",
     "rnn_backward", None),
    ("prev = hs[t - 1] if t > 0 else h0", "prev = hs[t]", "rnn_backward", None),
    ("h = np.tanh(x[:, t] @ Wx + h @ Wh + b)", "h = np.tanh(x[:, t] @ Wx + h0 @ Wh + b)",
     "rnn_forward", None),
],
"gru_step": [
    ("dz = dnext_h * (prev_h - n)", "dz = dnext_h * (n - prev_h)", "gru_step_backward", None),
    ("dprev_h = dnext_h * z + du @ Wh.T", "dprev_h = du @ Wh.T", "gru_step_backward", None),
    ("du = np.hstack([dr_pre, dz_pre, dn_pre * r])", "du = np.hstack([dr_pre, dz_pre, dn_pre])",
     "gru_step_backward", None),
    ("next_h = (1 - z) * n + z * prev_h", "next_h = z * n + (1 - z) * prev_h",
     "gru_step_forward", None),
],
"sample_temperature": [
    ("z = logits / temperature", "z = logits * temperature", "sample", None),
    ("return rng.choice(len(p), p=p)", "return int(np.argmax(p))", "sample", None),
    ("z = logits / temperature", "z = logits", "sample", None),
],
}
