"""Canonical output.manifest: what quitting and a start after a crash cost on a 1M-line job.

    python bench/bench_canonical.py        # uses bench/.work (made by bench_engine.py's helpers)

On the 1,000,000-record manifest with 900,000 answers, each row in a fresh process (best of 3):
  quit, labeled on in order      resume, one answer, close: output marked canonical, no rewrite
  quit after a relabel           resume, answer, undo, relabel, close: full canonical rewrite
  start after a crash: open      the first record is ready (the rewrite runs in the background)
  start after a crash: rewrite   the background rewrite, from open until it is in place
  answer while it runs           one answer during the background rewrite (median of 20)
There is no peer row: datatui has no canonical output to keep. No peer, so no ratio.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time

from bench_engine import N, RESUME_AT, WORK, make_manifest, seed_tuilabel_answers

CHILD = """
import statistics, sys, time
from tuilabel.core.job_setup import JobRequest, prepare
from tuilabel.core.session import Session
mode = sys.argv[3]
t0 = time.perf_counter()
job = prepare(JobRequest(source=sys.argv[1], labels="yes,no,maybe", output=sys.argv[2], worker="bench"))
s = Session(job.spec, job.folder, job.open_manifest()).open()
print("open", time.perf_counter() - t0)
if mode == "crash":
    during = []
    while any(t.is_alive() for t in s._threads) and len(during) < 20:
        t = time.perf_counter(); s.answer(0); during.append(time.perf_counter() - t)
    s.wait_background()
    print("rewrite", time.perf_counter() - t0)
    print("answer", statistics.median(during) if during else float("nan"))
else:
    s.answer(1)
    if mode == "relabel":
        s.back(); s.answer(2)
t = time.perf_counter()
s.close()
assert s.output_canonical, s.messages
print("close", time.perf_counter() - t)
"""


def run(mode: str, manifest, out) -> dict[str, float]:
    if mode == "crash":
        (out / manifest.stem / "tuilabel" / "canonical.json").unlink()  # as a kill leaves it
    res = subprocess.run([sys.executable, "-c", CHILD, str(manifest), str(out), mode], capture_output=True, text=True, check=True)
    return {k: float(v) for k, v in (line.split() for line in res.stdout.splitlines())}


def main() -> None:
    WORK.mkdir(exist_ok=True)
    big = make_manifest(WORK / "text1m.jsonl", N)
    out = WORK / "canonical-ours"
    seed_tuilabel_answers(big, out, RESUME_AT)
    best = lambda mode, key: min(run(mode, big, out)[key] for _ in range(3))  # noqa: E731
    rows = [
        ("quit, labeled on in order (s)", best("inorder", "close")),
        ("quit after a relabel: full rewrite (s)", best("relabel", "close")),
        ("start after a crash: first record ready (s)", best("crash", "open")),
    ]
    crash = [run("crash", big, out) for _ in range(3)]
    rows.append(("start after a crash: rewrite in place (s)", min(r["rewrite"] for r in crash)))
    rows.append(("  one answer while it runs, median (ms)", statistics.median(r["answer"] for r in crash) * 1000))
    print(f"\n{'measure (1M lines, 900,000 answered)':46} {'tuilabel':>10}")
    for name, value in rows:
        print(f"{name:46} {value:10.3f}")
    print(f"\n{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, Python {sys.version.split()[0]}, {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
