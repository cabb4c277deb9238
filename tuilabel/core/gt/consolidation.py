"""Several answers, one label (minimal version: the consolidation work replaces it with GT's
modified Dawid-Skene, same interface). Single-label answers as arrays."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import numpy as np

from tuilabel.core.gt.worker_responses import WorkerAnswer


@dataclass
class Answers:
    record: np.ndarray  # int32 input line index
    worker: np.ndarray  # int32 index into workers
    label: np.ndarray  # int32 class index
    workers: list[str]
    labels: list[str]
    seconds: np.ndarray  # float64, nan if unknown

    @classmethod
    def from_worker_answers(cls, answers: Iterable[WorkerAnswer], labels: list[str], problems: list[str]) -> "Answers":
        class_of = {name: i for i, name in enumerate(labels)}
        latest: dict[tuple[int, str], WorkerAnswer] = {}
        for a in answers:
            name = a.content.get("label") if isinstance(a.content, dict) else None
            if name not in class_of:
                problems.append(f"{a.source}: label {name!r} is not one of the job's labels")
                continue
            key = (a.index, a.worker)
            old = latest.get(key)
            if old is not None:
                problems.append(f"{a.source}: worker {a.worker} answered record {a.index} twice; keeping the latest")
                if old.submitted > a.submitted:
                    continue
            latest[key] = a
        workers = sorted({w for _, w in latest})
        wid = {w: i for i, w in enumerate(workers)}
        items = list(latest.values())
        return cls(
            np.array([a.index for a in items], dtype=np.int32),
            np.array([wid[a.worker] for a in items], dtype=np.int32),
            np.array([class_of[a.content["label"]] for a in items], dtype=np.int32),
            workers,
            list(labels),
            np.array([np.nan if a.seconds is None else a.seconds for a in items], dtype=np.float64),
        )


@dataclass
class Consolidated:
    record: np.ndarray  # int32 input line indexes that have answers
    label: np.ndarray  # int32 class index per record
    confidence: np.ndarray  # float64
    posterior: np.ndarray  # (records, classes)
    worker_accuracy: np.ndarray  # float64 per worker of answers.workers
    method: str


def consolidate(answers: Answers, method: str = "gt", gold: np.ndarray | None = None) -> Consolidated:
    """Majority vote (ties to the lower class index); confidence = the winning share."""
    records, inverse = np.unique(answers.record, return_inverse=True)
    k = len(answers.labels)
    votes = np.zeros((len(records), k))
    np.add.at(votes, (inverse, answers.label), 1)
    posterior = votes / votes.sum(axis=1, keepdims=True)
    label = posterior.argmax(axis=1).astype(np.int32)
    right = label[inverse] == answers.label
    n = np.bincount(answers.worker, minlength=len(answers.workers))
    accuracy = np.bincount(answers.worker, weights=right, minlength=len(answers.workers)) / np.maximum(n, 1)
    return Consolidated(records.astype(np.int32), label, posterior.max(axis=1), posterior, accuracy, "majority")
