"""The image pane of a bounding-box job: the picture with the boxes and the cursor over it.

Half-block: `BoxView` keeps the picture's lines as `ImageView` builds them and paints the
overlay (box outlines in half-block pixels, each box's label key, the cursor) into copies of
only the lines it touches; a change repaints only the lines whose overlay changed
(`refresh(Region)`), never the picture. kitty/sixel: the overlay is drawn into a copy of the
cached, already scaled picture, which the graphics widget shows again (no decode).

Positions come from `core/geometry.py`: the same window the picture was rendered for.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.geometry import Region
from textual.message import Message
from textual.strip import Strip

from tuilabel.core.geometry import Window, view_window
from tuilabel.core.gt.box_answer import Box
from tuilabel.core.preview import HALF_BLOCK, HalfBlockPicture, PreviewError
from tuilabel.ui.graphics import graphics_box
from tuilabel.ui.widgets.image_pane import ImagePane
from tuilabel.ui.widgets.image_view import ImageView, _colour

WHITE, BLACK = 0xFFFFFF, 0x000000


@dataclass(frozen=True)
class Overlay:
    """What to draw over the picture: boxes as (box, colour 0xRRGGBB, key text, selected)."""

    boxes: tuple[tuple[Box, int, str, bool], ...] = ()
    cursor: tuple[int, int] | None = None
    drawing: tuple[Box, int] | None = None  # the box being drawn and its colour
    handle: str | None = None  # the selected box's grabbed handle


@dataclass
class _Row:
    """Overlay of one cell row: column -> [top colour, bottom colour]; column -> text."""

    halves: dict[int, list[int | None]] = field(default_factory=dict)
    text: dict[int, tuple[str, int, int]] = field(default_factory=dict)

    def pixel(self, col: int, half: int, colour: int) -> None:
        self.halves.setdefault(col, [None, None])[half] = colour

    def key(self) -> tuple:
        return (tuple(sorted((c, tuple(v)) for c, v in self.halves.items())), tuple(sorted(self.text.items())))


def overlay_rows(overlay: Overlay, win: Window) -> dict[int, _Row]:
    """The overlay in picture cell rows (row -> what to paint), for a picture drawn for `win`."""
    rows: dict[int, _Row] = {}

    def px(x: int, y: int, colour: int) -> None:
        if 0 <= x < win.out_w and 0 <= y < win.out_h:
            row = rows.get(y >> 1)
            if row is None:
                row = rows[y >> 1] = _Row()
            row.pixel(x, y & 1, colour)

    def outline(box: Box, colour: int) -> tuple[int, int]:
        x0, x1 = win.to_screen_x(box.left), win.to_screen_x(box.right - 1)
        y0, y1 = win.to_screen_y(box.top), win.to_screen_y(box.bottom - 1)
        lo_x, hi_x = max(x0, 0), min(x1, win.out_w - 1)
        for y in (y0, y1):
            if 0 <= y < win.out_h:
                for x in range(lo_x, hi_x + 1):
                    px(x, y, colour)
        for y in range(max(y0, 0), min(y1, win.out_h - 1) + 1):
            px(x0, y, colour)
            px(x1, y, colour)
        return x0, y0

    for box, colour, key, selected in overlay.boxes:
        x0, y0 = outline(box, colour)
        if 0 <= y0 < win.out_h:
            row = rows.setdefault(y0 >> 1, _Row())
            for i, ch in enumerate(key):
                if 0 <= x0 + i < win.out_w:
                    # The selected box's key is shown reversed.
                    row.text[x0 + i] = (ch, BLACK, WHITE) if selected else (ch, BLACK, colour)
    if overlay.drawing is not None:
        outline(*overlay.drawing)
    if overlay.cursor is not None:
        cx, cy = win.to_screen_x(overlay.cursor[0]), win.to_screen_y(overlay.cursor[1])
        for d in (-2, -1, 1, 2):  # a small cross, the centre left to see the pixel under it
            px(cx + d, cy, WHITE)
            px(cx, cy + d, WHITE)
    return rows


class BoxView(ImageView):
    """An ImageView that paints an `Overlay` over its half-block picture."""

    class Pointer(Message):
        """A mouse press, drag or release over the picture, at image pixel (x, y)."""

        def __init__(self, kind: str, x: int, y: int) -> None:
            super().__init__()
            self.kind, self.x, self.y = kind, x, y

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self.window: Window | None = None
        """The window the shown picture was rendered for (None: no picture)."""
        self.overlay = Overlay()
        self._rows: dict[int, _Row] = {}
        self._row_cache: dict[int, tuple[tuple, Strip]] = {}
        self._cells: dict[int, list[list[int | None]]] = {}  # picture row -> per-column [fg, bg]
        self._dragging = False

    def show_picture(self, picture: HalfBlockPicture | PreviewError, window: Window | None = None) -> None:
        self.window = window if isinstance(picture, HalfBlockPicture) else None
        self._cells = {}
        self._row_cache = {}
        super().show_picture(picture)
        self._rows = overlay_rows(self.overlay, self.window) if self.window else {}

    def show_message(self, text: str) -> None:
        self.window = None
        super().show_message(text)

    def set_overlay(self, overlay: Overlay) -> None:
        """Repaint the lines whose overlay changed, and only those."""
        self.overlay = overlay
        if self.window is None or self.picture is None:
            return
        old, self._rows = self._rows, overlay_rows(overlay, self.window)
        top = self._picture_top()
        width = self.size.width
        for y in set(old) | set(self._rows):
            before, now = old.get(y), self._rows.get(y)
            if (before.key() if before else None) != (now.key() if now else None):
                self.refresh(Region(0, top + y, width, 1))

    def _picture_top(self) -> int:
        picture = self.picture
        return 0 if picture is None else max(0, (self.size.height - picture.height) // 2)

    def _picture_left(self) -> int:
        picture = self.picture
        return 0 if picture is None else max(0, (self.size.width - picture.width) // 2)

    def render_line(self, y: int) -> Strip:
        strip = super().render_line(y)
        picture = self.picture
        if picture is None or not self._rows:
            return strip
        row_index = y - self._picture_top()
        row = self._rows.get(row_index)
        if row is None or row_index >= picture.height:
            return strip
        key = row.key()
        cached = self._row_cache.get(row_index)
        if cached is not None and cached[0] == key and cached[1].cell_length == self.size.width:
            return cached[1]
        painted = self._paint(picture, row_index, row)
        self._row_cache[row_index] = (key, painted)
        return painted

    def _paint(self, picture: HalfBlockPicture, index: int, row: _Row) -> Strip:
        cells = self._cells.get(index)
        if cells is None:
            cells = []
            for text, fg, bg in picture.rows[index]:
                cells.extend([fg, bg] for _ in range(len(text)))
            self._cells[index] = cells
        width = self.size.width
        base = self.visual_style.rich_style
        left = self._picture_left()
        shown = min(width - left, picture.width)
        segments: list[Segment] = [Segment(" " * left, base)] if left else []
        run_key: tuple | None = None
        run_text = ""
        styles: dict[tuple, Style] = {}

        def flush() -> None:
            if run_text:
                fg, bg, _ = run_key  # type: ignore[misc]
                style = styles.get((fg, bg))
                if style is None:
                    style = styles[fg, bg] = Style.from_color(_colour(fg), base.bgcolor if bg is None else _colour(bg))
                segments.append(Segment(run_text, style))

        halves, texts = row.halves, row.text
        for col in range(shown):
            fg, bg = cells[col]
            ch = HALF_BLOCK
            mark = halves.get(col)
            if mark is not None:
                fg = mark[0] if mark[0] is not None else fg
                bg = mark[1] if mark[1] is not None else bg
            text = texts.get(col)
            if text is not None:
                ch, fg, bg = text
            k = (fg, bg, ch == HALF_BLOCK)
            if k != run_key:
                flush()
                run_key, run_text = k, ""
            run_text += ch
        flush()
        return Strip(segments, left + shown).adjust_cell_length(width, base)

    # -- mouse ----------------------------------------------------------------------------------

    def _image_pixel(self, event: events.MouseEvent) -> tuple[int, int] | None:
        win = self.window
        if win is None:
            return None
        px = event.x - self._picture_left()
        py = (event.y - self._picture_top()) * 2  # a cell's upper pixel: the mouse has no finer
        return win.to_image_x(px), win.to_image_y(py)

    def on_mouse_down(self, event: events.MouseDown) -> None:
        at = self._image_pixel(event)
        if at is not None and event.button == 1:
            self._dragging = True
            self.capture_mouse()
            self.post_message(self.Pointer("down", *at))

    def on_mouse_move(self, event: events.MouseMove) -> None:
        at = self._image_pixel(event)
        if self._dragging and at is not None:
            self.post_message(self.Pointer("drag", *at))

    def on_mouse_up(self, event: events.MouseUp) -> None:
        if not self._dragging:
            return
        self._dragging = False
        self.release_mouse()
        at = self._image_pixel(event)
        if at is not None:
            self.post_message(self.Pointer("up", *at))


class BoxPane(ImagePane):
    """ImagePane with a BoxView, and the overlay drawn into kitty/sixel pictures."""

    def __init__(self, session, graphics_mode: str, **kw) -> None:
        super().__init__(session, graphics_mode, **kw)
        self.view = BoxView(id="image")
        self.image_size: tuple[int, int] | None = None
        """The shown image's size (EXIF orientation applied), once decoded."""
        self._gfx_base = None  # the scaled kitty/sixel picture, without the overlay

    @property
    def box_view(self) -> BoxView:
        return self.view  # type: ignore[return-value]

    def request(self, ref: str) -> None:
        self.image_size = None
        super().request(ref)

    def window(self) -> Window | None:
        """The window the shown picture was drawn for (kitty/sixel: in the pane's pixels)."""
        if self.image_size is None:
            return None
        req = self.view_request()
        if self.gfx is None:
            return view_window(*self.image_size, req.cells_w, req.cells_h * 2, req.zoom, req.center)
        return view_window(*self.image_size, *graphics_box(req.cells_w, req.cells_h), req.zoom, req.center)

    def show(self, picture) -> None:
        if isinstance(picture, HalfBlockPicture):
            self.image_size = picture.source_size
            self._show_view()
            self.box_view.show_picture(picture, self.window())
            self.post_message(self.PictureShown())
            return
        if not isinstance(picture, PreviewError) and self.gfx is not None:
            image = self.images.get(self.ref or "")
            self.image_size = getattr(image, "size", None)
            self._gfx_base = picture
            self.post_message(self.PictureShown())
            super().show(self._gfx_with_overlay())
            return
        self.image_size = None
        super().show(picture)

    class PictureShown(Message):
        """A picture (and so the image size) is on screen: the screen can start its boxes."""

    def set_overlay(self, overlay: Overlay) -> None:
        self.box_view.overlay = overlay
        if self.gfx is None:
            self.box_view.set_overlay(overlay)
        elif self._gfx_base is not None:
            self.gfx.image = self._gfx_with_overlay()  # type: ignore[attr-defined]

    def _gfx_with_overlay(self):
        from PIL import ImageDraw

        base, win = self._gfx_base, self.window()
        if base is None or win is None:
            return base
        image = base.copy()
        draw = ImageDraw.Draw(image)
        overlay = self.box_view.overlay
        for box, colour, key, selected in overlay.boxes:
            rect = (win.to_screen_x(box.left), win.to_screen_y(box.top),
                    win.to_screen_x(box.right - 1), win.to_screen_y(box.bottom - 1))
            draw.rectangle(rect, outline=f"#{colour:06x}", width=3 if selected else 1)
            draw.text((rect[0] + 2, rect[1] + 1), key, fill=f"#{colour:06x}")
        if overlay.drawing is not None:
            box, colour = overlay.drawing
            draw.rectangle((win.to_screen_x(box.left), win.to_screen_y(box.top), win.to_screen_x(box.right - 1),
                            win.to_screen_y(box.bottom - 1)), outline=f"#{colour:06x}")
        if overlay.cursor is not None:
            cx, cy = win.to_screen_x(overlay.cursor[0]), win.to_screen_y(overlay.cursor[1])
            draw.line((cx - 6, cy, cx + 6, cy), fill="white")
            draw.line((cx, cy - 6, cx, cy + 6), fill="white")
        return image
