"""Exports of a job: GT's canonical output manifest, and flat CSV / JSON Lines.

Canonical = input order, one line per answered or declined record, the latest answer wins.
Latest: within one worker's journal the later line; between workers the later submission time
(`st`), ties going to the worker whose folder name sorts last — never file times.
Records without an answer (an unfinished job) and unusable input lines are left out and counted.
A damaged journal line is skipped and named (file:line) in `skipped`; the other lines are used.
Every export is atomic: a temp file in the destination folder, fsynced, then renamed.
"""

from __future__ import annotations

import csv
import io
import mmap
import sys
from array import array
from dataclasses import asdict, dataclass
from pathlib import Path

import orjson

from tuilabel.core.errors import UserError
from tuilabel.core.store import canonical
from tuilabel.core.store.durable import atomic_write
from tuilabel.core.gt.job import JobFolder
from tuilabel.core.store.journal import GT_MARK, Entry, iter_journal, parse_entry
from tuilabel.core.store.lock import IdleWorkers, OutputGate
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
    skipped: tuple[str, ...] = ()  # damaged journal lines, as "file:line: reason"


_ST = b',"st":"'


def _damaged(path: Path, lineno: int) -> str:
    return f"{path}:{lineno}: damaged journal line skipped (not a whole answer)"


def write_gt(folder: JobFolder, manifest: Manifest, dest: Path, attr: str, limits: dict[Path, int] | None = None,
             keep_unanswered: bool = False) -> ExportResult:
    """`limits`: read only this many bytes of the named journals (one still being appended).
    `keep_unanswered`: lines without an answer are written as they are in the input (a
    review's input is a consolidated output: every line stays, decisions replace labels)."""
    manifest.wait_index()
    n = manifest.line_count
    # Per record: which journal, where its GT object starts, how long it is (-1: no answer).
    which = array("b", [-1]) * n
    starts = array("q", [0]) * n
    lengths = array("I", [0]) * n
    journals = folder.journals()  # sorted by worker folder: the order of ties
    maps: list[mmap.mmap] = []
    files = []
    skipped: list[str] = []
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
            end = min(len(mm), (limits or {}).get(path, len(mm)))
            released = 0
            lineno = 0
            # A NUL byte is never in a journal line (orjson escapes control characters): a
            # zeroed block from a crash. One C scan tells whether any line needs that check.
            has_nul = mm.find(b"\0", 0, end) >= 0
            while pos < end:
                if pos - released >= _RELEASE_EVERY:
                    _release(mm, pos)
                    released = pos
                nl = mm.find(b"\n", pos, end)
                if nl < 0:
                    break  # torn last line: not committed
                lineno += 1
                line_start = pos
                pos = nl + 1
                # The line's shape, checked in C (a full parse of 1M lines would double the
                # export's time): `{"i":N,`, the GT object, `}}` at the end, no NUL.
                comma = mm.find(b",", line_start + 5, nl)
                g = mm.find(GT_MARK, line_start, nl)
                st = mm.find(_ST, line_start, g) if g >= 0 else -1
                index = mm[line_start + 5 : comma]
                if (
                    mm[line_start : line_start + 5] != b'{"i":' or comma < 0 or not index.isdigit()
                    or st < 0 or mm[nl - 2 : nl] != b"}}" or (has_nul and mm.find(b"\0", line_start, nl) >= 0)
                ):
                    skipped.append(_damaged(path, lineno))
                    continue
                i = int(index)
                g += len(GT_MARK)
                if i < n:
                    if 0 <= which[i] != j and _submitted(mm, line_start, st) < _submitted_at(maps, which[i], starts[i]):
                        continue  # another worker answered this record later
                    declined_flag[i] = mm.find(b'"k":"d"', line_start, g) >= 0
                    which[i] = j
                    starts[i] = g
                    lengths[i] = nl - 1 - g  # drop the wrapper's closing brace

        counts = {"written": 0, "declined": 0}

        def write(fh: io.BufferedWriter) -> None:
            buf = []
            written = 0
            released = [0] * len(maps)
            for i in range(n):
                j = which[i]
                if j < 0:
                    if not keep_unanswered:
                        continue
                    raw = manifest.read_line(manifest.offset_of(i))[0]
                    if not raw.strip():
                        continue
                    buf.append(raw)
                else:
                    s = starts[i]
                    buf.append(maps[j][s : s + lengths[i]])
                written += 1
                if len(buf) >= 4096:
                    buf.append(b"")
                    fh.write(b"\n".join(buf))
                    buf = []
                    # Answers mostly come in input order: drop what lies behind this one.
                    if j >= 0 and s - released[j] >= _RELEASE_EVERY:
                        _release(maps[j], s - _RELEASE_EVERY // 2)
                        released[j] = s
            if buf:
                buf.append(b"")
                fh.write(b"\n".join(buf))
            counts["written"] = written

        atomic_write(dest, write)
        written = counts["written"]
        declined = declined_flag.count(1)  # set only for answered records, latest wins
        return ExportResult(dest, written, declined, max(0, n - written), tuple(skipped))
    finally:
        for mm in maps:
            if mm is not None:
                mm.close()
        for fh in files:
            fh.close()


def _submitted(mm: mmap.mmap, line_start: int, st: int) -> bytes:
    """The `st` value of the line at `line_start` (`st` found at byte `st` of it)."""
    begin = st + len(_ST)
    return mm[begin : mm.find(b'"', begin, begin + 40)]


def _submitted_at(maps: list, j: int, gt_start: int) -> bytes:
    """The `st` of the journal line whose GT object starts at `gt_start` in journal `j`."""
    mm = maps[j]
    st = mm.rfind(_ST, max(0, gt_start - 4096), gt_start)
    return _submitted(mm, 0, st)


def latest_entries(
    folder: JobFolder, skipped: list[str] | None = None, per_worker: dict[str, int] | None = None
) -> dict[int, Entry]:
    """The latest answer per record (the rule in the module docstring). Damaged lines are
    left out and, when `skipped` is given, named there as file:line; `per_worker`, when given,
    gets each worker's count of records they answered or declined (latest or not)."""
    latest: dict[int, Entry] = {}
    for path in folder.journals():  # sorted by worker folder: the order of ties
        mine: set[int] = set()  # records where this worker's answer is the latest so far
        answered: set[int] = set()
        worker = None
        for lineno, line in enumerate(iter_journal(path), 1):
            entry = parse_entry(line)
            if entry is None:
                if skipped is not None:
                    skipped.append(_damaged(path, lineno))
                continue
            answered.add(entry.index)
            worker = entry.worker
            old = latest.get(entry.index)
            if old is None or entry.index in mine or entry.submitted >= old.submitted:
                latest[entry.index] = entry
                mine.add(entry.index)
        if per_worker is not None and worker is not None:
            per_worker[worker] = per_worker.get(worker, 0) + len(answered)
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


def flat_rows(folder: JobFolder, attr: str, labels: tuple[str, ...], skipped: list[str] | None = None):
    latest = latest_entries(folder, skipped)
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


def write_flat(folder: JobFolder, dest: Path, fmt: str, attr: str, labels: tuple[str, ...], skipped: list[str] | None = None) -> int:
    """Returns the rows written; damaged journal lines are named in `skipped` (file:line)."""
    rows = 0

    def write(fh: io.BufferedWriter) -> None:
        nonlocal rows
        if fmt == "jsonl":
            for row in flat_rows(folder, attr, labels, skipped):
                fh.write(orjson.dumps(row, option=orjson.OPT_APPEND_NEWLINE))
                rows += 1
            return
        text = io.TextIOWrapper(fh, encoding="utf-8", newline="")
        writer = csv.DictWriter(text, fieldnames=FLAT_FIELDS)
        writer.writeheader()
        for row in flat_rows(folder, attr, labels, skipped):
            if isinstance(row["label"], list):
                row["label"] = ";".join(row["label"])
                row["label_index"] = ";".join(map(str, row["label_index"]))
            writer.writerow(row)
            rows += 1
        text.flush()
        text.detach()

    atomic_write(dest, write)
    return rows


@dataclass(frozen=True)
class CanonicalResult:
    """A canonical rewrite of output.manifest, or why it was left as it is (`busy`)."""

    export: ExportResult | None
    busy: tuple[str, ...] = ()  # workers whose sessions are labeling now
    sizes: dict[str, int] | None = None  # the journal sizes it was made from


def journal_sizes(folder: JobFolder, own: Path | None = None, own_size: int | None = None) -> dict[str, int]:
    return {
        path.parent.name: own_size if path == own and own_size is not None else path.stat().st_size
        for path in folder.journals()
    }


def write_canonical(folder: JobFolder, manifest: Manifest, attr: str, own_worker: str | None = None,
                    own_size: int | None = None, dest: Path | None = None) -> CanonicalResult:
    """Replace output.manifest with its canonical form, unless another worker's session is
    labeling (it appends to the file: replacing it would lose its next answers).

    `own_worker`: the calling session's worker (its own lock is not a sign of another
    session). `own_size` and `dest`: a session that keeps labeling meanwhile has the file
    made from its journal up to `own_size` at `dest`, and puts it in place itself (see
    Session._adopt_output); output.manifest is then not marked canonical here.
    """
    own_lock = folder.lock(own_worker) if own_worker is not None else None
    own_journal = folder.journal(own_worker) if own_worker is not None else None
    with OutputGate(folder.output_gate), IdleWorkers(folder.locks(), skip=own_lock) as idle:
        if idle.busy:
            return CanonicalResult(None, tuple(idle.busy))
        limits = {own_journal: own_size} if own_journal is not None and own_size is not None else None
        # A review (`tuilabel review`) keeps every consolidated line its reviewer did not decide.
        result = write_gt(folder, manifest, dest or folder.output_manifest, attr, limits,
                          keep_unanswered=folder.review_marker.exists())
        sizes = journal_sizes(folder, own_journal, own_size)
        if dest is None:
            canonical.mark(folder.canonical_state, folder.output_manifest, sizes)
        return CanonicalResult(result, sizes=sizes)


def busy_message(folder: JobFolder, busy: tuple[str, ...],
                 then: str = "it is made canonical when the last worker quits, or by `tuilabel export`") -> str:
    return (
        f"worker {', '.join(busy)} {'is' if len(busy) == 1 else 'are'} labeling this job now, so "
        f"{folder.output_manifest} was left as it is (every answer in the order given, relabels "
        f"repeated); {then}"
    )


def refuse_if_busy(folder: JobFolder, result: CanonicalResult) -> ExportResult:
    if result.export is None:
        raise UserError(busy_message(folder, result.busy, "export to another file with -o FILE, or again when they quit"))
    return result.export


def rewrite_in_child(root: Path, manifest: Path, attr: str, worker: str, covered: int, dest: Path) -> CanonicalResult:
    """write_canonical(…, dest) in a child process: its per-line loop then never holds this
    process's GIL (in a thread it made each answer wait ~17 ms, measured on 2 loaded cores)."""
    import subprocess

    args = [str(root), str(manifest), attr, worker, str(covered), str(dest)]
    done = subprocess.run([sys.executable, "-m", __name__, *args], capture_output=True, timeout=3600)
    if done.returncode:
        message = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise UserError(message[-1] if message else f"exit status {done.returncode}")
    out = orjson.loads(done.stdout)
    if out["busy"]:
        return CanonicalResult(None, tuple(out["busy"]))
    e = out["export"]
    return CanonicalResult(ExportResult(Path(e["path"]), e["written"], e["declined"], e["unanswered"], tuple(e["skipped"])), sizes=out["sizes"])


def _child(argv: list[str]) -> int:
    root, manifest, attr, worker, covered, dest = argv
    try:
        with Manifest(manifest) as m:
            result = write_canonical(JobFolder(Path(root)), m, attr, worker, int(covered), Path(dest))
    except UserError as exc:
        print(exc, file=sys.stderr)
        return 2
    export = result.export
    sys.stdout.buffer.write(orjson.dumps({
        "busy": list(result.busy),
        "sizes": result.sizes,
        "export": export and {**asdict(export), "path": str(export.path)},
    }))
    return 0


if __name__ == "__main__":
    raise SystemExit(_child(sys.argv[1:]))
