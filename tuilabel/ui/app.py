"""The labeling app. Every key is a Session call; the app only shows what the session holds.

    session = Session(spec, folder, manifest).open()
    make_app(session, theme=..., keymap=...).run()
    session.close()

Keys live on `LabelScreen` (not the App) so that dialogs (help, filter, instructions) do not
label records when a digit is typed in them. Every binding has an id for `set_keymap`.
"""

from __future__ import annotations

import time
from typing import Callable, TypeVar

from rich.text import Text
from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Container, Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Footer, Static
from textual.worker import get_current_worker

from tuilabel.core.errors import UserError
from tuilabel.core.store.journal import NONE
from tuilabel.core.data.manifest import BadRecord, Record
from tuilabel.core.preview import HalfBlockPicture, PreviewCache, PreviewError, PreviewImage, load_source
from tuilabel.core.session import Session, State
from tuilabel.ui.commands import JobCommands
from tuilabel.ui.graphics import graphics_picture, resolve_graphics, widget_class
from tuilabel.ui.safe_text import one_line, record_text, visible
from tuilabel.ui.themes import DEFAULT_THEME, label_variable, label_variable_defaults, load_themes
from tuilabel.ui.widgets.image_view import ImageView, ViewRequest, render_for
from tuilabel.ui.widgets.label_list import LabelList
from tuilabel.ui.widgets.lines import JobHeader, ProgressRow, TextLine
from tuilabel.ui.widgets.record_text import RecordText

W = TypeVar("W", bound=Widget)

DIGITS = "1234567890"
# Prefix keys for labels beyond 10: `g`+digit = 11-20, `h` = 21-30, `j` = 31-40, `k` = 41-50.
PAGE_KEYS = "ghjk"
PREFETCH = 3
GRAPHICS = ("auto", "kitty", "sixel", "halfblock")


def _bindings() -> list[Binding]:
    b: list[Binding] = []
    for n, key in enumerate(DIGITS):
        b.append(Binding(key, f"pick({n})", f"Label {n + 1} (pick / toggle)", show=False, id=f"label-{n + 1}"))
    for page, key in enumerate(PAGE_KEYS, 1):
        lo, hi = page * 10 + 1, page * 10 + 10
        b.append(Binding(key, f"page({page})", f"Then a digit: labels {lo}-{hi}", show=False, id=f"labels-{lo}-{hi}"))
    b += [
        Binding("enter", "submit", "Submit", id="submit"),
        Binding("space", "skip", "Skip", id="skip"),
        Binding("x", "decline", "Decline", id="decline"),
        Binding("backspace,u", "undo", "Undo", id="undo"),
        Binding("left_square_bracket", "history_back", "Previous answer", show=False, id="history-back"),
        Binding("right_square_bracket", "history_forward", "Next answer", show=False, id="history-forward"),
        Binding("slash", "filter", "Find", id="filter"),
        Binding("d", "details", "Details", show=False, id="details"),
        Binding("z", "zoom_in", "Zoom", id="zoom-in"),
        Binding("o", "zoom_out", "Zoom out", show=False, id="zoom-out"),
        Binding("f", "fit", "Fit", show=False, id="fit"),
        Binding("m", "move_mode", "Move", id="move"),
        Binding("left", "pan(-1,0)", "Pan left", show=False, id="pan-left"),
        Binding("right", "pan(1,0)", "Pan right", show=False, id="pan-right"),
        Binding("up", "pan(0,-1)", "Pan up", show=False, id="pan-up"),
        Binding("down", "pan(0,1)", "Pan down", show=False, id="pan-down"),
        Binding("escape", "cancel", "Cancel prefix / move mode", show=False, id="cancel"),
        Binding("i", "instructions", "Instructions", id="instructions"),
        # not `s`: the README's keymap example maps skip to `s`
        Binding("t", "stats", "Stats", show=False, id="stats"),
        Binding("question_mark", "help", "Help", id="help"),
        Binding("q", "stop", "Quit", id="quit"),
    ]
    return b


def label_keys(n_labels: int, keymap: dict[str, str] | None = None) -> list[str]:
    """What to type for each label: `1`..`0`, then prefix + digit (`g1` = label 11)."""
    keymap = keymap or {}

    def first(binding_id: str, default: str) -> str:
        keys = keymap.get(binding_id)
        return keys.split(",")[0].strip() if keys else default

    digits = [first(f"label-{n + 1}", DIGITS[n]) for n in range(10)]
    out: list[str] = []
    for i in range(n_labels):
        page, n = divmod(i, 10)
        if page == 0:
            out.append(digits[n])
        else:
            lo = page * 10 + 1
            out.append(first(f"labels-{lo}-{lo + 9}", PAGE_KEYS[page - 1]) + digits[n])
    return out


def label_binding_id(index: int) -> str:
    """The keymap id(s) that pick label `index` (0-based): `label-7`, or `labels-11-20 + label-7`."""
    page, n = divmod(index, 10)
    if page == 0:
        return f"label-{n + 1}"
    lo = page * 10 + 1
    return f"labels-{lo}-{lo + 9} + label-{n + 1}"


def format_eta(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    seconds = int(seconds)
    h, rest = divmod(seconds, 3600)
    return f"{h}h{rest // 60:02d}m" if h else f"{rest // 60}m{rest % 60:02d}s"


def show_picture(view: ImageView, picture: HalfBlockPicture | PreviewError) -> None:
    """Draw a picture; an image that cannot be shown says so and what the labeler can do."""
    if isinstance(picture, PreviewError):
        view.show_message(f"{picture.message}\n\nx declines this record (bad data), space skips it")
    else:
        view.show_picture(picture)


# What a worker renders for the image pane: half-block cells, a PIL image for kitty/sixel, or
# why the image cannot be shown.
Rendered = object


class PreviewReady(Message):
    """A worker rendered a picture (or failed) for record `token`.

    `refined` pictures replace a thumbnail-based one only if the view is still `request`."""

    def __init__(self, token: int, picture: Rendered, request: ViewRequest | None = None,
                 refined: bool = False) -> None:
        super().__init__()
        self.token = token
        self.picture = picture
        self.request = request
        self.refined = refined


class RecordPainted(Message):
    """Posted after a key's changes are on screen (the benchmark waits for it)."""


class LabelScreen(Screen):
    BINDINGS = _bindings()

    def __init__(self, session: Session) -> None:
        super().__init__(id="label-screen")
        self.session = session
        self.spec = session.spec
        self.task_type = session.spec.task_type
        self.labels = list(session.spec.labels)
        self.page = 0  # a pending prefix key (labels 11+), 0 = none
        self.move_mode = False
        self.toggled: set[int] = set()
        self.answer_labels: set[int] = set()
        self.shown_key: tuple | None = None
        self.token = 0
        self.messages_seen = 0
        self.message_text = ""
        self._widgets: dict[str, Widget] = {}

    # -- layout -----------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        app: LabelApp = self.app  # type: ignore[assignment]
        spec = self.spec
        short = spec.instructions.short or ("Pick every label that applies, then enter." if self.task_type.multi
                                            else "Pick the label that fits best.")
        yield JobHeader(
            Text.assemble((one_line(spec.name), "bold"), "  ·  ", self.task_type.description,
                          "  ·  ", (f"{len(self.labels)} labels", "dim")),
            Text(one_line(short)),
            id="header",
        )
        with Horizontal(id="main"):
            with Vertical(id="record-pane"):
                yield TextLine(id="status")
                if self.task_type.media == "image":
                    with Container(id="image-box"):
                        yield ImageView(id="image")
                        if app.graphics_mode != "halfblock":
                            gfx = widget_class(app.graphics_mode)(id="image-gfx")
                            gfx.display = False
                            yield gfx
                    yield TextLine(id="source-ref")
                else:
                    yield RecordText(id="record-text")
                if self.session.review is not None:  # review hook 1/4: every worker's answer
                    from tuilabel.ui.widgets.review_panel import ReviewPanel

                    yield ReviewPanel(id="review-panel")
                with VerticalScroll(id="details-scroll"):
                    yield Static(Text(""), id="details")
            yield LabelList(self.labels, app.label_keys, app.label_colours, self.task_type.multi, id="labels")
        yield ProgressRow(id="progress")
        yield TextLine(id="message")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.query_one("#details-scroll").display = False
        self.refresh_view()
        if not self.session.manifest.index_done:
            # The total appears when the background index finishes, without waiting for a key.
            self._count_timer = self.set_interval(0.25, self._poll_count)

    def _poll_count(self) -> None:
        if self.session.current is None:
            return
        self._show_progress()
        if self.session.manifest.index_done:
            self._count_timer.stop()

    # -- availability ---------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        session = self.session
        image = self.task_type.media == "image"
        n = len(self.labels)
        if action == "pick":
            index = self.page * 10 + int(parameters[0])  # type: ignore[arg-type]
            return index < n if self.page else int(parameters[0]) < n  # type: ignore[arg-type]
        if action == "page":
            return int(parameters[0]) * 10 < n  # type: ignore[arg-type]
        if action == "submit":  # review hook 3/4: enter accepts the consolidated label
            return self.task_type.multi or session.review is not None
        if action in ("zoom_in", "zoom_out", "fit", "move_mode"):
            return image
        if action == "pan":
            return image and self.move_mode
        if action == "cancel":
            return bool(self.page or self.move_mode)
        if action in ("skip", "decline") and session.current is None:
            return None
        if action == "history_forward":
            return session.state is State.REVIEWING or None
        return True

    # -- what is shown ----------------------------------------------------------------------

    def _answer_of(self) -> set[int]:
        entry = self.session.current_answer
        if entry is None or entry.kind != "a":
            return set()
        value = entry.gt.get(self.spec.label_attribute)
        if isinstance(value, list):
            return {v for v in value if isinstance(v, int)}
        return {value} if isinstance(value, int) else set()

    def refresh_view(self) -> None:
        """Bring every widget up to the session's state, touching only what changed."""
        session = self.session
        app: LabelApp = self.app  # type: ignore[assignment]
        if session.state is State.DONE or session.current is None:
            app.job_done()
            return
        record = session.current
        key = (record.index, session.state, session.current_answer)
        if key != self.shown_key:
            self.shown_key = key
            self.answer_labels = self._answer_of()
            self.toggled = set(self.answer_labels) if self.task_type.multi else set()
            self._show_record(record)
            if session.review is not None:  # review hook 2/4: the panel; multi-label starts at the suggestion
                self._show_review(record)
        self._show_status()
        self._show_labels()
        self._show_progress()
        self._show_messages()

    def _show_status(self) -> None:
        session = self.session
        record = session.current
        assert record is not None
        if session.state is State.REVIEWING:
            entry = session.current_answer
            if entry is not None and entry.kind == "d":
                what = "declined"
            else:
                what = ", ".join(self.labels[i] for i in sorted(self.answer_labels)) or "?"
            text = Text.assemble(("REVIEWING", "bold reverse"), f" record {record.lineno:,}: ",
                                 (one_line(what), "bold"), "  · pick relabels, space keeps, ] next")
        else:
            text = Text.assemble(("record ", "dim"), f"{record.lineno:,}")
            if self.task_type.multi:
                text.append(f"  ·  {len(self.toggled)} picked, enter submits", "dim")
        if self.page:
            lo = self.page * 10 + 1
            text.append(f"  ·  labels {lo}-{min(lo + 9, len(self.labels))}: press a digit (esc cancels)", "bold")
        if self.move_mode:
            text.append("  ·  MOVE: arrows pan, m/esc ends", "bold")
        status = self._set_line("#status", text)
        status.set_class(session.state is State.REVIEWING, "-reviewing")

    def _show_labels(self) -> None:
        marks = []
        for i in range(len(self.labels)):
            mark = []
            if i in self.answer_labels:
                mark.append("answer")
            if i in self.toggled:
                mark.append("toggled")
            marks.append("+".join(mark))
        self._widget("#labels", LabelList).update_rows(self.session.label_counts, marks, self.session.journal.answered)

    def _show_progress(self) -> None:
        app: LabelApp = self.app  # type: ignore[assignment]
        progress = self.session.progress()
        total = "counting…" if progress.total is None else f"{progress.total:,}"
        elapsed = app.clock() - app.started
        parts = [f"{progress.done:,}/{total}"]
        if progress.declined:
            parts.append(f"{progress.declined:,} declined")
        if progress.session_answers and elapsed >= 1:
            per_hour = progress.session_answers / elapsed * 3600
            parts.append(f"{per_hour:,.0f}/h")
            if progress.total is not None:
                parts.append("ETA " + format_eta(max(0, progress.total - progress.done) / per_hour * 3600))
        total_n = None if progress.total is None else max(progress.total, 1)
        self._widget("#progress", ProgressRow).show(progress.done, total_n, " · ".join(parts))

    def _show_messages(self) -> None:
        messages = self.session.messages
        if len(messages) > self.messages_seen:
            new = messages[self.messages_seen :]
            self.messages_seen = len(messages)
            text = new[-1] if len(new) == 1 else f"{new[-1]}  (+{len(new) - 1} more notes)"
            self.say(text)

    def say(self, text: str, error: bool = False) -> None:
        self.message_text = text
        widget = self._set_line("#message", Text(one_line(text)))
        widget.set_class(error, "-error")

    def _widget(self, selector: str, kind: type[W]) -> W:
        """A widget of this screen, looked up once (a query per key per widget adds up)."""
        widget = self._widgets.get(selector)
        if widget is None:
            widget = self._widgets[selector] = self.query_one(selector, kind)
        return widget  # type: ignore[return-value]

    def _set_line(self, selector: str, text: Text) -> TextLine:
        """Show `text` on a one-line widget; it repaints only if the text differs, and never
        asks for a layout (its size never changes)."""
        widget = self._widget(selector, TextLine)
        widget.update(text)
        return widget

    def _show_details(self) -> None:
        """The record's other fields, built only while the details pane is open."""
        record = self.session.current
        if record is None or not self.query_one("#details-scroll").display:
            return
        details = {k: v for k, v in record.data.items() if k not in ("source", "source-ref")}
        self.query_one("#details", Static).update(
            record_text("\n".join(f"{k}: {v}" for k, v in details.items()) or "(no other fields)")
        )

    def _show_record(self, record: Record) -> None:
        self.token += 1
        self._show_details()
        if self.task_type.media == "image":
            ref = record.source_ref or ""
            self._set_line("#source-ref", Text(one_line(ref)))
            view = self.query_one(ImageView)
            view.zoom, view.center = 1.0, (0.5, 0.5)
            self.move_mode = False
            self.app.show_image(self.token, ref)  # type: ignore[attr-defined]
        else:
            text = record.source if isinstance(record.source, str) else ""
            self._widget("#record-text", RecordText).show(text)

    # -- actions: every one is a session call -------------------------------------------------

    def _do(self, call: Callable[[], object]) -> None:
        try:
            call()
        except UserError as exc:
            self.say(str(exc), error=True)
        else:
            if self.message_text:
                self.say("")
        self.page = 0
        self.refresh_view()

    def pick_label(self, index: int) -> None:
        if not 0 <= index < len(self.labels) or self.session.current is None:
            return
        if self.task_type.multi:
            self.toggled ^= {index}
            self.page = 0
            self._show_status()
            self._show_labels()
        else:
            self._do(lambda: self.session.answer(index))

    def action_pick(self, n: int) -> None:
        self.pick_label(self.page * 10 + n)
        self.page = 0

    def action_page(self, page: int) -> None:
        self.page = page
        self._show_status()

    def action_cancel(self) -> None:
        self.page = 0
        self.move_mode = False
        self._show_status()
        self.refresh_bindings()

    def _show_review(self, record: Record) -> None:
        from tuilabel.ui.widgets.review_panel import ReviewPanel

        app: LabelApp = self.app  # type: ignore[assignment]
        plan = self.session.review
        if self.task_type.multi and not self.answer_labels:
            suggested = plan.suggested.get(record.index)  # type: ignore[union-attr]
            self.toggled = set(suggested) if isinstance(suggested, list) else set()
        self.query_one("#review-panel", ReviewPanel).show_record(plan, record.index, self.labels, app.label_colours)

    def action_submit(self) -> None:
        if self.session.review is not None and not self.task_type.multi:  # review hook 4/4
            self._do(self.session.accept)
            return
        if not self.toggled:
            self.say("pick at least one label (number keys toggle), then enter; x declines, space skips", error=True)
            return
        self._do(lambda: self.session.answer(sorted(self.toggled)))

    def action_skip(self) -> None:
        self._do(self.session.skip)

    def action_decline(self) -> None:
        record = self.session.current
        self._do(self.session.decline)
        if record is not None and not self.message_text:
            self.say(f"declined record {record.lineno:,} (bad data); u undoes")

    def action_undo(self) -> None:
        self._back("nothing to undo yet")

    def action_history_back(self) -> None:
        self._back("this is the oldest answer")

    def _back(self, none_left: str) -> None:
        moved = False

        def call() -> None:
            nonlocal moved
            moved = self.session.back()

        self._do(call)
        if not moved:
            self.say(none_left)

    def action_history_forward(self) -> None:
        self._do(self.session.forward)

    def action_details(self) -> None:
        scroll = self.query_one("#details-scroll")
        scroll.display = not scroll.display
        self._show_details()

    def action_filter(self) -> None:
        from tuilabel.ui.screens.label_filter import LabelFilterScreen

        app: LabelApp = self.app  # type: ignore[assignment]

        def picked(index: int | None) -> None:
            if index is not None:
                self.pick_label(index)

        app.push_screen(LabelFilterScreen(self.labels, app.label_keys), picked)

    def action_zoom_in(self) -> None:
        self.query_one(ImageView).zoom_in()

    def action_zoom_out(self) -> None:
        self.query_one(ImageView).zoom_out()

    def action_fit(self) -> None:
        self.query_one(ImageView).fit()

    def action_move_mode(self) -> None:
        self.move_mode = not self.move_mode
        if self.move_mode and self.query_one(ImageView).zoom <= 1.0:
            self.query_one(ImageView).zoom_in()
        self._show_status()
        self.refresh_bindings()

    def action_pan(self, dx: int, dy: int) -> None:
        self.query_one(ImageView).pan(dx, dy)

    def action_help(self) -> None:
        self.app.action_show_keys_help()  # type: ignore[attr-defined]

    def action_instructions(self) -> None:
        self.app.show_instructions()  # type: ignore[attr-defined]

    def action_stats(self) -> None:
        self.app.show_stats()  # type: ignore[attr-defined]

    def action_stop(self) -> None:
        self.app.exit()

    @on(LabelList.Picked)
    def _clicked(self, event: LabelList.Picked) -> None:
        self.pick_label(event.index)


class LabelApp(App):
    CSS_PATH = "app.tcss"
    TITLE = "tuilabel"
    ENABLE_COMMAND_PALETTE = True
    COMMANDS = App.COMMANDS | {JobCommands}

    def __init__(self, session: Session, *, theme: str | None = None, graphics: str = "auto",
                 keymap: dict[str, str] | None = None, first_start: bool = False,
                 clock: Callable[[], float] = time.monotonic,
                 upload_status: Callable[[], str | None] | None = None) -> None:
        super().__init__()
        self.session = session
        self.upload_status = upload_status  # e.g. "S3 offline: 3 files waiting" (None: all fine)
        self._upload_shown = ""
        self.graphics = graphics
        # Asks the terminal, so before run(); a text job has no pictures to draw.
        is_image = session.spec.task_type.media == "image"
        self.graphics_mode = resolve_graphics(graphics) if is_image else "halfblock"
        self.keymap = dict(keymap or {})
        self.first_start = first_start
        self.clock = clock
        self.started = clock()
        self.summary_shown = False
        self.finish_message = ""
        themes, self.theme_problems = load_themes()
        for t in themes:
            self.register_theme(t)
        wanted = theme or DEFAULT_THEME
        if wanted not in self.available_themes:
            self.theme_problems.append(f"unknown theme {wanted!r}; using {DEFAULT_THEME}")
            wanted = DEFAULT_THEME
        self.theme = wanted
        if self.keymap:
            self.set_keymap(self.keymap)
        self.label_keys = label_keys(len(session.spec.labels), self.keymap)
        self.label_colours = self._colours()
        self.images: PreviewCache[str, PreviewImage | PreviewError] = PreviewCache(6)
        self.pictures: PreviewCache[tuple, Rendered] = PreviewCache(16)
        self.label_screen = LabelScreen(session)
        self._image_view: ImageView | None = None

    # -- theme ---------------------------------------------------------------------------------

    def get_theme_variable_defaults(self) -> dict[str, str]:
        return label_variable_defaults()

    def _colours(self) -> list[str]:
        variables = {**label_variable_defaults(), **self.current_theme.variables}
        return [variables[label_variable(i)] for i in range(len(self.session.spec.labels))]

    def watch_theme(self, theme: str) -> None:
        if hasattr(self, "label_screen"):
            self.label_colours = self._colours()
            if self.label_screen.is_mounted:
                self.label_screen.query_one(LabelList).set_colours(self.label_colours)

    # -- lifecycle -------------------------------------------------------------------------------

    def get_default_screen(self) -> Screen:
        return self.label_screen

    def on_mount(self) -> None:
        for problem in self.theme_problems:
            self.session.messages.append(problem)
        if self.first_start and not self.session.spec.instructions.empty and self.session.state is not State.DONE:
            self.show_instructions()
        if self.upload_status is not None:
            self.set_interval(2.0, self._show_upload_status)

    def _show_upload_status(self) -> None:
        """Say when S3 uploads fall behind (and once when they have caught up again)."""
        text = self.upload_status() or ""
        if text != self._upload_shown:
            if text or self._upload_shown:
                self.label_screen.say(text or "S3: up to date", error=bool(text))
            self._upload_shown = text

    def job_done(self) -> None:
        """Every record has an answer: write the canonical output and show the summary."""
        if self.summary_shown:
            return
        self.summary_shown = True
        from tuilabel.ui.screens.summary import SummaryScreen

        session = self.session
        try:
            output = session.finish()
            message = ""
        except UserError as exc:
            output = session.folder.output_manifest
            message = str(exc)
        progress = session.progress()
        screen = SummaryScreen(
            job=session.spec.name, labels=list(session.spec.labels), colours=self.label_colours,
            counts=list(session.label_counts), declined=progress.declined, bad=progress.bad,
            seconds=self.clock() - self.started, answers=progress.session_answers, output=output,
            message=message,
        )

        def left(what: str | None) -> None:
            self.summary_shown = False
            if what == "undo" and session.back():
                self.label_screen.refresh_view()
            else:
                self.exit()

        self.push_screen(screen, left)

    # -- dialogs ---------------------------------------------------------------------------------

    def action_show_keys_help(self) -> None:
        from tuilabel.ui.screens.help import HelpScreen

        screen = self.label_screen
        ours = {binding.id for binding in LabelScreen.BINDINGS}  # type: ignore[union-attr]
        rows: dict[str, tuple[list[str], str, bool]] = {}
        for key, active in screen.active_bindings.items():
            binding = active.binding
            if binding.id not in ours or binding.id.startswith("label-"):
                continue  # widgets' own keys (scrolling) and the labels, listed separately
            entry = rows.setdefault(binding.id or binding.action, ([], binding.description, active.enabled))
            entry[0].append(self.get_key_display(binding))
        table = [(" ".join(keys), desc, enabled, binding_id) for binding_id, (keys, desc, enabled) in rows.items()]
        labels = [(key, name, label_binding_id(i)) for i, (key, name) in enumerate(zip(self.label_keys, self.session.spec.labels))]
        self.push_screen(HelpScreen(table, labels))

    def show_instructions(self) -> None:
        from tuilabel.ui.screens.instructions import InstructionsScreen

        spec = self.session.spec
        labels_help = "Labels: " + ", ".join(f"{k} {visible(n)}" for k, n in zip(self.label_keys, spec.labels))
        self.push_screen(InstructionsScreen(spec.instructions, labels_help, self.session.manifest.base))

    def show_stats(self) -> None:
        from tuilabel.ui.screens.stats import StatsScreen

        self.push_screen(StatsScreen(self.session.folder.root, list(self.session.spec.labels), self.label_colours))

    def export_now(self) -> None:
        try:
            path = self.session.finish()
        except UserError as exc:
            self.label_screen.say(str(exc), error=True)
        else:
            self.label_screen.say(f"wrote {path}")

    def jump_to(self, number: int) -> None:
        self.label_screen._do(lambda: self.session.jump(number - 1))

    # -- images ----------------------------------------------------------------------------------
    #
    # Half-block: ImageView draws HalfBlockPicture cells. kitty/sixel: a textual-image widget
    # (#image-gfx) in the same box draws a PIL image cut and scaled for the view; ImageView
    # stays for "loading…" and error messages and holds the zoom/center either way.
    # A half-block picture drawn from the EXIF thumbnail is re-rendered from the full image in
    # the background (`refine`) and swapped in when it is ready; the key path never waits.

    def view_request(self) -> ViewRequest:
        """What the image pane needs now: its size in cells and the user's zoom and center."""
        view = self._image_view = self.label_screen.query_one(ImageView)
        if self.graphics_mode == "halfblock":
            return view.view_request()
        width, height = self.label_screen.query_one("#image-box").content_size
        return ViewRequest(max(1, width), max(1, height), view.zoom, view.center)

    def show_rendered(self, picture: Rendered) -> None:
        """Put a rendered picture, a PIL image or an error into the image pane."""
        screen = self.label_screen
        view = screen.query_one(ImageView)
        if isinstance(picture, (HalfBlockPicture, PreviewError)):
            if self.graphics_mode != "halfblock":
                screen.query_one("#image-gfx").display = False
                view.display = True
            show_picture(view, picture)
            return
        gfx = screen.query_one("#image-gfx")
        gfx.image = picture  # type: ignore[attr-defined]
        view.display = False
        gfx.display = True

    def show_message(self, text: str) -> None:
        view = self.label_screen.query_one(ImageView)
        if self.graphics_mode != "halfblock":
            self.label_screen.query_one("#image-gfx").display = False
            view.display = True
        view.show_message(text)

    def _pane_ready(self) -> bool:
        if self.graphics_mode == "halfblock":
            size = self.label_screen.query_one(ImageView).size
        else:
            size = self.label_screen.query_one("#image-box").content_size
        return size.width >= 1 and size.height >= 1

    def show_image(self, token: int, ref: str) -> None:
        if not self._pane_ready():
            self.show_message("loading…")
            return  # the first Resize posts ViewChanged and renders
        request = self.view_request()
        cached = self.pictures.get((ref, request))
        if cached is not None:
            self.show_rendered(cached)
            self._maybe_refine(token, ref, request, cached)
        else:
            self.show_message(f"loading {one_line(ref)}…")
            self.render_image(token, ref, request)
        # Next records open at fit (zoom 1), so that is the view to prepare.
        self.prefetch(ViewRequest(request.cells_w, request.cells_h))

    @on(ImageView.ViewChanged)
    def _view_changed(self, event: ImageView.ViewChanged) -> None:
        screen = self.label_screen
        record = self.session.current
        if event.image_view.id != "image" or record is None or record.source_ref is None:
            return
        if not self._pane_ready():
            return
        request = self.view_request()
        cached = self.pictures.get((record.source_ref, request))
        if cached is not None:
            self.show_rendered(cached)
            self._maybe_refine(screen.token, record.source_ref, request, cached)
        else:
            self.render_image(screen.token, record.source_ref, request)
        self.prefetch(ViewRequest(request.cells_w, request.cells_h))

    def _maybe_refine(self, token: int, ref: str, request: ViewRequest, picture: Rendered) -> None:
        if isinstance(picture, HalfBlockPicture) and picture.from_thumbnail:
            self.refine(token, ref, request)

    @work(thread=True, exclusive=True, exit_on_error=False, group="preview")
    def render_image(self, token: int, ref: str, request: ViewRequest) -> None:
        picture = self._picture_for(ref, request)
        if not get_current_worker().is_cancelled:
            self.post_message(PreviewReady(token, picture, request))

    @work(thread=True, exclusive=True, exit_on_error=False, group="refine")
    def refine(self, token: int, ref: str, request: ViewRequest) -> None:
        """Replace a thumbnail-based picture with one from the full image."""
        picture = self._picture_for(ref, request, allow_thumbnail=False)
        if not get_current_worker().is_cancelled:
            self.post_message(PreviewReady(token, picture, request, refined=True))

    def _picture_for(self, ref: str, request: ViewRequest, allow_thumbnail: bool = True) -> Rendered:
        picture = self.pictures.get((ref, request))
        if picture is not None and (allow_thumbnail or not getattr(picture, "from_thumbnail", False)):
            return picture
        image = self.images.get(ref)
        if image is None:
            image = load_source(ref, self.session.manifest.base)
            self.images.put(ref, image)
        if isinstance(image, PreviewError):
            picture = image
        elif self.graphics_mode == "halfblock":
            picture = render_for(image, request, allow_thumbnail)
            view = self._image_view  # set on the main thread: no DOM query from a worker
            if view is not None and isinstance(picture, HalfBlockPicture):
                view.warm_styles(picture)
        else:
            picture = graphics_picture(image, request.cells_w, request.cells_h, request.zoom, request.center)
        self.pictures.put((ref, request), picture)
        return picture

    @on(PreviewReady)
    def _preview_ready(self, event: PreviewReady) -> None:
        if event.token != self.label_screen.token:
            return
        if event.request is not None and event.request != self.view_request():
            # Rendered for an older size or zoom (a resize or key came in meanwhile): a worker
            # result can arrive after the newer one, so never show it; render what fits now.
            record = self.session.current
            if not event.refined and record is not None and record.source_ref and self._pane_ready():
                self.render_image(event.token, record.source_ref, self.view_request())
            return
        self.show_rendered(event.picture)
        record = self.session.current
        if not event.refined and event.request is not None and record is not None and record.source_ref:
            self._maybe_refine(event.token, record.source_ref, event.request, event.picture)

    @work(thread=True, exclusive=True, exit_on_error=False, group="prefetch")
    def prefetch(self, request: ViewRequest) -> None:
        """Render the next few records' pictures (read-only look-ahead through the manifest),
        then refine any that came from an EXIF thumbnail."""
        worker = get_current_worker()
        session = self.session
        record = session.current
        if record is None:
            return
        status = session.journal.status
        index, offset = record.index + 1, record.next_offset
        refs: list[str] = []
        for _ in range(PREFETCH * 4):
            if len(refs) >= PREFETCH or worker.is_cancelled or offset >= session.manifest.size:
                break
            try:
                nxt = session.manifest.record_at(index, offset)
            except (BadRecord, OSError, ValueError):
                try:
                    _, offset = session.manifest.read_line(offset)
                except OSError:
                    break
                index += 1
                continue
            if (index >= len(status) or status[index] == NONE) and nxt.source_ref:
                self._picture_for(nxt.source_ref, request)
                refs.append(nxt.source_ref)
            index, offset = index + 1, nxt.next_offset
        for ref in refs:
            if worker.is_cancelled:
                return
            if getattr(self.pictures.get((ref, request)), "from_thumbnail", False):
                self._picture_for(ref, request, allow_thumbnail=False)


def make_app(session: Session, *, theme: str | None = None, graphics: str = "auto",
             keymap: dict[str, str] | None = None, first_start: bool = False,
             clock: Callable[[], float] = time.monotonic,
             upload_status: Callable[[], str | None] | None = None) -> LabelApp:
    """The labeling app for an opened session (the caller closes the session after run()).

    `upload_status` (polled every 2 s) returns a line to show while uploads lag, else None."""
    if graphics not in GRAPHICS:
        raise UserError(f"--graphics must be one of {', '.join(GRAPHICS)}, not {graphics!r}")
    return LabelApp(session, theme=theme, graphics=graphics, keymap=keymap,
                    first_start=first_start, clock=clock, upload_status=upload_status)
