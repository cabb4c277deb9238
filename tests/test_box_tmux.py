"""Bounding boxes in a real terminal: `tuilabel label --task bounding-box` in tmux at 80×24
and 200×60.
Two boxes drawn with keys, one with the mouse (SGR mouse reports written into the pane, as a
terminal sends them), one relabeled, one deleted, submitted; then kill -9, a restart, and the
answer is there: in output.manifest and back on screen after undo."""

from __future__ import annotations

import os
import shutil
import signal
import time
from pathlib import Path

import orjson
import pytest

import test_tmux_e2e as e2e  # noqa: E402
from test_tmux_e2e import app_pid, capture, pane_pid, session_name, tmux, wait_for  # noqa: F401  (fixture)

pytestmark = pytest.mark.tmux

FASHION = Path(__file__).resolve().parents[1] / "sample_data" / "fashion"


def start(name: str, manifest: Path, new: bool, size: tuple[int, int] = (80, 24)) -> None:
    e2e.start(name, manifest, new, size, job="--task bounding-box --labels BAG,SUNGLASS,SHOES,WATCH --graphics auto")


def keys(name: str, *sequence: str) -> None:
    for key in sequence:
        tmux("send-keys", "-t", name, key)
        time.sleep(0.05)


def mouse(name: str, kind: str, col: int, row: int) -> None:
    """An SGR (1006) mouse report at 1-based cell (col, row): press, drag with button 1, release."""
    code, final = {"down": (0, "M"), "drag": (32, "M"), "up": (0, "m")}[kind]
    report = f"\x1b[<{code};{col};{row}{final}".encode()
    tmux("send-keys", "-t", name, "-H", *(f"{b:02x}" for b in report))
    time.sleep(0.1)


@pytest.mark.parametrize("size", [(80, 24), (200, 60)])
def test_boxes_by_keys_and_mouse_survive_kill_9(tmp_path, session_name, size):
    for name in ("001.jpg", "002.jpg"):
        shutil.copy(FASHION / name, tmp_path / name)
    manifest = tmp_path / "items.manifest"
    manifest.write_bytes(b'{"source-ref":"001.jpg"}\n{"source-ref":"002.jpg"}\n')
    start(session_name, manifest, new=True, size=size)
    wait_for(session_name, "0 boxes")
    keys(session_name, "b", "S-Left", "S-Up", "b")  # box 1: BAG (the first label)
    wait_for(session_name, "BAG")
    keys(session_name, "Right", "Right", "b", "S-Right", "S-Down", "b", "3")  # box 2, named SHOES
    wait_for(session_name, "SHOES")
    # Box 3 by mouse near the picture's top-left corner (well away from the two above).
    left, top = (4, 5) if size == (80, 24) else (30, 20)  # inside the picture at either size
    mouse(session_name, "down", left, top)
    mouse(session_name, "drag", left + 3, top + 1)
    mouse(session_name, "drag", left + 5, top + 3)
    mouse(session_name, "up", left + 5, top + 3)
    wait_for(session_name, "box 3/3")
    keys(session_name, "2")  # relabel the mouse box: SUNGLASS
    wait_for(session_name, "SUNGLASS")
    keys(session_name, "Tab")  # box 1 (BAG) ...
    wait_for(session_name, "box 1/3")
    keys(session_name, "DC")  # ... deleted
    wait_for(session_name, "deleted a BAG box")
    keys(session_name, "Enter")
    wait_for(session_name, "#2 ")

    output = tmp_path / "items" / "manifests" / "output" / "output.manifest"
    written = orjson.loads(output.read_bytes().splitlines()[0])  # committed before #2 was shown
    os.kill(app_pid(pane_pid(session_name)), signal.SIGKILL)
    time.sleep(0.3)

    annotations = written["items"]["annotations"]
    assert sorted(a["class_id"] for a in annotations) == [1, 2]  # SUNGLASS (mouse), SHOES (keys)
    assert written["items"]["image_size"] == [{"width": 320, "height": 240, "depth": 3}]
    assert written["items-metadata"]["class-map"].keys() == {"1", "2"}
    for a in annotations:
        assert all(isinstance(a[k], int) for k in ("left", "top", "width", "height"))
        assert a["width"] > 1 and a["height"] > 1
        assert a["left"] + a["width"] <= 320 and a["top"] + a["height"] <= 240

    start(session_name, manifest, new=False)
    wait_for(session_name, "#2 ")  # resumed at the second image
    keys(session_name, "u")
    screen = wait_for(session_name, "2 boxes")  # the picture is shown with its boxes
    assert "REVIEWING" in screen, screen
    keys(session_name, "Tab")
    screen = wait_for(session_name, "box 1/2")
    first = annotations[0]
    assert f"{first['left']},{first['top']} {first['width']}×{first['height']}" in screen, screen
    keys(session_name, "q")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and "REVIEWING" in capture(session_name):
        time.sleep(0.1)
    lines = [orjson.loads(x) for x in output.read_bytes().splitlines()]
    assert lines[0]["items"] == written["items"]  # unchanged by looking at it
