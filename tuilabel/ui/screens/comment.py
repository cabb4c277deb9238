"""A verification worker's comment on the current record (GT's `worker-feedback`): one line,
enter keeps it for the record's answer, esc leaves the comment as it was."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

MAX_COMMENT_CHARS = 2000  # well under GT's 20,000 characters per attribute


class CommentScreen(ModalScreen[str | None]):
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="comment-cancel")]

    def __init__(self, comment: str) -> None:
        super().__init__(id="comment-screen")
        self.comment = comment

    def compose(self) -> ComposeResult:
        with Vertical(id="comment-body", classes="dialog"):
            yield Static("Comment on this label (saved with your answer); enter keeps it, esc cancels",
                         classes="dialog-title")
            yield Input(value=self.comment, placeholder="e.g. the bird is a sparrow",
                        max_length=MAX_COMMENT_CHARS, id="comment-input")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value.strip())

    def action_cancel(self) -> None:
        self.dismiss(None)
