"""Classify your own digit image with a model trained by ``handgrad train mnist``.

    handgrad predict runs/mnist-.../model.npz my_digit.png

The image (PNG, JPG, anything Pillow reads) is turned into what the network saw in
training, an MNIST-style digit:

1. grayscale, grey levels 0-255;
2. MNIST digits are white on black: when the border of the image is lighter than its
   middle (dark ink on light paper, the usual photo or drawing), it is inverted;
3. a 28x28 image is taken as it is; a larger (or smaller) one is prepared the way MNIST
   was: the background brought to 0 and the ink stretched to 255, cropped to the box
   around the ink, scaled so its longer side is 20 pixels, and
   pasted into a 28x28 black square so that its centre of mass sits at the centre
   (``--no-center``: just resize the whole image to 28x28);
4. scaled to [0, 1] and standardised with the MNIST mean and std, as in training.

It prints the probability of each digit 0-9 and the prediction.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["load_image", "prepare_digit", "predict", "add_arguments", "main"]


def load_image(path: str | os.PathLike) -> np.ndarray:
    """The image as a float64 grayscale array of grey levels 0-255, shape (H, W)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"image not found: {path}")
    if path.is_dir():
        raise IsADirectoryError(f"image: {path} is a folder, not an image file")
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            img.load()
            if img.mode in ("RGBA", "LA") or (img.mode == "P" and "transparency" in img.info):
                # transparent drawings: put them on white, as they appear on screen
                rgba = img.convert("RGBA")
                background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
                img = Image.alpha_composite(background, rgba)
            gray = np.asarray(img.convert("L"), dtype=np.float64)
    except UnidentifiedImageError:
        raise ValueError(f"image: {path} is not an image Pillow can read (damaged, or "
                         f"not PNG/JPG/...)") from None
    except (OSError, SyntaxError) as err:  # truncated files surface as OSError
        raise ValueError(f"image: {path} could not be read: {err}") from None
    if gray.size == 0:
        raise ValueError(f"image: {path} is empty (size {gray.shape})")
    return gray


def _resize(a: np.ndarray, height: int, width: int) -> np.ndarray:
    from PIL import Image

    img = Image.fromarray(np.clip(a, 0, 255).astype(np.uint8))
    return np.asarray(img.resize((width, height), Image.Resampling.LANCZOS), dtype=np.float64)


def prepare_digit(gray: np.ndarray, center: bool = True) -> tuple[np.ndarray, bool]:
    """Grey levels (H, W) -> an MNIST-like 28x28 array of grey levels 0-255 (white digit
    on black), and whether it was inverted."""
    a = np.asarray(gray, dtype=np.float64)
    h, w = a.shape
    # light background? compare the border (background) with the whole image
    border = np.concatenate([a[0], a[-1], a[:, 0], a[:, -1]])
    inverted = bool(np.median(border) > a.mean())
    if inverted:
        a = 255.0 - a
    if (h, w) == (28, 28):  # already MNIST-sized: taken as it is
        return a, inverted
    # stretch so the background is 0 and the ink reaches 255 (photos are rarely pure)
    lo = float(np.median(np.concatenate([a[0], a[-1], a[:, 0], a[:, -1]])))
    a = np.clip(a - lo, 0, None)
    top = float(a.max())
    if top > 0:
        a *= 255.0 / top
    if not center:
        return _resize(a, 28, 28), inverted
    ink = a > 0.2 * 255
    if not ink.any():
        return _resize(a, 28, 28), inverted
    rows = np.flatnonzero(ink.any(axis=1))
    cols = np.flatnonzero(ink.any(axis=0))
    crop = a[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    ch, cw = crop.shape
    scale = 20.0 / max(ch, cw)
    nh, nw = max(1, round(ch * scale)), max(1, round(cw * scale))
    small = _resize(crop, nh, nw)
    # centre of mass of the small digit, placed at (14, 14)
    mass = small.sum()
    yy, xx = np.indices(small.shape)
    cy = (yy * small).sum() / mass if mass else nh / 2
    cx = (xx * small).sum() / mass if mass else nw / 2
    top_y = int(round(14 - cy))
    left_x = int(round(14 - cx))
    top_y = min(max(top_y, 0), 28 - nh)
    left_x = min(max(left_x, 0), 28 - nw)
    out = np.zeros((28, 28))
    out[top_y:top_y + nh, left_x:left_x + nw] = small
    return out, inverted


def predict(model_path: str | os.PathLike, image: str | os.PathLike | np.ndarray,
            center: bool = True) -> dict[str, Any]:
    """Probabilities of 0-9 for one image file (or an (H, W) array of grey levels)."""
    import handgrad as hg
    from handgrad.experiments.mnist_cnn import load_model, softmax

    model, meta = load_model(model_path)
    gray = load_image(image) if not isinstance(image, np.ndarray) else image
    digit, inverted = prepare_digit(gray, center=center)
    norm = meta.get("normalize") or {"mean": 0.1307, "std": 0.3081}
    x = ((digit / 255.0 - norm["mean"]) / norm["std"]).astype(np.float32)[None, None]
    size = int(meta["arch"].get("image_size", 28))
    if size != 28:
        raise ValueError(f"predict: the model expects {size}x{size} images; only 28x28 "
                         f"MNIST-style models are supported")
    with hg.no_grad():
        logits = model(hg.tensor(x)).data
    probs = softmax(logits.astype(np.float64))[0]
    # a softmax always sums to 1, even for an empty picture: say when the input cannot
    # mean much (MNIST digits cover about 10-20% of the 28x28 pixels with ink)
    warnings = []
    ink_fraction = float((digit > 0.2 * 255).mean())
    if ink_fraction < 0.01:
        warnings.append(f"the image looks blank ({ink_fraction:.1%} of the pixels have ink "
                        f"after preparation); the probabilities below mean little")
    if min(np.shape(gray)) < 28:
        warnings.append(f"the image is {np.shape(gray)[1]}x{np.shape(gray)[0]}, smaller than "
                        f"MNIST's 28x28: it was scaled up, which blurs it")
    return {"probabilities": probs.tolist(), "prediction": int(probs.argmax()),
            "inverted": inverted, "digit": digit, "ink_fraction": ink_fraction,
            "warnings": warnings}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", help="model.npz written by 'handgrad train mnist' "
                                      "(or its output folder)")
    parser.add_argument("image", help="your digit: PNG/JPG, 28x28 or larger")
    parser.add_argument("--no-center", action="store_true",
                        help="resize the whole image to 28x28 instead of cropping to the "
                             "ink and centring it by mass as MNIST did")


def main(args: argparse.Namespace) -> int:
    result = predict(args.model, args.image, center=not args.no_center)
    probs = result["probabilities"]
    note = " (inverted: dark ink on a light background)" if result["inverted"] else ""
    print(f"{args.image}{note}")
    for warning in result["warnings"]:
        print(f"warning: {warning}", file=sys.stderr)
    for d, p in enumerate(probs):
        bar = "#" * int(round(p * 40))
        print(f"  {d}: {p:7.2%}  {bar}")
    print(f"prediction: {result['prediction']} ({probs[result['prediction']]:.1%})")
    return 0
