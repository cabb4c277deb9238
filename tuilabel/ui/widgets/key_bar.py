"""The bottom row: the keys that apply now, as many as fit, the most needed first.

    space Skip  x Decline  ⌫ Undo  / Find  ? Help  q Quit

Textual's Footer cuts its last items at the window's edge (at 80 columns `q Quit` was never
seen); here each hint has a priority and the lowest-priority hints are dropped whole until
the rest fit, shown in their own order. Drawn through the Line API like the other rows.
"""

from __future__ import annotations

from typing import NamedTuple

from rich.cells import cell_len
from rich.style import Style
from rich.text import Text
from textual import events

from tuilabel.ui.widgets.lines import TextLine

GAP = "  "


class Hint(NamedTuple):
    key: str
    description: str
    priority: int = 5  # lower is kept longer
    action: str = ""  # run on the screen when the hint is clicked ("" = not clickable)


class KeyBar(TextLine):
    COMPONENT_CLASSES = {"key-bar--key"}

    DEFAULT_CSS = """
    KeyBar {
        height: 1;
        padding: 0 1;
        background: $footer-background;
        color: $footer-description-foreground;
        & > .key-bar--key { color: $footer-key-foreground; text-style: bold; }
    }
    """

    def __init__(self, **kw) -> None:
        super().__init__("", **kw)
        self.hints: list[Hint] = []
        self._key_style: Style | None = None
        self._spans: list[tuple[int, int, str]] = []  # (first cell, end cell, action) as drawn

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._key_style = None
        self._fitted_width = -1  # rebuilt with the new key colour at the next draw

    def show(self, hints: list[Hint]) -> None:
        if hints != self.hints:
            self.hints = hints
            self.update(self._build(self._fitted_width))

    def fit_width(self, width: int) -> None:
        self._texts[0], self._strips[0] = self._build(width), None

    @property
    def shown(self) -> list[Hint]:
        """The hints that fit the current width, in their order."""
        return self._fitting(self.content_size.width)

    def _fitting(self, width: int) -> list[Hint]:
        if width < 0:
            width = 1_000
        order = sorted(range(len(self.hints)), key=lambda i: self.hints[i].priority)
        kept: set[int] = set()
        used = 0
        for i in order:
            hint = self.hints[i]
            cost = cell_len(hint.key) + 1 + cell_len(hint.description) + (len(GAP) if kept else 0)
            if used + cost > width:
                continue
            kept.add(i)
            used += cost
        return [hint for i, hint in enumerate(self.hints) if i in kept]

    def _build(self, width: int) -> Text:
        if self._key_style is None and self.is_mounted:
            self._key_style = self.get_component_rich_style("key-bar--key")
        text = Text(end="", no_wrap=True)
        self._spans = []
        for n, hint in enumerate(self._fitting(width)):
            if n:
                text.append(GAP)
            start = text.cell_len
            text.append(hint.key, self._key_style or "bold")
            text.append(" " + hint.description)
            if hint.action:
                self._spans.append((start, text.cell_len, hint.action))
        return text

    async def on_click(self, event: events.Click) -> None:
        """A click on a hint does what its key does (as Textual's Footer did)."""
        offset = event.get_content_offset(self)
        if offset is None:
            return
        for start, end, action in self._spans:
            if start <= offset.x < end:
                event.stop()
                await self.app.run_action(action, self.screen)
                return
