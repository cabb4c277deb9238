"""One scripted worker for tests/test_team_leases.py's race: takes, submits, declines, releases
and sits on leases until they expire, at random, logging each step to its own fsynced log
before (intent) and after (result) the store call. Time runs 100x fast, so a 30 s task time
limit lasts 0.3 s. Some run with a skewed clock (TUILABEL_CLOCK_SKEW).

    team_race_worker.py JOB WORKER UNTIL SEED N RECORDS
UNTIL = 0 drains: take and answer everything this worker may, then exit.
"""

from __future__ import annotations

import os
import random
import sys
import time
from pathlib import Path

import orjson

from tuilabel.core.team.leases import LeaseStore, clock
from tuilabel.core.team.settings import TeamSettings

SPEED = 100


def now() -> float:
    return clock() * SPEED  # TUILABEL_CLOCK_SKEW of 0.12 s is 12 s here: 40 % of a task's time


def main(job: Path, worker: str, until: float, seed: int, n: int, records: int) -> None:
    (job / "logs").mkdir(exist_ok=True)
    fd = os.open(job / "logs" / f"{worker}.jsonl", os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def log(**entry) -> None:
        os.write(fd, orjson.dumps(entry) + b"\n")
        os.fsync(fd)

    store = LeaseStore(job / "tuilabel" / "team.sqlite",
                       TeamSettings(workers_per_record=n, task_time_limit=30), records)

    def submit(lease) -> None:
        log(op="answer", rec=lease.record)  # the journal line comes first
        log(op="accepted" if store.submit(lease, now()) else "refused", rec=lease.record)

    rng = random.Random(seed)
    if until == 0:
        while True:
            leases = store.take(worker, 50, now())
            log(op="took", recs=[l.record for l in leases])
            for lease in leases:
                submit(lease)
            if not leases:
                if store.status(now()).leases_out == 0:
                    return
                time.sleep(0.05)  # leases of stopped workers are about to expire
    while time.time() < until:
        leases = store.take(worker, rng.randint(1, 3), now())
        log(op="took", recs=[l.record for l in leases])
        for lease in leases:
            action = rng.random()
            if action < 0.6:
                submit(lease)
            elif action < 0.68:
                log(op="decline", rec=lease.record)
                if store.decline(lease, now()):
                    log(op="declined", rec=lease.record)
            elif action < 0.8:
                store.release(lease)
            elif action < 0.84:
                time.sleep(0.35)  # past the task time limit: the submit must be refused
                submit(lease)
            # else keep it: the next take gives it back first


if __name__ == "__main__":
    job, worker, until, seed, n, records = sys.argv[1:]
    main(Path(job), worker, float(until), int(seed), int(n), int(records))
