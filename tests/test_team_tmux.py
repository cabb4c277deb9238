"""Three workers in three tmux panes label one team job (2 workers per record) to the end,
the way a team on one labeling host works: the task timer shows, `r` releases a task, each
app exits when the job has nothing left for its worker, and output.manifest holds every
record once, consolidated, with a confidence."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import orjson
import pytest

from test_tmux_e2e import capture, session_name, tmux, wait_for  # noqa: F401 (session_name: a fixture)

pytestmark = pytest.mark.tmux

RECORDS = 9
JOB_FILE = """\
name = "reviews"
input = "reviews.manifest"
labels = ["good", "bad"]
workers_per_record = 2
task_time_limit = "5m"
team = ["ann", "ben", "cat"]
"""


def test_three_workers_in_three_panes_label_a_job_to_the_end(tmp_path, session_name):
    name = session_name
    (tmp_path / "reviews.manifest").write_bytes(
        b"".join(orjson.dumps({"source": f"review number {i}"}) + b"\n" for i in range(RECORDS)))
    (tmp_path / "job.toml").write_text(JOB_FILE)
    env = f"env TERM=xterm-256color XDG_CONFIG_HOME={tmp_path / 'config'} PYTHONPATH={Path(__file__).parents[1]}"

    def command(worker: str) -> str:
        return f"cd {tmp_path}; unset COLUMNS LINES; {env} {sys.executable} -m tuilabel label job.toml --worker {worker}; sleep 60"

    tmux("new-session", "-d", "-s", name, "-x", "240", "-y", "40", command("ann"))
    tmux("split-window", "-h", "-t", name, command("ben"))
    tmux("split-window", "-h", "-t", name, command("cat"))
    tmux("select-layout", "-t", name, "even-horizontal")
    panes = [f"{name}:0.{i}" for i in range(3)]
    for pane in panes:  # three apps start at once: give a loaded machine time
        wait_for(pane, "task time", timeout=60)
    # ann releases her first task (GT's "Release task"): it goes back to the pool.
    tmux("send-keys", "-t", panes[0], "r")
    wait_for(panes[0], "went back to the pool", timeout=60)

    finished: set[str] = set()
    deadline = time.monotonic() + 120
    presses = 0
    while len(finished) < 3 and time.monotonic() < deadline:
        for i, pane in enumerate(panes):
            if pane in finished:
                continue
            screen = capture(pane)
            if "nothing left for" in screen:
                finished.add(pane)
                continue
            if "task time" in screen:
                tmux("send-keys", "-t", pane, "1" if i != 2 else "2")
                presses += 1
        time.sleep(0.15)
    assert len(finished) == 3, [capture(p) for p in panes]
    lines = [orjson.loads(l) for l in (tmp_path / "reviews" / "manifests" / "output" / "output.manifest").read_bytes().splitlines()]
    sources = [line["source"] for line in lines]
    assert sorted(sources) == sorted(f"review number {i}" for i in range(RECORDS))  # every record once
    for line in lines:
        meta = line["reviews-metadata"]
        assert "confidence" in meta and meta["class-name"] in ("good", "bad")
    journals = {p.parent.name: len(p.read_bytes().splitlines())
                for p in (tmp_path / "reviews" / "tuilabel" / "workers").glob("*/journal.jsonl")}
    assert sum(journals.values()) == 2 * RECORDS  # two answers per record, no more
