"""The labeling app through `tuilabel serve` (OpenSSH client on loopback) beside the same app
run locally: connect → first record painted, and key → next record painted, with 1 and with 10
workers at once.

    python bench/bench_serve.py [--runs 3] [--keys 15]

Both sides use one team job each (one worker per record, so ten workers never wait on each
other; same records, same labels), the same worker ids, a tmux pane of 100x30 with
TERM=xterm-256color, and the same measuring: one thread per pane polls `capture-pane` every
5 ms. Start: the pane is created (`ssh alice@127.0.0.1 -p PORT`, or `python -m tuilabel label
JOB --worker alice`) → the record's text is on screen. Key: send-keys "1" → a different record
on screen. With 10 workers the panes start together and press keys together; every pane's
times count. Runs alternate local and ssh so load hits both alike.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

from drivers.ssh_host import TUILABEL, Host, Tmux, make_job, make_key, missing_tools, team_add  # noqa: E402

WORK = HERE / ".work" / "serve"
SIZE = (100, 30)
MARK = "reviews text number"


def shown(screen: str) -> str | None:
    return next((line for line in screen.splitlines() if MARK in line), None)


def wait_change(tmux: Tmux, pane: str, before: str | None, timeout: float = 60.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        now = shown(tmux.screen(pane))
        if now is not None and now != before:
            return now
        time.sleep(0.005)
    raise RuntimeError(f"pane {pane}: no new record within {timeout}s:\n{tmux.screen(pane)}")


def one_worker(tmux: Tmux, pane: str, argv: list[str], env: dict, keys: int, starts: list, key_times: list, barrier) -> None:
    barrier.wait()
    t0 = time.perf_counter()
    tmux.start(pane, argv, size=SIZE, env=env)
    record = wait_change(tmux, pane, None)
    starts.append(time.perf_counter() - t0)
    time.sleep(0.3)  # let start-up work (line index, prefetch) settle, as a worker reads the record
    for _ in range(keys):
        barrier.wait()
        t0 = time.perf_counter()
        tmux.keys(pane, "1")
        record = wait_change(tmux, pane, record)
        key_times.append(time.perf_counter() - t0)
        time.sleep(0.05)
    tmux.keys(pane, "q")
    deadline = time.monotonic() + 20
    while "[ssh ended]" not in tmux.screen(pane) and time.monotonic() < deadline:
        time.sleep(0.05)
    tmux("kill-session", "-t", pane)


def round_of(tmux: Tmux, commands: dict[str, list[str]], env: dict, keys: int) -> tuple[list, list]:
    starts: list[float] = []
    key_times: list[float] = []
    barrier = threading.Barrier(len(commands))
    threads = [threading.Thread(target=one_worker, args=(tmux, f"{worker}-{time.monotonic_ns()}", argv, env, keys, starts, key_times, barrier))
               for worker, argv in commands.items()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return starts, key_times


def stats(values: list[float]) -> str:
    ms = sorted(v * 1000 for v in values)
    p90 = ms[min(len(ms) - 1, int(round(0.9 * (len(ms) - 1))))]
    return f"{statistics.median(ms):7.1f} ms | {p90:7.1f} ms | {len(ms):4d}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--keys", type=int, default=15, help="keys per worker per run")
    args = parser.parse_args()
    if missing_tools():
        sys.exit(missing_tools())
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    workers = [f"w{n}" for n in range(10)]
    team = WORK / "host" / "team.toml"
    team.parent.mkdir()
    keys = {}
    for worker in workers:
        keys[worker] = make_key(WORK, worker)
        team_add(team, worker, keys[worker])
    records = 10 * (args.keys + 20) * args.runs * 2
    settings = {"workers_per_record": 1}
    ssh_job = make_job(WORK / "ssh-jobs", "reviews", records, team=settings)
    local_job = make_job(WORK / "local-jobs", "reviews", records, team=settings)
    home = WORK / "home"
    home.mkdir()
    host = Host(team, ssh_job, home).start()
    tmux = Tmux(f"tuilabel-bench-serve-{os.getpid()}")
    env = {"HOME": str(home)}
    results: dict[tuple[str, int], tuple[list, list]] = {}
    try:
        for run in range(args.runs):
            for clients in (1, 10):
                for side in ("local", "ssh"):
                    if side == "ssh":
                        commands = {w: host.ssh(keys[w], w) for w in workers[:clients]}
                    else:
                        commands = {w: [*TUILABEL, "label", str(local_job), "--worker", w] for w in workers[:clients]}
                    starts, key_times = round_of(tmux, commands, env, args.keys)
                    got = results.setdefault((side, clients), ([], []))
                    got[0].extend(starts)
                    got[1].extend(key_times)
                    print(f"run {run + 1} {side:5} x{clients:<2}: start {statistics.median(starts) * 1000:6.0f} ms, "
                          f"key {statistics.median(key_times) * 1000:5.1f} ms", flush=True)
    finally:
        tmux.kill()
        host.stop()
    load = os.getloadavg()
    print(f"\n{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}, "
          f"{os.cpu_count()} cores, {args.runs} runs, {args.keys} keys per worker per run, pane {SIZE[0]}x{SIZE[1]}")
    print("| measure | workers | local median | local p90 | n | ssh median | ssh p90 | n | ssh / local (median) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for what, index in (("connect/start → first record painted", 0), ("key → next record painted", 1)):
        for clients in (1, 10):
            local, ssh = results[("local", clients)][index], results[("ssh", clients)][index]
            ratio = statistics.median(ssh) / statistics.median(local)
            print(f"| {what} | {clients} | {stats(local)} | {stats(ssh)} | {ratio:.2f}× |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
