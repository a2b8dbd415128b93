"""Sample text from a trained character model, or find its most likely continuation.

    handgrad sample MODEL [--prime "ROMEO:"] [--temperature 0.8] [--length 500] [--seed 0]
    handgrad sample MODEL --prime "ROMEO:" --beam 5 --length 100

MODEL is the ``model.npz`` that ``handgrad train charlm`` wrote (or its folder).

Sampling draws each next character from softmax(logits / temperature): temperature 1 is
the model's own distribution, lower is more conservative (at the limit, always the most
likely character), higher is wilder.

``--beam K`` searches for the continuation with the highest total log-probability
sum_t log P(x_t | x_<t) (the log of the chain-rule product, see handgrad train charlm):
a priority queue (heapq) holds the partial sequences with their summed log-probabilities;
each round every one of the K kept sequences is extended by every character, and the K
best of the K x V candidates are kept. Greedy decoding is K = 1. Beam search finds
likely text, which for a character model is often repetitive: likely is not the same as
interesting.
"""

from __future__ import annotations

import argparse
import heapq
from typing import Any

import numpy as np

import handgrad as hg
from handgrad import cli_args
from handgrad.data.text import CharVocab
from handgrad.experiments.char_lm import CharModel, _log_probs, load_model, sample_text

__all__ = ["beam_search", "add_arguments", "main"]


def _select_state(state: Any, rows: np.ndarray) -> Any:
    """Keep batch rows ``rows`` of the carried state (dim 1 of (layers, B, H))."""
    if isinstance(state, tuple):
        return tuple(hg.tensor(s.data[:, rows]) for s in state)
    return hg.tensor(state.data[:, rows])


def beam_search(model: CharModel, vocab: CharVocab, prime: str, length: int, beam: int
                ) -> tuple[str, float]:
    """The continuation of ``prime`` (``length`` characters) with the highest summed
    log-probability among those beam search keeps; returns (text, log-probability in nats
    of the continuation given the prime)."""
    if beam < 1:
        raise ValueError(f"--beam must be a positive integer, got {beam}")
    if length < 1:
        raise ValueError(f"--length must be a positive integer, got {length}")
    ids = vocab.encode(prime, name="prime")
    if ids.size == 0:
        raise ValueError("--prime must contain at least one character")
    model.eval()
    with hg.no_grad():
        logits, state = model(ids[:, None], None)            # read the prime once
        lp = _log_probs(logits.data[-1].astype(np.float64))  # (1, V)
        # the partial sequences: (summed log-probability, characters so far), one state
        # row each; start with the single sequence "prime"
        scores = np.zeros(1)
        seqs: list[list[int]] = [[]]
        for _ in range(length):
            # every extension of every kept sequence, scored by its summed log-probability
            cand = scores[:, None] + lp                      # (k, V)
            flat = cand.ravel()
            # the priority queue: the `beam` best (score, row, char) of all k * V
            best = heapq.nlargest(beam, zip(flat.tolist(), range(flat.size)))
            rows = np.array([i // lp.shape[1] for _, i in best])
            chars = np.array([i % lp.shape[1] for _, i in best])
            scores = np.array([s for s, _ in best])
            seqs = [seqs[r] + [int(c)] for r, c in zip(rows, chars)]
            state = _select_state(state, rows)
            logits, state = model(chars[None, :], state)     # one step for all k at once
            lp = _log_probs(logits.data[-1].astype(np.float64))
    top = int(np.argmax(scores))
    return prime + vocab.decode(seqs[top]), float(scores[top])


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", metavar="MODEL", help="model.npz from handgrad train charlm")
    parser.add_argument("--prime", default=None,
                        help='text to start from (default "ROMEO:" if the model knows those '
                             'characters, else its first vocabulary letter)')
    parser.add_argument("--temperature", type=cli_args.positive_float, default=0.8,
                        help="softmax temperature (default 0.8)")
    parser.add_argument("--length", type=cli_args.nonnegative_int, default=500,
                        help="characters to generate (default 500)")
    parser.add_argument("--seed", type=cli_args.nonnegative_int, default=0,
                        help="random seed (default 0)")
    parser.add_argument("--beam", type=cli_args.positive_int, default=None, metavar="K",
                        help="beam search with K beams instead of sampling")


def main(args: argparse.Namespace) -> int:
    model, vocab, _ = load_model(args.model)
    prime = args.prime
    if prime is None:
        prime = "ROMEO:" if all(c in vocab for c in "ROMEO:") else \
            next(c for c in vocab.chars if c.isalpha()) if any(
                c.isalpha() for c in vocab.chars) else vocab.chars[0]
    if args.length < 0:
        raise ValueError(f"--length must be >= 0, got {args.length}")
    if args.beam is not None:
        text, logp = beam_search(model, vocab, prime, args.length, args.beam)
        print(text)
        n = max(args.length, 1)
        print(f"\n[beam {args.beam}: log P(continuation | prime) = {logp:.2f} nats, "
              f"{-logp / np.log(2) / n:.3f} bits per character]")
        return 0
    if not args.temperature > 0:
        raise ValueError(f"--temperature must be > 0, got {args.temperature}")
    rng = np.random.default_rng(args.seed)
    print(sample_text(model, vocab, prime, args.length, args.temperature, rng))
    return 0
