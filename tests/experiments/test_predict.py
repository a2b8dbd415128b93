"""`handgrad predict MODEL IMAGE`: a user's digit image, prepared as MNIST was, classified;
one-line errors for missing or damaged files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import handgrad as hg
from handgrad.cli import main as cli_main
from handgrad.data import load_mnist
from handgrad.experiments import mnist_cnn
from handgrad.experiments.predict import load_image, predict, prepare_digit


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("model")
    mnist_cnn.run({"limit": 1024, "epochs": 2, "quiet": True, "plots": False,
                   "test_limit": 100, "out": str(out)})
    return out / "model.npz"


@pytest.fixture(scope="module")
def digits():
    x, y = load_mnist("test", normalize=False)
    return np.rint(x[:40, 0] * 255).astype(np.uint8), y[:40]


def test_png_of_a_digit_gives_the_models_own_prediction(trained, digits, tmp_path):
    images, labels = digits
    model, meta = mnist_cnn.load_model(trained)
    x, _ = load_mnist("test")
    expected = mnist_cnn.softmax(mnist_cnn.predict_logits(model, x[:40]).astype(np.float64))
    for i in range(6):
        path = tmp_path / f"digit{i}.png"
        Image.fromarray(images[i]).save(path)
        r = predict(trained, path)
        assert not r["inverted"]
        np.testing.assert_array_equal(r["digit"], images[i])  # a 28x28 PNG is used as is
        np.testing.assert_allclose(r["probabilities"], expected[i], rtol=1e-5, atol=1e-6)
        assert r["prediction"] == int(expected[i].argmax())
        assert abs(sum(r["probabilities"]) - 1) < 1e-9


def test_large_dark_on_light_photo_is_inverted_resized_and_centred(trained, digits,
                                                                   tmp_path):
    images, labels = digits
    model, _ = mnist_cnn.load_model(trained)
    x, _ = load_mnist("test")
    pred28 = mnist_cnn.predict_logits(model, x[:40]).argmax(1)
    agree = 0
    for i in range(10):
        # black ink on white paper, 5x larger, off centre, saved as RGB JPEG
        big = np.asarray(Image.fromarray(255 - images[i]).resize((140, 140)))
        big = np.pad(big, ((30, 5), (5, 40)), constant_values=255)
        path = tmp_path / f"photo{i}.jpg"
        Image.fromarray(big).convert("RGB").save(path, quality=95)
        r = predict(trained, path)
        assert r["inverted"]
        d = r["digit"]
        assert d.shape == (28, 28) and d.max() > 200 and d[0].max() < 30  # white on black
        yy, xx = np.indices(d.shape)
        cy, cx = (yy * d).sum() / d.sum(), (xx * d).sum() / d.sum()
        assert abs(cy - 14) < 1.5 and abs(cx - 14) < 1.5  # centred by mass
        agree += r["prediction"] == pred28[i]
    assert agree >= 8, agree


def test_prepare_digit_variants():
    a = np.zeros((28, 28))
    a[10:18, 12:15] = 200.0
    d, inv = prepare_digit(a)
    assert not inv and d.max() == 200.0  # 28x28: as it is
    d2, inv2 = prepare_digit(255 - a)
    assert inv2
    np.testing.assert_allclose(d2, d)
    big = np.full((56, 56), 230.0)  # grey paper, grey ink: inverted and stretched
    big[10:46, 26:30] = 90.0
    d5, inv5 = prepare_digit(big)
    assert inv5 and d5.max() == pytest.approx(255.0, abs=3) and d5[0, 0] == 0
    big = np.zeros((100, 60))
    big[20:80, 25:35] = 255
    d3, _ = prepare_digit(big, center=False)  # plain resize of the whole picture
    assert d3.shape == (28, 28)
    d4, _ = prepare_digit(np.zeros((50, 50)))  # blank: no ink, no crash
    assert d4.shape == (28, 28) and d4.max() == 0


def test_transparent_png_drawing(tmp_path):
    rgba = np.zeros((56, 56, 4), np.uint8)
    rgba[10:46, 25:31] = [0, 0, 0, 255]  # a black stroke, the rest transparent
    path = tmp_path / "draw.png"
    Image.fromarray(rgba, "RGBA").save(path)
    g = load_image(path)
    assert g[0, 0] == 255 and g[20, 27] == 0  # on white, as shown on screen
    d, inv = prepare_digit(g)
    assert inv and d[14, 14] > 100


def test_cli_prints_probabilities_and_prediction(trained, digits, tmp_path, capsys):
    images, _ = digits
    path = tmp_path / "d.png"
    Image.fromarray(images[0]).save(path)
    assert cli_main(["predict", str(trained), str(path)]) == 0
    out = capsys.readouterr().out
    lines = out.strip().splitlines()
    assert lines[-1].startswith("prediction: ")
    assert sum(line.strip().startswith(f"{d}:") for line in lines for d in range(10)) == 10
    # the output folder works as MODEL too
    assert cli_main(["predict", str(trained.parent), str(path)]) == 0


def test_cli_errors_are_one_line(trained, tmp_path, capsys):
    img = tmp_path / "d.png"
    Image.fromarray(np.zeros((28, 28), np.uint8)).save(img)
    damaged_model = tmp_path / "damaged.npz"
    damaged_model.write_bytes(trained.read_bytes()[:2000])
    other = tmp_path / "other.npz"
    hg.save({"hello": np.zeros(3)}, other)
    bad_img = tmp_path / "bad.png"
    bad_img.write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 10)
    cases = [
        ([str(tmp_path / "missing.npz"), str(img)], "model file not found"),
        ([str(damaged_model), str(img)], "damaged.npz"),
        ([str(other), str(img)], "not an MNIST CNN model"),
        ([str(trained), str(tmp_path / "missing.png")], "image not found"),
        ([str(trained), str(bad_img)], "bad.png"),
        ([str(trained), str(tmp_path)], "is a folder"),
    ]
    for argv, msg in cases:
        assert cli_main(["predict", *argv]) == 1, argv
        err = capsys.readouterr().err
        assert msg in err and len(err.strip().splitlines()) == 1, err


def test_blank_and_tiny_images_get_a_warning(trained, tmp_path, capsys):
    # a softmax sums to 1 for any input: the command must say when the input means little
    model = trained
    blank = tmp_path / "blank.png"
    Image.fromarray(np.full((64, 64), 255, np.uint8)).save(blank)
    assert cli_main(["predict", str(model), str(blank)]) == 0
    assert "warning: the image looks blank" in capsys.readouterr().err
    tiny = tmp_path / "tiny.png"
    img = np.zeros((10, 10), np.uint8)
    img[2:8, 4:6] = 255
    Image.fromarray(img).save(tiny)
    assert cli_main(["predict", str(model), str(tiny)]) == 0
    assert "smaller than MNIST's 28x28" in capsys.readouterr().err
    assert predict(model, np.asarray(Image.open(tiny)))["warnings"]
