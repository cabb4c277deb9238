"""`?`: every key, generated from the labeling screen's bindings (with the user's keymap).

Each row shows the binding's id: the name to use in `~/.config/tuilabel/config.toml`
under `[keys]` (e.g. `skip = "s"`) to change that key.
"""

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

    def __init__(self, rows: list[tuple[str, str, bool, str]], labels: list[tuple[str, str, str]]) -> None:
        """rows: (keys, description, available now, binding id); labels: (keys, name, binding id)."""
        super().__init__(id="help-screen")
        self.rows = rows
        self.labels = labels

    def compose(self) -> ComposeResult:
        keys = Table(box=None, show_header=True, header_style="bold", expand=True, pad_edge=False)
        # In a narrow window the action keeps room to be read; a long id folds instead.
        keys.add_column("Key", no_wrap=True)
        keys.add_column("Action", min_width=14)
        keys.add_column(Text("id in config [keys]"), overflow="fold", style="dim")
        for key, description, available, binding_id in self.rows:
            keys.add_row(Text(key, style="bold"), Text(description, style="" if available else "dim"), binding_id)
        labels = Table(box=None, show_header=True, header_style="bold", expand=True, pad_edge=False)
        labels.add_column("Key", no_wrap=True)
        labels.add_column("Label", min_width=14)
        labels.add_column(Text("id in config [keys]"), overflow="fold", style="dim")
        for key, name, binding_id in self.labels:
            labels.add_row(Text(key, style="bold"), Text(one_line(name)), binding_id)
        with VerticalScroll(id="help-body", classes="dialog"):
            yield Static("Keys  (esc closes; dimmed: not available right now)", classes="dialog-title")
            yield Static(keys)
            if self.labels:  # the portal (`tuilabel work`) has none
                yield Static("Labels", classes="dialog-title")
                yield Static(labels)
            # Text, not markup: "[keys]" is what the user types, not a style tag.
            yield Static(Text(
                'Change a key in ~/.config/tuilabel/config.toml: [keys] then id = "key" '
                '(e.g. skip = "s"; several keys: "s,space").'
            ), classes="dim")
            if self.labels:
                yield Static(Text("Zoom, fit and move work for half-block and kitty/sixel pictures alike."), classes="dim")
                yield Static(Text("ctrl+p: command palette (jump to record N, stats, theme, export, help)"), classes="dim")

    async def action_dismiss(self, result: None = None) -> None:
        self.dismiss(None)
