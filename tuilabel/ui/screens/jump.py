"""Jump to record N (from the command palette): one number, enter goes, esc cancels."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static


class JumpScreen(ModalScreen[int | None]):
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="jump-cancel")]

    def __init__(self, last: int | None) -> None:
        """`last`: the highest record number, None while the input is still being counted."""
        super().__init__(id="jump-screen")
        self.last = last

    def compose(self) -> ComposeResult:
        span = f"1-{self.last:,}" if self.last else "from 1"
        with Vertical(id="jump-body", classes="dialog"):
            yield Static(f"Jump to record ({span}); enter goes, esc cancels", classes="dialog-title")
            yield Input(placeholder="record number", type="integer", id="jump-input")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        value = event.value.strip()
        if value.isdigit() and int(value) > 0:
            self.dismiss(int(value))
        else:
            self.notify("type a record number, e.g. 120", severity="warning")

    def action_cancel(self) -> None:
        self.dismiss(None)
