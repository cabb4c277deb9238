"""Exports of a job: GT's canonical output manifest, and flat CSV / JSON Lines.

Canonical = input order, one line per answered or declined record, the latest answer wins.
Records without an answer (an unfinished job) and unusable input lines are left out and counted.
Every export is atomic: a temp file in the destination folder, fsynced, then renamed.
"""

from __future__ import annotations

import csv
import io
import mmap
from array import array
from dataclasses import dataclass
from pathlib import Path

import orjson

from tuilabel.core.store.durable import atomic_write
from tuilabel.core.gt.job import JobFolder
from tuilabel.core.store.journal import GT_MARK, Entry, entry_index, iter_journal
from tuilabel.core.data.manifest import Manifest

# Journal pages already read are dropped from this process every so often: the journal of a
# 1M-answer job is ~350 MB and would otherwise all count as resident memory.
_RELEASE_EVERY = 16 * 1024 * 1024


def _release(mm: mmap.mmap, upto: int) -> None:
    upto -= upto % mmap.PAGESIZE
    if upto > 0:
        mm.madvise(mmap.MADV_DONTNEED, 0, upto)


@dataclass(frozen=True)
class ExportResult:
    path: Path
    written: int
    declined: int
    unanswered: int


def _journals_oldest_first(folder: JobFolder) -> list[Path]:
    # Several workers' journals: the most recently active worker's answer wins on conflicts.
    return sorted(folder.journals(), key=lambda p: p.stat().st_mtime_ns)


def write_gt(folder: JobFolder, manifest: Manifest, dest: Path, attr: str, keep_unanswered: bool = False) -> ExportResult:
    """`keep_unanswered`: lines without an answer are written as they are in the input (a
    review's input is a consolidated output: every line stays, decisions replace labels)."""
    manifest.wait_index()
    n = manifest.line_count
    # Per record: which journal, where its GT object starts, how long it is (-1: no answer).
    which = array("b", [-1]) * n
    starts = array("q", [0]) * n
    lengths = array("I", [0]) * n
    journals = _journals_oldest_first(folder)
    maps: list[mmap.mmap] = []
    files = []
    declined_flag = bytearray(n)
    try:
        for j, path in enumerate(journals):
            fh = open(path, "rb")
            files.append(fh)
            if path.stat().st_size == 0:
                maps.append(None)  # type: ignore[arg-type]
                continue
            mm = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
            maps.append(mm)
            pos = 0
            end = len(mm)
            released = 0
            while pos < end:
                if pos - released >= _RELEASE_EVERY:
                    _release(mm, pos)
                    released = pos
                nl = mm.find(b"\n", pos)
                if nl < 0:
                    break  # torn last line: not committed
                i = int(mm[pos + 5 : mm.find(b",", pos + 5)])
                g = mm.find(GT_MARK, pos, nl) + len(GT_MARK)
                if i < n:
                    declined_flag[i] = mm.find(b'"k":"d"', pos, g) >= 0
                    which[i] = j
                    starts[i] = g
                    lengths[i] = nl - 1 - g  # drop the wrapper's closing brace
                pos = nl + 1

        counts = {"written": 0, "declined": 0}

        def write(fh: io.BufferedWriter) -> None:
            buf = []
            written = 0
            released = [0] * len(maps)
            for i in range(n):
                j = which[i]
                if j < 0:
                    if keep_unanswered:
                        raw = manifest.read_line(manifest.offset_of(i))[0]
                        if raw.strip():
                            buf.append(raw)
                    continue
                s = starts[i]
                buf.append(maps[j][s : s + lengths[i]])
                written += 1
                if len(buf) >= 4096:
                    buf.append(b"")
                    fh.write(b"\n".join(buf))
                    buf = []
                    # Answers mostly come in input order: drop what lies behind this one.
                    if s - released[j] >= _RELEASE_EVERY:
                        _release(maps[j], s - _RELEASE_EVERY // 2)
                        released[j] = s
            if buf:
                buf.append(b"")
                fh.write(b"\n".join(buf))
            counts["written"] = written

        atomic_write(dest, write)
        written = counts["written"]
        declined = declined_flag.count(1)  # set only for answered records, latest wins
        return ExportResult(dest, written, declined, max(0, n - written))
    finally:
        for mm in maps:
            if mm is not None:
                mm.close()
        for fh in files:
            fh.close()


def latest_entries(folder: JobFolder) -> dict[int, Entry]:
    latest: dict[int, Entry] = {}
    for path in _journals_oldest_first(folder):
        for line in iter_journal(path):
            latest[entry_index(line)] = Entry.from_line(line)
    return latest


FLAT_FIELDS = (
    "line",
    "source",
    "status",
    "label",
    "label_index",
    "failure_reason",
    "worker",
    "acceptance_time",
    "submission_time",
    "time_spent_seconds",
)


def flat_rows(folder: JobFolder, attr: str, labels: tuple[str, ...]):
    latest = latest_entries(folder)
    for index in sorted(latest):
        entry = latest[index]
        obj = entry.gt
        meta = obj.get(attr + "-metadata", {})
        value = obj.get(attr)
        if isinstance(value, list):
            names = [labels[v] for v in value]
            label, label_index = names, value
        elif isinstance(value, int):
            label, label_index = labels[value], value
        else:
            label, label_index = None, None
        yield {
            "line": index + 1,
            "source": obj.get("source-ref", obj.get("source")),
            "status": "declined" if entry.kind == "d" else "answered",
            "label": label,
            "label_index": label_index,
            "failure_reason": meta.get("failure-reason"),
            "worker": entry.worker,
            "acceptance_time": entry.accepted,
            "submission_time": entry.submitted,
            "time_spent_seconds": entry.seconds,
        }


def write_flat(folder: JobFolder, dest: Path, fmt: str, attr: str, labels: tuple[str, ...]) -> int:
    rows = 0

    def write(fh: io.BufferedWriter) -> None:
        nonlocal rows
        if fmt == "jsonl":
            for row in flat_rows(folder, attr, labels):
                fh.write(orjson.dumps(row, option=orjson.OPT_APPEND_NEWLINE))
                rows += 1
            return
        text = io.TextIOWrapper(fh, encoding="utf-8", newline="")
        writer = csv.DictWriter(text, fieldnames=FLAT_FIELDS)
        writer.writeheader()
        for row in flat_rows(folder, attr, labels):
            if isinstance(row["label"], list):
                row["label"] = ";".join(row["label"])
                row["label_index"] = ";".join(map(str, row["label_index"]))
            writer.writerow(row)
            rows += 1
        text.flush()
        text.detach()

    atomic_write(dest, write)
    return rows
