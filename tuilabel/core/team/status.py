"""The owner's numbers for one job (`tuilabel status`, the app's stats screen) and one worker's
view of it (`tuilabel work`'s portal). Nothing here prints.

A team job (job.json's "team" mapping is not empty) is counted from its lease store
(decisions: records by answers, complete, failed, waiting, leases, releases, expiries) and its
workers' journals (time per task, pace). A solo job has no store: its journals alone give
answers and declines per worker, records done and left.

Pace is the team's recent one: the answers submitted in the last hour (journal `st`), over the
time from the earliest acceptance among them (or an hour ago) to now. ETA = answers still
needed at that pace: N per record not gone out, N - k for an open record with k answers.
"""

from __future__ import annotations

import functools
import statistics
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Iterable

from tuilabel.core.data.manifest import Manifest, iter_records
from tuilabel.core.data.s3 import is_s3_uri
from tuilabel.core.errors import UserError
from tuilabel.core.gt.export import latest_entries
from tuilabel.core.gt.job import JobFolder, JobSpec, worker_folder_name
from tuilabel.core.store.journal import Entry, iter_journal, parse_entry
from tuilabel.core.store.lock import lock_held
from tuilabel.core.team.leases import LeaseStore, clock
from tuilabel.core.team.settings import TeamSettings

PACE_WINDOW = 3600.0  # "recent": the last hour


@dataclass(frozen=True)
class WorkerStatus:
    answers: int = 0  # accepted answers (solo: records whose latest answer by this worker is one)
    declines: int = 0
    releases: int = 0
    expiries: int = 0
    leases: int = 0  # tasks out now
    median_seconds: float | None = None  # time per task: the journal's `ts`
    active: bool = False  # holds a lease, or a labeling session of it runs (its worker lock)


@dataclass(frozen=True)
class JobStatus:
    folder: str
    name: str
    task: str
    team: bool  # a team job (leases); False: a solo job, from its journals
    workers_per_record: int
    records: int | None  # None: the input manifest cannot be read
    waiting: int  # not gone out to any worker yet
    open_by_answers: tuple[int, ...]  # [k] = open records with k answers, k < N
    complete: int
    failed: int
    leases_out: int
    workers: dict[str, WorkerStatus]
    answers_per_hour: float
    answers_needed: int | None
    eta_seconds: float | None
    notes: list[str] = field(default_factory=list)

    @property
    def left(self) -> int | None:
        """Records neither complete nor failed."""
        return None if self.records is None else self.records - self.complete - self.failed

    def to_json(self) -> dict:
        out = asdict(self)
        out["open_by_answers"] = list(self.open_by_answers)
        out["left"] = self.left
        return out


# -- the job's parts --------------------------------------------------------------------------

def open_job(root: Path) -> tuple[JobFolder, JobSpec]:
    """A job folder and its spec, or one line saying why not."""
    folder = JobFolder(root)
    if not root.exists():
        raise UserError(f"{root} does not exist")
    if not folder.exists():
        raise UserError(f"{root} is not a tuilabel job folder (no tuilabel/job.json)")
    return folder, folder.load_spec()


def team_settings(spec: JobSpec) -> TeamSettings | None:
    """The job's team settings; None for a solo job."""
    return spec.team_settings if spec.is_team else None


def lease_store(folder: JobFolder, settings: TeamSettings, spec: JobSpec | None = None,
                s3_patience: float | None = None):
    """The job's lease store: SQLite in the job folder, or for a team job in S3 (`spec`
    given, its output s3://) the S3 store, giving up after `s3_patience` seconds of S3
    unreachable (default: the store's); None before the job's first take (first session)."""
    if spec is not None and is_s3_uri(spec.output):
        from tuilabel.core.team.s3_leases import S3LeaseStore

        patience = {} if s3_patience is None else {"patience": s3_patience}
        return S3LeaseStore.existing(spec.output.rstrip("/") + "/" + spec.name, settings,
                                     on_wait=lambda line: None, **patience)
    return LeaseStore.existing(folder.team_db, settings)


def input_path(folder: JobFolder, spec: JobSpec) -> Path | None:
    """The job's input manifest here: as given, beside the job (moved), or the local copy of
    an s3:// one; None when none of them is a file."""
    candidates = [] if is_s3_uri(spec.input) else [Path(spec.input)]
    if spec.input_from_job:
        candidates.append(folder.root / spec.input_from_job)
    candidates += [folder.root.parent / Path(spec.input).name, folder.input_cache]
    for path in candidates:
        try:
            if path.is_file():
                return path
        except OSError:
            continue
    return None


def count_records(path: Path, every_line: bool = False) -> int:
    """Records in an input manifest: usable ones (blank and unusable lines left out, as the
    app's total: one parse per line), or `every_line` (a team job's lease store counts input
    lines). Counted once per version of the file in a process: the portal counts every 10 s."""
    try:
        st = path.stat()
        return _count_records(str(path), st.st_size, st.st_mtime_ns, every_line)
    except OSError as exc:
        raise UserError(f"cannot read the input manifest {path}: {exc.strerror or exc}") from None


@functools.lru_cache(maxsize=256)
def _count_records(path: str, size: int, mtime_ns: int, every_line: bool) -> int:
    with Manifest(path) as manifest:
        if every_line:
            manifest.build_index()
            return manifest.line_count
        return sum(1 for _ in iter_records(manifest))


def record_total(folder: JobFolder, spec: JobSpec, notes: list[str]) -> int | None:
    """The job's records, counted as its lease store does for a team job; None (and a note)
    when its input is not here."""
    path = input_path(folder, spec)
    if path is None:
        notes.append(f"the input manifest {spec.input} is not here: records left are unknown")
        return None
    return count_records(path, every_line=spec.is_team)


def _entries(folder: JobFolder) -> dict[str, list[Entry]]:
    """Every journal entry, per worker (a damaged line is left out)."""
    out: dict[str, list[Entry]] = {}
    for path in folder.journals():
        try:
            entries = [e for e in map(parse_entry, iter_journal(path)) if e is not None]
        except OSError as exc:
            raise UserError(f"cannot read {path}: {exc.strerror or exc}") from None
        for entry in entries:
            out.setdefault(entry.worker, []).append(entry)
    return out


def running_sessions(folder: JobFolder, workers: Iterable[str]) -> dict[str, bool]:
    """worker -> is a labeling session of it running (its worker lock held)? For every worker
    with a lock file, named by id where its folder name is known, else by the folder name."""
    ids = {worker_folder_name(w): w for w in workers}
    return {ids.get(path.parent.name, path.parent.name): lock_held(path) for path in folder.locks()}


def _time(text: str) -> float | None:
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        return None


def team_pace(entries: dict[str, list[Entry]], now: float) -> float:
    """Answers per hour over the team in the last hour (see the module docstring)."""
    since = now - PACE_WINDOW
    # Journal times are ISO UTC ("2026-12-02T09:00:05.12Z"): older answers are skipped by
    # comparing their first 19 characters, without parsing each one.
    since_text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(since))
    count, start = 0, now
    for worker_entries in entries.values():
        for entry in worker_entries:
            if entry.kind != "a" or entry.submitted[:19] < since_text:
                continue
            submitted = _time(entry.submitted)
            if submitted is None or submitted < since:
                continue
            count += 1
            start = min(start, max(since, _time(entry.accepted) or submitted))
    span = now - start
    return count / span * 3600 if count and span > 0 else 0.0


def eta(needed: int | None, per_hour: float) -> float | None:
    """Seconds until `needed` answers at `per_hour`: 0 when none are needed, None without a pace."""
    if needed == 0:
        return 0.0
    return needed / per_hour * 3600 if needed is not None and per_hour > 0 else None


def _median(entries: list[Entry]) -> float | None:
    seconds = [float(e.seconds) for e in entries]
    return round(statistics.median(seconds), 3) if seconds else None


def _latest_kinds(entries: list[Entry]) -> dict[int, str]:
    """record -> this worker's latest kind ("a" or "d"), journal order."""
    return {e.index: e.kind for e in entries}


# -- the owner's numbers ----------------------------------------------------------------------

def job_status(root: Path, now: float | None = None) -> JobStatus:
    """The numbers of `tuilabel status JOB` (see the module docstring)."""
    now = clock() if now is None else now
    folder, spec = open_job(root)
    settings = team_settings(spec)
    entries = _entries(folder)
    pace = round(team_pace(entries, now), 1)
    lock_of = running_sessions(folder, entries)
    notes: list[str] = []
    if settings is None:
        return _solo_status(folder, spec, entries, lock_of, pace, notes)
    n = settings.workers_per_record
    store = lease_store(folder, settings, spec)
    if store is None:  # no worker has started: every record waits
        records = record_total(folder, spec, notes)
        waiting, open_by, complete, failed, leases_out, counts = records or 0, (0,) * n, 0, 0, 0, {}
    else:
        try:
            team = store.status(now)
        finally:
            store.close()
        records, waiting, open_by = team.records, team.waiting, team.open_by_answers
        complete, failed, leases_out = team.complete, team.failed, team.leases_out
        counts = {w: asdict(c) for w, c in team.workers.items()}
    workers = {}
    for worker in sorted(set(counts) | set(entries) | set(lock_of)):
        c = counts.get(worker, {})
        workers[worker] = WorkerStatus(
            answers=c.get("answers", 0), declines=c.get("declines", 0), releases=c.get("releases", 0),
            expiries=c.get("expiries", 0), leases=c.get("leases", 0),
            median_seconds=_median(entries.get(worker, [])),
            active=c.get("leases", 0) > 0 or lock_of.get(worker, False))
    needed = waiting * n + sum((n - k) * count for k, count in enumerate(open_by))
    return JobStatus(
        folder=str(folder.root.resolve()), name=spec.name, task=spec.task, team=True, workers_per_record=n,
        records=records, waiting=waiting, open_by_answers=tuple(open_by), complete=complete,
        failed=failed, leases_out=leases_out, workers=workers, answers_per_hour=pace,
        answers_needed=needed, eta_seconds=eta(needed, pace),
        notes=notes)


def _solo_status(folder: JobFolder, spec: JobSpec, entries: dict[str, list[Entry]],
                 lock_of: dict[str, bool], pace: float, notes: list[str]) -> JobStatus:
    """A solo job: the latest answer per record wins (as `export`), declined ones failed."""
    records = record_total(folder, spec, notes)
    workers = {}
    for worker in sorted(set(entries) | set(lock_of)):
        worker_entries = entries.get(worker, [])
        kinds = _latest_kinds(worker_entries)
        workers[worker] = WorkerStatus(
            answers=sum(1 for k in kinds.values() if k == "a"),
            declines=sum(1 for k in kinds.values() if k == "d"),
            median_seconds=_median(worker_entries), active=lock_of.get(worker, False))
    try:
        latest = latest_entries(folder)
    except OSError as exc:
        raise UserError(f"cannot read the journals of {folder.root}: {exc.strerror or exc}") from None
    failed = sum(1 for e in latest.values() if e.kind == "d")
    complete = len(latest) - failed
    left = None if records is None else max(0, records - len(latest))
    return JobStatus(
        folder=str(folder.root.resolve()), name=spec.name, task=spec.task, team=False, workers_per_record=1,
        records=records, waiting=0, open_by_answers=(left or 0,), complete=complete, failed=failed,
        leases_out=0, workers=workers, answers_per_hour=pace, answers_needed=left,
        eta_seconds=eta(left, pace),
        notes=notes)
