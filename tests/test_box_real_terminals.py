"""Boxes over real pixels: a bounding-box job in xterm (sixel) and kitty under Xvfb; keys draw
a box, and the screenshot shows its outline drawn into the terminal's own picture (still real
pixels, not half-block), around the cursor's part of the picture."""

from __future__ import annotations

import pytest
from PIL import ImageChops

from tuilabel.core.job_setup import JobRequest, prepare
from tuilabel.core.session import Session

from test_real_terminals import assert_real_pixels, display, job, kitty, need, quadrants, xterm  # noqa: F401  (fixtures)


def box_job(manifest) -> None:
    """Make the job a bounding-box job (`tuilabel label` then keeps its task)."""
    prepared = prepare(JobRequest(source=str(manifest), labels="yes,no", task="bounding-box"))
    Session(prepared.spec, prepared.folder, prepared.open_manifest()).open(background=False).close()


def changed_pixels(before, after, box) -> int:
    diff = ImageChops.difference(before.crop(box), after.crop(box)).convert("L").point(lambda v: 255 if v > 60 else 0)
    return diff.histogram()[255]


@pytest.mark.parametrize("terminal_kind", ["xterm-sixel", "kitty"])
def test_a_box_is_drawn_into_the_real_picture(display, tmp_path, job, terminal_kind):
    need("xdotool")
    box_job(job)
    make, graphics = (xterm, "sixel") if terminal_kind == "xterm-sixel" else (kitty, "kitty")
    with make(display, tmp_path, job, graphics) as terminal:
        before, found = terminal.wait_for_picture()
        left = found["red"][0]
        top = found["red"][1]
        right = found["green"][2]
        bottom = found["blue"][3]
        # The cursor starts in the middle: a box from there up and left, into the red quadrant.
        for key in ("b", "shift+Left", "shift+Left", "shift+Up", "shift+Up", "b"):
            terminal.press(key)
        picture = (left, top, right, bottom)
        shots = []
        for _ in range(40):
            after = terminal.screenshot()
            shots.append(quadrants(after) is not None)
            if shots[-1] and changed_pixels(before, after, picture) > 200:
                break
        else:
            pytest.fail(f"no box drawn over the picture: {tmp_path}/shot-{terminal.shots}.png")
        if terminal_kind == "kitty":
            # Redrawing never blanked it (kitty keeps the old picture until the new one is placed;
            # a sixel picture is sent again and xterm paints it as it arrives).
            assert all(shots), f"the picture went away while boxes were drawn: {shots}"
        assert_real_pixels(after, quadrants(after), terminal)  # still the terminal's pixels, not half-block
