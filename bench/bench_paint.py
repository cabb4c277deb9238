"""Process start to first record *painted*, in a real terminal (tmux): tuilabel beside datatui
and beside a bare Textual app that shows one line (the floor any Textual program pays).

    python bench/bench_paint.py [--runs 5]   # after bench_engine.py made the data and jobs
    git archive <commit> tuilabel themes sample_data | tar -x -C /tmp/base
    python bench/bench_paint.py --baseline /tmp/base   # adds that code's fresh-job row

For each program: start it in a fresh tmux pane (120x40), poll `capture-pane` every 2 ms until
the first record's text (its `#N` marker) is on screen; report the wall time, the process's
peak RSS (VmHWM) and the CPU time all its threads used by that moment (from schedstat: it
does not count waiting for a core, so it holds up better than wall time on a busy machine). Runs: a fresh job on the 1M manifest, and resuming at record
900,000 (jobs seeded by bench_engine.py). Every program runs --runs times, one after another
within each round, so load hits all alike; median and best are shown.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench_engine import compile_ours

HERE = Path(__file__).resolve().parent
WORK = HERE / ".work"
PEER_PY = WORK / "peer" / "bin" / "python"
BIG = WORK / "text1m.jsonl"
LAUNCH = HERE / "datatui_launch.py"
BARE = HERE / "bare_app.py"


TMUX = ["tmux", "-L", f"tuilabel-bench-{os.getpid()}", "-f", "/dev/null"]  # a private server, default settings


def tmux(*args: str) -> str:
    return subprocess.run([*TMUX, *args], capture_output=True, text=True).stdout


def cpu_seconds(pid: int) -> float:
    """CPU time the process has used so far, all its threads (schedstat: ns on a CPU)."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            total += int((task / "schedstat").read_text().split()[0])
        except (OSError, IndexError, ValueError):  # a thread that just ended
            pass
    return total / 1e9


def painted(command: str, marker: str, timeout: float = 60.0) -> tuple[float, float, float]:
    session = "bench-paint"
    tmux("kill-session", "-t", session)
    t0 = time.perf_counter()
    # COLUMNS/LINES in the environment would pin the app's size: drop them.
    for attempt in range(5):  # the server of the last run may still be exiting
        started = subprocess.run([*TMUX, "new-session", "-d", "-s", session, "-x", "120", "-y", "40",
                                  f"unset COLUMNS LINES; exec {command}"], capture_output=True)
        if started.returncode == 0:
            break
        time.sleep(0.1)
        t0 = time.perf_counter()
    else:
        raise SystemExit(f"tmux did not start: {started.stderr.decode()}")
    pid = int(tmux("display-message", "-p", "-t", session, "#{pane_pid}").strip())
    try:
        while time.perf_counter() - t0 < timeout:
            if marker in tmux("capture-pane", "-p", "-t", session):
                elapsed = time.perf_counter() - t0
                cpu = cpu_seconds(pid)
                status = Path(f"/proc/{pid}/status").read_text()
                rss = int(status.split("VmHWM:")[1].split()[0]) / 1024
                return elapsed, rss, cpu
            time.sleep(0.002)
        raise SystemExit(f"not painted within {timeout}s: {command}\n" + tmux("capture-pane", "-p", "-t", session))
    finally:
        tmux("kill-session", "-t", session)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="runs per program (default 5)")
    parser.add_argument("--baseline", type=Path, help="also run the tuilabel source tree in this folder (e.g. an "
                        "older commit from `git archive`), fresh job, as its own row")
    args = parser.parse_args()
    if not BIG.exists() or not PEER_PY.exists():
        raise SystemExit("run bench/bench_engine.py first (it makes the 1M manifest, the datatui venv and the seeded jobs)")
    compile_ours()
    if args.baseline:
        subprocess.run([sys.executable, "-m", "compileall", "-q", str(args.baseline / "tuilabel")], check=True,
                       env={**os.environ, "PYTHONDONTWRITEBYTECODE": ""})
    ours = f"{sys.executable} -m tuilabel label {BIG} --labels yes,no,maybe --worker bench"
    peer = f"{PEER_PY} {LAUNCH}"

    def fresh(command: str, folder: str):
        def run():
            shutil.rmtree(WORK / folder, ignore_errors=True)
            return painted(f"{command} {WORK / folder}", "#0")
        return run

    programs = {
        "bare": lambda: painted(f"{sys.executable} {BARE} 'the first record #0'", "#0"),
        "ours": fresh(f"{ours} --output", "paint-ours"),
        "peer": fresh(f"{peer} {BIG}", "paint-peer"),
        "ours resume": lambda: painted(f"{ours} --output {WORK / 'resume-ours'}", "#900000"),
        **({"baseline": fresh(f"env -C {args.baseline} {ours} --output", "paint-base")} if args.baseline else {}),
        "peer resume": lambda: painted(f"{peer} {BIG} {WORK / 'resume-peer'}", "#900000", 180),
    }
    load = os.getloadavg()[0]
    results: dict[str, list[tuple[float, float, float]]] = {name: [] for name in programs}
    for _ in range(args.runs):
        for name, run in programs.items():
            results[name].append(run())

    def cell(name: str, field: int, digits: int) -> str:
        values = [r[field] for r in results[name]]
        return f"{statistics.median(values):.{digits}f} / {min(values):.{digits}f}"

    def median(name: str, field: int = 0) -> float:
        return statistics.median(r[field] for r in results[name])

    print(f"\n{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, tmux 120x40, load average {load:.2f} at start, "
          f"{os.getloadavg()[0]:.2f} at end; median / best of {args.runs} runs")
    print(f"{'first record painted':30}{'bare Textual':>16}{'tuilabel':>16}{'datatui':>18}{'tuilabel/bare':>15}{'datatui/tuilabel':>18}")
    print(f"{'fresh job, 1M manifest (s)':30}{cell('bare', 0, 3):>16}{cell('ours', 0, 3):>16}{cell('peer', 0, 3):>18}"
          f"{median('ours') / median('bare'):>14.2f}x{median('peer') / median('ours'):>17.1f}x")
    print(f"{'  peak RSS (MB)':30}{cell('bare', 1, 1):>16}{cell('ours', 1, 1):>16}{cell('peer', 1, 1):>18}")
    print(f"{'  CPU used by then (s)':30}{cell('bare', 2, 3):>16}{cell('ours', 2, 3):>16}{cell('peer', 2, 3):>18}"
          f"{median('ours', 2) / median('bare', 2):>14.2f}x{median('peer', 2) / median('ours', 2):>17.1f}x")
    print(f"{'resume at 900,000 (s)':30}{'':>16}{cell('ours resume', 0, 3):>16}{cell('peer resume', 0, 3):>18}"
          f"{median('ours resume') / median('bare'):>14.2f}x{median('peer resume') / median('ours resume'):>17.1f}x")
    print(f"{'  peak RSS (MB)':30}{'':>16}{cell('ours resume', 1, 1):>16}{cell('peer resume', 1, 1):>18}")
    if args.baseline:
        print(f"{'baseline, fresh job, 1M (s)':30}{'':>16}{cell('baseline', 0, 3):>16}{'':>18}"
              f"{median('baseline') / median('bare'):>14.2f}x   ({args.baseline})")
        print(f"{'  CPU used by then (s)':30}{'':>16}{cell('baseline', 2, 3):>16}{'':>18}"
              f"{median('baseline', 2) / median('bare', 2):>14.2f}x")


if __name__ == "__main__":
    main()
