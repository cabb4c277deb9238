"""Who labels what on one host: leases in SQLite (WAL mode) in the job folder.

Every worker process opens the same `tuilabel/team.sqlite`; each decision is one short
`BEGIN IMMEDIATE` transaction, so racing processes see one order of events. The store holds
decisions only; a worker's answer lives in its own fsynced journal, written before `submit`.

Tables:
    records  the records that went out (rec = input line index), with their answers and
             declines counts and state (open, complete, failed). Records past `frontier`
             (in meta) have not gone out yet, so a take never touches the other 1M rows.
    leases   one row per task out: (id, rec, worker, start, expiry); unique per (rec, worker).
    done     (rec, worker) -> "answer" | "decline": the primary key is "no worker twice";
             an accepted answer keeps a copy of the worker's journal line, which the
             output writer consolidates (the journal, fsynced before submit, stays the record).
    counts   per worker: releases and expiries (answers and declines are counted from done).
    closed   (seq, rec) in the order records closed: the output writer follows it by seq;
             meta `written` is the last seq in output.manifest, `out_size` its size then.

Rules:
    - A record has at most N (workers_per_record) accepted answers, counting leases out.
    - take(worker, n) returns the worker's own live leases first ("stop and resume later"),
      then new ones, n in all; expired leases of anyone are dropped first (back to the pool).
    - Records out (open) stay at most max_concurrent; a take opens new ones lazily.
    - submit is accepted only under a live lease held by that worker; late or lost -> False
      (the task went back to the pool, as in GT; the answer stays in the worker's journal).
    - decline: the record never goes back to that worker. It fails when N workers declined
      it and nobody answered (every worker it was assigned to declined), or, with a named
      team, when every team member answered or declined and nobody answered.
    - A record complete with N answers; a named team's members all in with >= 1 answer; or
      its availability lifetime over with >= 1 answer (none: it fails).
Times are the caller's `now` (seconds since the epoch, see `clock`), recorded in the lease.
"""

from __future__ import annotations

import functools
import os
import sqlite3
import threading
import time
from contextlib import closing, contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Iterator

from tuilabel.core.errors import UserError
from tuilabel.core.store.durable import ensure_dir, explain_os_error
from tuilabel.core.team.settings import TeamSettings

OPEN, COMPLETE, FAILED = 0, 1, 2
STATE_NAMES = {OPEN: "open", COMPLETE: "complete", FAILED: "failed"}
DECLINED = "declined by every worker it went to"
LIFETIME_OVER = "no answer within the availability lifetime"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS records (
    rec INTEGER PRIMARY KEY, state INTEGER NOT NULL DEFAULT 0,
    answers INTEGER NOT NULL DEFAULT 0, declines INTEGER NOT NULL DEFAULT 0,
    opened REAL NOT NULL, reason TEXT);
CREATE INDEX IF NOT EXISTS records_open ON records (rec) WHERE state = 0;
CREATE TABLE IF NOT EXISTS leases (
    id INTEGER PRIMARY KEY AUTOINCREMENT, rec INTEGER NOT NULL, worker TEXT NOT NULL,
    start REAL NOT NULL, expiry REAL NOT NULL, UNIQUE (rec, worker));
CREATE INDEX IF NOT EXISTS leases_expiry ON leases (expiry);
CREATE INDEX IF NOT EXISTS leases_worker ON leases (worker, start);
CREATE TABLE IF NOT EXISTS done (
    rec INTEGER NOT NULL, worker TEXT NOT NULL, kind TEXT NOT NULL, at REAL NOT NULL,
    answer BLOB, PRIMARY KEY (rec, worker)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS counts (
    worker TEXT PRIMARY KEY, releases INTEGER NOT NULL DEFAULT 0,
    expiries INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS closed (seq INTEGER PRIMARY KEY AUTOINCREMENT, rec INTEGER NOT NULL);
"""


@functools.cache
def clock_skew() -> float:
    """TUILABEL_CLOCK_SKEW (seconds, read once): tests run workers with skewed clocks."""
    text = os.environ.get("TUILABEL_CLOCK_SKEW", "").strip()
    try:
        return float(text) if text else 0.0
    except ValueError:
        raise UserError(f"TUILABEL_CLOCK_SKEW must be seconds, not {text!r}") from None


def clock() -> float:
    return time.time() + clock_skew()


@dataclass(frozen=True)
class Lease:
    id: int
    record: int
    worker: str
    start: float
    expiry: float

    def remaining(self, now: float) -> float:
        return max(0.0, self.expiry - now)


@dataclass(frozen=True)
class WorkerCounts:
    answers: int = 0
    declines: int = 0
    releases: int = 0
    expiries: int = 0
    leases: int = 0  # tasks out now


@dataclass(frozen=True)
class TeamStatus:
    records: int
    waiting: int  # not gone out yet
    open_by_answers: tuple[int, ...]  # [k] = open records with k answers, k < N
    complete: int
    failed: int
    leases_out: int
    workers: dict[str, WorkerCounts]


@dataclass(frozen=True)
class RecordState:
    record: int
    state: str  # waiting, open, complete, failed
    answered_by: tuple[str, ...]
    declined_by: tuple[str, ...]
    reason: str | None = None


def accepted_decisions(path: Path) -> tuple[set[tuple[int, str]], int]:
    """Read-only, for consolidation and export: the (record, worker) answers and declines the
    store accepted (a late answer stays in its journal but does not count), and how many
    records are not closed yet (still waiting or open)."""
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=60)
    except sqlite3.Error as exc:
        raise UserError(f"cannot read the team's lease store {path}: {exc}") from None
    try:
        decisions = {(rec, worker) for rec, worker in db.execute("SELECT rec, worker FROM done")}
        count = db.execute("SELECT value FROM meta WHERE key = 'record_count'").fetchone()[0]
        closed = db.execute("SELECT count(*) FROM records WHERE state != 0").fetchone()[0]
    except sqlite3.Error as exc:
        raise UserError(f"cannot read the team's lease store {path}: {exc}") from None
    finally:
        db.close()
    return decisions, count - closed


class LeaseStore:
    """One connection per process (thread-safe: the app leases ahead from a worker thread)."""

    def __init__(self, path: Path, settings: TeamSettings, record_count: int):
        self.path = path
        self.settings = settings
        self.record_count = record_count
        self._lock = threading.RLock()
        self._depth = 0  # transactions open in this connection (batch() nests the calls in one)
        try:
            ensure_dir(path.parent)
            self._db = sqlite3.connect(path, timeout=60, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA busy_timeout = 60000")
            self._db.execute("PRAGMA journal_mode = WAL")
            # FULL: an accepted answer survives power loss, or its record could get N + 1.
            self._db.execute("PRAGMA synchronous = FULL")
            with self._write():
                for statement in _SCHEMA.split(";"):  # not executescript: it would COMMIT
                    self._db.execute(statement)
        except sqlite3.DatabaseError as exc:
            raise UserError(f"cannot open {path}: {exc}") from None
        except OSError as exc:
            raise explain_os_error(exc, path, "open") from None
        with self._write():
            self._db.execute("INSERT OR IGNORE INTO meta VALUES ('record_count', ?), ('frontier', 0), "
                             "('written', 0), ('out_size', 0)", (record_count,))
            stored = self._meta("record_count")
        if stored != record_count:
            raise UserError(f"{path} was made for {stored:,} records, but the input has "
                            f"{record_count:,}: the input changed under a team job")

    def close(self) -> None:
        self._db.close()

    @classmethod
    def existing(cls, path: Path, settings: TeamSettings) -> "LeaseStore | None":
        """The store of a started team job, opened for the owner's side (`tuilabel status`, the
        portal) without knowing its input's record count; None before the job's first take."""
        if not path.is_file():
            return None
        try:
            with closing(sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True)) as db:
                row = db.execute("SELECT value FROM meta WHERE key = 'record_count'").fetchone()
        except sqlite3.DatabaseError as exc:
            raise UserError(f"cannot open {path}: {exc}") from None
        return None if row is None else cls(path, settings, row[0])

    # -- the worker's side -------------------------------------------------------------------

    def take(self, worker: str, n: int, now: float) -> list[Lease]:
        """The worker's live leases (oldest first), topped up with new ones to n in all."""
        self._check_worker(worker)
        with self._write():
            self._sweep(now)
            # A worker that asks for tasks is there: the ones it holds get a fresh time limit
            # (leases taken ahead never run out while their worker labels).
            self._db.execute("UPDATE leases SET expiry = ? WHERE worker = ?",
                             (now + self.settings.task_time_limit, worker))
            held = [Lease(*row) for row in self._db.execute(
                "SELECT id, rec, worker, start, expiry FROM leases WHERE worker = ? "
                "ORDER BY start, rec LIMIT ?", (worker, n))]
            need = n - len(held)
            if need > 0:
                held += [self._lease(rec, worker, now) for rec in self._open_for(worker, need)]
                need = n - len(held)
            if need > 0:
                held += [self._lease(rec, worker, now) for rec in self._send_out(need, now)]
            return held

    def renew(self, lease: Lease, now: float) -> Lease | None:
        """A fresh task time limit from now, if the lease is still live; None if it is gone."""
        expiry = now + self.settings.task_time_limit
        with self._write():
            cur = self._db.execute("UPDATE leases SET expiry = ? WHERE id = ? AND worker = ? "
                                   "AND expiry > ?", (expiry, lease.id, lease.worker, now))
        return replace(lease, expiry=expiry) if cur.rowcount == 1 else None

    def release(self, lease: Lease, expired: bool = False, unused: bool = False) -> bool:
        """GT's "Release task": back to the pool now. `expired`: the worker's task timer ran
        out (counted as an expiry, not a release); `unused`: leased ahead and never shown
        (counted as nothing). False if it was not held any more."""
        with self._write():
            cur = self._db.execute("DELETE FROM leases WHERE id = ? AND worker = ?",
                                   (lease.id, lease.worker))
            if cur.rowcount and not unused:
                self._count(lease.worker, "expiries" if expired else "releases")
            return cur.rowcount == 1

    def submit(self, lease: Lease, now: float, answer: bytes = b"") -> bool:
        """Accept the worker's answer (its journal line) if its lease is still live; False if
        the task had gone back to the pool (late, released, or its record closed). Write the
        journal first."""
        with self._write():
            row = self._db.execute("SELECT expiry FROM leases WHERE id = ? AND worker = ?",
                                   (lease.id, lease.worker)).fetchone()
            if row is None:
                return False
            self._db.execute("DELETE FROM leases WHERE id = ?", (lease.id,))
            if row[0] <= now:
                self._count(lease.worker, "expiries")
                return False
            state, answers = self._db.execute("SELECT state, answers FROM records WHERE rec = ?",
                                              (lease.record,)).fetchone()
            if state != OPEN or answers >= self.settings.workers_per_record:
                return False  # take never allows it; a guard, not a path
            self._db.execute("INSERT INTO done VALUES (?, ?, 'answer', ?, ?)",
                             (lease.record, lease.worker, now, answer))
            self._db.execute("UPDATE records SET answers = answers + 1 WHERE rec = ?", (lease.record,))
            self._close_if_done(lease.record)
            return True

    def decline(self, lease: Lease, now: float) -> bool:
        """The record never goes back to this worker (even if the lease had expired: bad data
        stays bad). False if the worker had already answered or declined it."""
        with self._write():
            self._db.execute("DELETE FROM leases WHERE rec = ? AND worker = ?",
                             (lease.record, lease.worker))
            cur = self._db.execute("INSERT OR IGNORE INTO done VALUES (?, ?, 'decline', ?, NULL)",
                                   (lease.record, lease.worker, now))
            if cur.rowcount == 0:
                return False
            self._db.execute("UPDATE records SET declines = declines + 1 WHERE rec = ?", (lease.record,))
            self._close_if_done(lease.record)
            return True

    def change_answer(self, record: int, worker: str, answer: bytes) -> bool:
        """A worker relabels a record it answered: the new line counts while the record's
        output line is not written yet; False after (or if the answer was never accepted)."""
        with self._write():
            written = self._meta("written")
            cur = self._db.execute(
                "UPDATE done SET answer = ? WHERE rec = ? AND worker = ? AND kind = 'answer' "
                "AND NOT EXISTS (SELECT 1 FROM closed WHERE closed.rec = done.rec AND seq <= ?)",
                (answer, record, worker, written))
            return cur.rowcount == 1

    def answers(self, record: int) -> dict[str, bytes]:
        """The accepted answers of a record: worker -> its journal line."""
        with self._lock:
            return dict(self._db.execute("SELECT worker, answer FROM done WHERE rec = ? AND kind = 'answer' "
                                         "ORDER BY worker", (record,)))

    def answered_by(self, worker: str) -> set[int]:
        """The records whose answer by `worker` the store accepted."""
        with self._lock:
            return {rec for (rec,) in self._db.execute(
                "SELECT rec FROM done WHERE worker = ? AND kind = 'answer'", (worker,))}

    # -- the output writer -------------------------------------------------------------------

    def written(self) -> tuple[int, int]:
        """(last closed seq in output.manifest, the file's size after it)."""
        with self._lock:
            return self._meta("written"), self._meta("out_size")

    def mark_written(self, seq: int, out_size: int) -> None:
        """output.manifest holds every closed record up to `seq` (fsynced) and is `out_size`
        bytes long: a writer killed before this call has its lines cut and written again."""
        with self._write():
            self._db.execute("UPDATE meta SET value = ? WHERE key = 'written'", (seq,))
            self._db.execute("UPDATE meta SET value = ? WHERE key = 'out_size'", (out_size,))

    # -- the owner's side --------------------------------------------------------------------

    def progress(self) -> tuple[int, int]:
        """(records closed, records): cheap and read-only, for a worker's progress line."""
        with self._lock:
            closed = self._db.execute("SELECT count(*) FROM records WHERE state != 0").fetchone()[0]
        return closed, self.record_count

    def status(self, now: float) -> TeamStatus:
        n = self.settings.workers_per_record
        with self._write():  # the sweep makes expired leases and ended lifetimes count now
            self._sweep(now)
            frontier = self._meta("frontier")
            by_state = dict(self._db.execute("SELECT state, count(*) FROM records GROUP BY state"))
            open_by = [0] * n
            for answers, count in self._db.execute(
                    "SELECT answers, count(*) FROM records WHERE state = 0 GROUP BY answers"):
                open_by[min(answers, n - 1)] += count
            workers: dict[str, dict[str, int]] = {}
            for worker, kind, count in self._db.execute(
                    "SELECT worker, kind, count(*) FROM done GROUP BY worker, kind"):
                workers.setdefault(worker, {})[kind + "s"] = count
            for worker, releases, expiries in self._db.execute("SELECT * FROM counts"):
                workers.setdefault(worker, {}).update(releases=releases, expiries=expiries)
            for worker, count in self._db.execute("SELECT worker, count(*) FROM leases GROUP BY worker"):
                workers.setdefault(worker, {})["leases"] = count
            leases_out = self._db.execute("SELECT count(*) FROM leases").fetchone()[0]
        return TeamStatus(
            records=self.record_count, waiting=self.record_count - frontier,
            open_by_answers=tuple(open_by), complete=by_state.get(COMPLETE, 0),
            failed=by_state.get(FAILED, 0), leases_out=leases_out,
            workers={w: WorkerCounts(**c) for w, c in sorted(workers.items())})

    def record_state(self, record: int) -> RecordState:
        with self._lock:
            row = self._db.execute("SELECT state, reason FROM records WHERE rec = ?", (record,)).fetchone()
            done = self._db.execute("SELECT worker, kind FROM done WHERE rec = ? ORDER BY at, worker",
                                    (record,)).fetchall()
        if row is None:
            return RecordState(record, "waiting", (), ())
        return RecordState(record, STATE_NAMES[row[0]],
                           tuple(w for w, kind in done if kind == "answer"),
                           tuple(w for w, kind in done if kind == "decline"), row[1])

    def left_for(self, worker: str, now: float) -> int:
        """Records this worker may still answer: open ones that need answers and that it has
        not answered or declined (its own leases included), and those not gone out yet."""
        with self._write():
            self._sweep(now)
            open_ = self._db.execute(
                "SELECT count(*) FROM records r WHERE r.state = 0 AND r.answers < ? "
                "AND NOT EXISTS (SELECT 1 FROM done d WHERE d.rec = r.rec AND d.worker = ?)",
                (self.settings.workers_per_record, worker)).fetchone()[0]
            return open_ + self.record_count - self._meta("frontier")

    def lifetime_failures(self) -> int:
        """Records that failed because their availability lifetime ended with no answer."""
        with self._lock:
            return self._db.execute("SELECT count(*) FROM records WHERE reason = ?",
                                    (LIFETIME_OVER,)).fetchone()[0]

    def closed_since(self, seq: int = 0) -> list[tuple[int, RecordState]]:
        """Records that closed (complete or failed) after `seq`, with their seq, in order."""
        with self._lock:
            rows = self._db.execute("SELECT seq, rec FROM closed WHERE seq > ? ORDER BY seq",
                                    (seq,)).fetchall()
        return [(at, self.record_state(rec)) for at, rec in rows]

    # -- inside one transaction --------------------------------------------------------------

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Several calls in one transaction, one fsync: a worker's queued decisions (its
        answer, the next task's renewal, a take) commit together."""
        with self._write():
            yield

    @contextmanager
    def _write(self) -> Iterator[None]:
        with self._lock:
            if self._depth:  # inside batch(): its transaction
                yield
                return
            self._db.execute("BEGIN IMMEDIATE")
            self._depth += 1
            try:
                yield
            except BaseException:
                self._depth -= 1
                self._db.execute("ROLLBACK")
                raise
            self._depth -= 1
            self._db.execute("COMMIT")

    def _meta(self, key: str) -> int:
        return self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()[0]

    def _check_worker(self, worker: str) -> None:
        if not self.settings.allows(worker):
            raise UserError(f"worker {worker!r} is not in this job's team "
                            f"({', '.join(self.settings.team)})")

    def _count(self, worker: str, what: str, by: int = 1) -> None:
        self._db.execute(f"INSERT INTO counts (worker, {what}) VALUES (?, ?) ON CONFLICT (worker) "
                         f"DO UPDATE SET {what} = {what} + excluded.{what}", (worker, by))

    def _sweep(self, now: float) -> None:
        """Expired leases go back to the pool; records whose lifetime ended close."""
        for worker, count in self._db.execute(
                "SELECT worker, count(*) FROM leases WHERE expiry <= ? GROUP BY worker", (now,)).fetchall():
            self._count(worker, "expiries", count)
        self._db.execute("DELETE FROM leases WHERE expiry <= ?", (now,))
        lifetime = self.settings.availability_lifetime
        self._db.execute("INSERT INTO closed (rec) SELECT rec FROM records "
                         "WHERE state = 0 AND opened + ? <= ? ORDER BY rec", (lifetime, now))
        ended = self._db.execute(
            "UPDATE records SET state = CASE WHEN answers > 0 THEN 1 ELSE 2 END, "
            "reason = CASE WHEN answers > 0 THEN NULL ELSE ? END "
            "WHERE state = 0 AND opened + ? <= ?",
            (LIFETIME_OVER, lifetime, now))
        if ended.rowcount:
            self._db.execute("DELETE FROM leases WHERE rec NOT IN "
                             "(SELECT rec FROM records WHERE state = 0)")

    def _open_for(self, worker: str, need: int) -> list[int]:
        """Open records with room for one more worker that this worker has not seen."""
        return [rec for (rec,) in self._db.execute(
            "SELECT r.rec FROM records r WHERE r.state = 0 "
            "AND r.answers + (SELECT count(*) FROM leases l WHERE l.rec = r.rec) < ? "
            "AND NOT EXISTS (SELECT 1 FROM done d WHERE d.rec = r.rec AND d.worker = ?) "
            "AND NOT EXISTS (SELECT 1 FROM leases l WHERE l.rec = r.rec AND l.worker = ?) "
            "ORDER BY r.rec LIMIT ?", (self.settings.workers_per_record, worker, worker, need))]

    def _send_out(self, need: int, now: float) -> list[int]:
        """Open the next records from the frontier, keeping at most max_concurrent open."""
        frontier = self._meta("frontier")
        out = self._db.execute("SELECT count(*) FROM records WHERE state = 0").fetchone()[0]
        count = max(0, min(need, self.settings.max_concurrent - out, self.record_count - frontier))
        records = list(range(frontier, frontier + count))
        self._db.executemany("INSERT INTO records (rec, opened) VALUES (?, ?)", [(r, now) for r in records])
        self._db.execute("UPDATE meta SET value = ? WHERE key = 'frontier'", (frontier + count,))
        return records

    def _lease(self, record: int, worker: str, now: float) -> Lease:
        expiry = now + self.settings.task_time_limit
        cur = self._db.execute("INSERT INTO leases (rec, worker, start, expiry) VALUES (?, ?, ?, ?)",
                               (record, worker, now, expiry))
        return Lease(cur.lastrowid or 0, record, worker, now, expiry)

    def _close_if_done(self, record: int) -> None:
        n = self.settings.workers_per_record
        team = len(self.settings.team) or None
        answers, declines = self._db.execute("SELECT answers, declines FROM records WHERE rec = ?",
                                             (record,)).fetchone()
        everyone_in = team is not None and answers + declines >= team
        if answers >= n or (everyone_in and answers):
            state, reason = COMPLETE, None
        elif answers == 0 and (declines >= n or everyone_in):
            state, reason = FAILED, DECLINED
        else:
            return
        cur = self._db.execute("UPDATE records SET state = ?, reason = ? WHERE rec = ? AND state = 0",
                               (state, reason, record))
        if cur.rowcount:
            self._db.execute("INSERT INTO closed (rec) VALUES (?)", (record,))
            self._db.execute("DELETE FROM leases WHERE rec = ?", (record,))
