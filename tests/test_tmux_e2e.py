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
    try:
        return subprocess.run([*SERVER, *args], check=True, capture_output=True, text=True).stdout
    except subprocess.CalledProcessError:
        if args[0] != "new-session":
            raise
        # The previous test's kill-session ended the private server; a new-session that
        # connected while it was exiting fails ("server exited unexpectedly"): once more.
        time.sleep(0.5)
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


def wait_gone(target: str, text: str, timeout: float = 20.0) -> str:
    deadline = time.monotonic() + timeout
    screen = capture(target)
    while text in screen and time.monotonic() < deadline:
        time.sleep(0.1)
        screen = capture(target)
    assert text not in screen, f"{text!r} stayed on screen for {timeout}s; screen:\n{screen}"
    return screen


def pane_pid(target: str) -> int:
    return int(tmux("display-message", "-p", "-t", target, "#{pane_pid}").strip())


@pytest.fixture
def session_name():
    if TMUX is None:
        pytest.skip("tmux is not installed")
    name = f"tuilabel-test-{uuid.uuid4().hex[:8]}"
    yield name
    subprocess.run([*SERVER, "kill-session", "-t", name], capture_output=True)


def start(name: str, manifest: Path, new: bool, size: tuple[int, int] = (80, 24),
          job: str = "--labels alpha,beta,gamma") -> None:
    cmd = f"{sys.executable} -m tuilabel label {manifest} {job}"
    env = {"TERM": "xterm-256color", "XDG_CONFIG_HOME": str(manifest.parent / "config")}
    exports = " ".join(f"{k}={v}" for k, v in env.items())
    # COLUMNS/LINES (pytest may set them) would pin the app's size instead of the pane's.
    run = f"unset COLUMNS LINES; env {exports} {cmd}; sleep 30"
    if new:
        tmux("new-session", "-d", "-s", name, "-x", str(size[0]), "-y", str(size[1]), run)
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


def test_long_text_scrolls_by_keyboard_in_a_real_terminal(tmp_path, session_name):
    """Over SSH without a mouse: PageDown, End and Home reach every part of a 1,500-word
    record at 80x24; "more below" shows until the end; the key bar keeps q Quit."""
    words = " ".join(f"w{i}" for i in range(1500))
    manifest = tmp_path / "long.manifest"
    manifest.write_bytes(orjson.dumps({"source": f"START {words} FINISH"}) + b"\n" + orjson.dumps({"source": "next"}) + b"\n")
    start(session_name, manifest, new=True)
    wait_for(session_name, "START")
    screen = wait_for(session_name, "pgdn More")
    assert "more below" in screen and "q Quit" in screen
    assert "FINISH" not in screen
    tmux("send-keys", "-t", session_name, "PageDown")
    screen = wait_gone(session_name, "START")  # a page further
    assert "more below" in screen
    tmux("send-keys", "-t", session_name, "End")
    screen = wait_for(session_name, "FINISH")
    assert "more below" not in screen
    tmux("send-keys", "-t", session_name, "Home")
    screen = wait_for(session_name, "START")
    assert "FINISH" not in screen and "more below" in screen
    tmux("send-keys", "-t", session_name, "Down")
    screen = wait_gone(session_name, "START")  # one line down
    assert "w14" in screen
    tmux("send-keys", "-t", session_name, "1")
    wait_for(session_name, "next")


def test_small_windows_in_a_real_terminal(tmp_path, session_name):
    """40x12 labels with the short instructions whole; below it the window says what it
    needs, keys wait, and growing the window brings the job back."""
    manifest = tmp_path / "reviews.manifest"
    manifest.write_bytes(b"".join(orjson.dumps({"source": f"review {i}"}) + b"\n" for i in range(3)))
    (tmp_path / "job.toml").write_text(
        f'name = "reviews"\ninput = "{manifest}"\ntask = "text-classification"\n'
        'labels = ["positive", "negative"]\n[instructions]\n'
        'short = "Overall sentiment of the review: 1 positive, 2 negative."\n'
    )
    cmd = f"{sys.executable} -m tuilabel label {tmp_path / 'job.toml'}"
    run = f"unset COLUMNS LINES; env TERM=xterm-256color XDG_CONFIG_HOME={tmp_path / 'config'} {cmd}; sleep 30"
    tmux("new-session", "-d", "-s", session_name, "-x", "40", "-y", "12", run)
    wait_for(session_name, "Instructions")  # a job's first start opens them
    tmux("send-keys", "-t", session_name, "Escape")
    screen = wait_for(session_name, "review 0")
    flat = " ".join(screen.split())
    assert "Overall sentiment of the review: 1 positive, 2 negative." in flat
    assert "q Quit" in screen
    tmux("resize-window", "-t", session_name, "-x", "36", "-y", "10")
    screen = wait_for(session_name, "window too small: 36×10")
    assert "need ≥ 40×12" in screen and "review 0" not in screen
    tmux("send-keys", "-t", session_name, "1")  # blind keys do not label
    time.sleep(0.3)
    tmux("resize-window", "-t", session_name, "-x", "60", "-y", "16")
    screen = wait_for(session_name, "review 0")
    assert "0/3" in screen
    tmux("send-keys", "-t", session_name, "1")
    screen = wait_for(session_name, "review 1")
    assert "1/3" in screen
