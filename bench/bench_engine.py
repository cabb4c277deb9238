"""Engine benchmark: tuilabel beside koaning/datatui, whole processes, in one run.

    python bench/bench_engine.py            # needs datatui in bench/.work/peer (made on first run)

Measures on a generated 1,000,000-record text manifest:
  first record ready     process start -> first record parsed and ready to show, peak RSS
  resume at 900,000      same, with 900,000 records already answered
  memory 1k vs 1M        peak RSS difference (first record, and after the full line index)
  durable answer         one answer written and fsynced (in-process, per answer)
  export 1M answered     `tuilabel export --format gt` vs `datatui export`, whole process
Each child prints `ready <rss-peak-kB>` when its first record is ready; the harness times it.
"""

from __future__ import annotations

import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

import orjson

HERE = Path(__file__).resolve().parent
WORK = HERE / ".work"
PEER_VENV = WORK / "peer"
PEER_PY = PEER_VENV / "bin" / "python"
OUR_PY = sys.executable
N = 1_000_000
RESUME_AT = 900_000
WORDS = ("the quick brown fox jumps over lazy dog great product terrible service okay fine "
         "arrived broken works perfectly refund please never again love it").split()


def ensure_peer() -> None:
    if not PEER_PY.exists():
        subprocess.run([sys.executable, "-m", "venv", str(PEER_VENV)], check=True)
        subprocess.run([str(PEER_PY), "-m", "pip", "install", "-q", "datatui==0.0.2", "typer"], check=True)  # datatui does not declare typer


def make_manifest(path: Path, n: int) -> Path:
    if path.exists():
        return path
    rng = random.Random(1)
    tmp = path.with_suffix(".tmp")
    with open(tmp, "wb") as fh:
        for i in range(n):
            text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(6, 16))) + f" #{i}"
            # Both tools read the same file: `source` for tuilabel, `content` for datatui.
            fh.write(orjson.dumps({"source": text, "content": text}, option=orjson.OPT_APPEND_NEWLINE))
    tmp.rename(path)
    return path


RSS = "open('/proc/self/status').read().split('VmHWM:')[1].split()[0]"

OURS_FIRST = """
import sys, time
from tuilabel.core.job_setup import JobRequest, prepare
from tuilabel.core.session import Session
job = prepare(JobRequest(source=sys.argv[1], labels="yes,no,maybe", output=sys.argv[2], worker="bench"))
s = Session(job.spec, job.folder, job.open_manifest()).open()
assert s.current is not None and s.current.source
print("ready", {rss}, s.current.index, flush=True)
s.manifest.wait_index()
print("indexed", {rss}, s.manifest.line_count, flush=True)
s.close()
""".replace("{rss}", RSS)

PEER_FIRST = """
import sys, srsly
from datatui.app import State
examples = list(srsly.read_jsonl(sys.argv[1]))
state = State(examples, sys.argv[2], "default")
assert state.current_example["content"]
print("ready", {rss}, state.position, flush=True)
print("indexed", {rss}, len(examples), flush=True)
""".replace("{rss}", RSS)


def run_child(py: str, code: str, *args: str) -> dict:
    t0 = time.perf_counter()
    proc = subprocess.Popen([py, "-c", code, *args], stdout=subprocess.PIPE, text=True)
    out: dict = {}
    for line in proc.stdout:
        parts = line.split()
        if parts and parts[0] in ("ready", "indexed"):
            out[parts[0]] = (time.perf_counter() - t0, int(parts[1]) / 1024, int(parts[2]))
    proc.wait()
    if proc.returncode:
        raise SystemExit(f"child failed: {py} {args}")
    return out


def best_of(k: int, fn):
    runs = [fn() for _ in range(k)]
    return min(runs, key=lambda r: r["ready"][0])


def seed_tuilabel_answers(manifest: Path, out: Path, answered: int) -> None:
    """A job with `answered` records labeled, as a long session leaves it (then one clean close)."""
    from tuilabel.core.gt import lines as gt_lines
    from tuilabel.core.job_setup import JobRequest, prepare
    from tuilabel.core.store.journal import Entry
    from tuilabel.core.session import Session

    job = prepare(JobRequest(source=str(manifest), labels="yes,no,maybe", output=str(out), worker="bench"))
    journal = job.folder.journal("bench")
    if journal.exists():
        return
    journal.parent.mkdir(parents=True, exist_ok=True)
    job.folder.output_manifest.parent.mkdir(parents=True, exist_ok=True)
    when = gt_lines.datetime.now(gt_lines.timezone.utc)
    stamp = gt_lines.iso_seconds(when)
    with open(manifest, "rb") as src, open(journal, "wb") as jf, open(job.folder.output_manifest, "wb") as of:
        offset = 0
        for i, raw in enumerate(src):
            if i >= answered:
                break
            obj = gt_lines.answer_object(orjson.loads(raw), job.spec, i % 3, when)
            line = Entry(i, offset, "a", "bench", stamp, stamp, 1.5, obj).to_line()
            jf.write(line)
            of.write(orjson.dumps(obj, option=orjson.OPT_APPEND_NEWLINE))
            offset += len(raw)
    # One open (full replay: no checkpoint yet) and close writes the checkpoint.
    s = Session(job.spec, job.folder, job.open_manifest()).open()
    if answered < N:
        assert s.current.index == answered, s.current.index
    else:
        assert s.current is None  # every record answered: the job is done
    s.close()


def seed_datatui_answers(manifest: Path, cache: Path, answered: int) -> None:
    if (cache / "seeded").exists():
        return
    code = """
import sys, srsly, itertools
from diskcache import Cache
from datatui.app import mk_hash
cache = Cache(sys.argv[2])
with cache.transact():
    for ex in itertools.islice(srsly.read_jsonl(sys.argv[1]), int(sys.argv[3])):
        cache[mk_hash(ex, "default")] = {**ex, "label": "yes", "collection": "default", "timestamp": 0}
"""
    subprocess.run([str(PEER_PY), "-c", code, str(manifest), str(cache), str(answered)], check=True)
    (cache / "seeded").write_text("yes")


def durable_answers(count: int = 2000) -> tuple[dict, dict]:
    code_ours = """
import sys, time, statistics, orjson
from tuilabel.core.job_setup import JobRequest, prepare
from tuilabel.core.session import Session
job = prepare(JobRequest(source=sys.argv[1], labels="yes,no,maybe", output=sys.argv[2], worker="bench"))
s = Session(job.spec, job.folder, job.open_manifest()).open()
t = []
for i in range(int(sys.argv[3])):
    t0 = time.perf_counter(); s.answer(i % 3); t.append(time.perf_counter() - t0)
s.close()
print(orjson.dumps(t).decode())
"""
    code_peer = """
import sys, time, srsly, itertools, json
from datatui.app import State
examples = list(itertools.islice(srsly.read_jsonl(sys.argv[1]), int(sys.argv[3]) + 1))
state = State(examples, sys.argv[2], "default")
t = []
for i in range(int(sys.argv[3])):
    t0 = time.perf_counter(); state.write_annot("yes"); t.append(time.perf_counter() - t0)
print(json.dumps(t))
"""
    small = make_manifest_slice(WORK / "text5k.jsonl", 5000)
    import shutil

    shutil.rmtree(WORK / "durable-ours", ignore_errors=True)
    shutil.rmtree(WORK / "durable-peer", ignore_errors=True)
    ours = orjson.loads(subprocess.run([OUR_PY, "-c", code_ours, str(small), str(WORK / "durable-ours"), str(count)], capture_output=True, check=True).stdout)
    peer = orjson.loads(subprocess.run([str(PEER_PY), "-c", code_peer, str(small), str(WORK / "durable-peer"), str(count)], capture_output=True, check=True).stdout)

    def summary(ts):
        ts = sorted(ts)
        return {"median_ms": statistics.median(ts) * 1000, "p99_ms": ts[int(len(ts) * 0.99)] * 1000}

    return summary(ours), summary(peer)


def make_manifest_slice(path: Path, n: int) -> Path:
    if not path.exists():
        with open(WORK / "text1m.jsonl", "rb") as src, open(path, "wb") as dst:
            for i, line in enumerate(src):
                if i >= n:
                    break
                dst.write(line)
    return path


def timed(cmd: list[str]) -> tuple[float, float]:
    """Whole-process wall time and peak RSS (MB) of a command."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - t0
    if status:
        raise SystemExit(f"failed: {cmd}")
    return elapsed, usage.ru_maxrss / 1024


def main() -> None:
    import shutil

    WORK.mkdir(exist_ok=True)
    ensure_peer()
    big = make_manifest(WORK / "text1m.jsonl", N)
    small = make_manifest_slice(WORK / "text1k.jsonl", 1000)
    rows = []

    # First record ready (fresh jobs each run).
    def fresh_ours(path):
        shutil.rmtree(WORK / "first-ours", ignore_errors=True)
        return run_child(OUR_PY, OURS_FIRST, str(path), str(WORK / "first-ours"))

    def fresh_peer(path):
        shutil.rmtree(WORK / "first-peer", ignore_errors=True)
        return run_child(str(PEER_PY), PEER_FIRST, str(path), str(WORK / "first-peer"))

    ours_1m, peer_1m = best_of(3, lambda: fresh_ours(big)), best_of(3, lambda: fresh_peer(big))
    ours_1k, peer_1k = best_of(3, lambda: fresh_ours(small)), best_of(3, lambda: fresh_peer(small))
    rows.append(("first record ready, 1M (s)", ours_1m["ready"][0], peer_1m["ready"][0]))
    rows.append(("  peak RSS at first record (MB)", ours_1m["ready"][1], peer_1m["ready"][1]))
    rows.append(("memory 1M - 1k, at first record (MB)", ours_1m["ready"][1] - ours_1k["ready"][1], peer_1m["ready"][1] - peer_1k["ready"][1]))
    rows.append(("memory 1M - 1k, all lines indexed (MB)", ours_1m["indexed"][1] - ours_1k["indexed"][1], peer_1m["indexed"][1] - peer_1k["indexed"][1]))

    # Resume at 900,000.
    seed_tuilabel_answers(big, WORK / "resume-ours", RESUME_AT)
    seed_datatui_answers(big, WORK / "resume-peer", RESUME_AT)
    ours_r = best_of(3, lambda: run_child(OUR_PY, OURS_FIRST, str(big), str(WORK / "resume-ours")))
    peer_r = best_of(1, lambda: run_child(str(PEER_PY), PEER_FIRST, str(big), str(WORK / "resume-peer")))
    assert ours_r["ready"][2] == RESUME_AT and peer_r["ready"][2] == RESUME_AT, (ours_r, peer_r)
    rows.append(("resume at 900,000 (s)", ours_r["ready"][0], peer_r["ready"][0]))
    rows.append(("  peak RSS at resume (MB)", ours_r["ready"][1], peer_r["ready"][1]))

    # Durable answer.
    d_ours, d_peer = durable_answers()
    rows.append(("durable answer, median (ms)", d_ours["median_ms"], d_peer["median_ms"]))
    rows.append(("durable answer, p99 (ms)", d_ours["p99_ms"], d_peer["p99_ms"]))

    # Export of 1M answered lines.
    seed_tuilabel_answers(big, WORK / "export-ours", N)
    seed_datatui_answers(big, WORK / "export-peer", N)
    job = WORK / "export-ours" / "text1m"
    e_ours = timed([OUR_PY, "-m", "tuilabel", "export", str(job), "--format", "gt", "-o", str(WORK / "export-ours.manifest")])
    e_peer = timed([str(PEER_PY), "-m", "datatui", "export", "--cache", str(WORK / "export-peer"), "--file-out", str(WORK / "export-peer.jsonl")])
    lines = sum(1 for _ in open(WORK / "export-ours.manifest", "rb"))
    assert lines == N, lines
    rows.append(("export 1M answered lines (s)", e_ours[0], e_peer[0]))
    rows.append(("  peak RSS of export (MB)", e_ours[1], e_peer[1]))

    print(f"\n{'measure':42} {'tuilabel':>10} {'datatui':>10} {'ratio':>8}")
    for name, ours, peer in rows:
        ratio = f"{peer / ours:.1f}x" if ours > 0 and peer > 0 else "-"
        print(f"{name:42} {ours:10.3f} {peer:10.3f} {ratio:>8}")
    print(f"\n{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, Python {sys.version.split()[0]}, {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
