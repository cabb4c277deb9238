"""`?`: every key, generated from the labeling screen's bindings (with the user's keymap)."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from tuilabel.ui.safe_text import one_line


class HelpScreen(ModalScreen[None]):
    BINDINGS = [
        Binding("escape,q,question_mark", "dismiss", "Close", id="help-close"),
    ]

    def __init__(self, rows: list[tuple[str, str, bool]], labels: list[tuple[str, str]]) -> None:
        """rows: (keys, description, available now); labels: (keys, label name)."""
        super().__init__(id="help-screen")
        self.rows = rows
        self.labels = labels

    def compose(self) -> ComposeResult:
        keys = Table(box=None, show_header=True, header_style="bold", expand=True, pad_edge=False)
        keys.add_column("Key", no_wrap=True)
        keys.add_column("Action")
        for key, description, available in self.rows:
            keys.add_row(Text(key, style="bold"), Text(description, style="" if available else "dim"))
        labels = Table(box=None, show_header=True, header_style="bold", expand=True, pad_edge=False)
        labels.add_column("Key", no_wrap=True)
        labels.add_column("Label")
        for key, name in self.labels:
            labels.add_row(Text(key, style="bold"), Text(one_line(name)))
        with VerticalScroll(id="help-body", classes="dialog"):
            yield Static("Keys  (esc closes; dimmed: not available right now)", classes="dialog-title")
            yield Static(keys)
            yield Static("Labels", classes="dialog-title")
            yield Static(labels)
            yield Static("ctrl+p: command palette (jump to record N, theme, export, help)", classes="dim")

    async def action_dismiss(self, result: None = None) -> None:
        self.dismiss(None)
