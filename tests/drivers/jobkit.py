"""Builders shared by the durability tests and their driver scripts (run as subprocesses).

Kept beside the drivers so a driver started with `python tests/drivers/x.py` imports it
without any sys.path set-up; tests import it as `drivers.jobkit`.
"""

from __future__ import annotations

from pathlib import Path

import orjson

from tuilabel.core.gt.job import JobFolder, JobSpec
from tuilabel.core.store.journal import Entry, iter_journal
from tuilabel.core.data.manifest import Manifest
from tuilabel.core.session import Session

LABELS = ("pos", "neg", "meh", "spam")
NAME = "kill-job"


def write_text_manifest(path: Path, n: int, start: int = 0, mode: str = "wb") -> Path:
    """`n` text records; a few carry non-ASCII text and extra keys that must pass through."""
    with open(path, mode) as fh:
        fh.write(
            b"".join(
                orjson.dumps({"source": f"review {i}: caf\u00e9 \u2713 {'x' * (i % 37)}", "id": i, "meta": {"k": i % 5}})
                + b"\n"
                for i in range(start, start + n)
            )
        )
    return path


def make_spec(manifest: Path, output: Path, multi: bool = False, worker: str = "w1", name: str = NAME) -> JobSpec:
    return JobSpec(
        name=name,
        label_attribute=name,
        task="text-classification-multilabel" if multi else "text-classification",
        labels=LABELS,
        input=str(manifest),
        output=str(output),
        worker=worker,
    )


def folder_for(output: Path, name: str = NAME) -> JobFolder:
    return JobFolder(output / name)


def open_session(manifest: Path, output: Path, multi: bool = False, worker: str = "w1", name: str = NAME) -> Session:
    spec = make_spec(manifest, output, multi, worker, name)
    return Session(spec, folder_for(output, name), Manifest(manifest)).open()


def journal_entries(path: Path) -> list[Entry]:
    """Every complete journal line, parsed (a torn tail is left out)."""
    if not path.exists():
        return []
    return [Entry.from_line(line) for line in iter_journal(path)]


def value_text(value: object) -> str:
    """How a driver prints an answer: `3`, `0,2`, or `d` for declined."""
    if value is None:
        return "d"
    if isinstance(value, list):
        return ",".join(map(str, value))
    return str(value)


def entry_value(entry: Entry, attr: str = NAME) -> str:
    return "d" if entry.kind == "d" else value_text(entry.gt[attr])
