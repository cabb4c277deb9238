"""Agreement figures against independent implementations: statsmodels' fleiss_kappa, NLTK's
AnnotationTask (Krippendorff's alpha), sklearn's cohen_kappa_score, and plain per-record loops
written straight from the published formulas (Gwet's Fleiss for varying raters, Uebersax's
specific agreement)."""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict

import numpy as np
import pytest

from tuilabel.core.gt.consolidation import Answers
from tuilabel.core.gt.consolidate_job import from_folder
from tuilabel.core.quality.agreement import compute_agreement

inter_rater = pytest.importorskip("statsmodels.stats.inter_rater", reason="statsmodels is a test dependency (pip install -e .[test])")
nltk_agreement = pytest.importorskip("nltk.metrics.agreement", reason="nltk is a test dependency (pip install -e .[test])")
sk_metrics = pytest.importorskip("sklearn.metrics", reason="scikit-learn is a test dependency (pip install -e .[test])")


def random_answers(seed: int, records: int, workers: int, k: int, per_record: tuple[int, int], accuracy: float = 0.7,
                   seconds: bool = True) -> Answers:
    """Workers of varying skill answer a random subset of records each (missing answers)."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, k, records)
    skill = rng.uniform(accuracy - 0.3, min(1.0, accuracy + 0.2), workers)
    rec, wk, lab = [], [], []
    for r in range(records):
        n = int(rng.integers(per_record[0], per_record[1] + 1))
        for w in rng.choice(workers, size=n, replace=False):
            rec.append(r)
            wk.append(int(w))
            lab.append(int(truth[r]) if rng.random() < skill[w] else int(rng.integers(0, k)))
    secs = rng.exponential(4.0, len(rec)) if seconds else np.full(len(rec), np.nan)
    if seconds:
        secs[rng.random(len(rec)) < 0.1] = np.nan  # some answers without a time
    return Answers(np.array(rec, np.int32), np.array(wk, np.int32), np.array(lab, np.int32),
                   [f"w{i}" for i in range(workers)], [f"c{i}" for i in range(k)], secs)


def by_record(a: Answers) -> dict[int, list[tuple[int, int]]]:
    out: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for r, w, l in zip(a.record.tolist(), a.worker.tolist(), a.label.tolist()):
        out[r].append((w, l))
    return out


def gwet_fleiss(a: Answers) -> float:
    """Gwet (2014) / irrCAC fleiss.raw.raw, one record at a time."""
    groups = by_record(a)
    k = len(a.labels)
    pa_terms = []
    pi = [0.0] * k
    for items in groups.values():
        counts = Counter(l for _, l in items)
        m = len(items)
        if m >= 2:
            pa_terms.append(sum(c * (c - 1) for c in counts.values()) / (m * (m - 1)))
        for label, c in counts.items():
            pi[label] += c / m / len(groups)
    pa = sum(pa_terms) / len(pa_terms)
    pe = sum(p * p for p in pi)
    return (pa - pe) / (1 - pe)


def nltk_task(a: Answers):
    data = [(f"w{w}", f"r{r}", str(l)) for r, w, l in zip(a.record.tolist(), a.worker.tolist(), a.label.tolist())]
    return nltk_agreement.AnnotationTask(data=data)


def check_pairs(a: Answers, result, min_shared: int) -> None:
    per_worker: dict[int, dict[int, int]] = defaultdict(dict)
    for r, w, l in zip(a.record.tolist(), a.worker.tolist(), a.label.tolist()):
        per_worker[w][r] = l
    expected = {}
    for x in range(len(a.workers)):
        for y in range(x + 1, len(a.workers)):
            shared = sorted(set(per_worker[x]) & set(per_worker[y]))
            if len(shared) >= min_shared:
                ya = [per_worker[x][r] for r in shared]
                yb = [per_worker[y][r] for r in shared]
                expected[(a.workers[x], a.workers[y])] = (len(shared), sk_metrics.cohen_kappa_score(ya, yb))
    got = {(p.a, p.b): (p.shared, p.kappa) for p in result.pairwise}
    assert set(got) == set(expected)
    for key, (shared, kappa) in expected.items():
        assert got[key][0] == shared
        if np.isnan(kappa):
            assert got[key][1] is None
        else:
            assert got[key][1] == pytest.approx(kappa, abs=1e-6)


def check_per_label_and_workers(a: Answers, result) -> None:
    groups = by_record(a)
    k = len(a.labels)
    num, den = [0] * k, [0] * k
    same, others = Counter(), Counter()
    for items in groups.values():
        for i, (wi, li) in enumerate(items):
            for j, (wj, lj) in enumerate(items):
                if i == j:
                    continue
                den[li] += 1
                num[li] += li == lj
                others[wi] += 1
                same[wi] += li == lj
    for label, row in enumerate(result.per_label):
        assert row.label == a.labels[label]
        assert row.answers == int(np.sum(a.label == label))
        if den[label]:
            assert row.agreement == pytest.approx(num[label] / den[label], abs=1e-6)
        else:
            assert row.agreement is None
    secs: dict[int, list[float]] = defaultdict(list)
    for w, s in zip(a.worker.tolist(), a.seconds.tolist()):
        if not np.isnan(s):
            secs[w].append(s)
    for q in result.per_worker:
        w = a.workers.index(q.worker)
        assert q.answers == int(np.sum(a.worker == w))
        if others[w]:
            assert q.with_others == pytest.approx(same[w] / others[w], abs=1e-6)
        if secs[w]:
            assert q.median_seconds == pytest.approx(statistics.median(secs[w]), abs=1e-5)
        else:
            assert q.median_seconds is None


def test_equal_raters_match_statsmodels_nltk_and_sklearn():
    a = random_answers(1, records=150, workers=6, k=4, per_record=(6, 6))
    result = compute_agreement(a, min_shared=10)
    table = np.zeros((150, 4))
    for r, l in zip(a.record.tolist(), a.label.tolist()):
        table[r, l] += 1
    assert result.fleiss_kappa == pytest.approx(inter_rater.fleiss_kappa(table, method="fleiss"), abs=1e-6)
    task = nltk_task(a)
    assert result.krippendorff_alpha == pytest.approx(task.alpha(), abs=1e-6)
    # Every worker answered every record: NLTK's pairwise kappa is Cohen's on the shared records.
    for p in result.pairwise:
        assert p.kappa == pytest.approx(task.kappa_pairwise(p.a, p.b), abs=1e-6)
    assert len(result.pairwise) == 15
    check_pairs(a, result, 10)
    check_per_label_and_workers(a, result)


@pytest.mark.parametrize("seed", [2, 3, 4])
def test_missing_answers_match_nltk_alpha_gwet_fleiss_and_sklearn(seed):
    a = random_answers(seed, records=300, workers=25, k=5, per_record=(1, 5))
    result = compute_agreement(a, min_shared=5)
    assert result.krippendorff_alpha == pytest.approx(nltk_task(a).alpha(), abs=1e-6)
    assert result.fleiss_kappa == pytest.approx(gwet_fleiss(a), abs=1e-6)
    assert result.records == 300
    assert result.records_multi == sum(1 for items in by_record(a).values() if len(items) >= 2)
    check_pairs(a, result, 5)
    assert result.pairs_too_few > 0  # 25 sparse workers: many pairs share only a few records
    check_per_label_and_workers(a, result)


def test_consolidated_gold_and_estimated_accuracy_per_worker():
    a = random_answers(5, records=200, workers=8, k=3, per_record=(3, 3))
    rng = np.random.default_rng(0)
    consolidated = rng.integers(0, 3, 200)
    gold = np.full(200, -1)
    gold[:40] = rng.integers(0, 3, 40)
    accuracy = np.linspace(0.5, 0.9, 8)
    result = compute_agreement(a, consolidated, accuracy, gold)
    for q in result.per_worker:
        w = a.workers.index(q.worker)
        mine = a.worker == w
        assert q.with_consolidated == pytest.approx(np.mean(a.label[mine] == consolidated[a.record[mine]]), abs=1e-6)
        on_gold = mine & (gold[a.record] >= 0)
        assert q.gold_answers == int(on_gold.sum())
        if on_gold.any():
            assert q.gold_accuracy == pytest.approx(np.mean(a.label[on_gold] == gold[a.record[on_gold]]), abs=1e-6)
        assert q.estimated_accuracy == pytest.approx(accuracy[w])
    # Weakest first by the upper end of the Wilson interval (statsmodels' proportion_confint).
    from statsmodels.stats.proportion import proportion_confint

    upper = [proportion_confint(round(q.with_consolidated * q.answers), q.answers, method="wilson")[1] for q in result.per_worker]
    assert upper == pytest.approx(sorted(upper), abs=1e-4)


def test_one_unlucky_answer_does_not_rank_a_worker_weakest():
    # w0: 1 answer, wrong; w1: 40 answers, half wrong; w2, w3: always right.
    rec, wk, lab = [0], [0], [1]
    for r in range(40):
        rec += [r, r, r]
        wk += [1, 2, 3]
        lab += [r % 2, 0, 0]
    a = Answers(np.array(rec, np.int32), np.array(wk, np.int32), np.array(lab, np.int32),
                ["w0", "w1", "w2", "w3"], ["x", "y"], np.full(len(rec), np.nan))
    result = compute_agreement(a, np.zeros(40, np.int64))
    assert [q.worker for q in result.per_worker][:2] == ["w1", "w0"]


def test_degenerate_inputs_give_none_not_nan():
    one_class = Answers(np.array([0, 0, 1, 1], np.int32), np.array([0, 1, 0, 1], np.int32),
                        np.array([2, 2, 2, 2], np.int32), ["a", "b"], ["x", "y", "z"], np.full(4, np.nan))
    result = compute_agreement(one_class, min_shared=1)
    assert result.krippendorff_alpha is None  # no variation: expected disagreement is 0
    assert result.fleiss_kappa is None
    assert result.pairwise[0].kappa is None and result.pairwise[0].agreement == 1.0
    assert result.per_label[2].agreement == 1.0 and result.per_label[0].agreement is None
    import orjson

    orjson.dumps(result.to_json())  # plain JSON: no NaN anywhere
    empty = Answers(np.array([], np.int32), np.array([], np.int32), np.array([], np.int32), ["a"], ["x", "y"], np.array([]))
    assert compute_agreement(empty).fleiss_kappa is None
    singles = Answers(np.array([0, 1], np.int32), np.array([0, 1], np.int32), np.array([0, 1], np.int32),
                      ["a", "b"], ["x", "y"], np.array([1.0, 2.0]))
    result = compute_agreement(singles)
    assert result.records_multi == 0 and result.fleiss_kappa is None and result.krippendorff_alpha is None


def test_gt_birds_figures_match_statsmodels_nltk_and_sklearn(shared_data):
    job = from_folder(shared_data / "gt-birds")  # worker-response/ beside output.manifest
    assert job.spec.labels == ("Duck", "Sparrow", "Woodpecker", "Owl", "Parrot", "Turkey", "Falcon", "Swan", "Goose", "Canary")
    a = job.answers
    assert len(a.record) == 302 * 5 and len(a.workers) == 97
    result = compute_agreement(a)
    table = np.zeros((302, 10))
    for r, l in zip(a.record.tolist(), a.label.tolist()):
        table[r, l] += 1
    assert result.fleiss_kappa == pytest.approx(inter_rater.fleiss_kappa(table, method="fleiss"), abs=1e-6)
    assert result.krippendorff_alpha == pytest.approx(nltk_task(a).alpha(), abs=1e-6)
    check_pairs(a, result, 10)
    check_per_label_and_workers(a, result)
    # Birds are mostly easy: agreement is high, and a few pairs of frequent workers qualify.
    assert 0.75 < result.fleiss_kappa < 0.95
    assert result.pairwise and result.pairs_too_few > len(result.pairwise)


def test_agreement_with_a_consolidation_and_gold_as_a_dict():
    from tuilabel.core.gt.consolidation import consolidate
    from tuilabel.core.quality.agreement import agreement_with

    a = random_answers(6, records=60, workers=5, k=3, per_record=(3, 3))
    result = consolidate(a)
    report = agreement_with(a, result, gold={0: 1, 1: 2, 2: [0, 1]})
    for q in report.per_worker:
        w = a.workers.index(q.worker)
        assert q.estimated_accuracy == pytest.approx(float(result.worker_accuracy[w]), abs=1e-6)
        on_gold = (a.worker == w) & np.isin(a.record, [0, 1])
        assert q.gold_answers == int(on_gold.sum())


def test_sorted_counting_gives_the_same_figures_as_dense_counting(monkeypatch):
    # Many workers or classes make the key space too large for a dense bincount: np.unique
    # takes over. Both paths must agree exactly.
    from tuilabel.core.quality import agreement

    a = random_answers(8, records=400, workers=30, k=6, per_record=(1, 6))
    dense = agreement.compute_agreement(a, min_shared=5)
    monkeypatch.setattr(agreement, "DENSE_PER_KEY", 0)
    monkeypatch.setattr(agreement, "DENSE_MIN", 0)
    assert agreement.compute_agreement(a, min_shared=5) == dense
    # and unsorted answers (by record) give the same as sorted ones
    order = np.random.default_rng(0).permutation(len(a.record))
    shuffled = Answers(a.record[order], a.worker[order], a.label[order], a.workers, a.labels, a.seconds[order])
    assert agreement.compute_agreement(shuffled, min_shared=5).to_json() == dense.to_json()
