"""One worker's tasks in a team job: leases taken ahead, and the worker's decisions sent to
the lease store, all by one background thread, so a key never waits on coordination.

The session asks `next()` for the record to show. Leases are taken a small block ahead
(`AHEAD`), so `next()` waits only for the very first task, or when the store had nothing.
Answers, declines and releases are queued and sent in order by the same thread that takes
leases, so a take never hands back a task this worker just finished. What is queued when
the thread wakes (an answer, the next task's renewal, a take) goes to the store in one
`batch()`: on one host that is one SQLite transaction, one fsync.

The shown task is renewed when it is shown, so its time limit runs from then; a take gives
the tasks this worker holds a fresh limit too (queued tasks do not run out while their worker
labels; a crashed worker's do, and go back to the pool).

What the store says later (an answer that came after the time limit, a task that had gone
back to the pool) reaches the session as one-line `events`.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Callable, Protocol

from tuilabel.core.errors import UserError
from tuilabel.core.team.leases import Lease, clock

AHEAD = 3  # tasks leased ahead of the shown one
PROGRESS_EVERY = 5.0  # seconds between reads of the team's progress (records closed)
IDLE_WAIT = 1.0  # the thread's longest sleep: others' closed records are written this often
RETRY_FIRST = 0.5  # a store error (S3 offline) is retried after this, doubling up to RETRY_MAX
RETRY_MAX = 15.0
HEARTBEAT_EVERY = 15.0  # seconds between renewals of this process's claim on the worker id (S3)


class LeaseBackend(Protocol):
    """What a lease store offers (team/leases.py on one host; team/s3_leases.py across machines)."""

    def batch(self) -> AbstractContextManager: ...
    def take(self, worker: str, n: int, now: float) -> list[Lease]: ...
    def renew(self, lease: Lease, now: float) -> Lease | None: ...
    def release(self, lease: Lease, expired: bool = False, unused: bool = False) -> bool: ...
    def submit(self, lease: Lease, now: float, answer: bytes = b"") -> bool: ...
    def decline(self, lease: Lease, now: float) -> bool: ...
    def change_answer(self, record: int, worker: str, answer: bytes) -> bool: ...
    def progress(self) -> tuple[int, int]: ...


@dataclass(frozen=True)
class _Op:
    kind: str  # "submit", "decline", "release", "expire", "change", "renew"
    lease: Lease
    answer: bytes = b""


class Assignment:
    def __init__(self, store: LeaseBackend, worker: str, task_time_limit: float,
                 after_ops: Callable[[bool], None] | None = None, now: Callable[[], float] = clock,
                 events: list[str] | None = None, heartbeat: Callable[[float], None] | None = None):
        self.store = store
        self.worker = worker
        self.limit = task_time_limit
        self.now = now
        # Called by the thread after each round (True: a decision may have closed a record):
        # the session's output writer follows the closed records.
        self.after_ops = after_ops
        self.events: list[str] = [] if events is None else events  # one line each, for the worker
        self.progress: tuple[int, int] | None = None  # (records closed, records), every few seconds
        self.offline: str | None = None  # the store's last error while it lasts (S3 unreachable)
        self._ready: deque[Lease] = deque()  # leased ahead, not shown yet
        self._shown: Lease | None = None
        self._finished: set[int] = set()  # lease ids answered, declined, released or expired here
        self._ops: list[_Op] = []
        self._cond = threading.Condition()
        self._empty = False  # the last take found nothing more for this worker
        # The last take got fewer tasks than it asked for: the store has no more for now, so
        # the thread asks again only after IDLE_WAIT (or a decision), not in a loop.
        self._short = False
        self._wanted = False  # next() is waiting for a take
        self._takes = 0  # takes completed: next() trusts "nothing left" only from one after it asked
        self._paused = False  # next() said "nothing left": no taking ahead until it asks again
        self._taking = False  # a take is on its way (next() waits for it before saying "nothing")
        self._stop = False
        self._progress_at = 0.0
        # Across machines the store holds this process's claim on the worker id, which goes
        # stale unless renewed: a worker thinking over one task for minutes keeps it.
        self.heartbeat = heartbeat
        self._beat_at = time.monotonic()
        self._thread = threading.Thread(target=self._run, name="team-assignment", daemon=True)
        self._thread.start()

    # -- the session's side (main thread) --------------------------------------------------------

    def next(self, timeout: float = 60.0) -> Lease | None:
        """The next task to show, its time limit running from now; None when the store has
        nothing for this worker (every record done, or out with other workers)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            self._shown = None
            self._paused = False
            asked = self._takes
            while True:
                if self._ready:
                    lease = self._ready.popleft()
                    now = self.now()
                    self._shown = Lease(lease.id, lease.record, lease.worker, now, now + self.limit)
                    self._ops.append(_Op("renew", self._shown))
                    self._cond.notify_all()
                    return self._shown
                if self._empty and self._takes > asked and not self._ops and not self._taking:
                    # A take after the worker asked, with every decision before it sent, found
                    # nothing: stop taking ahead, or leases would be held for nobody.
                    self._paused = True
                    return None
                left = deadline - time.monotonic()
                if left <= 0:
                    raise UserError(f"no task from the team's lease store in {timeout:g} s"
                                    + (f": {self.offline}" if self.offline else ""))
                self._wanted = True
                self._cond.notify_all()
                self._cond.wait(min(left, IDLE_WAIT))

    def answered(self, lease: Lease, line: bytes) -> None:
        self._send(_Op("submit", lease, line))

    def declined(self, lease: Lease) -> None:
        self._send(_Op("decline", lease))

    def released(self, lease: Lease) -> None:
        self._send(_Op("release", lease))

    def expired(self, lease: Lease) -> None:
        """The shown task ran out of time: back to the pool now, counted as an expiry."""
        self._send(_Op("expire", lease))

    def changed(self, record: int, line: bytes) -> None:
        """A relabel of an answer the store accepted earlier."""
        self._send(_Op("change", Lease(0, record, self.worker, 0.0, 0.0), line))

    def put_back(self, lease: Lease) -> None:
        """Skip: the task is shown again after the ones leased ahead."""
        with self._cond:
            self._ready.append(lease)
            self._shown = None

    def upcoming(self) -> list[int]:
        with self._cond:
            return [lease.record for lease in self._ready]

    def close(self, timeout: float = 30.0) -> None:
        """Send every decision still queued, then stop. Leases still held stay held until
        they expire: "stop and resume later" gets them back first."""
        with self._cond:
            self._stop = True
            self._cond.notify_all()
        self._thread.join(timeout)

    def _send(self, op: _Op) -> None:
        with self._cond:
            self._finished.add(op.lease.id)
            if self._shown is not None and self._shown.id == op.lease.id:
                self._shown = None
            self._ops.append(op)
            self._cond.notify_all()

    # -- the thread --------------------------------------------------------------------------

    def _run(self) -> None:
        delay = RETRY_FIRST
        ops: list[_Op] = []  # taken from the queue, not yet committed
        while True:
            with self._cond:
                ops += self._ops
                self._ops = []
                stopping = self._stop
                want = not stopping and (self._wanted or (not self._paused and len(self._ready) < AHEAD))
                self._taking = want
            try:
                with self.store.batch():
                    notes, closed = self._apply(ops)
                    taken = self._take() if want else None
            except Exception as exc:  # the store is unreachable (S3 offline) or busy: retry
                with self._cond:
                    self._taking = False
                self.offline = " ".join(str(exc).split()) or type(exc).__name__
                if stopping and delay >= RETRY_MAX:
                    self.events.append(f"could not reach the lease store ({self.offline}); {len(ops)} "
                                       "decision(s) stay in your journal and are sent at your next start")
                    return
                time.sleep(delay)
                delay = min(delay * 2, RETRY_MAX)
                continue
            delay, ops, self.offline = RETRY_FIRST, [], None
            self.events.extend(notes)
            if taken is not None:
                self._add(*taken)
            elif want:
                with self._cond:
                    self._taking = False
            try:
                if self.heartbeat is not None and time.monotonic() - self._beat_at >= HEARTBEAT_EVERY:
                    self._beat_at = time.monotonic()
                    self.heartbeat(self.now())
                if time.monotonic() - self._progress_at >= PROGRESS_EVERY or stopping:
                    self._progress_at = time.monotonic()
                    self.progress = self.store.progress()
            except Exception as exc:  # noqa: BLE001 - tried again next time
                self.offline = " ".join(str(exc).split()) or type(exc).__name__
            if self.after_ops is not None:
                self.after_ops(closed)
            with self._cond:
                if stopping and not self._ops:
                    unused, self._ready = list(self._ready), deque()
                    break
                idle = not self._ops and not self._wanted and (
                    len(self._ready) >= AHEAD or self._empty or self._short or self._paused)
                if idle and not self._stop:
                    self._cond.wait(IDLE_WAIT)

        # Tasks leased ahead and never shown go back to the pool for others now ("stop and
        # resume later" keeps the shown one, whose time limit runs on).
        try:
            with self.store.batch():
                for lease in unused:
                    self.store.release(lease, unused=True)
        except Exception:  # noqa: BLE001 - unreachable: they expire by themselves
            pass

    def _apply(self, ops: list[_Op]) -> tuple[list[str], bool]:
        """Send decisions in order: (notes for the worker, True if a record may have closed)."""
        notes: list[str] = []
        closed = False
        for op in ops:
            now, lease = self.now(), op.lease
            if op.kind == "submit":
                if not self.store.submit(lease, now, op.answer):
                    notes.append(f"record {lease.record + 1}: your answer came after the task had gone back "
                                 "to the pool (time limit or release); it stays in your journal but does not count")
                closed = True
            elif op.kind == "decline":
                self.store.decline(lease, now)
                closed = True
            elif op.kind in ("release", "expire"):
                self.store.release(lease, expired=op.kind == "expire")
            elif op.kind == "change":
                if not self.store.change_answer(lease.record, lease.worker, op.answer):
                    notes.append(f"record {lease.record + 1}: its output line is already written; your change "
                                 "is in your journal and counts when the job is consolidated again")
            elif op.kind == "renew":
                with self._cond:
                    still_shown = self._shown is not None and self._shown.id == lease.id
                if still_shown and self.store.renew(lease, now) is None:
                    notes.append(f"record {lease.record + 1}: its task had gone back to the pool")
        return notes, closed

    def _take(self) -> tuple[list[Lease], int]:
        """(the leases the store gave, how many were asked for)."""
        with self._cond:
            held = len(self._ready) + (self._shown is not None)
        return self.store.take(self.worker, held + AHEAD, self.now()), held + AHEAD

    def _add(self, got: list[Lease], asked: int) -> None:
        with self._cond:
            known = {lease.id for lease in self._ready} | self._finished
            if self._shown is not None:
                known.add(self._shown.id)
            self._ready.extend(lease for lease in got if lease.id not in known)
            self._empty = not self._ready
            self._short = len(got) < asked
            self._takes += 1
            self._wanted = self._taking = False
            self._cond.notify_all()
