"""Generated text corpora with planted near-duplicates and their true word-bigram Jaccard.

Shared by tests/test_check.py (small corpora, correctness) and bench/bench_check.py (100k,
speed). Three shapes, each deterministic from its seed:
- "uniform": 40 words drawn uniformly from 20,000 made-up words; unrelated texts share almost
  no word pair (the easy case).
- "zipf": 15–60 words from a 5,000-word vocabulary with Zipf frequencies (s = 1, like real
  text), so frequent pairs ("of the") are in many texts.
- "lowvocab": the same with a 36-word vocabulary: every text shares many pairs with every other.
- "boilerplate": one of 20 fixed 25-word openings, then 10–40 Zipfian words (forms, tickets,
  listings): texts with the same opening have a Jaccard of 0.3–0.6, just under the threshold.

Plants (by default): 1 % exact copies (case and spacing changed: `check` reports them as
duplicates) and 1 % edits of an earlier original (in turn: a word replaced, deleted or inserted, or one word in
twenty replaced here and there).
The ground truth is computed, not assumed: an edit of a 15-word text keeps fewer than 80 % of
its bigrams, so only planted pairs whose exact Jaccard is at or above the threshold count.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from itertools import accumulate
from random import Random

SHAPES = {
    # name: (vocabulary size, Zipf exponent (0 = uniform), min words, max words)
    "uniform": (20_000, 0.0, 40, 40),
    "zipf": (5_000, 1.0, 15, 60),
    "lowvocab": (36, 1.0, 15, 60),
    "boilerplate": (5_000, 1.0, 10, 40),  # after one of 20 fixed 25-word openings
}
OPENINGS = {"boilerplate": (20, 25)}  # shape: (how many openings, words each)
_WORD = re.compile(r"\w+")


def bigrams(text: str) -> frozenset[str]:
    """The word bigrams `check` compares (\\w+ words, case folded; one word alone for one-word texts)."""
    words = _WORD.findall(text.casefold())
    if len(words) > 1:
        return frozenset(map(" ".join, zip(words, words[1:])))
    return frozenset(words or [text.strip().casefold()])


def jaccard(a: frozenset, b: frozenset) -> float:
    inter = len(a & b)
    union = len(a) + len(b) - inter
    return inter / union if union else 1.0


@dataclass
class Corpus:
    shape: str
    texts: list[str]
    exact: list[tuple[int, int]] = field(default_factory=list)  # (original, copy), 0-based
    near: list[tuple[int, int, float]] = field(default_factory=list)  # (original, edit, true Jaccard)

    def near_pairs(self, threshold: float) -> set[tuple[int, int]]:
        """Planted pairs whose true Jaccard is at least `threshold`: the recall denominator."""
        return {(a, b) for a, b, j in self.near if j >= threshold}


def _vocabulary(size: int, rnd: Random) -> list[str]:
    words: dict[str, None] = {}
    letters = "abcdefghijklmnopqrstuvwxyz"
    while len(words) < size:
        words["".join(rnd.choices(letters, k=rnd.randint(2, 9)))] = None
    return list(words)


def _other(word: str, words) -> str:
    new = word
    while new == word:
        (new,) = words(1)
    return new


EDITS = ("replace", "delete", "insert", "scatter")


def make_corpus(
    shape: str, n: int, seed: int = 1, every: int = 100, words: tuple[int, int] | None = None, edits=EDITS
) -> Corpus:
    """`n` texts of `shape` (`words`: other lengths); one in `every` is an exact copy, one in
    `every` an edit (`edits` in turn; "scatter" replaces one word in 20, at least 2)."""
    size, s, lo, hi = SHAPES[shape]
    lo, hi = words or (lo, hi)
    rnd = Random(f"{shape}-{n}-{seed}-{every}-{lo}-{hi}-{edits}")
    vocab = _vocabulary(size, rnd)
    cum = list(accumulate(1 / k**s for k in range(1, size + 1)))

    def draw(k: int) -> list[str]:
        return rnd.choices(vocab, cum_weights=cum, k=k)

    count, length = OPENINGS.get(shape, (0, 0))
    openings = [" ".join(draw(length)) + " " for _ in range(count)]
    texts: list[str] = []
    corpus = Corpus(shape, texts)
    originals: list[int] = []
    for i in range(n):
        if i > 10 and i % every == 0:
            src = rnd.choice(originals)
            texts.append("  " + texts[src].upper().replace(" ", " \t "))
            corpus.exact.append((src, i))
        elif i > 10 and i % every == every // 2:
            src = rnd.choice(originals)
            w = texts[src].split()
            at = rnd.randrange(len(w))
            kind = edits[len(corpus.near) % len(edits)]
            if kind == "replace":
                w[at] = _other(w[at], draw)
            elif kind == "delete":
                del w[at]
            elif kind == "insert":
                w.insert(at, draw(1)[0])
            else:  # typos fixed here and there
                for at in rnd.sample(range(len(w)), max(2, len(w) // 20)):
                    w[at] = _other(w[at], draw)
            texts.append(" ".join(w))
            corpus.near.append((src, i, jaccard(bigrams(texts[src]), bigrams(texts[i]))))
        else:
            opening = rnd.choice(openings) if openings else ""
            texts.append(opening + " ".join(draw(rnd.randint(lo, hi))))
            originals.append(i)
    return corpus
