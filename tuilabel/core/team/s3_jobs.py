"""Jobs under an s3:// prefix, as the worker's portal (`tuilabel work --jobs s3://…`) and the
labeling host (`tuilabel serve --jobs s3://…`) find them. Nothing here prints.

A job in S3 is a prefix holding `tuilabel/job.json` (uploaded by the session that made the job),
the prefix itself or up to two levels below it, as local job folders are found: one LIST per
prefix looked into. Each job found is brought to its local job folder, the one `tuilabel label`
keeps for it (`core.locations.s3_stage`), by writing its job.json there when that folder has
none yet. So a job in S3 is started like any job folder (`tuilabel label FOLDER`): the session
downloads the input, leases through S3 and uploads the worker's journal, as it does when the
job is opened by its s3:// input.
"""

from __future__ import annotations

from pathlib import Path

from tuilabel.core.data.s3 import S3Error, get_bytes, join_uri, list_folders, parse_s3_uri
from tuilabel.core.gt.job import JobFolder
from tuilabel.core.locations import s3_stage
from tuilabel.core.store.durable import atomic_write

SPEC_KEY = "tuilabel/job.json"
MAX_SPEC_BYTES = 1 << 20


def find_s3_jobs(prefix: str, depth: int) -> list[Path]:
    """The local job folders of the jobs under `prefix` (itself included), to `depth` levels,
    sorted by their S3 keys. S3Error (one line) when the prefix cannot be listed."""
    bucket, key = parse_s3_uri(prefix.rstrip("/") + "/")
    found: list[Path] = []

    def walk(key: str, level: int) -> None:
        children = list_folders(join_uri(bucket, key))
        if key + "tuilabel/" in children:
            folder = _bring_here(bucket, key)
            if folder is not None:
                found.append(folder)
                return  # a job's own folders are not jobs
        if level == depth:
            return
        for child in children:
            if not child[len(key):].startswith("."):
                walk(child, level + 1)

    walk(key, 0)
    return found


def _bring_here(bucket: str, key: str) -> Path | None:
    """The job at `key` (ending in "/") as a local job folder; None when it has no job.json."""
    folder = JobFolder(s3_stage(join_uri(bucket, key)))
    if folder.spec_file.is_file():
        return folder.root  # labeled here before: its own job.json stays
    try:
        spec = get_bytes(join_uri(bucket, key + SPEC_KEY), max_bytes=MAX_SPEC_BYTES)
    except S3Error as exc:
        if exc.kind == "not-found":
            return None  # a folder named tuilabel/ that holds no job
        raise
    folder.private.mkdir(parents=True, exist_ok=True)
    atomic_write(folder.spec_file, spec)  # read (and refused in one line if bad) by the card
    return folder.root
