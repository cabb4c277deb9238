"""The worker's portal and labeling app through `tuilabel serve` (OpenSSH client on loopback)
beside the same portal run locally: connect → portal painted, Enter → the job's first record
painted, and key → next record painted, with 1 and with 10 workers at once.

    python bench/bench_serve.py [--runs 3] [--keys 15]

Both sides use one team job each (one worker per record, so ten workers never wait on each
other; same records, same labels), the same worker ids, a tmux pane of 100x30 with
TERM=xterm-256color, and the same measuring: one thread per pane polls `capture-pane` every
5 ms. Start: the pane is created (`ssh alice@127.0.0.1 -p PORT`, or `python -m tuilabel work
--jobs DIR --worker alice`) → the portal's job list is on screen. Enter: → the first record's
text is on screen. Key: send-keys "1" → a different record on screen. With 10 workers the panes start together and press keys together; every pane's
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
PORTAL = "Start working"  # the portal's key bar: its job list is painted


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


def wait_text(tmux: Tmux, pane: str, text: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while text not in tmux.screen(pane):
        if time.monotonic() > deadline:
            raise RuntimeError(f"pane {pane}: no {text!r} within {timeout}s:\n{tmux.screen(pane)}")
        time.sleep(0.005)


def one_worker(tmux: Tmux, pane: str, argv: list[str], env: dict, keys: int, times: dict, barrier) -> None:
    barrier.wait()
    t0 = time.perf_counter()
    tmux.start(pane, argv, size=SIZE, env=env)
    wait_text(tmux, pane, PORTAL)
    times["start"].append(time.perf_counter() - t0)
    barrier.wait()
    t0 = time.perf_counter()
    tmux.keys(pane, "Enter")
    record = wait_change(tmux, pane, None)
    times["open"].append(time.perf_counter() - t0)
    time.sleep(0.3)  # let start-up work (line index, prefetch) settle, as a worker reads the record
    for _ in range(keys):
        barrier.wait()
        t0 = time.perf_counter()
        tmux.keys(pane, "1")
        record = wait_change(tmux, pane, record)
        times["key"].append(time.perf_counter() - t0)
        time.sleep(0.05)
    tmux.keys(pane, "q")
    wait_text(tmux, pane, PORTAL)
    tmux.keys(pane, "q")
    deadline = time.monotonic() + 20
    while "[ssh ended]" not in tmux.screen(pane) and time.monotonic() < deadline:
        time.sleep(0.05)
    tmux("kill-session", "-t", pane)


def round_of(tmux: Tmux, commands: dict[str, list[str]], env: dict, keys: int) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {"start": [], "open": [], "key": []}
    barrier = threading.Barrier(len(commands))
    errors: list[BaseException] = []

    def worker_thread(pane: str, argv: list[str]) -> None:
        try:
            one_worker(tmux, pane, argv, env, keys, times, barrier)
        except BaseException as exc:  # a stuck pane spoils the round: say so, do not average it away
            errors.append(exc)
            barrier.abort()

    threads = [threading.Thread(target=worker_thread, args=(f"{worker}-{time.monotonic_ns()}", argv))
               for worker, argv in commands.items()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return times


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
    make_job(WORK / "ssh-jobs", "reviews", records, team=settings)
    make_job(WORK / "local-jobs", "reviews", records, team=settings)
    home = WORK / "home"
    home.mkdir()
    host = Host(team, WORK / "ssh-jobs", home).start()
    tmux = Tmux(f"tuilabel-bench-serve-{os.getpid()}")
    env = {"HOME": str(home)}
    results: dict[tuple[str, int], dict[str, list[float]]] = {}
    try:
        for run in range(args.runs):
            for clients in (1, 10):
                for side in ("local", "ssh"):
                    if side == "ssh":
                        commands = {w: host.ssh(keys[w], w) for w in workers[:clients]}
                    else:
                        commands = {w: [*TUILABEL, "work", "--jobs", str(WORK / "local-jobs"), "--worker", w] for w in workers[:clients]}
                    times = round_of(tmux, commands, env, args.keys)
                    got = results.setdefault((side, clients), {name: [] for name in times})
                    for name, values in times.items():
                        got[name].extend(values)
                    print(f"run {run + 1} {side:5} x{clients:<2}: " + ", ".join(
                        f"{name} {statistics.median(values) * 1000:6.1f} ms" for name, values in times.items()), flush=True)
    finally:
        tmux.kill()
        host.stop()
    load = os.getloadavg()
    print(f"\n{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}, "
          f"{os.cpu_count()} cores, {args.runs} runs, {args.keys} keys per worker per run, pane {SIZE[0]}x{SIZE[1]}")
    print("| measure | workers | local median | local p90 | n | ssh median | ssh p90 | n | ssh / local (median) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for what, index in (("connect/start → portal painted", "start"), ("enter → job's first record painted", "open"),
                        ("key → next record painted", "key")):
        for clients in (1, 10):
            local, ssh = results[("local", clients)][index], results[("ssh", clients)][index]
            ratio = statistics.median(ssh) / statistics.median(local)
            print(f"| {what} | {clients} | {stats(local)} | {stats(ssh)} | {ratio:.2f}× |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
