"""GT's worker-response files (spec §3): iteration-N/<index>/<time>.json, every answer of one object.

Minimal reader (the consolidation work brings the full one with the same interface).
`root` is the worker-response folder (the one holding iteration-N/), or a GT job folder that
has annotations/worker-response/.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import orjson


@dataclass(frozen=True)
class WorkerAnswer:
    index: int  # the input line index
    worker: str
    element: str  # crowd-image-classifier, crowd-classifier, …
    content: dict  # e.g. {"label": "Parrot"}
    submitted: str
    accepted: str | None
    seconds: float | None
    source: str  # the file it came from


def read_worker_responses(root: Path, problems: list[str]) -> Iterator[WorkerAnswer]:
    if (root / "annotations" / "worker-response").is_dir():
        root = root / "annotations" / "worker-response"
    for path in sorted(root.glob("iteration-*/*/*.json")):
        try:
            index = int(path.parent.name)
            obj = orjson.loads(path.read_bytes())
            answers = obj["answers"]
        except (OSError, ValueError, KeyError, TypeError, orjson.JSONDecodeError) as exc:
            problems.append(f"{path}: not a worker-response file ({exc})")
            continue
        for answer in answers:
            try:
                content = answer["answerContent"]
                (element, value), = content.items()
                seconds = answer.get("timeSpentInSeconds")
                yield WorkerAnswer(
                    index, str(answer["workerId"]), element, value, str(answer.get("submissionTime", "")),
                    answer.get("acceptanceTime"), float(seconds) if seconds is not None else None, str(path),
                )
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                problems.append(f"{path}: an answer without workerId/answerContent ({exc})")
