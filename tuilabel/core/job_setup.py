"""From what the user typed (a manifest or a job file, plus flags) to a job ready to open.

Order of precedence: command-line flags, then the job file, then the existing job (when the
folder already holds one), then defaults. A new job needs labels; an existing one keeps its
labels and task type once it has answers, and a different request is refused (never silently
mixed); before the first answer a new label set or task simply replaces the old one.
A job whose input moved (the folder was moved, or the package reinstalled) follows it when the
file at the new place has the same content (the fingerprint in the checkpoints).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

import orjson

from tuilabel.core.data import s3
from tuilabel.core.store.durable import explain_os_error
from tuilabel.core.errors import UserError
from tuilabel.core.locations import s3_stage
from tuilabel.core.gt.job import (
    Instructions,
    JobFolder,
    JobSpec,
    check_job_name,
    check_label_attribute,
    check_labels,
    default_worker,
    instructions_from,
    read_job_file,
    read_labels,
    spec_changes,
    suggest_name,
)
from tuilabel.core.store.lock import IdleWorkers
from tuilabel.core.data.manifest import BadRecord, Manifest, is_blank, parse_record
from tuilabel.core.data.sources import local_path
from tuilabel.core.session import Session
from tuilabel.core.gt import chained
from tuilabel.core.team.settings import TEAM_KEYS, TeamSettings
from tuilabel.core.gt.tasks import TASK_TYPES, VERIFICATION, task_for

if TYPE_CHECKING:
    from tuilabel.core.data.s3_mirror import S3Mirror


@dataclass
class JobRequest:
    """Everything the user may say about a job; None means "not said"."""

    source: str
    name: str | None = None
    labels: str | None = None  # "A,B,C" or a label file
    task: str | None = None
    multi: bool | None = None
    label_attribute: str | None = None
    output: str | None = None
    worker: str | None = None
    instructions: str | None = None  # short text
    verify: str | None = None  # chained job: the earlier label attribute to verify
    adjust: str | None = None  # chained job: the earlier label attribute to adjust
    team: dict | None = None  # team settings from flags (core/team/settings.py TEAM_KEYS)


@dataclass
class PreparedJob:
    spec: JobSpec
    folder: JobFolder
    manifest_path: Path  # a local file (an s3:// manifest is cached in the job folder)
    manifest_base: str  # where relative source-refs resolve
    output_s3: str | None  # s3://…/<job-name>/ to mirror the job folder to, if any
    new: bool  # True on a job's first start
    notes: list[str] = field(default_factory=list)  # one line each, for the user
    replace_spec: bool = False  # job.json is rewritten (moved input, labels before any answer)

    def open_manifest(self) -> Manifest:
        return Manifest(self.manifest_path, base=self.manifest_base, display=self.spec.input)

    def start(self, background: bool = True) -> tuple[Session, "S3Mirror | None"]:
        """Open the session; with an s3:// output, a mirror uploads the job folder as it goes.
        `background`: see `Session.open`."""
        session = Session(self.spec, self.folder, self.open_manifest(), replace_spec=self.replace_spec)
        session.messages.extend(self.notes)
        mirror = None
        if self.output_s3:
            from tuilabel.core.data.s3_mirror import S3Mirror

            private = ("manifests/output/output.manifest", "tuilabel/team-output.json") if self.spec.is_team else ()
            mirror = S3Mirror(self.folder.root, self.output_s3, skip=private)
            mirror.sync_existing()  # whatever an earlier offline session left behind
            changed = (
                # A team job's output is published by its writer (team/s3_output.py), only
                # ever replaced by a more complete one: not by a plain upload.
                *(() if self.spec.is_team else (self.folder.output_manifest,)),
                self.folder.journal(self.spec.worker),
                self.folder.checkpoint(self.spec.worker),
            )

            def mark_changed() -> None:
                for path in changed:
                    mirror.touch(path)

            session.on_commit.append(mark_changed)
        try:
            session.open(background)
        except BaseException:
            if mirror is not None:
                mirror.close(timeout=0)
            raise
        if mirror is not None:
            for path in (self.folder.spec_file, self.folder.label_file):
                mirror.touch(path)
        return session, mirror

    def stop(self, session: Session, mirror: "S3Mirror | None", timeout: float = 10.0) -> list[str]:
        """Close the session (saves the resume point); last upload. Returns files not uploaded."""
        session.close()
        if mirror is None:
            return []
        for path in (self.folder.journal(self.spec.worker), self.folder.checkpoint(self.spec.worker)):
            mirror.touch(path)
        if not self.spec.is_team:
            mirror.touch(self.folder.output_manifest)
        if self.folder.bad_lines_report.exists():
            mirror.touch(self.folder.bad_lines_report)
        return mirror.close(timeout=timeout)


def _s3_parent(uri: str) -> str:
    bucket, key = s3.parse_s3_uri(uri)
    parent = key.rsplit("/", 1)[0] + "/" if "/" in key else ""
    return f"s3://{bucket}/{parent}"


def _detect_media(path: Path) -> str:
    """image or text, from the first usable record."""
    with Manifest(path) as manifest:
        offset = 0
        while offset < manifest.size:
            # Line by line (64 KiB reads): iter_lines' 4 MiB chunk cost ~8 ms of start-up.
            raw, offset = manifest.read_line(offset)
            if is_blank(raw):
                continue
            try:
                data = parse_record(raw)
            except BadRecord:
                continue
            return "image" if "source-ref" in data else "text"
    raise UserError(f"{path}: no usable record (each line needs a 'source' or 'source-ref')")


def find_job_folder(source: str) -> JobFolder | None:
    path = Path(source).expanduser()
    try:
        if (path / "tuilabel" / "job.json").is_file():
            return JobFolder(path)
    except OSError:  # cannot look inside: not a job folder we can open; callers say why
        pass
    return None


def _saved_fingerprints(folder: JobFolder) -> list[dict]:
    """The input fingerprints the job's checkpoints hold (one per worker that saved one)."""
    found = []
    for checkpoint in sorted((folder.private / "workers").glob("*/checkpoint.json")):
        try:
            saved = orjson.loads(checkpoint.read_bytes()).get("input")
        except (OSError, ValueError, AttributeError):
            continue
        if isinstance(saved, dict) and {"size", "head_sha1", "tail_sha1"} <= saved.keys():
            found.append(saved)
    return found


def _same_input(folder: JobFolder, path: Path) -> bool:
    """Is `path` the job's input (or that input grown)? First and last 64 KiB of the old length
    here; the session compares the whole file in the background and refuses a mismatch."""
    saved = _saved_fingerprints(folder)
    if not saved:
        return not folder.answers_exist()  # nothing is tied to the old file's lines yet
    try:
        with Manifest(path) as manifest:
            for fp in saved:
                now = manifest.fingerprint(fp["size"])
                if manifest.size >= fp["size"] and (now.head_sha1, now.tail_sha1) == (fp["head_sha1"], fp["tail_sha1"]):
                    return True
    except OSError:
        return False
    return False


def _moved_input(folder: JobFolder, spec: JobSpec) -> Path | None:
    """Where the input of a job whose stored input path is gone may be now: the stored path
    relative to the job folder, or a file of the same name beside the job folder."""
    candidates = []
    if spec.input_from_job:
        candidates.append(folder.root / spec.input_from_job)
    candidates.append(folder.root.parent / Path(spec.input).name)
    for path in candidates:
        try:
            if path.is_file() and _same_input(folder, path):
                return path.resolve()
        except OSError:
            continue
    return None


def _others_labeling(folder: JobFolder, worker: str) -> list[str]:
    with IdleWorkers(folder.locks(), skip=folder.lock(worker)) as idle:
        return idle.busy


def prepare(req: JobRequest, fetch_input: bool = True) -> PreparedJob:
    source = local_path(req.source)
    file_values: dict = {}
    base = Path.cwd()
    existing_folder = None if "://" in source else find_job_folder(source)
    if existing_folder is not None:
        spec = existing_folder.load_spec()
        # A moved folder is where it is now, not where job.json was written.
        here = spec.output if s3.is_s3_uri(spec.output) else str(existing_folder.root.resolve().parent)
        file_values = {"input": spec.input, "name": spec.name, "output": here}
        base = Path("/")
        if not s3.is_s3_uri(spec.input) and not Path(spec.input).is_file():
            moved = _moved_input(existing_folder, spec)
            if moved is not None:
                file_values["input"] = str(moved)
    elif source.lower().endswith(".toml"):
        path = Path(source).expanduser()
        try:
            is_file = path.is_file()
        except OSError as exc:  # e.g. a folder on the way that we may not read
            raise explain_os_error(exc, path, "read job file") from None
        if not is_file:
            raise UserError(f"job file {source} does not exist")
        file_values = read_job_file(path)
        base = path.resolve().parent
        if "input" not in file_values:
            raise UserError(f"{path}: no input = \"…\" (the manifest to label)")
    else:
        file_values = {"input": source}

    input_loc = local_path(str(file_values["input"]))
    if not s3.is_s3_uri(input_loc) and "://" not in input_loc:
        input_path = (base / Path(input_loc).expanduser()).resolve()
        input_loc = str(input_path)
    elif s3.is_s3_uri(input_loc):
        input_path = None
    else:
        raise UserError(f"{input_loc}: manifests are read from a path, file:// or s3:// (http is for images)")

    if input_path is not None:
        try:
            input_path.stat()
        except FileNotFoundError:
            pass  # said below
        except OSError as exc:  # e.g. a folder on the way that we may not read
            raise explain_os_error(exc, input_path, "read input manifest") from None
        if input_path.is_dir():
            raise UserError(
                f"{input_path} is a folder; make a manifest first with `tuilabel scan {input_path}`"
            )
        if not input_path.is_file():
            raise UserError(f"input manifest {input_path} does not exist")
        if not os.access(input_path, os.R_OK):
            raise UserError(f"cannot read input manifest {input_path}: permission denied")

    name = req.name or file_values.get("name")
    if not name:
        stem = Path(input_loc.rstrip("/")).name.split(".")[0]
        name = suggest_name(stem)
        earlier_job = chained.earlier_job_root(input_loc)
        chained_as = _chained_kind(req, file_values)
        if chained_as:  # e.g. birds-verification, beside the earlier job `birds`
            name = suggest_name(f"{earlier_job[1] if earlier_job else stem}-{chained_as}")
    check_job_name(name)

    output = req.output or file_values.get("output")
    if output:
        output = str(output)
        if not s3.is_s3_uri(output):
            output = str((base / Path(output).expanduser()).resolve())
    else:
        output = _s3_parent(input_loc) if input_path is None else str(Path(input_loc).parent)
        earlier_job = chained.earlier_job_root(input_loc)
        if earlier_job is not None and _chained_kind(req, file_values):
            output = earlier_job[0]  # beside the earlier job, not inside it

    output_s3 = None
    if s3.is_s3_uri(output):
        output_s3 = output.rstrip("/") + "/" + name + "/"
        root = s3_stage(output) / name
    else:
        root = Path(output) / name
    folder = JobFolder(root)
    existing = folder.load_spec() if folder.exists() else None

    notes: list[str] = []
    if input_path is None:
        manifest_path = folder.input_cache
        if fetch_input:
            try:
                s3.download(input_loc, manifest_path)
            except s3.S3Error as exc:
                if exc.kind != "unreachable" or not manifest_path.is_file():
                    raise
                # S3 is down but this job has its copy: label on, upload later.
                notes.append(f"{exc}; labeling from the job's copy of the manifest")
        base_uri = _s3_parent(input_loc)
    else:
        manifest_path = input_path
        base_uri = str(input_path.parent)

    verify, adjust, first = _chained(req, file_values, existing, manifest_path, input_loc)

    # Labels: flag, then job file (labels or labels_file), then the existing job.
    labels: list[str] | None = None
    where = "labels"
    if req.labels is not None:
        labels, where = read_labels(req.labels, Path.cwd())
    elif "labels" in file_values:
        value = file_values["labels"]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise UserError("job file: labels must be a list of strings")
        labels, where = list(value), "job file labels"
    elif "labels_file" in file_values:
        labels, where = read_labels(str(file_values["labels_file"]), base)
    elif existing is not None:
        labels = list(existing.labels)
    elif verify:
        labels, where = list(chained.VERIFICATION_CATEGORIES), "verification categories"
    elif adjust and input_path is not None and chained.earlier_label_file(input_path) is not None:
        labels, where = read_labels(str(chained.earlier_label_file(input_path)))
    if labels is None and adjust:
        raise UserError(
            "an adjustment job needs the earlier job's labels in their order: --labels A,B,C or its "
            "label file (--labels <earlier job>/annotation-tool/data.json)"
        )
    if labels is None:
        raise UserError(
            "no labels: give --labels A,B,C (or a label file), or labels = [...] in a job file"
        )

    task_name = req.task or file_values.get("task")
    if verify or adjust or task_name == VERIFICATION:
        task_name = _chained_task(task_name, verify, adjust, first, existing, manifest_path)
    elif task_name:
        if task_name not in TASK_TYPES:
            raise UserError(f"unknown task {task_name!r}; one of: {', '.join(TASK_TYPES)}")
        if req.multi and TASK_TYPES[task_name].boxes:
            raise UserError("--multi is for classification; a bounding-box job already takes any number of boxes")
        if req.multi and not TASK_TYPES[task_name].multi:
            task_name = task_for(TASK_TYPES[task_name].media, True).name
    elif existing is not None and req.multi is None:
        task_name = existing.task
    else:
        media = existing.task_type.media if existing is not None else None
        if media is None:
            media = _detect_media(manifest_path) if manifest_path.exists() else "image"
        task_name = task_for(media, bool(req.multi)).name
    task = TASK_TYPES[task_name]
    check_labels(labels, task, where)

    attr = req.label_attribute or file_values.get("label_attribute") or (
        existing.label_attribute if existing else name
    )
    check_label_attribute(attr)
    if attr in (verify, adjust):
        raise UserError(
            f"the label attribute {attr!r} is the one this job audits; a chained job writes a new "
            f"attribute beside it: give --attribute (e.g. {suggest_name(attr + '-' + ('verified' if verify else 'adjusted'), 127)})"
        )

    instructions = Instructions()
    if isinstance(file_values.get("instructions"), dict):
        instructions = instructions_from(file_values["instructions"], base)
    elif existing is not None:
        instructions = existing.instructions
    if req.instructions:
        instructions = replace(instructions, short=req.instructions)

    worker = req.worker or file_values.get("worker") or default_worker()
    team = _team_settings(existing, file_values, req.team, base)
    spec = JobSpec(
        name=name,
        label_attribute=attr,
        task=task_name,
        labels=tuple(labels),
        input=input_loc,
        output=output,
        worker=str(worker),
        instructions=instructions,
        verify=verify,
        adjust=adjust,
        team=team,
    )
    if adjust and first is not None:
        chained.check_same_labels(spec, first)
    if input_path is not None:
        try:
            spec = replace(spec, input_from_job=os.path.relpath(input_path, folder.root.resolve()))
        except ValueError:  # another drive: no relative path
            pass
    replace_spec = False
    if existing is not None:
        if existing.name.lower() != name.lower():
            raise UserError(f"{folder.root} holds job {existing.name!r}, not {name!r}")
        changes = spec_changes(existing, spec)
        if changes:
            _refuse_changes_after_answers(folder, existing, spec, changes)
            notes.append(
                f"job {existing.name!r} had no answers yet, so it now has {'; '.join(changes)}"
            )
            existing = replace(existing, task=spec.task, labels=spec.labels, label_attribute=spec.label_attribute,
                               verify=spec.verify, adjust=spec.adjust)
            replace_spec = True
        if existing.input != spec.input:
            if input_path is None or not _same_input(folder, input_path):
                raise UserError(
                    f"job {existing.name!r} at {folder.root} labels {existing.input}, not {spec.input} "
                    "(other content); use another --name or --output for a new job"
                )
            notes.append(f"job {existing.name!r}: its input moved from {existing.input} to {spec.input} (same content); resuming")
            replace_spec = True
        elif existing.input_from_job != spec.input_from_job:
            replace_spec = True  # the folder moved with its input, or a job.json from before
        if existing.team != spec.team:
            replace_spec = True  # team settings may change at any time (they bind the next take)
        spec = replace(existing, worker=spec.worker, instructions=spec.instructions, input=spec.input,
                       input_from_job=spec.input_from_job, output=spec.output, team=spec.team)
    if spec.is_team and not spec.team_settings.allows(spec.worker):
        raise UserError(f"worker {spec.worker!r} is not in job {spec.name!r}'s team; ask its owner to add them")
    return PreparedJob(spec, folder, manifest_path, base_uri, output_s3, existing is None, notes, replace_spec)


def _chained_kind(req: JobRequest, file_values: dict) -> str:
    """"verification", "adjustment" or "" (a plain job), from what the user said."""
    if req.verify or file_values.get("verify"):
        return "verification"
    if req.adjust or file_values.get("adjust"):
        return "adjustment"
    return ""


def _chained(req: JobRequest, file_values: dict, existing: JobSpec | None, manifest_path: Path,
             display: str) -> tuple[str, str, dict | None]:
    """(verify, adjust, the first input object that carries the audited attribute): flags, then
    the job file, then the existing job. An attribute that no line has is refused here."""
    said = {}
    for what in ("verify", "adjust"):
        value = getattr(req, what)
        if value is None:
            value = file_values.get(what, getattr(existing, what) if existing is not None else "")
        if not isinstance(value, str):
            raise UserError(f"job file: {what} must be a label attribute name (a string)")
        said[what] = value.strip()
    verify, adjust = said["verify"], said["adjust"]
    if verify and adjust:
        raise UserError("a chained job either verifies (--verify) or adjusts (--adjust) an earlier label, not both")
    if (req.task or file_values.get("task")) == VERIFICATION and not verify:
        raise UserError("--task verification needs --verify ATTR: the earlier job's label attribute to verify")
    first = None
    if (verify or adjust) and manifest_path.exists():
        first = chained.first_audited(manifest_path, verify or adjust, display)
    return verify, adjust, first


def _chained_task(task_name: str | None, verify: str, adjust: str, first: dict | None,
                  existing: JobSpec | None, manifest_path: Path) -> str:
    """The task of a chained job: verification (image or text, from the records), or for an
    adjustment the earlier label's own task."""
    if verify and task_name in TASK_TYPES and TASK_TYPES[task_name].verification:
        return task_name
    if task_name == VERIFICATION or (verify and task_name is None):
        if existing is not None and existing.task_type.verification:
            return existing.task
        media = _detect_media(manifest_path) if manifest_path.exists() else "image"
        return f"{media}-verification"
    if verify:
        raise UserError(f"--verify makes a verification job, not {task_name}; leave out --task (or give --task verification)")
    if first is None:  # an s3:// input not fetched (yet): the job keeps what it had
        if existing is not None:
            return existing.task
        raise UserError(f"cannot tell the task of {adjust!r} without reading the input")
    earlier = first[adjust + "-metadata"]["type"]
    matching = [t.name for t in TASK_TYPES.values() if t.gt_type == earlier and not t.verification]
    if not matching:
        adjustable = ", ".join(t.gt_type for t in TASK_TYPES.values() if not t.verification)
        raise UserError(f"{adjust!r} holds {earlier} labels; tuilabel adjusts {adjustable}")
    if task_name is not None and task_name not in matching:
        raise UserError(f"{adjust!r} holds {earlier} labels, so the adjustment is {matching[0]}, not {task_name}")
    return matching[0]


def _team_settings(existing: JobSpec | None, file_values: dict, flags: dict | None, base: Path) -> dict:
    """The job's team settings: the existing job's, then the job file's, then flags; checked
    here (one line on a bad value). A team file path is kept absolute."""
    team = dict(existing.team) if existing is not None else {}
    team.update({key: file_values[key] for key in TEAM_KEYS if key in file_values})
    team.update({key: value for key, value in (flags or {}).items() if value is not None})
    if isinstance(team.get("team"), str):
        team["team"] = str((base / Path(team["team"]).expanduser()).resolve())
    TeamSettings.from_mapping(team)
    return team


def _refuse_changes_after_answers(folder: JobFolder, existing: JobSpec, wanted: JobSpec, changes: list[str]) -> None:
    """A started job keeps its task, labels and attribute: answers are label indexes. Before
    the first answer (and with no other worker labeling) a change is allowed."""
    busy = _others_labeling(folder, wanted.worker)
    if not folder.answers_exist() and not busy:
        return
    why = f"worker {', '.join(busy)} is labeling it" if busy else "it has answers (label indexes)"
    raise UserError(
        f"job {existing.name!r} at {folder.root} cannot change ({'; '.join(changes)}): {why}; "
        f"label with the new settings in a new job folder (add --name {suggest_name(existing.name + '-2')}), "
        f"or keep the old ones (leave out the flags that differ)"
    )
