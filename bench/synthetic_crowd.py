"""Synthetic crowds with known truth, for bench_consolidate.py and tests/test_consolidation.py.

Each scenario draws true classes (optionally imbalanced), workers with known confusion
matrices, and 3-5 distinct workers per record (busy workers answer more: Zipf activity).
Numpy only, so the tests need nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Crowd:
    truth: np.ndarray  # per record
    record: np.ndarray  # per answer
    worker: np.ndarray
    label: np.ndarray
    n_workers: int
    k: int


def _confusions(rng, n_workers: int, k: int, kind: np.ndarray) -> np.ndarray:
    """kind per worker: 0 honest with confusable pairs, 1 spammer (uniform), 2 adversary
    (answers a fixed wrong class for each truth), 3 one-coin honest."""
    conf = np.empty((n_workers, k, k))
    for w in range(n_workers):
        if kind[w] == 1:
            conf[w] = 1.0 / k
        elif kind[w] == 2:
            shift = rng.integers(1, k)
            m = np.full((k, k), 0.1 / (k - 1))
            m[np.arange(k), (np.arange(k) + shift) % k] = 0.8
            m[np.arange(k), np.arange(k)] = 0.1
            conf[w] = m / m.sum(axis=1, keepdims=True)
        else:
            acc = rng.uniform(0.55, 0.92)
            m = np.full((k, k), (1 - acc) / (k - 1))
            if kind[w] == 0:
                # Most errors go to one or two classes that look alike (per worker).
                rows = np.arange(k)
                m[:] = (1 - acc) * 0.25 / (k - 1)
                m[rows, (rows + 1) % k] += (1 - acc) * 0.5
                m[rows, (rows + rng.integers(2, k)) % k] += (1 - acc) * 0.25
            m[np.arange(k), np.arange(k)] = acc
            conf[w] = m / m.sum(axis=1, keepdims=True)
    return conf


SCENARIOS = {
    # name: (share of spammers, share of adversaries, Zipf exponent of activity, class skew)
    "confusions": (0.0, 0.0, 0.0, 0.0),
    "spammers-30%": (0.3, 0.0, 0.0, 0.0),
    "adversaries-10%": (0.0, 0.1, 0.0, 0.0),
    "sparse-workers": (0.1, 0.0, 1.2, 0.0),
    "imbalance": (0.1, 0.0, 0.0, 1.5),
    "mixed": (0.15, 0.05, 1.0, 1.0),
}


def make_crowd(
    scenario: str, n_records: int, n_workers: int, k: int = 10, seed: int = 0, per_record: tuple[int, int] = (3, 5)
) -> Crowd:
    spam, adv, zipf, skew = SCENARIOS[scenario]
    rng = np.random.default_rng(seed)
    prior = 1.0 / np.arange(1, k + 1) ** skew
    prior /= prior.sum()
    truth = rng.choice(k, size=n_records, p=prior)
    kind = np.zeros(n_workers, dtype=np.int64)
    shuffled = rng.permutation(n_workers)
    kind[shuffled[: int(spam * n_workers)]] = 1
    kind[shuffled[int(spam * n_workers) : int((spam + adv) * n_workers)]] = 2
    conf = _confusions(rng, n_workers, k, kind)
    activity = 1.0 / np.arange(1, n_workers + 1) ** zipf
    activity = rng.permutation(activity / activity.sum())
    counts = rng.integers(per_record[0], per_record[1] + 1, size=n_records)
    record = np.repeat(np.arange(n_records), counts)
    worker = rng.choice(n_workers, size=len(record), p=activity)
    # Distinct workers per record: drop repeats (few with many workers).
    key = record.astype(np.int64) * n_workers + worker
    key, first = np.unique(key, return_index=True)
    record, worker = record[np.sort(first)], worker[np.sort(first)]
    cum = np.cumsum(conf, axis=2)[worker, truth[record]]
    label = (rng.random(len(record))[:, None] > cum).sum(axis=1).clip(0, k - 1)
    return Crowd(truth, record.astype(np.int32), worker.astype(np.int32), label.astype(np.int32), n_workers, k)


def expected_calibration_error(confidence: np.ndarray, correct: np.ndarray, bins: int = 10) -> float:
    """Sum over equal-width confidence bins of |accuracy - mean confidence|, weighted by size."""
    which = np.minimum((confidence * bins).astype(np.int64), bins - 1)
    conf_sum = np.bincount(which, weights=confidence, minlength=bins)
    right = np.bincount(which, weights=correct.astype(np.float64), minlength=bins)
    return float(np.abs(right - conf_sum).sum() / max(len(confidence), 1))
