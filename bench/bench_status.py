"""`tuilabel status` and the portal's count on a big team job: 100,000 records, 3 workers per
record, 20 workers, every record answered by 3 (300,000 journal lines and accepted answers).

The job is made through the real lease store and journals (Entry lines) in a folder on
/dev/shm (so making it is not 300,000 fsyncs on disk), then measured as a user runs it:
`tuilabel status JOB` and `--json` as whole processes, and `job_card` (what the portal counts
for one job and worker, every 10 s) in this process. Median of --repeats.

    python bench/bench_status.py [--records 100000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tuilabel.core.gt.job import JobFolder, JobSpec  # noqa: E402
from tuilabel.core.store.journal import Entry  # noqa: E402
from tuilabel.core.team.leases import LeaseStore, clock  # noqa: E402
from tuilabel.core.team.portal import job_card  # noqa: E402

N, WORKERS, BLOCK = 3, 20, 500


def make_job(base: Path, records: int) -> Path:
    manifest = base / "input.manifest"
    manifest.write_bytes(b"".join(orjson.dumps({"source": f"text {i}"}) + b"\n" for i in range(records)))
    team = {"workers_per_record": N, "task_time_limit": "8h"}
    spec = JobSpec(name="big-team", label_attribute="big-team", task="text-classification",
                   labels=("a", "b"), input=str(manifest), output=str(base), worker="w00", team=team)
    folder = JobFolder(base / "big-team")
    folder.private.mkdir(parents=True)
    folder.spec_file.write_bytes(spec.to_json())
    store = LeaseStore(folder.team_db, spec.team_settings, records)
    names = [f"w{k:02d}" for k in range(WORKERS)]
    files = {}
    for name in names:
        folder.worker_dir(name).mkdir(parents=True)
        files[name] = open(folder.journal(name), "ab")
    t0 = time.time() - 1800  # answered over the last half hour
    active = list(names)
    while active:
        for name in list(active):
            leases = store.take(name, BLOCK, clock())
            if not leases:
                active.remove(name)
            for lease in leases:
                at = t0 + lease.record * 1800 / records
                stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(at))
                line = Entry(lease.record, lease.record, "a", name, stamp, stamp, 4.2,
                             {"source": f"text {lease.record}", "big-team": 0}).to_line()
                files[name].write(line)
                store.submit(lease, clock(), line)
    for fh in files.values():
        fh.close()
    store.close()
    return folder.root


def timed(command: list[str], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True, cwd=REPO)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir="/dev/shm" if os.path.isdir("/dev/shm") else None) as tmp:
        t0 = time.perf_counter()
        job = make_job(Path(tmp), args.records)
        print(f"made the job: {args.records:,} records x {N} answers by {WORKERS} workers "
              f"in {time.perf_counter() - t0:.1f} s")
        status = [sys.executable, "-m", "tuilabel", "status", str(job)]
        rows = [("tuilabel status JOB (whole process)", timed(status, args.repeats)),
                ("tuilabel status JOB --json (whole process)", timed([*status, "--json"], args.repeats))]
        times = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            job_card(job, "w00")
            times.append(time.perf_counter() - t0)
        rows.append(("portal: job_card(JOB, worker) in process", statistics.median(times)))
        bare = timed([sys.executable, "-m", "tuilabel", "--version"], args.repeats)
        rows.append(("for scale: tuilabel --version (whole process)", bare))
        print(f"{'what':<48} {'median s':>9}")
        for what, seconds in rows:
            print(f"{what:<48} {seconds:>9.2f}")


if __name__ == "__main__":
    main()
