"""Ground Truth output lines (spec §2): the input object plus `<attr>` and `<attr>-metadata`.

Lines are compact JSON with raw UTF-8 (orjson), LF-terminated. Metadata key order follows
real GT files (consumers must not depend on it, but diffs against GT output stay small).
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Sequence

import orjson

from tuilabel.core.gt.box_answer import BoxAnswer
from tuilabel.core.gt.chained import adjustment_status
from tuilabel.core.gt.job import JobSpec

SINGLE_WORKER_CONFIDENCE = 0


def creation_date(when: datetime) -> str:
    """GT's `YYYY-MM-DDTHH:MM:SS.ffffff`, UTC, no zone."""
    return when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")


def iso_seconds(when: datetime) -> str:
    """Worker-response times: `2019-04-18T16:30:21Z`."""
    return when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def feedback_of(obj: dict, attribute: str) -> list[str]:
    """The comments of a verification line (its metadata's `worker-feedback`)."""
    given = (obj.get(attribute + "-metadata") or {}).get("worker-feedback") or []
    return [item["comment"] for item in given if isinstance(item, dict) and isinstance(item.get("comment"), str)]


def answer_object(
    record: dict,
    spec: JobSpec,
    answer: int | list[int] | BoxAnswer,
    when: datetime,
    confidence: float | dict[int, float] | list[float] = SINGLE_WORKER_CONFIDENCE,
    feedback: str | Sequence[str] = "",
) -> dict:
    """The augmented object for a labeled record. `answer` is an index, indexes (multi) or
    boxes; `confidence` is the consolidated one (multi-label: per chosen index; boxes: per
    box), 0 for one worker. `feedback`: a verification worker's comment, or every worker's
    comments on a consolidated record (GT's `worker-feedback`, a list of {"comment"})."""
    attr = spec.label_attribute
    task = spec.task_type
    out = {k: v for k, v in record.items() if k != attr and k != attr + "-metadata"}
    if task.verification:
        index = int(answer)  # type: ignore[arg-type]
        out[attr] = index
        # Key order as spec §7 lists it; worker-feedback only when given.
        meta = {
            "class-name": spec.labels[index],
            "confidence": confidence,
            "type": task.gt_type,
            "job-name": spec.gt_job_name,
            "human-annotated": "yes",
            "creation-date": creation_date(when),
        }
        comments = [c.strip() for c in ([feedback] if isinstance(feedback, str) else feedback) if c.strip()]
        if comments:
            meta["worker-feedback"] = [{"comment": c} for c in comments]
        out[attr + "-metadata"] = meta
        return out
    if isinstance(answer, BoxAnswer):
        # `confidence`: one per box (consolidated), or one number for every box.
        per_box = confidence if isinstance(confidence, list) else [confidence] * len(answer.boxes)
        out[attr] = answer.gt_value()
        out[attr + "-metadata"] = {
            "objects": [{"confidence": c} for c in per_box],
            "class-map": answer.class_map(list(spec.labels)),
            "type": task.gt_type,
            "human-annotated": "yes",
            "creation-date": creation_date(when),
            "job-name": spec.gt_job_name,
        }
    elif task.multi:
        chosen = sorted(set(answer))  # type: ignore[arg-type]
        out[attr] = chosen
        out[attr + "-metadata"] = {
            "job-name": spec.gt_job_name,
            "class-map": {str(i): spec.labels[i] for i in chosen},
            "human-annotated": "yes",
            "creation-date": creation_date(when),
            "confidence-map": {
                str(i): confidence.get(i, SINGLE_WORKER_CONFIDENCE) if isinstance(confidence, dict) else confidence
                for i in chosen
            },
            "type": task.gt_type,
        }
    else:
        index = int(answer)  # type: ignore[arg-type]
        out[attr] = index
        out[attr + "-metadata"] = {
            "confidence": confidence,
            "job-name": spec.gt_job_name,
            "class-name": spec.labels[index],
            "human-annotated": "yes",
            "creation-date": creation_date(when),
            "type": task.gt_type,
        }
    if spec.adjust:
        out[attr + "-metadata"]["adjustment-status"] = adjustment_status(spec, record, out[attr])
    return out


def declined_object(record: dict, spec: JobSpec, reason: str, when: datetime) -> dict:
    """A declined (bad data) record: `failure-reason` in the metadata and no label, as GT."""
    attr = spec.label_attribute
    out = {k: v for k, v in record.items() if k != attr and k != attr + "-metadata"}
    out[attr + "-metadata"] = {
        "failure-reason": reason,
        "job-name": spec.gt_job_name,
        "human-annotated": "yes",
        "creation-date": creation_date(when),
        "type": spec.task_type.gt_type,
    }
    return out


def dumps_line(obj: dict) -> bytes:
    """One compact output line with its LF."""
    return orjson.dumps(obj, option=orjson.OPT_APPEND_NEWLINE)

