"""The record's text through the Line API: wrapped once per (text, width), drawn line by line.

A `Static` in a `VerticalScroll` re-lays out the screen on every record (its height is its
content's), which made the whole screen repaint on each key. Here the widget's size is fixed
by its container; a new record changes only `virtual_size` (a layout only when the number of
wrapped lines differs) and repaints only the rows that differ. When a long text brings in the
scrollbar (or a short one removes it) the width changes and the text is wrapped again: one
more wrap and layout for that record only, and it settles (a narrower wrap only adds lines).

A text longer than the pane can be read by keyboard alone (`scroll_lines`, `scroll_page`,
`scroll_home`, `scroll_end`); while more lies below, the bottom row says so
("▼ more below · 40% shown"). That row is one extra row of scroll height, so it never hides
a line for good: at the end it is gone and the last line sits above it.

The text is data: `visible()` makes control characters printable and nothing parses markup.
"""

from __future__ import annotations

from rich.style import Style
from rich.text import Text
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from tuilabel.ui.safe_text import visible

MAX_MEASURE = 100  # characters per line at most: longer lines are hard to read in a wide window


class RecordText(ScrollView, can_focus=False):
    COMPONENT_CLASSES = {"record-text--more"}

    DEFAULT_CSS = """
    RecordText {
        overflow-x: hidden;
        overflow-y: auto;
        & > .record-text--more { background: $primary 40%; color: $foreground; text-style: bold; }
    }
    """

    class OverflowChanged(Message):
        """The text now does (or no longer does) fit the pane: the keys that scroll it apply."""

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self.text = ""  # what is shown (already made visible)
        self.overflowing = False
        """The text is taller than the pane (scroll keys apply)."""
        self._strips: list[Strip] = []
        self._wrapped_for: tuple[str, int, int, Style] | None = None
        self._style: Style | None = None  # rich_style walks the ancestors: once per restyle

    @property
    def base_style(self) -> Style:
        if self._style is None:
            self._style = self.rich_style
        return self._style

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._style = None  # a theme or class change: the next wrap uses the new colours

    def show(self, text: str) -> None:
        """Show a new record's text from its first line, repainting only the lines that differ
        (the blank rows under a short review stay as they are)."""
        old, old_y = self._strips, self.scroll_offset.y
        self.text = visible(text)
        self.scroll_to(0, 0, animate=False, immediate=True)
        self._wrap()
        if old_y or self._wrapped_for is None or not self.is_mounted:
            self.refresh()
            return
        new = self._strips
        for y in range(max(len(old), len(new))):
            if y >= self.size.height:
                break
            if y >= len(old) or y >= len(new) or old[y] != new[y]:
                self.refresh_line(y)
        self.refresh_line(self.size.height - 1)  # the "more below" row comes and goes with the text

    @property
    def lines(self) -> list[str]:
        """The wrapped lines as plain text (what the labeler reads)."""
        self._wrap()
        return [strip.text.rstrip() for strip in self._strips]

    @property
    def more_below(self) -> bool:
        return self.overflowing and self.scroll_offset.y < self.max_scroll_y

    def _wrap(self) -> None:
        width = self.scrollable_content_region.width
        height = self.size.height
        if width <= 0:
            return
        measure = min(width, MAX_MEASURE)
        style = self.base_style
        key = (self.text, width, height, style)
        if key == self._wrapped_for:
            return
        self._wrapped_for = key
        console = self.app.console
        lines = Text(self.text, end="").wrap(console, measure, overflow="fold")
        self._strips = [Strip(line.render(console), line.cell_len).apply_style(style).crop_extend(0, width, style)
                        for line in lines]
        overflowing = len(self._strips) > height > 0
        # A layout only when the line count (the scrollable height) changes; a text that
        # overflows gets one more row, where "more below" is drawn until the end is reached.
        self.virtual_size = Size(width, len(self._strips) + overflowing)
        if overflowing != self.overflowing:
            self.overflowing = overflowing
            self.post_message(self.OverflowChanged())

    def on_resize(self) -> None:
        self._wrap()

    # -- keyboard scrolling ---------------------------------------------------------------------

    def scroll_lines(self, n: int) -> None:
        self.scroll_to(y=self.scroll_offset.y + n, animate=False, immediate=True)

    def scroll_page(self, pages: int) -> None:
        """A page is the visible text less one line, so the last line read stays in view."""
        self.scroll_lines(pages * max(1, self.size.height - 2))

    def scroll_text_home(self) -> None:
        self.scroll_to(y=0, animate=False, immediate=True)

    def scroll_text_end(self) -> None:
        self.scroll_to(y=self.max_scroll_y, animate=False, immediate=True)

    def _more_strip(self, width: int) -> Strip:
        shown = min(len(self._strips), self.scroll_offset.y + self.size.height - 1)
        text = Text(f" ▼ more below · PgDn · {shown / max(1, len(self._strips)):.0%} read ", end="")
        text.truncate(width)
        style = self.base_style + self.get_component_rich_style("record-text--more")
        return Strip(text.render(self.app.console), text.cell_len).apply_style(style).crop_extend(0, width, self.base_style)

    def render_line(self, y: int) -> Strip:
        self._wrap()
        index = y + self.scroll_offset.y
        width = self.scrollable_content_region.width
        if y == self.size.height - 1 and self.more_below:
            return self._more_strip(width)
        if 0 <= index < len(self._strips):
            strip = self._strips[index]
            if strip.cell_length != width:
                strip = strip.crop_extend(0, width, self.base_style)
            return strip
        return Strip.blank(width, self.base_style)
