"""GT's raw worker answers (spec §3): `worker-response/iteration-<n>/<index>/<time>.json`.

Each file holds every worker's answer for one object (`index` = its input line, from 0):
    {"answers":[{"answerContent":{"crowd-image-classifier":{"label":"Parrot"}},
                 "submissionTime":"2019-04-18T16:30:21Z","workerId":"…",
                 "acceptanceTime":"…","timeSpentInSeconds":12.3}]}
tuilabel adds a top-level `"declined"` list (worker, times) when it exports declines: GT has no
place for them, and code written for GT's files only reads `answers`.

Reading never stops at a bad file: each problem is one line in `problems`, and the rest goes on.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable, Iterator

import orjson

from tuilabel.core.errors import UserError
from tuilabel.core.gt.tasks import TASK_TYPES
from tuilabel.core.store.durable import atomic_write, ensure_dir, explain_os_error

if TYPE_CHECKING:
    from tuilabel.core.gt.job import JobFolder, JobSpec

# Element name -> the key its answer sits under ("label", "labels", or "boundingBoxes" for
# `boundingBox`: [{label, left, top, width, height}], beside `inputImageProperties`).
BOXES = "boundingBoxes"
ELEMENTS: dict[str, str] = {
    t.element: (BOXES if t.boxes else "labels" if t.multi else "label") for t in TASK_TYPES.values()
}
_ITERATION = re.compile(r"iteration-(\d+)")


@dataclass(frozen=True)
class WorkerAnswer:
    index: int  # the input line, from 0
    worker: str
    element: str  # "crowd-image-classifier", …; "" for a decline
    content: dict  # the element's content: {"label": "Parrot"} or {"labels": [...]}
    submitted: str  # ISO UTC, as GT writes it
    accepted: str | None
    seconds: float | None
    source: str  # the file it came from, for messages
    declined: bool = False
    comments: tuple[str, ...] = ()  # a verification worker's comment (GT's worker-feedback)

    @property
    def multi(self) -> bool:
        return ELEMENTS.get(self.element) == "labels"


def worker_response_folder(root: Path) -> Path:
    """`root` may be a GT job folder, its annotations/ or worker-response/ folder, or the
    gt-birds layout (worker-response/ directly inside)."""
    for candidate in (root / "annotations" / "worker-response", root / "worker-response", root):
        if candidate.is_dir() and any(_ITERATION.fullmatch(p.name) for p in candidate.iterdir()):
            return candidate
    if _ITERATION.fullmatch(root.name) and root.is_dir():
        return root.parent
    raise UserError(f"{root}: no worker-response/iteration-N folders inside")


def _index_files(folder: Path, problems: list[str]) -> dict[int, list[Path]]:
    """Every response file per object index, over all iterations (later iterations last)."""
    by_index: dict[int, list[Path]] = {}
    iterations = sorted(
        (int(m.group(1)), p) for p in folder.iterdir() if (m := _ITERATION.fullmatch(p.name)) and p.is_dir()
    )
    for _, iteration in iterations:
        with os.scandir(iteration) as entries:
            for entry in entries:
                if not entry.is_dir():
                    problems.append(f"{entry.path}: not an <index> folder; skipped")
                    continue
                if not entry.name.isdigit():
                    problems.append(f"{entry.path}: folder name is not an object index; skipped")
                    continue
                files = []
                for f in os.scandir(entry.path):
                    if f.name.endswith(".json") and f.is_file():
                        files.append(Path(f.path))
                    elif not f.name.startswith("."):
                        problems.append(f"{f.path}: not a .json response file; skipped")
                by_index.setdefault(int(entry.name), []).extend(sorted(files))
    return by_index


def _json_problem(path: Path, data: bytes, exc: orjson.JSONDecodeError) -> str:
    if data.strip() and exc.pos >= len(data.rstrip()) - 1 and data.lstrip()[:1] in (b"{", b"["):
        return f"{path}: truncated JSON (ends after {len(data)} bytes); skipped"
    return f"{path}: not JSON ({exc.msg}); skipped"


def _parse_answer(index: int, item: object, path: Path, problems: list[str], declined: bool) -> WorkerAnswer | None:
    where = f"{path}: {'declined' if declined else 'answer'}"
    if not isinstance(item, dict):
        problems.append(f"{where} is not an object; skipped")
        return None
    worker = item.get("workerId")
    submitted = item.get("submissionTime")
    if not isinstance(worker, str) or not worker:
        problems.append(f"{where} has no workerId; skipped")
        return None
    if not isinstance(submitted, str):
        problems.append(f"{where} of {worker} has no submissionTime; skipped")
        return None
    seconds = item.get("timeSpentInSeconds")
    seconds = float(seconds) if isinstance(seconds, (int, float)) and not isinstance(seconds, bool) else None
    accepted = item.get("acceptanceTime") if isinstance(item.get("acceptanceTime"), str) else None
    if declined:
        return WorkerAnswer(index, worker, "", {}, submitted, accepted, seconds, str(path), True)
    content = item.get("answerContent")
    if not isinstance(content, dict) or len(content) != 1:
        problems.append(f"{where} of {worker}: answerContent must hold one element; skipped")
        return None
    ((element, value),) = content.items()
    key = ELEMENTS.get(element)
    if key is None:
        problems.append(
            f"{where} of {worker}: unknown element name {element!r} (expected one of {', '.join(ELEMENTS)}); skipped"
        )
        return None
    chosen = value.get(key) if isinstance(value, dict) else None
    if key == BOXES:  # each box is checked where the boxes are read (box_job.py)
        if not isinstance(chosen, list):
            problems.append(f"{where} of {worker}: {element} has no {key!r} list; skipped")
            return None
        content = {key: chosen, "inputImageProperties": value.get("inputImageProperties")}  # type: ignore[union-attr]
        return WorkerAnswer(index, worker, element, content, submitted, accepted, seconds, str(path))
    if not (isinstance(chosen, str) if key == "label" else isinstance(chosen, list) and all(isinstance(c, str) for c in chosen)):
        problems.append(f"{where} of {worker}: {element} has no {key!r}; skipped")
        return None
    return WorkerAnswer(index, worker, element, {key: chosen}, submitted, accepted, seconds, str(path))


def read_worker_responses(
    root: Path, problems: list[str], progress: Callable[[int, int], None] | None = None
) -> Iterator[WorkerAnswer]:
    """Every answer (and tuilabel-exported decline), by object index. A worker's repeated
    answers for one object keep the latest by submission time (one problem line says so).
    `progress(done, total)` is called per object."""
    by_index = _index_files(worker_response_folder(root), problems)
    total = len(by_index)
    for done, index in enumerate(sorted(by_index), 1):
        latest: dict[str, WorkerAnswer] = {}
        for path in by_index[index]:
            try:
                data = path.read_bytes()
            except OSError as exc:
                problems.append(f"{explain_os_error(exc, path, 'read')}; skipped")
                continue
            try:
                obj = orjson.loads(data)
            except orjson.JSONDecodeError as exc:
                problems.append(_json_problem(path, data, exc))
                continue
            if not isinstance(obj, dict) or not isinstance(obj.get("answers"), list):
                problems.append(f'{path}: not a worker-response file (no "answers" list); skipped')
                continue
            items = [(a, False) for a in obj["answers"]] + [(d, True) for d in obj.get("declined") or []]
            for item, declined in items:
                answer = _parse_answer(index, item, path, problems, declined)
                if answer is None:
                    continue
                earlier = latest.get(answer.worker)
                if earlier is not None:
                    keep, drop = (answer, earlier) if answer.submitted >= earlier.submitted else (earlier, answer)
                    problems.append(
                        f"{answer.source}: {answer.worker} answered object {index} twice "
                        f"({drop.submitted} in {drop.source} and {keep.submitted}); kept the latest"
                    )
                    answer = keep
                latest[answer.worker] = answer
        yield from latest.values()
        if progress is not None:
            progress(done, total)


def collect_comments(answers: Iterable[WorkerAnswer], into: dict[int, list[str]]) -> Iterator[WorkerAnswer]:
    """The answers, passed on as they come, their verification comments gathered per record
    in `into` (in the answers' order: GT's worker-feedback list)."""
    for answer in answers:
        if answer.comments:
            into.setdefault(answer.index, []).extend(answer.comments)
        yield answer


def worker_answers_from_job(folder: "JobFolder", spec: "JobSpec", problems: list[str] | None = None) -> Iterator[WorkerAnswer]:
    """A tuilabel job's answers as GT's worker answers: every worker's latest answer (or
    decline) per record, from the journals (each worker appends only to their own); in a
    team job only those the lease store accepted."""
    from tuilabel.core.gt.lines import feedback_of
    from tuilabel.core.store.journal import Entry, iter_journal

    element = spec.task_type.element
    key = ELEMENTS[element]
    counted = None
    if spec.is_team and folder.team_db.exists():
        from tuilabel.core.team.leases import accepted_decisions

        counted, _ = accepted_decisions(folder.team_db)  # only what the lease store accepted
    for path in folder.journals():
        latest: dict[tuple[int, str], tuple[int, Entry]] = {}
        for lineno, line in enumerate(iter_journal(path), 1):
            try:
                entry = Entry.from_line(line)
            except (ValueError, KeyError, TypeError, orjson.JSONDecodeError):
                if problems is not None:
                    problems.append(f"{path}:{lineno}: not a journal line; skipped")
                continue
            latest[(entry.index, entry.worker)] = (lineno, entry)
        for (index, worker), (lineno, entry) in sorted(latest.items()):
            if counted is not None and (index, worker) not in counted:
                continue  # came after its task had gone back to the pool
            source = f"{path}:{lineno}"
            if entry.kind != "a":
                yield WorkerAnswer(index, worker, "", {}, entry.submitted, entry.accepted, entry.seconds, source, True)
                continue
            value = entry.gt.get(spec.label_attribute)
            if key == BOXES:
                from tuilabel.core.gt.box_job import box_answer_content

                content = box_answer_content(value, spec.labels)
                yield WorkerAnswer(index, worker, element, content, entry.submitted, entry.accepted, entry.seconds, source)
                continue
            chosen = value if isinstance(value, list) else [value]
            names = [spec.labels[v] if isinstance(v, int) and 0 <= v < len(spec.labels) else str(v) for v in chosen]
            content = {key: names} if key == "labels" else {key: names[0]}
            comments = tuple(feedback_of(entry.gt, spec.label_attribute)) if spec.task_type.verification else ()
            yield WorkerAnswer(index, worker, element, content, entry.submitted, entry.accepted, entry.seconds, source,
                               comments=comments)


def file_time(iso: str) -> str:
    """GT's response file name from an ISO time: `2019-04-18T16:30:21Z` -> `2019-04-18_16:30:21`."""
    return iso[:19].replace("T", "_")


def _answer_json(answer: WorkerAnswer) -> dict:
    out: dict = {}
    if not answer.declined:
        out["answerContent"] = {answer.element: answer.content}
    out["submissionTime"] = answer.submitted
    out["workerId"] = answer.worker
    if answer.accepted is not None:
        out["acceptanceTime"] = answer.accepted
    if answer.seconds is not None:
        out["timeSpentInSeconds"] = answer.seconds
    return out


def write_worker_responses(folder: Path, answers: Iterable[WorkerAnswer], iteration: int = 1) -> int:
    """Write `folder/iteration-<n>/<index>/<time>.json`, one file per object (answers grouped by
    index, in any order); the file is named after the object's last submission, as GT's are.
    Returns the number of files. Each file appears whole (temp + rename); the export can always
    be run again from the journals, so files are not fsynced one by one."""
    by_index: dict[int, list[WorkerAnswer]] = {}
    for answer in answers:
        by_index.setdefault(answer.index, []).append(answer)
    base = folder / f"iteration-{iteration}"
    for index in sorted(by_index):
        group = sorted(by_index[index], key=lambda a: a.submitted)
        obj: dict = {"answers": [_answer_json(a) for a in group if not a.declined]}
        declined = [_answer_json(a) for a in group if a.declined]
        if declined:
            obj["declined"] = declined
        target_dir = base / str(index)
        ensure_dir(target_dir)
        target = target_dir / f"{file_time(group[-1].submitted)}.json"
        tmp = target_dir / f".{target.name}.tmp"
        try:
            tmp.write_bytes(orjson.dumps(obj))
            os.replace(tmp, target)
        except OSError as exc:
            raise explain_os_error(exc, target) from None
    return len(by_index)


def write_consolidation_response(folder: Path, responses: list[dict], when: str, iteration: int = 1) -> Path:
    """`consolidated-annotation/consolidation-response/iteration-<n>/<time>.json`: the
    post-annotation Lambda's response list (spec §6), as GT keeps it."""
    path = folder / f"iteration-{iteration}" / f"{file_time(when)}.json"
    atomic_write(path, orjson.dumps(responses))
    return path
