"""The worker's portal over jobs in S3 (`tuilabel work --jobs s3://…`): what one count costs.

A team job under an s3:// prefix on moto's server (its own process, on 127.0.0.1), N = 2,
every record sent out and answered once (so every record is open: the most a count reads),
made through S3LeaseStore as workers would. Then, as the portal does in its counting thread,
on a machine that has never seen the job (a fresh XDG_DATA_HOME): `find_jobs` (list the prefix,
bring the job's job.json here), and `job_card` for a worker, three times (the portal counts
again every 10 s; its store stays open between counts). Wall time and S3 requests per count.

    python bench/bench_portal_s3.py [--records 2000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from bench_team_s3 import count_requests, moto_server  # noqa: E402

from tuilabel.core.data.s3 import put_bytes  # noqa: E402
from tuilabel.core.gt.job import JobSpec  # noqa: E402
from tuilabel.core.team.leases import clock  # noqa: E402
from tuilabel.core.team.s3_leases import S3LeaseStore  # noqa: E402

BUCKET = "bench-portal"
TEAM = {"workers_per_record": 2, "task_time_limit": "8h", "team": ["w0", "w1"]}


def make_job(records: int) -> None:
    """The job as its first worker's session leaves it in S3: job.json, every record out with
    w0's answer."""
    spec = JobSpec(name="big", label_attribute="big", task="text-classification", labels=("a", "b"),
                   input=f"s3://{BUCKET}/in/big.manifest", output=f"s3://{BUCKET}/jobs", worker="w0", team=TEAM)
    put_bytes(f"s3://{BUCKET}/jobs/big/tuilabel/job.json", spec.to_json())
    store = S3LeaseStore(f"s3://{BUCKET}/jobs/big", spec.team_settings, records)
    store.claim_worker("w0", clock())
    while True:
        leases = store.take("w0", 100, clock())
        if not leases:
            break
        for lease in leases:
            assert store.submit(lease, clock(), b'{"answer": 0}')
    store.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with moto_server(BUCKET), tempfile.TemporaryDirectory(prefix="tuilabel-bench-portal-s3-") as tmp:
        t0 = time.perf_counter()
        make_job(args.records)
        print(f"job made: {args.records:,} records in {time.perf_counter() - t0:.1f} s")
        os.environ["XDG_DATA_HOME"] = tmp  # a machine that has never seen the job
        from tuilabel.core.team.portal import find_jobs, job_card

        counts: Counter = Counter()
        count_requests(counts)
        print(f"load: {os.getloadavg()[0]:.2f}; {args.records:,} records, all open, N = 2; S3 = moto server")
        print("| count | find_jobs | job_card (w1) | S3 requests | left for w1 |")
        print("|---|---:|---:|---|---:|")
        for n in range(1, args.repeats + 1):
            counts.clear()
            t0 = time.perf_counter()
            folder, = find_jobs(f"s3://{BUCKET}/jobs")
            t1 = time.perf_counter()
            card = job_card(folder, "w1")
            t2 = time.perf_counter()
            requests = ", ".join(f"{k} {v:,}" for k, v in sorted(counts.items()) if k != "412")
            print(f"| {'first' if n == 1 else f'again ({n})'} | {(t1 - t0) * 1000:,.0f} ms | "
                  f"{(t2 - t1) * 1000:,.0f} ms | {requests} | {card.left:,} |", flush=True)


if __name__ == "__main__":
    main()
