"""The label list: one row per label with its key, colour, running count and share; click to pick.

    ⏎1  ● ■ BAG          ███▍     12  40%

Counts are right-aligned in one column (as wide as the largest count), followed by the share
of answered records when the row has room, and a small bar in the label's colour when there
is still room after the longest name.

One Line-API widget draws every row (`render_line`), with a cached strip per row that is
rebuilt only when what the row shows changed; a key press repaints the changed rows and never
asks for a layout. Row styles come from component classes (`label-list--answer`, `--toggled`,
`--hover`) set in the app's TCSS with theme variables; a click picks the row under the mouse.
"""

from __future__ import annotations

from rich.cells import cell_len
from rich.style import Style
from rich.text import Text
from textual import events
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from tuilabel.ui.format import bar
from tuilabel.ui.safe_text import one_line

MAX_BAR = 8
MIN_NAME = 6


class ListLayout:
    """What every row shares: column widths and the denominator of the shares."""

    __slots__ = ("key_w", "count_w", "name_w", "total")

    def __init__(self, key_w: int, count_w: int, name_w: int, total: int) -> None:
        self.key_w, self.count_w, self.name_w, self.total = key_w, count_w, name_w, total

    def as_tuple(self) -> tuple[int, int, int, int]:
        return self.key_w, self.count_w, self.name_w, self.total


class LabelRow:
    """What one row shows. `mark`: "", "toggled" (multi-label pick), "answer" (the answer
    under review) or "answer+toggled"."""

    __slots__ = ("index", "label_name", "key", "colour", "count", "mark", "multi")

    def __init__(self, index: int, name: str, key: str, colour: str, multi: bool) -> None:
        self.index = index
        self.label_name = one_line(name)
        self.key = key
        self.colour = colour
        self.count = 0
        self.mark = ""
        self.multi = multi

    def parts(self, width: int, layout: ListLayout) -> tuple:
        """Everything the row draws at a content `width`: the cache key of its strip, so a
        new answer repaints only the rows whose count, share or bar actually changed."""
        if self.multi:
            box = "[x] " if "toggled" in self.mark else "[ ] "
        else:
            box = "● " if "answer" in self.mark else "  "
        key = self.key.rjust(layout.key_w) + " "
        count = f"{self.count:,}".rjust(layout.count_w)
        fixed = cell_len(key) + cell_len(box) + cell_len("■ ") + 1 + len(count)
        share = ""
        if width - fixed - 5 >= MIN_NAME:
            share = f"{self.count / layout.total:>5.0%}" if layout.total else "     "
        room = width - fixed - len(share)
        bar_w = min(MAX_BAR, room - max(layout.name_w, MIN_NAME) - 1)
        name_w = room - (bar_w + 1 if bar_w >= 3 else 0)
        fill = ""
        if bar_w >= 3:
            fill = bar(self.count / layout.total if layout.total else 0.0, bar_w).ljust(bar_w)
        return key, box, count, share, name_w, fill, self.colour, bool(self.count)

    def text(self, width: int, layout: ListLayout) -> Text:
        """The row as text for a content `width` (the label name is data, never markup)."""
        return self.text_of(self.parts(width, layout))

    def text_of(self, parts: tuple) -> Text:
        key, box, count, share, name_w, fill, colour, counted = parts
        line = Text.assemble((key, "bold"), (box, "bold"), ("■ ", colour))
        name = self.label_name
        if cell_len(name) > name_w:
            cut = Text(name)
            cut.truncate(max(1, name_w), overflow="ellipsis")
            name = cut.plain
        line.append(name + " " * max(0, name_w - cell_len(name)))
        line.append(" ")
        if fill:
            line.append(fill, colour)
            line.append(" ")
        line.append(count, "bold" if counted else "dim")
        if share:
            line.append(share, "dim")
        line.no_wrap = True
        line.overflow = "ellipsis"
        line.end = ""
        return line


class LabelList(ScrollView, can_focus=False):
    """All labels; `Picked(index)` when one is clicked."""

    COMPONENT_CLASSES = {"label-list--hover", "label-list--toggled", "label-list--answer", "label-list--other-page"}

    DEFAULT_CSS = """
    LabelList {
        overflow-x: hidden;
        overflow-y: auto;
    }
    """

    class Picked(Message):
        def __init__(self, index: int) -> None:
            super().__init__()
            self.index = index

    def __init__(self, labels: list[str], keys: list[str], colours: list[str], multi: bool, **kw) -> None:
        super().__init__(**kw)
        self.layout_info = ListLayout(max((len(k) for k in keys), default=1), 1,
                                      max((cell_len(one_line(n)) for n in labels), default=0), 0)
        self.rows = [LabelRow(i, name, keys[i], colours[i], multi) for i, name in enumerate(labels)]
        self.hover: int | None = None
        self.page: int | None = None  # a pending prefix key's page: the other rows are dimmed
        self._cache: dict[int, tuple[tuple, Strip]] = {}
        self._styles: dict[str, Style] | None = None  # rich_style walks the ancestors: once per restyle

    # -- state ---------------------------------------------------------------------------------

    def update_rows(self, counts: list[int], marks: list[str], answered: int | None = None) -> None:
        """New counts and marks; `answered` (records with an answer) is what shares divide by."""
        layout = self.layout_info
        before = layout.as_tuple()
        layout.count_w = max(1, *(len(f"{c:,}") for c in counts)) if counts else 1
        layout.total = sum(counts) if answered is None else answered
        changed = [row.index for row, count, mark in zip(self.rows, counts, marks)
                   if (row.count, row.mark) != (count, mark)]
        for row, count, mark in zip(self.rows, counts, marks):
            row.count, row.mark = count, mark
        self._repaint(None if layout.as_tuple() != before else changed)

    def set_keys(self, keys: list[str]) -> None:
        self.layout_info.key_w = max((len(k) for k in keys), default=1)
        for row, key in zip(self.rows, keys):
            row.key = key
        self._repaint(None)

    def set_colours(self, colours: list[str]) -> None:
        for row, colour in zip(self.rows, colours):
            row.colour = colour
        self._repaint(None)

    def natural_width(self, with_bar: bool = True) -> int:
        """Cells for the widest row at its best (key, mark, colour, the longest name, a small
        bar, a 5-digit count and the share) plus the border, padding and scrollbar."""
        layout = self.layout_info
        box = 4 if self.rows and self.rows[0].multi else 2
        bar = MAX_BAR + 1 if with_bar else 0
        return 2 + layout.key_w + 1 + box + 2 + max(layout.name_w, MIN_NAME) + 1 + bar + 5 + 5 + 1

    def show_page(self, page: int | None) -> None:
        """A prefix key is pending (`h`: page 2, labels 21-30): bring that page into view and
        dim the others; None ends it."""
        if page != self.page:
            self.page = page
            self._repaint(None)
        index = (page or 0) * 10
        top, height = self.scroll_offset.y, self.scrollable_content_region.height
        if not top <= index < top + height - 9:
            self.scroll_to(y=index, animate=False, immediate=True)

    def row_text(self, index: int) -> Text:
        """Row `index` as drawn at the current width."""
        return self.rows[index].text(self._width(), self.layout_info)

    def _repaint(self, indexes: list[int] | None) -> None:
        """Repaint some rows (None: all). Rows whose drawing did not change cost a lookup."""
        if not self.is_mounted:
            return
        if indexes is None:
            self.refresh_lines(0, len(self.rows))  # not the blank rows below
            return
        for index in indexes:
            self.refresh_line(index)

    # -- drawing -------------------------------------------------------------------------------

    def on_mount(self) -> None:
        self.virtual_size = Size(self._width(), len(self.rows))

    def on_resize(self) -> None:
        self.virtual_size = Size(self._width(), len(self.rows))

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._styles = None
        self._cache.clear()

    def _width(self) -> int:
        return max(0, self.scrollable_content_region.width)

    def _style(self, name: str) -> Style:
        if self._styles is None:
            self._styles = {"": self.rich_style}
        style = self._styles.get(name)
        if style is None:
            style = self._styles[name] = self.get_component_rich_style(name)
        return style

    def render_line(self, y: int) -> Strip:
        index = y + self.scroll_offset.y
        width = self._width()
        if not 0 <= index < len(self.rows):
            return Strip.blank(width, self._style(""))
        row = self.rows[index]
        hover = index == self.hover
        other_page = self.page is not None and index // 10 != self.page
        parts = row.parts(width, self.layout_info)
        key = (parts, row.mark, width, hover, other_page)
        cached = self._cache.get(index)
        if cached is not None and cached[0] == key:
            return cached[1]
        style = self._style("")
        if hover:
            style += self._style("label-list--hover")
        if other_page:
            style += self._style("label-list--other-page")
        if "toggled" in row.mark:
            style += self._style("label-list--toggled")
        if "answer" in row.mark:
            style += self._style("label-list--answer")
        text = row.text_of(parts)
        if text.cell_len > width:
            text.truncate(width, overflow="ellipsis")
        strip = Strip(text.render(self.app.console), text.cell_len).apply_style(style).crop_extend(0, width, style)
        self._cache[index] = (key, strip)
        return strip

    # -- mouse ---------------------------------------------------------------------------------

    def _row_at(self, event: events.MouseEvent) -> int | None:
        offset = event.get_content_offset(self)
        if offset is None:
            return None
        index = offset.y + self.scroll_offset.y
        return index if 0 <= index < len(self.rows) else None

    def _set_hover(self, index: int | None) -> None:
        if index != self.hover:
            old, self.hover = self.hover, index
            for i in (old, index):
                if i is not None:
                    self.refresh_line(i)

    def on_mouse_move(self, event: events.MouseMove) -> None:
        self._set_hover(self._row_at(event))

    def on_leave(self, event: events.Leave) -> None:
        self._set_hover(None)

    def on_click(self, event: events.Click) -> None:
        index = self._row_at(event)
        if index is not None:
            event.stop()
            self.post_message(self.Picked(index))
