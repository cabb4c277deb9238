"""What the labeling host did: one line per event in `serve.log` (and on the console), and
each worker's answers in a session counted from the growth of its journals.

The log lives in the jobs folder (for jobs under an s3:// prefix, the local folder standing for
it): `<jobs>/serve.log`.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from tuilabel.core.gt.job import worker_folder_name
from tuilabel.core.store.durable import ensure_dir, explain_os_error


class ActivityLog:
    def __init__(self, path: Path, echo: bool = True):
        self.path = path
        self._echo = echo
        ensure_dir(path.parent)
        try:
            self._fh = open(path, "a", encoding="utf-8", buffering=1)
        except OSError as exc:
            raise explain_os_error(exc, path, "open") from None

    def __call__(self, text: str) -> None:
        line = f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())} {text}"
        self._fh.write(line + "\n")
        if self._echo:
            print(line, file=sys.stderr, flush=True)

    def close(self) -> None:
        self._fh.close()


def _journals(jobs: Path, worker: str) -> list[Path]:
    """The worker's journals in the jobs folder: the folder itself may be a job, or hold jobs
    (one or two levels down: `<jobs>/<job>/` or `<jobs>/<output>/<job>/`)."""
    tail = f"tuilabel/workers/{worker_folder_name(worker)}/journal.jsonl"
    root = Path(jobs)
    return [p for pattern in (tail, f"*/{tail}", f"*/*/{tail}") for p in root.glob(pattern)]


def journal_sizes(jobs: Path, worker: str) -> dict[Path, int]:
    sizes = {}
    for path in _journals(jobs, worker):
        try:
            sizes[path] = path.stat().st_size
        except OSError:
            pass
    return sizes


def answers_since(jobs: Path, worker: str, before: dict[Path, int]) -> int:
    """Journal lines (answers, declines, changed answers) the worker added since `before`."""
    count = 0
    for path, size in journal_sizes(jobs, worker).items():
        start = before.get(path, 0)
        if size <= start:
            continue
        try:
            with open(path, "rb") as fh:
                fh.seek(start)
                count += fh.read(size - start).count(b"\n")
        except OSError:
            pass
    return count
