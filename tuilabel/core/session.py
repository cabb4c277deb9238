"""The labeling session: the one state machine behind every key the worker presses.

States: LABELING (the current record is the next one without an answer), REVIEWING (the worker
went back to an earlier answer: shown with that answer, ready to relabel) and DONE (every record
has an answer or was declined). The app calls these methods and shows `current`; it never
changes anything itself. Every answer is committed to disk before the next record is shown.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from tuilabel.core.gt import chained, lines as gt_lines
from tuilabel.core.store.durable import append_durably, atomic_write, ensure_dir, explain_os_error, fsync_dir
from tuilabel.core.errors import UserError
from tuilabel.core.gt.box_answer import BoxAnswer
from tuilabel.core.gt.job import JobFolder, JobSpec, label_category_file
from tuilabel.core.store import canonical, fingerprint
from tuilabel.core.store.journal import ANSWERED, BAD, BLANK, DECLINED, NONE, Entry, Journal, line_sha1
from tuilabel.core.store.lock import IdleWorkers, JobLock, OutputGate
from tuilabel.core.data.manifest import BadRecord, Manifest, Record, is_blank, parse_record

if TYPE_CHECKING:
    from tuilabel.core.review import ReviewPlan
    from tuilabel.core.team.assignment import Assignment
    from tuilabel.core.team.leases import Lease
    from tuilabel.core.team.output import TeamOutput

DECLINE_REASON = "Declined by the worker: bad or unusable data"
PUBLISH_EVERY = 10.0  # seconds between uploads of a team job's growing output to S3


class State(Enum):
    LABELING = "labeling"
    REVIEWING = "reviewing"
    DONE = "done"


@dataclass(frozen=True)
class Progress:
    done: int  # answered + declined
    total: int | None  # usable records (None while still counting)
    counting: bool
    answered: int
    declined: int
    bad: int
    per_hour: float  # this session's pace
    eta_seconds: float | None
    session_answers: int
    elapsed: float = 0.0  # seconds since this session's clock started


class Session:
    def __init__(self, spec: JobSpec, folder: JobFolder, manifest: Manifest, replace_spec: bool = False,
                 review: "ReviewPlan | None" = None):
        self.spec = spec
        self.replace_spec = replace_spec  # job.json changes (moved input, labels before any answer)
        self.folder = folder
        self.manifest = manifest
        self.journal = Journal(
            folder.journal(spec.worker),
            folder.checkpoint(spec.worker),
            None if spec.is_team else folder.output_manifest,  # a team's output: core/team/output.py
            spec.label_attribute,
            len(spec.labels),
            corrupt_path=folder.corrupt_lines,
            identity=f"{spec.name}/{spec.worker}",
        )
        self.lock = JobLock(
            folder.lock(spec.worker), f"job {spec.name!r} for worker {spec.worker!r}"
        )
        self.state = State.LABELING
        self.current: Record | None = None
        self.current_answer: Entry | None = None  # the standing answer when reviewing
        self.messages: list[str] = []  # one line each, for the user: recovery, bad lines, input changes
        self.bad_lines = 0
        # Lines that are not records (bad or blank) in the whole input, counted after the
        # index so the total is right before labeling reaches them (None: not yet).
        self._unusable: int | None = None
        self._unusable_counted = False
        self._frontier: tuple[int, int] = (0, 0)  # (index, offset) where the pass continues
        self._skipped: set[int] = set()
        self._review_pos = -1  # position in `recent()` while reviewing
        self._shown_wall = datetime.now(timezone.utc)
        self._shown_mono = time.monotonic()
        self.clock: Callable[[], float] = time.monotonic  # pace and ETA (see start_clock)
        self._started_mono = time.monotonic()
        self._session_answers = 0
        self._bad_report = None
        self._closed = False
        # Background work started by start_background(): the whole-input hash, a canonical rewrite.
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._pending: tuple[dict | None, bool] | None = None  # (hash to verify, rewrite?) until started
        self._pending_lock = threading.Lock()
        self._input_hash: dict | None = None  # {"length": n, "sha256": hex} once computed
        self.input_refused: str | None = None  # set when the full hash shows a rewritten input
        self.output_canonical = False  # output.manifest is canonical (after close: as it stands)
        # output.manifest was canonical at open (or made so since) and only this session appends.
        self._canonical_base = False
        self._journal_size_at_open = -1
        self._verified_input: dict | None = None  # the checkpoint's hashed input fingerprint
        # Called after every committed answer (e.g. the S3 mirror marks files to upload).
        self.on_commit: list[Callable[[], None]] = []
        # Called once the total is known (from the index thread): the app shows it at once.
        self.on_total: list[Callable[[], None]] = []
        # A review (`tuilabel review`): the same states and keys, but only the records in
        # `review.order`, in that order, each with the consolidated answer to accept; every
        # decision is final and journaled with role "reviewer". None for a labeling job.
        self.review = review
        self._order_pos = 0  # review: position in review.order where the pass continues
        # A team job (spec.team): records come from the lease store, one task at a time under
        # a lease (`lease`, the shown task's); output.manifest is written per closed record.
        self.team: "Assignment | None" = None
        self.team_output: "TeamOutput | None" = None
        self.lease: "Lease | None" = None
        self._store = None
        self._drained_at = 0.0
        self._published_at = 0.0

    # -- open / close --------------------------------------------------------------------------

    def open(self, background: bool = True) -> "Session":
        """Lock the job, recover the journal, find where to resume. With `background`
        False the background work (line index, input hash, canonical rewrite) waits for
        `start_background()`: a UI calls it once its first frame is on screen, so those
        threads do not share the GIL with start-up."""
        ensure_dir(self.folder.root)
        try:
            # Opens take turns with canonical rewrites of output.manifest (see OutputGate).
            with OutputGate(self.folder.output_gate):
                self.lock.acquire()
                self._write_job_files()
                recovery = self.journal.open()
                self.messages.extend(recovery.messages)
                verify = self._check_input()
                rewrite = False if self.spec.is_team else self._settle_output()
                self._journal_size_at_open = self.journal.size
            self._pending = (verify, rewrite)
            # Whoever starts the index (start_background, or a lookup while resuming) reports here.
            self.manifest.on_index_progress = self._index_progress
            if self.spec.is_team:
                self._open_team()
            else:
                self._resume()
        except BaseException:
            self._close_team()
            self.journal.close()
            self.manifest.close()
            self.lock.release()
            raise
        if background:
            self.start_background()
        return self

    def _open_team(self) -> None:
        """Join the team: the lease store (its records are the input's lines, so the index
        is built first), the output writer, and this worker's lease-ahead thread."""
        from tuilabel.core.team.assignment import Assignment
        from tuilabel.core.team.leases import LeaseStore
        from tuilabel.core.team.output import TeamOutput

        settings = self.spec.team_settings
        self.manifest.wait_index()
        mark = None
        prefix = self.team_s3_prefix
        if prefix is None:  # one host: SQLite in the job folder
            self._store = LeaseStore(self.folder.team_db, settings, self.manifest.line_count)
        else:  # across machines: the job's S3 prefix, conditional writes only
            from tuilabel.core.team.leases import clock
            from tuilabel.core.team.s3_leases import S3LeaseStore
            from tuilabel.core.team.s3_output import LocalMark

            self._store = S3LeaseStore(prefix, settings, self.manifest.line_count, on_wait=self.messages.append)
            self._store.claim_worker(self.spec.worker, clock())
            mark = LocalMark(self.folder.private / "team-output.json", self._store)
        self.team_output = TeamOutput(self._store, self.folder, self.spec, self.manifest, mark)
        worker = self.spec.worker
        heartbeat = None if prefix is None else (lambda now: self._store.renew_worker(worker, now))
        self.team = Assignment(self._store, worker, settings.task_time_limit,
                               after_ops=self._write_closed, events=self.messages, heartbeat=heartbeat)
        self._advance()

    @property
    def team_s3_prefix(self) -> str | None:
        """s3://…/<job-name> when this team job lives in S3 (its workers on other machines)."""
        output = self.spec.output
        return output.rstrip("/") + "/" + self.spec.name if output[:5].lower() == "s3://" else None

    def _write_closed(self, maybe_closed: bool) -> None:
        """Assignment thread: write the records that closed, at most once a second (each
        write is a lock, a consolidation and an fsync), and at close."""
        if time.monotonic() - self._drained_at < (1.0 if maybe_closed else 2.0) and not self._closed:
            return
        self._drained_at = time.monotonic()
        output = self.team_output
        if output is None:
            return
        try:
            output.drain()
            prefix = self.team_s3_prefix
            if prefix is not None and (self._closed or time.monotonic() - self._published_at >= PUBLISH_EVERY):
                from tuilabel.core.team.s3_output import publish

                self._published_at = time.monotonic()
                publish(self.folder.output_manifest, prefix + "/manifests/output/output.manifest")
        except (UserError, OSError) as exc:
            message = f"could not write the team's output: {exc}"
            if message not in self.messages[-5:]:
                self.messages.append(message)
        while output.problems:
            self.messages.append(output.problems.pop(0))

    def _close_team(self) -> None:
        if self.team is not None:
            self.team.close()
            self._write_closed(True)
        if self._store is not None:
            self._store.close()
        self.team = self._store = None

    def start_background(self) -> None:
        """Start the session's background work: the manifest's line index, the whole-input
        hash and, after a session that ended without quitting, the canonical rewrite of
        output.manifest. Idempotent (a UI's first frame and close() may both call it)."""
        self.manifest.start_indexing()
        self._start_checks(rewrite=True)

    def _start_checks(self, rewrite: bool) -> None:
        with self._pending_lock:
            pending, self._pending = self._pending, None
        if pending is None:
            return
        verify, needs_rewrite = pending
        self._background(self._hash_input, verify)
        if needs_rewrite and rewrite:
            self._background(self._rewrite_output)

    def _background(self, target: Callable, *args: object) -> None:
        thread = threading.Thread(target=target, args=args, name=f"session-{target.__name__}", daemon=True)
        self._threads.append(thread)
        thread.start()

    def _settle_output(self) -> bool:
        """Make output.manifest whole after the last session; True if it should be rewritten
        canonically (it is not, and no other worker's session is appending to it)."""
        folder = self.folder
        sizes = {path.parent.name: path.stat().st_size for path in folder.journals()}
        sizes[folder.journal(self.spec.worker).parent.name] = self.journal.size
        if canonical.is_canonical(folder.canonical_state, folder.output_manifest, sizes):
            self.output_canonical = self._canonical_base = True
            return False
        own = folder.journal(self.spec.worker).parent.name
        with IdleWorkers(folder.locks(), skip=folder.lock(self.spec.worker)) as idle:
            alone = not idle.busy
            since = canonical.appended_since(folder.canonical_state, folder.output_manifest)
            # Answers from before the last canonical rewrite are in it (or superseded there).
            grown = since == 0 or canonical.read(folder.canonical_state).get("journals", {}).get(own, 0) != self.journal.size
            try:
                self.messages.extend(self.journal.repair_output(alone, since, grown))
            except OSError as exc:
                raise explain_os_error(exc, folder.output_manifest, "repair") from None
        return alone and any(sizes.values())

    def _rewrite_output(self) -> None:
        """After a session that ended without quitting, output.manifest is made canonical in
        the background (a 1M-answer job takes a few seconds, in a child process), into a file
        beside it, which is then put in place with the answers committed meanwhile appended. A key press waits
        only if it comes during that last short step (the journal's append lock)."""
        from tuilabel.core.gt.export import journal_sizes, rewrite_in_child

        folder = self.folder
        covered = self.journal.size  # whole lines only: the main thread appends whole lines
        pending = folder.output_manifest.with_name(f".{folder.output_manifest.name}.{os.getpid()}.pending.tmp")
        own = folder.journal(self.spec.worker)
        try:
            result = rewrite_in_child(folder.root, self.manifest.path, self.spec.label_attribute, self.spec.worker, covered, pending)
            if result.export is None:
                return
            with OutputGate(folder.output_gate), IdleWorkers(folder.locks(), skip=folder.lock(self.spec.worker)) as idle:
                if idle.busy or journal_sizes(folder, own, covered) != result.sizes:
                    return  # another worker labeled meanwhile: the rewrite is stale
                with self.journal.lock:
                    # Any kill before the rename leaves the old file, which has every answer.
                    fd = os.open(pending, os.O_WRONLY | os.O_APPEND)
                    try:
                        append_durably(fd, self.journal.output_lines_since(covered))
                    finally:
                        os.close(fd)
                    os.replace(pending, folder.output_manifest)
                    fsync_dir(pending.parent)
                    self.journal.reopen_output()
                    canonical.mark(folder.canonical_state, folder.output_manifest, journal_sizes(folder, own, self.journal.size))
                    self._canonical_base = True
        except (UserError, OSError, ValueError, subprocess.SubprocessError) as exc:
            self.messages.append(f"could not rewrite {folder.output_manifest} canonically: {exc}")
            return
        finally:
            pending.unlink(missing_ok=True)
        self.messages.append(
            f"rewrote {folder.output_manifest} canonically (the last session ended without a normal quit)"
        )

    def wait_background(self, timeout: float | None = None) -> None:
        """Let the background work (input hash, output rewrite) finish; after `timeout`
        seconds the hash is abandoned (the next start takes it again)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        for thread in self._threads:
            thread.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
        self._stop.set()
        for thread in self._threads:
            thread.join()
        self._threads = []
        self._stop.clear()

    def _write_job_files(self) -> None:
        folder = self.folder
        if self.replace_spec or not folder.spec_file.exists():
            atomic_write(folder.spec_file, self.spec.to_json())
        label_file = label_category_file(list(self.spec.labels))
        try:
            same = folder.label_file.read_bytes() == label_file
        except OSError:
            same = False
        if not same:
            atomic_write(folder.label_file, label_file)

    def _check_input(self) -> dict | None:
        """Say so when the input changed since the checkpoint; refuse if it was rewritten.

        Size, time and the first and last 64 KiB are compared here; the whole input is
        compared by the background hash (the saved one is returned for it) when the file was
        touched since, so a same-size edit in the middle is refused too.
        """
        saved = self.journal.checkpoint.get("input")
        if not isinstance(saved, dict) or "size" not in saved:
            return None
        self._verified_input = saved if fingerprint.ALGORITHM in saved else None
        self._input_hash = saved.get(fingerprint.ALGORITHM) and {
            "length": saved["size"], fingerprint.ALGORITHM: saved[fingerprint.ALGORITHM]
        }
        now = (self.manifest.size, self.manifest.mtime_ns)
        if now == (saved["size"], saved.get("mtime_ns")):
            return None  # untouched since the hash was taken
        old = self.manifest.fingerprint(saved["size"])
        if saved["size"] <= self.manifest.size and (old.head_sha1, old.tail_sha1) == (saved.get("head_sha1"), saved.get("tail_sha1")):
            if self.manifest.size > saved["size"]:
                self.messages.append(
                    f"the input {self.manifest.display} grew since the last session "
                    f"({saved['size']:,} -> {self.manifest.size:,} bytes); new records are added to the job"
                )
            self._input_hash = None  # taken again, for the file as it is now
            return saved if fingerprint.ALGORITHM in saved else None
        raise UserError(self._changed_input_message(saved["size"], "content differs"))

    def _changed_input_message(self, old_size: int, what: str) -> str:
        return (
            f"the input {self.manifest.display} changed since the last session of job "
            f"{self.spec.name!r} (size {old_size:,} -> {self.manifest.size:,} bytes, {what}); "
            "answers are tied to line numbers: put the old file back, or label the new one as a "
            "new job (--name or --output)"
        )

    def _hash_input(self, saved: dict | None) -> None:
        """The whole-input hash, in the background; compared with `saved` when given."""
        if self._input_hash is not None and saved is None:
            return  # the checkpoint's hash still describes the file
        lengths = [self.manifest.size] + ([saved["size"]] if saved else [])
        got = fingerprint.digests(self.manifest.path, lengths, self.manifest.mtime_ns, self._stop)
        if got is None:
            return
        if saved and got[saved["size"]] != saved[fingerprint.ALGORITHM]:
            self.input_refused = self._changed_input_message(
                saved["size"], "same first and last 64 KiB but other bytes in between"
            )
            self.messages.append(self.input_refused)
            return
        self._input_hash = {"length": self.manifest.size, fingerprint.ALGORITHM: got[self.manifest.size]}

    def _resume(self) -> None:
        if self.review is not None:
            self._start_pass()  # the first record in review order without a decision
            return
        cursor = self.journal.checkpoint.get("cursor")
        index, offset = 0, 0
        if cursor and self.manifest.is_line_start(cursor["offset"]):
            raw, _ = self.manifest.read_line(cursor["offset"])
            # A cursor at the old end of a grown input (a finished pass) hashed an empty line.
            saved = self.journal.checkpoint.get("input") or {}
            grown_end = cursor["offset"] == saved.get("size") and cursor["sha1"] == line_sha1(b"")
            if line_sha1(raw) == cursor["sha1"] or grown_end:
                index, offset = cursor["index"], cursor["offset"]
            else:
                self.messages.append("the resume point did not match the input; starting from the first record without an answer")
                index = -1
        elif cursor:
            index = -1
        if index < 0:
            self._start_pass()
        else:
            self._frontier = (index, offset)
            self._advance()

    def close(self) -> None:
        """Stop and resume later: everything is already on disk; save the resume point and
        leave output.manifest canonical (unless another worker's session appends to it)."""
        if self._closed:
            return
        self._closed = True
        try:
            # Never started (no first frame drawn): the input is still verified before
            # output.manifest is rewritten below (a rewrite thread would only repeat that).
            self._start_checks(rewrite=False)
            self.wait_background(timeout=5.0)
            self._save_checkpoint()
            if not self.spec.is_team:  # a team's output is its writer's (see _close_team)
                self._make_canonical()
        except UserError as exc:
            self.messages.append(str(exc))
        finally:
            self._close_team()
            self.journal.close()
            self.manifest.close()
            if self._bad_report is not None:
                self._bad_report.close()
            self.lock.release()

    # -- moving through records ----------------------------------------------------------------

    def _show(self, record: Record | None, answer: Entry | None = None) -> None:
        self.current = record
        self.current_answer = answer
        self._shown_wall = datetime.now(timezone.utc)
        self._shown_mono = time.monotonic()

    def _advance(self) -> None:
        """Show the next record of this pass without an answer, from the frontier on."""
        if self.review is not None:
            self._advance_in_order()
            return
        if self.team is not None:
            self._advance_team()
            return
        index, offset = self._frontier
        status = self.journal.status
        while True:
            if offset >= self.manifest.size:
                self._start_pass()
                return
            st = status[index] if index < len(status) else NONE
            if st != NONE:
                # Jump over a run of answered lines through the offset index.
                nxt = status.find(0, index + 1)
                if nxt < 0:
                    nxt = len(status)
                if nxt > index + 1:
                    try:
                        offset = self.manifest.offset_of(nxt)
                    except IndexError:
                        offset = self.manifest.size  # answered to the end: next pass
                    index = nxt
                    continue
            if st != NONE or index in self._skipped:
                _, offset = self.manifest.read_line(offset)
                index += 1
                continue
            try:
                record = self.manifest.record_at(index, offset)
            except BadRecord as exc:
                self._report_bad(index, offset, str(exc))
                _, offset = self.manifest.read_line(offset)
                index += 1
                continue
            unusable = chained.problem(self.spec, record.data)
            if unusable is not None:  # a chained job's line with no earlier label to audit
                self._decline_unusable(record, unusable)
                index, offset = index + 1, record.next_offset
                continue
            self._frontier = (index, offset)
            self.state = State.LABELING
            self._show(record)
            return

    def _advance_team(self) -> None:
        """Show this worker's task: the one still shown (back from reviewing earlier answers)
        or the next the lease store gave it; DONE when it has nothing for this worker now."""
        team = self.team
        assert team is not None
        while True:
            lease = self.lease or team.next()
            if lease is None:
                self.state = State.DONE
                self._show(None)
                return
            self.lease = None
            index = lease.record
            offset = self.manifest.offset_of(index)
            if self.journal.status_of(index) in (ANSWERED, DECLINED):
                # Answered before a crash, not yet in the store: send it now, under this lease.
                earlier = self.journal.latest_for(index)
                if earlier is not None and earlier.kind == "a":
                    team.answered(lease, earlier.to_line())
                else:
                    team.declined(lease)
                continue
            try:
                record = self.manifest.record_at(index, offset)
            except BadRecord as exc:
                self._report_bad(index, offset, str(exc))
                team.declined(lease)  # every worker declines it: it fails, no line
                continue
            unusable = chained.problem(self.spec, record.data)
            if unusable is not None:  # as in _advance: declined under this lease, with the reason
                self.lease = lease
                self._decline_unusable(record, unusable)
                continue
            if self.state is State.LABELING and self.current is not None and self.current.index == index:
                self.lease = lease  # the same task again: its timer runs on
                return
            self.lease = lease
            self._frontier = (index, offset)
            self.state = State.LABELING
            self._show(record)
            return

    def task_time(self) -> tuple[float, float] | None:
        """(seconds used, the limit) of the shown task in a team job; None otherwise."""
        from tuilabel.core.team.leases import clock

        lease = self.lease
        if lease is None:
            return None
        return clock() - lease.start, lease.expiry - lease.start

    def release(self) -> None:
        """GT's "Release task": the shown task goes back to the pool, the next one shows."""
        if self.team is None or self.lease is None:
            raise UserError("release is for a team job's current task")
        self.team.released(self.lease)
        self.lease = None
        if self.state is State.LABELING:
            self._advance()

    def expire_current(self) -> None:
        """The shown task's time limit passed: it goes back to the pool, the next one shows."""
        lease = self.lease
        if self.team is None or lease is None:
            return
        self.messages.append(f"record {lease.record + 1}: the task time limit passed; it went back to the pool")
        self.team.expired(lease)
        self.lease = None
        if self.state is State.LABELING:
            self._advance()

    def _advance_in_order(self, wrap: bool = True) -> bool:
        """Review: show the next record of `review.order` without a decision; at the end of
        the order, a new pass (skipped records come back) or DONE."""
        order = self.review.order  # type: ignore[union-attr]
        status = self.journal.status
        pos = self._order_pos
        while pos < len(order):
            index = order[pos]
            if (status[index] if index < len(status) else NONE) == NONE and index not in self._skipped:
                try:
                    offset = self.manifest.offset_of(index)
                    record = self.manifest.record_at(index, offset)
                except BadRecord as exc:
                    self._report_bad(index, self.manifest.offset_of(index), str(exc))
                    pos += 1
                    continue
                self._order_pos = pos
                self._frontier = (index, offset)
                self.state = State.LABELING
                self._show(record)
                return True
            pos += 1
        if wrap:
            return self._start_pass()
        self.state = State.DONE
        self._show(None)
        return False

    def _start_pass(self) -> bool:
        """Back to the first record without an answer (skipped ones come back). False if done."""
        self._skipped.clear()
        if self.review is not None:
            self._order_pos = 0
            return self._advance_in_order(wrap=False)
        first = self._first_open_index()
        if first is None:
            self.state = State.DONE
            self._show(None)
            return False
        self._frontier = (first, self.manifest.offset_of(first))
        self._advance()
        return self.state is not State.DONE

    def _first_open_index(self) -> int | None:
        self.manifest.wait_index()
        total = self.manifest.line_count
        status = self.journal.status
        first = status.find(0)
        if first < 0:
            first = len(status)
        return first if first < total else None

    # -- actions ---------------------------------------------------------------------------------

    def _decline_unusable(self, record: Record, why: str) -> None:
        """Declined with `why` as failure-reason (the line still reaches the output), and said."""
        self._show(record)
        self._commit("d", None, why)
        self.messages.append(f"{self.manifest.display}:{record.lineno}: {why}; declined")

    def _commit(self, kind: str, value: int | list[int] | None, reason: str = "", feedback: str = "") -> None:
        record = self.current
        if record is None:
            raise UserError("there is no record to answer")
        if self.input_refused:
            raise UserError(self.input_refused)
        now = datetime.now(timezone.utc)
        if kind == "a":
            obj = gt_lines.answer_object(record.data, self.spec, value, now, feedback=feedback)  # type: ignore[arg-type]
        else:
            obj = gt_lines.declined_object(record.data, self.spec, reason or DECLINE_REASON, now)
        entry = Entry(
            index=record.index,
            offset=record.offset,
            kind=kind,
            worker=self.spec.worker,
            accepted=gt_lines.iso_seconds(self._shown_wall),
            submitted=gt_lines.iso_seconds(now),
            seconds=round(time.monotonic() - self._shown_mono, 3),
            gt=obj,
        )
        if self.review is not None:
            self.review.finalize(entry)
        if self.team is not None and kind == "d" and self.state is State.REVIEWING:
            raise UserError("in a team job an earlier answer can be changed, not declined")
        line = self.journal.append(entry)
        if self.team is not None:
            if self.state is State.REVIEWING:
                self.team.changed(record.index, line)
            elif self.lease is not None:
                if kind == "a":
                    self.team.answered(self.lease, line)
                else:
                    self.team.declined(self.lease)
                self.lease = None
        self._session_answers += 1
        if self.journal.checkpoint_due():
            self._save_checkpoint()
        for hook in self.on_commit:
            hook()

    def answer(self, value: int | list[int] | BoxAnswer, feedback: str = "") -> None:
        """Label the current record (an index, indexes for multi-label, or the boxes drawn
        on it: any number, none included) and move on; `feedback`: a verification worker's comment."""
        labels = self.spec.labels
        if self.spec.task_type.boxes:
            if not isinstance(value, BoxAnswer):
                raise UserError("this job takes boxes: draw them on the image, then enter")
            value.check(len(labels))
        elif self.spec.task_type.multi:
            chosen = sorted(set(value if isinstance(value, list) else [value]))
            if not chosen:
                raise UserError("pick at least one label")
            if any(not 0 <= v < len(labels) for v in chosen):
                raise UserError(f"label number out of range 1-{len(labels)}")
            value = chosen
        else:
            if not isinstance(value, int):
                raise UserError("this job takes one label per record")
            if not 0 <= value < len(labels):
                raise UserError(f"label number out of range 1-{len(labels)}")
        self._commit("a", value, feedback=feedback)
        self._after_commit()

    def accept(self) -> None:
        """Review: the consolidated answer of the current record is the decision."""
        if self.review is None or self.current is None:
            raise UserError("there is no consolidated answer to accept here")
        value = self.review.suggested.get(self.current.index)
        if value is None:
            raise UserError("this record has no consolidated label (no answers, or all declined): pick one, or x declines")
        self.answer(value)

    def decline(self, reason: str = "") -> None:
        """GT's decline: bad data, written with failure-reason, never shown again."""
        self._commit("d", None, reason)
        self._after_commit()

    def skip(self) -> None:
        """Not an answer: the record comes back at the end of this pass."""
        if self.state is State.REVIEWING:
            self.forward()
            return
        if self.current is None:
            return
        if self.team is not None and self.lease is not None:
            self.team.put_back(self.lease)  # shown again after the tasks leased ahead
            self.lease = None
            self._advance()
            return
        self._skipped.add(self.current.index)
        self._frontier = (self.current.index + 1, self.current.next_offset)
        self._advance()

    def _after_commit(self) -> None:
        if self.state is State.REVIEWING:
            self.forward()
            return
        record = self.current
        assert record is not None
        self._frontier = (record.index + 1, record.next_offset)
        self._advance()

    def recent(self) -> list[Entry]:
        """Recently answered records in the order they were first answered, each with its
        latest answer (what `[`/`]`/undo move through; a relabel keeps its place)."""
        latest: dict[int, Entry] = {}
        for entry in self.journal.history:
            latest[entry.index] = entry  # dicts keep first-insertion order
        return list(latest.values())

    def back(self) -> bool:
        """Undo / `[`: show the previous answered record with its answer, ready to relabel."""
        recent = self.recent()
        if not recent:
            return False
        pos = self._review_pos if self.state is State.REVIEWING else len(recent)
        if pos <= 0:
            return False
        self._review(recent, pos - 1)
        return True

    undo = back

    def forward(self) -> None:
        """`]`: the next answer in the history, or back to labeling after the newest one."""
        if self.state is not State.REVIEWING:
            return
        recent = self.recent()
        pos = self._review_pos + 1
        if pos < len(recent):
            self._review(recent, pos)
            return
        self.leave_review()

    def leave_review(self) -> None:
        """Back to labeling where it left off (the reviewed answers stand); Esc in the app."""
        if self.state is not State.REVIEWING:
            return
        self._review_pos = -1
        self.state = State.LABELING
        self._advance()  # from the frontier, where labeling left off

    def _review(self, recent: list[Entry], pos: int) -> None:
        entry = recent[pos]
        try:
            record = self.manifest.record_at(entry.index, entry.offset)
        except BadRecord:
            return
        self._review_pos = pos
        self.state = State.REVIEWING
        self._show(record, entry)

    def jump(self, index: int) -> None:
        """Show record `index` (0-based), with its answer if it has one."""
        try:
            offset = self.manifest.offset_of(index)
        except IndexError:
            raise UserError(f"there is no record {index + 1}; the manifest has {self.manifest.line_count:,}") from None
        try:
            record = self.manifest.record_at(index, offset)
        except BadRecord as exc:
            raise UserError(f"record {index + 1} is not usable: {exc}") from None
        answer = self.journal.latest_for(index)
        if answer is None and self.team is not None:
            raise UserError("in a team job records come one task at a time; jump goes to your own answers only")
        if answer is None:
            self._frontier = (index, offset)
            self.state = State.LABELING
            self._show(record)
        else:
            self.state = State.REVIEWING
            self._review_pos = len(self.recent())  # `]` returns to labeling
            self._show(record, answer)

    def upcoming_refs(self, n: int) -> list[str]:
        """The `source-ref`s of up to `n` records after the current one that have no answer yet
        (read-only look-ahead for prefetching pictures; safe in a worker thread). Looks at no
        more than 4n lines, so a long answered run costs nothing."""
        record = self.current
        if record is None:
            return []
        manifest = self.manifest
        if self.team is not None:
            refs = []
            for index in self.team.upcoming()[:n]:
                try:
                    ref = manifest.record_at(index, manifest.offset_of(index)).source_ref
                except (BadRecord, OSError, ValueError, IndexError):
                    continue
                if ref:
                    refs.append(ref)
            return refs
        status = self.journal.status
        index, offset = record.index + 1, record.next_offset
        refs: list[str] = []
        for _ in range(n * 4):
            if len(refs) >= n or offset >= manifest.size:
                break
            try:
                nxt = manifest.record_at(index, offset)
            except (BadRecord, OSError, ValueError):
                try:
                    _, offset = manifest.read_line(offset)
                except OSError:
                    break
                index += 1
                continue
            if (index >= len(status) or status[index] == NONE) and nxt.source_ref:
                refs.append(nxt.source_ref)
            index, offset = index + 1, nxt.next_offset
        return refs

    # -- bad lines -------------------------------------------------------------------------------

    def _report_bad(self, index: int, offset: int, reason: str) -> None:
        if reason == "empty line":
            self.journal.mark(index, BLANK)  # not a record; not worth a report
            return
        self.journal.mark(index, BAD)
        self.bad_lines += 1
        message = f"{self.manifest.display}:{index + 1}: {reason}"
        self.messages.append(message)
        try:
            if self._bad_report is None:
                ensure_dir(self.folder.reports)
                self._bad_report = open(self.folder.bad_lines_report, "a", encoding="utf-8")
            self._bad_report.write(message + "\n")
            self._bad_report.flush()
        except OSError as exc:
            self.messages.append(str(explain_os_error(exc, self.folder.bad_lines_report)))

    # -- progress --------------------------------------------------------------------------------

    def _index_progress(self, lines: int, done: bool) -> None:
        """Index thread: once every line is indexed, count the unusable ones so the total is
        right from the start. One parse per line, off the key path: 1M short lines took
        3.7-4.7 s with both cores busy (2026-12-02); the total says "counting…" meanwhile."""
        if not done:
            return
        unusable = 0
        try:
            if self.manifest.index_error is None:
                for _, _, _, raw in self.manifest.iter_lines():
                    if self._closed:
                        return
                    if is_blank(raw):
                        unusable += 1
                        continue
                    try:
                        parse_record(raw)
                    except BadRecord:
                        unusable += 1
                self._unusable = unusable
        except (OSError, ValueError):  # the input closed or vanished meanwhile
            pass
        finally:
            self._unusable_counted = True
            for hook in self.on_total:
                hook()

    def progress(self) -> Progress:
        counting = not (self.manifest.index_done and self._unusable_counted)
        bad = self.journal.bad
        unusable = self._unusable if self._unusable is not None else bad + self.journal.blank
        total = None if counting else self.manifest.line_count - unusable
        done = self.journal.answered + self.journal.declined
        if self.review is not None:
            counting, total, done = False, len(self.review.order), self.review.decided(self.journal.status)
        team = self.team.progress if self.team is not None else None
        if team is not None:  # the job's records closed (complete or failed), over all workers
            counting, (done, total) = False, team
        elapsed = self.clock() - self._started_mono
        per_hour = self._session_answers / elapsed * 3600 if elapsed > 1 and self._session_answers else 0.0
        eta = None
        if total is not None and per_hour > 0:
            eta = max(0, total - done) / per_hour * 3600
        return Progress(done, total, counting, self.journal.answered, self.journal.declined, bad, per_hour, eta,
                        self._session_answers, elapsed)

    def start_clock(self, clock: Callable[[], float] = time.monotonic) -> None:
        """Measure this session's pace and ETA with `clock`, from now (the app calls it when
        labeling starts; tests pass a frozen clock for stable pictures)."""
        self.clock = clock
        self._started_mono = clock()

    @property
    def label_counts(self) -> list[int]:
        return self.journal.label_counts

    # -- checkpoint ------------------------------------------------------------------------------

    def _resume_point(self) -> tuple[int, int]:
        """Where the next start should begin: the first record without an answer."""
        status = self.journal.status
        first = status.find(0)
        if first < 0:
            first = len(status)
        index, offset = self._frontier
        if first < index:
            if self.manifest.index_done or first < self.manifest.line_count:
                return first, self.manifest.offset_of(first)
        return index, offset

    def _save_checkpoint(self) -> None:
        index, offset = self._resume_point()
        raw, _ = self.manifest.read_line(offset)
        fingerprint_now = self.manifest.fingerprint().to_json()
        digest = self._input_hash
        if digest and digest["length"] == self.manifest.size and not self.input_refused:
            fingerprint_now[fingerprint.ALGORITHM] = digest[fingerprint.ALGORITHM]
        elif self._verified_input is not None:
            # The file as it is now is not (or not yet) known to be the one the answers refer
            # to: keep the last verified fingerprint, so the next start compares against it.
            fingerprint_now = self._verified_input
        self.journal.save_checkpoint(
            cursor={"index": index, "offset": offset, "sha1": line_sha1(raw)},
            input=fingerprint_now,
        )

    # -- end of job ------------------------------------------------------------------------------

    def _make_canonical(self) -> bool:
        """output.manifest rewritten canonically now, unless another worker's session is
        appending to it (then it is left as it is, and a message says so)."""
        from tuilabel.core.gt.export import busy_message, write_canonical

        if self.input_refused:
            return False  # the input is not the one the answers' line numbers refer to
        if self._canonical_base and self.journal.size == self._journal_size_at_open:
            # Settled at open and nothing added since: leave it as it is (it may be a
            # consolidated output, which a latest-wins rewrite would undo).
            self.output_canonical = True
            return True
        # A review's output holds every line: its appended decisions are never canonical as they stand.
        if self._canonical_base and self.journal.appended_in_order and self.review is None and self._mark_appended_canonical():
            self.output_canonical = True
            return True
        result = write_canonical(self.folder, self.manifest, self.spec.label_attribute, self.spec.worker)
        if result.export is None:
            self.output_canonical = False
            self.messages.append(busy_message(self.folder, result.busy))
            return False
        self.output_canonical = self._canonical_base = True
        self.journal.appended_in_order = True  # in order from here on: see _mark_appended_canonical
        for problem in result.export.skipped:
            self.messages.append(problem)
        own = str(self.journal.path)
        if any(problem.startswith(own + ":") for problem in result.export.skipped):
            # Damage behind the checkpoint, which the start did not re-read: without the
            # checkpoint the next start replays the whole journal and sets the lines aside.
            self.journal.checkpoint_path.unlink(missing_ok=True)
            self.messages.append(f"the next start re-reads all of {own} to set its damaged lines aside")
        return True

    def _mark_appended_canonical(self) -> bool:
        """A canonical output plus answers appended in input order, by the only worker with
        answers, is canonical as it stands: no rewrite (a 1M-line job quits at once)."""
        from tuilabel.core.gt.export import journal_sizes

        folder = self.folder
        own = folder.journal(self.spec.worker)
        with OutputGate(folder.output_gate), IdleWorkers(folder.locks(), skip=folder.lock(self.spec.worker)) as idle:
            sizes = journal_sizes(folder, own, self.journal.size)
            if idle.busy or any(size for name, size in sizes.items() if name != own.parent.name):
                return False
            canonical.mark(folder.canonical_state, folder.output_manifest, sizes)
        return True

    def finish(self) -> Path:
        """Write the canonical output.manifest (input order, latest answer wins); refused
        with a UserError while another worker's session appends to it."""
        self._start_checks(rewrite=False)  # the input is verified first, as in close()
        self.wait_background()
        if self.spec.is_team:
            self._write_closed(True)  # a team's output holds the closed records, consolidated
            return self.folder.output_manifest
        if not self._make_canonical():
            raise UserError(self.input_refused or self.messages[-1])
        self.journal.reopen_output()
        self._save_checkpoint()
        for hook in self.on_commit:
            hook()
        return self.folder.output_manifest
