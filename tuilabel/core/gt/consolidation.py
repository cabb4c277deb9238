"""Several workers' answers -> one label per record with a confidence (spec §6).

Methods:
- "gt": Ground Truth's classification consolidation, the "modified Dawid-Skene" of AWS's
  annotation-consolidation notebook: per-worker confusion matrices that start at accuracy 0.7,
  each M-step smoothed toward the worker's own accuracy (weight 1x its answers) and the average
  worker's (weight 0.5x), class prior = the current marginal, at most 20 EM rounds, stop when
  the log-likelihood changes by less than 1e-8 of itself. Label = arg-max posterior,
  confidence = round(max posterior, 2); one worker -> confidence 0.
- "dawid-skene": the full confusion matrices, unsmoothed (over-fits sparse workers).
- "one-coin": one accuracy per worker, errors spread evenly.
- "majority": vote shares.
Multi-label runs the same methods on each label as a yes/no question (per-label EM), and
keeps every label some worker chose, each with its own posterior.

Gold records (known answers) have their posterior fixed to the truth in every round, so the
workers' matrices are learned from them too, and each worker's accuracy on them is reported.

Everything is arrays: records are grouped by how many answers they have, so the E-step is a
few gathers from a small (worker, answer) x class table and the M-step a bincount per class.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Sequence

import numpy as np

from tuilabel.core.gt.job import JobFolder
from tuilabel.core.gt.worker_responses import WorkerAnswer, collect_comments, worker_answers_from_job

METHODS = ("gt", "dawid-skene", "one-coin", "majority")
ALL_WORKER_PRIOR = 0.7
MAX_ROUNDS = {"gt": 20, "dawid-skene": 100, "one-coin": 100}
TOLERANCE = 1e-8
# GT's service never writes a classification confidence above 0.95 (every multi-worker line
# of gt-birds, coral and banana tops out there), though the posterior often is 0.9999: with
# real crowds, whose errors go together on hard items, the cap is also the better calibrated
# (gt-birds: ECE 0.095 uncapped, about 0.05 capped). The other methods write the posterior.
GT_MAX_CONFIDENCE = 0.95
# dawid-skene: pseudo-answers per true class toward the worker's own accuracy (a Dirichlet
# prior), so a worker with a handful of answers is not fitted a 10x10 matrix of zeros.
DS_PRIOR_ANSWERS = 10.0
_TINY = 1e-300
_I32 = np.int32


def _empty_i32() -> np.ndarray:
    return np.zeros(0, dtype=_I32)


@dataclass
class Answers:
    """Answers as parallel arrays, one row per (record, worker, chosen label), sorted by
    record then worker. Single-label: one row per answer. Multi-label: one row per chosen
    label; `answer_record`/`answer_worker`/`answer_seconds` hold one row per answer (so a
    worker who answered a record is known even for labels they did not choose)."""

    record: np.ndarray  # int32, input line index
    worker: np.ndarray  # int32, index into workers
    label: np.ndarray  # int32, index into labels
    workers: list[str]
    labels: list[str]
    seconds: np.ndarray  # float64 per row, nan when unknown
    multi: bool = False
    answer_record: np.ndarray | None = None
    answer_worker: np.ndarray | None = None
    answer_seconds: np.ndarray | None = None
    declined_record: np.ndarray = field(default_factory=_empty_i32)  # one row per decline
    declined_worker: np.ndarray = field(default_factory=_empty_i32)
    element: str = ""  # the worker-response element the answers came in ("crowd-classifier", …)

    def __post_init__(self) -> None:
        if self.answer_record is None:
            if self.multi:
                raise ValueError("multi-label answers need answer_record and answer_worker")
            self.answer_record, self.answer_worker, self.answer_seconds = self.record, self.worker, self.seconds
        if self.answer_seconds is None:
            self.answer_seconds = np.full(len(self.answer_record), np.nan)

    @property
    def n_answers(self) -> int:
        return len(self.answer_record)

    @classmethod
    def from_arrays(cls, record, worker, label, workers: list[str], labels: list[str], seconds=None) -> "Answers":
        """Single-label answers from plain arrays, sorted here when they are not already."""
        record = np.asarray(record, dtype=_I32)
        worker = np.asarray(worker, dtype=_I32)
        label = np.asarray(label, dtype=_I32)
        seconds = np.full(len(record), np.nan) if seconds is None else np.asarray(seconds, dtype=np.float64)
        key = record.astype(np.int64) * max(len(workers), 1) + worker
        if len(key) > 1 and (np.diff(key) < 0).any():
            order = np.argsort(key, kind="stable")
            record, worker, label, seconds = record[order], worker[order], label[order], seconds[order]
        return cls(record, worker, label, list(workers), list(labels), seconds)

    @classmethod
    def from_worker_answers(
        cls,
        answers: Iterable[WorkerAnswer],
        labels: Sequence[str],
        problems: list[str],
        n_records: int | None = None,
        multi: bool | None = None,
    ) -> "Answers":
        """Answers with label names (GT's files, a job's journals) -> arrays. Labels not in the
        list, indexes outside the input (once per file) and answers of the other task kind are
        one problem line each (with their file) and left out."""
        index_of = {name: i for i, name in enumerate(labels)}
        worker_ids: dict[str, int] = {}
        rows: list[tuple[int, int, int, float]] = []  # record, worker, label, seconds
        answer_rows: list[tuple[int, int, float]] = []
        declined: list[tuple[int, int]] = []
        element = ""
        outside: set[tuple[str, int]] = set()  # GT keeps every worker's answer in one file: name it once
        for a in answers:
            if n_records is not None and not 0 <= a.index < n_records:
                if (a.source, a.index) not in outside:
                    outside.add((a.source, a.index))
                    problems.append(f"{a.source}: object index {a.index} is outside the input ({n_records:,} lines); skipped")
                continue
            if not a.declined:
                if multi is None:
                    multi = a.multi
                elif a.multi != multi:
                    kind = "multi-label" if multi else "single-label"
                    problems.append(f"{a.source}: {a.worker} answered with {a.element}, not a {kind} element; skipped")
                    continue
                element = element or a.element
                names = a.content["labels"] if a.multi else [a.content["label"]]
                unknown = [n for n in names if n not in index_of]
                if unknown:
                    problems.append(
                        f"{a.source}: {a.worker} chose {', '.join(map(repr, unknown))}, not in the label list; skipped"
                    )
                    continue
            w = worker_ids.setdefault(a.worker, len(worker_ids))
            seconds = np.nan if a.seconds is None else a.seconds
            if a.declined:
                declined.append((a.index, w))
                continue
            answer_rows.append((a.index, w, seconds))
            for name in dict.fromkeys(names):
                rows.append((a.index, w, index_of[name], seconds))
        # Workers by name, so the same answers give the same arrays whatever order they came in.
        names_sorted = sorted(worker_ids)
        remap = np.zeros(len(worker_ids), dtype=_I32)
        for new, name in enumerate(names_sorted):
            remap[worker_ids[name]] = new

        def table(items, ncols):
            arr = np.array(items, dtype=np.float64).reshape(-1, ncols)
            return arr

        main = table(rows, 4)
        rec, wor, lab = main[:, 0].astype(_I32), remap[main[:, 1].astype(_I32)], main[:, 2].astype(_I32)
        order = np.lexsort((lab, wor, rec))
        ans = table(answer_rows, 3)
        a_rec, a_wor = ans[:, 0].astype(_I32), remap[ans[:, 1].astype(_I32)]
        a_order = np.lexsort((a_wor, a_rec))
        dec = np.array(declined, dtype=_I32).reshape(-1, 2)
        return cls(
            rec[order],
            wor[order],
            lab[order],
            names_sorted,
            list(labels),
            main[order, 3],
            bool(multi),
            a_rec[a_order],
            a_wor[a_order],
            ans[a_order, 2],
            dec[:, 0].copy(),
            remap[dec[:, 1]] if len(dec) else _empty_i32(),
            element,
        )


def answers_from_job(folder: JobFolder, problems: list[str] | None = None, n_records: int | None = None,
                     comments: dict[int, list[str]] | None = None) -> Answers:
    """Every worker's latest answer per record in a tuilabel job folder; `comments`, when
    given, gets a verification job's comments per record."""
    spec = folder.load_spec()
    problems = [] if problems is None else problems
    worker_answers = worker_answers_from_job(folder, spec, problems)
    if comments is not None:
        worker_answers = collect_comments(worker_answers, comments)
    answers = Answers.from_worker_answers(worker_answers, spec.labels, problems, n_records, spec.task_type.multi)
    answers.element = spec.task_type.element  # also when every answer is a decline
    return answers


@dataclass
class Consolidated:
    record: np.ndarray  # input line index of each consolidated record, ascending
    label: np.ndarray  # int32 arg-max label (multi-label: the most likely one)
    confidence: np.ndarray  # float64, rounded to 2 decimals; 0 where one worker answered
    posterior: np.ndarray  # records x classes (multi-label: P(label present))
    worker_accuracy: np.ndarray  # per worker: expected share of their answers that are right
    method: str
    workers: list[str]
    labels: list[str]
    n_workers: np.ndarray  # answers per record
    multi: bool = False
    chosen: np.ndarray | None = None  # multi-label: records x classes, chosen by some worker
    gold_accuracy: np.ndarray | None = None  # per worker on gold records, nan without any
    rounds: int = 0
    confidence_cap: float = 1.0  # GT_MAX_CONFIDENCE for method "gt"
    # For consolidate_one: log P(answer l | truth k) per worker (W x K x K), for an unknown
    # worker (K x K), and the log class prior.
    log_confusion: np.ndarray | None = None
    log_confusion_unknown: np.ndarray | None = None
    log_prior: np.ndarray | None = None


def confidence_of(posterior_max: np.ndarray, n_workers: np.ndarray, cap: float = 1.0) -> np.ndarray:
    """GT's confidence: the max posterior rounded to 2 decimals (at most `cap`); 0 for a
    single worker."""
    rounded = np.round(np.minimum(np.asarray(posterior_max, dtype=np.float64), cap), 2)
    return np.where(n_workers > 1, rounded, 0.0)


# -- the EM core ---------------------------------------------------------------------------


class _Layout:
    """Answers arranged for the EM: records grouped by how many answers they have (internal
    order), so the answers of the records in one group form a (records x n) block of cells.
    A cell is (worker, answered class): cell = worker * K + class."""

    def __init__(self, rec: np.ndarray, cell: np.ndarray, n_records: int):
        if len(rec) > 1 and (np.diff(rec) < 0).any():  # stacked per-label problems
            order = np.argsort(rec, kind="stable")
            rec, cell = rec[order], cell[order]
        counts = np.bincount(rec, minlength=n_records)
        self.blocks: list[tuple[int, int, np.ndarray]] = []  # (first, last+1 internal record, cells)
        orders, cells, start = [], [], 0
        for size in np.unique(counts):
            recs = np.flatnonzero(counts == size)
            block = cell[np.repeat(counts == size, counts)].reshape(len(recs), size)
            self.blocks.append((start, start + len(recs), block))
            orders.append(recs)
            cells.append(block.ravel())
            start += len(recs)
        self.order = np.concatenate(orders) if orders else _empty_i32()  # internal -> record
        self.cell = np.concatenate(cells) if cells else _empty_i32()  # answers, internal order
        self.counts = counts[self.order]
        self.rows = np.repeat(np.arange(n_records, dtype=np.int64), self.counts)  # answer -> record
        self.n_records = n_records

    def loglik(self, log_table: np.ndarray, log_prior: np.ndarray) -> np.ndarray:
        """records x K: log prior + sum of the answers' log P(answer | class)."""
        out = np.empty((self.n_records, log_table.shape[1]))
        out[:] = log_prior
        for first, last, block in self.blocks:
            part = out[first:last]
            for j in range(block.shape[1]):
                part += log_table.take(block[:, j], axis=0)
        return out

    def cell_totals(self, q: np.ndarray, n_cells: int) -> np.ndarray:
        """cells x K: for each (worker, answered class), the summed posterior of each class."""
        by_class = np.ascontiguousarray(q.T)
        out = np.empty((n_cells, q.shape[1]))
        for c in range(q.shape[1]):
            out[:, c] = np.bincount(self.cell, weights=by_class[c].take(self.rows), minlength=n_cells)
        return out


def _accuracy_matrix(acc: np.ndarray, k: int) -> np.ndarray:
    """Per accuracy a: a K x K matrix with a on the diagonal and (1-a)/(K-1) elsewhere."""
    acc = np.asarray(acc, dtype=np.float64)
    off = (1.0 - acc) / (k - 1)
    m = np.broadcast_to(off[..., None, None], acc.shape + (k, k)).copy()
    idx = np.arange(k)
    m[..., idx, idx] = acc[..., None]
    return m


def _normalise(logl: np.ndarray) -> tuple[np.ndarray, float]:
    """Posterior rows (float32) and the log-likelihood (float64), overwriting `logl`.

    Rows are shifted by their mean, not their max, and exponentiated in float32: both several
    times faster than the textbook way on 10-wide rows. The rare rows where that overflows
    (a record with dozens of answers) are redone in float64 from their max."""
    k = logl.shape[1]
    shift = np.einsum("ij->i", logl) / k
    logl -= shift[:, None]
    with np.errstate(over="ignore"):
        q = np.exp(logl, dtype=np.float32)
    z = np.einsum("ij->i", q).astype(np.float64)
    bad = np.flatnonzero(~np.isfinite(z) | (z <= 0))
    if len(bad):
        top = logl[bad].max(axis=1)
        exact = np.exp(logl[bad] - top[:, None])
        sums = exact.sum(axis=1)
        q[bad] = exact / sums[:, None]
        z[bad] = 1.0
        shift[bad] += top + np.log(sums)
    q /= z[:, None].astype(np.float32)
    return q, float((np.log(z) + shift).sum())


def _fit(
    rec: np.ndarray,
    wor: np.ndarray,
    lab: np.ndarray,
    n_records: int,
    n_workers: int,
    k: int,
    method: str,
    gold: tuple[np.ndarray, np.ndarray] | None,
    group: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]:
    """(posterior records x K, log confusion W x K x K [true, answered], log confusion of an
    unknown worker, log prior, rounds). `group` gives each record a class prior of its own
    group (per-label EM stacks one yes/no problem per label)."""
    n_groups = 1 if group is None else int(group.max()) + 1 if len(group) else 1
    cell = wor.astype(np.int64) * k + lab
    layout = _Layout(rec, cell, n_records)
    inv = np.empty(n_records, dtype=np.int64)
    inv[layout.order] = np.arange(n_records)
    grp = np.zeros(n_records, dtype=np.int64) if group is None else group[layout.order]
    if gold is not None and len(gold[0]):
        gold_rows, gold_q = inv[gold[0]], np.eye(k)[gold[1]]
    else:
        gold_rows = None

    def fix_gold(q: np.ndarray) -> np.ndarray:
        if gold_rows is not None:
            q[gold_rows] = gold_q
        return q

    def prior_of(q: np.ndarray) -> np.ndarray:
        if n_groups == 1:
            # float64: in q's float32 the floor _TINY is 0, and a class nobody chose (one
            # unanimous record) made log(0) and then NaN posteriors.
            p = q.mean(axis=0, dtype=np.float64)
            return np.log(np.maximum(p / p.sum(), _TINY))[None, :]
        sums = np.stack([np.bincount(grp, weights=q[:, c], minlength=n_groups) for c in range(k)], axis=1)
        p = sums / np.maximum(sums.sum(axis=1, keepdims=True), _TINY)
        return np.log(np.maximum(p, _TINY))[grp]

    unknown = _accuracy_matrix(np.array(ALL_WORKER_PRIOR), k)
    if method == "majority":
        votes = np.bincount(layout.rows * k + layout.cell % k, minlength=n_records * k).reshape(n_records, k)
        q = fix_gold(votes / np.maximum(votes.sum(axis=1, keepdims=True), 1))
        log_conf = np.log(np.broadcast_to(unknown, (n_workers, k, k)).copy())
        log_prior = prior_of(q)
        return q[inv], log_conf, np.log(unknown), (log_prior[0] if n_groups == 1 else log_prior), 0

    # Every method starts where GT starts: all workers at accuracy 0.7, a flat prior.
    log_conf = np.log(np.broadcast_to(unknown, (n_workers, k, k)).copy())
    log_prior = np.full((1, k), -np.log(k))
    all_prior = ALL_WORKER_PRIOR
    previous = None
    rounds = 0
    for rounds in range(1, MAX_ROUNDS[method] + 1):
        # table[cell, true class] = log P(answer | true class) for that worker and answer.
        table = np.ascontiguousarray(log_conf.transpose(0, 2, 1).reshape(n_workers * k, k))
        q, ll = _normalise(layout.loglik(table, log_prior))
        q = fix_gold(q)
        converged = previous is not None and abs(ll - previous) <= TOLERANCE * abs(previous)
        if converged or rounds == MAX_ROUNDS[method]:
            break  # the posterior stays paired with the matrices that made it (consolidate_one)
        previous = ll
        totals = layout.cell_totals(q, n_workers * k)  # [worker*K + answered, true]
        counts = totals.reshape(n_workers, k, k).transpose(0, 2, 1)  # [worker, true, answered]
        answered = counts.sum(axis=(1, 2))
        acc = np.trace(counts, axis1=1, axis2=2) / np.maximum(answered, _TINY)
        if method == "gt":
            smoothed = (
                counts
                + _accuracy_matrix(acc, k) * answered[:, None, None]
                + _accuracy_matrix(np.array(all_prior), k) * (answered / 2)[:, None, None]
            )
            all_prior = float(acc.mean())
        elif method == "one-coin":
            smoothed = _accuracy_matrix(np.clip(acc, 1e-6, 1 - 1e-6), k)
        else:  # dawid-skene
            smoothed = counts + DS_PRIOR_ANSWERS * _accuracy_matrix(np.clip(acc, 1e-3, 1 - 1e-3), k)
        conf = smoothed / smoothed.sum(axis=2, keepdims=True)
        log_conf = np.log(np.maximum(conf, _TINY))
        log_prior = prior_of(q)
        unknown = _accuracy_matrix(np.array(all_prior if method == "gt" else float(acc.mean())), k)
    return (q[inv].astype(np.float64), log_conf, np.log(np.maximum(unknown, _TINY)),
            (log_prior[0] if n_groups == 1 else log_prior), rounds)


def _worker_scores(rec, wor, lab, q, n_workers, gold_label):
    """Expected accuracy per worker (their answers' posterior), and accuracy on gold."""
    right = q[rec, lab]
    n = np.bincount(wor, minlength=n_workers).astype(np.float64)
    expected = np.bincount(wor, weights=right, minlength=n_workers) / np.maximum(n, 1)
    on_gold = gold_label[rec] >= 0
    g_n = np.bincount(wor[on_gold], minlength=n_workers).astype(np.float64)
    g_right = np.bincount(wor[on_gold], weights=(gold_label[rec][on_gold] == lab[on_gold]), minlength=n_workers)
    with np.errstate(invalid="ignore", divide="ignore"):
        gold_acc = np.where(g_n > 0, g_right / g_n, np.nan)
    return expected, gold_acc


def consolidate(answers: Answers, method: str = "gt", gold: dict[int, int | Sequence[int]] | None = None) -> Consolidated:
    """Consolidate every answered record. `gold` maps input line -> known label (multi-label:
    a list of labels)."""
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; one of {', '.join(METHODS)}")
    k = len(answers.labels)
    n_w = len(answers.workers)
    ar = answers.answer_record
    if len(ar) > 1 and (np.diff(ar) < 0).any():
        records, rec = np.unique(ar, return_inverse=True)
    else:  # sorted, as Answers keeps them: no sort needed
        starts = np.flatnonzero(np.r_[True, ar[1:] != ar[:-1]]) if len(ar) else np.zeros(0, dtype=np.int64)
        records = ar[starts]
        rec = np.repeat(np.arange(len(starts)), np.diff(np.r_[starts, len(ar)]))
    rec = rec.astype(np.int64)
    n_r = len(records)
    n_workers = np.bincount(rec, minlength=n_r)
    gold = gold or {}
    if answers.multi:
        return _consolidate_multi(answers, method, gold, records, rec, n_workers)
    gold_label = np.full(n_r, -1, dtype=np.int64)
    for index, value in gold.items():
        pos = np.searchsorted(records, index)
        if pos < n_r and records[pos] == index:
            gold_label[pos] = int(value)  # type: ignore[arg-type]
    gold_rows = np.flatnonzero(gold_label >= 0)
    lab = answers.label.astype(np.int64)
    q, log_conf, log_unknown, log_prior, rounds = _fit(
        rec, answers.worker, lab, n_r, n_w, k, method, (gold_rows, gold_label[gold_rows])
    )
    label = q.argmax(axis=1).astype(_I32)
    # One worker: their answer is the label (with confidence 0), as in GT's single-worker jobs.
    alone = np.flatnonzero((n_workers == 1) & (gold_label < 0))
    first_row = np.searchsorted(rec, alone)
    label[alone] = lab[first_row]
    expected, gold_acc = _worker_scores(rec, answers.worker, lab, q, n_w, gold_label)
    cap = _cap(method)
    return Consolidated(
        records.astype(_I32), label, confidence_of(q.max(axis=1), n_workers, cap), q, expected, method,
        answers.workers, answers.labels, n_workers, False, None, gold_acc, rounds, cap,
        log_conf, log_unknown, log_prior,
    )


def _cap(method: str) -> float:
    return GT_MAX_CONFIDENCE if method == "gt" else 1.0


def _consolidate_multi(answers, method, gold, records, rec, n_workers) -> Consolidated:
    """Per-label EM: each label is a yes/no question every answering worker answered."""
    k = len(answers.labels)
    n_w = len(answers.workers)
    n_r = len(records)
    # chosen[answer, label]: label rows matched to their answer row by (record, worker).
    key_answers = rec * n_w + answers.answer_worker
    rec_rows = np.searchsorted(records, answers.record)
    pos = np.searchsorted(key_answers, rec_rows.astype(np.int64) * n_w + answers.worker)
    chosen = np.zeros((len(rec), k), dtype=np.int64)
    chosen[pos, answers.label] = 1
    # Stacked yes/no problem: record' = record * K + label, worker' = worker * K + label.
    labels_idx = np.arange(k)
    s_rec = (rec[:, None] * k + labels_idx).ravel()
    s_wor = (answers.answer_worker.astype(np.int64)[:, None] * k + labels_idx).ravel()
    s_lab = chosen.ravel()
    group = np.tile(labels_idx, n_r)
    gold_label = np.full(n_r * k, -1, dtype=np.int64)
    for index, value in gold.items():
        p = np.searchsorted(records, index)
        if p < n_r and records[p] == index:
            truth = np.zeros(k, dtype=np.int64)
            truth[list(value if isinstance(value, (list, tuple, set)) else [value])] = 1
            gold_label[p * k : p * k + k] = truth
    gold_rows = np.flatnonzero(gold_label >= 0)
    q, _, _, _, rounds = _fit(s_rec, s_wor, s_lab, n_r * k, n_w * k, 2, method, (gold_rows, gold_label[gold_rows]), group)
    present = q[:, 1].reshape(n_r, k)
    picked = np.zeros((n_r, k), dtype=bool)
    picked[rec_rows, answers.label] = True
    _, gold_s = _worker_scores(s_rec, s_wor, s_lab, q, n_w * k, gold_label)
    real_worker = s_wor // k
    expected = np.bincount(real_worker, weights=q[s_rec, s_lab], minlength=n_w) / np.maximum(
        np.bincount(real_worker, minlength=n_w), 1
    )
    per_label = gold_s.reshape(n_w, k)
    scored = np.isfinite(per_label).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        gold_acc = np.where(scored > 0, np.nansum(per_label, axis=1) / scored, np.nan)
    top = present.argmax(axis=1).astype(_I32)
    return Consolidated(
        records.astype(_I32), top, confidence_of(present.max(axis=1), n_workers, _cap(method)), present, expected,
        method, answers.workers, answers.labels, n_workers, True, picked, gold_acc, rounds, _cap(method),
    )


def consolidate_one(model: Consolidated, answers: Sequence[tuple[str, int]]) -> tuple[int, float, np.ndarray]:
    """One record's (worker, label) answers -> (label, confidence, posterior), with the
    workers' matrices of an earlier `consolidate` (unknown workers count as average). Cheap:
    a team job writes a record's line the moment its last worker answers."""
    if model.multi or model.log_confusion is None:
        raise ValueError("consolidate_one takes single-label models")
    k = len(model.labels)
    if model.method == "majority":
        post = np.bincount([label for _, label in answers], minlength=k).astype(np.float64)
        post /= max(post.sum(), 1.0)
    else:
        index = {name: i for i, name in enumerate(model.workers)}
        logl = np.array(model.log_prior, dtype=np.float64).reshape(k).copy()
        for worker, label in answers:
            w = index.get(worker)
            table = model.log_confusion[w] if w is not None else model.log_confusion_unknown
            logl += table[:, label]
        post, _ = _normalise(logl[None, :])
        post = post[0]
    label = int(post.argmax()) if len(answers) != 1 else int(answers[0][1])
    confidence = float(confidence_of(np.array([post[label]]), np.array([len(answers)]), model.confidence_cap)[0])
    return label, confidence, post
