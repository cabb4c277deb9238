"""The worker's portal (`tuilabel work`): the jobs under a folder this worker may work on, and
where each stands for them. Nothing here prints.

Job folders are the folders holding `tuilabel/job.json`, the folder itself or up to two levels
below it; under an s3:// prefix, the jobs there, each brought to its local job folder
(core/team/s3_jobs.py). A team job lists only for the workers its team allows; a solo job is
open to anyone.

A job's state for one worker (GT's portal lists jobs with a status and "Start working"):
    available    records are left for me and I have not started
    in progress  records are left for me and I hold tasks, have answered some, or my session
                 of it runs
    done         nothing is left for me (I answered or declined everything I may, or the
                 other workers have given every record its answers)
    expired      nothing is left for anyone, and records failed because their availability
                 lifetime ended with no answer (GT: the tasks expired)
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from tuilabel.core.data.s3 import is_s3_uri
from tuilabel.core.errors import UserError
from tuilabel.core.gt.job import JobFolder
from tuilabel.core.store.journal import iter_journal, parse_entry
from tuilabel.core.store.lock import lock_held
from tuilabel.core.team.leases import clock
from tuilabel.core.team.status import lease_store, open_job, record_total, team_settings

DEPTH = 2
AVAILABLE, IN_PROGRESS, DONE, EXPIRED = "available", "in progress", "done", "expired"


@dataclass(frozen=True)
class JobCard:
    """One row of the portal."""

    folder: Path
    name: str
    task: str
    team: bool
    state: str  # AVAILABLE, IN_PROGRESS, DONE, EXPIRED
    left: int | None  # records left for this worker; None when the input is not here


def find_jobs(root: Path | str, depth: int = DEPTH) -> list[Path]:
    """Job folders under `root` (itself included), to `depth` levels, sorted by path; `root`
    may be an s3:// prefix (the local folders of the jobs found there)."""
    if isinstance(root, str) and is_s3_uri(root):
        from tuilabel.core.team.s3_jobs import find_s3_jobs

        return find_s3_jobs(root, depth)
    found: list[Path] = []

    def walk(folder: Path, level: int) -> None:
        if JobFolder(folder).spec_file.is_file():
            found.append(folder)
            return  # a job's own folders are not jobs
        if level == depth:
            return
        try:
            children = sorted(e.path for e in os.scandir(folder) if e.is_dir() and not e.name.startswith("."))
        except OSError:
            return  # a folder we may not read holds no job for us
        for child in children:
            walk(Path(child), level + 1)

    walk(Path(root), 0)
    return found


def job_card(root: Path, worker: str, now: float | None = None) -> JobCard | None:
    """Where the job stands for `worker`; None when its team does not include them."""
    now = clock() if now is None else now
    folder, spec = open_job(root)
    settings = team_settings(spec)
    if settings is not None and not settings.allows(worker):
        return None
    running = lock_held(folder.lock(worker))
    if settings is None:
        records = record_total(folder, spec, [])
        mine = len(_my_records(folder, worker))
        left = None if records is None else max(0, records - mine)
        started = bool(mine) or running
        expired = False
    elif is_s3_uri(spec.output):
        store = _s3_store(folder, spec, settings)
        if store is None:  # no session has opened it yet
            left, started, expired = record_total(folder, spec, []), running, False
        else:
            left = store.left_for(worker, now)
            started = running or store.has_worked(worker)
            expired = left == 0 and store.all_closed() and store.lifetime_failures() > 0
    else:
        store = lease_store(folder, settings)
        if store is None:
            left, started, expired = record_total(folder, spec, []), running, False
        else:
            try:
                left = store.left_for(worker, now)
                team = store.status(now)
                held = team.workers.get(worker)
                done = held.answers + held.declines if held else 0
                started = running or (held is not None and (held.leases > 0 or done > 0))
                expired = (left == 0 and team.waiting == 0 and not any(team.open_by_answers)
                           and store.lifetime_failures() > 0)
            finally:
                store.close()
    if expired:
        state = EXPIRED
    elif left == 0:
        state = DONE
    else:
        state = IN_PROGRESS if started else AVAILABLE
    return JobCard(folder.root, spec.name, spec.task, settings is not None, state, left)


def job_cards(folders: list[Path], worker: str) -> Iterator[tuple[Path, JobCard | None, str]]:
    """(folder, its card or None, "" or one line saying why it could not be counted) per job,
    as each is counted: a job that cannot be read is named and the others go on."""
    for folder in folders:
        try:
            yield folder, job_card(folder, worker), ""
        except UserError as exc:
            yield folder, None, str(exc)
        except (OSError, sqlite3.Error) as exc:
            yield folder, None, f"cannot read {folder}: {getattr(exc, 'strerror', None) or exc}"


def _my_records(folder: JobFolder, worker: str) -> set[int]:
    """The records this worker answered or declined (a solo job: its own journal)."""
    path = folder.journal(worker)
    try:
        return {e.index for e in map(parse_entry, iter_journal(path)) if e is not None}
    except FileNotFoundError:
        return set()
    except OSError as exc:
        raise UserError(f"cannot read {path}: {exc.strerror or exc}") from None


S3_PATIENCE = 10.0  # seconds of S3 unreachable before a count says so (a session waits longer)
_s3_stores: dict[str, object] = {}  # job prefix -> its S3LeaseStore, kept for the next count


def _s3_store(folder: JobFolder, spec, settings):
    """A team job in S3's lease store, kept open in this process: its first count reads every
    record that went out, later counts only the open ones."""
    uri = spec.output.rstrip("/") + "/" + spec.name
    store = _s3_stores.get(uri)
    if store is None or store.settings != settings:
        store = lease_store(folder, settings, spec, s3_patience=S3_PATIENCE)
        if store is not None:
            _s3_stores[uri] = store
    return store
