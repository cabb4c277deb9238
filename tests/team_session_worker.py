"""One scripted team worker driving the real session (job setup, journal, lease-ahead thread,
output writer) at full speed, for tests/test_team_session.py and bench/bench_team.py.

    team_session_worker.py INPUT WORKER N SEED [--decline-every K] [--max A] [--until T] [--report FILE] [--team IDS] [--output DIR|s3://…]

Answers (label = a hash of record and worker, so runs are comparable) until the lease store
has nothing left for this worker, or after A answers (then it exits without closing: the
same as being killed). With --report, each answer's key → next-record time is written as
JSON lines (seconds).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import zlib

import orjson

from tuilabel.core.job_setup import JobRequest, prepare


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("input")
    parser.add_argument("worker")
    parser.add_argument("n", type=int)
    parser.add_argument("seed", type=int)
    parser.add_argument("--decline-every", type=int, default=0)
    parser.add_argument("--max", type=int, default=0)
    parser.add_argument("--report")
    parser.add_argument("--labels", default="a,b,c")
    parser.add_argument("--until", type=float, default=0, help="stop (and close) at this time.time()")
    parser.add_argument("--team", help="the worker ids allowed (comma-separated; default: anyone)")
    parser.add_argument("--output", help="where the job folder goes (an s3:// prefix: a job across machines)")
    args = parser.parse_args()
    job = prepare(JobRequest(source=args.input, labels=args.labels, worker=args.worker, output=args.output,
                             team={"workers_per_record": args.n, "task_time_limit": 60,
                                   **({"team": args.team.split(",")} if args.team else {})}))
    session, mirror = job.start()
    k = len(job.spec.labels)
    times = []
    answered = 0
    while session.current is not None:
        index = session.current.index
        start = time.perf_counter()
        if args.decline_every and (index * 7 + args.seed) % args.decline_every == 0:
            session.decline()
        else:
            session.answer((index * 31 + zlib.crc32(args.worker.encode()) % 97 + args.seed) % k)
        times.append(time.perf_counter() - start)
        answered += 1
        if args.max and answered >= args.max:
            os._exit(0)  # no close: leases stay held, as after kill -9
        if args.until and time.time() >= args.until:
            break
    job.stop(session, mirror)
    if args.report:
        with open(args.report, "ab") as fh:
            fh.write(orjson.dumps({"worker": args.worker, "times": times, "messages": session.messages}) + b"\n")
    print(f"{args.worker} answered {answered}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
