"""`pip install .` into a clean virtual environment, then `tuilabel demo` in a real terminal
(tmux) at 80x24 and 200x60: the fashion job shows, in coloured half-block pixels."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
pytestmark = [pytest.mark.tmux, pytest.mark.slow]


@pytest.fixture(scope="module")
def wheel_venv(tmp_path_factory):
    if not shutil.which("tmux"):
        pytest.skip("tmux is not installed (apt-get install tmux)")
    root = tmp_path_factory.mktemp("wheel")
    wheel_dir = root / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheel_dir), str(REPO)], check=True)
    wheel = next(wheel_dir.glob("tuilabel-*.whl"))
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(venv / "bin" / "pip"), "install", "-q", str(wheel)], check=True)
    return venv


@pytest.mark.parametrize("cols, rows", [(80, 24), (200, 60)])
def test_demo_from_wheel_shows_coloured_pixels(wheel_venv, tmp_path, cols, rows):
    name = f"wheel-demo-{cols}"
    tmux = ["tmux", "-L", f"tuilabel-test-{name}-{os.getpid()}", "-f", "/dev/null"]  # a private server: its own size
    tuilabel = wheel_venv / "bin" / "tuilabel"
    # Outside the source tree, so only the installed wheel can provide the sample data.
    # COLUMNS/LINES from the calling shell would pin Textual to that size: drop them.
    cmd = f"cd {tmp_path} && unset COLUMNS LINES && XDG_DATA_HOME={tmp_path} COLORTERM=truecolor exec {tuilabel} demo"
    subprocess.run([*tmux, "kill-session", "-t", name], capture_output=True)
    subprocess.run([*tmux, "new-session", "-d", "-s", name, "-x", str(cols), "-y", str(rows), cmd], check=True)
    try:
        screen = ""
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            screen = subprocess.run([*tmux, "capture-pane", "-p", "-e", "-t", name], capture_output=True, text=True).stdout
            if "fashion-classification" in screen and screen.count("▀") > 200:
                break
            time.sleep(0.2)
        assert "fashion-classification" in screen, screen
        # Instructions open on a job's first start; close them and look at the picture.
        subprocess.run([*tmux, "send-keys", "-t", name, "Escape"], check=True)
        time.sleep(1.0)
        screen = subprocess.run([*tmux, "capture-pane", "-p", "-e", "-t", name], capture_output=True, text=True).stdout
        plain = re.sub(r"\x1b\[[0-9;:]*m", "", screen)
        assert "BAG" in plain and "SUNGLASS" in plain and "WATCH" in plain
        assert plain.count("▀") > cols * rows // 6, "no half-block picture on screen"
        colours = set(re.findall(r"\x1b\[[0-9;]*38;2;(\d+;\d+;\d+)", screen))
        assert len(colours) > 20, f"only {len(colours)} distinct colours: not a picture"
        # The bag in 001.jpg is red: some cell must be strongly red.
        assert any(int(r) > 150 and int(g) < 90 and int(b) < 90 for r, g, b in (c.split(";") for c in colours))
    finally:
        subprocess.run([*tmux, "kill-session", "-t", name], capture_output=True)
