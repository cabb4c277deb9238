"""The answer journal: an append-only, fsynced log of one worker's answers, and its checkpoint.

Each line is one answer (or decline), compact JSON with the GT output object last:
    {"i":12,"o":3456,"k":"a","w":"alice","at":"…Z","st":"…Z","ts":3.2,"gt":{…}}
`i` is the record's line index, `o` its byte offset in the input; a review's decisions also
carry `"r":"reviewer"` (before `gt`). The latest line for a record wins everywhere
(undo/relabel append, never rewrite). The GT object is appended to
`output.manifest` as well, so the GT output grows line by line as the worker labels.

The checkpoint (replaced atomically every few seconds and on close) holds the journal length it
covers, the resume cursor (index, byte offset, a hash of that line), the input's fingerprint and
a per-record status byte array, and names what it was made from (the job and worker, a hash of
the 4 KiB of journal before its end): a checkpoint of another job or time is not used. Opening
replays only the journal lines after the checkpoint, so resuming costs the same at record 10 or
900,000. Only bytes after the last newline are a torn tail (cut); a complete line that does not
parse is damage, moved to a `.corrupt` file with its offset, and every other line is kept.
"""

from __future__ import annotations

import base64
import hashlib
import mmap
import os
import threading
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
        entry = parse_entry(line)
        if entry is None:
            raise ValueError("not a journal line")
        return entry


def parse_entry(line: bytes) -> Entry | None:
    """The answer in a complete journal line, or None when the line is corrupt.

    Besides JSON, the fields must have their types, and the record index can be no larger than
    its byte offset (every line takes at least one byte): a flipped digit cannot make a
    record index of 10^12 that would grow the status array to match.
    """
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(obj, dict):
        return None
    try:
        i, o, k, w, at, st, ts, gt = (obj[key] for key in ("i", "o", "k", "w", "at", "st", "ts", "gt"))
    except KeyError:
        return None
    if (
        type(i) is not int or type(o) is not int or not 0 <= i <= o
        or k not in ("a", "d") or not isinstance(gt, dict)
        or not (isinstance(w, str) and isinstance(at, str) and isinstance(st, str))
        or type(ts) not in (int, float)
    ):
        return None
    role = obj.get("r", "")
    return Entry(i, o, k, w, at, st, ts, gt, role if isinstance(role, str) else "")


def gt_bytes(line: bytes) -> bytes:
    """The GT output object inside a journal line, without parsing it."""
    start = line.index(GT_MARK) + len(GT_MARK)
    end = line.rindex(b"}")
    return line[start:end]


def _salvage(line: bytes) -> tuple[Entry | None, int]:
    """A damaged line may end with a whole answer (its own newline was the damage): that
    answer and where it starts, or (None, len(line))."""
    k = line.find(b'{"i":', 1)
    while k > 0:
        entry = parse_entry(line[k:])
        if entry is not None:
            return entry, k
        k = line.find(b'{"i":', k + 1)
    return None, len(line)


@dataclass
class Recovery:
    """What opening found and fixed; each message is one line for the user."""

    messages: list[str] = field(default_factory=list)
    replayed: int = 0
    full_replay: bool = False


def set_aside(corrupt_path: Path, source: Path, pieces: list[tuple[int, bytes]]) -> None:
    """Append unreadable bytes to the job's `.corrupt` file, each under a header naming the
    file and byte offset they came from, so nothing is deleted (a person may still read them)."""
    ensure_dir(corrupt_path.parent)
    chunks = []
    for offset, data in pieces:
        chunks.append(f"# {source} byte {offset}: {len(data)} bytes\n".encode())
        chunks.append(data if data.endswith(b"\n") else data + b"\n")
    try:
        fd = os.open(corrupt_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            append_durably(fd, b"".join(chunks))
        finally:
            os.close(fd)
    except OSError as exc:
        raise explain_os_error(exc, corrupt_path, "set aside corrupt lines in") from None


class Journal:
    def __init__(
        self,
        journal_path: Path,
        checkpoint_path: Path,
        output_manifest: Path | None,
        attr: str,
        n_labels: int,
        corrupt_path: Path | None = None,
        identity: str = "",
    ):
        self.attr = attr
        # Where corrupt journal lines are moved (default: beside the journal).
        self.corrupt_path = corrupt_path or journal_path.with_name(journal_path.name + ".corrupt")
        self.identity = identity  # "job/worker": a checkpoint of another job is not used
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
        # Held by append; a background rewrite of output.manifest takes it for the moment it
        # swaps the file (uncontended otherwise: well under a microsecond per answer).
        self.lock = threading.Lock()
        # Every answer appended since open was a record past all earlier answers (labeling in
        # input order, no relabel): the appended output lines are then in canonical order.
        self.appended_in_order = True
        self._last_done = -1

    # -- open and recover --------------------------------------------------------------------

    def open(self) -> Recovery:
        """Replay the journal past the checkpoint, repair a torn tail, set corrupt lines aside.
        output.manifest is opened for appends but not touched (see repair_output)."""
        rec = Recovery()
        ensure_dir(self.path.parent)
        try:
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
            if self.output_manifest is not None:
                ensure_dir(self.output_manifest.parent)
                self._out_fd = os.open(self.output_manifest, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
        except OSError as exc:
            raise explain_os_error(exc, self.path.parent, "open the job in") from None
        self.size = os.fstat(self._fd).st_size
        # Temp files of an export that was killed before its rename: never the real output.
        for stale in self.output_manifest.parent.glob(f".{self.output_manifest.name}.*.tmp") if self.output_manifest else ():
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
        elif start and "journal_tail" in self.checkpoint and self.checkpoint["journal_tail"] != self._tail_hash(start):
            # (a checkpoint from before this check has no journal_tail: trusted as it was)
            rec.messages.append(
                f"{self.checkpoint_path} does not match {self.path} (a copy from another job or "
                "another time); rebuilding the resume point from the journal"
            )
            self.checkpoint = {}
            start = 0
        if not self.checkpoint:
            rec.full_replay = start == 0 and self.size > 0
            self.status = bytearray()
        else:
            self.status = self.checkpoint.pop("_status")
            self.answered = self.checkpoint.get("answered", 0)
            counts = self.checkpoint.get("label_counts") or []
            if len(counts) == len(self.label_counts):
                self.label_counts = list(counts)
            self.declined = self.checkpoint.get("declined", 0)
        self._replay(start, rec)
        self.bad, self.blank = self.status.count(BAD), self.status.count(BLANK)
        self._last_done = max(self.status.rfind(bytes([ANSWERED])), self.status.rfind(bytes([DECLINED])))
        self._load_history()
        return rec

    def _tail_hash(self, end: int) -> str:
        """Names the journal a checkpoint was made from: a hash of the 4 KiB before `end`."""
        start = max(0, end - 4096)
        return line_sha1(os.pread(self._fd, end - start, start))

    def _read_checkpoint(self, rec: Recovery) -> dict:
        try:
            data = self.checkpoint_path.read_bytes()
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise explain_os_error(exc, self.checkpoint_path, "read") from None
        try:
            obj = orjson.loads(data)
            if not isinstance(obj, dict) or obj.get("version") != 1:
                raise ValueError("unknown checkpoint version")
            if type(obj.get("journal_size", 0)) is not int or obj.get("journal_size", 0) < 0:
                raise ValueError("bad journal size")
            obj["_status"] = bytearray(zlib.decompress(base64.b64decode(obj["status"], validate=True)))
        except (ValueError, TypeError, KeyError, zlib.error, orjson.JSONDecodeError):
            rec.messages.append(f"{self.checkpoint_path} is unreadable; rebuilding it from the journal")
            return {}
        if self.identity and obj.get("job", self.identity) != self.identity:
            rec.messages.append(
                f"{self.checkpoint_path} belongs to {obj.get('job')!r}, not {self.identity!r}; "
                "rebuilding it from the journal"
            )
            return {}
        return obj

    def _replay(self, start: int, rec: Recovery) -> None:
        """Apply journal lines after `start`; cut a torn last line (never committed); move
        complete lines that do not parse aside (they may be damaged answers: never deleted)."""
        if self.size <= start:
            return
        good_end = start
        corrupt: list[tuple[int, bytes, int]] = []  # (offset, line, where a whole answer in it starts)
        with open(self.path, "rb") as fh:
            fh.seek(start)
            pos = start
            for line in fh:
                if not line.endswith(b"\n"):
                    break  # torn: only bytes after the last newline were never committed
                entry = parse_entry(line)
                if entry is None:
                    entry, keep = _salvage(line)
                    corrupt.append((pos, line, keep))
                    pos += keep
                    line = line[keep:]
                if entry is not None:
                    self._apply(entry, pos)
                    rec.replayed += 1
                pos += len(line)
                good_end = pos
        if corrupt:
            self._set_aside_corrupt(start, good_end, corrupt, rec)
            removed = sum(keep for _, _, keep in corrupt)
            good_end -= removed
            self.size -= removed
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

    def _set_aside_corrupt(self, start: int, end: int, corrupt: list[tuple[int, bytes, int]], rec: Recovery) -> None:
        """Rewrite the journal without its corrupt bytes (atomically), after saving them."""
        set_aside(self.corrupt_path, self.path, [(pos, line[:keep]) for pos, line, keep in corrupt])
        bad = {pos: keep for pos, _, keep in corrupt}

        def write(out) -> None:
            with open(self.path, "rb") as fh:
                remaining = start
                while remaining:  # the part the checkpoint covers, unchanged
                    block = fh.read(min(remaining, 1 << 20))
                    out.write(block)
                    remaining -= len(block)
                pos = start
                for line in fh:
                    # (the torn tail is copied too, and cut below like any other)
                    out.write(line[bad.get(pos, 0):] if pos < end else line)
                    pos += len(line)

        atomic_write(self.path, write)
        os.close(self._fd)
        self._fd = os.open(self.path, os.O_RDWR | os.O_APPEND)
        where = ", ".join(f"byte {pos}" for pos, _, _ in corrupt[:3]) + (" …" if len(corrupt) > 3 else "")
        rec.messages.append(
            f"{len(corrupt)} damaged line(s) in {self.path} ({where}) could not be read; moved to "
            f"{self.corrupt_path}; every other answer is kept"
        )

    def labels_of(self, entry: Entry) -> list[int]:
        if entry.kind != "a":
            return []
        value = entry.gt.get(self.attr)
        if isinstance(value, dict):  # boxes: one count per box
            value = [a.get("class_id") for a in value.get("annotations") or () if isinstance(a, dict)]
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
        self.history = [e for e in map(parse_entry, self._tail_lines(HISTORY_MAX)) if e is not None]

    def repair_output(self, alone: bool, since: int, grown: bool = True) -> list[str]:
        """Make sure output.manifest holds this journal's last answer, on a whole line.

        The journal is written (and fsynced) first; a kill between the two writes leaves the
        output one line short, or with a torn line. `since`: where lines appended after the
        last canonical rewrite begin; the last answer is looked for there (other workers may
        have appended after it). `alone`: no other session appends to the file, so a torn
        line may be cut; otherwise it is ended with a newline (never truncate a file that
        another live process appends to). `grown`: this journal has answers the last canonical
        rewrite did not include (otherwise there is nothing of ours to restore).
        """
        messages = []
        out_size = os.fstat(self._out_fd).st_size
        if out_size and os.pread(self._out_fd, 1, out_size - 1) != b"\n":
            if alone:
                read = min(out_size, 16 * 1024 * 1024)
                tail = os.pread(self._out_fd, read, out_size - read)
                cut = tail.rfind(b"\n")
                new_size = out_size - read + cut + 1 if cut >= 0 else 0
                os.ftruncate(self._out_fd, new_size)
                messages.append(f"repaired a torn last line in {self.output_manifest} ({out_size - new_size} bytes)")
                out_size = new_size
            else:
                append_durably(self._out_fd, b"\n")
                out_size += 1
                messages.append(f"ended a torn last line in {self.output_manifest} (another worker is appending)")
        if not self.history or not grown:
            return messages
        expected = gt_bytes(self.history[-1].to_line()) + b"\n"
        since = min(since, out_size)
        if out_size >= len(expected) and os.pread(self._out_fd, len(expected), out_size - len(expected)) == expected:
            return messages
        found = False
        if out_size > since:
            with mmap.mmap(self._out_fd, 0, access=mmap.ACCESS_READ) as mm:
                at = mm.rfind(expected, since)
                found = at >= 0 and (at == 0 or mm[at - 1] == 0x0A)
        if not found:
            append_durably(self._out_fd, expected)
            messages.append(f"restored the last answer's line in {self.output_manifest}")
        return messages

    # -- writing -----------------------------------------------------------------------------

    def append(self, entry: Entry) -> bytes:
        """Commit one answer: journal written + fsynced, then the GT line to output.manifest
        (a team job's journal has none: its output is consolidated per record). The line."""
        with self.lock:
            return self._append(entry)

    def _append(self, entry: Entry) -> bytes:
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
        if entry.index > self._last_done:
            self._last_done = entry.index
        else:
            self.appended_in_order = False
        self.size += len(line)
        self.history.append(entry)
        if len(self.history) > HISTORY_MAX * 2:
            del self.history[:HISTORY_MAX]
        self._since_checkpoint += 1
        if self._out_fd < 0:
            return line
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
        return line

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
            "job": self.identity,
            "journal_size": self.size,
            "journal_tail": self._tail_hash(self.size) if self.size else "",
            "answered": self.answered,
            "declined": self.declined,
            "label_counts": self.label_counts,
            "status": base64.b64encode(zlib.compress(bytes(self.status), 1)).decode("ascii"),
            "saved": time.time(),
        }
        obj.update(fields)
        atomic_write(self.checkpoint_path, orjson.dumps(obj))
        self.checkpoint = obj
        self._since_checkpoint = 0
        self._last_checkpoint = time.monotonic()

    def reopen_output(self) -> None:
        """output.manifest was just replaced (canonically, from the whole journal)."""
        os.close(self._out_fd)
        self._out_fd = os.open(self.output_manifest, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)

    def output_lines_since(self, offset: int) -> bytes:
        """The GT lines of the answers committed after journal byte `offset`."""
        if offset >= self.size:
            return b""
        lines = os.pread(self._fd, self.size - offset, offset).split(b"\n")[:-1]
        return b"".join(gt_bytes(line) + b"\n" for line in lines)

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
            while end > 0:
                pos = mm.rfind(b"\n" + needle, 0, end)
                start = pos + 1 if pos >= 0 else (0 if mm[: len(needle)] == needle else -1)
                if start < 0:
                    return None
                stop = mm.find(b"\n", start)
                entry = parse_entry(mm[start : stop + 1])
                if entry is not None:
                    return entry
                end = pos  # a damaged line (found before the checkpoint): look further back
            return None


def iter_journal(path: Path) -> Iterator[bytes]:
    """Every complete line of a journal file (a torn last line is left out)."""
    with open(path, "rb") as fh:
        for line in fh:
            if line.endswith(b"\n"):
                yield line


def line_sha1(raw: bytes) -> str:
    return hashlib.sha1(raw).hexdigest()
