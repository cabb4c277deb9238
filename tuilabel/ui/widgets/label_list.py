"""The label list: one row per label with its key, colour, running count and share; click to pick.

    ⏎1  ● ■ BAG          ███▍     12  40%

Counts are right-aligned in one column (as wide as the largest count), followed by the share
of answered records when the row has room, and a small bar in the label's colour when there
is still room after the longest name. Rows redraw only when what they show changed, so a key
press costs one or two small repaints, not a re-layout of the list.
"""

from __future__ import annotations

from rich.cells import cell_len
from rich.text import Text
from textual.containers import VerticalScroll
from textual.events import Click
from textual.message import Message
from textual.widget import Widget

from tuilabel.ui.safe_text import one_line

_EIGHTHS = " ▏▎▍▌▋▊▉"
MAX_BAR = 8
MIN_NAME = 6


def bar(fraction: float, width: int) -> str:
    """A left-aligned bar `width` cells wide filled to `fraction`, in eighths of a cell."""
    eighths = round(max(0.0, min(1.0, fraction)) * width * 8)
    full, part = divmod(eighths, 8)
    text = "█" * full + (_EIGHTHS[part] if part else "")
    return text.ljust(width)


class ListLayout:
    """What every row shares: column widths and the denominator of the shares."""

    __slots__ = ("key_w", "count_w", "name_w", "total")

    def __init__(self, key_w: int, count_w: int, name_w: int, total: int) -> None:
        self.key_w, self.count_w, self.name_w, self.total = key_w, count_w, name_w, total

    def as_tuple(self) -> tuple[int, int, int, int]:
        return self.key_w, self.count_w, self.name_w, self.total


class LabelRow(Widget):
    """One label. Classes: `-toggled` (multi-label pick), `-answer` (the answer under review)."""

    DEFAULT_CSS = """
    LabelRow { height: 1; }
    """

    def __init__(self, index: int, name: str, key: str, colour: str, layout: ListLayout) -> None:
        super().__init__(classes="label-row")
        self.index = index
        self.label_name = one_line(name)
        self.key = key
        self.colour = colour
        self.count = 0
        self.mark = ""  # "", "toggled", "answer" or "answer+toggled"
        self.multi = False
        self.layout_info = layout
        self._shown: tuple | None = None

    def redraw(self) -> None:
        """Repaint if anything this row shows changed."""
        state = (self.count, self.mark, self.key, self.colour, self.layout_info.as_tuple())
        if state != self._shown:
            self._shown = state
            self.set_class("toggled" in self.mark, "-toggled")
            self.set_class("answer" in self.mark, "-answer")
            self.refresh()

    def render(self) -> Text:
        layout = self.layout_info
        width = self.content_size.width
        if self.multi:
            box = "[x] " if "toggled" in self.mark else "[ ] "
        else:
            box = "● " if "answer" in self.mark else "  "
        count = f"{self.count:,}".rjust(layout.count_w)
        head = Text.assemble((self.key.rjust(layout.key_w) + " ", "bold"), (box, "bold"), ("■ ", self.colour))
        fixed = head.cell_len + 1 + len(count)
        share = ""
        if width - fixed - 5 >= MIN_NAME:
            share = f"{self.count / layout.total:>5.0%}" if layout.total else "     "
        room = width - fixed - len(share)
        bar_w = min(MAX_BAR, room - max(layout.name_w, MIN_NAME) - 1)
        name_w = room - (bar_w + 1 if bar_w >= 3 else 0)
        name = self.label_name
        if cell_len(name) > name_w:
            name = Text(name)
            name.truncate(max(1, name_w), overflow="ellipsis")
            name = name.plain
        line = head
        line.append(name + " " * max(0, name_w - cell_len(name)))
        line.append(" ")
        if bar_w >= 3:
            fraction = self.count / layout.total if layout.total else 0.0
            line.append(bar(fraction, bar_w), self.colour)
            line.append(" ")
        line.append(count, "bold" if self.count else "dim")
        if share:
            line.append(share, "dim")
        line.no_wrap = True
        line.overflow = "ellipsis"
        return line

    def set_state(self, *, count: int | None = None, mark: str | None = None, key: str | None = None,
                  colour: str | None = None) -> None:
        for attr, value in (("count", count), ("mark", mark), ("key", key), ("colour", colour)):
            if value is not None:
                setattr(self, attr, value)
        if self.is_mounted:
            self.redraw()

    def on_mount(self) -> None:
        self.redraw()

    def on_click(self, event: Click) -> None:
        event.stop()
        self.post_message(LabelList.Picked(self.index))


class LabelList(VerticalScroll, can_focus=False):
    """All labels; `Picked(index)` when one is clicked."""

    class Picked(Message):
        def __init__(self, index: int) -> None:
            super().__init__()
            self.index = index

    def __init__(self, labels: list[str], keys: list[str], colours: list[str], multi: bool, **kw) -> None:
        super().__init__(**kw)
        self.layout_info = ListLayout(max(3, *(len(k) for k in keys)) if keys else 3, 1,
                                      max((cell_len(one_line(n)) for n in labels), default=0), 0)
        self.rows = [LabelRow(i, name, keys[i], colours[i], self.layout_info) for i, name in enumerate(labels)]
        for row in self.rows:
            row.multi = multi

    def compose(self):
        yield from self.rows

    def update_rows(self, counts: list[int], marks: list[str], answered: int | None = None) -> None:
        """New counts and marks; `answered` (records with an answer) is what shares divide by."""
        layout = self.layout_info
        layout.count_w = max(1, *(len(f"{c:,}") for c in counts)) if counts else 1
        layout.total = sum(counts) if answered is None else answered
        for row, count, mark in zip(self.rows, counts, marks):
            row.set_state(count=count, mark=mark)

    def set_keys(self, keys: list[str]) -> None:
        self.layout_info.key_w = max(3, *(len(k) for k in keys)) if keys else 3
        for row, key in zip(self.rows, keys):
            row.set_state(key=key)

    def set_colours(self, colours: list[str]) -> None:
        for row, colour in zip(self.rows, colours):
            row.set_state(colour=colour)
