"""Chained jobs (spec §7): verification and adjustment of an earlier job's label attribute.

The input is the earlier job's output manifest: its `<attr>` and `<attr>-metadata` stay on
each line and the new job writes a new attribute beside them. This module reads the earlier
label of a line (`read_earlier`: what the worker is shown), says in one line why a line cannot
be audited (`problem`: the session declines such a line, so it still reaches the output with a
`failure-reason`), and whether an adjustment changed the earlier label.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import orjson

from tuilabel.core.errors import UserError
from tuilabel.core.gt.box_answer import BoxAnswer
from tuilabel.core.gt.job import JobSpec

VERIFICATION_CATEGORIES = ("Correct", "Incorrect", "Ambiguous")
SCAN_LINES = 10_000  # job setup looks this far for the audited attribute
# Metadata keys that may name the worker of an earlier label (GT writes none; other tools do).
WORKER_KEYS = ("worker-id", "workerId", "worker")
_SHOWN_CHARS = 60


class EarlierProblem(Exception):
    """A line whose earlier label cannot be audited; the message says why, in one line."""


@dataclass(frozen=True)
class Earlier:
    gt_type: str  # the earlier metadata "type"
    value: object  # int, list of ints (multi-label), {"image_size", "annotations"} (boxes), …
    names: tuple[str | None, ...]  # class names as the earlier job wrote them (one per box); None: not named
    worker: str | None  # who gave it, when its metadata says

    def shown(self) -> list[str]:
        """The earlier label as the worker reads it: class names (`class 3` when unnamed)."""
        if None not in self.names:
            return list(self.names)  # type: ignore[arg-type]
        return [name if name is not None else f"class {i}" for i, name in zip(earlier_indexes(self), self.names)]

    def summary(self) -> str:
        """One line: the class names; for boxes how many, by class ("3 boxes: 2 cat, 1 dog")."""
        if not isinstance(self.value, dict):
            return ", ".join(self.shown()) or "(nothing)"
        counts = Counter(self.shown())
        n = sum(counts.values())
        return f"{n} box{'' if n == 1 else 'es'}" + (": " if n else "") + ", ".join(f"{c} {name}" for name, c in counts.most_common())


def _is_index(value: object) -> bool:
    return type(value) is int and value >= 0


def _short(value: object) -> str:
    try:
        text = orjson.dumps(value).decode()
    except TypeError:
        text = repr(value)
    return text if len(text) <= _SHOWN_CHARS else text[: _SHOWN_CHARS - 1] + "…"


def _name(class_map: object, index: int) -> str | None:
    if isinstance(class_map, dict) and isinstance(class_map.get(str(index)), str):
        return class_map[str(index)]
    return None


def read_earlier(data: dict, attr: str) -> Earlier:
    """The earlier label of one input object; EarlierProblem when it is missing or malformed."""
    meta = data.get(attr + "-metadata")
    if attr not in data:
        if isinstance(meta, dict) and "failure-reason" in meta:
            raise EarlierProblem(f"the earlier job has no label here ({attr}-metadata failure-reason: {_short(meta['failure-reason'])})")
        raise EarlierProblem(f"no earlier label: {attr} is missing on this line")
    if not isinstance(meta, dict):
        what = "missing" if meta is None else f"not an object ({_short(meta)})"
        raise EarlierProblem(f"malformed earlier label: {attr}-metadata is {what}")
    gt_type = meta.get("type")
    if not isinstance(gt_type, str):
        raise EarlierProblem(f"malformed earlier label: {attr}-metadata has no type")
    value = data[attr]
    kind = gt_type.rpartition("/")[2]
    if kind.endswith("-multilabel"):
        if not (isinstance(value, list) and all(_is_index(v) for v in value)):
            raise EarlierProblem(f"malformed earlier label: {attr} is {_short(value)}, not a list of class indexes ({gt_type})")
        names = tuple(_name(meta.get("class-map"), v) for v in value)
    elif kind == "object-detection":
        boxes = value.get("annotations") if isinstance(value, dict) else None
        if not (isinstance(boxes, list) and all(isinstance(b, dict) and _is_index(b.get("class_id")) for b in boxes)):
            raise EarlierProblem(f"malformed earlier label: {attr} is {_short(value)}, not boxes with class_id ({gt_type})")
        names = tuple(_name(meta.get("class-map"), b["class_id"]) for b in boxes)
    elif kind in ("image-classification", "text-classification", "label-verification"):
        if not _is_index(value):
            raise EarlierProblem(f"malformed earlier label: {attr} is {_short(value)}, not a class index ({gt_type})")
        name = meta.get("class-name")
        names = (name if isinstance(name, str) else None,)
    else:  # another task's label: shown as it is
        names = (_short(value),)
    worker = next((meta[k] for k in WORKER_KEYS if isinstance(meta.get(k), str)), None)
    return Earlier(gt_type, value, names, worker)


def earlier_indexes(earlier: Earlier) -> list[int]:
    """The class indexes an earlier classification or box label uses."""
    value = earlier.value
    if isinstance(value, dict):
        return [b["class_id"] for b in value["annotations"]]
    return list(value) if isinstance(value, list) else [value]  # type: ignore[list-item]


def problem(spec: JobSpec, data: dict) -> str | None:
    """Why the earlier label of `data` cannot be audited by this job, or None (a plain job: None)."""
    if not spec.audited:
        return None
    try:
        earlier = read_earlier(data, spec.audited)
    except EarlierProblem as exc:
        return str(exc)
    if spec.adjust:
        return _adjustment_problem(spec, earlier)
    return None


def _adjustment_problem(spec: JobSpec, earlier: Earlier) -> str | None:
    if earlier.gt_type != spec.task_type.gt_type:
        return f"the earlier label is {earlier.gt_type}, this job adjusts {spec.task_type.gt_type}"
    if isinstance(earlier.value, dict):
        try:
            BoxAnswer.from_gt(earlier.value)
        except ValueError as exc:
            return f"malformed earlier boxes: {exc}"
    labels = spec.labels
    for index, name in zip(earlier_indexes(earlier), earlier.names):
        if index >= len(labels):
            return f"unknown class_id {index}: this job has {len(labels)} labels (0-{len(labels) - 1})"
        if name is not None and name != labels[index]:
            return f"class_id {index} is {name!r} in the earlier label but {labels[index]!r} in this job's labels"
    return None


def earlier_answer(spec: JobSpec, data: dict) -> int | list[int] | BoxAnswer | None:
    """An adjustment's starting answer (what one key accepts unchanged), or None."""
    if not spec.adjust or problem(spec, data) is not None:
        return None
    value = read_earlier(data, spec.adjust).value
    if isinstance(value, dict):
        try:
            return BoxAnswer.from_gt(value)
        except ValueError:
            return None
    return sorted(set(value)) if isinstance(value, list) else value  # type: ignore[return-value]


def adjustment_status(spec: JobSpec, data: dict, label: object) -> str:
    """GT's `adjustment-status`: "adjusted" when the new label differs from the earlier one."""
    before = data.get(spec.adjust)
    if isinstance(before, list) and isinstance(label, list):
        return "unadjusted" if sorted(set(before)) == sorted(set(label)) else "adjusted"
    if isinstance(before, dict) and isinstance(label, dict):
        return "unadjusted" if _same_boxes(before, label) else "adjusted"
    return "unadjusted" if before == label else "adjusted"


def any_worker_changed(before: object, answers: "list[list[int]] | tuple") -> bool:
    """Did any worker's classification answer (each a list of label indexes) differ from the
    earlier label (an index, or indexes for multi-label)?"""
    earlier = sorted(set(before)) if isinstance(before, list) else [before]
    return any(sorted(set(labels)) != earlier for labels in answers)


def _same_boxes(before: dict, after: dict) -> bool:
    """The same boxes in any order, on whole pixels as the box editor holds them (GT's
    consolidated boxes are floats: an untouched one is not a change)."""
    try:
        old, new = BoxAnswer.from_gt(before), BoxAnswer.from_gt(after)
    except ValueError:
        return False
    key = lambda b: (b.class_id, b.left, b.top, b.width, b.height)  # noqa: E731
    return sorted(old.boxes, key=key) == sorted(new.boxes, key=key)


# -- job setup ---------------------------------------------------------------------------------


def first_audited(manifest: Path, attr: str, display: str) -> dict:
    """The first input object (of SCAN_LINES) that carries `attr` with a typed metadata; a
    UserError naming the label attributes found when none does."""
    found: dict[str, None] = {}
    n = 0
    with open(manifest, "rb") as fh:
        for n, raw in enumerate(fh):
            if n >= SCAN_LINES:
                break
            try:
                data = orjson.loads(raw.lstrip(b"\xef\xbb\xbf"))
            except orjson.JSONDecodeError:
                continue
            if not isinstance(data, dict):
                continue
            meta = data.get(attr + "-metadata")
            if attr in data and isinstance(meta, dict) and isinstance(meta.get("type"), str):
                return data
            for key, value in data.items():
                if key.endswith("-metadata") and isinstance(value, dict) and "type" in value:
                    found[key[: -len("-metadata")]] = None
    where = f"the first {SCAN_LINES:,} lines of {display}" if n >= SCAN_LINES else display
    others = (f"; its label attributes: {', '.join(found)}" if found
              else "; it has no label attributes (is it an earlier job's output manifest?)")
    raise UserError(f"no line in {where} has a label attribute {attr!r}{others}")


def check_same_labels(spec: JobSpec, first: dict) -> None:
    """An adjustment's labels must be the earlier job's, in its order (answers are indexes):
    refused at once when a class the earlier line names has another name here."""
    try:
        earlier = read_earlier(first, spec.adjust)
    except EarlierProblem:
        return
    for index, name in zip(earlier_indexes(earlier), earlier.names):
        if name is not None and index < len(spec.labels) and name != spec.labels[index]:
            raise UserError(
                f"the labels do not match the earlier job's: class_id {index} is {name!r} in {spec.adjust} "
                f"but {spec.labels[index]!r} here; give the earlier job's labels in their order "
                "(its annotation-tool/data.json)"
            )


OUTPUT_MANIFEST = "/manifests/output/output.manifest"


def earlier_job_root(location: str) -> tuple[str, str] | None:
    """(the folder holding the earlier job, its name) when the input is a job's
    `<job>/manifests/output/output.manifest` (a path or s3:// URI), else None."""
    if not location.endswith(OUTPUT_MANIFEST):
        return None
    parent, _, name = location[: -len(OUTPUT_MANIFEST)].rpartition("/")
    return (parent + "/" if "://" in location else parent or "/"), name


def earlier_label_file(manifest: Path) -> Path | None:
    """The earlier job's label category file (annotation-tool/data.json), when it is there."""
    root = earlier_job_root(str(manifest))
    candidate = Path(root[0]) / root[1] / "annotation-tool" / "data.json" if root is not None else None
    return candidate if candidate is not None and candidate.is_file() else None
