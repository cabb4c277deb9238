"""One scripted team worker for tests/test_team_status.py: holds its worker lock, takes one task
at a time from the job's lease store and does what its plan says, writing its journal line
(fsynced) before each submit or decline, as the app does.

    team_status_worker.py JOB WORKER PLAN...
PLAN steps: `a:SECONDS` answer (label 0) after SECONDS of work, `d:SECONDS` decline,
`r` release, `h` hold one task and wait (prints "holding REC", then waits for stdin to close).
"""

from __future__ import annotations

import sys
from datetime import datetime, timezone
from pathlib import Path

import orjson

from tuilabel.core.gt.job import JobFolder
from tuilabel.core.store.journal import Entry, Journal
from tuilabel.core.store.lock import JobLock
from tuilabel.core.team.leases import LeaseStore, clock
from tuilabel.core.team.settings import TeamSettings


def iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def main(root: Path, worker: str, plan: list[str]) -> None:
    folder = JobFolder(root)
    job = orjson.loads(folder.spec_file.read_bytes())
    records = sum(1 for line in Path(job["input"]).read_bytes().splitlines() if line.strip())
    store = LeaseStore(folder.private / "team.sqlite", TeamSettings.from_mapping(job["team"]), records)
    attr = job["label_attribute"]
    with JobLock(folder.lock(worker), f"job {job['name']!r} for worker {worker!r}"):
        journal = Journal(folder.journal(worker), folder.checkpoint(worker), folder.output_manifest,
                          attr, len(job["labels"]))
        journal.open()
        for step in plan:
            what, _, seconds = step.partition(":")
            (lease,) = store.take(worker, 1, clock())
            if what == "r":
                store.release(lease)
                continue
            if what == "h":
                print(f"holding {lease.record}", flush=True)
                sys.stdin.read()
                continue
            now = clock()
            gt = {"source": f"record {lease.record}", attr: 0,
                  f"{attr}-metadata": {"class-name": job["labels"][0]}}
            entry = Entry(lease.record, lease.record, "a" if what == "a" else "d", worker,
                          iso(now - float(seconds)), iso(now), float(seconds), gt)
            journal.append(entry)
            accepted = store.submit(lease, now, entry.to_line()) if what == "a" else store.decline(lease, now)
            assert accepted, step
        journal.close()
    store.close()
    print("done", flush=True)


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2], sys.argv[3:])
