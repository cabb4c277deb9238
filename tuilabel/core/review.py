"""Review of doubtful records: the reviewer sees every worker's answer and the consolidated
label, accepts it with one key or overrides it; the decision is final.

A review is a job of its own, chained after the labeling job as GT chains jobs: its input is
the consolidated output manifest (one line per input line), its folder `<output>/<name>-review/`
(default: beside the job), its worker the reviewer. The labeling Session runs it with a
`ReviewPlan`: records in ascending confidence (or only those under `below`), each with the
consolidated answer to accept. Decisions are journaled like answers (role "reviewer") and
written as GT lines with `human-annotated: "yes"` and confidence 1.0 (a final human decision).
The reviewed output manifest holds every line: the decision where one was made, else the
consolidated line as it was.

Input of the review:
- a GT folder: its output manifest (GT's consolidation, with its confidences), as it is;
- a tuilabel job with several workers: consolidated (GT's method) once, at the review's first
  start, into the review's `tuilabel/input.manifest`; later starts keep that file, so a resumed
  review never sees its records change under it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import orjson

from tuilabel.core.errors import UserError
from tuilabel.core.gt.consolidate_job import from_folder, write_output
from tuilabel.core.gt.consolidation import Answers, consolidate
from tuilabel.core.gt.job import JobFolder, JobSpec, default_worker, suggest_name
from tuilabel.core.gt.tasks import task_for
from tuilabel.core.store.durable import atomic_write
from tuilabel.core.store.journal import ANSWERED, DECLINED, Entry

REVIEWER_ROLE = "reviewer"


@dataclass(frozen=True)
class ShownAnswer:
    worker: str
    labels: tuple[str, ...]  # one name (single-label) or several (multi-label)
    seconds: float | None
    declined: bool = False


@dataclass
class ReviewPlan:
    order: list[int]  # line indexes to review, least confident first
    suggested: dict[int, int | list[int]]  # the consolidated answer per line index
    confidence: dict[int, float]  # per line index in `order` (0 for failed records)
    answers: dict[int, list[ShownAnswer]]  # every worker's answer per line index
    below: float | None = None
    reviewed_before: int = 0  # records decided in earlier sessions
    _order_array: object = field(default=None, repr=False)
    _positions: dict[int, int] | None = field(default=None, repr=False)

    def position(self, index: int) -> int | None:
        """Where record `index` is in the review order (0-based)."""
        if self._positions is None:
            self._positions = {i: p for p, i in enumerate(self.order)}
        return self._positions.get(index)

    def finalize(self, entry: Entry) -> None:
        """A decision is final: role reviewer, confidence 1.0 on the GT line."""
        entry.role = REVIEWER_ROLE
        for key, meta in entry.gt.items():
            if key.endswith("-metadata") and isinstance(meta, dict) and "type" in meta:
                if "confidence" in meta:
                    meta["confidence"] = 1.0
                if isinstance(meta.get("confidence-map"), dict):
                    meta["confidence-map"] = {k: 1.0 for k in meta["confidence-map"]}

    def decided(self, status: bytearray) -> int:
        """How many records of `order` have a decision (answer or decline)."""
        if self._order_array is None:
            self._order_array = np.asarray(self.order, dtype=np.int64)
        order = self._order_array
        st = np.frombuffer(bytes(status), dtype=np.uint8)
        inside = order[order < len(st)]
        values = st[inside]
        return int(np.count_nonzero((values == ANSWERED) | (values == DECLINED)))


@dataclass
class PreparedReview:
    spec: JobSpec
    folder: JobFolder
    manifest_path: Path
    manifest_base: str
    plan: ReviewPlan
    new: bool
    notes: list[str]

    source: str = ""  # the job under review

    def start(self):
        from tuilabel.core.data.manifest import Manifest
        from tuilabel.core.session import Session

        marker = self.folder.review_marker
        if not marker.exists():  # before the session opens: every output it writes keeps every line
            atomic_write(marker, orjson.dumps({"source": self.source}, option=orjson.OPT_APPEND_NEWLINE))
        manifest = Manifest(self.manifest_path, base=self.manifest_base, display=str(self.manifest_path))
        session = Session(self.spec, self.folder, manifest, review=self.plan)
        session.messages.extend(self.notes)
        return session.open()


def prepare_review(source: str, below: float | None = None, reviewer: str | None = None,
                   output: str | None = None) -> PreparedReview:
    """The review job of a GT folder or a tuilabel job with several workers, ready to open."""
    if below is not None and not 0 < below <= 1:
        raise UserError(f"--below must be a confidence between 0 and 1, not {below}")
    path = Path(source).expanduser()
    if not path.is_dir():
        raise UserError(f"{source} is not a folder; review takes a GT job folder or a tuilabel job folder")
    inp = from_folder(path, need_input=False)
    if inp.boxes is not None:
        raise UserError(f"{path} is a bounding-box job: review shows classification answers only (boxes have no "
                        f"review screen yet); consolidate it with tuilabel consolidate {source}")
    answers = inp.answers
    if not answers.n_answers:
        raise UserError(f"{path}: no worker answers to review")
    if inp.manifest_path is None:
        raise UserError(f"{path}: no consolidated output (manifests/output/output.manifest) to review")
    if inp.job_folder is not None and len(answers.workers) < 2:
        raise UserError(f"{path}: only one worker answered; a review compares the answers of several workers")
    name = suggest_name(inp.spec.name, 56) + "-review"
    parent = Path(output).expanduser() if output else path.resolve().parent
    folder = JobFolder(parent / name)
    existing = folder.load_spec() if folder.exists() else None
    notes = list(inp.problems[:5])
    if len(inp.problems) > 5:
        notes.append(f"… and {len(inp.problems) - 5} more problems in the worker answers")

    attribute = inp.spec.label_attribute
    if inp.job_folder is None:  # a GT folder: GT's consolidated output, as it is
        manifest_path = inp.manifest_path.resolve()
        base = str(manifest_path.parent)
        task = _task_of(manifest_path, attribute)
    else:  # a tuilabel job: consolidated once, at the review's first start
        manifest_path = folder.input_cache
        base = _input_base(inp.spec.input)
        task = inp.spec.task_type
        if existing is None or not manifest_path.is_file():
            write_output(inp, consolidate(answers), manifest_path, keep_positions=True)
    spec = JobSpec(name=name, label_attribute=attribute, task=task.name, labels=tuple(inp.spec.labels),
                   input=str(manifest_path), output=str(parent), worker=reviewer or default_worker())
    if existing is not None:
        if existing.input != spec.input or tuple(existing.labels) != spec.labels:
            raise UserError(f"{folder.root} holds another review (input {existing.input}); use --output for a new one")
        spec = replace(existing, worker=spec.worker)
    plan = _plan(manifest_path, attribute, answers, below)
    return PreparedReview(spec, folder, manifest_path, base, plan, existing is None, notes, str(path.resolve()))


def _task_of(manifest: Path, attribute: str):
    """The classification task of a GT output manifest: image or text, one label or several."""
    with open(manifest, "rb") as fh:
        for raw in fh:
            try:
                obj = orjson.loads(raw)
            except orjson.JSONDecodeError:
                continue
            meta = obj.get(attribute + "-metadata") if isinstance(obj, dict) else None
            if isinstance(meta, dict) and isinstance(meta.get("type"), str):
                return task_for("image" if "source-ref" in obj else "text", meta["type"].endswith("-multilabel"))
    raise UserError(f"{manifest}: no consolidated line ({attribute}-metadata with a type) to review")


def _input_base(location: str) -> str:
    if location.startswith("s3://"):
        return location.rsplit("/", 1)[0] + "/"
    return str(Path(location).parent)


def _plan(manifest: Path, attribute: str, answers: Answers, below: float | None) -> ReviewPlan:
    suggested: dict[int, int | list[int]] = {}
    confidence: dict[int, float] = {}
    with open(manifest, "rb") as fh:
        for index, raw in enumerate(fh):
            try:
                obj = orjson.loads(raw)
            except orjson.JSONDecodeError:
                continue  # blank or not JSON: the session reports it if it is ever shown
            meta = obj.get(attribute + "-metadata") if isinstance(obj, dict) else None
            if not isinstance(meta, dict):
                continue
            value = obj.get(attribute)
            if "failure-reason" in meta or value is None:
                confidence[index] = 0.0
                continue
            if isinstance(value, list):
                suggested[index] = [v for v in value if isinstance(v, int)]
                scores = meta.get("confidence-map") or {}
                values = [float(v) for v in scores.values() if isinstance(v, (int, float))]
                confidence[index] = min(values) if values else 0.0
            elif isinstance(value, int):
                suggested[index] = value
                c = meta.get("confidence")
                confidence[index] = float(c) if isinstance(c, (int, float)) else 0.0
    order = sorted((i for i, c in confidence.items() if below is None or c < below), key=lambda i: (confidence[i], i))
    shown = _shown_answers(answers, order)
    return ReviewPlan(order, suggested, {i: confidence[i] for i in order}, shown, below)


def _shown_answers(answers: Answers, order: list[int]) -> dict[int, list[ShownAnswer]]:
    """Every worker's answer (or decline) on the records under review, by worker."""
    wanted = np.asarray(order, dtype=np.int64)
    names = answers.labels
    chosen: dict[tuple[int, int], list[str]] = {}
    rows = np.isin(answers.record, wanted)
    for r, w, label in zip(answers.record[rows].tolist(), answers.worker[rows].tolist(), answers.label[rows].tolist()):
        chosen.setdefault((r, w), []).append(names[label])
    shown: dict[int, list[ShownAnswer]] = {}
    rows = np.isin(answers.answer_record, wanted)
    for r, w, seconds in zip(answers.answer_record[rows].tolist(), answers.answer_worker[rows].tolist(),
                             answers.answer_seconds[rows].tolist()):
        known = seconds if seconds == seconds else None  # nan: not recorded
        shown.setdefault(r, []).append(ShownAnswer(answers.workers[w], tuple(chosen.get((r, w), ())), known))
    rows = np.isin(answers.declined_record, wanted)
    for r, w in zip(answers.declined_record[rows].tolist(), answers.declined_worker[rows].tolist()):
        shown.setdefault(r, []).append(ShownAnswer(answers.workers[w], (), None, declined=True))
    for items in shown.values():
        items.sort(key=lambda s: s.worker)
    return shown
