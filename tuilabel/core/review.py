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
from datetime import datetime, timezone
from pathlib import Path

import orjson

from tuilabel.core.errors import UserError
from tuilabel.core.gt.job import JobFolder, JobSpec, default_worker, suggest_name
from tuilabel.core.gt.job_answers import JobAnswers, load_job_answers
from tuilabel.core.gt.tasks import task_for
from tuilabel.core.store.durable import atomic_write
from tuilabel.core.store.journal import ANSWERED, DECLINED, Entry

REVIEWER_ROLE = "reviewer"
NO_ANSWER_REASON = "No worker answered this object"
ALL_DECLINED_REASON = "Every worker declined this object"


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
        import numpy as np

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

        manifest = Manifest(self.manifest_path, base=self.manifest_base, display=str(self.manifest_path))
        session = Session(self.spec, self.folder, manifest, review=self.plan)
        session.messages.extend(self.notes)
        session.open()
        marker = review_marker(self.folder)
        if not marker.exists():
            try:
                atomic_write(marker, orjson.dumps({"source": self.source}, option=orjson.OPT_APPEND_NEWLINE))
            except BaseException:
                session.close()
                raise
        return session


def review_marker(folder: JobFolder) -> Path:
    """`tuilabel/review.json`: this job is a review (its output keeps every line); names the source."""
    return folder.private / "review.json"


def prepare_review(source: str, below: float | None = None, reviewer: str | None = None,
                   output: str | None = None) -> PreparedReview:
    """The review job of a GT folder or a tuilabel job with several workers, ready to open."""
    if below is not None and not 0 < below <= 1:
        raise UserError(f"--below must be a confidence between 0 and 1, not {below}")
    path = Path(source).expanduser()
    if not path.is_dir():
        raise UserError(f"{source} is not a folder; review takes a GT job folder or a tuilabel job folder")
    job = load_job_answers(path)
    if not job.worker_answers:
        raise UserError(f"{path}: no worker answers to review")
    if job.kind == "tuilabel" and len(job.workers) < 2:
        raise UserError(f"{path}: only one worker answered; a review compares the answers of several workers")
    name = suggest_name(job.name, 56) + "-review"
    parent = Path(output).expanduser() if output else path.resolve().parent
    folder = JobFolder(parent / name)
    existing = folder.load_spec() if folder.exists() else None
    notes = list(job.problems[:5])
    if len(job.problems) > 5:
        notes.append(f"… and {len(job.problems) - 5} more problems in the worker answers")

    if job.kind == "gt":
        if job.output_manifest is None:
            raise UserError(f"{path}: no consolidated output (manifests/output/output.manifest) to review")
        manifest_path = job.output_manifest.resolve()
        base = str(manifest_path.parent)
        attribute = job.attribute
        media = _media(manifest_path)
    else:
        original = JobFolder(path).load_spec()
        attribute = original.label_attribute
        media = original.task_type.media
        manifest_path = folder.input_cache
        base = _input_base(original.input)
        if existing is None or not manifest_path.is_file():
            _write_consolidated(job, original, manifest_path)
    if attribute is None:
        raise UserError(f"{job.output_manifest}: no label attribute (a key X with X-metadata holding type)")
    task = task_for(media, job.multi)
    spec = JobSpec(name=name, label_attribute=attribute, task=task.name, labels=tuple(job.labels),
                   input=str(manifest_path), output=str(parent), worker=reviewer or default_worker())
    if existing is not None:
        if existing.input != spec.input or tuple(existing.labels) != spec.labels:
            raise UserError(f"{folder.root} holds another review (input {existing.input}); use --output for a new one")
        spec = replace(existing, worker=spec.worker)
    plan = _plan(manifest_path, attribute, job, below)
    return PreparedReview(spec, folder, manifest_path, base, plan, existing is None, notes, str(path.resolve()))


def _media(manifest: Path) -> str:
    with open(manifest, "rb") as fh:
        for raw in fh:
            try:
                obj = orjson.loads(raw)
            except orjson.JSONDecodeError:
                continue
            if isinstance(obj, dict):
                return "image" if "source-ref" in obj else "text"
    raise UserError(f"{manifest}: no record")


def _input_base(location: str) -> str:
    if location.startswith("s3://"):
        return location.rsplit("/", 1)[0] + "/"
    return str(Path(location).parent)


def _plan(manifest: Path, attribute: str, job: JobAnswers, below: float | None) -> ReviewPlan:
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
    shown: dict[int, list[ShownAnswer]] = {}
    for a in job.worker_answers:
        content = a.content if isinstance(a.content, dict) else {}
        names = content.get("labels") if "labels" in content else [content.get("label")]
        names = tuple(str(n) for n in names or () if n is not None)
        declined = bool(getattr(a, "declined", False))  # declines exported by tuilabel
        shown.setdefault(a.index, []).append(ShownAnswer(a.worker, () if declined else names, a.seconds, declined))
    for items in shown.values():
        items.sort(key=lambda s: s.worker)
    return ReviewPlan(order, suggested, {i: confidence[i] for i in order}, shown, below)


def _write_consolidated(job: JobAnswers, spec: JobSpec, dest: Path) -> None:
    """One GT line per input line of a tuilabel job: the consolidated label and confidence
    (rounded to 2 decimals as GT does), or failure-reason; other lines stay empty so line
    indexes keep matching the answers."""
    from tuilabel.core.data.manifest import BadRecord, Manifest, is_blank, parse_record
    from tuilabel.core.gt import lines as gt_lines
    from tuilabel.core.gt.consolidation import consolidate

    if job.multi:
        raise UserError(f"{job.root}: review of a multi-label tuilabel job needs its consolidated output; "
                        "run `tuilabel consolidate` on it first")
    answers = job.answers()
    result = consolidate(answers)
    label_of = dict(zip(result.record.tolist(), result.label.tolist()))
    confidence_of = dict(zip(result.record.tolist(), result.confidence.tolist()))
    answered = set(label_of)
    declined = _declined_records(JobFolder(job.root))
    now = datetime.now(timezone.utc)
    input_path = JobFolder(job.root).input_cache if "://" in spec.input else Path(spec.input)
    if not input_path.is_file():
        raise UserError(f"the job's input {spec.input} is gone; review needs it to write the consolidated lines")

    def write(fh) -> None:
        with Manifest(input_path) as manifest:
            for index, _, _, raw in manifest.iter_lines():
                try:
                    if is_blank(raw):
                        raise BadRecord("empty line")
                    data = parse_record(raw)
                except BadRecord:
                    fh.write(b"\n")
                    continue
                if index in answered and label_of[index] >= 0:
                    obj = gt_lines.answer_object(data, spec, int(label_of[index]), now)
                    obj[spec.label_attribute + "-metadata"]["confidence"] = round(float(confidence_of[index]), 2)
                else:
                    reason = ALL_DECLINED_REASON if index in declined else NO_ANSWER_REASON
                    obj = gt_lines.declined_object(data, spec, reason, now)
                fh.write(gt_lines.dumps_line(obj))

    atomic_write(dest, write)


def _declined_records(folder: JobFolder) -> set[int]:
    from tuilabel.core.gt.export import latest_entries

    return {i for i, e in latest_entries(folder).items() if e.kind == "d"}
