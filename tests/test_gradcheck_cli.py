"""handgrad check FILE::NAME on a learner's file: exit codes and what is printed."""

from __future__ import annotations

import textwrap

import pytest

from handgrad.cli import main
from handgrad.gradcheck_cli import parse_shapes

LEARNER_FILE = textwrap.dedent('''
    import numpy as np

    def affine_forward(x, w, b):
        out = x @ w + b
        return out, (x, w, b)

    def affine_backward(dout, cache):
        x, w, b = cache
        return dout @ w.T, x.T @ dout, dout.sum(axis=0)

    def square_forward(x):
        return x * x

    def square_backward(dout, x):
        return -2 * x * dout          # broken on purpose: the sign

    def square_inputs():
        return (np.linspace(-1, 1, 6).reshape(2, 3),)

    def mean_forward(x):
        return (x ** 2).mean()

    def mean_backward(dout, x):
        return dout * 2 * x           # broken on purpose: forgot 1/N of the mean

    def rnn_forward(x, h0, wx, wh):   # h_t = tanh(x_t wx + h_{t-1} wh)
        h, hs = h0, []
        for t in range(x.shape[0]):
            h = np.tanh(x[t] @ wx + h @ wh)
            hs.append(h)
        return np.stack(hs)

    def rnn_backward(dout, x, h0, wx, wh):
        h = rnn_forward(x, h0, wx, wh)
        dx, dwx, dwh = np.zeros_like(x), np.zeros_like(wx), np.zeros_like(wh)
        dh_next = np.zeros_like(h0)
        for t in reversed(range(x.shape[0])):
            da = (dout[t] + 0 * dh_next) * (1 - h[t] ** 2)   # broken: dh_next dropped
            dx[t] = da @ wx.T
            dwx += x[t].T @ da
            dwh += (h[t - 1] if t else h0).T @ da
            dh_next = da @ wh.T
        return dx, dh_next, dwx, dwh

    def rnn_inputs():
        rng = np.random.default_rng(0)
        return (rng.standard_normal((5, 2, 3)), rng.standard_normal((2, 2)),
                rng.standard_normal((3, 2)) * 0.5, rng.standard_normal((2, 2)) * 0.5)

    class Tanh:                       # "Deep Learning from Scratch" style, stateful
        def forward(self, x):
            self.out = np.tanh(x)
            return self.out

        def backward(self, dout):
            return dout * (1 - self.out ** 2)

        def inputs(self):
            return [np.linspace(-2, 2, 8).reshape(2, 4)]
''')


@pytest.fixture
def learner(tmp_path):
    path = tmp_path / "my_layers.py"
    path.write_text(LEARNER_FILE)
    return str(path)


def test_correct_pair_prints_ok(learner, capsys):
    assert main(["check", f"{learner}::affine", "--shapes", "4x3,3x5,5"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("OK: affine_forward/affine_backward")
    assert "input 'w' shape (3, 5)" in out


def test_broken_pair_prints_the_report(learner, capsys):
    assert main(["check", f"{learner}::square"]) == 1  # inputs from square_inputs()
    out = capsys.readouterr().out
    assert "gradcheck FAILED for square_forward/square_backward" in out
    assert "input 'x' shape (2, 3)" in out
    assert "DIAGNOSIS (sign)" in out


def test_factor_diagnosis_from_the_command_line(learner, capsys):
    assert main(["check", f"{learner}::mean", "--shapes", "3x4"]) == 1
    out = capsys.readouterr().out
    assert "DIAGNOSIS (factor)" in out and "analytic = 12 x numeric" in out


def test_class_with_forward_and_backward(learner, capsys):
    assert main(["check", f"{learner}::Tanh"]) == 0
    assert capsys.readouterr().out.startswith("OK: Tanh.forward/backward")


def test_time_dim_names_the_step_where_bptt_departs(learner, capsys):
    assert main(["check", f"{learner}::rnn", "--time-dim", "0"]) == 1
    out = capsys.readouterr().out
    assert "per time step, dx[t]" in out
    assert "first departs at time step t=3" in out  # T=5: t=4 right, t=3 wrong


def test_unknown_name_lists_what_is_there(learner, capsys):
    assert main(["check", f"{learner}::conv", "--shapes", "2"]) == 1
    err = capsys.readouterr().err
    assert "no pair named 'conv'" in err
    assert "affine" in err and "Tanh" in err


def test_missing_inputs_say_how_to_give_them(learner, capsys):
    assert main(["check", f"{learner}::affine"]) == 1
    assert "--shapes" in capsys.readouterr().err


def test_bad_target_and_missing_file(tmp_path, capsys):
    assert main(["check", "no_separator.py"]) == 1
    assert "FILE::NAME" in capsys.readouterr().err
    assert main(["check", f"{tmp_path}/absent.py::f", "--shapes", "2"]) == 1
    assert "no such file" in capsys.readouterr().err


def test_parse_shapes():
    assert parse_shapes("4x3,3x5,5") == [(4, 3), (3, 5), (5,)]
    assert parse_shapes("()") == [()]
    with pytest.raises(ValueError, match="--shapes"):
        parse_shapes("4xa")
