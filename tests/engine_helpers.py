"""Small builders shared by the engine tests: a manifest on disk and an opened Session."""

from __future__ import annotations

from pathlib import Path

import orjson

from tuilabel.core.gt.job import Instructions, JobFolder, JobSpec
from tuilabel.core.data.manifest import Manifest
from tuilabel.core.session import Session


def write_manifest(path: Path, records: list[dict | bytes]) -> Path:
    with open(path, "wb") as fh:
        for rec in records:
            fh.write(rec if isinstance(rec, bytes) else orjson.dumps(rec) + b"\n")
    return path


def text_manifest(path: Path, n: int) -> Path:
    return write_manifest(path, [{"source": f"text {i}", "id": i} for i in range(n)])


def make_spec(manifest: Path, task: str = "text-classification", labels=("pos", "neg", "meh"), name: str = "job1", worker: str = "w1") -> JobSpec:
    return JobSpec(
        name=name,
        label_attribute=name,
        task=task,
        labels=tuple(labels),
        input=str(manifest),
        output=str(manifest.parent),
        worker=worker,
        instructions=Instructions(short="pick one"),
    )


def open_session(manifest: Path, **kw) -> Session:
    spec = make_spec(manifest, **kw)
    return Session(spec, JobFolder(manifest.parent / spec.name), Manifest(manifest)).open()


def output_lines(session_or_folder) -> list[dict]:
    folder = getattr(session_or_folder, "folder", session_or_folder)
    return [orjson.loads(line) for line in folder.output_manifest.read_bytes().splitlines()]
