"""Real images through the kitty graphics protocol or sixel (textual-image), half-block otherwise.

`resolve_graphics(requested)` turns `--graphics auto|kitty|sixel|halfblock` into the mode the
app draws with. It must run *before* the app starts: textual-image asks the terminal about
its capabilities and cell size by writing escape sequences and reading the answer from stdin,
which stops working once Textual reads stdin itself.

The `auto` rule:

1. inside tmux or GNU screen (`TMUX` or `STY` set): half-block. Multiplexers drop or mangle
   graphics sequences unless passthrough is configured, and a query answered by the outer
   terminal would describe a terminal the picture never reaches;
2. unless `TERM` or `TERM_PROGRAM` names a terminal known to draw kitty or sixel graphics
   (`KNOWN_TERMS`, `KNOWN_PROGRAMS`), locally or over SSH: half-block. Asking a terminal that
   cannot answer costs a time-out (~0.2 s) at every start, which a labeler pays for nothing;
3. stdout is not a terminal: half-block;
4. otherwise textual-image's own detection: sixel if the terminal reports sixel support (DA1
   attribute 4), kitty if it answers a kitty graphics query, else half-block.

`kitty` and `sixel` force the protocol without asking; `halfblock` never asks.

Pictures for kitty/sixel are decoded in a worker and handed to textual-image already cut to
the view (zoom/center) and scaled to the pane's pixel size (`graphics_picture`), so the
widget only encodes a small image.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Mapping

from PIL import Image

from tuilabel.core.preview import MAX_ZOOM, PreviewError, PreviewImage

KNOWN_TERMS = ("xterm-kitty", "xterm-ghostty", "wezterm", "foot", "foot-extra", "mlterm", "contour", "yaft-256color")
KNOWN_PROGRAMS = ("WezTerm", "ghostty", "iTerm.app", "mlterm", "contour", "kitty")


def auto_allowed(env: Mapping[str, str] | None = None) -> tuple[bool, str]:
    """Rules 1-2 of `auto`: (whether to ask the terminal, why not)."""
    env = os.environ if env is None else env
    if env.get("TMUX"):
        return False, "inside tmux"
    if env.get("STY"):
        return False, "inside GNU screen"
    term, program = env.get("TERM", ""), env.get("TERM_PROGRAM", "")
    if term not in KNOWN_TERMS and program not in KNOWN_PROGRAMS:
        # Asking a terminal that cannot answer costs a ~0.2 s time-out at every start.
        return False, "a terminal not known to draw images"
    return True, ""


def resolve_graphics(requested: str, env: Mapping[str, str] | None = None) -> str:
    """The drawing mode for `--graphics requested` (call before the app starts)."""
    if requested == "halfblock":
        return "halfblock"
    if requested in ("kitty", "sixel"):
        _prepare()
        return requested
    allowed, _ = auto_allowed(env)
    if not allowed or not (sys.__stdout__ and sys.__stdout__.isatty()):
        return "halfblock"
    try:
        from textual_image import renderable
        from textual_image.renderable.sixel import Image as SixelRenderable
        from textual_image.renderable.tgp import Image as TGPRenderable
    except Exception:  # a broken install must not stop labeling
        return "halfblock"
    if renderable.Image is SixelRenderable:
        mode = "sixel"
    elif renderable.Image is TGPRenderable:
        mode = "kitty"
    else:
        return "halfblock"
    _prepare()
    return mode


def _prepare() -> None:
    """Import the widgets now: the import asks the terminal for its cell size (pre-start only)."""
    import textual_image.widget  # noqa: F401


def widget_class(mode: str):
    """The textual-image widget class drawing `mode` ("kitty" or "sixel")."""
    from textual_image.widget import SixelImage, TGPImage

    return SixelImage if mode == "sixel" else TGPImage


def cell_pixels() -> tuple[int, int]:
    """A terminal cell's size in pixels (textual-image's cached answer; 10x20 if unknown)."""
    from textual_image._terminal import get_cell_size

    size = get_cell_size()
    return max(1, size.width), max(1, size.height)


def graphics_picture(
    image: PreviewImage, cells_w: int, cells_h: int, zoom: float = 1.0, center: tuple[float, float] = (0.5, 0.5)
) -> Image.Image | PreviewError:
    """The part of `image` shown at zoom/center, scaled to fit cells_w x cells_h cells in
    pixels (worker threads only: this decodes)."""
    cell_w, cell_h = cell_pixels()
    box_w, box_h = max(1, cells_w) * cell_w, max(1, cells_h) * cell_h
    zoom = min(MAX_ZOOM, max(1.0, zoom if math.isfinite(zoom) else 1.0))
    src_w, src_h = image.size
    scale = min(box_w / src_w, box_h / src_h) * zoom
    out_w = max(1, min(box_w, round(src_w * scale)))
    out_h = max(1, min(box_h, round(src_h * scale)))
    vis_w, vis_h = min(src_w, out_w / scale), min(src_h, out_h / scale)
    cx = min(max(center[0] * src_w, vis_w / 2), src_w - vis_w / 2)
    cy = min(max(center[1] * src_h, vis_h / 2), src_h - vis_h / 2)
    # The decoded image at the resolution this view needs, never the EXIF thumbnail (a real
    # image is the point of this path).
    work = image.decoded(scale)
    if isinstance(work, PreviewError):
        return work
    wsx, wsy = work.width / src_w, work.height / src_h
    left, top = cx - vis_w / 2, cy - vis_h / 2
    box = (left * wsx, top * wsy, (left + vis_w) * wsx, (top + vis_h) * wsy)
    return work.resize((out_w, out_h), Image.Resampling.LANCZOS, box=box)
