"""`/`: pick a label by typing part of its name; enter picks the first (or highlighted) match."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList
from textual.widgets.option_list import Option

from tuilabel.ui.safe_text import one_line


def matching(labels: list[str], query: str) -> list[int]:
    """Indexes of labels containing `query` (case-insensitive); prefix matches first."""
    q = query.strip().casefold()
    if not q:
        return list(range(len(labels)))
    starts = [i for i, name in enumerate(labels) if name.casefold().startswith(q)]
    contains = [i for i, name in enumerate(labels) if q in name.casefold() and i not in starts]
    return starts + contains


class LabelFilterScreen(ModalScreen[int | None]):
    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="filter-cancel"),
        Binding("down", "move(1)", "Next match", show=False, id="filter-down"),
        Binding("up", "move(-1)", "Previous match", show=False, id="filter-up"),
    ]

    def __init__(self, labels: list[str], keys: list[str]) -> None:
        super().__init__(id="filter-screen")
        self.labels = labels
        self.keys = keys
        self.matches = list(range(len(labels)))

    def compose(self) -> ComposeResult:
        with Vertical(id="filter-body", classes="dialog"):
            yield Input(placeholder="type part of a label name, enter picks", id="filter-input")
            yield OptionList(id="filter-options")

    def on_mount(self) -> None:
        self._fill("")
        self.query_one(Input).focus()

    def _fill(self, query: str) -> None:
        self.matches = matching(self.labels, query)
        options = self.query_one(OptionList)
        options.clear_options()
        options.add_options(
            Option(Text.assemble((f"{self.keys[i]:>3}  ", "bold"), one_line(self.labels[i])), id=str(i))
            for i in self.matches
        )
        if self.matches:
            options.highlighted = 0

    @on(Input.Changed)
    def _changed(self, event: Input.Changed) -> None:
        self._fill(event.value)

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        options = self.query_one(OptionList)
        if not self.matches:
            self.notify("no label matches", severity="warning")
            return
        pos = options.highlighted if options.highlighted is not None else 0
        self.dismiss(self.matches[pos])

    @on(OptionList.OptionSelected)
    def _selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(int(event.option.id))

    def action_move(self, step: int) -> None:
        options = self.query_one(OptionList)
        if self.matches:
            pos = (options.highlighted or 0) + step
            options.highlighted = max(0, min(len(self.matches) - 1, pos))

    def action_cancel(self) -> None:
        self.dismiss(None)
