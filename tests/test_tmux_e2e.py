"""The real command in a real terminal: `tuilabel label` in tmux at 80x24, labeled with
send-keys, killed with SIGKILL mid-job, started again: it resumes at the right record and
every output.manifest line is whole."""

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

pytestmark = pytest.mark.tmux

TMUX = shutil.which("tmux")


# A private tmux server with default settings, so no other tmux user (or its size) interferes.
SERVER = ["tmux", "-L", f"tuilabel-e2e-{os.getpid()}", "-f", "/dev/null"]


def tmux(*args: str) -> str:
    return subprocess.run([*SERVER, *args], check=True, capture_output=True, text=True).stdout


def capture(target: str) -> str:
    return tmux("capture-pane", "-p", "-t", target)


def wait_for(target: str, text: str, timeout: float = 20.0) -> str:
    deadline = time.monotonic() + timeout
    screen = ""
    while time.monotonic() < deadline:
        screen = capture(target)
        if text in screen:
            return screen
        time.sleep(0.1)
    raise AssertionError(f"{text!r} did not appear on screen within {timeout}s; screen:\n{screen}")


def pane_pid(target: str) -> int:
    return int(tmux("display-message", "-p", "-t", target, "#{pane_pid}").strip())


@pytest.fixture
def session_name():
    if TMUX is None:
        pytest.skip("tmux is not installed")
    name = f"tuilabel-test-{uuid.uuid4().hex[:8]}"
    yield name
    subprocess.run([*SERVER, "kill-session", "-t", name], capture_output=True)


def start(name: str, manifest: Path, new: bool) -> None:
    cmd = f"{sys.executable} -m tuilabel label {manifest} --labels alpha,beta,gamma"
    env = {"TERM": "xterm-256color", "XDG_CONFIG_HOME": str(manifest.parent / "config")}
    exports = " ".join(f"{k}={v}" for k, v in env.items())
    # COLUMNS/LINES (pytest may set them) would pin the app's size instead of the pane's.
    run = f"unset COLUMNS LINES; env {exports} {cmd}; sleep 30"
    if new:
        tmux("new-session", "-d", "-s", name, "-x", "80", "-y", "24", run)
    else:
        tmux("respawn-pane", "-k", "-t", name, run)


def app_pid(shell_pid: int) -> int:
    """The python process under the pane's shell."""
    out = subprocess.run(["pgrep", "-P", str(shell_pid), "-f", "tuilabel"], capture_output=True, text=True).stdout.split()
    assert out, "the tuilabel process was not found under the tmux pane"
    return int(out[0])


def test_label_kill_resume(tmp_path, session_name):
    manifest = tmp_path / "reviews.manifest"
    manifest.write_bytes(b"".join(orjson.dumps({"source": f"review text number {i}"}) + b"\n" for i in range(12)))
    start(session_name, manifest, new=True)
    wait_for(session_name, "review text number 0")
    for n, key in enumerate(["1", "2", "3", "1", "2"]):
        tmux("send-keys", "-t", session_name, key)
        wait_for(session_name, f"review text number {n + 1}")
    shell = pane_pid(session_name)
    os.kill(app_pid(shell), signal.SIGKILL)
    time.sleep(0.3)
    start(session_name, manifest, new=False)
    screen = wait_for(session_name, "review text number 5")
    assert "5/12" in screen
    tmux("send-keys", "-t", session_name, "3")
    wait_for(session_name, "review text number 6")
    tmux("send-keys", "-t", session_name, "q")
    deadline = time.monotonic() + 10
    output = tmp_path / "reviews" / "manifests" / "output" / "output.manifest"
    while time.monotonic() < deadline and "review text number 6" in capture(session_name):
        time.sleep(0.1)
    lines = output.read_bytes().splitlines()
    objects = [orjson.loads(line) for line in lines]  # every line whole and valid JSON
    assert [o["source"] for o in objects] == [f"review text number {i}" for i in range(6)]
    assert [o["reviews"] for o in objects] == [0, 1, 2, 0, 1, 2]
