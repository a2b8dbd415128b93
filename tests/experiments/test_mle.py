"""handgrad experiment mle: gradient ascent with autograd reaches the closed form."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from handgrad.experiments import mle as M


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    out = tmp_path_factory.mktemp("mle")
    return M.run({"out": str(out)}), out


def test_ascent_matches_closed_form(result):
    m = result[0]
    g, c = m["gradient_ascent"], m["closed_form"]
    assert g["converged"]
    assert g["mu"] == pytest.approx(c["mu"], abs=1e-10)
    assert g["var"] == pytest.approx(c["var_mle"], abs=1e-9)
    assert g["max_hand_vs_autograd"] < 1e-12
    assert m["abs_diff"]["var"] < 1e-9
    assert g["final_log_likelihood"] == pytest.approx(m["log_likelihood_at_closed_form"],
                                                      abs=1e-12)
    # the data really came from N(2, 1.5^2)
    assert c["mu"] == pytest.approx(2.0, abs=0.2)
    assert c["var_mle"] == pytest.approx(2.25, rel=0.15)


def test_closed_form_is_mean_and_1_over_n_variance():
    x = np.array([1.0, 2.0, 4.0, 7.0])
    c = M.closed_form(x)
    assert c["mu"] == 3.5
    assert c["var_mle"] == pytest.approx(np.sum((x - 3.5) ** 2) / 4)
    assert c["var_unbiased"] == pytest.approx(np.sum((x - 3.5) ** 2) / 3)
    g = M.gradient_ascent(x, lr=2.0)
    assert g["converged"]
    assert g["mu"] == pytest.approx(3.5, abs=1e-10)
    assert g["var"] == pytest.approx(c["var_mle"], abs=1e-9)


def test_unbiased_variance_and_bias(result):
    m = result[0]
    n = m["data"]["n"]
    c = m["closed_form"]
    assert c["var_unbiased"] == pytest.approx(c["var_mle"] * n / (n - 1))
    b = m["variance_bias"]
    assert b["mean_var_mle"] == pytest.approx(b["expected_var_mle"], abs=0.02)
    assert b["mean_var_unbiased"] == pytest.approx(1.0, abs=0.025)


def test_likelihoods_of_x0(result):
    lx = result[0]["likelihood_x0"]
    assert lx["x0"] == 1.0
    assert round(lx["N(-1,1)"], 4) == 0.0540
    assert round(lx["N(0,1)"], 4) == 0.2420
    assert round(lx["N(1,1)"], 4) == 0.3989
    for key, value in result[0]["likelihood_x0_formula"].items():
        assert lx[key] == pytest.approx(value, rel=1e-12)
    assert lx["N(1,1)"] == pytest.approx(1 / math.sqrt(2 * math.pi))


def test_hand_gradient_matches_central_differences():
    x = np.random.default_rng(3).normal(1.0, 2.0, 50)
    h = 1e-6
    g_mu, g_var = M.log_likelihood_grad(x, 0.3, 1.7)
    num_mu = (M.log_likelihood(x, 0.3 + h, 1.7) - M.log_likelihood(x, 0.3 - h, 1.7)) / (2 * h)
    num_var = (M.log_likelihood(x, 0.3, 1.7 + h) - M.log_likelihood(x, 0.3, 1.7 - h)) / (2 * h)
    assert g_mu == pytest.approx(num_mu, rel=1e-6)
    assert g_var == pytest.approx(num_var, rel=1e-6)


def test_too_large_lr_is_explained():
    with pytest.raises(ValueError, match=r"variance .* <= 0; lower lr"):
        M.gradient_ascent(np.array([0.0, 0.1]), lr=10.0)


def test_bad_data():
    with pytest.raises(TypeError, match=r"np\.asarray\(x, dtype=float\)"):
        M.closed_form(np.array([1, "a"], dtype=object))
    with pytest.raises(ValueError, match="at least 2"):
        M.gradient_ascent(np.array([1.0]))
    with pytest.raises(ValueError, match="lr must be positive"):
        M.gradient_ascent(np.array([1.0, 2.0]), lr=0)


def test_writes_metrics_and_plots(result):
    m, out = result
    data = json.loads((out / "metrics.json").read_text())
    assert data["experiment"] == "mle"
    assert round(data["likelihood_x0"]["N(0,1)"], 4) == 0.2420
    for name in ("mle_ascent.png", "likelihood.png"):
        assert (out / name).read_bytes()[:4] == b"\x89PNG"
    assert m["plots"] == ["mle_ascent.png", "likelihood.png"]


def test_cli_main(tmp_path, capsys):
    from handgrad import cli

    assert cli.main(["experiment", "mle", "--out", str(tmp_path), "--n", "50"]) == 0
    text = capsys.readouterr().out
    assert "0.0540" in text and "0.2420" in text and "0.3989" in text
    assert (tmp_path / "metrics.json").exists()
    assert cli.main(["experiment", "mle", "--n", "1"]) == 1
    assert "--n must be at least 2" in capsys.readouterr().err
