"""Real images through the kitty graphics protocol or sixel, half-block otherwise.

`resolve_graphics(requested)` turns `--graphics auto|kitty|sixel|halfblock` into the mode the
app draws with: "kitty" (textual-image's widget: Unicode placeholders), "kitty-direct"
(`KittyPlacement`: direct placement), "sixel" (textual-image's sixel widget) or "halfblock".
It must run *before* the app starts: it asks the terminal what it is (`terminal_query`), and
textual-image asks for the cell size, by writing escape codes and reading the answers from
stdin, which stops working once Textual reads stdin itself.

The `auto` rule:

1. inside tmux or GNU screen (`TMUX`, `STY`, or such a `TERM`): half-block. Multiplexers drop or
   mangle graphics sequences unless passthrough is configured, and a query answered by the
   outer terminal would describe a terminal the picture never reaches;
2. `TERM` `dumb` or `linux`, or neither `TERM` nor `TERM_PROGRAM` set (the console draws no pictures), or stdin/stdout not a
   terminal: half-block, without asking;
3. over SSH, unless `TERM` or `TERM_PROGRAM` names a terminal known to draw pictures
   (`KNOWN_TERMS`, `KNOWN_PROGRAMS`): half-block without asking; the question would cost a
   network round trip at every start for a terminal that most likely draws none;
4. otherwise ask (one round trip; a terminal that knows none of the questions still answers
   the last one, so no time-out is paid) and take, in this order: kitty by name (placeholders
   from 0.28 on, direct placement before), ghostty (placeholders), sixel (DA1 attribute 4),
   any other terminal answering the kitty graphics query (direct placement), else half-block.

`kitty` and `sixel` force the protocol; the terminal is still asked, to pick the kitty
placement it supports and the largest sixel it accepts. `halfblock` never asks.

Sixel size: xterm draws *nothing* for a sixel image larger than its maximum graphic size
(1000x1000 by default), so a large pane stayed empty. The picture and the widget are kept
within the maximum the terminal reports (XTSMGRAPHICS), or xterm's default when xterm does not
say.

Pictures for kitty/sixel are decoded in a worker and handed over already cut to the view
(zoom/center) and scaled to the pane's pixel size (`graphics_picture`), so the widget only
encodes a small image.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING

from tuilabel.core.geometry import view_window
from tuilabel.core.preview import PreviewError, PreviewImage
from tuilabel.ui.terminal_query import TerminalReport, ask_terminal

if TYPE_CHECKING:
    from PIL import Image

KNOWN_TERMS = ("xterm-kitty", "xterm-ghostty", "wezterm", "foot", "foot-extra", "mlterm", "contour", "yaft-256color")
KNOWN_PROGRAMS = ("WezTerm", "ghostty", "iTerm.app", "mlterm", "contour", "kitty")
MODES = ("kitty", "kitty-direct", "sixel", "halfblock")
KITTY_PLACEHOLDERS = (0, 28)  # the first kitty drawing Unicode placeholders
XTERM_SIXEL_MAX = (1000, 1000)  # xterm's default maxGraphicSize
QUERY_TIMEOUT = 0.5  # paid only by a terminal that does not answer DA1 at all

_report: TerminalReport | None = None  # what the terminal said at start (one per process)


def auto_allowed(env: Mapping[str, str] | None = None) -> tuple[bool, str]:
    """Rules 1-3 of `auto`: (whether to ask the terminal, why not)."""
    env = os.environ if env is None else env
    term, program = env.get("TERM", ""), env.get("TERM_PROGRAM", "")
    if env.get("TMUX") or term.startswith("tmux"):
        return False, "inside tmux"
    if env.get("STY") or term.startswith("screen"):
        return False, "inside GNU screen"
    if term in ("dumb", "linux") or not (term or program):
        return False, f"TERM={term or '(unset)'} draws no pictures"
    known = term in KNOWN_TERMS or program in KNOWN_PROGRAMS
    if not known and any(env.get(v) for v in ("SSH_CONNECTION", "SSH_CLIENT", "SSH_TTY")):
        return False, "over SSH in a terminal not known to draw images"
    return True, ""


def choose_mode(requested: str, report: TerminalReport | None) -> str:
    """The drawing mode for `--graphics requested` given what the terminal said (None: nothing)."""
    if requested in ("halfblock", "sixel"):
        return requested
    placeholders = report is not None and (
        report.name == "ghostty" or (report.name == "kitty" and (report.version or ()) >= KITTY_PLACEHOLDERS)
    )
    if requested == "kitty":
        # Direct placement works in every kitty and every other terminal speaking the protocol.
        return "kitty" if placeholders else "kitty-direct"
    if report is None:
        return "halfblock"
    if report.name == "kitty" or placeholders:
        return "kitty" if placeholders else "kitty-direct"
    if report.sixel:
        return "sixel"
    return "kitty-direct" if report.kitty_graphics else "halfblock"


def resolve_graphics(requested: str, env: Mapping[str, str] | None = None) -> str:
    """The drawing mode for `--graphics requested` (call before the app starts)."""
    global _report
    if requested == "halfblock":
        return "halfblock"
    ttys = bool(sys.__stdin__ and sys.__stdout__ and sys.__stdin__.isatty() and sys.__stdout__.isatty())
    if requested == "auto" and not (auto_allowed(env)[0] and ttys):
        return "halfblock"
    _report = None
    if ttys:
        try:
            _report = ask_terminal(sys.__stdin__.fileno(), sys.__stdout__.fileno(), QUERY_TIMEOUT)
        except OSError:  # a terminal that cannot be asked is one that said nothing
            _report = None
    mode = choose_mode(requested, _report)
    if mode != "halfblock":
        try:
            _prepare(mode)
        except Exception:  # a broken install must not stop labeling
            return "halfblock"
    return mode


def _prepare(mode: str) -> None:
    """Import the widgets now: the import asks the terminal for its cell size (pre-start only)."""
    import textual_image.widget  # noqa: F401

    if mode == "kitty-direct":
        import tuilabel.ui.widgets.kitty_placement  # noqa: F401


def sixel_max() -> tuple[int, int] | None:
    """The largest sixel image the terminal draws, in pixels (None: no known limit)."""
    if _report is None:
        return None
    if _report.sixel_max:
        return _report.sixel_max
    return XTERM_SIXEL_MAX if _report.name == "xterm" else None


def widget_class(mode: str):
    """The widget class drawing `mode` ("kitty", "kitty-direct" or "sixel")."""
    if mode == "kitty-direct":
        from tuilabel.ui.widgets.kitty_placement import KittyPlacement

        return KittyPlacement
    from textual_image.widget import TGPImage

    return _bounded_sixel_class() if mode == "sixel" else TGPImage


@functools.cache
def _bounded_sixel_class():
    from textual_image.widget import SixelImage

    class BoundedSixelImage(SixelImage, Renderable=SixelImage._Renderable):  # textual-image wants it named
        """textual-image's sixel widget, never larger than the terminal's largest sixel."""

        def on_mount(self) -> None:
            limit = sixel_max()
            if limit:
                cell_w, cell_h = cell_pixels()
                self.styles.max_width = max(1, limit[0] // cell_w)
                self.styles.max_height = max(1, limit[1] // cell_h)

    return BoundedSixelImage


def cell_pixels() -> tuple[int, int]:
    """A terminal cell's size in pixels (textual-image's cached answer; 10x20 if unknown)."""
    from textual_image._terminal import get_cell_size

    size = get_cell_size()
    return max(1, size.width), max(1, size.height)


def graphics_box(cells_w: int, cells_h: int) -> tuple[int, int]:
    """The pixels a kitty/sixel picture may fill in cells_w×cells_h cells."""
    cell_w, cell_h = cell_pixels()
    box_w, box_h = max(1, cells_w) * cell_w, max(1, cells_h) * cell_h
    limit = sixel_max()
    if limit:  # harmless for kitty: no kitty terminal reports a sixel limit
        box_w, box_h = min(box_w, limit[0] // cell_w * cell_w), min(box_h, limit[1] // cell_h * cell_h)
    return box_w, box_h


def graphics_picture(
    image: PreviewImage, cells_w: int, cells_h: int, zoom: float = 1.0, center: tuple[float, float] = (0.5, 0.5)
) -> Image.Image | PreviewError:
    """The part of `image` shown at zoom/center, scaled to fit cells_w x cells_h cells in
    pixels (worker threads only: this decodes)."""
    box_w, box_h = graphics_box(cells_w, cells_h)
    src_w, src_h = image.size
    win = view_window(src_w, src_h, box_w, box_h, zoom, center)
    scale, out_w, out_h, vis_w, vis_h = win.scale, win.out_w, win.out_h, win.vis_w, win.vis_h
    left, top = win.left, win.top
    # The decoded image at the resolution this view needs, never the EXIF thumbnail (a real
    # image is the point of this path).
    work = image.decoded(scale)
    if isinstance(work, PreviewError):
        return work
    wsx, wsy = work.width / src_w, work.height / src_h
    box = (left * wsx, top * wsy, (left + vis_w) * wsx, (top + vis_h) * wsy)
    from PIL import Image  # loaded by the decode above; not at start-up

    return work.resize((out_w, out_h), Image.Resampling.LANCZOS, box=box)
