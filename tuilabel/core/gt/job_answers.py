"""Every worker's answers of a job with several workers, read from its folder.

Three layouts are recognised:
- a GT job folder: `annotations/worker-response/iteration-N/<index>/<time>.json` and
  `manifests/output/output.manifest` (labels from `annotation-tool/data.json` when present);
- GT's files as AWS's examples ship them (`gt-birds`): `worker-response/` and `output.manifest`
  side by side;
- a tuilabel job folder (`tuilabel/job.json`): each worker's latest answer per record from
  their journal (declines are not answers and are left out, counted in `declined`).

Labels of a GT folder without `data.json` come from the output manifest (class index -> name),
then any other label a worker gave, in order of first appearance.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import orjson

from tuilabel.core.errors import UserError
from tuilabel.core.gt.worker_responses import WorkerAnswer, read_worker_responses


@dataclass
class JobAnswers:
    root: Path
    kind: str  # "gt" or "tuilabel"
    name: str
    attribute: str | None  # the label attribute of the output (None: not known yet)
    multi: bool
    labels: list[str]
    worker_answers: list[WorkerAnswer]
    output_manifest: Path | None  # GT's consolidated output (GT folders)
    declined: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def workers(self) -> set[str]:
        return {a.worker for a in self.worker_answers}

    def answers(self):
        """The single-label answers as arrays (bad labels and duplicates go to `problems`)."""
        from tuilabel.core.gt.consolidation import Answers

        return Answers.from_worker_answers(self.worker_answers, self.labels, self.problems)


def responses_dir(root: Path) -> Path | None:
    for candidate in (root / "annotations" / "worker-response", root / "worker-response"):
        if candidate.is_dir():
            return candidate
    return None


def gt_output_manifest(root: Path) -> Path | None:
    for candidate in (root / "manifests" / "output" / "output.manifest", root / "output.manifest"):
        if candidate.is_file():
            return candidate
    return None


def is_multi_worker_folder(path: Path) -> bool:
    """A GT folder with worker responses, or a tuilabel job answered by 2+ workers."""
    if responses_dir(path) is not None:
        return True
    return len(list((path / "tuilabel" / "workers").glob("*/journal.jsonl"))) >= 2


def load_job_answers(path: Path) -> JobAnswers:
    path = Path(path).expanduser()
    if (path / "tuilabel" / "job.json").is_file() and responses_dir(path) is None:
        return _from_tuilabel(path)
    responses = responses_dir(path)
    if responses is None:
        raise UserError(
            f"{path} has no worker answers: neither annotations/worker-response/ (a GT job folder) "
            "nor tuilabel/workers/*/journal.jsonl (a tuilabel job)"
        )
    problems: list[str] = []
    answers = list(read_worker_responses(responses, problems))
    output = gt_output_manifest(path)
    attribute, multi, from_output = _output_labels(output) if output else (None, False, {})
    labels = _label_file(path / "annotation-tool" / "data.json")
    if labels is None:
        labels = [from_output[i] for i in sorted(from_output)]
        if from_output and sorted(from_output) != list(range(len(from_output))):
            problems.append(f"{output}: class indexes {sorted(from_output)} have gaps; labels are in index order")
        for a in answers:
            for name in _names(a.content):
                if name not in labels:
                    labels.append(name)
    multi = multi or any(isinstance(a.content, dict) and "labels" in a.content for a in answers)
    name = (attribute or path.resolve().name)
    return JobAnswers(path, "gt", name, attribute, multi, labels, answers, output, problems=problems)


def _names(content: object) -> list[str]:
    if not isinstance(content, dict):
        return []
    if isinstance(content.get("label"), str):
        return [content["label"]]
    value = content.get("labels")
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def _label_file(path: Path) -> list[str] | None:
    try:
        obj = orjson.loads(path.read_bytes())
        return [item["label"] for item in obj["labels"]]
    except (OSError, ValueError, KeyError, TypeError, orjson.JSONDecodeError):
        return None


def _output_labels(path: Path) -> tuple[str | None, bool, dict[int, str]]:
    """The label attribute, multi-label or not, and class index -> name seen in a GT output."""
    attribute: str | None = None
    multi = False
    names: dict[int, str] = {}
    with open(path, "rb") as fh:
        for raw in fh:
            try:
                obj = orjson.loads(raw)
            except orjson.JSONDecodeError:
                continue
            if not isinstance(obj, dict):
                continue
            if attribute is None:
                for key, meta in obj.items():
                    if key.endswith("-metadata") and isinstance(meta, dict) and isinstance(meta.get("type"), str):
                        attribute = key[: -len("-metadata")]
                        multi = meta["type"].endswith("-multilabel")
                        break
                if attribute is None:
                    continue
            meta = obj.get(attribute + "-metadata")
            if not isinstance(meta, dict):
                continue
            value = obj.get(attribute)
            if isinstance(value, int) and isinstance(meta.get("class-name"), str):
                names.setdefault(value, meta["class-name"])
            cmap = meta.get("class-map")
            if isinstance(cmap, dict):
                for k, v in cmap.items():
                    if k.isdigit() and isinstance(v, str):
                        names.setdefault(int(k), v)
    return attribute, multi, names


def _from_tuilabel(path: Path) -> JobAnswers:
    from tuilabel.core.gt.job import JobFolder
    from tuilabel.core.store.journal import Entry, iter_journal

    folder = JobFolder(path)
    spec = folder.load_spec()
    task = spec.task_type
    answers: list[WorkerAnswer] = []
    declined = 0
    problems: list[str] = []
    for journal in folder.journals():
        latest: dict[int, Entry] = {}
        try:
            for line in iter_journal(journal):
                entry = Entry.from_line(line)
                latest[entry.index] = entry
        except (OSError, ValueError, KeyError, TypeError) as exc:
            problems.append(f"{journal}: unreadable ({exc}); its answers are left out")
            continue
        for entry in latest.values():
            if entry.kind != "a":
                declined += 1  # not an answer: counted, and shown to a reviewer as nothing
                continue
            value = entry.gt.get(spec.label_attribute)
            if task.multi:
                content = {"labels": [spec.labels[v] for v in value]}
            else:
                content = {"label": spec.labels[value]}
            answers.append(WorkerAnswer(entry.index, entry.worker, task.element, content, entry.submitted,
                                        entry.accepted, float(entry.seconds), str(journal)))
    return JobAnswers(path, "tuilabel", spec.name, spec.label_attribute, task.multi, list(spec.labels),
                      answers, None, declined, problems)
