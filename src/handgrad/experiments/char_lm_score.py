"""Log-probability and bits per character of a text under a trained character model.

    handgrad score MODEL FILE

By the chain rule of probability, log P(x_1..x_n) = log P(x_1) + sum_{t>=2} log
P(x_t | x_<t). The model predicts each character from the ones before it, so the first
character is the context: the score is sum_{t=2..n} log P(x_t | x_<t), read with the
state carried over the whole file, and bits per character is -score / ln 2 / (n - 1).
Characters the model never saw in training have no probability at all: such a file is
refused with a list of them.
"""

from __future__ import annotations

import argparse
import math

from handgrad.data.text import load_text
from handgrad.experiments.char_lm import evaluate_bpc, load_model

__all__ = ["score_text", "add_arguments", "main"]


def score_text(model_path: str, text: str) -> dict[str, float]:
    """{'log_prob_nats', 'log_prob_bits', 'bpc', 'chars'} of ``text`` under the model."""
    model, vocab, _ = load_model(model_path)
    ids = vocab.encode(text, name="FILE")
    if ids.size < 2:
        raise ValueError(f"FILE: need at least 2 characters to score (the first is only "
                         f"context), got {ids.size}")
    r = evaluate_bpc(model, ids)
    return {"log_prob_nats": r["log_prob_nats"], "log_prob_bits": -r["bits"],
            "bpc": r["bpc"], "chars": r["chars"]}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", metavar="MODEL", help="model.npz from handgrad train charlm")
    parser.add_argument("file", metavar="FILE", help="a UTF-8 text file to score")


def main(args: argparse.Namespace) -> int:
    text = load_text(args.file)
    r = score_text(args.model, text)
    print(f"{args.file}: {r['chars'] + 1:,} characters ({r['chars']:,} predicted)")
    print(f"log P = {r['log_prob_nats']:.2f} nats = {r['log_prob_bits']:.2f} bits")
    print(f"bits per character: {r['bpc']:.4f}  (perplexity per character "
          f"{math.pow(2.0, r['bpc']):.2f})")
    return 0
