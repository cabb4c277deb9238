"""Pictures in real terminals: `tuilabel label` started inside xterm (as a VT340, sixel) and
kitty (Debian's 0.26.5: no Unicode placeholders) under Xvfb, judged by the screenshot's pixels.

The picture has three solid quadrants (red, green, blue) and black and yellow stripes, 3
pixels wide, in the fourth. "Drawn" means the three colours are on screen in the right
places. "Real pixels" means a row through the stripes changes colour several times inside each
character cell: half-block shows one colour per cell column, so the same check fails on a
half-block run (which is checked too, so the check itself is known to tell them apart).

Needs Xvfb, ImageMagick's `import`, xdotool, xterm and kitty (.ci/run installs them); each test
skips with the missing tool's name otherwise.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest
from PIL import Image, ImageChops, ImageFilter

RED, GREEN, BLUE = (230, 30, 30), (30, 200, 60), (40, 60, 220)
SCREEN = (1600, 1000)
TUILABEL = str(Path(sys.executable).with_name("tuilabel"))


def need(*tools: str) -> None:
    for tool in tools:
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed (apt-get install xvfb xterm kitty imagemagick xdotool)")


@pytest.fixture(scope="module")
def display():
    """A private X server; its number comes from Xvfb itself (-displayfd), so runs never clash."""
    need("Xvfb")
    read_end, write_end = os.pipe()
    xvfb = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write_end), "-screen", "0", f"{SCREEN[0]}x{SCREEN[1]}x24", "-nolisten", "tcp"],
        pass_fds=(write_end,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    os.close(write_end)
    number = b""
    while not number.endswith(b"\n"):  # Xvfb writes the number, then the newline: read both
        chunk = os.read(read_end, 16)
        if not chunk:
            pytest.fail("Xvfb did not start")
        number += chunk
    yield f":{number.decode().strip()}"
    xvfb.kill()
    xvfb.wait()
    os.close(read_end)


@pytest.fixture
def job(tmp_path: Path) -> Path:
    """A one-image manifest (no instructions, so no dialog covers the picture)."""
    picture = Image.new("RGB", (800, 600))
    picture.paste(RED, (0, 0, 400, 300))
    picture.paste(GREEN, (400, 0, 800, 300))
    picture.paste(BLUE, (0, 300, 400, 600))
    for x in range(400, 800, 6):
        picture.paste((240, 220, 0), (x, 300, x + 3, 600))
    picture.save(tmp_path / "quadrants.png")
    manifest = tmp_path / "pictures.jsonl"
    manifest.write_bytes(orjson.dumps({"source-ref": str(tmp_path / "quadrants.png")}) + b"\n")
    return manifest


class Terminal:
    """A terminal emulator on `display` running `tuilabel label` on `manifest`."""

    def __init__(self, display: str, tmp_path: Path, manifest: Path, graphics: str, command: list[str], extra_env=None):
        self.display, self.tmp_path = display, tmp_path
        self.pid_file = tmp_path / f"app-{graphics}.pid"
        script = tmp_path / f"run-{graphics}.sh"
        script.write_text(
            "#!/bin/sh\n"
            f"echo $$ > '{self.pid_file}'\n"
            f"exec '{TUILABEL}' label '{manifest}' --labels yes,no --graphics {graphics}\n"
        )
        script.chmod(0o755)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("TMUX", "STY", "SSH_", "TERM", "COLORTERM"))}
        env.update(
            DISPLAY=display, COLORTERM="truecolor", HOME=str(tmp_path),
            XDG_CONFIG_HOME=str(tmp_path / "config"), XDG_DATA_HOME=str(tmp_path / "data"), **(extra_env or {}),
        )
        self.process = subprocess.Popen([*command, str(script)], env=env, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL, start_new_session=True)
        self.shots = 0

    def screenshot(self) -> Image.Image:
        self.shots += 1
        path = self.tmp_path / f"shot-{self.shots}.png"
        done = subprocess.run(["import", "-display", self.display, "-window", "root", f"png:{path}"],
                              capture_output=True, text=True, timeout=30)
        assert done.returncode == 0, f"import failed: {done.stderr.strip()}"
        return Image.open(path).convert("RGB")

    def wait_for_picture(self, timeout: float = 40.0) -> tuple[Image.Image, dict]:
        """The first screenshot with the three solid quadrants in place (or fail with the last)."""
        deadline = time.monotonic() + timeout
        while True:
            shot = self.screenshot()
            found = quadrants(shot)
            if found is not None:
                return shot, found
            if time.monotonic() > deadline or self.process.poll() is not None:
                pytest.fail(f"the picture never appeared; last screenshot: {self.tmp_path}/shot-{self.shots}.png")
            time.sleep(0.5)

    def press(self, key: str) -> None:
        """A key press through the X server (xdotool), to the terminal's window."""
        window = subprocess.run(["xdotool", "search", "--sync", "--pid", str(self.process.pid)],
                                env={**os.environ, "DISPLAY": self.display}, capture_output=True,
                                text=True, timeout=30).stdout.split()[0]
        subprocess.run(["xdotool", "windowfocus", "--sync", window, "key", key],
                       env={**os.environ, "DISPLAY": self.display}, check=True, timeout=30)

    def wait_for_no_picture(self, timeout: float = 40.0) -> None:
        deadline = time.monotonic() + timeout
        while quadrants(self.screenshot()) is not None:
            if time.monotonic() > deadline:
                pytest.fail(f"the picture stayed on screen: {self.tmp_path}/shot-{self.shots}.png")
            time.sleep(0.5)

    def __enter__(self) -> Terminal:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        try:
            os.kill(int(self.pid_file.read_text()), signal.SIGKILL)
        except (OSError, ValueError):
            pass
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()


def mask_of(shot: Image.Image, channel: int) -> Image.Image:
    """The pixels where `channel` (0 red, 1 green, 2 blue) beats both others by over 100: the
    solid quadrants, whether drawn in full colour or approximated by a 256-colour terminal."""
    bands = shot.split()
    others = ImageChops.lighter(*(band for n, band in enumerate(bands) if n != channel))
    return ImageChops.subtract(bands[channel], others).point(lambda v: 255 if v > 100 else 0)


def quadrants(shot: Image.Image) -> dict | None:
    """Bounding boxes of the red, green and blue quadrants, if all three are on screen, each
    big and solid, red left of green and above blue; None otherwise."""
    boxes = {}
    for channel, name in enumerate(("red", "green", "blue")):
        # Eroded: thin lines of the colour elsewhere (edges of sixel bands, UI marks) drop out.
        mask = mask_of(shot, channel).filter(ImageFilter.MinFilter(5))
        box = mask.getbbox()
        if box is None:
            return None
        left, top, right, bottom = box
        filled = mask.crop(box).histogram()[255]
        if right - left < 100 or bottom - top < 75 or filled < 0.9 * (right - left) * (bottom - top):
            return None
        boxes[name] = box
    red, green, blue = boxes["red"], boxes["green"], boxes["blue"]
    if not (red[2] <= green[0] + 2 and red[3] <= blue[1] + 2):
        return None
    return boxes


def stripe_changes(shot: Image.Image, found: dict) -> tuple[int, int]:
    """(colour changes, width in pixels) along one row through the striped quadrant."""
    green, blue = found["green"], found["blue"]
    left, right = green[0] + 4, green[2] - 4
    y = (blue[1] + blue[3]) // 2
    row = [shot.getpixel((x, y)) for x in range(left, right)]
    return sum(1 for a, b in zip(row, row[1:]) if a != b), right - left


def assert_real_pixels(shot: Image.Image, found: dict, terminal: Terminal) -> None:
    changes, width = stripe_changes(shot, found)
    # Stripes are 2-4 px on screen; half-block changes colour at most once per cell (>= 6 px).
    assert changes >= width / 5, (
        f"{changes} colour changes over {width} px: half-block, not the terminal's own pixels "
        f"(screenshot {terminal.tmp_path}/shot-{terminal.shots}.png)"
    )


def xterm(display, tmp_path, manifest, graphics) -> Terminal:
    need("xterm", "import")
    # A large pane (wider than xterm's 1000-pixel sixel limit) is what once drew nothing.
    command = ["xterm", "-ti", "vt340", "-fa", "DejaVu Sans Mono", "-fs", "12", "-geometry", "160x50", "-e"]
    return Terminal(display, tmp_path, manifest, graphics, command)


def kitty(display, tmp_path, manifest, graphics) -> Terminal:
    need("kitty", "import")
    version = subprocess.run(["kitty", "--version"], capture_output=True, text=True).stdout.strip()
    command = ["kitty", "--config", "NONE", "-o", "initial_window_width=1000", "-o", "initial_window_height=700"]
    terminal = Terminal(display, tmp_path, manifest, graphics, command, {"LIBGL_ALWAYS_SOFTWARE": "1"})
    terminal.version = version
    return terminal


@pytest.mark.parametrize("graphics", ["sixel", "auto"])
def test_xterm_vt340_draws_sixel_in_a_large_pane(display, tmp_path, job, graphics):
    with xterm(display, tmp_path, job, graphics) as terminal:
        shot, found = terminal.wait_for_picture()
        assert_real_pixels(shot, found, terminal)
        # Kept within 1000 pixels, or xterm would have drawn nothing at all.
        assert found["green"][2] - found["red"][0] <= 1000


def test_xterm_halfblock_is_told_apart(display, tmp_path, job):
    """The same picture in half-block: drawn, but the real-pixels check fails on it."""
    with xterm(display, tmp_path, job, "halfblock") as terminal:
        shot, found = terminal.wait_for_picture()
        changes, width = stripe_changes(shot, found)
        assert changes < width / 6, f"{changes} colour changes over {width} px in half-block"


@pytest.mark.parametrize("graphics", ["kitty", "auto"])
def test_kitty_draws_the_picture(display, tmp_path, job, graphics):
    """Debian's kitty 0.26.5 cannot draw Unicode placeholders (it showed a grid of boxes)."""
    with kitty(display, tmp_path, job, graphics) as terminal:
        shot, found = terminal.wait_for_picture()
        assert_real_pixels(shot, found, terminal)


def test_kitty_picture_goes_away_under_the_help_screen(display, tmp_path, job):
    """A directly placed picture stays until deleted: it must not cover the help screen, and it
    must come back when help closes."""
    need("xdotool")
    with kitty(display, tmp_path, job, "kitty") as terminal:
        terminal.wait_for_picture()
        terminal.press("question")
        terminal.wait_for_no_picture()
        terminal.press("Escape")
        terminal.wait_for_picture()
