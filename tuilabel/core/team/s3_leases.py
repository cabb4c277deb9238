"""Who labels what across machines: the same leases as `LeaseStore`, kept in S3 itself.

The job lives under an s3:// prefix; workers on different machines share it with nothing but
S3's conditional writes. Every shared object changes only by compare-and-swap:
`put_object(IfNoneMatch="*")` creates it, `put_object(IfMatch=<etag>)` replaces it; on 412
(or 409) the writer reads it again and re-decides. A worker's answers go only to objects no
other worker writes. Objects, under `<prefix>/tuilabel/team/`:

    job.json                      settings and record count, created once (then checked)
    frontier.json                 {"frontier": F, "v": n}: records 0..F-1 have gone out
    records/<rec:09d>.json        one record's whole state (below), CAS only
    closed/<seq:012d>             {"rec": r}: the closed log, created with IfNoneMatch
    answers/<rec:09d>/<worker>/<token>   a worker's answer payload, written only by that worker
    workers/<worker>.json         the worker's claim: process, host, heartbeat (CAS only)
    output.json                   {"written": seq, "out_size": bytes}: where output.manifest is

A record object holds everything its rules need, so each decision is one CAS on one object:
    {"v": n, "opened": t, "state": "open"|"complete"|"failed", "reason": …, "closed_at": t,
     "seq": s,
     "leases":   {worker: {"id", "start", "expiry", "s_expiry"}},
     "answers":  {worker: {"at", "lease", "key"}},  "declines": {worker: {"at", "lease", "token"}},
     "releases": {worker: k}, "expiries": {worker: k}}
"v" rises with every write: S3's ETag is the body's MD5, so a body that came back to an
earlier value would let a stale If-Match through.

Rules (as in LeaseStore; see its docstring) and how each holds here:
    - At most N answers, counting leases out: a lease is added only when answers + leases < N,
      in the same CAS that drops the expired ones.
    - No worker twice: answers and declines are keyed by worker inside the record.
    - Closing (N answers, every team member in, N declines, lifetime over) happens in the CAS
      that causes it; the closer then appends `closed/<seq>` (a loser of the race tries the
      next seq) and writes the seq into the record. The record's seq decides: a log entry
      whose record names another seq is a dud (skipped); one whose record names none is
      adopted by its reader. A closer killed before logging: whoever next reads that record
      (a worker's check, `status`) logs it.
    - take costs O(1) requests per task: a worker keeps its own view of the open records
      (read once, in parallel, at its first take) and visits each one only when it may have
      room for it: at once if never seen, after the earliest lease in it can expire if it was
      full, at the end of its lifetime if this worker is done with it. A released task is
      seen by busy workers at that time and by idle ones (nothing to take) at once (their
      refresh, at most once a second). New records come from one CAS on frontier.json,
      at least 16 at a time; each worker visits them in its own order within blocks of 64.
    - max_concurrent: records out = frontier - closed log length (a slight overcount while
      a close is being logged, so never more than max_concurrent out).

Time and clock skew. Lease times are recorded by the taker: "start"/"expiry" in its own
clock (its Lease object, its timer) and "s_expiry", the same expiry in S3's clock. Each
store estimates its offset to S3's clock from the Date header of S3's answers (the largest
of the last 64 samples of Date - clock(): Date is whole seconds, so each sample is at most
the true offset). Expiry is then judged in S3's clock by everyone: the holder may submit
while now + offset < s_expiry; anyone else drops the lease only at
now + offset >= s_expiry + TAKEOVER_MARGIN (2 s, for Date's 1 s resolution and latency).
So two machines whose clocks differ by minutes still agree on a lease's end within the
margin, and a decision is still one CAS, so a wrong clock can delay a takeover or refuse a
late submit, never break a rule.

S3 unreachable: every call retries (with `on_wait` told, about once every 5 s) for up to
`patience` seconds, then raises S3Error. A PUT whose answer was lost is recognised on the
retry's 412 (the call's own random token is in the object), so nothing is applied twice.
"""

from __future__ import annotations

import os
import secrets
import socket
import sys
import threading
import time
import zlib
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from email.utils import parsedate_to_datetime
from typing import Any, Callable, Iterator
from urllib.parse import quote

import orjson

from tuilabel.core.data.s3 import S3Error, _translate, client, get_bytes, parse_s3_uri
from tuilabel.core.errors import UserError
from tuilabel.core.team.leases import (DECLINED, LIFETIME_OVER, Lease, RecordState, TeamStatus,
                                       WorkerCounts, clock)
from tuilabel.core.team.settings import TeamSettings

TAKEOVER_MARGIN = 2.0  # seconds past a lease's expiry before another worker may take it
CLOSE_LOG_GRACE = 10.0  # a record closed this long ago with no seq: its closer died; log it
WORKER_TTL = 60.0  # a worker claim not renewed for this long may be taken by a new process
REFRESH_EVERY = 1.0  # seconds between an idle worker's re-reads of full records
PATIENCE = 300.0  # real seconds of S3 being unreachable before a call gives up
SCAN_THREADS = 16
OPEN_BLOCK = 16  # records sent out per frontier CAS at least: workers race for it less often
OPEN, COMPLETE, FAILED = "open", "complete", "failed"


class _Read:
    """A body already read (see S3LeaseStore._s3)."""

    def __init__(self, data: bytes):
        self.data = data

    def read(self) -> bytes:
        return self.data


def _broken_stream(exc: BaseException) -> bool:
    """The connection broke while a response body was read (S3 went away mid-answer)."""
    from botocore.exceptions import ResponseStreamingError

    return isinstance(exc, ResponseStreamingError) or type(exc).__name__ in ("IncompleteRead", "ProtocolError")


class _Conflict(Exception):
    """412/409: the object changed (or exists) since we read it. `retried`: the request was
    sent more than once, so the write that got in first may have been our own."""

    def __init__(self, retried: bool) -> None:
        super().__init__()
        self.retried = retried


@dataclass
class _View:
    """One worker's picture of the open records, in this process."""
    held: dict[int, Lease] = field(default_factory=dict)
    check_at: dict[int, float] = field(default_factory=dict)  # S3 time worth a look again
    done: set[int] = field(default_factory=set)  # answered or declined
    refreshed: float = float("-inf")  # the caller's clock


def _key_part(worker: str) -> str:
    return quote(worker, safe="")


class S3LeaseStore:
    """One store per process; thread-safe (the app leases ahead from a worker thread).

    `uri` is the job's s3:// prefix; objects go under `<uri>/tuilabel/team/`. `on_wait`
    hears one-line messages while S3 is unreachable (default: stderr)."""

    def __init__(self, uri: str, settings: TeamSettings, record_count: int, *,
                 on_wait: Callable[[str], None] | None = None, patience: float = PATIENCE,
                 worker_ttl: float = WORKER_TTL):
        self.uri = uri.rstrip("/")
        self.settings = settings
        self.record_count = record_count
        self.patience = patience
        self.worker_ttl = worker_ttl
        self._bucket, prefix = parse_s3_uri(self.uri + "/")
        self._root = f"{prefix}tuilabel/team/"
        self._on_wait = on_wait or (lambda message: print(message, file=sys.stderr, flush=True))
        self._client = client()
        self._lock = threading.RLock()
        self._offsets: deque[float] = deque(maxlen=64)
        self._last_wait_note = float("-inf")
        self._cache: dict[int, tuple[str | None, dict | None]] = {}  # rec -> (etag, body)
        self._open: set[int] = set()  # records out and not seen closed
        self._frontier = 0
        self._scanned = False
        self._log_seq = 0  # the highest closed-log seq known to exist
        self._views: dict[str, _View] = {}
        self._claims: dict[str, tuple[str, dict]] = {}  # worker -> (etag, body) we hold
        self._closed_states: dict[int, tuple[int, RecordState] | None] = {}  # seq -> entry
        self._closed_bodies: dict[int, dict] = {}  # seq -> the closed record
        self._written: dict | None = None  # output.json as last read
        self._settle_job()

    @classmethod
    def existing(cls, uri: str, settings: TeamSettings, **options: Any) -> "S3LeaseStore | None":
        """The store of a started team job, opened for the owner's side and the portal with
        the record count its first opener recorded; None before the job's first session."""
        try:
            job = orjson.loads(get_bytes(uri.rstrip("/") + "/tuilabel/team/job.json"))
        except S3Error as exc:
            if exc.kind == "not-found":
                return None
            raise
        return cls(uri, settings, job["record_count"], **options)

    def close(self) -> None:
        """Gives up this process's worker claims (their leases stay: stop and resume later)."""
        with self._lock:
            for worker in list(self._claims):
                try:
                    self._write_claim(worker, beat=0.0)
                except UserError:
                    pass  # taken over already, or S3 gone: the claim goes stale by itself
            self._claims.clear()

    # -- worker identity ---------------------------------------------------------------------

    def claim_worker(self, worker: str, now: float) -> None:
        """This process becomes `worker` on this job; UserError (one line) while another
        process holds the id and renewed it within `worker_ttl`."""
        self._check_worker(worker)
        key = f"{self._root}workers/{_key_part(worker)}.json"
        token = secrets.token_hex(8)
        with self._lock:
            while True:
                s = self._s3_now(now)
                etag, body = self._get_json(key)
                if body is not None and body.get("token") not in (None, token) and \
                        s - body["beat"] < self.worker_ttl:
                    raise UserError(
                        f"worker {worker!r} is already working on this job (pid {body['pid']} "
                        f"on {body['host']}, seen {max(0, s - body['beat']):.0f} s ago); a "
                        f"second process cannot use the same worker id")
                new = {"v": (body or {}).get("v", -1) + 1, "token": token, "pid": os.getpid(),
                       "host": socket.gethostname(), "beat": s}
                try:
                    self._claims[worker] = (self._put_json(key, new, etag), new)
                    return
                except _Conflict:
                    continue

    def renew_worker(self, worker: str, now: float) -> None:
        """The claim's heartbeat (take does it when due). UserError if another process took
        the id over (this one was silent for longer than worker_ttl)."""
        with self._lock:
            self._write_claim(worker, beat=self._s3_now(now))

    def _keep_claim(self, worker: str, now: float) -> None:
        held = self._claims.get(worker)
        if held is not None and self._s3_now(now) - held[1]["beat"] >= self.worker_ttl / 3:
            self._write_claim(worker, beat=self._s3_now(now))

    def _write_claim(self, worker: str, beat: float) -> None:
        etag, body = self._claims[worker]
        key = f"{self._root}workers/{_key_part(worker)}.json"
        new = {**body, "v": body["v"] + 1, "beat": beat}
        try:
            self._claims[worker] = (self._put_json(key, new, etag), new)
            return
        except _Conflict:
            pass
        etag, now_body = self._get_json(key)
        if now_body is None or now_body.get("token") != body["token"]:
            self._claims.pop(worker, None)
            raise UserError(f"worker {worker!r} was taken over by another process (pid "
                            f"{(now_body or {}).get('pid', '?')}) while this one was silent")
        self._claims[worker] = (etag, now_body)  # our own write landed, its answer was lost
        self._write_claim(worker, beat)

    # -- the worker's side -------------------------------------------------------------------

    def take(self, worker: str, n: int, now: float) -> list[Lease]:
        """The worker's live leases (oldest first), topped up with new ones to n in all."""
        self._check_worker(worker)
        with self._lock:
            self._keep_claim(worker, now)
            view = self._view(worker)
            for rec, lease in list(view.held.items()):
                if lease.expiry <= now or rec not in self._open:
                    del view.held[rec]
                    view.check_at.pop(rec, None)
            held = sorted(view.held.values(), key=lambda l: (l.start, l.record))[:n]
            # A worker that asks for tasks is there: a lease it holds gets a fresh time limit
            # once half of it is used (not at every take: each renewal is a write).
            limit = self.settings.task_time_limit
            held = [lease if lease.expiry - now > limit / 2 else self.renew(lease, now)
                    for lease in held]
            held = [lease for lease in held if lease is not None]
            new = self._join(worker, view, n - len(held), now, everything=False)
            if len(held) + len(new) < n:
                new += self._send_out(worker, view, n - len(held) - len(new), now)
            if not held and not new:
                # Nothing by the schedule: look at every open record now (released tasks,
                # leases that ran out, a record a finished worker's lease left with room), so
                # an empty answer means "nothing for you": the app ends on it.
                view.refreshed = now
                new += self._join(worker, view, n, now, everything=True)
            return held + sorted(new, key=lambda lease: lease.record)

    def renew(self, lease: Lease, now: float) -> Lease | None:
        """A fresh task time limit from now, if the lease is still live; None if it is gone."""
        limit = self.settings.task_time_limit

        def mutate(body: dict | None, s: float):
            entry = (body or {}).get("leases", {}).get(lease.worker)
            if body is None or entry is None or entry["id"] != lease.id or s >= entry["s_expiry"]:
                return None, None
            entry.update(expiry=now + limit, s_expiry=s + limit)
            return body, replace(lease, expiry=now + limit)

        with self._lock:
            renewed = self._update(lease.record, mutate, now)
            view = self._view(lease.worker)
            if renewed is None:
                view.held.pop(lease.record, None)
            else:
                view.held[lease.record] = renewed
            return renewed

    def release(self, lease: Lease, expired: bool = False, unused: bool = False) -> bool:
        """GT's "Release task": back to the pool now. `expired`: the worker's task timer ran
        out (counted as an expiry, not a release); `unused`: leased ahead and never shown
        (counted as nothing). False if it was not held any more."""

        def mutate(body: dict | None, s: float):
            entry = (body or {}).get("leases", {}).get(lease.worker)
            if body is None or entry is None or entry["id"] != lease.id:
                return None, False
            del body["leases"][lease.worker]
            if not unused:
                _bump(body, "expiries" if expired else "releases", lease.worker)
            return body, True

        with self._lock:
            self._view(lease.worker).held.pop(lease.record, None)
            return self._update(lease.record, mutate, clock())

    def submit(self, lease: Lease, now: float, answer: bytes = b"") -> bool:
        """Accept the worker's answer if its lease is still live; False if the task had gone
        back to the pool (late, released, or its record closed). The payload is written to
        the worker's own object first, so a refused or lost answer is still there."""
        token = secrets.token_hex(8)  # this call's: tells our own lost-answer write apart
        key = self._answer_key(lease.record, lease.worker, token)
        n = self.settings.workers_per_record

        def mutate(body: dict | None, s: float):
            if body is None:
                return None, False
            if body["answers"].get(lease.worker, {}).get("key") == token:
                return None, True  # our own write, whose answer was lost on the way back
            entry = body["leases"].get(lease.worker)
            if entry is None or entry["id"] != lease.id:
                return None, False
            del body["leases"][lease.worker]
            if s >= entry["s_expiry"]:
                _bump(body, "expiries", lease.worker)
                return body, False
            if body["state"] != OPEN or len(body["answers"]) >= n:
                return body, False  # take never allows it; a guard, not a path
            body["answers"][lease.worker] = {"at": s, "lease": lease.id, "key": token}
            self._close_if_done(body, s)
            return body, True

        with self._lock:
            self._s3("put_object", Bucket=self._bucket, Key=key, Body=answer)
            view = self._view(lease.worker)
            view.held.pop(lease.record, None)
            accepted = self._update(lease.record, mutate, now)
            if accepted:
                view.done.add(lease.record)
            return accepted

    def decline(self, lease: Lease, now: float) -> bool:
        """The record never goes back to this worker (even if the lease had expired: bad data
        stays bad). False if the worker had already answered or declined it."""
        token = secrets.token_hex(8)

        def mutate(body: dict | None, s: float):
            if body is None:
                return None, False
            if body["declines"].get(lease.worker, {}).get("token") == token:
                return None, True  # our own write, whose answer was lost on the way back
            had_lease = body["leases"].pop(lease.worker, None) is not None
            if lease.worker in body["answers"] or lease.worker in body["declines"]:
                return (body if had_lease else None), False
            body["declines"][lease.worker] = {"at": s, "lease": lease.id, "token": token}
            if body["state"] == OPEN:
                self._close_if_done(body, s)
            return body, True

        with self._lock:
            view = self._view(lease.worker)
            view.held.pop(lease.record, None)
            view.done.add(lease.record)
            return self._update(lease.record, mutate, now)

    def answers(self, record: int) -> dict[str, bytes]:
        """The accepted answers of a record: worker -> its journal line (its latest change)."""
        with self._lock:
            etag, body = self._read_record(record)
            if body is None:
                return {}
            return {worker: self._get_bytes(self._answer_key(record, worker, entry["key"]))
                    for worker, entry in sorted(body["answers"].items())}

    def change_answer(self, record: int, worker: str, answer: bytes) -> bool:
        """A worker relabels a record it answered: the new line counts while the record's
        output line is not written yet; False after (or if the answer was never accepted).
        The new line goes to a new object of the worker's: none is ever overwritten."""
        token = secrets.token_hex(8)
        key = self._answer_key(record, worker, token)

        def mutate(body: dict | None, s: float):
            entry = (body or {}).get("answers", {}).get(worker)
            if body is None or entry is None or self._is_written(body):
                return None, False
            entry["key"] = token
            return body, True

        with self._lock:
            self._written = None
            etag, body = self._read_record(record)
            if body is None or worker not in body["answers"] or self._is_written(body):
                return False
            self._s3("put_object", Bucket=self._bucket, Key=key, Body=answer)
            return self._update(record, mutate, clock())

    def answered_by(self, worker: str) -> set[int]:
        """The records whose answer by `worker` the store accepted (reads every record that
        went out, in parallel: for a worker's start, not for every key)."""
        with self._lock:
            self._refresh_frontier()
            recs = range(self._frontier)
            with ThreadPoolExecutor(SCAN_THREADS) as pool:
                found = list(pool.map(lambda rec: self._get_json(self._record_key(rec))[1], recs))
        return {rec for rec, body in zip(recs, found) if body and worker in body["answers"]}

    # -- the output writer -------------------------------------------------------------------

    def written(self) -> tuple[int, int]:
        """(last closed seq in output.manifest, the file's size after it)."""
        with self._lock:
            etag, body = self._get_json(f"{self._root}output.json")
            self._written = body or {"written": 0, "out_size": 0}
            return self._written["written"], self._written["out_size"]

    def mark_written(self, seq: int, out_size: int) -> None:
        """output.manifest holds every closed record up to `seq` (fsynced) and is `out_size`
        bytes long: a writer killed before this call has its lines cut and written again."""
        key = f"{self._root}output.json"
        with self._lock:
            while True:
                etag, body = self._get_json(key)
                new = {"v": (body or {}).get("v", -1) + 1, "written": seq, "out_size": out_size}
                try:
                    self._put_json(key, new, etag)
                    self._written = new
                    return
                except _Conflict:
                    continue

    def _is_written(self, body: dict) -> bool:
        if self._written is None:
            self.written()
        return body["seq"] is not None and body["seq"] <= self._written["written"]

    @contextmanager
    def batch(self) -> Iterator[None]:
        """LeaseStore's batch, for the same caller: S3 has no transactions, so the calls
        inside are each their own CAS; this only keeps other threads out between them."""
        with self._lock:
            yield

    # -- the owner's side --------------------------------------------------------------------

    def progress(self) -> tuple[int, int]:
        """(records closed, records): one LIST per 1,000 closes since the last call."""
        with self._lock:
            self._catch_up_log()
            return self._log_seq, self.record_count

    def status(self, now: float) -> TeamStatus:
        """Reads every record still open (and each newly closed one once), sweeping them as
        take would: expired leases go back, ended lifetimes close."""
        n = self.settings.workers_per_record
        with self._lock:
            self._scan()
            self._refresh_frontier()
            for rec in sorted(self._open):
                self._update(rec, lambda body, s: (body, None) if body is not None and _sweep(
                    body, s, self.settings) else (None, None), now)
            self.closed_since(0)  # caches every closed record's final state
            workers: dict[str, dict[str, int]] = {}
            open_by = [0] * n
            complete = failed = leases_out = 0
            for rec in self._open:
                body = self._cache.get(rec, (None, None))[1]
                if body is None:  # sent out, its object not written yet: open, no answers
                    open_by[0] += 1
                    continue
                open_by[min(len(body["answers"]), n - 1)] += 1
                leases_out += len(body["leases"])
                _count_workers(workers, body)
            for body in self._closed_bodies.values():
                complete += body["state"] == COMPLETE
                failed += body["state"] == FAILED
                _count_workers(workers, body)
        return TeamStatus(
            records=self.record_count, waiting=self.record_count - self._frontier,
            open_by_answers=tuple(open_by), complete=complete, failed=failed,
            leases_out=leases_out,
            workers={w: WorkerCounts(**c) for w, c in sorted(workers.items())})

    def left_for(self, worker: str, now: float) -> int:
        """Records this worker may still answer (as LeaseStore.left_for): those not gone out,
        and open ones with fewer than N answers that it has not answered or declined. Reads
        every open record (the first call: every record that went out), and writes nothing
        but a close its closer did not live to log."""
        n, lifetime = self.settings.workers_per_record, self.settings.availability_lifetime
        with self._lock:
            scanned = self._scanned
            self._scan()
            self._refresh_frontier()
            s = self._s3_now(now)
            recs = sorted(self._open)
            if scanned:  # the cached copies may be old: read them again
                with ThreadPoolExecutor(SCAN_THREADS) as pool:
                    for rec, (etag, body) in zip(recs, pool.map(lambda r: self._get_json(self._record_key(r)), recs)):
                        self._remember(rec, etag, body, s)
            left = self.record_count - self._frontier
            for rec in recs:
                if rec not in self._open:
                    continue  # closed
                body = self._cache.get(rec, (None, None))[1]
                if body is None:  # sent out, its object not written yet: nobody has it
                    left += 1
                elif (body["opened"] + lifetime > s and len(body["answers"]) < n
                      and worker not in body["answers"] and worker not in body["declines"]):
                    left += 1
            return left

    def all_closed(self) -> bool:
        """Every record went out and none is open (as of the last left_for or status)."""
        with self._lock:
            return self._frontier >= self.record_count and not self._open

    def lifetime_failures(self) -> int:
        """Records that failed because their availability lifetime ended with no answer
        (reads each closed record once per process)."""
        with self._lock:
            self.closed_since(0)
            return sum(body["reason"] == LIFETIME_OVER for body in self._closed_bodies.values())

    def has_worked(self, worker: str) -> bool:
        """Has a session of `worker` ever opened this job (its claim exists)?"""
        with self._lock:
            return self._get_json(f"{self._root}workers/{_key_part(worker)}.json")[1] is not None

    def record_state(self, record: int) -> RecordState:
        with self._lock:
            etag, body = self._read_record(record)
        return _state_of(record, body)

    def closed_since(self, seq: int = 0) -> list[tuple[int, RecordState]]:
        """Records that closed (complete or failed) after `seq`, with their seq, in order.
        Seqs rise but may skip a number (a dud entry, see the module docstring)."""
        out = []
        with self._lock:
            for at in self._list_log(after=seq):
                if at not in self._closed_states and not self._read_log_entry(at):
                    break  # its closer is between two writes: later entries wait for it
                found = self._closed_states[at]
                if found is not None:  # None: a dud
                    out.append(found)
        return out

    # -- records -----------------------------------------------------------------------------

    def _close_if_done(self, body: dict, s: float) -> None:
        n = self.settings.workers_per_record
        team = len(self.settings.team) or None
        answers, declines = len(body["answers"]), len(body["declines"])
        everyone_in = team is not None and answers + declines >= team
        if answers >= n or (everyone_in and answers):
            _close(body, COMPLETE, None, s)
        elif answers == 0 and (declines >= n or everyone_in):
            _close(body, FAILED, DECLINED, s)

    def _update(self, rec: int, mutate: Callable[[dict | None, float], tuple[dict | None, Any]],
                now: float) -> Any:
        """Read, decide, CAS; on a conflict read again and decide again. `mutate(body,
        s3_now)` returns (new body or None for no write, result). Reading first costs a GET,
        but a PUT refused on a stale ETag costs as much as 12 GETs (and others write the
        same record between our writes): only a record known not to exist yet is written
        blind (created with If-None-Match)."""
        key = self._record_key(rec)
        etag, body = None, None
        fresh = self._cache.get(rec, ()) != (None, None)
        while True:
            if fresh:
                etag, body = self._get_json(key)
            was_open = body is not None and body["state"] == OPEN
            work = orjson.loads(orjson.dumps(body)) if body is not None else None
            s = self._s3_now(now)
            new, result = mutate(work, s)
            if new is None and not fresh:
                fresh = True  # a cached copy may be stale: decide "no change" on a fresh one
                continue
            if new is None:
                self._remember(rec, etag, body, s)
                return result
            new["v"] = body["v"] + 1 if body is not None else 0
            try:
                etag = self._put_json(key, new, etag)
            except _Conflict:
                fresh = True
                continue
            closed_now = new["state"] != OPEN and (was_open or body is None)
            self._remember(rec, etag, new, None if closed_now else s)
            if closed_now:
                self._log_close(rec, etag, new)
            return result

    def _remember(self, rec: int, etag: str | None, body: dict | None, s: float | None) -> None:
        """Cache an open record; drop a closed one (logging it if its closer died first)."""
        self._cache[rec] = (etag, body)
        if body is not None and body["state"] != OPEN:
            if s is not None and body["seq"] is None and body["closed_at"] + CLOSE_LOG_GRACE <= s:
                self._log_close(rec, etag, body)
            self._open.discard(rec)
            self._cache.pop(rec, None)

    def _read_record(self, rec: int) -> tuple[str | None, dict | None]:
        etag, body = self._get_json(self._record_key(rec))
        self._remember(rec, etag, body, self._s3_now(clock()))
        return etag, body

    def _fresh_record(self, s: float) -> dict:
        return {"v": 0, "opened": s, "state": OPEN, "reason": None, "closed_at": None,
                "seq": None, "leases": {}, "answers": {}, "declines": {},
                "releases": {}, "expiries": {}}

    # -- taking ------------------------------------------------------------------------------

    def _view(self, worker: str) -> _View:
        view = self._views.get(worker)
        if view is None:
            self._scan()
            view = self._views[worker] = _View()
            for rec in self._open:  # stop and resume later: this worker's live leases first
                body = self._cache.get(rec, (None, None))[1]
                if body is None:
                    continue
                entry = body["leases"].get(worker)
                if entry is not None:
                    view.held[rec] = Lease(entry["id"], rec, worker, entry["start"], entry["expiry"])
                if worker in body["answers"] or worker in body["declines"]:
                    view.done.add(rec)
                    view.check_at[rec] = body["opened"] + self.settings.availability_lifetime
        return view

    def _scan(self) -> None:
        """Once per process: read every record that went out (in parallel) to learn which
        are open. One GET per record; later, each worker keeps its view up to date itself."""
        if self._scanned:
            return
        self._refresh_frontier()
        recs = range(self._frontier)
        with ThreadPoolExecutor(SCAN_THREADS) as pool:
            found = list(pool.map(lambda rec: self._get_json(self._record_key(rec)), recs))
        for rec, (etag, body) in zip(recs, found):
            self._remember(rec, etag, body, self._s3_now(clock()))
        self._scanned = True

    def _join(self, worker: str, view: _View, need: int, now: float, everything: bool) -> list[Lease]:
        if need <= 0:
            return []
        s = self._s3_now(now)
        limit, n = self.settings.task_time_limit, self.settings.workers_per_record
        lifetime = self.settings.availability_lifetime
        got: list[Lease] = []
        # Oldest first, but in a worker's own order within each block of 64, so workers
        # racing for the same new records mostly write different objects.
        candidates = sorted((rec for rec in self._open if rec not in view.held and (
            (everything and rec not in view.done) or view.check_at.get(rec, 0.0) <= s)),
            key=lambda rec: (rec // 64, zlib.crc32(f"{worker}/{rec}".encode())))
        for rec in candidates:
            if len(got) >= need:
                break
            lease_id = secrets.randbits(52)

            def mutate(body: dict | None, s: float):
                if body is None:
                    body = self._fresh_record(s)
                    changed = True
                else:
                    changed = _sweep(body, s, self.settings)
                if body["state"] != OPEN:
                    return (body if changed else None), ("closed", 0.0)
                mine = body["leases"].get(worker)
                if mine is not None:
                    if s < mine["s_expiry"]:  # stop and resume later: it is still ours
                        return (body if changed else None), ("lease", Lease(
                            mine["id"], rec, worker, mine["start"], mine["expiry"]))
                    del body["leases"][worker]  # ours, past its time: gone, as for anyone
                    _bump(body, "expiries", worker)
                    changed = True
                if worker in body["answers"] or worker in body["declines"]:
                    return (body if changed else None), ("done", body["opened"] + lifetime)
                if len(body["answers"]) + len(body["leases"]) >= n:
                    soonest = min(e["s_expiry"] for e in body["leases"].values())
                    return (body if changed else None), ("full", soonest + TAKEOVER_MARGIN)
                body["leases"][worker] = {"id": lease_id, "start": now, "expiry": now + limit,
                                          "s_expiry": s + limit}
                return body, ("lease", Lease(lease_id, rec, worker, now, now + limit))

            kind, value = self._update(rec, mutate, now)
            if kind == "lease":
                view.held[rec] = value
                got.append(value)
            elif kind == "closed":
                self._open.discard(rec)
            else:
                view.check_at[rec] = value
                if kind == "done":
                    view.done.add(rec)
        return got

    def _send_out(self, worker: str, view: _View, need: int, now: float) -> list[Lease]:
        """New records: first those others sent out since we looked, then advance the
        frontier ourselves (one CAS), keeping at most max_concurrent out."""
        got: list[Lease] = []
        key = f"{self._root}frontier.json"
        while len(got) < need:
            etag, body = self._get_json(key)
            frontier = body["frontier"]
            if frontier > self._frontier:
                self._advance(frontier)
                got += self._join(worker, view, need - len(got), now, everything=False)
                continue
            out = frontier - self._log_seq
            if out >= self.settings.max_concurrent:
                self._catch_up_log()
                out = frontier - self._log_seq
            count = min(max(need - len(got), OPEN_BLOCK), self.settings.max_concurrent - out,
                        self.record_count - frontier)
            if count <= 0:
                break
            try:
                self._put_json(key, {"v": body["v"] + 1, "frontier": frontier + count}, etag)
            except _Conflict:
                continue
            for rec in range(frontier, frontier + count):
                self._cache[rec] = (None, None)  # known not to exist yet: create, no GET
            self._advance(frontier + count)
            got += self._join(worker, view, need - len(got), now, everything=False)
        return got

    def _refresh_frontier(self) -> None:
        etag, body = self._get_json(f"{self._root}frontier.json")
        self._advance(body["frontier"])

    def _advance(self, frontier: int) -> None:
        self._open.update(range(self._frontier, frontier))
        self._frontier = max(self._frontier, frontier)

    # -- the closed log ----------------------------------------------------------------------

    def _log_key(self, seq: int) -> str:
        return f"{self._root}closed/{seq:012d}"

    def _log_close(self, rec: int, etag: str | None, body: dict) -> None:
        """Append rec to the closed log (the next free seq) and record the seq in the record
        (first on the ETag of our own closing write: nobody else writes a closed record but
        a reader adopting its entry)."""
        token = secrets.token_hex(8)
        seq = self._log_seq + 1
        while True:
            try:
                self._put_json(self._log_key(seq), {"rec": rec, "token": token}, None)
                break
            except _Conflict as conflict:
                if conflict.retried and self._get_json(self._log_key(seq))[1].get("token") == token:
                    break  # our own create, whose answer was lost on the way back
                self._catch_up_log()
                seq = max(seq + 1, self._log_seq + 1)
        self._log_seq = max(self._log_seq, seq)
        try:
            self._put_json(self._record_key(rec), {**body, "v": body["v"] + 1, "seq": seq}, etag)
            return
        except _Conflict:
            pass
        self._update_closed(rec, lambda b, s: (None, None) if b is None or b["seq"] is not None
                            else ({**b, "seq": seq}, None))

    def _update_closed(self, rec: int, mutate) -> None:
        key = self._record_key(rec)
        while True:
            etag, body = self._get_json(key)
            new, _ = mutate(body, 0.0)
            if new is None:
                return
            new["v"] = body["v"] + 1
            try:
                self._put_json(key, new, etag)
                return
            except _Conflict:
                continue

    def _catch_up_log(self) -> None:
        for seq in self._list_log(after=self._log_seq):
            self._log_seq = max(self._log_seq, seq)

    def _list_log(self, after: int) -> list[int]:
        prefix = f"{self._root}closed/"
        kwargs = {"Bucket": self._bucket, "Prefix": prefix, "StartAfter": self._log_key(after)}
        seqs = []
        while True:
            page = self._s3("list_objects_v2", **kwargs)
            seqs += [int(item["Key"][len(prefix):]) for item in page.get("Contents", ())]
            if not page.get("IsTruncated"):
                return seqs
            kwargs["ContinuationToken"] = page["NextContinuationToken"]

    def _read_log_entry(self, seq: int) -> bool:
        """Settle one log entry into _closed_states: (seq, state), or None for a dud.
        False while its closer is still between logging and recording the seq."""
        etag, entry = self._get_json(self._log_key(seq))
        rec = entry["rec"]
        _, body = self._get_json(self._record_key(rec))
        if body["seq"] is None:
            if body["closed_at"] + CLOSE_LOG_GRACE > self._s3_now(clock()):
                return False
            self._update_closed(rec, lambda b, s: (None, None) if b["seq"] is not None
                                else ({**b, "seq": seq}, None))  # adopt: its closer died
            _, body = self._get_json(self._record_key(rec))
        self._closed_states[seq] = (seq, _state_of(rec, body)) if body["seq"] == seq else None
        if body["seq"] == seq:
            self._closed_bodies[seq] = body
        return True

    # -- S3 ----------------------------------------------------------------------------------

    def _settle_job(self) -> None:
        """job.json: created by the first opener; later opens must agree with it."""
        key = f"{self._root}job.json"
        mine = {"record_count": self.record_count, "settings": _settings_dict(self.settings)}
        try:
            self._put_json(key, mine, None)
            self._put_json(f"{self._root}frontier.json", {"v": 0, "frontier": 0}, None)
            return
        except _Conflict:
            pass
        etag, stored = self._get_json(key)
        where = f"s3://{self._bucket}/{key}"
        if stored["record_count"] != self.record_count:
            raise UserError(f"{where} was made for {stored['record_count']:,} records, but the "
                            f"input has {self.record_count:,}: the input changed under a team job")
        for name, value in mine["settings"].items():
            if name != "team" and stored["settings"].get(name) != value:
                raise UserError(f"{where} was started with {name} = {stored['settings'].get(name)!r}"
                                f", not {value!r}: a team job's settings cannot change")
        self._get_json(f"{self._root}frontier.json")  # created here if its creator died

    def _record_key(self, rec: int) -> str:
        return f"{self._root}records/{rec:09d}.json"

    def _answer_key(self, rec: int, worker: str, token: str) -> str:
        return f"{self._root}answers/{rec:09d}/{_key_part(worker)}/{token}"

    def _get_json(self, key: str) -> tuple[str | None, dict | None]:
        try:
            resp = self._s3("get_object", Bucket=self._bucket, Key=key)
        except _Missing:
            if key.endswith("frontier.json"):  # its creator died before writing it
                try:
                    self._put_json(key, {"v": 0, "frontier": 0}, None)
                except _Conflict:
                    pass
                return self._get_json(key)
            return None, None
        return resp["ETag"], orjson.loads(self._read_body(resp, key))

    def _get_bytes(self, key: str) -> bytes:
        try:
            resp = self._s3("get_object", Bucket=self._bucket, Key=key)
        except _Missing:
            raise S3Error(f"s3://{self._bucket}/{key} is missing: a team job's answer was "
                          f"deleted", "not-found") from None
        return self._read_body(resp, key)

    def _read_body(self, resp: dict, key: str) -> bytes:
        try:
            return resp["Body"].read()
        except Exception as exc:  # the connection broke mid-body
            raise _translate(exc, f"s3://{self._bucket}/{key}", self._bucket) from None

    def _put_json(self, key: str, body: dict, etag: str | None) -> str:
        """Create (etag None: If-None-Match *) or replace (If-Match etag); the new ETag."""
        condition = {"IfMatch": etag} if etag else {"IfNoneMatch": "*"}
        resp = self._s3("put_object", Bucket=self._bucket, Key=key, Body=orjson.dumps(body),
                        ContentType="application/json", **condition)
        return resp["ETag"]

    def _s3(self, operation: str, **kwargs: Any) -> dict:
        """One S3 call: conflicts and absence as exceptions; unreachable S3 retried."""
        from botocore.exceptions import ClientError

        waited_since = None
        pause = 0.2
        while True:
            try:
                resp = getattr(self._client, operation)(**kwargs)
                self._sample_clock(resp)
                if operation == "get_object":  # read here: a connection broken mid-body is retried
                    resp["Body"] = _Read(resp["Body"].read())
                return resp
            except ClientError as exc:
                self._sample_clock(exc.response)
                status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
                code = exc.response.get("Error", {}).get("Code")
                if status in (409, 412) or code in ("PreconditionFailed", "ConditionalRequestConflict"):
                    attempts = exc.response.get("ResponseMetadata", {}).get("RetryAttempts", 0)
                    raise _Conflict(bool(attempts) or waited_since is not None) from None
                if code == "NoSuchKey" or (status == 404 and code != "NoSuchBucket"):
                    raise _Missing() from None
                if status is not None and status >= 500:
                    err = S3Error(f"S3 error {status} at {self.uri}", "unreachable")
                else:
                    raise _translate(exc, f"s3://{self._bucket}/{kwargs.get('Key', '')}",
                                     self._bucket) from None
            except Exception as exc:
                err = _translate(exc, self.uri, self._bucket)
                if err.kind != "unreachable" and not _broken_stream(exc):
                    raise err from None
            started = waited_since = waited_since or time.monotonic()
            waited = time.monotonic() - started
            if waited >= self.patience:
                raise S3Error(f"{err} for {waited:.0f} s: giving up; the team job is safe in "
                              f"S3, start again when it is back", "unreachable")
            if time.monotonic() - self._last_wait_note >= 5.0:
                self._last_wait_note = time.monotonic()
                self._on_wait(f"{err}: retrying ({waited:.0f} s so far, giving up after "
                              f"{self.patience:.0f} s)")
            time.sleep(pause)
            pause = min(2.0, pause * 2)

    def _sample_clock(self, resp: dict) -> None:
        date = resp.get("ResponseMetadata", {}).get("HTTPHeaders", {}).get("date")
        if date:
            try:
                self._offsets.append(parsedate_to_datetime(date).timestamp() - clock())
            except (TypeError, ValueError):
                pass

    def _s3_now(self, now: float) -> float:
        """`now` (the caller's clock) in S3's clock."""
        return now + (max(self._offsets) if self._offsets else 0.0)

    def _check_worker(self, worker: str) -> None:
        if not self.settings.allows(worker):
            raise UserError(f"worker {worker!r} is not in this job's team "
                            f"({', '.join(self.settings.team)})")


class _Missing(Exception):
    """404: no such object."""


def _settings_dict(settings: TeamSettings) -> dict:
    values = asdict(settings)
    values["team"] = list(values["team"])
    return values


def _by_time(item: tuple[str, dict]) -> tuple[float, str]:
    return item[1]["at"], item[0]


def _bump(body: dict, kind: str, worker: str, by: int = 1) -> None:
    body[kind][worker] = body[kind].get(worker, 0) + by


def _count_workers(workers: dict[str, dict[str, int]], body: dict) -> None:
    for kind in ("answers", "declines", "leases", "releases", "expiries"):
        for worker, value in body[kind].items():
            counts = workers.setdefault(worker, {})
            counts[kind] = counts.get(kind, 0) + (value if isinstance(value, int) else 1)


def _close(body: dict, state: str, reason: str | None, s: float) -> None:
    body.update(state=state, reason=reason, closed_at=s, leases={})


def _sweep(body: dict, s: float, settings: TeamSettings) -> bool:
    """Expired leases go back to the pool; an ended lifetime closes the record. Changed?"""
    if body["state"] != OPEN:
        return False
    changed = False
    for worker, entry in list(body["leases"].items()):
        if s >= entry["s_expiry"] + TAKEOVER_MARGIN:
            del body["leases"][worker]
            _bump(body, "expiries", worker)
            changed = True
    if body["opened"] + settings.availability_lifetime <= s:
        if body["answers"]:
            _close(body, COMPLETE, None, s)
        else:
            _close(body, FAILED, LIFETIME_OVER, s)
        changed = True
    return changed


def _state_of(record: int, body: dict | None) -> RecordState:
    if body is None:
        return RecordState(record, "waiting", (), ())
    return RecordState(record, body["state"],
                       tuple(w for w, _ in sorted(body["answers"].items(), key=_by_time)),
                       tuple(w for w, _ in sorted(body["declines"].items(), key=_by_time)),
                       body["reason"])
