"""handgrad experiment linreg: the week-1 numbers, the four errors and their friendly checks."""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

import handgrad as hg
from handgrad.experiments import linreg_sgd as L


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    out = tmp_path_factory.mktemp("linreg")
    metrics = L.run({"out": str(out)})
    return metrics, out


# ---------------------------------------------------------------------------------
# 1. gradient descent on f(x) = x^2 + 2x + 3
# ---------------------------------------------------------------------------------
def test_iteration_counts_673_and_672(result):
    g = result[0]["gradient_descent_1d"]
    assert g["analytic"]["iterations"] == 673
    assert g["difference_quotient"]["iterations"] == 672
    assert g["autograd"]["iterations"] == 673
    for key in ("analytic", "difference_quotient", "autograd"):
        assert g[key]["x"] == pytest.approx(-1.0, abs=1e-4)
        assert g[key]["f"] == pytest.approx(2.0, abs=1e-8)
        assert abs(g[key]["final_grad"]) <= 1e-5


def test_the_count_follows_from_the_contraction():
    # f'(x_k) = 8 * 0.98^k: the first k with 8 * 0.98^k <= 1e-5
    k = math.ceil(math.log(1e-5 / 8) / math.log(0.98))
    assert k == 673
    assert L.gradient_descent_1d(L.f_prime)["iterations"] == k
    # the difference quotient's 672 is rounding, decided by how f is evaluated
    expanded = lambda v: v**2 + 2 * v + 3  # noqa: E731
    count = L.gradient_descent_1d(lambda v: L.difference_quotient(expanded, v))["iterations"]
    assert count == 673
    assert L.gradient_descent_1d(lambda v: L.difference_quotient(L.f, v))["iterations"] == 672


def test_autograd_derivative_matches_formula():
    for v in (-3.0, -1.0, 0.0, 0.5, 3.0):
        assert L.autograd_derivative(v) == pytest.approx(2 * v + 2, abs=1e-12)


def test_gradient_descent_1d_refuses_to_loop_forever():
    with pytest.raises(RuntimeError, match="lr=1.5 too large"):
        L.gradient_descent_1d(L.f_prime, lr=1.5, max_iterations=50)


# ---------------------------------------------------------------------------------
# 2. linear regression, GD and SGD
# ---------------------------------------------------------------------------------
def test_w_is_7_while_b_is_1_27_after_100(result):
    m = result[0]["linreg_gd"]
    assert m["w_at_100"] == pytest.approx(7.0, abs=0.01)
    assert m["b_at_100"] == pytest.approx(1.27, abs=0.005)
    assert m["b_formula_at_100"] == pytest.approx(1.268, abs=1e-3)
    assert m["b_at_500"] == pytest.approx(2.0, abs=0.02)
    assert 400 <= m["first_iteration_b_within_0.02"] <= 520
    assert m["first_iteration_w_within_0.02"] < 100
    assert m["max_hand_vs_autograd_gradient"] < 1e-10


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_b_at_100_is_near_1_27_for_other_samples(seed):
    hg.manual_seed(seed)
    x, y = L.make_linear_data(1000)
    hist = L.fit_gd(x, y, 1e-2, 100)
    assert hist["w"][100] == pytest.approx(7.0, abs=0.05)
    # the sample's mean(x) couples b to w: 1.268 + something of the sign of mean(x)
    assert hist["b"][100] == pytest.approx(1.268, abs=0.1)
    assert np.sign(hist["b"][100] - 1.268) == np.sign(x.mean())


def test_hand_gradient_matches_central_differences():
    rng = np.random.default_rng(0)
    x = rng.uniform(-5, 5, 50)
    y = 7 * x + 2
    _, gw, gb = L.linreg_gradients(x, y, 0.3, -0.2)
    h = 1e-6
    num_w = (L.linreg_gradients(x, y, 0.3 + h, -0.2)[0] -
             L.linreg_gradients(x, y, 0.3 - h, -0.2)[0]) / (2 * h)
    num_b = (L.linreg_gradients(x, y, 0.3, -0.2 + h)[0] -
             L.linreg_gradients(x, y, 0.3, -0.2 - h)[0]) / (2 * h)
    assert gw == pytest.approx(num_w, rel=1e-6) and gb == pytest.approx(num_b, rel=1e-6)


def test_sgd_beside_gd(result):
    s = result[0]["linreg_sgd"]
    assert s["batch_size"] == 10 and s["updates_per_epoch"] == 100
    assert s["final_w"] == pytest.approx(7.0, abs=0.01)
    assert s["final_b"] == pytest.approx(2.0, abs=0.02)
    # one pass over the data: 100 SGD updates against a single GD update
    assert s["epoch_loss"][1] < 1.0 < s["epoch_loss"][0]
    assert abs(s["w_after_1_epoch"] - 7) < abs(s["gd_w_after_1_epoch_of_data"] - 7)


def test_divergence_is_explained_with_the_stable_range():
    hg.manual_seed(0)
    x, y = L.make_linear_data(200)
    with pytest.raises(ValueError, match=r"fit_gd: diverged at step \d+ with lr=0.5.*"
                                         r"stable only for lr < 2 / lambda_max.* = 0\.2"):
        L.fit_gd(x, y, lr=0.5, iterations=200)
    with pytest.raises(ValueError, match="fit_sgd: diverged"):
        L.fit_sgd(x, y, lr=2.0, epochs=2, batch_size=10)
    with pytest.raises(ValueError, match=r"fit_multivariate: diverged.*= 0\.10"):
        L.fit_multivariate(lr=0.5, iterations=500)


def test_short_runs_print_a_summary(tmp_path, capsys):
    from handgrad import cli

    assert cli.main(["experiment", "linreg", "--out", str(tmp_path), "--iterations", "50",
                     "--epochs", "1"]) == 0
    assert "w = n/a" in capsys.readouterr().out


def test_sgd_rejects_bad_batch():
    with pytest.raises(ValueError, match="batch_size"):
        L.fit_sgd(np.ones(3), np.ones(3), batch_size=0)


# ---------------------------------------------------------------------------------
# 3. multivariate
# ---------------------------------------------------------------------------------
def test_multivariate_converges_to_1_3_5_7(result):
    m = result[0]["multivariate"]
    assert np.asarray(m["X"]).shape == (6, 3)
    np.testing.assert_allclose(m["beta"], [1, 3, 5, 7], atol=1e-4)
    assert m["max_hand_vs_autograd_gradient"] < 1e-9


def test_multivariate_checks_shapes():
    with pytest.raises(ValueError, match=r"y must have shape \(6,\)"):
        L.fit_multivariate(L.MULTI_X, np.ones(5), iterations=1)


# ---------------------------------------------------------------------------------
# 4. the four errors
# ---------------------------------------------------------------------------------
R = np.array([0.5, -1.0, 2.0, 0.0, -0.25])


def test_error_values():
    n = R.size
    sse = float(np.sum(R**2))
    assert L.sse(R) == pytest.approx(sse)
    assert L.mse(R) == pytest.approx(sse / n)
    assert L.rmse(R) == pytest.approx(math.sqrt(sse / n))
    assert L.l2_norm(R) == pytest.approx(np.linalg.norm(R))
    assert L.l2_norm(R) == pytest.approx(L.rmse(R) * math.sqrt(n))


@pytest.mark.parametrize("name", list(L.ERRORS))
def test_error_gradients_match_central_differences(name):
    value, grad = L.ERRORS[name]
    g = grad(R)
    h = 1e-6
    num = np.array([(value(R + h * e) - value(R - h * e)) / (2 * h) for e in np.eye(R.size)])
    np.testing.assert_allclose(g, num, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("name", list(L.ERRORS))
@pytest.mark.parametrize("axis", [None, 0, 1, -1, (0, 1)])
def test_error_gradients_match_autograd_on_2d(name, axis):
    r = np.random.default_rng(1).normal(size=(4, 3))
    value, grad = L.ERRORS[name]
    t = hg.tensor(r, requires_grad=True)
    sq = t * t
    if name == "SSE":
        e = sq.sum(dim=axis)
    elif name == "MSE":
        e = sq.mean(dim=axis)
    elif name == "RMSE":
        e = sq.mean(dim=axis).sqrt()
    else:
        e = sq.sum(dim=axis).sqrt()
    np.testing.assert_allclose(e.data, value(r, axis=axis), rtol=1e-12)
    e.sum().backward()
    np.testing.assert_allclose(t.grad, grad(r, axis=axis), rtol=1e-10)


def test_l2_gradient_divides_by_the_norm(result):
    g = L.l2_norm_grad(R)
    np.testing.assert_allclose(g, R / np.linalg.norm(R))
    np.testing.assert_allclose(g, L.sse_grad(R) / (2 * L.l2_norm(R)))
    assert np.linalg.norm(g) == pytest.approx(1.0)
    big = L.l2_norm_grad(1000 * R)
    np.testing.assert_allclose(big, g)  # the size of the error does not matter
    e = result[0]["errors"]
    assert e["ratios"]["L2_grad_is_SSE_grad_over_2_norm"]
    assert e["ratios"]["L2_grad_length"] == pytest.approx(1.0)
    assert e["ratios"]["SSE/MSE"] == pytest.approx(1000)
    assert e["ratios"]["L2/RMSE"] == pytest.approx(math.sqrt(1000))
    assert e["max_autograd_vs_hand"] < 1e-9


def test_errors_differ_in_scale_and_as_losses(result):
    e = result[0]["errors"]
    vals = {k: v["value"] for k, v in e["at_w_b_zero"].items()}
    assert vals["SSE"] > vals["L2"] > vals["MSE"] > vals["RMSE"]
    assert e["as_loss"]["SSE"]["diverged_at"] is not None  # n times MSE's gradient
    assert e["as_loss"]["MSE"]["diverged_at"] is None
    assert e["as_loss"]["MSE"]["final_b"] == pytest.approx(2.0, abs=0.05)


def test_zero_residual_has_zero_gradient_not_nan():
    z = np.zeros(4)
    for name in ("RMSE", "L2"):
        g = L.ERRORS[name][1](z)
        assert np.array_equal(g, np.zeros(4)), name


class Opaque:
    """A number-like object NumPy cannot take sqrt of (like SymPy's Float)."""

    def __init__(self, v):
        self.v = v

    def __mul__(self, other):
        return Opaque(self.v * getattr(other, "v", other))

    def __float__(self):
        return float(self.v)

    def __repr__(self):
        return f"Opaque({self.v})"


def _object_residuals():
    cases = [np.array([Fraction(1, 2), Fraction(-3, 4)], dtype=object),
             np.array([Opaque(1.0), Opaque(2.0)], dtype=object),
             [Fraction(1, 3), 0.5]]
    try:
        import sympy

        x = sympy.symbols("x")
        cases.append(np.array([(x**2).subs(x, 1.5), (x**2).subs(x, -0.5)]))
    except ImportError:
        pass
    return cases


@pytest.mark.parametrize("residual", _object_residuals(), ids=lambda r: type(r[0]).__name__)
@pytest.mark.parametrize("name", list(L.ERRORS))
def test_object_arrays_get_a_friendly_type_error(residual, name):
    value, grad = L.ERRORS[name]
    for fn in (value, grad):
        with pytest.raises(TypeError, match=r"dtype=object.*np\.asarray\(residual, "
                                            r"dtype=float\)"):
            fn(residual)
    # and the advice works
    arr = np.asarray(residual, dtype=float)
    assert np.isfinite(value(arr))


def test_numpy_itself_fails_cryptically_on_sympy_floats():
    sympy = pytest.importorskip("sympy")
    r = np.array([sympy.Float(1.5), sympy.Float(-0.5)])
    with pytest.raises((TypeError, AttributeError)):
        np.linalg.norm(r)  # what the learner hit: no callable sqrt method


@pytest.mark.parametrize("name", list(L.ERRORS))
def test_axis_1_on_a_1d_residual(name):
    value, grad = L.ERRORS[name]
    for fn in (value, grad):
        with pytest.raises(ValueError, match=r"residual is 1-D.*axis=0 or axis=None"):
            fn(R, axis=1)
    assert value(R, axis=0) == pytest.approx(value(R))
    assert value(R, axis=-1) == pytest.approx(value(R))


def test_other_bad_inputs():
    with pytest.raises(ValueError, match="out of range.*2 dims"):
        L.mse(np.ones((2, 3)), axis=2)
    with pytest.raises(TypeError, match="numeric"):
        L.sse(np.array(["a", "b"]))
    with pytest.raises(TypeError, match="axis must be"):
        L.sse(R, axis=1.0)
    with pytest.raises(ValueError, match="repeats"):
        L.sse(np.ones((2, 2)), axis=(0, 0))
    assert L.sse(np.array([1, 2])) == 5.0  # ints are fine
    assert L.sse(hg.tensor(np.array([3.0, 4.0]))) == 25.0


# ---------------------------------------------------------------------------------
# outputs and command line
# ---------------------------------------------------------------------------------
def test_writes_metrics_and_plots(result):
    metrics, out = result
    data = json.loads((out / "metrics.json").read_text())
    assert data["gradient_descent_1d"]["analytic"]["iterations"] == 673
    assert data["experiment"] == "linreg"
    for name in ("gd_1d.png", "linreg_w_b.png", "sgd_vs_gd.png", "multivariate.png",
                 "errors.png"):
        path = out / name
        assert path.stat().st_size > 5000, name
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(metrics["plots"]) == sorted(p.name for p in out.glob("*.png"))


def test_unknown_config_key(tmp_path):
    with pytest.raises(ValueError, match="unknown config keys"):
        L.run({"out": str(tmp_path), "learning_rate": 1})


def test_cli_subprocess(tmp_path):
    out = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": str(Path(L.__file__).parents[2])}
    proc = subprocess.run([sys.executable, "-m", "handgrad", "experiment", "linreg", "--out",
                           str(out)], capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr
    assert "673" in proc.stdout and "672" in proc.stdout
    assert re.search(r"after 100 iterations: w = 6\.99\d+, b = 1\.2[67]", proc.stdout)
    assert (out / "metrics.json").exists() and (out / "errors.png").exists()


def test_cli_bad_option_is_one_line(capsys):
    from handgrad import cli

    assert cli.main(["experiment", "linreg", "--batch-size", "0"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["handgrad experiment linreg: error: argument --batch-size: must be a "
                   "positive integer, got '0' (see 'handgrad experiment linreg --help')"]
