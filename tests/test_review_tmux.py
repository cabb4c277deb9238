"""`tuilabel review` in a real terminal: tmux at 100x30, decisions with send-keys, kill -9 mid
review, the same command again: it continues at the next undecided record, earlier decisions
kept; quitting writes the reviewed output with every line."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import orjson
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from review_data import ATTR, RECORDS, build_gt_folder  # noqa: E402

pytestmark = pytest.mark.tmux

from test_tmux_e2e import SERVER, pane_pid, tmux, wait_for  # noqa: E402  (the same private tmux server helpers)


@pytest.fixture
def session_name():
    if shutil.which("tmux") is None:
        pytest.skip("tmux is not installed")
    name = f"review-{uuid.uuid4().hex[:8]}"
    yield name
    subprocess.run([*SERVER, "kill-session", "-t", name], capture_output=True)


def start(name: str, job: Path, new: bool) -> None:
    cmd = f"{sys.executable} -m tuilabel review {job} --reviewer rita"
    env = f"TERM=xterm-256color XDG_CONFIG_HOME={job.parent / 'config'}"
    run = f"unset COLUMNS LINES; env {env} {cmd}; echo EXITED; sleep 30"
    if new:
        tmux("new-session", "-d", "-s", name, "-x", "100", "-y", "30", run)
    else:
        tmux("respawn-pane", "-k", "-t", name, run)


def app_pid(name: str) -> int:
    shell = pane_pid(name)
    out = subprocess.run(["pgrep", "-P", str(shell), "-f", "tuilabel"], capture_output=True, text=True).stdout.split()
    assert out, "the tuilabel process was not found under the tmux pane"
    return int(out[0])


def test_review_kill_resume(tmp_path, session_name):
    job = build_gt_folder(tmp_path)
    start(session_name, job, new=True)
    screen = wait_for(session_name, "???")  # the failed record (confidence 0) comes first
    assert "no consolidated label" in screen and "review 1 of 6" in screen
    tmux("send-keys", "-t", session_name, "space")  # skip it for now
    screen = wait_for(session_name, "meh, fine")
    for worker, label, seconds in RECORDS[1][1]:
        assert worker in screen and label in screen and f"{seconds:.1f} s" in screen
    assert "consolidated neutral" in screen and "0.41" in screen
    tmux("send-keys", "-t", session_name, "Enter")  # accept neutral
    wait_for(session_name, "not bad at all")
    tmux("send-keys", "-t", session_name, "2")  # override: negative
    wait_for(session_name, "awful")
    time.sleep(0.2)
    os.kill(app_pid(session_name), signal.SIGKILL)
    time.sleep(0.3)

    start(session_name, job, new=False)
    screen = wait_for(session_name, "???")  # the skipped record: first undecided in order
    assert "2/6" in screen
    tmux("send-keys", "-t", session_name, "x")  # decline it
    wait_for(session_name, "awful")
    tmux("send-keys", "-t", session_name, "Enter")  # accept negative
    wait_for(session_name, "love it")
    tmux("send-keys", "-t", session_name, "q")
    wait_for(session_name, "EXITED")

    journal = tmp_path / "sentiment-review" / "tuilabel" / "workers" / "rita" / "journal.jsonl"
    decided = {}
    for line in journal.read_bytes().splitlines():
        entry = orjson.loads(line)
        assert entry["w"] == "rita" and entry["r"] == "reviewer"
        decided[entry["i"]] = (entry["k"], entry["gt"].get(ATTR))
    assert decided == {1: ("a", 2), 3: ("a", 1), 4: ("d", None), 2: ("a", 1)}
    output = tmp_path / "sentiment-review" / "manifests" / "output" / "output.manifest"
    lines = [orjson.loads(x) for x in output.read_bytes().splitlines()]
    assert [x["source"] for x in lines] == [r[0] for r in RECORDS]
    assert [x.get(ATTR) for x in lines] == [0, 2, 1, 1, None, 0]
    assert [x[ATTR + "-metadata"].get("confidence") for x in lines] == [0.95, 1.0, 1.0, 1.0, None, 0.88]
