"""The label list: one row per label with its key, running count and colour; click to pick.

Rows are updated in place (only the rows whose count or mark changed), so a key press costs
one or two small repaints, not a re-layout of the list.
"""

from __future__ import annotations

from rich.text import Text
from textual.containers import VerticalScroll
from textual.events import Click
from textual.message import Message
from textual.widgets import Static

from tuilabel.ui.safe_text import one_line


class LabelRow(Static):
    """One label. Classes: `-toggled` (multi-label pick), `-answer` (the answer under review)."""

    def __init__(self, index: int, name: str, key: str, colour: str) -> None:
        super().__init__(classes="label-row", markup=False)
        self.index = index
        self.label_name = one_line(name)
        self.key = key
        self.colour = colour
        self.count = 0
        self.mark = ""  # "", "toggled" or "answer"
        self.multi = False

    def on_mount(self) -> None:
        self.redraw()

    def redraw(self) -> None:
        if self.multi:
            box = "[x] " if self.mark in ("toggled", "answer+toggled") else "[ ] "
        else:
            box = "● " if "answer" in self.mark else "  "
        self.update(
            Text.assemble(
                (f"{self.key:>3} ", "bold"),
                (box, "bold"),
                ("■ ", self.colour),
                self.label_name,
                (f"  {self.count:,}", "dim"),
                no_wrap=True,
                overflow="ellipsis",
            )
        )
        self.set_class("toggled" in self.mark, "-toggled")
        self.set_class("answer" in self.mark, "-answer")

    def set_state(self, *, count: int | None = None, mark: str | None = None, key: str | None = None,
                  colour: str | None = None) -> None:
        changed = False
        for attr, value in (("count", count), ("mark", mark), ("key", key), ("colour", colour)):
            if value is not None and getattr(self, attr) != value:
                setattr(self, attr, value)
                changed = True
        if changed:
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
        self.rows = [LabelRow(i, name, keys[i], colours[i]) for i, name in enumerate(labels)]
        for row in self.rows:
            row.multi = multi

    def compose(self):
        yield from self.rows

    def update_rows(self, counts: list[int], marks: list[str]) -> None:
        for row, count, mark in zip(self.rows, counts, marks):
            row.set_state(count=count, mark=mark)

    def set_keys(self, keys: list[str]) -> None:
        for row, key in zip(self.rows, keys):
            row.set_state(key=key)

    def set_colours(self, colours: list[str]) -> None:
        for row, colour in zip(self.rows, colours):
            row.set_state(colour=colour)
