"""Streaming reader for Ground Truth input manifests (JSON Lines).

A record is one physical line; its index is the 0-based line number (GT's "line index from 0").
Nothing reads the whole file up front: `read_line(offset)` returns one line with `os.pread`,
and a background thread builds the offset index (4 bytes per line: `array('I')` blocks of
offsets relative to each block's base, see `LineIndex`) and the total count. Records are
parsed only when they are needed.
"""

from __future__ import annotations

import hashlib
import os
import threading
from array import array
from bisect import bisect_right
from dataclasses import dataclass
from itertools import accumulate
from pathlib import Path
from typing import Callable, Iterator

import orjson

from tuilabel.core.gt.limits import MAX_ATTRIBUTE_CHARS, MAX_LINE_CHARS  # over them a line is bad: GT refuses it

_BOM = b"\xef\xbb\xbf"
_READ_CHUNK = 64 * 1024
_INDEX_CHUNK = 1024 * 1024  # small reads keep the index builder's transient memory low
_ITER_CHUNK = 4 * 1024 * 1024
FINGERPRINT_BYTES = 64 * 1024


class BadRecord(Exception):
    """A line that is not a usable record; the message says why, in a few words."""


@dataclass(frozen=True, slots=True)
class Record:
    index: int  # 0-based line number
    offset: int  # byte offset of the line in the manifest
    next_offset: int  # byte offset of the following line
    data: dict  # the parsed object, every key as in the input
    raw: bytes  # the line's bytes without the line ending

    @property
    def lineno(self) -> int:
        return self.index + 1

    @property
    def source_ref(self) -> str | None:
        return self.data.get("source-ref")

    @property
    def source(self) -> str | None:
        return self.data.get("source")


def strip_line(raw: bytes, offset: int) -> bytes:
    """Drop the line ending (LF or CRLF) and, on the first line, a UTF-8 BOM."""
    if raw.endswith(b"\n"):
        raw = raw[:-1]
    if raw.endswith(b"\r"):
        raw = raw[:-1]
    if offset == 0 and raw.startswith(_BOM):
        raw = raw[3:]
    return raw


def is_blank(raw: bytes) -> bool:
    return not raw.strip()


def parse_record(raw: bytes) -> dict:
    """Parse one stripped line into a GT input object, or raise BadRecord with the reason."""
    if b"\x00" in raw:
        raise BadRecord(f"NUL byte at column {raw.index(0) + 1}")
    if len(raw) > MAX_LINE_CHARS:
        # bytes >= characters, so only decode to count when the byte length is over.
        try:
            chars = len(raw.decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise BadRecord(f"invalid UTF-8 at byte {exc.start + 1}") from None
        if chars > MAX_LINE_CHARS:
            raise BadRecord(f"line is {chars:,} characters, over GT's {MAX_LINE_CHARS:,} limit")
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError as uexc:
            raise BadRecord(f"invalid UTF-8 at byte {uexc.start + 1}") from None
        raise BadRecord(f"invalid JSON: {exc.msg} at column {exc.pos + 1}") from None
    if not isinstance(data, dict):
        raise BadRecord(f"not a JSON object (a {_json_kind(data)})")
    has_ref = "source-ref" in data
    has_src = "source" in data
    if has_ref and has_src:
        raise BadRecord("has both 'source' and 'source-ref'; GT takes exactly one")
    if not has_ref and not has_src:
        raise BadRecord("no 'source' or 'source-ref' key")
    key = "source-ref" if has_ref else "source"
    value = data[key]
    if not isinstance(value, str):
        raise BadRecord(f"'{key}' is a {_json_kind(value)}, not a string")
    if not value.strip():
        raise BadRecord(f"'{key}' is empty")
    for name, item in data.items():
        if isinstance(item, str) and len(item) > MAX_ATTRIBUTE_CHARS:
            raise BadRecord(
                f"'{name}' is {len(item):,} characters, over GT's {MAX_ATTRIBUTE_CHARS:,} limit"
            )
    return data


def _json_kind(value: object) -> str:
    return {
        list: "JSON array",
        str: "JSON string",
        int: "number",
        float: "number",
        bool: "boolean",
        dict: "JSON object",
    }.get(type(value), "null")


class LineIndex:
    """Line start offsets, one block per read chunk: `array('I')` offsets relative to the
    block's base (4 bytes a line), so the index never reallocates one big array (flat peak
    memory: 1M lines cost 4 MB)."""

    def __init__(self) -> None:
        self._blocks: list[array] = []
        self._bases: list[int] = []
        self._firsts: list[int] = []  # line index of each block's first entry
        self.count = 0

    def add(self, base: int, relative: array) -> None:
        if not relative:
            return
        self._blocks.append(relative)
        self._bases.append(base)
        self._firsts.append(self.count)
        self.count += len(relative)

    def last(self) -> int:
        return self._bases[-1] + self._blocks[-1][-1]

    def pop(self) -> None:
        self._blocks[-1].pop()
        self.count -= 1
        if not self._blocks[-1]:
            del self._blocks[-1], self._bases[-1], self._firsts[-1]

    def __getitem__(self, index: int) -> int:
        block = bisect_right(self._firsts, index) - 1
        return self._bases[block] + self._blocks[block][index - self._firsts[block]]


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """Enough to tell, in constant time, whether the input changed since a checkpoint."""

    size: int
    mtime_ns: int
    head_sha1: str  # of the first 64 KiB
    tail_sha1: str  # of the last 64 KiB (before `size`)

    def to_json(self) -> dict:
        return {
            "size": self.size,
            "mtime_ns": self.mtime_ns,
            "head_sha1": self.head_sha1,
            "tail_sha1": self.tail_sha1,
        }


def _sha1_range(fd: int, start: int, length: int) -> str:
    return hashlib.sha1(os.pread(fd, max(0, length), max(0, start))).hexdigest()


class Manifest:
    """One local manifest file: random access by byte offset, background line index."""

    def __init__(self, path: str | os.PathLike, base: str | None = None, display: str | None = None):
        self.path = Path(path)
        # Where relative source-refs resolve (the manifest's folder, or its S3 prefix).
        self.base = base if base is not None else str(self.path.resolve().parent)
        self.display = display or str(path)  # how to name the file in messages
        self._fd = os.open(self.path, os.O_RDONLY)
        st = os.fstat(self._fd)
        self.size = st.st_size
        self.mtime_ns = st.st_mtime_ns
        self._offsets = LineIndex()
        self._lock = threading.Lock()
        self._index_done = threading.Event()
        self._index_error: str | None = None
        self._thread: threading.Thread | None = None
        # Told `(lines, done)` by the index thread, whoever starts it (see start_indexing).
        self.on_index_progress: Callable[[int, bool], None] | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    def close(self) -> None:
        if self._thread is not None:
            self._stop = True
            self._thread.join()
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> "Manifest":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- fingerprint -------------------------------------------------------------------------

    def fingerprint(self, size: int | None = None) -> Fingerprint:
        size = self.size if size is None else min(size, self.size)
        return Fingerprint(
            size=size,
            mtime_ns=self.mtime_ns,
            head_sha1=_sha1_range(self._fd, 0, min(size, FINGERPRINT_BYTES)),
            tail_sha1=_sha1_range(
                self._fd, size - FINGERPRINT_BYTES, min(size, FINGERPRINT_BYTES)
            ),
        )

    # -- random access -----------------------------------------------------------------------

    def read_line(self, offset: int) -> tuple[bytes, int]:
        """The line starting at `offset` (ending stripped) and the offset of the next line."""
        if offset >= self.size:
            return b"", self.size
        chunks: list[bytes] = []
        pos = offset
        size = _READ_CHUNK
        while pos < self.size:
            chunk = os.pread(self._fd, size, pos)
            if not chunk:
                break
            nl = chunk.find(b"\n")
            if nl >= 0:
                chunks.append(chunk[: nl + 1])
                pos += nl + 1
                break
            chunks.append(chunk)
            pos += len(chunk)
            size = min(size * 4, 4 * 1024 * 1024)  # a 10 MB line takes a few reads, not 160
        return strip_line(b"".join(chunks), offset), pos

    def is_line_start(self, offset: int) -> bool:
        if offset == 0:
            return True
        if offset > self.size:
            return False
        return os.pread(self._fd, 1, offset - 1) == b"\n"

    def record_at(self, index: int, offset: int) -> Record:
        """Parse the line at `offset`; raises BadRecord (blank lines too: 'empty line')."""
        raw, nxt = self.read_line(offset)
        if is_blank(raw):
            raise BadRecord("empty line")
        return Record(index, offset, nxt, parse_record(raw), raw)

    # -- background index --------------------------------------------------------------------

    def start_indexing(self, on_progress: Callable[[int, bool], None] | None = None) -> None:
        """Build the line-offset index in a daemon thread; `on_progress(lines, done)`
        (default: `on_index_progress`, so a deferred index started by a lookup reports too)."""
        with self._lock:  # callers on several threads (offset_of, a UI's first frame)
            if self._thread is not None:
                return
            self._stop = False
            self._thread = threading.Thread(
                target=self._build_index, args=(on_progress or self.on_index_progress,),
                name="manifest-index", daemon=True,
            )
        self._thread.start()

    def build_index(self) -> None:
        """Build the index in this thread (for commands that need it all)."""
        if self._thread is None:
            self._stop = False
            self._build_index(None)
        else:
            self._index_done.wait()

    def _build_index(self, on_progress: Callable[[int, bool], None] | None) -> None:
        try:
            offsets = self._offsets
            pos = 0
            while pos < self.size and not self._stop:
                chunk = os.pread(self._fd, _INDEX_CHUNK, pos)
                if not chunk:
                    break
                # Starts of the lines after each newline, relative to `pos`, all in C:
                # split, len, accumulate (the first chunk also holds line 0 at 0).
                pieces = chunk.split(b"\n")
                starts = array("I", accumulate((len(p) + 1 for p in pieces[:-1]), initial=0))
                if pos > 0:
                    starts = starts[1:]
                with self._lock:
                    offsets.add(pos, starts)
                pos += len(chunk)
                if on_progress is not None:
                    on_progress(self._line_count_locked(), False)
            with self._lock:
                # A newline at the very end starts no line.
                if offsets.count and offsets.last() >= self.size:
                    offsets.pop()
        except OSError as exc:  # the file vanished or became unreadable mid-scan
            self._index_error = f"could not index {self.display}: {exc.strerror}"
        finally:
            self._index_done.set()
            if on_progress is not None:
                on_progress(self.line_count, True)

    def _line_count_locked(self) -> int:
        n = self._offsets.count
        if n and self._offsets.last() >= self.size:
            n -= 1
        return n

    @property
    def index_done(self) -> bool:
        return self._index_done.is_set()

    @property
    def index_error(self) -> str | None:
        return self._index_error

    def wait_index(self, timeout: float | None = None) -> bool:
        if self._thread is None:
            self.build_index()
        return self._index_done.wait(timeout)

    @property
    def line_count(self) -> int:
        """Lines indexed so far (the total once `index_done`)."""
        with self._lock:
            return self._line_count_locked()

    def offset_of(self, index: int) -> int:
        """Byte offset of line `index`; waits for the background index to get there (and
        starts it if it was deferred: see `Session.open(background=False)`)."""
        self.start_indexing()
        while True:
            with self._lock:
                if index < self._line_count_locked():
                    return self._offsets[index]
            if self._index_done.is_set():
                raise IndexError(f"line {index + 1} is past the end of {self.display}")
            self._index_done.wait(0.01)

    # -- sequential reading (export, check, stats) --------------------------------------------

    def iter_lines(
        self, start_offset: int = 0, start_index: int = 0
    ) -> Iterator[tuple[int, int, int, bytes]]:
        """(index, offset, next offset, stripped raw line) for every line from `start_offset`."""
        index = start_index
        pos = start_offset
        carry = b""
        carry_pos = pos
        while pos < self.size:
            chunk = os.pread(self._fd, _ITER_CHUNK, pos)
            if not chunk:
                break
            pos += len(chunk)
            data = carry + chunk if carry else chunk
            base = carry_pos
            lines = data.split(b"\n")
            carry = lines.pop()
            off = base
            for line in lines:
                nxt = off + len(line) + 1
                yield index, off, nxt, strip_line(line, off)
                off = nxt
                index += 1
            carry_pos = off
        if carry:
            yield index, carry_pos, self.size, strip_line(carry, carry_pos)


def iter_records(manifest: Manifest, on_bad: Callable[[int, int, str], None] | None = None) -> Iterator[Record]:
    """Every good record in file order; bad lines go to `on_bad(index, offset, reason)`."""
    for index, offset, nxt, raw in manifest.iter_lines():
        if is_blank(raw):
            continue
        try:
            data = parse_record(raw)
        except BadRecord as exc:
            if on_bad is not None:
                on_bad(index, offset, str(exc))
            continue
        yield Record(index, offset, nxt, data, raw)
