"""A team job's output.manifest: each record's GT line, written once, as soon as it closes.

The lease store keeps the order in which records closed (complete with their N answers, or
with what they had when their availability lifetime ended; failed when every worker declined or
nobody answered). Any worker process may write: under the job's output lock it appends the
lines of the records closed since the store's `written` mark, fsyncs them, then moves the mark.
A writer killed in between left lines past the mark's `out_size`: the next writer cuts them
and writes them again, so every record is in the file exactly once.

Answers are consolidated with the default method (core/gt/consolidation.py, "gt") over the
records written together; the line carries GT's `confidence`. `tuilabel consolidate` refits
over the whole job afterwards if the owner wants the workers' matrices from all their answers.
"""

from __future__ import annotations

import os
from datetime import datetime, timezone

from tuilabel.core.data.manifest import BadRecord, Manifest
from tuilabel.core.gt import lines as gt_lines
from tuilabel.core.gt.consolidate_job import ALL_DECLINED, NO_ANSWER, consolidated_object
from tuilabel.core.gt.consolidation import Answers, consolidate
from tuilabel.core.gt.job import JobFolder, JobSpec
from tuilabel.core.gt.worker_responses import WorkerAnswer
from tuilabel.core.store.durable import append_durably, ensure_dir, explain_os_error
from tuilabel.core.store.journal import parse_entry
from tuilabel.core.store.lock import OutputGate
from tuilabel.core.team.leases import DECLINED, RecordState

BATCH = 2000  # closed records consolidated and written per round


class TeamOutput:
    """`mark`: where the writer keeps what the file holds (the store's written/mark_written on
    one host; a machine's own LocalMark when the job is in S3, see team/s3_output.py)."""

    def __init__(self, store, folder: JobFolder, spec: JobSpec, manifest: Manifest, mark=None):
        self.store = store
        self.mark = mark or store
        self.folder = folder
        self.spec = spec
        self.manifest = manifest
        self.problems: list[str] = []  # one line each (a stored answer that does not parse)

    def drain(self) -> int:
        """Write every record closed since the last write; the number of lines written."""
        written = 0
        while True:
            count = self._write_batch()
            written += count
            if count < BATCH:
                return written

    def _write_batch(self) -> int:
        path = self.folder.output_manifest
        ensure_dir(path.parent)
        with OutputGate(self.folder.output_gate):
            seq, size = self.mark.written()
            closed = self.store.closed_since(seq)[:BATCH]
            if not closed:
                return 0
            lines = self._lines([state for _, state in closed])
            try:
                fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
            except OSError as exc:
                raise explain_os_error(exc, path, "open") from None
            try:
                actual = os.fstat(fd).st_size
                if actual > size:
                    os.ftruncate(fd, size)  # a writer was killed after its append, before its mark
                elif actual < size:
                    self.problems.append(f"{path} is shorter than the team's lines written into it; "
                                         "lines from here on are appended to it as it is")
                    size = actual
                data = b"".join(lines)
                append_durably(fd, data)
            except OSError as exc:
                raise explain_os_error(exc, path, "append to") from None
            finally:
                os.close(fd)
            self.mark.mark_written(closed[-1][0], size + len(data))
        return len(closed)

    def _lines(self, states: list[RecordState]) -> list[bytes]:
        when = datetime.now(timezone.utc)
        records: dict[int, dict] = {}
        for state in states:
            try:
                records[state.record] = self.manifest.record_at(state.record, self.manifest.offset_of(state.record)).data
            except (BadRecord, IndexError):
                continue  # not a record (reported to the workers who were shown it): no line
        result, rows, comments = self._consolidate([s.record for s in states if s.state == "complete" and s.record in records])
        out = []
        for state in states:
            record = records.get(state.record)
            if record is None:
                continue
            if state.record in rows:
                obj = consolidated_object(record, self.spec, result, rows[state.record], when,
                                          comments.get(state.record, ()))
            else:
                reason = ALL_DECLINED if state.reason == DECLINED else NO_ANSWER
                obj = gt_lines.declined_object(record, self.spec, reason, when)
            out.append(gt_lines.dumps_line(obj))
        return out

    def _consolidate(self, records: list[int]):
        """(the consolidation, record -> its row, verification comments per record)."""
        spec = self.spec
        task = spec.task_type
        answers: list[WorkerAnswer] = []
        comments_of: dict[int, list[str]] = {}
        for record in records:
            for worker, line in self.store.answers(record).items():
                entry = parse_entry(line) if line else None
                value = entry.gt.get(spec.label_attribute) if entry is not None else None
                if entry is None or value is None:
                    self.problems.append(f"record {record + 1}: {worker}'s stored answer does not parse; left out")
                    continue
                chosen = value if isinstance(value, list) else [value]
                names = [spec.labels[i] for i in chosen if isinstance(i, int) and 0 <= i < len(spec.labels)]
                content = {"labels": names} if task.multi else {"label": names[0] if names else ""}
                if task.verification:
                    comments_of.setdefault(record, []).extend(gt_lines.feedback_of(entry.gt, spec.label_attribute))
                answers.append(WorkerAnswer(record, worker, task.element, content, entry.submitted,
                                            entry.accepted, entry.seconds, str(self.folder.journal(worker))))
        if not answers:
            return None, {}, comments_of
        problems: list[str] = []
        table = Answers.from_worker_answers(answers, spec.labels, problems, multi=task.multi)
        self.problems.extend(problems)
        if not table.n_answers:
            return None, {}, comments_of
        result = consolidate(table, "gt")
        return result, {int(r): i for i, r in enumerate(result.record)}, comments_of

