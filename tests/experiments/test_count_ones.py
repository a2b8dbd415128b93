"""The counting-ones experiment: hand-written BPTT, Rprop, and the files it writes."""

from __future__ import annotations

import json

import numpy as np
import pytest

from handgrad.experiments import count_ones as co


@pytest.fixture(scope="module")
def data():
    return co.make_data()


def test_data_is_the_tutorials(data):
    X, t = data
    # the exact stream of np.random.seed(1); np.around(np.random.rand(10)) row by row
    rs = np.random.RandomState(1)
    expected = np.stack([np.around(rs.rand(10)) for _ in range(100)])
    np.testing.assert_array_equal(X, expected)
    np.testing.assert_array_equal(t, X.sum(axis=1))
    assert X.shape == (100, 10) and set(np.unique(X)) <= {0.0, 1.0}


def test_bptt_by_hand_matches_numerical_gradient_at_1_2(data):
    X, t = data
    w = np.array([1.2, 1.2])
    _, g = co.loss_and_gradients(X, t, w)
    num = co.numerical_gradient(X, t, w)
    np.testing.assert_allclose(g, num, rtol=1e-7)


@pytest.mark.parametrize("w", [(-1.5, 2.0), (1.0, 1.0), (0.3, -0.7), (2.0, 0.5)])
def test_bptt_matches_autograd(data, w):
    """The loop by hand against handgrad's own autograd of the same recurrence."""
    import handgrad as hg

    X, t = data
    w_x = hg.tensor(np.array(w[0]), requires_grad=True)
    w_rec = hg.tensor(np.array(w[1]), requires_grad=True)
    s = hg.tensor(np.zeros(X.shape[0]))
    for k in range(X.shape[1]):
        s = s * w_rec + hg.tensor(X[:, k]) * w_x
    loss = ((s - hg.tensor(t)) ** 2).mean()
    loss.backward()
    L, g = co.loss_and_gradients(X, t, np.array(w))
    np.testing.assert_allclose(L, loss.item(), rtol=1e-12)
    np.testing.assert_allclose(g, [w_x.grad, w_rec.grad], rtol=1e-10)


def test_a_wrong_bptt_would_be_caught(data):
    """Only the last step's contribution (the learner's slip) differs from the truth."""
    X, t = data
    w = (1.2, 1.2)
    S = co.forward_states(X, *w)
    dy = co.output_gradient(S[:, -1], t)
    last_step_only = np.sum(dy * X[:, -1])
    num = co.numerical_gradient(X, t, np.array(w))
    assert abs(last_step_only - num[0]) > 0.1 * abs(num[0])


def test_gradient_over_time_is_w_rec_power(data):
    X, _ = data
    for w_x, w_rec in co.GRADIENT_PAIRS:
        S = co.forward_states(X[:4], w_x, w_rec)
        _, got = co.backward_gradient(X[:4], S, np.ones(4), w_rec)
        closed = w_rec ** (10 - np.arange(11.0))
        np.testing.assert_allclose(got, np.broadcast_to(closed, got.shape), rtol=1e-12)


def test_rprop_ends_near_one_one_and_sgd_explodes(data):
    X, t = data
    r = co.train_rprop(X, t, (-1.5, 2.0), 500)
    np.testing.assert_allclose(r["w"], [1.0, 1.0], atol=0.01)
    assert r["final_loss"] < 1e-4
    sgd = co.train_sgd(X, t, (-1.5, 2.0), 0.02, 500)
    assert sgd["diverged_at"] is not None
    clipped = co.train_sgd(X, t, (-1.5, 2.0), 0.02, 500, clip_max_norm=1.0)
    assert clipped["diverged_at"] is None and np.isfinite(clipped["final_loss"])


def test_run_writes_files_and_metrics(tmp_path):
    m = co.run({"out": tmp_path, "grid": 21, "iterations": 500})
    for name in ("metrics.json", "loss_surface.png", "gradients_over_time.png",
                 "training.png"):
        assert (tmp_path / name).stat().st_size > 0, name
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved["gradient_check"]["relative_error"] < 1e-7
    assert saved["gradient_check"]["handgrad_check_backward"] == {"used": True, "passed": True}
    rp = saved["training"]["rprop"]
    assert abs(rp["final_w_x"] - 1) < 0.01 and abs(rp["final_w_rec"] - 1) < 0.01
    assert saved["training"]["sgd"]["diverged_at"] is not None
    for row in saved["long_sequences"]:
        assert row["rounded"] == row["true_count"]
    assert m["gradient_check"]["relative_error"] < 1e-7


def test_cli(tmp_path, capsys):
    from handgrad.cli import main

    assert main(["experiment", "count-ones", "--quick", "--out", str(tmp_path)]) == 0
    text = capsys.readouterr().out
    assert "Rprop (tutorial rule)" in text and "relative error" in text
    assert (tmp_path / "metrics.json").exists()
