"""Consolidation methods on crowds with known truth, GT's own job (gt-birds), one worker,
multi-label, gold records, the one-record path and the answer readers' problem lines."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from tuilabel.core.gt.consolidation import METHODS, Answers, consolidate, consolidate_one
from tuilabel.core.gt.worker_responses import WorkerAnswer, read_worker_responses

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
from synthetic_crowd import expected_calibration_error, make_crowd  # noqa: E402

BIRDS = ["Duck", "Sparrow", "Woodpecker", "Owl", "Parrot", "Turkey", "Falcon", "Swan", "Goose", "Canary"]


def _answers(crowd) -> Answers:
    workers = [f"w{i:03d}" for i in range(crowd.n_workers)]
    return Answers.from_arrays(crowd.record, crowd.worker, crowd.label, workers, [str(i) for i in range(crowd.k)])


def _accuracy(result, truth) -> float:
    return float((result.label == truth[result.record]).mean())


@pytest.mark.parametrize("scenario", ["spammers-30%", "adversaries-10%", "mixed"])
def test_em_methods_beat_majority_and_are_calibrated(scenario):
    crowd = make_crowd(scenario, 8000, 80, seed=3)
    answers = _answers(crowd)
    results = {m: consolidate(answers, m) for m in METHODS}
    majority = _accuracy(results["majority"], crowd.truth)
    # GT's method spreads each worker's errors evenly (its smoothing), so on crowds whose
    # errors go to look-alike classes its confidence is off by a little more (bench: up to 0.07).
    ece_limit = {"gt": 0.08, "dawid-skene": 0.05, "one-coin": 0.05}
    for method, limit in ece_limit.items():
        r = results[method]
        assert _accuracy(r, crowd.truth) > majority + 0.01, method
        several = r.n_workers > 1
        correct = r.label[several] == crowd.truth[r.record[several]]
        assert expected_calibration_error(r.confidence[several], correct) <= limit, method
    gt = results["gt"]
    assert gt.rounds <= 20
    several = gt.n_workers > 1
    assert np.allclose(gt.confidence[several], np.round(np.minimum(gt.posterior.max(axis=1), 0.95), 2)[several])
    assert gt.confidence.max() == 0.95  # GT's ceiling
    assert results["one-coin"].confidence.max() == 1.0


def test_full_confusion_learns_a_systematic_swap():
    """A worker who is right except that every A becomes B: the full confusion matrices learn
    exactly that, and use the worker's C answers fully, where one accuracy per worker cannot."""
    rng = np.random.default_rng(0)
    n = 3000
    truth = rng.integers(0, 3, n)
    record = np.repeat(np.arange(n), 4)
    worker = np.tile([0, 1, 2, 3], n)
    label = truth[record].copy()
    noisy = (worker < 3) & (rng.random(len(label)) < 0.35)
    label[noisy] = rng.integers(0, 3, noisy.sum())
    label[(worker == 3) & (label == 0)] = 1
    answers = Answers.from_arrays(record, worker, label, ["h1", "h2", "h3", "swap"], ["A", "B", "C"])
    ds = consolidate(answers, "dawid-skene")
    assert _accuracy(ds, truth) > _accuracy(consolidate(answers, "one-coin"), truth) + 0.02
    assert _accuracy(ds, truth) > _accuracy(consolidate(answers, "majority"), truth) + 0.03
    assert np.exp(ds.log_confusion[3])[0, 1] > 0.8  # true A -> answered B


def test_gt_birds_numbers(shared_data):
    """GT's own job: the default method is right on at least GT's 272 of 302."""
    folder = shared_data / "gt-birds"
    problems: list[str] = []
    answers = Answers.from_worker_answers(read_worker_responses(folder, problems), BIRDS, problems, 302)
    assert problems == []
    assert (answers.n_answers, len(answers.workers)) == (1510, 97)
    truth_by_id = {d["ImageId"]: d["Label"] for d in json.loads((folder / "true_labels.json").read_text())}
    lines = [json.loads(line) for line in (folder / "output.manifest").read_text().splitlines()]
    truth = np.array([BIRDS.index(truth_by_id[line["source-ref"].rsplit("/", 1)[1][:-4]]) for line in lines])
    gt_labels = np.array([line["birds-open-images-clone"] for line in lines])
    assert (gt_labels == truth).sum() == 272  # the spec's reference figure
    right = {m: int((consolidate(answers, m).label == truth).sum()) for m in METHODS}
    assert right["gt"] >= 272
    assert right["one-coin"] >= 272
    assert right["majority"] == 273
    ours = consolidate(answers, "gt")
    assert (ours.label == gt_labels).sum() >= 300  # the same method as GT's service


def test_one_worker_gets_confidence_zero():
    answers = Answers.from_arrays([0, 1, 1, 1], [0, 0, 1, 2], [1, 0, 0, 1], ["a", "b", "c"], ["x", "y"])
    for method in METHODS:
        r = consolidate(answers, method)
        assert r.n_workers.tolist() == [1, 3]
        assert r.confidence[0] == 0 and r.label[0] == 1
        assert 0.5 <= r.confidence[1] <= 1


def test_a_record_with_hundreds_of_answers_stays_finite():
    """Its log-likelihoods differ by hundreds: the fast float32 path overflows there and the
    exact one takes over."""
    record = np.r_[np.zeros(300, dtype=np.int32), np.repeat(np.arange(1, 201), 3)]
    worker = np.r_[np.arange(300), np.tile([0, 1, 2], 200)]
    label = np.r_[np.zeros(300, dtype=np.int32), np.repeat(np.arange(200) % 4, 3)]
    label[300::7] = 1
    answers = Answers.from_arrays(record, worker, label, [f"w{i}" for i in range(300)], ["a", "b", "c", "d"])
    for method in METHODS:
        r = consolidate(answers, method)
        assert np.isfinite(r.posterior).all() and np.allclose(r.posterior.sum(axis=1), 1, atol=1e-5)
        assert r.label[0] == 0 and r.confidence[0] >= 0.95


def test_multilabel_keeps_every_chosen_label_with_its_own_score():
    rng = np.random.default_rng(5)
    labels = ["cat", "dog", "car", "tree"]
    truth = rng.random((400, 4)) < 0.35
    items = []
    for r in range(400):
        for w in range(3):
            chosen = [labels[k] for k in range(4) if truth[r, k] != (rng.random() < (0.05 if w < 2 else 0.4))]
            items.append(WorkerAnswer(r, f"w{w}", "crowd-image-classifier-multi-select", {"labels": chosen}, f"2024-01-01T00:00:{w:02d}Z", None, 1.0, "mem"))
    problems: list[str] = []
    answers = Answers.from_worker_answers(items, labels, problems)
    assert answers.multi and problems == []
    r = consolidate(answers, "gt")
    assert r.multi and r.posterior.shape == (400, 4)
    # Every label any worker chose is in the output; the EM's yes/no agrees with the truth.
    chosen_by_someone = np.zeros((400, 4), dtype=bool)
    chosen_by_someone[answers.record, answers.label] = True
    assert (r.chosen == chosen_by_someone).all()
    accuracy = ((r.posterior > 0.5) == truth).mean()
    majority = ((consolidate(answers, "majority").posterior > 0.5) == truth).mean()
    assert accuracy >= majority and accuracy > 0.95
    # The noisy worker (w2) is found out.
    assert r.worker_accuracy[2] < r.worker_accuracy[0] - 0.2


def test_gold_fixes_truth_and_scores_workers():
    # Two workers always agree on a wrong label for record 0; gold says otherwise.
    answers = Answers.from_arrays(
        [0, 0, 0, 1, 1, 1, 2, 2, 2], [0, 1, 2, 0, 1, 2, 0, 1, 2], [1, 1, 0, 0, 0, 0, 1, 1, 1], ["a", "b", "c"], ["x", "y"]
    )
    plain = consolidate(answers, "gt")
    assert plain.label[0] == 1
    r = consolidate(answers, "gt", gold={0: 0, 2: 1})
    assert r.label[0] == 0 and r.posterior[0, 0] == 1.0
    assert r.gold_accuracy.tolist() == [0.5, 0.5, 1.0]
    # A gold record outside the answered ones is ignored, not an error.
    assert consolidate(answers, "gt", gold={99: 1}).label.tolist() == plain.label.tolist()


def test_consolidate_one_matches_the_batch():
    crowd = make_crowd("mixed", 1500, 40, seed=8)
    answers = _answers(crowd)
    for method in METHODS:
        model = consolidate(answers, method)
        for row in (0, 17, 400):
            index = model.record[row]
            mine = answers.record == index
            given = [(answers.workers[w], int(label)) for w, label in zip(answers.worker[mine], answers.label[mine])]
            label, confidence, post = consolidate_one(model, given)
            assert label == model.label[row] and confidence == model.confidence[row]
            assert np.allclose(post, model.posterior[row], atol=1e-5)
    # A worker the model never saw counts as an average worker.
    label, confidence, _ = consolidate_one(consolidate(answers, "gt"), [("new", 3), ("newer", 3)])
    assert label == 3 and confidence > 0.5


def test_answers_are_the_same_whatever_order_they_come_in():
    crowd = make_crowd("confusions", 300, 12, seed=2)
    items = [
        WorkerAnswer(int(r), f"w{w}", "crowd-classifier", {"label": str(label)}, "2024-01-01T00:00:00Z", None, None, "x")
        for r, w, label in zip(crowd.record, crowd.worker, crowd.label)
    ]
    labels = [str(i) for i in range(10)]
    a = consolidate(Answers.from_worker_answers(items, labels, []))
    b = consolidate(Answers.from_worker_answers(list(reversed(items)), labels, []))
    assert a.label.tolist() == b.label.tolist() and np.array_equal(a.posterior, b.posterior)


def test_problem_lines_for_labels_indexes_and_mixed_elements():
    def answer(index, worker, element, content):
        return WorkerAnswer(index, worker, element, content, "2024-01-01T00:00:00Z", None, None, f"f{index}.json")

    problems: list[str] = []
    answers = Answers.from_worker_answers(
        [
            answer(0, "a", "crowd-classifier", {"label": "x"}),
            answer(0, "b", "crowd-classifier", {"label": "zebra"}),
            answer(7, "a", "crowd-classifier", {"label": "y"}),
            answer(7, "b", "crowd-classifier", {"label": "x"}),  # same file: one line for it
            answer(1, "a", "crowd-classifier-multi-select", {"labels": ["x"]}),
            answer(1, "b", "crowd-classifier", {"label": "y"}),
        ],
        ["x", "y"],
        problems,
        n_records=5,
    )
    assert answers.n_answers == 2
    assert len(problems) == 3
    assert "f0.json" in problems[0] and "'zebra', not in the label list" in problems[0]
    assert "f7.json" in problems[1] and "outside the input (5 lines)" in problems[1]
    assert "f1.json" in problems[2] and "not a single-label element" in problems[2]


def test_reader_keeps_the_latest_duplicate_and_says_so(tmp_path):
    base = tmp_path / "worker-response" / "iteration-1" / "0"
    base.mkdir(parents=True)
    first = {"answers": [{"answerContent": {"crowd-classifier": {"label": "x"}}, "submissionTime": "2024-01-01T00:00:05Z", "workerId": "a"}]}
    later = {"answers": [{"answerContent": {"crowd-classifier": {"label": "y"}}, "submissionTime": "2024-01-01T00:09:00Z", "workerId": "a"}]}
    (base / "2024-01-01_00:09:00.json").write_text(json.dumps(later))
    (base / "2024-01-01_00:00:05.json").write_text(json.dumps(first))
    problems: list[str] = []
    got = list(read_worker_responses(tmp_path, problems))
    assert [a.content for a in got] == [{"label": "y"}]
    assert len(problems) == 1 and "answered object 0 twice" in problems[0] and "kept the latest" in problems[0]


@pytest.mark.parametrize("labels, expected", [([0, 0], 0), ([1, 1], 1), ([2, 2, 2], 2)])
def test_one_unanimous_record_gets_its_label_and_a_finite_confidence(labels, expected):
    # A team job consolidates the few records that just closed: one unanimous record made a
    # class prior of exactly 0 in float32, log(0), and NaN for label and confidence.
    workers = [f"w{i}" for i in range(len(labels))]
    answers = Answers.from_arrays([7] * len(labels), list(range(len(labels))), labels, workers, ["a", "b", "c"])
    for method in METHODS:
        result = consolidate(answers, method)
        assert result.label.tolist() == [expected], method
        assert np.isfinite(result.confidence).all() and result.confidence[0] > 0.5, method
