"""handgrad.detect_anomaly: the first NaN/Inf names its op, its inputs and the user line."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

import handgrad as hg
from handgrad import function as hg_function
from handgrad.anomaly import AnomalyError, is_anomaly_enabled


def _line() -> int:
    """The caller's line number."""
    return inspect.currentframe().f_back.f_lineno


def test_forward_nan_names_op_inputs_and_line():
    x = hg.tensor(np.array([[-1.0, 2.0, 3.0]]), requires_grad=True)
    with hg.detect_anomaly(), pytest.raises(AnomalyError) as err:
        y = x * 2.0
        line = _line() + 1
        y.log()
    e = err.value
    assert isinstance(e, FloatingPointError)
    assert e.op == "Log" and e.phase == "forward"
    assert e.inputs == ["float64 (1, 3)"]
    assert e.trace == f"{__file__}:{line} in test_forward_nan_names_op_inputs_and_line"
    text = str(e)
    assert "Log forward produced nan" in text and "index (0, 0)" in text
    assert "y.log()" in text and "likely cause" in text and "x < 0" in text


def test_forward_inf_from_division_by_zero_without_grad():
    a = hg.tensor([1.0, 0.0])
    with hg.detect_anomaly(), pytest.raises(AnomalyError, match=r"Div forward produced inf"):
        a / hg.tensor([0.0, 1.0])


def test_backward_inf_names_op_and_forward_line():
    x = hg.tensor([0.0, 4.0], requires_grad=True)
    with hg.detect_anomaly():
        line = _line() + 1
        y = x.sqrt().sum()  # forward is finite: sqrt(0) = 0
        with pytest.raises(AnomalyError) as err:
            y.backward()
    e = err.value
    assert e.op == "Sqrt" and e.phase == "backward"
    assert e.trace.startswith(f"{__file__}:{line} ")
    assert "float32 (2,)" in str(e) and "gradient for input 0" in str(e)
    assert "1/(2 sqrt(x))" in str(e)


def test_backward_nan_of_l2_norm_at_zero_vector():
    # ||r|| = sqrt(sum r^2); its gradient r/||r|| is 0/0 at r = 0, the learner's L2 error
    r = hg.tensor(np.zeros(3), requires_grad=True)
    with hg.detect_anomaly():
        norm = ((r * r).sum()).sqrt()
        with pytest.raises(AnomalyError, match="Sqrt backward produced inf"):
            norm.backward()


def test_nan_already_in_the_data_is_reported_as_such():
    x = hg.tensor([np.nan, 1.0])
    with hg.detect_anomaly(), pytest.raises(AnomalyError, match="already held NaN") as err:
        x + 1.0
    assert err.value.op == "Add"


def test_line_through_a_module_is_the_callers():
    from handgrad import nn

    hg.manual_seed(0)
    layer = nn.Linear(3, 2)
    layer.weight.data[0, 0] = np.inf
    x = hg.tensor(np.ones((4, 3), np.float32))
    with hg.detect_anomaly(), pytest.raises(AnomalyError) as err:
        line = _line() + 1
        layer(x)
    assert err.value.trace.startswith(f"{__file__}:{line} ")
    assert "float32 (4, 3)" in str(err.value) and "float32 (2, 3)" in str(err.value)


def test_finite_runs_are_unchanged_and_traced():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(3, 4))
    b = rng.normal(size=(4, 2))
    grads = []
    for on in (False, True):
        x = hg.tensor(a, requires_grad=True)
        w = hg.tensor(b, requires_grad=True)
        with hg.detect_anomaly(on):
            out = (x @ w).tanh()
            loss = (out * out).mean()
            loss.backward()
        grads.append((x.grad, w.grad, out.grad_fn.trace))
    np.testing.assert_array_equal(grads[0][0], grads[1][0])
    np.testing.assert_array_equal(grads[0][1], grads[1][1])
    assert grads[0][2] is None, "no trace recorded when detection is off"
    assert grads[1][2].startswith(__file__)


def test_integer_outputs_are_fine():
    with hg.detect_anomaly():
        i = hg.tensor(np.arange(4)) + 1
    assert i.dtype == np.int64


def test_off_by_default_and_restored():
    assert hg_function._anomaly_hook is None
    assert not is_anomaly_enabled()
    with hg.detect_anomaly():
        outer = hg_function._anomaly_hook
        assert outer is not None and is_anomaly_enabled()
        with hg.detect_anomaly(False):
            assert hg_function._anomaly_hook is None
            with np.errstate(invalid="ignore"):
                assert np.isnan(hg.tensor([-1.0]).sqrt().data).all()  # passes unchecked
        assert hg_function._anomaly_hook is outer
        with hg.detect_anomaly():
            assert hg_function._anomaly_hook is not outer
        assert hg_function._anomaly_hook is outer
    assert hg_function._anomaly_hook is None
    # restored after an error escapes too
    with pytest.raises(AnomalyError), hg.detect_anomaly():
        hg.tensor([0.0]).log()
    assert hg_function._anomaly_hook is None


def test_off_means_no_check():
    with np.errstate(divide="ignore"):
        y = hg.tensor([0.0]).log()  # no error: detection is off
    assert np.isneginf(y.data).all()


def test_lazy_public_names():
    assert hg.detect_anomaly is __import__("handgrad.anomaly").anomaly.detect_anomaly
    assert issubclass(AnomalyError, FloatingPointError)
