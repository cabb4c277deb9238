"""The image pane of a bounding-box job: the picture with the boxes and the cursor over it.

Half-block: `BoxView` keeps the picture's lines as `ImageView` builds them and paints the
overlay (box outlines in half-block pixels, each box's label key, the cursor) into copies of
only the lines it touches; a change repaints only the lines whose overlay changed
(`refresh(Region)`), never the picture, and in those lines paints again only the boxes that
changed (the others' cells are kept), applying the app's line filters itself, to what it
paints (Textual would filter every cell of the line again). kitty/sixel: the overlay is drawn into a copy of the
cached, already scaled picture, which the graphics widget shows again (no decode).

Positions come from `core/geometry.py`: the same window the picture was rendered for.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass

from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.color import Color
from textual.filter import LineFilter
from textual.geometry import Region
from textual.message import Message
from textual.strip import Strip

from tuilabel.core.geometry import Window, view_window
from tuilabel.core.gt.box_answer import Box
from tuilabel.core.preview import HALF_BLOCK, HalfBlockPicture, PreviewError
from tuilabel.ui.graphics import cell_pixels, graphics_box
from tuilabel.ui.widgets.image_pane import ImagePane
from tuilabel.ui.widgets.image_view import ImageView

WHITE, BLACK = 0xFFFFFF, 0x000000
GFX_COALESCE = 0.03  # seconds: kitty/sixel redraws of the boxes at most this often


@dataclass(frozen=True)
class Overlay:
    """What to draw over the picture: boxes as (box, colour 0xRRGGBB, key text, selected)."""

    boxes: tuple[tuple[Box, int, str, bool], ...] = ()
    cursor: tuple[int, int] | None = None
    drawing: tuple[Box, int] | None = None  # the box being drawn and its colour
    handle: str | None = None  # the selected box's grabbed handle


# One painted piece of a cell row: columns x0..x1 (inclusive), which half (0 top, 1 bottom,
# 2 both) in `colour`, or with `text` (a label key: one character per column) drawn there.
Span = tuple[int, int, int, int, str]
# A picture row's runs: as filtered Segments, the start column of each, and every column's (fg, bg).
Runs = tuple[list[Segment], list[int], list[tuple[int, int | None]]]


def _box_spans(box: Box, colour: int, key: str, selected: bool, win: Window) -> list[tuple[int, Span]]:
    """(cell row, span) pieces of one box's outline and key, clipped to the picture."""
    x0, x1 = win.to_screen_x(box.left), win.to_screen_x(box.right - 1)
    y0, y1 = win.to_screen_y(box.top), win.to_screen_y(box.bottom - 1)
    w, h = win.out_w, win.out_h
    out: list[tuple[int, Span]] = []
    lo_x, hi_x = max(x0, 0), min(x1, w - 1)
    if lo_x <= hi_x:
        for y in {y0, y1}:
            if 0 <= y < h:
                out.append((y >> 1, (lo_x, hi_x, y & 1, colour, "")))
    # The sides, a cell row at a time: both halves where the side covers both pixels.
    top, bottom = max(y0 + 1, 0), min(y1 - 1, h - 1)
    y = top
    while y <= bottom:
        half = 2 if (y & 1) == 0 and y + 1 <= bottom else y & 1
        for x in {x0, x1}:
            if 0 <= x < w:
                out.append((y >> 1, (x, x, half, colour, "")))
        y += 2 if half == 2 else 1
    if 0 <= y0 < h and 0 <= x0 < w and key:
        # The key in the top-left corner; the selected box's is black on white.
        out.append((y0 >> 1, (x0, min(x0 + len(key), w) - 1, WHITE if selected else colour, 0, key)))
    return out


def overlay_rows(overlay: Overlay, win: Window, cache: dict | None = None) -> dict[int, tuple[Span, ...]]:
    """The overlay by picture cell row (row -> spans), for a picture drawn for `win`. `cache`
    keeps each box's spans between calls: a key moves one box, the others are looked up."""
    pieces: list[tuple[int, Span]] = []
    fresh: dict = {}
    for box, colour, key, selected in overlay.boxes:
        k = (box, colour, key, selected)
        spans = cache.get(k) if cache is not None else None
        if spans is None:
            spans = _box_spans(box, colour, key, selected, win)
        fresh[k] = spans
        pieces.extend(spans)
    if cache is not None:
        cache.clear()
        cache.update(fresh)
    if overlay.drawing is not None:
        pieces.extend(_box_spans(*overlay.drawing, "", False, win))
    if overlay.cursor is not None:
        cx, cy = win.to_screen_x(overlay.cursor[0]), win.to_screen_y(overlay.cursor[1])
        for x, y in ((cx - 2, cy), (cx - 1, cy), (cx + 1, cy), (cx + 2, cy),
                     (cx, cy - 2), (cx, cy - 1), (cx, cy + 1), (cx, cy + 2)):  # a cross, centre left clear
            if 0 <= x < win.out_w and 0 <= y < win.out_h:
                pieces.append((y >> 1, (x, x, y & 1, WHITE, "")))
    rows: dict[int, list[Span]] = {}
    for row, span in pieces:
        rows.setdefault(row, []).append(span)
    return {row: tuple(spans) for row, spans in rows.items()}


def _cells(spans: tuple[Span, ...], base: list[tuple[int, int | None]]) -> dict[int, tuple[str, int, int | None]]:
    """Column -> (character, fg, bg) for every column the spans touch, over the picture's
    cell colours `base` (later spans win: the cursor and the keys are drawn last)."""
    cells: dict[int, tuple[str, int, int | None]] = {}
    for x0, x1, half, colour, text in spans:
        if text:
            for i, x in enumerate(range(x0, x1 + 1)):
                cells[x] = (text[i], BLACK, half)  # `half` holds the background here
            continue
        for x in range(x0, x1 + 1):
            ch, fg, bg = cells.get(x) or (HALF_BLOCK, *base[x])
            if ch != HALF_BLOCK:
                continue  # a key stays readable
            if half != 1:
                fg = colour
            if half != 0:
                bg = colour
            cells[x] = (ch, fg, bg)
    return cells


def _groups(spans: tuple[Span, ...]) -> list[tuple[int, int, tuple[Span, ...]]]:
    """A row's spans in groups whose columns overlap, left to right: (first column, last
    column, the group's spans in the row's order). A group paints its columns alone (every
    one of them), whatever the other groups are."""
    groups: list[tuple[int, int, list[int]]] = []
    for i in sorted(range(len(spans)), key=lambda i: spans[i][0]):
        x0, x1 = spans[i][0], spans[i][1]
        if groups and x0 <= groups[-1][1]:
            g0, g1, members = groups[-1]
            members.append(i)
            groups[-1] = (g0, max(g1, x1), members)
        else:
            groups.append((x0, x1, [i]))
    return [(x0, x1, tuple(spans[i] for i in sorted(members))) for x0, x1, members in groups]


class BoxView(ImageView):
    """An ImageView that paints an `Overlay` over its half-block picture."""

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self.window: Window | None = None
        """The window the shown picture was rendered for (None: no picture)."""
        self.overlay = Overlay()
        self._rows: dict[int, tuple[Span, ...]] = {}
        self._box_spans: dict = {}  # per box: its spans for the current window
        self._row_cache: dict[int, tuple[tuple[Span, ...], int, Strip]] = {}
        self._runs: dict[int, Runs] = {}  # picture row -> its runs
        self._filters: tuple[tuple[LineFilter, ...], Color] | None = None  # this frame's (see render_lines)
        self._paint_key: tuple | None = None  # (base style, filters, background) the caches were made for
        self._cell_styles: dict[tuple[int, int | None], Style] = {}  # (fg, bg) -> filtered Style
        self._painted_groups: dict[int, dict[tuple[Span, ...], list[Segment]]] = {}  # row -> its painted groups

    def show_picture(self, picture: HalfBlockPicture | PreviewError, window: Window | None = None) -> None:
        self.window = window if isinstance(picture, HalfBlockPicture) else None
        self._box_spans = {}
        self._forget_painted()
        super().show_picture(picture)
        self._rows = overlay_rows(self.overlay, self.window, self._box_spans) if self.window else {}

    def show_message(self, text: str) -> None:
        self.window = None
        super().show_message(text)

    def set_overlay(self, overlay: Overlay) -> None:
        """Repaint the lines whose overlay changed, and only those."""
        self.overlay = overlay
        if self.window is None or self.picture is None:
            return
        old, self._rows = self._rows, overlay_rows(overlay, self.window, self._box_spans)
        top = self.picture_top()
        width = self.size.width
        for y in set(old) | set(self._rows):
            if old.get(y) != self._rows.get(y):
                self.refresh(Region(0, top + y, width, 1))

    def picture_top(self) -> int:
        picture = self.picture
        return 0 if picture is None else max(0, (self.size.height - picture.height) // 2)

    def picture_left(self) -> int:
        picture = self.picture
        return 0 if picture is None else max(0, (self.size.width - picture.width) // 2)

    def get_line_filters(self) -> Sequence[LineFilter]:
        """None: `render_line` applies the app's line filters itself, so that a painted row
        costs what it paints (Textual would filter every cell of a new line again; a photo's
        row is a run per cell, and that was most of a key's frame)."""
        return ()

    def render_lines(self, crop: Region) -> list[Strip]:
        # The filters and the background Textual passes them, read once per frame, not per line.
        self._filters = (tuple(self.app.get_line_filters()), self.background_colors[1])
        return super().render_lines(crop)

    def render_line(self, y: int) -> Strip:
        if self._filters is None:  # called outside a frame (render_lines sets it)
            self._filters = (tuple(self.app.get_line_filters()), self.background_colors[1])
        filters, background = self._filters
        strip = super().render_line(y)
        picture = self.picture
        index = y - self.picture_top()
        spans = self._rows.get(index) if picture is not None and index < picture.height else None
        if spans is None:  # as Textual would (cached on the strip)
            for line_filter in filters:
                strip = strip.apply_filter(line_filter, background)
            return strip
        base = self.visual_style.rich_style
        key = (base, filters, background)
        if key != self._paint_key:  # theme or filters changed: the painted rows are stale
            self._paint_key = key
            self._forget_painted()
        width = self.size.width
        cached = self._row_cache.get(index)
        if cached is not None and cached[0] == spans and cached[1] == width:
            return cached[2]
        painted = self._paint(picture, index, spans, width)  # type: ignore[arg-type]
        self._row_cache[index] = (spans, width, painted)
        return painted

    def _forget_painted(self) -> None:
        """Drop what painted rows keep: a new picture, theme or line filters."""
        self._runs, self._row_cache, self._cell_styles, self._painted_groups = {}, {}, {}, {}

    def _filter(self, segments: list[Segment]) -> list[Segment]:
        """`segments` as the app's line filters make them (each filter maps segment by segment)."""
        filters, background = self._filters  # type: ignore[misc]
        for line_filter in filters:
            segments = line_filter.apply(segments, background)
        return segments

    def _cell_style(self, fg: int, bg: int | None) -> Style:
        style = self._cell_styles.get((fg, bg))
        if style is None:
            base = self.visual_style.rich_style
            plain = self._style_table(base).get((fg, bg)) or self._new_style(fg, bg, base)
            style = self._cell_styles[fg, bg] = self._filter([Segment(" ", plain)])[0].style  # type: ignore[assignment]
        return style  # type: ignore[return-value]

    def _paint(self, picture: HalfBlockPicture, index: int, spans: tuple[Span, ...], width: int) -> Strip:
        """The picture's row with the overlay, line filters applied. The spans are painted in
        groups whose columns overlap (`_groups`); a group this row showed last time is reused,
        so a key that moves one box paints that box's cells, not all the boxes' on the row.
        Between the groups the picture's runs are kept as they are (`_picture_columns`)."""
        base = self.visual_style.rich_style
        runs = self._picture_runs(picture, index, base)
        pad = self._filter([Segment(" ", base)])[0].style
        left = self.picture_left()
        out: list[Segment] = [Segment(" " * left, pad)] if left else []
        before, now = self._painted_groups.get(index, {}), {}
        col = 0  # the columns before it are in `out`
        for x0, x1, group in _groups(spans):
            painted = before.get(group)
            if painted is None:
                cells = _cells(group, runs[2])
                painted = [Segment(ch, self._cell_style(fg, bg)) for ch, fg, bg in (cells[x] for x in range(x0, x1 + 1))]
            now[group] = painted
            _picture_columns(out, runs, col, x0)
            out.extend(painted)
            col = x1 + 1
        _picture_columns(out, runs, col, picture.width)
        self._painted_groups[index] = now
        return Strip(out, left + picture.width).adjust_cell_length(width, pad)

    def _picture_runs(self, picture: HalfBlockPicture, index: int, base: Style) -> Runs:
        runs = self._runs.get(index)
        if runs is None:
            styles = self._style_table(base)
            segments, starts, colours = [], [], []
            col = 0
            for text, fg, bg in picture.rows[index]:
                style = styles.get((fg, bg)) or styles.setdefault((fg, bg), self._new_style(fg, bg, base))
                segments.append(Segment(text, style))
                starts.append(col)
                colours.extend([(fg, bg)] * len(text))
                col += len(text)
            runs = self._runs[index] = (self._filter(segments), starts, colours)
        return runs


def _picture_columns(out: list[Segment], runs: Runs, start: int, end: int) -> None:
    """Append the picture's columns start..end-1: its runs as they are, the first and last cut
    (found by bisection: the cost follows the runs kept, in C, not the columns)."""
    if start >= end:
        return
    segments, starts, _ = runs
    first, last = bisect_right(starts, start) - 1, bisect_right(starts, end - 1) - 1
    segment = segments[first]
    lo = start - starts[first]  # a run is all "▀": any slice of the right length will do
    if first == last:
        n = end - start
        out.append(segment if n == len(segment.text) else Segment(segment.text[:n], segment.style))
        return
    out.append(segment if lo == 0 else Segment(segment.text[lo:], segment.style))
    out.extend(segments[first + 1 : last])
    segment = segments[last]
    n = end - starts[last]
    out.append(segment if n == len(segment.text) else Segment(segment.text[:n], segment.style))


class BoxPane(ImagePane):
    """ImagePane with a BoxView, and the overlay drawn into kitty/sixel pictures."""

    def __init__(self, session, graphics_mode: str, **kw) -> None:
        super().__init__(session, graphics_mode, **kw)
        self.view = BoxView(id="image")
        self.image_size: tuple[int, int] | None = None
        """The shown image's size (EXIF orientation applied), once decoded."""
        self._gfx_base = None  # the scaled kitty/sixel picture, without the overlay
        self._dragging = False
        self._gfx_pending = False  # a kitty/sixel redraw is scheduled

    @property
    def box_view(self) -> BoxView:
        return self.view  # type: ignore[return-value]

    def request(self, ref: str) -> None:
        self.image_size = None
        super().request(ref)

    def window(self) -> Window | None:
        """The view in half-block pixels (two per cell, vertically): the unit the cursor moves
        in and 1:1 refers to, in every graphics mode (kitty/sixel show the same part of the
        image, in the terminal's own pixels: `gfx_window`)."""
        if self.image_size is None:
            return None
        req = self.view_request()
        return view_window(*self.image_size, req.cells_w, req.cells_h * 2, req.zoom, req.center)

    def gfx_window(self) -> Window | None:
        """The view in the kitty/sixel picture's pixels."""
        if self.image_size is None:
            return None
        req = self.view_request()
        return view_window(*self.image_size, *graphics_box(req.cells_w, req.cells_h), req.zoom, req.center)

    # -- mouse ---------------------------------------------------------------------------------

    class Pointer(Message):
        """A mouse press, drag or release over the picture, at image pixel (x, y)."""

        def __init__(self, kind: str, x: int, y: int) -> None:
            super().__init__()
            self.kind, self.x, self.y = kind, x, y

    def image_pixel_at(self, screen_x: int, screen_y: int) -> tuple[int, int] | None:
        """The image pixel under a screen cell (its upper half: a terminal reports cells)."""
        if self.gfx is None or not self.gfx.display:
            win, view = self.window(), self.box_view
            if win is None or view.picture is None:
                return None
            region = view.content_region
            col, row = screen_x - region.x - view.picture_left(), screen_y - region.y - view.picture_top()
            return win.to_image_x(col), win.to_image_y(row * 2)
        win = self.gfx_window()
        if win is None:
            return None
        region = self.gfx.region  # sized to the picture, which starts at its top-left corner
        cell_w, cell_h = cell_pixels()
        col, row = screen_x - region.x, screen_y - region.y
        return win.to_image_x(col * cell_w + cell_w // 2), win.to_image_y(row * cell_h + cell_h // 4)

    def on_mouse_down(self, event: events.MouseDown) -> None:
        at = self.image_pixel_at(event.screen_x, event.screen_y)
        if at is not None and event.button == 1:
            self._dragging = True
            self.capture_mouse()
            self.post_message(self.Pointer("down", *at))

    def on_mouse_move(self, event: events.MouseMove) -> None:
        if self._dragging:
            at = self.image_pixel_at(event.screen_x, event.screen_y)
            if at is not None:
                self.post_message(self.Pointer("drag", *at))

    def on_mouse_up(self, event: events.MouseUp) -> None:
        if not self._dragging:
            return
        self._dragging = False
        self.release_mouse()
        at = self.image_pixel_at(event.screen_x, event.screen_y)
        if at is not None:
            self.post_message(self.Pointer("up", *at))

    def show(self, picture) -> None:
        if isinstance(picture, HalfBlockPicture):
            self.image_size = picture.source_size
            self._show_view()
            self.box_view.show_picture(picture, self.window())  # the window it was rendered for
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
        elif self._gfx_base is not None and not self._gfx_pending:
            # A kitty/sixel picture is encoded and sent again for each change: a held arrow key
            # sends one per GFX_COALESCE seconds, with the latest boxes, not one per key.
            self._gfx_pending = True
            self.set_timer(GFX_COALESCE, self._send_gfx)

    def _send_gfx(self) -> None:
        self._gfx_pending = False
        if self.gfx is not None and self._gfx_base is not None:
            self.gfx.image = self._gfx_with_overlay()  # type: ignore[attr-defined]

    def _gfx_with_overlay(self):
        from PIL import ImageDraw

        base, win = self._gfx_base, self.gfx_window()
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
