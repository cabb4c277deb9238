"""Team job across machines: 5 scripted worker processes drive S3LeaseStore through moto's
server (its own process, on 127.0.0.1) with 3 workers per record, for a fixed time per run;
beside it, the same workers on the one-host LeaseStore (SQLite), same code path.

Each worker claims its id, takes a block of leases, and for each task appends one fsynced
line to its own log (as its journal would) before `submit(lease, now, line)`. Measured:
accepted answers/s over all workers; `take` (asking for the next block) and `submit`, p50/p99;
S3 requests per accepted answer by type (PUT, GET, LIST, HEAD; counted by a botocore
before-send hook in each worker); then the invariants, checked from S3's objects.
Block 1 is "no lease-ahead" (one take per task); block 5 is leasing ahead.

    python bench/bench_team_s3.py [--seconds 20] [--workers 5] [--records 5000] [--blocks 1 5]
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import orjson

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from bench_team import drive, percentile  # noqa: E402

from tuilabel.core.team.leases import LeaseStore, clock  # noqa: E402
from tuilabel.core.team.s3_leases import S3LeaseStore  # noqa: E402
from tuilabel.core.team.settings import TeamSettings  # noqa: E402

N = 3
BUCKET = "bench-team"


def open_store(backend: str, job: str, records: int):
    settings = TeamSettings(workers_per_record=N)
    if backend == "s3":
        return S3LeaseStore(job, settings, records)
    return LeaseStore(Path(job) / "team.sqlite", settings, records)


def count_requests(counts: Counter) -> None:
    from tuilabel.core.data.s3 import client

    def hook(request, **_) -> None:
        kind = request.method
        if kind == "GET" and "list-type=2" in request.url:
            kind = "LIST"
        counts[kind] += 1

    def conflict(http_response=None, **_) -> None:
        if http_response is not None and http_response.status_code in (409, 412):
            counts["412"] += 1
            if os.environ.get("BENCH_412_BY_KEY"):
                counts["412 " + http_response.url.split("/tuilabel/team/")[-1].split("/")[0]] += 1

    client().meta.events.register("before-send.s3", hook)
    client().meta.events.register("after-call.s3", conflict)


def worker(backend: str, job: str, folder: Path, name: str, block: int, until: float,
           records: int) -> None:
    counts: Counter = Counter()
    if backend == "s3":
        count_requests(counts)
    store = open_store(backend, job, records)
    if backend == "s3":
        store.claim_worker(name, clock())
    times = drive(store, name, block, until, folder / f"{name}.jsonl")
    store.close()
    (folder / f"{name}.times").write_bytes(orjson.dumps({**times, "requests": counts}))


def check_invariants(job: str, folder: Path) -> str:
    """From S3's objects: no record over N answers, no worker twice, every accepted answer
    in its worker's own object and in that worker's log."""
    import boto3

    s3 = boto3.client("s3")
    prefix = job.split("/", 3)[3] + "/tuilabel/team/records/"
    answers = 0
    logged = {name.stem: set(name.read_bytes().split(b"\n")) for name in folder.glob("*.jsonl")}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix):
        for item in page.get("Contents", ()):
            body = orjson.loads(s3.get_object(Bucket=BUCKET, Key=item["Key"])["Body"].read())
            assert len(body["answers"]) <= N, item["Key"]
            answers += len(body["answers"])
            rec = int(item["Key"][len(prefix):][:9])
            for name, entry in body["answers"].items():
                key = f"{prefix[:-len('records/')]}answers/{rec:09d}/{name}/{entry['key']}"
                payload = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
                assert payload.rstrip(b"\n") in logged[name], (name, rec)
    return f"ok ({answers:,} answers in S3)"


@contextmanager
def moto_server(bucket: str) -> Iterator[None]:
    """moto's S3 server as its own process on 127.0.0.1, this process (and its children)
    pointed at it, `bucket` made; stopped at the end."""
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.environ.update(AWS_ENDPOINT_URL=f"http://127.0.0.1:{port}", AWS_ACCESS_KEY_ID="bench",
                      AWS_SECRET_ACCESS_KEY="bench", AWS_DEFAULT_REGION="us-east-1",
                      AWS_EC2_METADATA_DISABLED="true")
    try:
        import boto3

        for _ in range(100):
            try:
                boto3.client("s3").create_bucket(Bucket=bucket)
                break
            except Exception:  # the server is still starting
                time.sleep(0.1)
        yield
    finally:
        server.kill()
        server.wait()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run(backend: str, workers: int, block: int, seconds: float, records: int, run_id: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="tuilabel-bench-team-s3-") as tmp:
        folder = Path(tmp)
        job = f"s3://{BUCKET}/run{run_id}" if backend == "s3" else tmp
        open_store(backend, job, records).close()
        until = time.time() + seconds
        procs = [subprocess.Popen([sys.executable, __file__, "--worker", backend, job, tmp,
                                   f"w{i}", str(block), str(until), str(records)])
                 for i in range(workers)]
        start = time.perf_counter()
        for proc in procs:
            assert proc.wait() == 0
        wall = time.perf_counter() - start
        times = [orjson.loads(p.read_bytes()) for p in folder.glob("*.times")]
        takes = [t for w in times for t in w["take"]]
        submits = [t for w in times for t in w["submit"]]
        accepted = sum(w["accepted"] for w in times)
        requests = sum((Counter(w["requests"]) for w in times), Counter())
        return {"answers": accepted, "per_s": accepted / wall,
                "take": (percentile(takes, 50), percentile(takes, 99)),
                "submit": (percentile(submits, 50), percentile(submits, 99)),
                "requests": {k: v / max(accepted, 1) for k, v in requests.items()},
                "invariants": check_invariants(job, folder) if backend == "s3" else "-"}


def main() -> None:
    if sys.argv[1:2] == ["--worker"]:
        backend, job, folder, name, block, until, records = sys.argv[2:]
        worker(backend, job, Path(folder), name, int(block), float(until), int(records))
        return
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--workers", type=int, default=5)
    parser.add_argument("--records", type=int, default=5000)
    parser.add_argument("--blocks", type=int, nargs="+", default=[1, 5])
    args = parser.parse_args()
    with moto_server(BUCKET):
        print(f"load: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f}; {args.workers} workers, "
              f"N = {N}, {args.records:,} records, {args.seconds:g} s per run; S3 = moto server")
        print("| store | block | answers | answers/s | take p50 / p99 | submit p50 / p99 | "
              "S3 requests per answer | invariants |")
        print("|---|---:|---:|---:|---:|---:|---|---|")
        run_id = 0
        for block in args.blocks:
            for backend in ("s3", "sqlite"):
                run_id += 1
                r = run(backend, args.workers, block, args.seconds, args.records, run_id)
                ms = lambda pair: f"{pair[0] * 1000:.1f} / {pair[1] * 1000:.1f} ms"  # noqa: E731
                per = ", ".join(f"{k} {v:.2f}" for k, v in sorted(r["requests"].items())
                                if k != "412") or "-"
                total = sum(v for k, v in r["requests"].items() if k != "412")
                if total:
                    per += f" (all {total:.2f}; refused by 412: {r['requests'].get('412', 0):.2f})"
                name = "S3LeaseStore (moto)" if backend == "s3" else "LeaseStore (SQLite)"
                print(f"| {name} | {block} | {r['answers']:,} | {r['per_s']:,.0f} | {ms(r['take'])} | "
                      f"{ms(r['submit'])} | {per} | {r['invariants']} |", flush=True)


if __name__ == "__main__":
    main()
