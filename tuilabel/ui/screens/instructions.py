"""`i`: the full instructions (Markdown: written by the job owner, trusted) and the good and
bad examples, each with its text (shown as data) and its image preview."""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Markdown, Static

from tuilabel.core.gt.job import Example, Instructions
from tuilabel.core.preview import PreviewError, PreviewImage, load_source
from tuilabel.ui.safe_text import record_text
from tuilabel.ui.widgets.image_view import ImageView, ViewRequest, render_for


class InstructionsScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,i", "close", "Close", id="instructions-close")]

    class ExampleReady(Message):
        def __init__(self, view_id: str, picture) -> None:
            super().__init__()
            self.view_id = view_id
            self.picture = picture

    def __init__(self, instructions: Instructions, labels_help: str, base: str) -> None:
        super().__init__(id="instructions-screen")
        self.instructions = instructions
        self.labels_help = labels_help
        self.base = base
        self._images: dict[str, PreviewImage | PreviewError] = {}

    def compose(self) -> ComposeResult:
        ins = self.instructions
        with VerticalScroll(id="instructions-body", classes="dialog"):
            yield Static("Instructions  (esc closes)", classes="dialog-title")
            if ins.short:
                yield Static(record_text(ins.short), id="instructions-short")
            if ins.full:
                yield Markdown(ins.full, id="instructions-full")
            elif not ins.short:
                yield Static("This job has no instructions.", classes="dim")
            yield Static(record_text(self.labels_help), id="instructions-labels")
            examples = [(kind, ex) for kind, ex in (("good", ins.good), ("bad", ins.bad)) if ex.text or ex.image]
            if examples:
                with Horizontal(id="instructions-examples"):
                    for kind, ex in examples:
                        yield self._example(kind, ex)

    def _example(self, kind: str, example: Example) -> Vertical:
        parts = [Static("Good example" if kind == "good" else "Bad example", classes=f"example-title -{kind}")]
        if example.text:
            parts.append(Static(record_text(example.text)))
        if example.image:
            view = ImageView(id=f"example-{kind}", classes="example-image")
            view.show_message("loading…")
            parts.append(view)
        return Vertical(*parts, classes=f"example -{kind}")

    @on(ImageView.ViewChanged)
    def _example_view_changed(self, event: ImageView.ViewChanged) -> None:
        event.stop()
        view_id = event.image_view.id or ""
        kind = view_id.removeprefix("example-")
        example = self.instructions.good if kind == "good" else self.instructions.bad
        if example.image:
            self._render_example(view_id, example.image, event.request)

    @work(thread=True, exit_on_error=False, group="example-preview")
    def _render_example(self, view_id: str, ref: str, request: ViewRequest) -> None:
        image = self._images.get(ref)
        if image is None:
            image = self._images[ref] = load_source(ref, self.base)
        picture = image if isinstance(image, PreviewError) else render_for(image, request)
        self.post_message(self.ExampleReady(view_id, picture))

    @on(ExampleReady)
    def _example_ready(self, event: ExampleReady) -> None:
        self.query_one(f"#{event.view_id}", ImageView).show_picture(event.picture)

    def action_close(self) -> None:
        self.dismiss(None)
