"""A labeling job: its name, label attribute, task type, labels, instructions and folder.

GT's rules (spec §4, §5) are checked here, and each broken rule is one clear message.
"""

from __future__ import annotations

import getpass
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import orjson

from tuilabel.core.store.durable import explain_os_error
from tuilabel.core.errors import UserError
from tuilabel.core.gt.limits import MAX_LABEL_CHARS
from tuilabel.core.gt.tasks import TASK_TYPES, TaskType
from tuilabel.core.team.settings import TEAM_KEYS
from tuilabel.core.toml_file import read_toml

if TYPE_CHECKING:
    from tuilabel.core.team.settings import TeamSettings

JOB_NAME_RULE = "1-63 characters, letters, digits and single or repeated hyphens, starting and ending with a letter or digit ([a-zA-Z0-9](-*[a-zA-Z0-9])*)"
_JOB_NAME_RE = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}")
_ATTR_RE = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,126}")
LABEL_FILE_VERSION = "2018-11-28"


def suggest_name(text: str, limit: int = 63) -> str:
    """A valid GT name close to `text`: other characters become hyphens."""
    name = re.sub(r"[^a-zA-Z0-9]+", "-", text).strip("-")[:limit].strip("-")
    return name or "labeling-job"


def check_job_name(name: str) -> str:
    if not _JOB_NAME_RE.fullmatch(name or ""):
        raise UserError(
            f"job name {name!r} breaks GT's rule: {JOB_NAME_RULE}; try {suggest_name(name)!r}"
        )
    return name


def _suggest_attribute(text: str) -> str:
    """A label attribute close to `text` that passes check_label_attribute (not only the charset)."""
    name = suggest_name(text, 127)
    for suffix in ("-metadata", "-ref"):
        if name.endswith(suffix):
            name = name[: -len(suffix)].rstrip("-")
    if name == "source":
        return "source-label"
    return name or "label"


def check_label_attribute(attr: str) -> str:
    problem = None
    if not _ATTR_RE.fullmatch(attr or ""):
        problem = "1-127 characters, letters, digits and hyphens, starting and ending with a letter or digit"
    elif attr.endswith("-metadata"):
        problem = "must not end in '-metadata'"
    elif attr in ("source", "source-ref"):
        problem = "must not be 'source' or 'source-ref'"
    elif attr.endswith("-ref"):
        problem = "ends in '-ref', which GT keeps for semantic segmentation"
    if problem:
        raise UserError(
            f"label attribute name {attr!r} breaks GT's rule: {problem}; try {_suggest_attribute(attr)!r}"
        )
    return attr


def check_labels(labels: list[str], task: TaskType, where: str = "labels") -> list[str]:
    if len(labels) < task.min_labels:
        raise UserError(f"{where}: a job of {task.description} needs at least {task.min_labels} labels, got {len(labels)}")
    if len(labels) > task.max_labels:
        raise UserError(
            f"{where}: {len(labels)} labels, over GT's limit of {task.max_labels} for {task.description}"
        )
    seen: set[str] = set()
    for n, label in enumerate(labels, 1):
        if not label.strip():
            raise UserError(f"{where}: label {n} is empty")
        if len(label) > MAX_LABEL_CHARS:
            raise UserError(f"{where}: label {n} is {len(label)} characters, over GT's {MAX_LABEL_CHARS}")
        if label in seen:
            raise UserError(f"{where}: label {label!r} appears twice; labels must be unique")
        seen.add(label)
    return labels


def read_labels(value: str, base: Path | None = None) -> tuple[list[str], str]:
    """Labels from `A,B,C`, a GT label category JSON file, or a file with one label per line.

    Returns (labels, where) — `where` names the source for messages.
    """
    path = Path(value).expanduser()
    if base is not None and not path.is_absolute():
        path = base / path
    looks_like_file = path.suffix.lower() in (".json", ".txt", ".labels") or os.sep in value
    try:
        is_file = path.is_file()
    except OSError as exc:  # e.g. a folder on the way that we may not read
        raise explain_os_error(exc, path, "read label file") from None
    if not is_file:
        if not value.strip():
            raise UserError("--labels is empty; give at least 2, e.g. --labels yes,no (or a label file)")
        if looks_like_file and "," not in value:
            raise UserError(f"label file {value} does not exist")
        return [part.strip() for part in value.split(",")], "--labels"
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UserError(f"cannot read label file {path}: {exc.strerror}") from None
    where = str(path)
    stripped = data.lstrip(b"\xef\xbb\xbf").lstrip()
    if path.suffix.lower() == ".json" or stripped.startswith(b"{"):
        try:
            obj = orjson.loads(stripped)
        except orjson.JSONDecodeError as exc:
            line = stripped[: exc.pos].count(b"\n") + 1
            raise UserError(f"{where}: not valid JSON ({exc.msg}, line {line})") from None
        labels = obj.get("labels") if isinstance(obj, dict) else None
        if not isinstance(labels, list) or not all(
            isinstance(item, dict) and isinstance(item.get("label"), str) for item in labels
        ):
            raise UserError(
                f'{where}: not a GT label category file; expected {{"labels": [{{"label": "..."}}, ...]}}'
            )
        return [item["label"] for item in labels], where
    try:
        text = stripped.decode("utf-8")
    except UnicodeDecodeError:
        raise UserError(f"{where}: not UTF-8 text") from None
    return [line.strip() for line in text.splitlines() if line.strip()], where


def label_category_file(labels: list[str]) -> bytes:
    """GT's annotation-tool/data.json: the list order defines the integer indexes."""
    return orjson.dumps(
        {"document-version": LABEL_FILE_VERSION, "labels": [{"label": label} for label in labels]}
    )


@dataclass(frozen=True)
class Example:
    text: str = ""
    image: str = ""  # a source-ref style location, resolved like records' images


@dataclass(frozen=True)
class Instructions:
    short: str = ""
    full: str = ""  # Markdown
    good: Example = field(default_factory=Example)
    bad: Example = field(default_factory=Example)

    @property
    def empty(self) -> bool:
        return not (self.short or self.full or self.good.text or self.bad.text)


@dataclass(frozen=True)
class JobSpec:
    name: str
    label_attribute: str
    task: str  # a key of TASK_TYPES
    labels: tuple[str, ...]
    input: str  # manifest location as given (path, file://, s3://)
    output: str  # the folder that holds <job-name>/
    worker: str
    instructions: Instructions = field(default_factory=Instructions)
    # The input relative to the job folder, when both are local: a moved job (with its
    # manifest beside it) still finds its input.
    input_from_job: str = ""
    # Chained jobs (spec §7) name the earlier job's label attribute they audit: `verify` for a
    # verification job, `adjust` for an adjustment job ("" for a plain labeling job). Defaults
    # keep job.json files written before chained jobs loading.
    verify: str = ""
    adjust: str = ""
    # A team job's settings (see core/team/settings.py): several workers per record under
    # leases. Empty: a solo job, as before.
    team: dict = field(default_factory=dict)

    @property
    def audited(self) -> str:
        """The earlier label attribute this job audits ("" for a plain job)."""
        return self.verify or self.adjust

    @property
    def task_type(self) -> TaskType:
        return TASK_TYPES[self.task]

    @property
    def is_team(self) -> bool:
        return bool(self.team)

    @property
    def team_settings(self) -> "TeamSettings":
        from tuilabel.core.team.settings import TeamSettings

        return TeamSettings.from_mapping(self.team)

    @property
    def gt_job_name(self) -> str:
        return "labeling-job/" + self.name.lower()

    def to_json(self) -> bytes:
        return orjson.dumps(asdict(self), option=orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE)

    @classmethod
    def from_json(cls, data: bytes) -> "JobSpec":
        obj = orjson.loads(data)
        if not isinstance(obj, dict):
            raise ValueError("not a JSON object")
        ins = obj.get("instructions") or {}
        obj["instructions"] = Instructions(
            short=ins.get("short", ""),
            full=ins.get("full", ""),
            good=Example(**(ins.get("good") or {})),
            bad=Example(**(ins.get("bad") or {})),
        )
        obj["labels"] = tuple(obj["labels"])
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in obj.items() if k in known})


def default_worker() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no login name in some containers
        return "worker"


def worker_folder_name(worker: str) -> str:
    return re.sub(r"[^A-Za-z0-9._@-]+", "_", worker) or "worker"


class JobFolder:
    """`<output>/<job-name>/`, laid out like GT's, plus tuilabel's own files under tuilabel/."""

    def __init__(self, root: Path):
        self.root = root
        self.output_manifest = root / "manifests" / "output" / "output.manifest"
        self.label_file = root / "annotation-tool" / "data.json"
        self.private = root / "tuilabel"
        self.spec_file = self.private / "job.json"
        self.input_cache = self.private / "input.manifest"  # local copy of an s3:// manifest
        self.reports = self.private / "reports"
        self.bad_lines_report = self.reports / "bad-lines.txt"
        # Damaged journal lines, set aside (never deleted), each under a file:offset header.
        self.corrupt_lines = self.reports / "journal-lines.corrupt"
        self.output_gate = self.private / "output.lock"  # see store.lock.OutputGate
        self.canonical_state = self.private / "canonical.json"  # see store.canonical
        self.team_db = self.private / "team.sqlite"  # a team job's leases (core/team/leases.py)
        self.review_marker = self.private / "review.json"  # a review (core/review.py): its output keeps every line

    def worker_dir(self, worker: str) -> Path:
        return self.private / "workers" / worker_folder_name(worker)

    def journal(self, worker: str) -> Path:
        return self.worker_dir(worker) / "journal.jsonl"

    def checkpoint(self, worker: str) -> Path:
        return self.worker_dir(worker) / "checkpoint.json"

    def lock(self, worker: str) -> Path:
        return self.worker_dir(worker) / "lock"

    def journals(self) -> list[Path]:
        return sorted((self.private / "workers").glob("*/journal.jsonl"))

    def locks(self) -> list[Path]:
        return sorted((self.private / "workers").glob("*/lock"))

    def answers_exist(self) -> bool:
        """True once any worker has committed an answer (or a decline)."""
        return any(path.stat().st_size > 0 for path in self.journals())

    def exists(self) -> bool:
        try:
            return self.spec_file.is_file()
        except OSError as exc:  # a folder on the way that we may not read
            raise explain_os_error(exc, self.root, "read job folder") from None

    def load_spec(self) -> JobSpec:
        try:
            return JobSpec.from_json(self.spec_file.read_bytes())
        except (OSError, ValueError, TypeError, KeyError, AttributeError) as exc:
            raise UserError(f"{self.spec_file}: not a readable tuilabel job ({exc})") from None


def spec_changes(existing: JobSpec, wanted: JobSpec) -> list[str]:
    """What `wanted` changes about a job's answers: task, labels, label attribute."""
    changes = []
    if existing.task != wanted.task:
        changes.append(f"task {existing.task} -> {wanted.task}")
    if tuple(existing.labels) != tuple(wanted.labels):
        changes.append(f"labels {', '.join(existing.labels)} -> {', '.join(wanted.labels)}")
    if existing.label_attribute != wanted.label_attribute:
        changes.append(f"label attribute {existing.label_attribute} -> {wanted.label_attribute}")
    for what in ("verify", "adjust"):
        old, new = getattr(existing, what), getattr(wanted, what)
        if old != new:
            changes.append(f"--{what} {old or '(none)'} -> {new or '(none)'}")
    return changes


# -- the job file ---------------------------------------------------------------------------

JOB_FILE_TEMPLATE = """\
# tuilabel job file (TOML). Start it with:  tuilabel label {file}
# Command-line flags override anything set here. Paths are relative to this file.

# GT job name: 1-63 characters, letters, digits and hyphens, no hyphen at either end.
name = "{name}"

# The input manifest: JSON Lines of {{"source-ref": "..."}} (images) or {{"source": "..."}} (text).
# A path, file:// or s3://bucket/key.
input = "{input}"

# image-classification | image-classification-multilabel
# text-classification  | text-classification-multilabel
# bounding-box
task = "{task}"

# The labels, in order (the order fixes GT's class indexes), or a file:
# labels_file = "labels.json"   # GT label category file, or one label per line
labels = [{labels}]

# Where the job folder <output>/<name>/ goes (default: beside the input). May be s3://.
# output = "."

# The key the label is written under in the output manifest (default: the job name).
# label_attribute = "{name}"

# Who is labeling (default: your login name).
# worker = "alice"

# A chained job on an earlier job's output manifest (the input): audit its label attribute.
# verify = "earlier-attribute"   # with task = "verification"; labels = the verification categories
# adjust = "earlier-attribute"   # start from the earlier labels and fix them

# A team job (Ground Truth's workforce settings): set any of these and workers take records
# under leases; each record's line is written, consolidated, when its workers are in.
# workers_per_record = 3          # 1-9 workers label each record
# task_time_limit = "5m"          # per task, 30s to 8h; then the record goes back to the pool
# availability_lifetime = "30d"   # how long a record waits for its workers (1m to 30d)
# team = ["alice", "bob", "carol"]   # who may work on it; or a team file: team = "team.toml"
# max_concurrent = 1000           # records out at once

[instructions]
# Always shown above the record.
short = "Pick the label that fits best."
# Full instructions: Markdown text, or a .md file.
# full = "instructions.md"

# [instructions.good]
# text = "A clear example of the label."
# image = "good-example.jpg"

# [instructions.bad]
# text = "A bad example: not what we want."
# image = "bad-example.jpg"
"""

_JOB_FILE_KEYS = {
    "name",
    "input",
    "task",
    "labels",
    "labels_file",
    "output",
    "label_attribute",
    "worker",
    "instructions",
    "verify",
    "adjust",
    *TEAM_KEYS,
}


def read_job_file(path: Path) -> dict:
    data = read_toml(path, "job file")
    unknown = sorted(set(data) - _JOB_FILE_KEYS)
    if unknown:
        raise UserError(f"{path}: unknown setting(s) {', '.join(unknown)}")
    return data


def instructions_from(data: dict, base: Path) -> Instructions:
    """Instructions from a job file's [instructions] table; a .md value is read from the file."""

    def text_or_file(value: object, what: str) -> str:
        if not isinstance(value, str):
            raise UserError(f"instructions.{what} must be a string")
        if value.lower().endswith((".md", ".txt")) and "\n" not in value:
            path = (base / value).expanduser()
            try:
                return path.read_text(encoding="utf-8")
            except OSError as exc:
                raise UserError(f"cannot read instructions file {path}: {exc.strerror}") from None
        return value

    def example(obj: object, what: str) -> Example:
        if not obj:
            return Example()
        if not isinstance(obj, dict):
            raise UserError(f"instructions.{what} must be a table with text and image")
        image = obj.get("image", "")
        if image and "://" not in image and not os.path.isabs(image):
            image = str((base / image).resolve())
        return Example(text=text_or_file(obj.get("text", ""), what + ".text"), image=image)

    return Instructions(
        short=text_or_file(data.get("short", ""), "short"),
        full=text_or_file(data.get("full", ""), "full"),
        good=example(data.get("good"), "good"),
        bad=example(data.get("bad"), "bad"),
    )
