"""The labeling session: the one state machine behind every key the worker presses.

States: LABELING (the current record is the next one without an answer), REVIEWING (the worker
went back to an earlier answer: shown with that answer, ready to relabel) and DONE (every record
has an answer or was declined). The app calls these methods and shows `current`; it never
changes anything itself. Every answer is committed to disk before the next record is shown.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timezone
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from tuilabel.core.gt import lines as gt_lines
from tuilabel.core.store.durable import atomic_write, ensure_dir, explain_os_error
from tuilabel.core.errors import UserError
from tuilabel.core.gt.job import JobFolder, JobSpec, label_category_file
from tuilabel.core.store.journal import BAD, BLANK, NONE, Entry, Journal, line_sha1
from tuilabel.core.store.lock import JobLock
from tuilabel.core.data.manifest import BadRecord, Manifest, Record

if TYPE_CHECKING:
    from tuilabel.core.review import ReviewPlan

DECLINE_REASON = "Declined by the worker: bad or unusable data"


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


class Session:
    def __init__(self, spec: JobSpec, folder: JobFolder, manifest: Manifest, review: "ReviewPlan | None" = None):
        self.spec = spec
        self.folder = folder
        self.manifest = manifest
        self.journal = Journal(
            folder.journal(spec.worker),
            folder.checkpoint(spec.worker),
            folder.output_manifest,
            spec.label_attribute,
            len(spec.labels),
        )
        self.lock = JobLock(
            folder.lock(spec.worker), f"job {spec.name!r} for worker {spec.worker!r}"
        )
        self.state = State.LABELING
        self.current: Record | None = None
        self.current_answer: Entry | None = None  # the standing answer when reviewing
        self.messages: list[str] = []  # one line each, for the user: recovery, bad lines, input changes
        self.bad_lines = 0
        self._frontier: tuple[int, int] = (0, 0)  # (index, offset) where the pass continues
        self._skipped: set[int] = set()
        self._review_pos = -1  # position in `recent()` while reviewing
        self._shown_wall = datetime.now(timezone.utc)
        self._shown_mono = time.monotonic()
        self._started_mono = time.monotonic()
        self._session_answers = 0
        self._bad_report = None
        self._closed = False
        # Called after every committed answer (e.g. the S3 mirror marks files to upload).
        self.on_commit: list[Callable[[], None]] = []
        # A review (`tuilabel review`): the same states and keys, but only the records in
        # `review.order`, in that order, each with the consolidated answer to accept; every
        # decision is final and journaled with role "reviewer". None for a labeling job.
        self.review = review
        self._order_pos = 0  # review: position in review.order where the pass continues

    # -- open / close --------------------------------------------------------------------------

    def open(self) -> "Session":
        ensure_dir(self.folder.root)
        self.lock.acquire()
        try:
            self._write_job_files()
            recovery = self.journal.open()
            self.messages.extend(recovery.messages)
            self._check_input()
            self.manifest.start_indexing()
            self._resume()
        except BaseException:
            self.journal.close()
            self.manifest.close()
            self.lock.release()
            raise
        return self

    def _write_job_files(self) -> None:
        folder = self.folder
        if not folder.spec_file.exists():
            atomic_write(folder.spec_file, self.spec.to_json())
        label_file = label_category_file(list(self.spec.labels))
        try:
            same = folder.label_file.read_bytes() == label_file
        except OSError:
            same = False
        if not same:
            atomic_write(folder.label_file, label_file)

    def _check_input(self) -> None:
        """Say so when the input changed since the checkpoint; refuse if it was rewritten."""
        saved = self.journal.checkpoint.get("input")
        if not saved:
            return
        now = (self.manifest.size, self.manifest.mtime_ns)
        if now == (saved["size"], saved["mtime_ns"]):
            return
        old = self.manifest.fingerprint(saved["size"])
        if saved["size"] <= self.manifest.size and old.head_sha1 == saved["head_sha1"] and old.tail_sha1 == saved["tail_sha1"]:
            if self.manifest.size > saved["size"]:
                self.messages.append(
                    f"the input {self.manifest.display} grew since the last session "
                    f"({saved['size']:,} -> {self.manifest.size:,} bytes); new records are added to the job"
                )
            return
        raise UserError(
            f"the input {self.manifest.display} changed since the last session of job "
            f"{self.spec.name!r} (size {saved['size']:,} -> {self.manifest.size:,} bytes, content "
            "differs); answers are tied to line numbers, so label the new file as a new job "
            "(--name or --output)"
        )

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
        """Stop and resume later: everything is already on disk; save the resume point."""
        if self._closed:
            return
        self._closed = True
        try:
            self._save_checkpoint()
        except UserError as exc:
            self.messages.append(str(exc))
        finally:
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
            self._frontier = (index, offset)
            self.state = State.LABELING
            self._show(record)
            return

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

    def _commit(self, kind: str, value: int | list[int] | None, reason: str = "") -> None:
        record = self.current
        if record is None:
            raise UserError("there is no record to answer")
        now = datetime.now(timezone.utc)
        if kind == "a":
            obj = gt_lines.answer_object(record.data, self.spec, value, now)  # type: ignore[arg-type]
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
        self.journal.append(entry)
        self._session_answers += 1
        if self.journal.checkpoint_due():
            self._save_checkpoint()
        for hook in self.on_commit:
            hook()

    def answer(self, value: int | list[int]) -> None:
        """Label the current record (an index, or indexes for multi-label) and move on."""
        labels = self.spec.labels
        if self.spec.task_type.multi:
            chosen = sorted(set(value if isinstance(value, list) else [value]))
            if not chosen:
                raise UserError("pick at least one label")
            if any(not 0 <= v < len(labels) for v in chosen):
                raise UserError(f"label number out of range 1-{len(labels)}")
            value = chosen
        else:
            if isinstance(value, list):
                raise UserError("this job takes one label per record")
            if not 0 <= value < len(labels):
                raise UserError(f"label number out of range 1-{len(labels)}")
        self._commit("a", value)
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
        if answer is None:
            self._frontier = (index, offset)
            self.state = State.LABELING
            self._show(record)
        else:
            self.state = State.REVIEWING
            self._review_pos = len(self.recent())  # `]` returns to labeling
            self._show(record, answer)

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

    def progress(self) -> Progress:
        counting = not self.manifest.index_done
        bad = self.journal.bad
        total = None if counting else self.manifest.line_count - bad - self.journal.blank
        done = self.journal.answered + self.journal.declined
        if self.review is not None:
            total, done = len(self.review.order), self.review.decided(self.journal.status)
        elapsed = time.monotonic() - self._started_mono
        per_hour = self._session_answers / elapsed * 3600 if elapsed > 1 and self._session_answers else 0.0
        eta = None
        if total is not None and per_hour > 0:
            eta = max(0, total - done) / per_hour * 3600
        return Progress(done, total, counting, self.journal.answered, self.journal.declined, bad, per_hour, eta, self._session_answers)

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
        self.journal.save_checkpoint(
            cursor={"index": index, "offset": offset, "sha1": line_sha1(raw)},
            input=self.manifest.fingerprint().to_json(),
        )

    # -- end of job ------------------------------------------------------------------------------

    def finish(self) -> Path:
        """Write the canonical output.manifest (input order, latest answer wins)."""
        from tuilabel.core.gt.export import write_gt

        write_gt(self.folder, self.manifest, self.folder.output_manifest, self.spec.label_attribute,
                 keep_unanswered=self.review is not None)
        self.journal.output_replaced()
        self._save_checkpoint()
        for hook in self.on_commit:
            hook()
        return self.folder.output_manifest
