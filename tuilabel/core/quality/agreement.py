"""Agreement between workers and each worker's quality, from single-label answers (`Answers`).

Everything comes from a few sorts and counts over the answer arrays (numpy, no Python loop per
answer or per record). Notation: records are the input lines with at least one answer; n_ik is
the number of answers on record i that chose class k; m_i = sum_k n_ik.

- Fleiss' kappa with a varying number of answers per record, as Gwet generalises it (Handbook of
  Inter-Rater Reliability, 4th ed. 2014, ch. 2; R's irrCAC `fleiss.raw.raw`): observed agreement
  p_a = the mean over records with m_i >= 2 of sum_k n_ik(n_ik - 1) / (m_i(m_i - 1)); chance
  agreement p_e = sum_k pi_k^2 with pi_k = the mean over records of n_ik / m_i. With the same
  number of answers on every record this is Fleiss (1971) exactly (statsmodels' fleiss_kappa).
- Krippendorff's alpha, nominal, from the coincidence matrix of pairable values (records with
  m_i >= 2; missing answers need no special case): with n_k = sum_i n_ik, n = sum_k n_k and
  o_kk = sum_i n_ik(n_ik - 1)/(m_i - 1):  alpha = 1 - (n - 1)(n - sum_k o_kk) / (n^2 - sum_k n_k^2).
- Cohen's kappa for each pair of workers that share at least `min_shared` records (default 10:
  below that one disagreement moves kappa by 0.1 or more), computed on the shared records only
  (both marginals from them, as sklearn's cohen_kappa_score on the two aligned columns). Pairs
  come from a sparse co-occurrence: every pair of answers on one record, counted per worker
  pair, so many sparse workers cost what their overlaps cost, never workers^2.
- Per-label (specific) agreement of class k: of the ordered pairs of answers by two workers on
  one record where the first chose k, the share where the second chose k too,
  sum_i n_ik(n_ik - 1) / sum_i n_ik(m_i - 1) (Uebersax's specific agreement; 1 when everyone who
  sees a record that someone calls k calls it k).
- Per worker: answers; agreement with the others (of the other workers' answers on the records
  this worker answered, the share equal to this worker's); agreement with the consolidated
  label; the consolidation's estimate of the worker's accuracy; median seconds per answer
  (answers with a known time); accuracy on gold records; mean Cohen's kappa with partners
  (weighted by shared records).

Undefined figures (no pairs, no variation) are None, never NaN, so `to_json` is plain JSON.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from tuilabel.core.gt.consolidation import Answers, Consolidated

MIN_SHARED = 10
# Counting keys (record x class cells, worker pairs) with a dense bincount instead of a sort
# while the key space is at most this many slots per key (or DENSE_MIN slots).
DENSE_PER_KEY = 8
DENSE_MIN = 1 << 20


@dataclass
class PairKappa:
    a: str
    b: str
    shared: int  # records both answered
    agreement: float  # share of shared records with the same label
    kappa: float | None  # None when chance agreement is 1 (both always gave one same label)


@dataclass
class LabelAgreement:
    label: str
    answers: int
    agreement: float | None  # specific agreement; None when no answer for it has a partner


@dataclass
class WorkerQuality:
    worker: str
    answers: int
    with_others: float | None
    with_consolidated: float | None
    estimated_accuracy: float | None
    median_seconds: float | None
    gold_answers: int
    gold_accuracy: float | None
    mean_kappa: float | None

    @property
    def agreement(self) -> float | None:
        """The figure workers are ranked by: with the consolidated label when known."""
        return self.with_consolidated if self.with_consolidated is not None else self.with_others


@dataclass
class Agreement:
    answers: int
    records: int
    records_multi: int  # records with at least 2 answers (the ones agreement is measured on)
    workers: int
    answers_per_record: float
    fleiss_kappa: float | None
    observed_agreement: float | None  # Fleiss' p_a
    chance_agreement: float | None  # Fleiss' p_e
    krippendorff_alpha: float | None
    min_shared: int
    pairs_too_few: int  # worker pairs sharing records, but fewer than min_shared
    pairwise: list[PairKappa] = field(default_factory=list)  # lowest kappa first
    per_label: list[LabelAgreement] = field(default_factory=list)  # in label order
    per_worker: list[WorkerQuality] = field(default_factory=list)  # weakest first (see _weakness)

    @property
    def mean_pair_kappa(self) -> float | None:
        values = [p.kappa for p in self.pairwise if p.kappa is not None]
        return float(np.mean(values)) if values else None

    @property
    def median_pair_kappa(self) -> float | None:
        values = [p.kappa for p in self.pairwise if p.kappa is not None]
        return float(np.median(values)) if values else None

    def to_json(self) -> dict:
        out = asdict(self)
        out["mean_pair_kappa"] = self.mean_pair_kappa
        out["median_pair_kappa"] = self.median_pair_kappa
        out["definitions"] = DEFINITIONS
        return out


DEFINITIONS = {
    "fleiss_kappa": "Gwet's generalisation to a varying number of answers per record (Fleiss 1971 when constant)",
    "krippendorff_alpha": "nominal, coincidence matrix over records with 2+ answers",
    "pairwise": "Cohen's kappa on the records both workers answered, pairs with at least min_shared",
    "per_label": "specific agreement: of answer pairs on one record where one chose the label, the share where both did",
    "with_others": "share of the other workers' answers on the same records equal to this worker's",
}


def _num(x: float) -> float | None:
    x = float(x)
    return round(x, 6) if np.isfinite(x) else None


def _ratio(num: np.ndarray, den: np.ndarray) -> list[float | None]:
    with np.errstate(invalid="ignore", divide="ignore"):
        r = num / den
    return [_num(v) if d > 0 else None for v, d in zip(r.tolist(), den.tolist())]


def compute_agreement(
    answers: "Answers",
    consolidated_label: np.ndarray | None = None,
    worker_accuracy: np.ndarray | None = None,
    gold: np.ndarray | None = None,
    min_shared: int = MIN_SHARED,
) -> Agreement:
    """Agreement figures of `answers` (one label per answer, at most one answer per worker and
    record). `consolidated_label` and `gold` are indexed by input line index (-1: none);
    `worker_accuracy` is aligned with `answers.workers`."""
    if answers.multi:
        raise ValueError("agreement figures take single-label answers (one label per answer)")
    K = len(answers.labels)
    W = len(answers.workers)
    rec = np.asarray(answers.record, dtype=np.int64)
    wk = np.asarray(answers.worker, dtype=np.int64)
    lab = np.asarray(answers.label, dtype=np.int64)
    N = len(rec)
    if N == 0:
        return Agreement(0, 0, 0, W, 0.0, None, None, None, None, min_shared, 0,
                         per_label=[LabelAgreement(name, 0, None) for name in answers.labels],
                         per_worker=[_worker(answers.workers[w], 0) for w in range(W)])

    # Record ids: the line index itself when dense enough, else compacted.
    rmax = int(rec.max()) + 1
    rid = rec if rmax <= 4 * N + 1024 else np.unique(rec, return_inverse=True)[1].astype(np.int64)
    # Pairs first, while little else is held: they are the largest temporary arrays.
    pairs, too_few, mean_kappa = _pairs(rid, wk, lab, K, W, answers.workers, min_shared)
    m = np.bincount(rid)
    records = int(np.count_nonzero(m))
    multi = int(np.count_nonzero(m >= 2))

    # Cells (record, class) with their counts n_ik.
    cell_of = rid * K + lab
    ukey, c, count_of_cell = _count_keys(cell_of, len(m) * K)
    cell_rec, cell_lab = ukey // K, ukey % K
    c = c.astype(np.float64)
    mc = m[cell_rec].astype(np.float64)
    pairable = mc >= 2

    fleiss = pa = pe = None
    if multi:
        pa_v = float(np.sum(c[pairable] * (c[pairable] - 1) / (mc[pairable] * (mc[pairable] - 1)))) / multi
        pi = np.bincount(cell_lab, weights=c / mc, minlength=K) / records
        pe_v = float(np.sum(pi * pi))
        pa, pe = _num(pa_v), _num(pe_v)
        fleiss = _num((pa_v - pe_v) / (1 - pe_v)) if pe_v < 1 else None

    alpha = None
    cp, mp, lp = c[pairable], mc[pairable], cell_lab[pairable]
    nk = np.bincount(lp, weights=cp, minlength=K)
    n = float(nk.sum())
    expected = n * n - float(np.sum(nk * nk))
    if n >= 2 and expected > 0:
        okk = float(np.sum(cp * (cp - 1) / (mp - 1)))
        alpha = _num(1 - (n - 1) * (n - okk) / expected)

    spec_num = np.bincount(lp, weights=cp * (cp - 1), minlength=K)
    spec_den = np.bincount(lp, weights=cp * (mp - 1), minlength=K)
    per_answers = np.bincount(lab, minlength=K)
    per_label = [LabelAgreement(name, int(a), s) for name, a, s in
                 zip(answers.labels, per_answers.tolist(), _ratio(spec_num, spec_den))]

    # Per worker.
    n_w = np.bincount(wk, minlength=W)
    others = (m[rid] - 1).astype(np.float64)
    same = count_of_cell(cell_of) - 1.0
    with_others = _ratio(np.bincount(wk, weights=same, minlength=W), np.bincount(wk, weights=others, minlength=W))
    with_cons = _against(rec, wk, lab, W, consolidated_label)
    gold_n, gold_acc = _gold(rec, wk, lab, W, gold)
    medians = _median_seconds(wk, np.asarray(answers.seconds, dtype=np.float64), W)
    acc = [None] * W if worker_accuracy is None else [_num(v) for v in np.asarray(worker_accuracy, dtype=np.float64).tolist()]
    per_worker = [
        WorkerQuality(answers.workers[w], int(n_w[w]), with_others[w], with_cons[w], acc[w], medians[w],
                      gold_n[w], gold_acc[w], mean_kappa[w])
        for w in range(W)
    ]
    per_worker.sort(key=_weakness)
    return Agreement(
        answers=N,
        records=records,
        records_multi=multi,
        workers=int(np.count_nonzero(n_w)),
        answers_per_record=round(N / records, 3),
        fleiss_kappa=fleiss,
        observed_agreement=pa,
        chance_agreement=pe,
        krippendorff_alpha=alpha,
        min_shared=min_shared,
        pairs_too_few=too_few,
        pairwise=pairs,
        per_label=per_label,
        per_worker=per_worker,
    )


def _weakness(q: WorkerQuality) -> tuple:
    """Weakest first by the upper end of the 95% Wilson interval of the worker's agreement over
    their answers: one unlucky answer does not put a worker above one who is wrong half the time."""
    if q.agreement is None or not q.answers:
        return (1, 0.0)
    z, n, p = 1.96, q.answers, q.agreement
    upper = (p + z * z / (2 * n) + z * ((p * (1 - p) + z * z / (4 * n)) / n) ** 0.5) / (1 + z * z / n)
    return (0, upper)


def agreement_with(answers: "Answers", consolidated: "Consolidated", gold: "np.ndarray | dict | None" = None,
                   min_shared: int = MIN_SHARED) -> Agreement:
    """`compute_agreement` with the labels and worker accuracies of a consolidation. `gold`
    may also be consolidate()'s {line index: label} (multi-label entries are ignored)."""
    size = int(max(answers.record.max(initial=-1), consolidated.record.max(initial=-1))) + 1
    labels = np.full(size, -1, dtype=np.int64)
    labels[consolidated.record] = consolidated.label
    if isinstance(gold, dict):
        table = np.full(max([size, *(i + 1 for i in gold)]), -1, dtype=np.int64)
        for index, label in gold.items():
            if isinstance(label, (int, np.integer)):
                table[index] = label
        gold = table
    return compute_agreement(answers, labels, consolidated.worker_accuracy, gold, min_shared)


def _count_keys(keys: np.ndarray, space: int):
    """(distinct keys ascending, their counts, key -> count) for non-negative keys below
    `space`: a dense bincount when the space is small (no sort), else np.unique."""
    if space <= max(DENSE_PER_KEY * len(keys), DENSE_MIN):
        counts = np.bincount(keys, minlength=space)
        distinct = np.flatnonzero(counts)
        return distinct, counts[distinct], lambda k: counts[k]
    distinct, counts = np.unique(keys, return_counts=True)
    return distinct, counts, lambda k: counts[np.searchsorted(distinct, k)]


def _worker(name: str, n: int) -> WorkerQuality:
    return WorkerQuality(name, n, None, None, None, None, 0, None, None)


def _lookup(rec: np.ndarray, table: np.ndarray | None) -> np.ndarray:
    """table[rec] where rec is inside the table, else -1."""
    if table is None:
        return np.full(len(rec), -1, dtype=np.int64)
    table = np.asarray(table, dtype=np.int64)
    inside = rec < len(table)
    out = np.full(len(rec), -1, dtype=np.int64)
    out[inside] = table[rec[inside]]
    return out


def _against(rec, wk, lab, W, table) -> list[float | None]:
    truth = _lookup(rec, table)
    known = truth >= 0
    return _ratio(np.bincount(wk[known], weights=(lab[known] == truth[known]), minlength=W),
                  np.bincount(wk[known], minlength=W).astype(np.float64))


def _gold(rec, wk, lab, W, gold) -> tuple[list[int], list[float | None]]:
    truth = _lookup(rec, gold)
    known = truth >= 0
    n = np.bincount(wk[known], minlength=W)
    return n.tolist(), _ratio(np.bincount(wk[known], weights=(lab[known] == truth[known]), minlength=W), n.astype(np.float64))


def _median_seconds(wk: np.ndarray, seconds: np.ndarray, W: int) -> list[float | None]:
    ok = np.isfinite(seconds)
    w, s = wk[ok], seconds[ok]
    # By seconds, then stably by worker (a radix sort on ints): 8x faster than np.lexsort.
    order = np.argsort(s)
    order = order[np.argsort(w[order], kind="stable")]
    w, s = w[order], s[order]
    n = np.bincount(w, minlength=W)
    start = np.cumsum(n) - n
    out: list[float | None] = [None] * W
    has = np.nonzero(n)[0]
    lo = s[start[has] + (n[has] - 1) // 2]
    hi = s[start[has] + n[has] // 2]
    for w_, v in zip(has.tolist(), ((lo + hi) / 2).tolist()):
        out[w_] = _num(v)
    return out


def _pairs(rid, wk, lab, K, W, names, min_shared) -> tuple[list[PairKappa], int, list[float | None]]:
    """Cohen's kappa per worker pair with >= min_shared shared records, from every pair of
    answers on one record (generated by offset within the record-sorted answers)."""
    if len(rid) > 1 and (np.diff(rid) < 0).any():  # answers usually come sorted by record
        order = np.argsort(rid, kind="stable")
        r, w, l = rid[order], wk[order].astype(np.int32), lab[order].astype(np.int32)
        del order
    else:
        r, w, l = rid, wk.astype(np.int32), lab.astype(np.int32)
    longest = int(np.bincount(r).max())
    # Per pair of answers: the worker pair as one int64 key (lower worker first) and the two
    # labels, in that worker order, as one int32 (la * K + lb): 12 bytes a pair.
    key_parts, label_parts = [], []
    for d in range(1, longest):
        i = np.nonzero(r[:-d] == r[d:])[0]
        if not len(i):
            break
        a, b, la, lb = w[i], w[i + d], l[i], l[i + d]
        first = a <= b
        key_parts.append(np.where(first, a, b).astype(np.int64) * W + np.where(first, b, a))
        label_parts.append(np.where(first, la * K + lb, lb * K + la))
    mean_kappa: list[float | None] = [None] * W
    if not key_parts:
        return [], 0, mean_kappa
    pair_keys = np.concatenate(key_parts)
    del key_parts
    label_pairs = np.concatenate(label_parts)
    del label_parts
    keys, shared, shared_of = _count_keys(pair_keys, W * W)
    enough = shared >= min_shared
    too_few = int(np.count_nonzero(~enough))
    if not enough.any():
        return [], too_few, mean_kappa
    keep = shared_of(pair_keys) >= min_shared
    keys = keys[enough]
    pid = np.searchsorted(keys, pair_keys[keep])
    label_pairs = label_pairs[keep]
    del pair_keys
    la, lb = label_pairs // K, label_pairs % K
    shared = shared[enough].astype(np.float64)
    P = len(keys)
    agree = np.bincount(pid, weights=(la == lb), minlength=P) / shared
    ca = np.bincount(pid * K + la, minlength=P * K).reshape(P, K)
    cb = np.bincount(pid * K + lb, minlength=P * K).reshape(P, K)
    pe = (ca * cb).sum(axis=1) / (shared * shared)
    with np.errstate(invalid="ignore", divide="ignore"):
        kappa = np.where(pe < 1, (agree - pe) / (1 - pe), np.nan)
    pa_, pb_ = keys // W, keys % W
    defined = np.isfinite(kappa)
    weight = np.where(defined, shared, 0.0)
    kz = np.where(defined, kappa, 0.0)
    num = np.bincount(pa_, weights=kz * weight, minlength=W) + np.bincount(pb_, weights=kz * weight, minlength=W)
    den = np.bincount(pa_, weights=weight, minlength=W) + np.bincount(pb_, weights=weight, minlength=W)
    mean_kappa = _ratio(num, den)
    order = np.lexsort((-shared, np.where(defined, kappa, np.inf)))
    pairs = [
        PairKappa(names[int(pa_[i])], names[int(pb_[i])], int(shared[i]), _num(agree[i]), _num(kappa[i]))  # type: ignore[arg-type]
        for i in order.tolist()
    ]
    return pairs, too_few, mean_kappa


def several_workers(path) -> bool:
    """A GT folder with worker responses, or a tuilabel job answered by 2+ workers: a folder
    whose stats include agreement."""
    from pathlib import Path

    from tuilabel.core.errors import UserError
    from tuilabel.core.gt.job import JobFolder
    from tuilabel.core.gt.worker_responses import worker_response_folder

    path = Path(path)
    folder = JobFolder(path)
    if folder.exists():
        return sum(1 for journal in folder.journals() if journal.stat().st_size) >= 2
    try:
        worker_response_folder(path)
    except (UserError, OSError):
        return False
    return True


def agreement_of(answers: "Answers", consolidated: "Consolidated | None" = None, gold=None,
                 min_shared: int = MIN_SHARED) -> Agreement | None:
    """The agreement figures of a job's answers (with its consolidation when there is one);
    None for multi-label answers, which these figures are not for."""
    if answers.multi:
        return None
    if consolidated is None or not answers.n_answers:
        return compute_agreement(answers, min_shared=min_shared)
    return agreement_with(answers, consolidated, gold, min_shared)


def job_agreement(path, min_shared: int = MIN_SHARED):
    """(ConsolidationInput, Agreement) of a GT job folder or a tuilabel job with several
    workers; the consolidated labels and the workers' estimated accuracies come from
    `consolidate` (GT's method), so the figures mean the same for GT's folders and tuilabel's
    jobs. Agreement is None for a multi-label job (said in `problems`)."""
    from tuilabel.core.gt.consolidate_job import from_folder
    from tuilabel.core.gt.consolidation import consolidate

    inp = from_folder(path, need_input=False)
    answers = inp.answers
    if inp.boxes is not None:
        inp.problems.append(f"{path}: agreement figures are for single-label jobs; this one is a box job (consolidate scores each box)")
        return inp, None
    if answers.multi:
        inp.problems.append(f"{path}: agreement figures are for single-label jobs; this one is multi-label")
        return inp, None
    return inp, agreement_of(answers, consolidate(answers) if answers.n_answers else None, min_shared=min_shared)
