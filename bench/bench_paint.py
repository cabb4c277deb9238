"""Process start to first record *painted*, in a real terminal (tmux), tuilabel beside datatui.

    python bench/bench_paint.py      # after bench_engine.py has made the data and seeded jobs

For each tool: start it in a fresh tmux pane (120x40), poll `capture-pane` every 2 ms until the
first record's text (its `#N` marker) is on screen; report the wall time and the process's
peak RSS (VmHWM) at that moment. Runs: a fresh job on the 1M manifest, and resuming at
record 900,000 (jobs seeded by bench_engine.py).
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORK = HERE / ".work"
PEER_PY = WORK / "peer" / "bin" / "python"
BIG = WORK / "text1m.jsonl"
LAUNCH = HERE / "datatui_launch.py"


TMUX = ["tmux", "-L", f"tuilabel-bench-{os.getpid()}", "-f", "/dev/null"]  # a private server, default settings


def tmux(*args: str) -> str:
    return subprocess.run([*TMUX, *args], capture_output=True, text=True).stdout


def painted(command: str, marker: str, timeout: float = 60.0) -> tuple[float, float]:
    session = "bench-paint"
    tmux("kill-session", "-t", session)
    t0 = time.perf_counter()
    # COLUMNS/LINES in the environment would pin the app's size: drop them.
    subprocess.run([*TMUX, "new-session", "-d", "-s", session, "-x", "120", "-y", "40", f"unset COLUMNS LINES; exec {command}"], check=True)
    pid = int(tmux("display-message", "-p", "-t", session, "#{pane_pid}").strip())
    try:
        while time.perf_counter() - t0 < timeout:
            if marker in tmux("capture-pane", "-p", "-t", session):
                elapsed = time.perf_counter() - t0
                status = Path(f"/proc/{pid}/status").read_text()
                rss = int(status.split("VmHWM:")[1].split()[0]) / 1024
                return elapsed, rss
            time.sleep(0.002)
        raise SystemExit(f"not painted within {timeout}s: {command}\n" + tmux("capture-pane", "-p", "-t", session))
    finally:
        tmux("kill-session", "-t", session)


def best(runs: int, fn) -> tuple[float, float]:
    results = [fn() for _ in range(runs)]
    return min(results), statistics.median(r[0] for r in results)


def main() -> None:
    if not BIG.exists() or not PEER_PY.exists():
        raise SystemExit("run bench/bench_engine.py first (it makes the 1M manifest, the datatui venv and the seeded jobs)")
    ours = f"{sys.executable} -m tuilabel label {BIG} --labels yes,no,maybe --worker bench"

    def fresh_ours():
        shutil.rmtree(WORK / "paint-ours", ignore_errors=True)
        return painted(f"{ours} --output {WORK / 'paint-ours'}", "#0")

    def fresh_peer():
        shutil.rmtree(WORK / "paint-peer", ignore_errors=True)
        return painted(f"{PEER_PY} {LAUNCH} {BIG} {WORK / 'paint-peer'}", "#0")

    rows = []
    (o, o_med), (p, p_med) = best(3, fresh_ours), best(3, fresh_peer)
    rows.append(("first record painted, 1M (s)", o[0], p[0]))
    rows.append(("  peak RSS (MB)", o[1], p[1]))
    resume_ours = best(3, lambda: painted(f"{ours} --output {WORK / 'resume-ours'}", "#900000"))
    resume_peer = best(1, lambda: painted(f"{PEER_PY} {LAUNCH} {BIG} {WORK / 'resume-peer'}", "#900000", 180))
    rows.append(("resume at 900,000 painted (s)", resume_ours[0][0], resume_peer[0][0]))
    rows.append(("  peak RSS (MB)", resume_ours[0][1], resume_peer[0][1]))
    print(f"\n{'measure (best of runs)':36} {'tuilabel':>10} {'datatui':>10} {'ratio':>8}")
    for name, a, b in rows:
        print(f"{name:36} {a:10.3f} {b:10.3f} {b / a:7.1f}x")
    print(f"(medians: fresh {o_med:.3f} s vs {p_med:.3f} s)")
    print(time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()))


if __name__ == "__main__":
    main()
