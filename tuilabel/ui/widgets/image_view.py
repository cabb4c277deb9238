"""ImageView: shows a half-block picture (or a one-line message) with the Line API.

The widget is dumb on purpose: it draws what it is given and remembers the view the user
asked for (zoom, center). Decoding happens elsewhere, in a thread worker:

    request = view.view_request()                  # main thread: size + zoom + center
    picture = render_for(preview_image, request)   # worker thread: pure core call
    view.show_picture(picture)                     # main thread (via a message handler)

On resize, and when zoom/pan change, the widget posts `ImageView.ViewChanged` so the app can
render again for the new request. Strips are built once per (picture, size, theme) and kept;
Rich styles are cached per colour pair because photos repeat pairs a lot across lines.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from rich.cells import cell_len
from rich.color import Color, ColorTriplet, ColorType
from rich.segment import Segment
from rich.style import Style
from textual.events import Resize
from textual.geometry import Size
from textual.message import Message
from textual.strip import Strip
from textual.widget import Widget

from tuilabel.core.preview import (
    MAX_ZOOM,
    HalfBlockPicture,
    PreviewError,
    PreviewImage,
)
from tuilabel.ui.safe_text import visible

ZOOM_STEP = 1.5
PAN_STEP = 0.25  # fraction of the visible width/height per pan step
_STYLE_CACHE_LIMIT = 65536
_PREBUILT_LIMIT = 24  # pictures whose row segments a worker built (prefetch + refine + shown)


@dataclass(frozen=True, slots=True)
class ViewRequest:
    """What to render: the widget's size in cells and the user's zoom and center."""

    cells_w: int
    cells_h: int
    zoom: float = 1.0
    center: tuple[float, float] = (0.5, 0.5)


def render_for(
    image: PreviewImage, request: ViewRequest, allow_thumbnail: bool = True
) -> HalfBlockPicture | PreviewError:
    """Render `image` for a view request; safe to call from a thread worker.

    allow_thumbnail=False never draws from the EXIF thumbnail (the background refinement)."""
    return image.render(request.cells_w, request.cells_h, request.zoom, request.center, allow_thumbnail=allow_thumbnail)


_COLOURS: dict[int, Color] = {}
_TRUECOLOR = ColorType.TRUECOLOR
_new_tuple = tuple.__new__


def _colour(value: int) -> Color:
    """Rich Color for 0xRRGGBB, cached (same result as Color.from_rgb, built directly)."""
    colour = _COLOURS.get(value)
    if colour is None:
        if len(_COLOURS) > _STYLE_CACHE_LIMIT:
            _COLOURS.clear()
        # tuple.__new__ skips NamedTuple's keyword handling (2x faster; same value).
        triplet = _new_tuple(ColorTriplet, (value >> 16, (value >> 8) & 0xFF, value & 0xFF))
        colour = _new_tuple(Color, (f"#{value:06x}", _TRUECOLOR, None, triplet))
        _COLOURS[value] = colour
    return colour


def _wrap(text: str, width: int) -> list[str]:
    lines: list[str] = []
    for paragraph in text.splitlines() or [""]:
        words = paragraph.split(" ")
        line = ""
        for word in words:
            while len(word) > width:  # very long tokens (paths, URLs) are cut, not dropped
                if line:
                    lines.append(line)
                    line = ""
                lines.append(word[:width])
                word = word[width:]
            if not line:
                line = word
            elif len(line) + 1 + len(word) <= width:
                line = f"{line} {word}"
            else:
                lines.append(line)
                line = word
        lines.append(line)
    return lines


class ImageView(Widget):
    """Displays a HalfBlockPicture centered in its area, or a centered message."""

    DEFAULT_CSS = """
    ImageView {
        width: 1fr;
        height: 1fr;
        background: $panel;
        color: $text-muted;
    }
    """

    class ViewChanged(Message):
        """The size, zoom or center changed: render again for `request`."""

        def __init__(self, image_view: ImageView, request: ViewRequest) -> None:
            super().__init__()
            self.image_view = image_view
            self.request = request

        @property
        def control(self) -> ImageView:
            return self.image_view

    def __init__(
        self,
        *,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._picture: HalfBlockPicture | None = None
        self._message: str | None = None
        self.zoom = 1.0
        self.center: tuple[float, float] = (0.5, 0.5)
        self._strips: list[Strip] | None = None
        self._strips_key: tuple | None = None
        self._styles: dict[tuple[int, int | None], Style] = {}
        self._styles_base: Style | None = None
        # id(picture) -> (picture, its rows as Segments; None for a row that needs the theme)
        self._prebuilt: dict[int, tuple[HalfBlockPicture, list[list[Segment] | None]]] = {}
        self._prebuilt_lock = threading.Lock()

    # -- what to show ---------------------------------------------------------------------

    @property
    def picture(self) -> HalfBlockPicture | None:
        return self._picture

    @property
    def message(self) -> str | None:
        return self._message

    def show_picture(self, picture: HalfBlockPicture | PreviewError) -> None:
        """Show a rendered picture (a PreviewError is shown as its message)."""
        if isinstance(picture, PreviewError):
            self.show_message(picture.message)
            return
        self._picture = picture
        self._message = None
        # Adopt the clamped center the core used, unless the picture is stale (rendered for
        # a zoom the user has already changed): then the user's newer view wins.
        if abs(picture.zoom - self.zoom) < 1e-9 or self.zoom < 1.0:
            self.zoom = picture.zoom
            self.center = picture.center
        self._invalidate()

    def show_message(self, text: str) -> None:
        """Show text (loading, errors) instead of a picture."""
        self._picture = None
        self._message = text
        self._invalidate()

    def clear(self) -> None:
        self._picture = None
        self._message = None
        self._invalidate()

    # -- view state (zoom / pan), owned here, applied by whoever renders -------------------

    def view_request(self) -> ViewRequest:
        """Current size in cells plus zoom/center: pass it to `render_for` in a worker."""
        width, height = self.size
        return ViewRequest(max(1, width), max(1, height), self.zoom, self.center)

    def zoom_by(self, factor: float) -> None:
        zoom = min(MAX_ZOOM, max(1.0, self.zoom * factor))
        if zoom != self.zoom:
            self.zoom = zoom
            if zoom == 1.0:
                self.center = (0.5, 0.5)
            self._post_view_changed()

    def zoom_in(self) -> None:
        self.zoom_by(ZOOM_STEP)

    def zoom_out(self) -> None:
        self.zoom_by(1 / ZOOM_STEP)

    def pan(self, dx: float, dy: float) -> None:
        """Move by dx, dy steps (each PAN_STEP of the visible area); no-op when not zoomed."""
        if self.zoom <= 1.0:
            return
        if self._picture is not None:
            self.center = self._picture.panned_center(dx * PAN_STEP, dy * PAN_STEP)
        else:
            cx, cy = self.center
            step = PAN_STEP / self.zoom
            self.center = (cx + dx * step, cy + dy * step)
        self._post_view_changed()

    def fit(self) -> None:
        """Back to the whole image."""
        if self.zoom != 1.0 or self.center != (0.5, 0.5):
            self.zoom = 1.0
            self.center = (0.5, 0.5)
            self._post_view_changed()

    def _post_view_changed(self) -> None:
        self.post_message(self.ViewChanged(self, self.view_request()))

    def on_resize(self, event: Resize) -> None:
        self._invalidate()
        self._post_view_changed()

    # -- drawing ----------------------------------------------------------------------------

    def _invalidate(self) -> None:
        self._strips = None
        self.refresh()

    def render_line(self, y: int) -> Strip:
        strips = self._current_strips()
        if 0 <= y < len(strips):
            return strips[y]
        return Strip.blank(self.size.width, self.visual_style.rich_style)

    def build_strips(self, size: Size) -> list[Strip]:
        """All lines for `size` (public so the benchmark can time one frame)."""
        base = self.visual_style.rich_style
        if self._picture is not None:
            return self._picture_strips(self._picture, size, base)
        return self._message_strips(self._message or "", size, base)

    def _current_strips(self) -> list[Strip]:
        size = self.size
        base = self.visual_style.rich_style
        key = (id(self._picture), self._message, size, base)
        if self._strips is None or self._strips_key != key:
            self._strips = self.build_strips(size)
            self._strips_key = key
        return self._strips

    def _style_table(self, base: Style) -> dict[tuple[int, int | None], Style]:
        """The (fg, bg) -> Style cache, emptied when the theme background changes."""
        if base is not self._styles_base or len(self._styles) > _STYLE_CACHE_LIMIT:
            self._styles = {}
            self._styles_base = base
        return self._styles

    def warm_styles(self, picture: HalfBlockPicture) -> None:
        """Make the picture's colour-pair Styles and its rows' Segments ahead of time (call
        from the worker that rendered it): a photo needs thousands, ~15 ms of Styles that
        would otherwise land on the key that shows it, plus the Segments, half of a frame's
        build (measured). Pairs with a background do not depend on the theme; dict writes
        are atomic, and a table swapped out meanwhile (theme change) just loses the extras."""
        styles = self._styles
        if len(styles) > _STYLE_CACHE_LIMIT // 2:
            return
        rows: list[list[Segment] | None] = []
        for row in picture.rows:
            segments: list[Segment] | None = []
            for text, fg, bg in row:
                if bg is None:  # drawn over the theme's background: built when shown
                    segments = None
                    break
                style = styles.get((fg, bg))
                if style is None:
                    style = styles[fg, bg] = Style.from_color(_colour(fg), _colour(bg))
                segments.append(Segment(text, style))
            rows.append(segments)
        with self._prebuilt_lock:
            prebuilt = self._prebuilt
            prebuilt[id(picture)] = (picture, rows)
            while len(prebuilt) > _PREBUILT_LIMIT:
                del prebuilt[next(iter(prebuilt))]

    @staticmethod
    def _new_style(fg: int, bg: int | None, base: Style) -> Style:
        background = base.bgcolor if bg is None else _colour(bg)
        # from_color skips Style.__init__'s argument parsing; a photo frame can need
        # thousands of new colour pairs.
        return Style.from_color(_colour(fg), background)

    def _picture_strips(self, picture: HalfBlockPicture, size: Size, base: Style) -> list[Strip]:
        width, height = size
        blank = Strip.blank(width, base)
        shown_w = min(width, picture.width)
        shown_h = min(height, picture.height)
        left = (width - shown_w) // 2
        right = width - shown_w - left
        top = (height - shown_h) // 2
        pad_left = Segment(" " * left, base) if left else None
        pad_right = Segment(" " * right, base) if right else None
        styles = self._style_table(base)
        styles_get = styles.get
        new_style = self._new_style
        entry = self._prebuilt.get(id(picture))
        prebuilt = entry[1] if entry is not None and entry[0] is picture and shown_w == picture.width else None
        strips = [blank] * top
        for y, row in enumerate(picture.rows[:shown_h]):
            segments = [pad_left] if pad_left else []
            if prebuilt is not None and prebuilt[y] is not None:
                segments.extend(prebuilt[y])
                if pad_right:
                    segments.append(pad_right)
                strips.append(Strip(segments, width))
                continue
            remaining = shown_w
            for text, fg, bg in row:
                if len(text) > remaining:  # picture wider than the widget (mid-resize)
                    text = text[:remaining]
                if text:
                    style = styles_get((fg, bg))
                    if style is None:
                        style = styles[fg, bg] = new_style(fg, bg, base)
                    segments.append(Segment(text, style))
                remaining -= len(text)
                if remaining <= 0:
                    break
            if pad_right:
                segments.append(pad_right)
            strips.append(Strip(segments, width))
        strips.extend([blank] * (height - len(strips)))
        return strips

    def _message_strips(self, message: str, size: Size, base: Style) -> list[Strip]:
        width, height = size
        blank = Strip.blank(width, base)
        if not message or width < 1:
            return [blank] * height
        lines = _wrap(visible(message), width)[:height]
        top = (height - len(lines)) // 2
        strips = [blank] * top
        for line in lines:
            left = max(0, (width - cell_len(line)) // 2)
            strip = Strip([Segment(" " * left + line, base)])
            strips.append(strip.adjust_cell_length(width, base))
        strips.extend([blank] * (height - len(strips)))
        return strips
