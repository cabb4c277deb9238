"""The answer journal: an append-only, fsynced log of one worker's answers, and its checkpoint.

Each line is one answer (or decline), compact JSON with the GT output object last:
    {"i":12,"o":3456,"k":"a","w":"alice","at":"…Z","st":"…Z","ts":3.2,"gt":{…}}
`i` is the record's line index, `o` its byte offset in the input. The latest line for a record
wins everywhere (undo/relabel append, never rewrite). The GT object is appended to
`output.manifest` as well, so the GT output grows line by line as the worker labels.

The checkpoint (replaced atomically every few seconds and on close) holds the journal length it
covers, the resume cursor (index, byte offset, a hash of that line), the input's fingerprint and
a per-record status byte array. Opening replays only the journal lines after the checkpoint, so
resuming costs the same at record 10 or 900,000.
"""

from __future__ import annotations

import base64
import hashlib
import mmap
import os
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import orjson

from tuilabel.core.store.durable import append_durably, atomic_write, ensure_dir, explain_os_error

# Per-record status bytes (one byte per input line).
NONE = 0
ANSWERED = 1
DECLINED = 2
BAD = 3  # not a usable record (invalid line): reported, never shown
BLANK = 4  # an empty line: not a record at all

HISTORY_MAX = 200
CHECKPOINT_EVERY_SECONDS = 2.0
CHECKPOINT_EVERY_ANSWERS = 500
GT_MARK = b',"gt":'  # where the GT object starts in a journal line
_TAIL_READ = 256 * 1024


@dataclass(slots=True)
class Entry:
    index: int
    offset: int
    kind: str  # "a" answered, "d" declined
    worker: str
    accepted: str
    submitted: str
    seconds: float
    gt: dict
    role: str = ""  # "reviewer" for a review's final decision (`"r"`, only written when set)

    def to_line(self) -> bytes:
        head = {
            "i": self.index,
            "o": self.offset,
            "k": self.kind,
            "w": self.worker,
            "at": self.accepted,
            "st": self.submitted,
            "ts": self.seconds,
        }
        if self.role:
            head["r"] = self.role
        return orjson.dumps(head)[:-1] + GT_MARK + orjson.dumps(self.gt) + b"}\n"

    @classmethod
    def from_line(cls, line: bytes) -> "Entry":
        obj = orjson.loads(line)
        return cls(
            obj["i"], obj["o"], obj["k"], obj["w"], obj["at"], obj["st"], obj["ts"], obj["gt"], obj.get("r", "")
        )


def gt_bytes(line: bytes) -> bytes:
    """The GT output object inside a journal line, without parsing it."""
    start = line.index(GT_MARK) + len(GT_MARK)
    end = line.rindex(b"}")
    return line[start:end]


def entry_index(line: bytes) -> int:
    """The record index of a journal line (`{"i":N,…`), without parsing it."""
    return int(line[5 : line.index(b",", 5)])


@dataclass
class Recovery:
    """What opening found and fixed; each message is one line for the user."""

    messages: list[str] = field(default_factory=list)
    replayed: int = 0
    full_replay: bool = False


class Journal:
    def __init__(
        self,
        journal_path: Path,
        checkpoint_path: Path,
        output_manifest: Path,
        attr: str,
        n_labels: int,
    ):
        self.attr = attr
        self.label_counts = [0] * n_labels
        self.path = journal_path
        self.checkpoint_path = checkpoint_path
        self.output_manifest = output_manifest
        self.status = bytearray()
        self.history: list[Entry] = []  # the latest answers, oldest first
        self.answered = 0
        self.declined = 0
        self.bad = 0  # lines marked BAD / BLANK (kept up to date: progress asks on every key)
        self.blank = 0
        self.checkpoint: dict = {}
        self.size = 0
        self._fd = -1
        self._out_fd = -1
        self._since_checkpoint = 0
        self._last_checkpoint = time.monotonic()
        self.canonical_journal_size = -1

    # -- open and recover --------------------------------------------------------------------

    def open(self, repair_output: bool = True) -> Recovery:
        """Replay the journal past the checkpoint and repair torn tails. `repair_output=False`
        leaves output.manifest alone (export has just rewritten it canonically)."""
        rec = Recovery()
        ensure_dir(self.path.parent)
        ensure_dir(self.output_manifest.parent)
        try:
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
            self._out_fd = os.open(self.output_manifest, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
        except OSError as exc:
            raise explain_os_error(exc, self.path.parent, "open the job in") from None
        self.size = os.fstat(self._fd).st_size
        # Temp files of an export that was killed before its rename: never the real output.
        for stale in self.output_manifest.parent.glob(f".{self.output_manifest.name}.*.tmp"):
            try:
                stale.unlink()
            except OSError:
                pass
        self.checkpoint = self._read_checkpoint(rec)
        start = int(self.checkpoint.get("journal_size", 0))
        if start > self.size:
            rec.messages.append(
                f"{self.path} is shorter than its checkpoint says; rebuilding the resume point from it"
            )
            self.checkpoint = {}
            start = 0
        if not self.checkpoint:
            rec.full_replay = start == 0 and self.size > 0
            self.status = bytearray()
        else:
            self.status = bytearray(zlib.decompress(base64.b64decode(self.checkpoint["status"])))
            self.answered = self.checkpoint.get("answered", 0)
            counts = self.checkpoint.get("label_counts") or []
            if len(counts) == len(self.label_counts):
                self.label_counts = list(counts)
            self.declined = self.checkpoint.get("declined", 0)
            self.canonical_journal_size = self.checkpoint.get("canonical_journal_size", -1)
        self._replay(start, rec)
        self.bad, self.blank = self.status.count(BAD), self.status.count(BLANK)
        self._load_history()
        if repair_output:
            self._repair_output(rec)
        return rec

    def _read_checkpoint(self, rec: Recovery) -> dict:
        try:
            data = self.checkpoint_path.read_bytes()
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise explain_os_error(exc, self.checkpoint_path, "read") from None
        try:
            obj = orjson.loads(data)
            if obj.get("version") != 1 or "status" not in obj:
                raise ValueError("unknown checkpoint version")
            return obj
        except (ValueError, orjson.JSONDecodeError):
            rec.messages.append(f"{self.checkpoint_path} is unreadable; rebuilding it from the journal")
            return {}

    def _replay(self, start: int, rec: Recovery) -> None:
        """Apply journal lines after `start`; cut a torn last line (never committed)."""
        if self.size <= start:
            return
        good_end = start
        with open(self.path, "rb") as fh:
            fh.seek(start)
            pos = start
            for line in fh:
                if not line.endswith(b"\n"):
                    break  # torn: the write of this answer never completed
                try:
                    entry = Entry.from_line(line)
                except (ValueError, KeyError, TypeError, orjson.JSONDecodeError):
                    break
                self._apply(entry, pos)
                rec.replayed += 1
                pos += len(line)
                good_end = pos
        if good_end < self.size:
            torn = self.size - good_end
            rec.messages.append(
                f"repaired a torn last line in {self.path} ({torn} bytes of an answer that was "
                "never committed); every committed answer is intact"
            )
            try:
                os.ftruncate(self._fd, good_end)
                os.fsync(self._fd)
            except OSError as exc:
                raise explain_os_error(exc, self.path, "repair") from None
            self.size = good_end

    def labels_of(self, entry: Entry) -> list[int]:
        if entry.kind != "a":
            return []
        value = entry.gt.get(self.attr)
        if isinstance(value, list):
            return [v for v in value if isinstance(v, int)]
        return [value] if isinstance(value, int) else []

    def _count(self, entry: Entry, sign: int) -> None:
        for label in self.labels_of(entry):
            if 0 <= label < len(self.label_counts):
                self.label_counts[label] += sign

    def _apply(self, entry: Entry, position: int) -> None:
        """Update status and counts for `entry`, which starts at journal byte `position`."""
        i = entry.index
        if i >= len(self.status):
            self.status.extend(bytes(i + 1 - len(self.status)))
        old = self.status[i]
        new = ANSWERED if entry.kind == "a" else DECLINED
        if old == ANSWERED:
            previous = self._find(i, position)
            if previous is not None:
                self._count(previous, -1)
        self._count(entry, +1)
        if old == ANSWERED:
            self.answered -= 1
        elif old == DECLINED:
            self.declined -= 1
        if new == ANSWERED:
            self.answered += 1
        else:
            self.declined += 1
        self.status[i] = new

    def _tail_lines(self, limit: int) -> list[bytes]:
        """The last `limit` complete lines of the journal, read from its end."""
        if self.size == 0:
            return []
        read = min(self.size, _TAIL_READ)
        data = os.pread(self._fd, read, self.size - read)
        lines = data.split(b"\n")[:-1]
        if read < self.size:
            lines = lines[1:]  # the first piece may be a partial line
        return lines[-limit:]

    def _load_history(self) -> None:
        self.history = []
        for line in self._tail_lines(HISTORY_MAX):
            try:
                self.history.append(Entry.from_line(line))
            except (ValueError, KeyError, TypeError, orjson.JSONDecodeError):
                continue

    def _repair_output(self, rec: Recovery) -> None:
        """Make output.manifest end with the last committed answer, whole.

        The journal is written (and fsynced) first; a kill between the two writes leaves the
        output one line short, or with a torn line. Both are fixed here from the journal.
        """
        out_size = os.fstat(self._out_fd).st_size
        if out_size:
            last = os.pread(self._out_fd, 1, out_size - 1)
            if last != b"\n":
                read = min(out_size, 16 * 1024 * 1024)
                tail = os.pread(self._out_fd, read, out_size - read)
                cut = tail.rfind(b"\n")
                new_size = out_size - read + cut + 1 if cut >= 0 else 0
                os.ftruncate(self._out_fd, new_size)
                rec.messages.append(
                    f"repaired a torn last line in {self.output_manifest} ({out_size - new_size} bytes)"
                )
                out_size = new_size
        if not self.history or self.size == self.canonical_journal_size:
            if out_size == 0 and self.size > 0 and self.size != self.canonical_journal_size:
                rec.messages.append(f"{self.output_manifest} was missing; run `tuilabel export` to rebuild it")
            return
        expected = gt_bytes(self.history[-1].to_line()) + b"\n"
        if out_size < len(expected) or os.pread(
            self._out_fd, len(expected), out_size - len(expected)
        ) != expected:
            append_durably(self._out_fd, expected)
            rec.messages.append(f"restored the last answer's line in {self.output_manifest}")
        os.fsync(self._out_fd)

    # -- writing -----------------------------------------------------------------------------

    def append(self, entry: Entry) -> None:
        """Commit one answer: journal written + fsynced, then the GT line to output.manifest."""
        line = entry.to_line()
        try:
            append_durably(self._fd, line)
        except OSError as exc:
            # Undo a partial write so the journal stays whole; earlier answers are untouched.
            try:
                os.ftruncate(self._fd, self.size)
            except OSError:
                pass
            raise explain_os_error(exc, self.path, "save the answer to") from None
        self._apply(entry, self.size)
        self.size += len(line)
        self.history.append(entry)
        if len(self.history) > HISTORY_MAX * 2:
            del self.history[:HISTORY_MAX]
        out_size = os.fstat(self._out_fd).st_size
        try:
            append_durably(self._out_fd, gt_bytes(line) + b"\n")
        except OSError as exc:
            # The answer is committed in the journal; the output line is restored on next start.
            # Cut a partly written line now, or the next append would be glued onto it.
            try:
                os.ftruncate(self._out_fd, out_size)
            except OSError:
                pass
            raise explain_os_error(exc, self.output_manifest, "append to") from None
        self._since_checkpoint += 1

    def mark(self, index: int, status: int) -> None:
        """Record a non-answer status (BAD, BLANK) for a line."""
        if index >= len(self.status):
            self.status.extend(bytes(index + 1 - len(self.status)))
        old = self.status[index]
        self.bad += (status == BAD) - (old == BAD)
        self.blank += (status == BLANK) - (old == BLANK)
        self.status[index] = status

    def status_of(self, index: int) -> int:
        return self.status[index] if index < len(self.status) else NONE

    def checkpoint_due(self) -> bool:
        return (
            self._since_checkpoint >= CHECKPOINT_EVERY_ANSWERS
            or (self._since_checkpoint and time.monotonic() - self._last_checkpoint >= CHECKPOINT_EVERY_SECONDS)
        )

    def save_checkpoint(self, **fields: object) -> None:
        obj = {
            "version": 1,
            "journal_size": self.size,
            "answered": self.answered,
            "declined": self.declined,
            "label_counts": self.label_counts,
            "canonical_journal_size": self.canonical_journal_size,
            "status": base64.b64encode(zlib.compress(bytes(self.status), 1)).decode("ascii"),
            "saved": time.time(),
        }
        obj.update(fields)
        atomic_write(self.checkpoint_path, orjson.dumps(obj))
        self.checkpoint = obj
        self._since_checkpoint = 0
        self._last_checkpoint = time.monotonic()

    def output_replaced(self) -> None:
        """output.manifest was just rewritten canonically from this journal."""
        os.close(self._out_fd)
        self._out_fd = os.open(self.output_manifest, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
        self.canonical_journal_size = self.size

    def close(self) -> None:
        for fd in (self._fd, self._out_fd):
            if fd >= 0:
                os.close(fd)
        self._fd = self._out_fd = -1

    # -- reading -----------------------------------------------------------------------------

    def latest_for(self, index: int) -> Entry | None:
        """The newest answer for a record: recent history first, then a backwards search."""
        for entry in reversed(self.history):
            if entry.index == index:
                return entry
        if self.status_of(index) not in (ANSWERED, DECLINED):
            return None
        return self._find(index, self.size)

    def _find(self, index: int, end: int) -> Entry | None:
        """The last journal line for `index` that starts before byte `end` (nearest first)."""
        if end <= 0:
            return None
        with open(self.path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
            needle = b'{"i":%d,' % index
            pos = mm.rfind(b"\n" + needle, 0, end)
            start = pos + 1 if pos >= 0 else (0 if mm[: len(needle)] == needle else -1)
            if start < 0:
                return None
            stop = mm.find(b"\n", start)
            return Entry.from_line(mm[start : stop + 1])


def iter_journal(path: Path) -> Iterator[bytes]:
    """Every complete line of a journal file (a torn last line is left out)."""
    with open(path, "rb") as fh:
        for line in fh:
            if line.endswith(b"\n"):
                yield line


def line_sha1(raw: bytes) -> str:
    return hashlib.sha1(raw).hexdigest()
