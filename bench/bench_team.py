"""Team job on one host: 20 scripted worker processes drive the lease store (SQLite, WAL) at
full speed on a 100,000-record job with 3 workers per record, for a fixed time per run.

Each worker takes a block of leases, and for each task appends one fsynced line to its own
log (as its journal would) before `submit`. Measured: accepted answers/s over all workers;
the `take` call (asking for the next block: what a worker waits for when it has no task
ahead) and the `submit` call, p50/p99; then the invariants, checked from the database.
Block 1 is "no lease-ahead" (one take per task); block 10 is the app's lease-ahead.

    python bench/bench_team.py [--seconds 20] [--workers 20] [--blocks 1 10]
    python bench/bench_team.py --seconds 900 --blocks 10   # the whole job, to the end
    python bench/bench_team.py --session [--seconds 30]     # workers are whole sessions

With --session each worker is the real core API (tests/team_session_worker.py: job setup,
fsynced journal, the lease-ahead thread, the output writer): measured is the answer call,
from the key to the next record shown (what a worker waits for), p50/p99, and answers/s.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tuilabel.core.team.leases import LeaseStore, clock  # noqa: E402
from tuilabel.core.team.settings import TeamSettings  # noqa: E402

RECORDS, N = 100_000, 3


def open_store(job: Path) -> LeaseStore:
    return LeaseStore(job / "team.sqlite", TeamSettings(workers_per_record=N), RECORDS)


def drive(store, name: str, block: int, until: float, log: Path) -> dict:
    """One scripted worker at full speed until `until`: take a block, and per task one fsynced
    line in its own log (as its journal would) before `submit`. The times of each call."""
    fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    takes: list[float] = []
    submits: list[float] = []
    accepted = 0
    while time.time() < until:
        t0 = time.perf_counter()
        leases = store.take(name, block, clock())
        takes.append(time.perf_counter() - t0)
        if not leases:
            break
        for lease in leases:
            line = orjson.dumps({"i": lease.record, "w": name}) + b"\n"
            os.write(fd, line)
            os.fsync(fd)
            t0 = time.perf_counter()
            accepted += store.submit(lease, clock(), line)
            submits.append(time.perf_counter() - t0)
    os.close(fd)
    return {"take": takes, "submit": submits, "accepted": accepted}


def worker(job: Path, name: str, block: int, until: float) -> None:
    times = drive(open_store(job), name, block, until, job / f"{name}.jsonl")
    (job / f"{name}.times").write_bytes(orjson.dumps(times))


def percentile(values: list[float], p: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[p - 1] if len(values) > 1 else values[0]


def check_invariants(job: Path) -> str:
    db = sqlite3.connect(job / "team.sqlite")
    over = db.execute("SELECT count(*) FROM records WHERE answers > ?", (N,)).fetchone()[0]
    mismatch = db.execute(
        "SELECT count(*) FROM records r WHERE answers != "
        "(SELECT count(*) FROM done d WHERE d.rec = r.rec AND kind = 'answer')").fetchone()[0]
    logged = sum(1 for log in job.glob("*.jsonl") for _ in log.open("rb"))
    stored = db.execute("SELECT count(*) FROM done WHERE kind = 'answer'").fetchone()[0]
    assert over == 0 and mismatch == 0, (over, mismatch)
    assert stored <= logged, (stored, logged)  # nothing accepted that the worker did not log
    complete = db.execute("SELECT count(*) FROM records WHERE state = 1").fetchone()[0]
    return f"ok ({complete:,} complete)"


def run(workers: int, block: int, seconds: float) -> dict:
    with tempfile.TemporaryDirectory(prefix="tuilabel-bench-team-") as tmp:
        job = Path(tmp)
        open_store(job).close()
        until = time.time() + seconds
        procs = [subprocess.Popen([sys.executable, __file__, "--worker", str(job), f"w{i:02d}",
                                   str(block), str(until)]) for i in range(workers)]
        start = time.perf_counter()
        for proc in procs:
            assert proc.wait() == 0
        wall = time.perf_counter() - start
        times = [orjson.loads(p.read_bytes()) for p in job.glob("*.times")]
        takes = [t for w in times for t in w["take"]]
        submits = [t for w in times for t in w["submit"]]
        accepted = sum(w["accepted"] for w in times)
        return {"block": block, "answers": accepted, "per_s": accepted / wall,
                "take": (percentile(takes, 50), percentile(takes, 99)),
                "submit": (percentile(submits, 50), percentile(submits, 99)),
                "invariants": check_invariants(job)}


def run_sessions(workers: int, seconds: float) -> dict:
    with tempfile.TemporaryDirectory(prefix="tuilabel-bench-team-") as tmp:
        job = Path(tmp)
        source = job / "records.manifest"
        source.write_bytes(b"".join(b'{"source":"record %d"}\n' % i for i in range(RECORDS)))
        report = job / "times.jsonl"
        script = REPO / "tests" / "team_session_worker.py"
        until = time.time() + seconds
        start = time.perf_counter()
        procs = [subprocess.Popen([sys.executable, str(script), str(source), f"w{i:02d}", str(N), str(i),
                                   "--until", str(until), "--report", str(report)],
                                  env={**os.environ, "PYTHONPATH": str(REPO)}, stderr=subprocess.DEVNULL)
                 for i in range(workers)]
        for proc in procs:
            assert proc.wait() == 0
        wall = time.perf_counter() - start
        times = [t for line in report.read_bytes().splitlines() for t in orjson.loads(line)["times"]]
        folder = job / "records" / "tuilabel"
        db = sqlite3.connect(folder / "team.sqlite")
        accepted = db.execute("SELECT count(*) FROM done WHERE kind = 'answer'").fetchone()[0]
        over = db.execute("SELECT count(*) FROM records WHERE answers > ?", (N,)).fetchone()[0]
        complete = db.execute("SELECT count(*) FROM records WHERE state = 1").fetchone()[0]
        written = db.execute("SELECT value FROM meta WHERE key = 'written'").fetchone()[0]
        lines = sum(1 for _ in (job / "records" / "manifests" / "output" / "output.manifest").open("rb"))
        assert over == 0 and lines == db.execute("SELECT count(*) FROM closed WHERE seq <= ?", (written,)).fetchone()[0]
        return {"answers": accepted, "per_s": accepted / wall, "wall": wall,
                "key": (percentile(times, 50), percentile(times, 99)),
                "invariants": f"ok ({complete:,} complete, {lines:,} output lines)"}


def main() -> None:
    if sys.argv[1:2] == ["--worker"]:
        job, name, block, until = sys.argv[2:]
        worker(Path(job), name, int(block), float(until))
        return
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--workers", type=int, default=20)
    parser.add_argument("--blocks", type=int, nargs="+", default=[1, 10])
    parser.add_argument("--session", action="store_true", help="workers are whole sessions (the core API)")
    args = parser.parse_args()
    if args.session:
        print(f"load: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f}; {args.workers} session workers, "
              f"N = {N}, {RECORDS:,} records, {args.seconds:g} s")
        r = run_sessions(args.workers, args.seconds)
        print("| workers | answers | answers/s | key -> next record p50 / p99 | invariants |")
        print("|---:|---:|---:|---:|---|")
        print(f"| {args.workers} | {r['answers']:,} | {r['per_s']:,.0f} | {r['key'][0] * 1000:.2f} / "
              f"{r['key'][1] * 1000:.1f} ms | {r['invariants']} |")
        return
    print(f"load: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f}; {args.workers} workers, "
          f"N = {N}, {RECORDS:,} records, {args.seconds:g} s per run")
    print("| block | answers | answers/s | take p50 / p99 | submit p50 / p99 | invariants |")
    print("|---:|---:|---:|---:|---:|---|")
    for block in args.blocks:
        r = run(args.workers, block, args.seconds)
        ms = lambda pair: f"{pair[0] * 1000:.1f} / {pair[1] * 1000:.1f} ms"  # noqa: E731
        print(f"| {block} | {r['answers']:,} | {r['per_s']:,.0f} | {ms(r['take'])} | "
              f"{ms(r['submit'])} | {r['invariants']} |", flush=True)


if __name__ == "__main__":
    main()
