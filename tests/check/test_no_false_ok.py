"""The gradient checker never says OK to a wrong backward (issue 10)."""

from __future__ import annotations

import textwrap

import numpy as np
import pytest

import handgrad as hg
from handgrad.cli import main
from handgrad.gradcheck import last_report
from handgrad.gradcheck_layers import check_layer

README_LAYERS = '''
import numpy as np

def affine_forward(x, w):
    return x @ w

def affine_backward(dout, x, w):      # the README's bug: dW transposed
    return dout @ w.T, (x.T @ dout).T
'''


@pytest.fixture
def layers_file(tmp_path):
    path = tmp_path / "my_layers.py"
    path.write_text(README_LAYERS)
    return path


def test_readme_example_fails_at_every_seed(layers_file, capsys):
    """Square W: dW and dW.T have the same shape. With dout drawn from the inputs'
    stream the transposed gradient passed at seeds 0 and 1; now it fails at all."""
    for seed in range(100):
        rc = main(["check", f"{layers_file}::affine", "--shapes", "4x3,3x3",
                   "--seed", str(seed)])
        out = capsys.readouterr().out
        assert rc == 1, f"seed {seed}: {out}"
        assert "DIAGNOSIS (transposed)" in out, f"seed {seed}: {out}"


def test_readme_example_fails_with_the_learners_own_seeding():
    from importlib.util import module_from_spec, spec_from_loader

    spec = spec_from_loader("readme_layers", loader=None)
    mod = module_from_spec(spec)
    exec(README_LAYERS, mod.__dict__)  # noqa: S102 - the test's own source
    rng = np.random.default_rng(0)   # the seeding a learner writes
    x, w = rng.standard_normal((4, 3)), rng.standard_normal((3, 3))
    assert not hg.check_backward(mod.affine_forward, mod.affine_backward, [x, w],
                                 raise_exception=False)
    assert last_report()["diagnoses"] == {"w": "transposed"}


def test_nan_backward_fails():
    x = np.random.default_rng(0).random((3, 4)) + 0.5
    assert not hg.check_backward(np.sqrt, lambda d, x: d * np.nan, [x],
                                 raise_exception=False)
    assert last_report()["diagnosis"] == "backward_nonfinite"


def test_log_with_negative_inputs_fails_as_outside_the_domain():
    x = np.random.default_rng(0).standard_normal((3, 4))  # some negative
    wrong = lambda d, x: d * 2 / x  # noqa: E731 - a wrong derivative of log
    with np.errstate(invalid="ignore"):
        assert not hg.check_backward(np.log, wrong, [x], raise_exception=False)
    assert last_report()["diagnosis"] == "forward_nonfinite"
    assert "domain" in last_report()["message"]


def test_all_nan_gradients_from_the_cli_are_not_ok(tmp_path, capsys):
    (tmp_path / "l.py").write_text(textwrap.dedent('''
        import numpy as np
        def f_forward(x):
            return x * 2.0
        def f_backward(dout, x):
            return np.full_like(x, np.nan)
    '''))
    assert main(["check", f"{tmp_path / 'l.py'}::f", "--shapes", "3x2"]) == 1
    out = capsys.readouterr().out
    assert not out.startswith("OK") and "backward_nonfinite" in out


def test_none_gradients_fail():
    x, w = np.ones((2, 3)), np.ones((3, 2))
    assert not hg.check_backward(lambda x, w: x @ w, lambda d, x, w: (None, x.T @ d),
                                 [x, w], raise_exception=False)
    assert last_report()["diagnoses"] == {"x": "no_gradient"}
    assert not hg.check_backward(lambda x, w: x @ w, lambda d, x, w: (None, None),
                                 [x, w], raise_exception=False)
    assert set(last_report()["failed"]) == {"x", "w"}


def test_none_passes_only_where_the_output_does_not_depend():
    x, unused = np.ones((2, 3)), np.ones(4)
    assert hg.check_backward(lambda x, u: x * 3.0, lambda d, x, u: (3.0 * d, None),
                             [x, unused])


def test_nondeterministic_forward_gets_its_own_diagnosis():
    rng = np.random.default_rng()

    def dropout_forward(x):
        return x * (rng.random(x.shape) > 0.5) * 2.0

    def dropout_backward(dout, x):
        return dout * 2.0

    assert not hg.check_backward(dropout_forward, dropout_backward, [np.ones((3, 3))],
                                 raise_exception=False)
    assert last_report()["diagnosis"] == "nondeterministic"


def test_backward_ignoring_dout_is_named():
    def relu_backward(dout, x):
        return (x > 0) * 1.0   # forgot "dout *"

    x = np.random.default_rng(3).standard_normal((4, 5))
    assert not hg.check_backward(lambda x: np.maximum(x, 0), relu_backward, [x],
                                 raise_exception=False)
    assert last_report()["diagnosis"] == "dout_ignored"


# -- class-based layers ("Deep Learning from Scratch") -----------------------------------
class Affine:
    def __init__(self, W, b):
        self.W, self.b = W, b
        self.x = self.dW = self.db = None

    def forward(self, x):
        self.x = x
        return x @ self.W + self.b

    def backward(self, dout):
        self.dW = self.x.T @ dout
        self.db = dout.sum(axis=0)
        return dout @ self.W.T


class AffineTransposedDW(Affine):
    def backward(self, dout):
        dx = super().backward(dout)
        self.dW = self.dW.T
        return dx


class AffineParamsGrads:  # DLFS-2 style
    def __init__(self, W, b):
        self.params = [W, b]
        self.grads = [np.zeros_like(W), np.zeros_like(b)]
        self.x = None

    def forward(self, x):
        W, b = self.params
        self.x = x
        return x @ W + b

    def backward(self, dout):
        W, _ = self.params
        self.grads[0][...] = self.x.T @ dout
        self.grads[1][...] = dout.sum(axis=0) * 0.5   # bug: db halved
        return dout @ W.T


def _affine_args(rng, n=3):
    return rng.standard_normal((n, n)), rng.standard_normal(n)


def test_class_layer_checks_every_parameter_gradient():
    rng = np.random.default_rng(0)
    W, b = _affine_args(rng)
    x = rng.standard_normal((4, 3))
    assert check_layer(Affine(W, b), [x])
    assert set(last_report()["results"]) == {"x", "W", "b"}
    assert not check_layer(AffineTransposedDW(W, b), [x], raise_exception=False)
    assert last_report()["diagnoses"] == {"W": "transposed"}
    assert not check_layer(AffineParamsGrads(W.astype(np.float32), b.astype(np.float32)),
                           [x], raise_exception=False)
    assert last_report()["diagnoses"] == {"params[1]": "factor"}


def test_class_layer_is_given_back_unchanged():
    rng = np.random.default_rng(1)
    W, b = _affine_args(rng)
    layer = Affine(W, b)
    check_layer(layer, [rng.standard_normal((2, 3))])
    assert layer.W is W and layer.b is b


def test_loss_layer_with_backward_dout_1():
    class SoftmaxWithLoss:
        def forward(self, x, t):
            self.t = t
            e = np.exp(x - x.max(axis=1, keepdims=True))
            self.y = e / e.sum(axis=1, keepdims=True)
            return -np.log(self.y[np.arange(len(t)), t]).mean()

        def backward(self, dout=1):
            d = self.y.copy()
            d[np.arange(len(self.t)), self.t] -= 1
            return d * dout / len(self.t)

    x = np.random.default_rng(2).standard_normal((4, 3))
    assert check_layer(SoftmaxWithLoss(), [x, np.array([0, 1, 2, 1])])
    assert any("upstream gradient is 1" in n for n in last_report()["notes"])


def test_stateful_time_layer_is_reset_between_evaluations():
    class TimeScale:  # keeps a state across calls when stateful, as TimeRNN does
        def __init__(self, w):
            self.params, self.grads = [w], [np.zeros_like(w)]
            self.stateful, self.h = True, None

        def reset_state(self):
            self.h = None

        def forward(self, xs):
            (w,) = self.params
            h = np.zeros(xs.shape[1]) if self.h is None else self.h
            hs = []
            for t in range(xs.shape[0]):
                h = np.tanh(h * w + xs[t])
                hs.append(h)
            self.h, self.hs, self.xs = h, hs, xs
            return np.stack(hs)

        def backward(self, dhs):
            (w,) = self.params
            dh = np.zeros_like(self.hs[0])
            dxs = np.zeros_like(self.xs)
            dw = np.zeros_like(w)
            for t in reversed(range(len(self.hs))):
                da = (dhs[t] + dh) * (1 - self.hs[t] ** 2)
                prev = self.hs[t - 1] if t else np.zeros_like(dh)
                dw += (da * prev).sum()
                dxs[t] = da
                dh = da * w
            self.grads[0][...] = dw
            return dxs

    xs = np.random.default_rng(4).standard_normal((5, 3))
    assert check_layer(TimeScale(np.array(0.7)), [xs])


CLASS_FILE = '''
import numpy as np

class Affine:
    def __init__(self, W, b):
        self.W, self.b = W, b
        self.dW = self.db = None

    def forward(self, x):
        self.x = x
        return x @ self.W + self.b

    def backward(self, dout):
        self.dW = (self.x.T @ dout).T     # bug
        self.db = dout.sum(axis=0)
        return dout @ self.W.T

def Affine_inputs():
    rng = np.random.default_rng(0)
    return Affine(rng.standard_normal((3, 3)), np.zeros(3)), rng.standard_normal((4, 3))
'''


def test_cli_class_with_constructor_arguments(tmp_path, capsys):
    path = tmp_path / "dlfs.py"
    path.write_text(CLASS_FILE)
    assert main(["check", f"{path}::Affine"]) == 1          # from Affine_inputs()
    out = capsys.readouterr().out
    assert "parameter 'W'" in out and "DIAGNOSIS (transposed)" in out
    path.write_text(CLASS_FILE.split("def Affine_inputs")[0])
    assert main(["check", f"{path}::Affine", "--init", "3x3,3", "--shapes", "4x3"]) == 1
    assert "DIAGNOSIS (transposed)" in capsys.readouterr().out
    assert main(["check", f"{path}::Affine", "--shapes", "4x3"]) == 1
    assert "--init" in capsys.readouterr().err


def test_readme_checker_examples_work_as_printed():
    """The README's CS231n and class-based examples run as printed."""
    import re
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    wanted = [b for b in blocks if "affine_backward(dout, cache)" in b or "check_layer" in b]
    assert len(wanted) == 2
    env: dict = {"np": np, "hg": hg}
    for block in wanted:
        exec(block, env)  # noqa: S102 - the README's own code
    from handgrad.gradcheck import last_report

    assert last_report()["diagnoses"] == {"W": "transposed"}


def test_learners_exception_is_shown_as_theirs(tmp_path, capsys):
    (tmp_path / "mine.py").write_text(textwrap.dedent('''
        import numpy as np
        def affine_forward(x, w):
            return x @ w
        def affine_backward(dout, x, w):
            dw = x @ dout          # wrong shapes: (4, 3) @ (4, 5)
            return dout @ w.T, dw
    '''))
    assert main(["check", f"{tmp_path / 'mine.py'}::affine", "--shapes", "4x3,3x5"]) == 1
    err = capsys.readouterr().err
    assert "your code raised ValueError" in err
    assert "mine.py, line 6, in affine_backward" in err and "dw = x @ dout" in err
    assert "numpy" not in err.split("\n", 1)[1]


def test_reports_in_korean(layers_file, capsys):
    from handgrad.i18n import set_lang

    try:
        assert main(["check", f"{layers_file}::affine", "--shapes", "4x3,3x3",
                     "--lang", "ko"]) == 1
    finally:
        set_lang(None)
    out = capsys.readouterr().out
    assert out.startswith("기울기 확인 실패") and "요약 (transposed): 기울기가 전치되어" in out
    assert main(["check", f"{layers_file}::affine", "--shapes", "4x3,3x3"]) == 1
    assert capsys.readouterr().out.startswith("gradcheck FAILED")
    assert main(["check", f"{layers_file}::affine", "--lang", "fr"]) == 2


def test_cs231n_settings_dict_from_the_command_line(tmp_path, capsys):
    import inspect

    from tests.check import zoo

    src = ("import numpy as np\n" + inspect.getsource(zoo.conv_forward_naive) + "\n"
           + inspect.getsource(zoo._conv_backward) + "\n"
           + "conv_backward_naive = _conv_backward('')\n")
    (tmp_path / "layers.py").write_text(src)
    target = f"{tmp_path / 'layers.py'}::conv"
    path_naive = src.replace("def conv_forward_naive", "def conv_forward")
    (tmp_path / "layers.py").write_text(path_naive.replace("conv_backward_naive =",
                                                           "conv_backward ="))
    assert main(["check", target, "--shapes", "2x2x5x5,3x2x3x3,3",
                 "--param", "stride=2,pad=1"]) == 0, capsys.readouterr()
    assert capsys.readouterr().out.startswith("OK")
    assert main(["check", target, "--shapes", "2x2x5x5,3x2x3x3,3", "--param", "stride"]) == 1
    assert "K=V pairs" in capsys.readouterr().err
