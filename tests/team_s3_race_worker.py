"""One scripted worker "on its own machine" for tests/test_team_s3.py's race: claims its worker
id, then takes, submits, declines, releases and sits on leases until they expire, at random,
through S3LeaseStore, logging each step to an fsynced log in its own folder before (intent)
and after (result) the store call. Time runs 25x fast, so a 30 s task time limit lasts
1.2 s (a take of 3 is ~10 requests to a busy moto server); TUILABEL_CLOCK_SKEW (seconds)
skews this machine's clock, unscaled: 120 is 4 task time limits here.

    team_s3_race_worker.py JOB_URI FOLDER WORKER UNTIL SEED N RECORDS
UNTIL = 0 drains: take and answer everything this worker may, then exit.
"""

from __future__ import annotations

import os
import random
import sys
import time
from pathlib import Path

import orjson

from tuilabel.core.errors import UserError
from tuilabel.core.team.leases import clock
from tuilabel.core.team.s3_leases import S3LeaseStore
from tuilabel.core.team.settings import TeamSettings

SPEED = 25


def now() -> float:
    # fast time, with this machine's skew (clock() - time.time()) left unscaled
    return clock() + (SPEED - 1) * time.time()


def main(job: str, folder: Path, worker: str, until: float, seed: int, n: int, records: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder / "log.jsonl", os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def log(**entry) -> None:
        os.write(fd, orjson.dumps(entry) + b"\n")
        os.fsync(fd)

    store = S3LeaseStore(job, TeamSettings(workers_per_record=n, task_time_limit=30), records,
                         worker_ttl=150)  # 6 s here
    while True:  # a restarted worker waits for its killed self's claim to go stale
        try:
            store.claim_worker(worker, now())
            break
        except UserError as exc:
            print(exc, file=sys.stderr, flush=True)
            time.sleep(0.1)

    def submit(lease) -> None:
        answer = orjson.dumps({"worker": worker, "rec": lease.record, "lease": lease.id})
        log(op="answer", rec=lease.record, payload=answer.decode())  # the journal line first
        log(op="accepted" if store.submit(lease, now(), answer) else "refused", rec=lease.record)

    rng = random.Random(seed)
    if until == 0:
        while True:
            leases = store.take(worker, 20, now())
            log(op="took", recs=[l.record for l in leases])
            for lease in leases:
                submit(lease)
            if not leases:
                if store.status(now()).leases_out == 0 and not store.take(worker, 1, now()):
                    store.close()
                    return
                time.sleep(0.05)  # leases of stopped workers are about to expire
    while time.time() < until:
        leases = store.take(worker, rng.randint(1, 3), now())
        log(op="took", recs=[l.record for l in leases])
        if not leases:
            time.sleep(0.05)
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
                time.sleep(32 / SPEED)  # past the task time limit: the submit must be refused
                submit(lease)
            # else keep it: the next take gives it back first
    store.close()


if __name__ == "__main__":
    job, folder, worker, until, seed, n, records = sys.argv[1:]
    main(job, Path(folder), worker, float(until), int(seed), int(n), int(records))
