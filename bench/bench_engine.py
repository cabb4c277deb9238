"""Engine benchmark: tuilabel beside koaning/datatui, whole processes, in one run.

    python bench/bench_engine.py            # needs datatui in bench/.work/peer (made on first run)

    python bench/bench_engine.py --runs 5 --no-export   # skip the ~5 min datatui export

Measures on a generated 1,000,000-record text manifest:
  first record ready     process start -> first record parsed and ready to show, peak RSS
  resume at 900,000      same, with 900,000 records already answered
  memory 1k vs 1M        peak RSS difference (first record, and after the full line index)
  durable answer         one answer written and fsynced (in-process, per answer)
  export 1M answered     `tuilabel export --format gt` vs `datatui export`, whole process

"Whole program" rows run each tool's own start-up code, the way a user starts it, up to the
moment it would start drawing: `tuilabel label FILE ...` (tuilabel.cli.main) and datatui's
documented `datatui(examples, collection, cache)` (bench/datatui_launch.py), each with
Textual's `App.run` replaced by a probe that reports and returns. Both have imported Textual,
read the manifest, opened the job and built their App object, so they do the same thing.
Children run on a pseudo-terminal (as a user's shell gives them), report on a pipe.
The "engine only" rows are tuilabel's core alone (no Textual): datatui has no such row,
because its state lives in datatui.app, which imports Textual.
Every measure runs --runs times per side, sides alternating; median and best are shown.
"""

from __future__ import annotations

import argparse
import os
import pty
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

# Reports go to a pipe (stdin/stdout/stderr are the pseudo-terminal).
REPORT = ("import os; report = lambda *words: os.write(int(os.environ['BENCH_REPORT_FD']), "
          "(' '.join(map(str, words)) + '\\n').encode())\n")

OURS_CORE = REPORT + """
import sys
from tuilabel.core.job_setup import JobRequest, prepare
from tuilabel.core.session import Session
job = prepare(JobRequest(source=sys.argv[1], labels="yes,no,maybe", output=sys.argv[2], worker="bench"))
s = Session(job.spec, job.folder, job.open_manifest()).open()
assert s.current is not None and s.current.source
report("ready", {rss}, s.current.index)
s.manifest.wait_index()
report("indexed", {rss}, s.manifest.line_count)
s.close()
""".replace("{rss}", RSS)

# `tuilabel label` as typed, up to the app's run().
OURS_PROGRAM = REPORT + """
import sys, textual.app
def probe(app):
    s = app.session
    assert s.current is not None and s.current.source
    report("ready", {rss}, s.current.index)
    s.manifest.wait_index()
    report("indexed", {rss}, s.manifest.line_count)
textual.app.App.run = probe
from tuilabel.cli import main
sys.exit(main(["label", sys.argv[1], "--labels", "yes,no,maybe", "--output", sys.argv[2], "--worker", "bench"]))
""".replace("{rss}", RSS)

# datatui's documented start, up to the app's run().
PEER_PROGRAM = REPORT + """
import sys, runpy, textual.app
def probe(app):
    assert app.state.current_example["content"]
    report("ready", {rss}, app.state.position)
    report("indexed", {rss}, len(app.state))
textual.app.App.run = probe
runpy.run_path({launch!r}, run_name="__main__")
""".replace("{rss}", RSS).replace("{launch!r}", repr(str(HERE / "datatui_launch.py")))


def run_child(py: str, code: str, *args: str) -> dict:
    """Start `py -c code args` on a fresh pseudo-terminal; times of its `ready`/`indexed`
    reports from process start, with the peak RSS (MB) and the record index it reported."""
    master, slave = pty.openpty()
    read_end, write_end = os.pipe()
    env = {**os.environ, "BENCH_REPORT_FD": str(write_end)}
    t0 = time.perf_counter()
    proc = subprocess.Popen([py, "-c", code, *args], stdin=slave, stdout=slave, stderr=slave,
                            pass_fds=(write_end,), env=env, start_new_session=True)
    os.close(slave)
    os.close(write_end)
    out: dict = {}
    with os.fdopen(read_end, "rb") as reports:
        for line in reports:
            parts = line.split()
            if parts and parts[0] in (b"ready", b"indexed"):
                out[parts[0].decode()] = (time.perf_counter() - t0, int(parts[1]) / 1024, int(parts[2]))
    screen = drain(master, proc)
    if proc.returncode or "ready" not in out:
        raise SystemExit(f"child failed ({proc.returncode}): {py} {args}\n{screen[-2000:]}")
    return out


def drain(master: int, proc: subprocess.Popen) -> str:
    """Read the child's terminal output until it exits (a full pty would block it)."""
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: the child closed its side
            break
        if not data:
            break
        chunks.append(data)
    proc.wait()
    os.close(master)
    return b"".join(chunks).decode(errors="replace")


def side_by_side(runs: int, ours, peer) -> tuple[list[dict], list[dict]]:
    """`runs` results of each, alternating sides so load hits both alike."""
    a, b = [], []
    for _ in range(runs):
        a.append(ours())
        b.append(peer())
    return a, b


def stat(results: list[dict], key: str, field: int) -> tuple[float, float]:
    """(median, best) of one reported number across runs."""
    values = [r[key][field] for r in results]
    return statistics.median(values), min(values)


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


def compile_ours() -> None:
    """Byte-compile tuilabel as `pip install` does for a user (this machine sets
    PYTHONDONTWRITEBYTECODE, so an editable checkout would recompile ~40 modules per start;
    datatui's venv was compiled by pip)."""
    subprocess.run([OUR_PY, "-m", "compileall", "-q", str(HERE.parent / "tuilabel")], check=True,
                   env={**os.environ, "PYTHONDONTWRITEBYTECODE": ""})


def fmt(value: tuple[float, float] | None, digits: int = 3) -> str:
    return "—" if value is None else f"{value[0]:.{digits}f} / {value[1]:.{digits}f}"


def main() -> None:
    import shutil

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="runs per side of each start-up measure (default 3)")
    parser.add_argument("--no-export", action="store_true", help="skip the 1M export (datatui's takes ~5 min)")
    args = parser.parse_args()
    WORK.mkdir(exist_ok=True)
    ensure_peer()
    compile_ours()
    big = make_manifest(WORK / "text1m.jsonl", N)
    small = make_manifest_slice(WORK / "text1k.jsonl", 1000)
    seed_tuilabel_answers(big, WORK / "resume-ours", RESUME_AT)
    seed_datatui_answers(big, WORK / "resume-peer", RESUME_AT)
    load = os.getloadavg()[0]
    runs = args.runs
    rows: list[tuple[str, tuple | None, tuple | None]] = []

    def fresh(py: str, code: str, path: Path, folder: str):
        def run():
            shutil.rmtree(WORK / folder, ignore_errors=True)
            return run_child(py, code, str(path), str(WORK / folder))
        return run

    # Whole programs, first record (fresh jobs each run).
    o1m, p1m = side_by_side(runs, fresh(OUR_PY, OURS_PROGRAM, big, "first-ours"), fresh(str(PEER_PY), PEER_PROGRAM, big, "first-peer"))
    o1k, p1k = side_by_side(runs, fresh(OUR_PY, OURS_PROGRAM, small, "first-ours"), fresh(str(PEER_PY), PEER_PROGRAM, small, "first-peer"))
    rows.append(("whole program: first record ready, 1M (s)", stat(o1m, "ready", 0), stat(p1m, "ready", 0)))
    rows.append(("  peak RSS at first record (MB)", stat(o1m, "ready", 1), stat(p1m, "ready", 1)))

    def grown(big_runs, small_runs, key):
        a, b = stat(big_runs, key, 1), stat(small_runs, key, 1)
        return a[0] - b[0], a[1] - b[1]

    rows.append(("  memory 1M - 1k, at first record (MB)", grown(o1m, o1k, "ready"), grown(p1m, p1k, "ready")))
    rows.append(("  memory 1M - 1k, all lines indexed (MB)", grown(o1m, o1k, "indexed"), grown(p1m, p1k, "indexed")))

    # Whole programs, resume at 900,000.
    o_r, p_r = side_by_side(
        runs,
        lambda: run_child(OUR_PY, OURS_PROGRAM, str(big), str(WORK / "resume-ours")),
        lambda: run_child(str(PEER_PY), PEER_PROGRAM, str(big), str(WORK / "resume-peer")),
    )
    assert all(r["ready"][2] == RESUME_AT for r in o_r + p_r), (o_r, p_r)
    rows.append(("whole program: resume at 900,000 (s)", stat(o_r, "ready", 0), stat(p_r, "ready", 0)))
    rows.append(("  peak RSS at resume (MB)", stat(o_r, "ready", 1), stat(p_r, "ready", 1)))

    # tuilabel's engine alone (no Textual): its own rows, no datatui counterpart.
    c1m = [fresh(OUR_PY, OURS_CORE, big, "first-core")() for _ in range(runs)]
    c_r = [run_child(OUR_PY, OURS_CORE, str(big), str(WORK / "resume-ours")) for _ in range(runs)]
    assert all(r["ready"][2] == RESUME_AT for r in c_r)
    rows.append(("engine only (core, no Textual): first record, 1M (s)", stat(c1m, "ready", 0), None))
    rows.append(("  peak RSS (MB)", stat(c1m, "ready", 1), None))
    rows.append(("engine only: resume at 900,000 (s)", stat(c_r, "ready", 0), None))

    # Durable answer (2,000 answers per side, one process each).
    d_ours, d_peer = durable_answers()
    rows.append(("durable answer, median of 2,000 (ms)", (d_ours["median_ms"],) * 2, (d_peer["median_ms"],) * 2))
    rows.append(("durable answer, p99 of 2,000 (ms)", (d_ours["p99_ms"],) * 2, (d_peer["p99_ms"],) * 2))

    # Export of 1M answered lines (one run per side: datatui's takes minutes).
    if not args.no_export:
        seed_tuilabel_answers(big, WORK / "export-ours", N)
        seed_datatui_answers(big, WORK / "export-peer", N)
        job = WORK / "export-ours" / "text1m"
        e_ours = timed([OUR_PY, "-m", "tuilabel", "export", str(job), "--format", "gt", "-o", str(WORK / "export-ours.manifest")])
        e_peer = timed([str(PEER_PY), "-m", "datatui", "export", "--cache", str(WORK / "export-peer"), "--file-out", str(WORK / "export-peer.jsonl")])
        lines = sum(1 for _ in open(WORK / "export-ours.manifest", "rb"))
        assert lines == N, lines
        rows.append(("export 1M answered lines, 1 run each (s)", (e_ours[0],) * 2, (e_peer[0],) * 2))
        rows.append(("  peak RSS of export (MB)", (e_ours[1],) * 2, (e_peer[1],) * 2))

    print(f"\n{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, Python {sys.version.split()[0]}, "
          f"{os.cpu_count()} cores, load average {load:.2f} at start, {os.getloadavg()[0]:.2f} at end; "
          f"median / best of {runs} runs per side")
    print(f"{'measure':54} {'tuilabel':>17} {'datatui':>19} {'ratio':>7}")
    for name, ours, peer in rows:
        ratio = f"{peer[0] / ours[0]:.1f}x" if ours and peer and ours[0] > 0.05 and peer[0] > 0 else "-"
        digits = 1 if name.endswith("(MB)") else 3
        print(f"{name:54} {fmt(ours, digits):>17} {fmt(peer, digits):>19} {ratio:>7}")


if __name__ == "__main__":
    main()
