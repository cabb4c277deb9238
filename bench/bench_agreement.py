"""Agreement figures (core/quality/agreement.py) on synthetic answers, beside the independent
implementations the tests check them against, on the same answers in one run.

    python bench/bench_agreement.py [--answers 1000000]

Synthetic job: 300k records x 3-5 workers (about 1.2M answers at the default), 10 classes, a
pool of 1,000 workers (so many sparse pairs), 80% right. Timings are of the function call
(data already in memory), best of 3. Peers (test dependencies): statsmodels' fleiss_kappa on the
record x class table (it needs the table built first: included), NLTK's AnnotationTask alpha,
and sklearn's cohen_kappa_score over every worker pair with 10+ shared records. NLTK and the
sklearn pair loop are too slow for 1M answers: they run on a 100k-answer slice, and ours on the
same slice for the ratio.
"""

from __future__ import annotations

import argparse
import resource
import time
from collections import defaultdict

import numpy as np

from tuilabel.core.gt.consolidation import Answers
from tuilabel.core.quality.agreement import compute_agreement


def synthetic(records: int, workers: int = 1000, k: int = 10, seed: int = 7) -> Answers:
    rng = np.random.default_rng(seed)
    per = rng.integers(3, 6, records)
    rec = np.repeat(np.arange(records), per)
    pos = np.arange(len(rec)) - np.repeat(np.cumsum(per) - per, per)
    wk = (np.repeat(rng.integers(0, workers, records), per) + pos * 7) % workers  # distinct per record
    truth = np.repeat(rng.integers(0, k, records), per)
    lab = np.where(rng.random(len(rec)) < 0.8, truth, rng.integers(0, k, len(rec)))
    return Answers(rec.astype(np.int32), wk.astype(np.int32), lab.astype(np.int32),
                   [f"w{i}" for i in range(workers)], [f"c{i}" for i in range(k)], rng.exponential(5, len(rec)))


def best(fn, repeats: int = 3) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return min(times), out


def sliced(a: Answers, n_records: int) -> Answers:
    keep = a.record < n_records
    return Answers(a.record[keep], a.worker[keep], a.label[keep], a.workers, a.labels, a.seconds[keep])


def statsmodels_fleiss(a: Answers) -> float:
    from statsmodels.stats.inter_rater import fleiss_kappa

    table = np.zeros((int(a.record.max()) + 1, len(a.labels)))
    np.add.at(table, (a.record, a.label), 1)
    # statsmodels needs the same number of raters per record: the 4-answer records only.
    return fleiss_kappa(table[table.sum(1) == 4])


def nltk_alpha(a: Answers) -> float:
    from nltk.metrics.agreement import AnnotationTask

    return AnnotationTask(data=list(zip(a.worker.tolist(), a.record.tolist(), a.label.tolist()))).alpha()


def sklearn_pairs(a: Answers, min_shared: int = 10) -> int:
    from sklearn.metrics import cohen_kappa_score

    per: dict[int, dict[int, int]] = defaultdict(dict)
    for r, w, l in zip(a.record.tolist(), a.worker.tolist(), a.label.tolist()):
        per[w][r] = l
    shared_count: dict[tuple[int, int], list[int]] = defaultdict(list)
    by_record: dict[int, list[int]] = defaultdict(list)
    for r, w in zip(a.record.tolist(), a.worker.tolist()):
        by_record[r].append(w)
    for r, ws in by_record.items():
        for i, x in enumerate(ws):
            for y in ws[i + 1:]:
                shared_count[(min(x, y), max(x, y))].append(r)
    n = 0
    for (x, y), rs in shared_count.items():
        if len(rs) >= min_shared:
            cohen_kappa_score([per[x][r] for r in rs], [per[y][r] for r in rs])
            n += 1
    return n


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=300_000)
    parser.add_argument("--slice", type=int, default=25_000, help="records in the slice the slow peers run on")
    args = parser.parse_args()
    full = synthetic(args.records)
    small = sliced(full, args.slice)
    print(f"answers: {len(full.record):,} on {args.records:,} records; slice: {len(small.record):,} answers")
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t_full, report = best(lambda: compute_agreement(full))
    rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"tuilabel, every figure, {len(full.record):,} answers: {t_full:.3f} s "
          f"(peak RSS {rss1:.0f} MB, +{rss1 - rss0:.0f} MB; {len(report.pairwise):,} pairs with 10+ shared)")
    t_sm, _ = best(lambda: statsmodels_fleiss(full))
    print(f"statsmodels fleiss_kappa alone (table built from the arrays), same answers: {t_sm:.3f} s")
    t_small, ours = best(lambda: compute_agreement(small))
    t_alpha, alpha = best(lambda: nltk_alpha(small), repeats=1)
    t_pairs, pairs = best(lambda: sklearn_pairs(small), repeats=1)
    assert abs(alpha - ours.krippendorff_alpha) < 1e-6 and pairs == len(ours.pairwise)
    print(f"slice of {len(small.record):,} answers: tuilabel every figure {t_small:.3f} s | NLTK alpha alone "
          f"{t_alpha:.2f} s ({t_alpha / t_small:.0f}x) | sklearn Cohen over {pairs:,} pairs {t_pairs:.2f} s "
          f"({t_pairs / t_small:.0f}x)")


if __name__ == "__main__":
    main()
