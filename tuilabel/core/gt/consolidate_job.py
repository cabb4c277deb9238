"""What `tuilabel consolidate` was pointed at -> answers, labels and input lines; and the
consolidated GT output manifest written from them.

Three kinds of input:
- a tuilabel job folder (its journals, one per worker);
- a GT job folder: `annotations/worker-response/…` plus `manifests/output/output.manifest`
  (or `--input`), labels from `annotation-tool/data.json`, `--labels` or the output manifest;
- explicit `--responses DIR --input MANIFEST --labels …`; GT's files as AWS's examples ship
  them (gt-birds: `worker-response/` beside `output.manifest`) need no `--input`.
The worker-response index is the input line index (from 0).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import orjson

from tuilabel.core.data.manifest import BadRecord, Manifest, is_blank, parse_record
from tuilabel.core.errors import UserError
from tuilabel.core.gt import chained, lines as gt_lines
from tuilabel.core.gt.box_job import NO_IMAGE_SIZE, BoxInput, consolidated_box_object, read_box_answers
from tuilabel.core.gt.box_lines import OBJECT_DETECTION
from tuilabel.core.gt.consolidation import Answers, Consolidated, answers_from_job, consolidate
from tuilabel.core.gt.job import JobFolder, JobSpec, label_category_file, read_labels, suggest_name
from tuilabel.core.gt.tasks import TASK_TYPES, TaskType
from tuilabel.core.gt.worker_responses import (
    ELEMENTS,
    read_worker_responses,
    worker_answers_from_job,
    worker_response_folder,
    write_consolidation_response,
    write_worker_responses,
)
from tuilabel.core.store.durable import atomic_write

NO_ANSWER = "No worker answered this object"
ALL_DECLINED = "Declined by every worker: bad or unusable data"

Progress = Callable[[str, int, int], None]  # (what, done, total)


@dataclass
class ConsolidationInput:
    answers: Answers
    spec: JobSpec  # job name, label attribute, task type and labels of the output lines
    manifest_path: Path | None  # the input lines, in order (None: from_folder(need_input=False) found none)
    n_lines: int | None
    default_output: Path | None  # a tuilabel job's output.manifest; None: -o is required
    job_folder: JobFolder | None  # set for a tuilabel job (its locks guard output.manifest)
    kind: str  # "tuilabel job" | "GT job" | "worker responses"
    problems: list[str] = field(default_factory=list)
    boxes: BoxInput | None = None  # a box job's answers (then `answers` is empty)
    comments: dict[int, list[str]] = field(default_factory=dict)  # verification comments per record


def _line_count(path: Path, display: str) -> int:
    with Manifest(path, display=display) as manifest:
        manifest.wait_index()
        if manifest.index_error:
            raise UserError(manifest.index_error)
        return manifest.line_count


def _objects(manifest_path: Path):
    """(line index, object) for every line that is a JSON object; the rest is reported when
    the output is written."""
    with Manifest(manifest_path) as manifest:
        for index, _, _, raw in manifest.iter_lines():
            try:
                obj = orjson.loads(raw)
            except orjson.JSONDecodeError:
                continue
            if isinstance(obj, dict):
                yield index, obj


def _existing_label(manifest_path: Path) -> tuple[str | None, str | None, dict[int, str]]:
    """From a GT output manifest used as input: (label attribute, job name, index -> class)."""
    attr = job = None
    classes: dict[int, str] = {}
    for _, obj in _objects(manifest_path):
        for key, meta in obj.items():
            if not (key.endswith("-metadata") and isinstance(meta, dict)):
                continue
            kind = str(meta.get("type", ""))
            if "classification" not in kind and kind != OBJECT_DETECTION:
                continue
            name = key[: -len("-metadata")]
            if attr is None:
                attr, job = name, str(meta.get("job-name", "")).removeprefix("labeling-job/") or None
            if name != attr:
                continue
            value = obj.get(attr)
            if isinstance(value, int) and isinstance(meta.get("class-name"), str):
                classes[value] = meta["class-name"]
            for idx, cname in (meta.get("class-map") or {}).items():
                if str(idx).isdigit() and isinstance(cname, str):
                    classes[int(idx)] = cname
    return attr, job, classes


def _task_for_element(element: str) -> TaskType:
    for task in TASK_TYPES.values():
        if task.element == element:
            return task
    raise UserError(f"no usable answers in the worker responses (element names: {', '.join(ELEMENTS)})")


def from_tuilabel_job(folder: JobFolder) -> ConsolidationInput:
    spec = folder.load_spec()
    manifest_path = folder.input_cache if "://" in spec.input else Path(spec.input)
    if not manifest_path.is_file():
        raise UserError(f"the job's input {spec.input} is gone; cannot order the output")
    n_lines = _line_count(manifest_path, spec.input)
    problems: list[str] = []
    if spec.task_type.boxes:
        boxes = read_box_answers(worker_answers_from_job(folder, spec, problems), spec.labels, problems, n_lines)
        boxes.reread = lambda: worker_answers_from_job(folder, spec)
        return ConsolidationInput(
            _no_answers(spec.labels), spec, manifest_path, n_lines, folder.output_manifest, folder, "tuilabel job", problems, boxes
        )
    comments: dict[int, list[str]] = {}
    answers = answers_from_job(folder, problems, n_lines, comments)
    return ConsolidationInput(answers, spec, manifest_path, n_lines, folder.output_manifest, folder, "tuilabel job", problems,
                              comments=comments)


def _no_answers(labels) -> Answers:
    return Answers.from_arrays([], [], [], [], list(labels))


def from_worker_responses(
    responses: Path,
    input_manifest: Path | None,
    labels: str | None,
    name: str | None = None,
    attribute: str | None = None,
    progress: Progress | None = None,
    need_input: bool = True,
) -> ConsolidationInput:
    """A GT job folder (or its worker-response folder) with its input lines and labels.
    Without `need_input`, a folder without input lines still gives its answers (labels from
    `labels` or annotation-tool/data.json): agreement needs no more."""
    folder = worker_response_folder(responses)  # refuses a folder without iteration-N inside
    job_root = responses if (responses / "annotations").is_dir() else None
    if input_manifest is None:
        if job_root is not None:
            candidate = job_root / "manifests" / "output" / "output.manifest"
        else:  # GT's files as AWS's examples ship them: output.manifest beside worker-response/
            candidate = folder.parent / "output.manifest"
        input_manifest = candidate if candidate.is_file() and folder.name == "worker-response" else None
    if input_manifest is None and need_input:
        raise UserError(f"{responses}: give the input manifest with --input (no manifests/output/output.manifest)")
    if input_manifest is not None and not input_manifest.is_file():
        raise UserError(f"input manifest {input_manifest} does not exist")
    n_lines = None if input_manifest is None else _line_count(input_manifest, str(input_manifest))
    attr, job_name, classes = (None, None, {}) if input_manifest is None else _existing_label(input_manifest)
    if labels:
        label_list, _ = read_labels(labels)
    elif job_root is not None and (job_root / "annotation-tool" / "data.json").is_file():
        label_list, _ = read_labels(str(job_root / "annotation-tool" / "data.json"))
    elif classes and sorted(classes) == list(range(len(classes))):
        label_list = [classes[i] for i in range(len(classes))]
    else:
        raise UserError("give the labels in order with --labels A,B,… or a label file (annotation-tool/data.json is missing)")
    problems: list[str] = []

    def on_object(done: int, total: int) -> None:
        if progress is not None:
            progress("reading worker responses", done, total)

    raw = list(read_worker_responses(folder, problems, on_object))
    boxes = None
    if any(a.element == "boundingBox" for a in raw):
        boxes = read_box_answers(raw, label_list, problems, n_lines)
        boxes.reread = lambda: read_worker_responses(folder, [], None)
        answers, task = _no_answers(label_list), TASK_TYPES["bounding-box"]
    else:
        answers = Answers.from_worker_answers(raw, label_list, problems, n_lines)
        task = _task_for_element(answers.element)
    name = name or job_name or suggest_name((job_root or responses).resolve().name)
    spec = JobSpec(
        name=name,
        label_attribute=attribute or attr or name,
        task=task.name,
        labels=tuple(label_list),
        input=str(input_manifest or ""),
        output=str(job_root or responses),
        worker="",
    )
    kind = "GT job" if job_root is not None else "worker responses"
    return ConsolidationInput(answers, spec, input_manifest, n_lines, None, None, kind, problems, boxes)


def from_folder(path: Path, need_input: bool = True, progress: Progress | None = None) -> ConsolidationInput:
    """A tuilabel job folder or a GT job folder with nothing else given (what `stats` and
    `review` read): its own input, labels and answers (see from_worker_responses for
    `need_input`)."""
    folder = JobFolder(path)
    if folder.exists():
        return from_tuilabel_job(folder)
    try:
        worker_response_folder(path)
    except UserError:
        raise UserError(
            f"{path} has no worker answers: neither a tuilabel job (tuilabel/job.json) nor a GT job "
            "folder (annotations/worker-response/iteration-N)"
        ) from None
    return from_worker_responses(path, None, None, progress=progress, need_input=need_input)


def read_gold(value: str, labels: tuple[str, ...], manifest_path: Path, multi: bool) -> dict[int, int | list[int]]:
    """Known answers: a JSON file {"<line index>": "label" | index | [labels]}, or the name of
    a field on the input lines holding the label (name or index)."""
    index_of = {name: i for i, name in enumerate(labels)}

    def label_index(raw: object, where: str) -> int:
        if isinstance(raw, int) and not isinstance(raw, bool) and 0 <= raw < len(labels):
            return raw
        if isinstance(raw, str) and raw in index_of:
            return index_of[raw]
        raise UserError(f"{where}: gold label {raw!r} is not one of the labels")

    def parse(raw: object, where: str) -> int | list[int]:
        if multi:
            items = raw if isinstance(raw, list) else [raw]
            return [label_index(item, where) for item in items]
        return label_index(raw, where)

    path = Path(value)
    if path.is_file():
        try:
            obj = orjson.loads(path.read_bytes())
        except (OSError, orjson.JSONDecodeError) as exc:
            raise UserError(f"gold file {path}: not readable JSON ({exc})") from None
        if not isinstance(obj, dict) or not all(str(k).isdigit() for k in obj):
            raise UserError(f'gold file {path}: expected {{"<line index>": "<label>", …}}')
        return {int(k): parse(v, f"gold file {path}") for k, v in obj.items()}
    gold = {
        index: parse(obj[value], f"{manifest_path} line {index + 1}")
        for index, obj in _objects(manifest_path)
        if value in obj
    }
    if not gold:
        raise UserError(f"--gold {value}: neither a file nor a field on any input line")
    return gold


@dataclass
class WriteResult:
    path: Path
    lines: int = 0
    consolidated: int = 0
    declined: int = 0
    unanswered: int = 0
    bad_lines: int = 0
    lambda_missing: int = 0  # answered objects the Lambda returned nothing for


def _confidence(value: float) -> float | int:
    return float(value) if value else 0  # GT writes a single worker's 0 as an integer


def consolidated_objects(
    inp: ConsolidationInput,
    result: Consolidated | None,
    lambda_content: dict[int, dict] | None,
    counts: WriteResult,
    progress: Progress | None = None,
):
    """(index, GT output object) for every usable input line, in input order."""
    spec = inp.spec
    when = datetime.now(timezone.utc)
    answered = set(np.unique(inp.answers.answer_record).tolist())
    declined = set(np.unique(inp.answers.declined_record).tolist()) - answered
    rows = {} if result is None else {int(r): i for i, r in enumerate(result.record)}
    boxes = inp.boxes
    if boxes is not None:
        if boxes.result is None:
            from tuilabel.core.gt.box_consolidation import IOU_THRESHOLD, MIN_SHARE

            boxes.consolidate(IOU_THRESHOLD, MIN_SHARE)
        answered = set(boxes.rows)
        declined = boxes.declined
    worker_labels: dict[int, list[list[int]]] | None = None  # an adjustment: each worker's labels per record
    with Manifest(inp.manifest_path, display=spec.input) as manifest:
        for index, _, _, raw in manifest.iter_lines():
            if progress is not None and index % 8192 == 0:
                progress("writing", index, inp.n_lines)
            if is_blank(raw):
                continue
            try:
                record = parse_record(raw)
            except BadRecord as exc:
                inp.problems.append(f"{inp.manifest_path} line {index + 1}: {exc}; left out")
                counts.bad_lines += 1
                continue
            if lambda_content is not None and index in answered:
                content = lambda_content.get(index)
                obj = _lambda_object(record, spec, content, when)
                if content is None:
                    counts.lambda_missing += 1
                else:
                    counts.consolidated += 1
            elif boxes is not None and index in answered:
                obj = consolidated_box_object(record, index, boxes, spec, when)
                if obj is None:
                    inp.problems.append(f"{inp.manifest_path} line {index + 1}: {NO_IMAGE_SIZE}; written as failed")
                    obj = gt_lines.declined_object(record, spec, NO_IMAGE_SIZE, when)
                counts.consolidated += obj.get(spec.label_attribute) is not None
            elif index in rows:
                obj = consolidated_object(record, spec, result, rows[index], when,  # type: ignore[arg-type]
                                          inp.comments.get(index, ()))
                counts.consolidated += 1
            elif index in declined:
                obj = gt_lines.declined_object(record, spec, ALL_DECLINED, when)
                counts.declined += 1
            else:
                obj = gt_lines.declined_object(record, spec, NO_ANSWER, when)
                counts.unanswered += 1
            if spec.adjust and spec.label_attribute in obj:
                if worker_labels is None:
                    worker_labels = _worker_labels(inp.answers)
                if chained.any_worker_changed(record.get(spec.adjust), worker_labels.get(index, ())):
                    obj[spec.label_attribute + "-metadata"]["adjustment-status"] = "adjusted"
            counts.lines += 1
            yield index, obj


def _worker_labels(answers: Answers) -> dict[int, list[list[int]]]:
    """Per record, each worker's chosen labels (GT: an adjustment is "adjusted" when any
    worker changed anything, not only when the consolidated label differs)."""
    chosen: dict[tuple[int, int], list[int]] = {}
    for record, worker, label in zip(answers.record.tolist(), answers.worker.tolist(), answers.label.tolist()):
        chosen.setdefault((record, worker), []).append(label)
    out: dict[int, list[list[int]]] = {}
    for (record, _), labels in chosen.items():
        out.setdefault(record, []).append(labels)
    return out


def consolidated_object(record: dict, spec: JobSpec, result: Consolidated, i: int, when: datetime,
                        comments: Sequence[str] = ()) -> dict:
    """GT's line for row `i` of a consolidation: the label(s) with their confidence (and, for
    a verification, every worker's comment)."""
    if result.multi:
        chosen = np.flatnonzero(result.chosen[i]).tolist()  # type: ignore[index]
        cap = result.confidence_cap
        conf = {c: _confidence(result.confidence[i] and round(min(float(result.posterior[i, c]), cap), 2)) for c in chosen}
        return gt_lines.answer_object(record, spec, chosen, when, conf)
    return gt_lines.answer_object(record, spec, int(result.label[i]), when, _confidence(result.confidence[i]), comments)


def _lambda_object(record: dict, spec: JobSpec, content: dict | None, when: datetime) -> dict:
    from tuilabel.core.gt.lambda_local import LAMBDA_MISSING

    attr = spec.label_attribute
    out = {k: v for k, v in record.items() if k != attr and k != attr + "-metadata"}
    if content is None:
        return gt_lines.declined_object(record, spec, LAMBDA_MISSING, when)
    out.update(content)
    if attr in content and not isinstance(content.get(attr + "-metadata"), dict):
        # GT's custom-task metadata, added by the service around what the Lambda returns.
        out[attr + "-metadata"] = {
            "job-name": spec.gt_job_name,
            "type": "groundtruth/custom",
            "human-annotated": "yes",
            "creation-date": gt_lines.creation_date(when),
        }
    return out


def write_output(
    inp: ConsolidationInput,
    result: Consolidated | None,
    dest: Path,
    lambda_content: dict[int, dict] | None = None,
    progress: Progress | None = None,
    keep_positions: bool = False,
) -> WriteResult:
    """GT's output manifest: one line per input line, atomically replaced. `keep_positions`:
    an unusable input line becomes an empty line, so line N is input line N (a review's
    input, whose line indexes must stay those of the answers).

    A job's own output.manifest is replaced only while no labeling session appends to it, and
    the journal sizes it was made from are recorded, so the next session start takes it as
    settled instead of rewriting it."""
    folder = inp.job_folder
    if folder is None or dest.resolve() != folder.output_manifest.resolve():
        return _write_manifest(inp, result, dest, lambda_content, progress, keep_positions)
    from tuilabel.core.gt.export import busy_message, journal_sizes
    from tuilabel.core.store import canonical
    from tuilabel.core.store.lock import IdleWorkers, OutputGate

    if inp.spec.is_team and folder.team_db.exists():
        from tuilabel.core.team.leases import accepted_decisions

        _, unfinished = accepted_decisions(folder.team_db)
        if unfinished:
            raise UserError(f"{unfinished:,} records of team job {inp.spec.name!r} are not closed yet, and the team "
                            "writes each one to output.manifest when it closes: consolidate to another file with -o FILE")
    with OutputGate(folder.output_gate), IdleWorkers(folder.locks()) as idle:
        if idle.busy:
            raise UserError(busy_message(folder, tuple(idle.busy), "consolidate to another file with -o FILE, or again when they quit"))
        written = _write_manifest(inp, result, dest, lambda_content, progress, keep_positions)
        canonical.mark(folder.canonical_state, folder.output_manifest, journal_sizes(folder))
    return written


def _write_manifest(
    inp: ConsolidationInput,
    result: Consolidated | None,
    dest: Path,
    lambda_content: dict[int, dict] | None,
    progress: Progress | None,
    keep_positions: bool,
) -> WriteResult:
    counts = WriteResult(dest)

    def write(fh) -> None:
        buf: list[bytes] = []
        following = 0  # the input line index the next written line would have
        for index, obj in consolidated_objects(inp, result, lambda_content, counts, progress):
            if keep_positions and index > following:
                buf.append(b"\n" * (index - following))
            following = index + 1
            buf.append(gt_lines.dumps_line(obj))
            if len(buf) >= 4096:
                fh.write(b"".join(buf))
                buf = []
        fh.write(b"".join(buf))

    atomic_write(dest, write)
    return counts


@dataclass(frozen=True)
class ResponsesExport:
    root: Path
    response_files: int
    consolidation_response: Path
    consolidated: int


def export_gt_responses(folder: JobFolder, dest: Path) -> ResponsesExport:
    """A tuilabel job as GT's annotation folders under `dest` (a GT job folder's layout):
    every answer in `annotations/worker-response/iteration-1/<index>/<time>.json`, the
    consolidation (default method) in `annotations/consolidated-annotation/
    consolidation-response/iteration-1/<time>.json`, and `annotation-tool/data.json`."""
    inp = from_tuilabel_job(folder)
    spec = inp.spec
    annotations = dest / "annotations"
    files = write_worker_responses(annotations / "worker-response", worker_answers_from_job(folder, spec))
    result = consolidate(inp.answers) if inp.answers.n_answers else None
    keys = (spec.label_attribute, spec.label_attribute + "-metadata")
    responses = [
        {"datasetObjectId": str(index), "consolidatedAnnotation": {"content": {k: obj[k] for k in keys}}}
        for index, obj in consolidated_objects(inp, result, None, WriteResult(dest))
        if spec.label_attribute in obj
    ]
    when = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    path = write_consolidation_response(annotations / "consolidated-annotation" / "consolidation-response", responses, when)
    label_file = dest / "annotation-tool" / "data.json"
    if not label_file.exists():
        atomic_write(label_file, label_category_file(list(spec.labels)))
    return ResponsesExport(dest, files, path, len(responses))
