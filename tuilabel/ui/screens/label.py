"""The labeling screen: every key is a Session call; the screen only shows what the session holds.

Keys live here (not on the App) so that dialogs (help, filter, instructions) do not label
records when a digit is typed in them. Widgets are created once in `compose` and kept as
attributes; a key updates only the rows and lines whose content changed.

The layout follows the window: the label pane is as wide as its labels need (at most
`LABELS_SHARE` of the width), a low window drops the title row (`COMPACT_HEIGHT`), and below
`MIN_SIZE` the screen says how much room it needs instead of drawing a broken layout (keys
other than quit and help do nothing then: nobody labels what they cannot see).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, cast

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.reactive import var
from textual.screen import Screen
from textual import events
from textual.widgets import Static

from tuilabel.core.data.manifest import Record
from tuilabel.core.errors import UserError
from tuilabel.core.gt import chained
from tuilabel.core.gt.box_answer import BoxAnswer
from tuilabel.core.session import Progress, Session, State
from tuilabel.ui.format import duration
from tuilabel.ui.keys import KEY_BAR_PRIORITY, label_bindings
from tuilabel.ui.safe_text import one_line, record_text
from tuilabel.ui.themes import label_variable, label_variable_defaults
from tuilabel.ui.widgets.box_pane import BoxPane, Overlay
from tuilabel.ui.widgets.image_pane import ImagePane
from tuilabel.ui.widgets.key_bar import Hint, KeyBar
from tuilabel.ui.widgets.label_list import LabelList
from tuilabel.ui.widgets.lines import JobHeader, ProgressRow, TextLine
from tuilabel.ui.widgets.record_text import RecordText
from tuilabel.ui.widgets.review_panel import ReviewPanel

if TYPE_CHECKING:
    from tuilabel.ui.app import LabelApp

MIN_SIZE = (40, 12)
COMPACT_HEIGHT = 16  # below this the title row goes (the short instructions stay)
LABELS_SHARE = 0.45
MIN_LABELS_WIDTH = 14


class LabelScreen(Screen):
    BINDINGS = label_bindings()
    PANE = ImagePane  # the box screen draws boxes over it
    HINT = ""  # the short instructions when the job gives none (else the classification hint)
    # Nothing takes focus: a focused scroll container's own arrows, PageDown, Home and End
    # would shadow the screen's keys.
    AUTO_FOCUS = None

    page = var(0, init=False, bindings=True)
    """A pending prefix key for labels 11+ (`g` = 1 … `k` = 4); 0 = none."""
    move_mode = var(False, init=False, bindings=True)
    """Arrows pan the zoomed image."""

    def __init__(self, session: Session) -> None:
        super().__init__(id="label-screen")
        self.session = session
        self.spec = session.spec
        self.task_type = session.spec.task_type
        self.labels = list(session.spec.labels)
        self.toggled: set[int] = set()
        """Multi-label: the labels picked for the current record, not yet submitted."""
        self.answer_labels: set[int] = set()
        """The standing answer of the record under review."""
        self.shown_key: tuple | None = None
        """(record, state, answer) last drawn: a new one resets the record pane."""
        self.messages_seen = 0
        """How many of `session.messages` were shown already."""
        self.message_text = ""
        """The message line's text ("" when empty)."""
        self.image_pane: ImagePane | None = None
        self.record_text: RecordText | None = None
        self.review_panel: ReviewPanel | None = None
        """A review (`tuilabel review`): every worker's answer and the consolidated label."""
        self.too_small = False
        """The window is below MIN_SIZE: only a message is shown."""
        self.earlier_line: TextLine | None = None
        """A chained job: the earlier label under audit."""
        self.earlier_labels: set[int] = set()
        """An adjustment: the earlier label(s), what enter accepts unchanged."""
        self.comment = ""
        """A verification: the worker's comment on the current record, sent with the answer."""
        self.comment_line: TextLine | None = None

    @property
    def label_app(self) -> LabelApp:
        return cast("LabelApp", self.app)

    # -- layout -----------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        app = self.label_app
        spec = self.spec
        short = spec.instructions.short or (
            "Is the earlier label right? A digit picks the verdict; c adds a comment." if spec.verify
            else "Fix the earlier label where it is wrong; enter keeps it." if spec.adjust
            else self.HINT or ("Pick every label that applies, then enter." if self.task_type.multi
                               else "Pick the label that fits best."))
        name = (one_line(spec.name), "bold")
        self.header = JobHeader(
            [Text.assemble(name, "  ·  ", self.task_type.description, "  ·  ", (f"{len(self.labels)} labels", "dim")),
             Text.assemble(name, "  ·  ", self.task_type.description),
             Text.assemble(name)],
            Text(one_line(short)),
            id="header",
        )
        yield self.header
        self.status = TextLine(id="status")
        self.details = Static(Text(""), id="details")
        self.details_scroll = VerticalScroll(self.details, id="details-scroll", can_focus=False)
        self.label_list = LabelList(self.labels, app.label_keys, app.label_colours, self.task_type.multi, id="labels")
        self.progress_row = ProgressRow(id="progress")
        self.message = TextLine(id="message")
        self.key_bar = KeyBar(id="key-bar")
        self.too_small_note = Static("", id="too-small")
        self.task_timer: TextLine | None = None
        self.team_progress: tuple[int, int] | None = None  # the team's (closed, records) last shown
        with Horizontal(id="main"):
            with Vertical(id="record-pane"):
                if self.spec.is_team:  # the task timer beside the status (it alone repaints each second)
                    self.task_timer = TextLine(id="task-timer")
                    with Horizontal(id="status-row"):
                        yield self.status
                        yield self.task_timer
                else:
                    yield self.status
                if self.spec.audited:  # chained hook 1/4: the earlier label
                    self.earlier_line = TextLine(id="earlier")
                    yield self.earlier_line
                    self.comment_line = TextLine(id="comment")
                    yield self.comment_line
                if self.task_type.media == "image":
                    # A verification of boxes draws the earlier boxes over the picture.
                    pane = BoxPane if self.task_type.verification else self.PANE
                    self.image_pane = pane(self.session, app.graphics_mode, id="image-pane")
                    yield self.image_pane
                else:
                    self.record_text = RecordText(id="record-text")
                    yield self.record_text
                if self.session.review is not None:  # review hook 1/4: every worker's answer
                    self.review_panel = ReviewPanel(id="review-panel")
                    yield self.review_panel
                yield self.details_scroll
            yield self.label_list
        yield self.progress_row
        yield self.message
        yield self.key_bar
        yield self.too_small_note

    def on_mount(self) -> None:
        self.details_scroll.display = False
        self.too_small_note.display = False
        self._fit_layout(self.app.size.width, self.app.size.height)
        self.app.theme_changed_signal.subscribe(self, self._theme_changed)
        # The total appears when the background count finishes, without waiting for a key
        # (the hook runs in the index thread; post_message is thread-safe).
        self.session.on_total.append(self._post_total)
        self.refresh_view()
        if self.task_timer is not None:
            self._tick()
            self.set_interval(1.0, self._tick)

    def on_unmount(self) -> None:
        if self._post_total in self.session.on_total:
            self.session.on_total.remove(self._post_total)

    class TotalCounted(Message):
        """The session knows its total now."""

    def _post_total(self) -> None:
        self.post_message(self.TotalCounted())

    @on(TotalCounted)
    def _total_counted(self) -> None:
        if self.session.current is not None:
            self._show_progress()

    def _theme_changed(self, theme: object) -> None:
        self.label_list.set_colours(self.label_app.label_colours)

    # -- layout -----------------------------------------------------------------------------

    def on_resize(self, event: events.Resize) -> None:
        self._fit_layout(event.size.width, event.size.height)

    def _fit_layout(self, width: int, height: int) -> None:
        too_small = width < MIN_SIZE[0] or height < MIN_SIZE[1]
        if too_small:
            self.too_small_note.update(Text(
                f"window too small: {width}×{height}\nneed ≥ {MIN_SIZE[0]}×{MIN_SIZE[1]}\n\n"
                "q quits (every answer is saved)"))
        if too_small != self.too_small:
            self.too_small = too_small
            self.set_class(too_small, "-too-small")
            self.too_small_note.display = too_small
            self.refresh_bindings()
        self.header.set_compact(height < COMPACT_HEIGHT)
        # Bars beside the counts only where the record keeps room (a wide window).
        labels_width = min(self.label_list.natural_width(with_bar=width >= 100), int(width * LABELS_SHARE))
        self.label_list.styles.width = max(MIN_LABELS_WIDTH, labels_width)

    # -- availability ---------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        session = self.session
        image = self.task_type.media == "image"
        n = len(self.labels)
        if self.too_small and action not in ("stop", "help"):
            return False
        if action == "pick":
            index = self.page * 10 + int(parameters[0])  # type: ignore[call-overload]
            return index < n
        if action == "page":
            return int(parameters[0]) * 10 < n  # type: ignore[call-overload]
        if action == "submit":  # review hook 3/4: enter accepts the consolidated label
            return self.task_type.multi or session.review is not None or bool(self.spec.adjust)
        if action == "comment":
            return bool(self.spec.verify) and session.current is not None
        if action in ("zoom_in", "zoom_out", "fit", "move_mode"):
            return image
        if action == "pan":
            if image:
                return self.move_mode
            return parameters[1] != 0 and self._text_overflows()
        if action == "scroll_text":
            return self._text_overflows()
        if action == "cancel":
            return bool(self.page or self.move_mode) or session.state is State.REVIEWING
        if action in ("skip", "decline") and session.current is None:
            return None
        if action == "release":
            return session.lease is not None if self.spec.is_team else False
        if action == "history_forward":
            return session.state is State.REVIEWING or None
        return True

    def _text_overflows(self) -> bool:
        return self.record_text is not None and self.record_text.overflowing

    def watch_page(self, page: int) -> None:
        self._show_status()
        # Bring the page's labels into view (with 30 labels, `h` shows 21-30), and back.
        self.label_list.show_page(page or None)

    def watch_move_mode(self) -> None:
        self._show_status()

    def refresh_bindings(self) -> None:
        super().refresh_bindings()
        if self.is_mounted:
            self._show_keys()

    @on(RecordText.OverflowChanged)
    def _overflow_changed(self) -> None:
        self.refresh_bindings()

    def _show_keys(self) -> None:
        """The key bar: the keys that apply now; while a prefix is pending, what it offers."""
        if self.page:
            keys = self.label_app.label_keys
            lo, hi = self.page * 10, min(self.page * 10 + 10, len(self.labels))
            hints = [Hint(keys[i][-1], one_line(self.labels[i]), 2) for i in range(lo, hi)]
            hints.append(Hint("esc", "Cancel", 0, "cancel"))
            if sum(len(h.key) + len(h.description) + 3 for h in hints) > self.key_bar.content_size.width:
                # Not room for every name: the list shows them (the other labels dimmed).
                digits = f"{keys[lo][-1]}-{keys[hi - 1][-1]}" if hi - lo > 1 else keys[lo][-1]
                hints = [Hint(digits, f"Labels {lo + 1}-{hi}, shown in the list", 1), hints[-1]]
            self.key_bar.show(hints)
            return
        hints: list[Hint] = []
        seen: set[str] = set()
        reviewing = self.session.state is State.REVIEWING
        pan_keys = ""
        for active in self.active_bindings.values():
            binding = active.binding
            if self.move_mode and (binding.id or "").startswith("pan-") and active.node is self:
                pan_keys += self.app.get_key_display(binding) if binding.id not in seen else ""
                seen.add(binding.id or "")
                continue
            shown = binding.show or ((reviewing or self.move_mode) and binding.id in ("cancel", "history-forward"))
            if active.node is not self or not shown or not active.enabled or binding.id in seen:
                continue
            seen.add(binding.id or "")
            description = binding.description
            if reviewing and binding.id == "skip":
                description = "Keep"
            elif binding.id == "submit" and (self.review_panel is not None or self.spec.adjust) and not reviewing:
                description = "Accept"
            elif binding.id == "cancel":
                description = ("Back to labeling" if reviewing and not (self.page or self.move_mode)
                               else "End move" if self.move_mode else "Cancel")
            hints.append(Hint(self.app.get_key_display(binding), description,
                              KEY_BAR_PRIORITY.get(binding.id or "", 5), binding.action))
        if pan_keys:
            hints.insert(0, Hint(pan_keys, "Pan", 1))
        if reviewing:
            keys = self.label_app.label_keys
            hints.insert(0, Hint(f"{keys[0]}-{keys[-1]}" if len(keys) > 1 else keys[0], "Relabel", 1))
        hints.append(Hint("^p", "Palette", 10, "app.command_palette"))
        self.key_bar.show(hints)

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
        if session.state is State.DONE or session.current is None:
            self.label_app.job_done()
            return
        record = session.current
        key = (record.index, session.state, session.current_answer)
        if key != self.shown_key:
            self.shown_key = key
            self.answer_labels = self._answer_of()
            self.toggled = set(self.answer_labels) if self.task_type.multi else set()
            if self.earlier_line is not None:  # chained hook 2/4: show (and preselect) the earlier label
                self._show_earlier(record)
            self._show_record(record)
            if self.review_panel is not None:  # review hook 2/4: the panel; multi-label starts at the suggestion
                self._show_review(record)
        self._show_status()
        self._show_labels()
        self._show_progress()
        self._show_messages()
        self.refresh_bindings()

    def _show_status(self) -> None:
        session = self.session
        record = session.current
        if record is None:
            return
        if session.state is State.REVIEWING:
            entry = session.current_answer
            if entry is not None and entry.kind == "d":
                what = "declined"
            else:
                what = ", ".join(self.labels[i] for i in sorted(self.answer_labels)) or "?"
            text = Text.assemble(("REVIEWING", "bold reverse"), f" record {record.lineno:,}: ",
                                 (one_line(what), "bold"))
        else:
            text = Text.assemble(("record ", "dim"), f"{record.lineno:,}")
            if self.task_type.multi:
                text.append(f"  ·  {len(self.toggled)} picked, enter submits", "dim")
        if self.page:
            lo = self.page * 10 + 1
            text.append(f"  ·  labels {lo}-{min(lo + 9, len(self.labels))}: a digit picks", "bold")
        if self.move_mode:
            text.append("  ·  MOVE", "bold")
        self.status.update(text)
        self.status.set_class(session.state is State.REVIEWING, "-reviewing")

    def _show_labels(self) -> None:
        marks = []
        standing = self.answer_labels or self.earlier_labels
        for i in range(len(self.labels)):
            mark = []
            if i in standing:
                mark.append("answer")
            if i in self.toggled:
                mark.append("toggled")
            marks.append("+".join(mark))
        self.label_list.update_rows(self.session.label_counts, marks, self.session.journal.answered)

    def _show_progress(self) -> Progress:
        progress = self.session.progress()
        total = "counting…" if progress.total is None else f"{progress.total:,}"
        parts = [f"{progress.done:,}/{total}"]
        if progress.declined:
            parts.append(f"{progress.declined:,} declined")
        if progress.per_hour:
            parts.append(f"{progress.per_hour:,.0f}/h")
            if progress.eta_seconds is not None:
                parts.append("ETA " + duration(progress.eta_seconds))
        total_n = None if progress.total is None else max(progress.total, 1)
        self.progress_row.show(progress.done, total_n, " · ".join(parts))
        self.team_progress = self.session.team.progress if self.session.team is not None else None
        return progress

    def _tick(self) -> None:
        """Team job, every second: the task timer (warning-coloured in its last 20%); at the
        limit the task goes back to the pool and the next one shows. Notes from the lease
        store (a late answer, S3 offline) and the team's progress show as they come."""
        assert self.task_timer is not None
        session = self.session
        used_limit = session.task_time() if session.state is not State.DONE else None
        if used_limit is None:
            self.task_timer.update("")
        else:
            used, limit = used_limit
            if used >= limit:
                self._do(session.expire_current)
                return
            self.task_timer.update(f"task time {duration(int(used))} of {duration(limit)}")
            self.task_timer.set_class(used >= 0.8 * limit, "-warning")
        if session.team is not None and session.team.progress != self.team_progress:
            self._show_progress()  # records closed by the team (read every few seconds) changed
        self._show_messages()

    def _show_messages(self) -> None:
        messages = self.session.messages
        if len(messages) > self.messages_seen:
            new = messages[self.messages_seen :]
            self.messages_seen = len(messages)
            text = new[-1] if len(new) == 1 else f"{new[-1]}  (+{len(new) - 1} more notes)"
            self.say(text)

    def say(self, text: str, error: bool = False) -> None:
        """One line under the progress bar (an error in the error colour)."""
        self.message_text = text
        self.message.update(Text(one_line(text)))
        self.message.set_class(error, "-error")

    def _show_details(self) -> None:
        """The record's other fields, built only while the details pane is open."""
        record = self.session.current
        if record is None or not self.details_scroll.display:
            return
        details = {k: v for k, v in record.data.items() if k not in ("source", "source-ref")}
        self.details.update(record_text("\n".join(f"{k}: {v}" for k, v in details.items()) or "(no other fields)"))

    def _show_earlier(self, record: Record) -> None:
        """The earlier label on its own row; an adjustment starts from it (multi-label: toggled)."""
        assert self.earlier_line is not None
        self.comment = ""
        start = chained.earlier_answer(self.spec, record.data)
        # Boxes start in the box editor (BoxScreen); labels are preselected here.
        self.earlier_labels = set(start) if isinstance(start, list) else {start} if isinstance(start, int) else set()
        if self.task_type.multi and not self.answer_labels:
            self.toggled = set(self.earlier_labels)
        self._show_earlier_line(record)

    def _show_earlier_line(self, record: Record) -> None:
        assert self.earlier_line is not None
        try:
            earlier = chained.read_earlier(record.data, self.spec.audited)
            names = earlier.summary()
        except chained.EarlierProblem as exc:
            names = str(exc)
        text = Text.assemble(("earlier ", "dim"), (one_line(self.spec.audited), "dim"), ": ", (one_line(names), "bold"))
        if self.spec.adjust and (self.earlier_labels or self.task_type.boxes):
            text.append("  ·  enter keeps it", "dim")
        self.earlier_line.update(text)
        if self.comment_line is not None:
            self.comment_line.display = bool(self.comment)
            self.comment_line.update(Text.assemble(("comment ", "dim"), (one_line(self.comment), "italic")))

    @on(BoxPane.PictureShown)
    def _draw_earlier_boxes(self) -> None:
        """A verification: the earlier boxes over the picture, each in its class's colour with
        its class name (the verification categories have the label colours)."""
        record = self.session.current
        if not self.task_type.verification or record is None or not isinstance(self.image_pane, BoxPane):
            return
        try:
            boxes = BoxAnswer.from_gt(record.data.get(self.spec.audited)).boxes
            names = chained.read_earlier(record.data, self.spec.audited).shown()
        except (ValueError, chained.EarlierProblem):
            boxes, names = (), []
        variables = {**label_variable_defaults(), **self.app.current_theme.variables}
        colour = lambda class_id: int(variables[label_variable(class_id)].lstrip("#")[:6], 16)  # noqa: E731
        self.image_pane.set_overlay(Overlay(boxes=tuple(
            (box, colour(box.class_id), one_line(name)[:12], False) for box, name in zip(boxes, names))))

    def _show_review(self, record: Record) -> None:
        plan = self.session.review
        assert plan is not None and self.review_panel is not None
        if self.task_type.multi and not self.answer_labels:
            suggested = plan.suggested.get(record.index)
            self.toggled = set(suggested) if isinstance(suggested, list) else set()
        self.review_panel.show_record(plan, record.index, self.labels, self.label_app.label_colours)

    def _show_record(self, record: Record) -> None:
        self._show_details()
        if self.image_pane is not None:
            self.move_mode = False
            self.image_pane.request(record.source_ref or "")
        elif self.record_text is not None:
            self.record_text.show(record.source if isinstance(record.source, str) else "")

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
            self._do(lambda: self.session.answer(index, feedback=self.comment))

    def action_pick(self, n: int) -> None:
        self.pick_label(self.page * 10 + n)
        self.page = 0

    def action_page(self, page: int) -> None:
        self.page = page

    def action_cancel(self) -> None:
        """Esc: drop a pending prefix or move mode; else leave review mode."""
        if self.page or self.move_mode:
            self.page = 0
            self.move_mode = False
        else:
            self._do(self.session.leave_review)

    def action_submit(self) -> None:
        if self.session.review is not None and not self.task_type.multi:  # review hook 4/4
            self._do(self.session.accept)
            return
        if self.spec.adjust and not self.task_type.multi:  # chained hook 3/4: enter keeps the earlier label
            if not self.earlier_labels:
                self.say("no earlier label to keep here: pick one (number keys), or x declines", error=True)
                return
            self._do(lambda: self.session.answer(min(self.earlier_labels)))
            return
        if not self.toggled:
            self.say("pick at least one label (number keys toggle), then enter; x declines, space skips", error=True)
            return
        self._do(lambda: self.session.answer(sorted(self.toggled)))

    def action_skip(self) -> None:
        record, reviewing = self.session.current, self.session.state is State.REVIEWING
        self._do(self.session.skip)
        now = self.session.current
        if record is None or reviewing or self.message_text or now is None:
            return
        if now.index == record.index:
            self.say(f"record {record.lineno:,} is the only one left without an answer: label it, or x declines it")
        else:
            self.say(f"skipped record {record.lineno:,}: it comes back after the others")

    def action_comment(self) -> None:
        """Chained hook 4/4: a verification comment, sent with the next pick on this record."""
        from tuilabel.ui.screens.comment import CommentScreen

        record = self.session.current

        def done(comment: str | None) -> None:
            if comment is None or self.session.current is not record or record is None:
                return
            self.comment = comment
            self._show_earlier_line(record)

        self.app.push_screen(CommentScreen(self.comment), done)

    def action_decline(self) -> None:
        record = self.session.current
        self._do(self.session.decline)
        if record is not None and not self.message_text:
            self.say(f"declined record {record.lineno:,} (bad data); u undoes")

    def action_release(self) -> None:
        record = self.session.current
        self._do(self.session.release)
        if record is not None and not self.message_text:
            self.say(f"released record {record.lineno:,}: it went back to the pool")

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

    def action_jump(self, number: int) -> None:
        """Show record `number` (1-based), with its answer if it has one."""
        self._do(lambda: self.session.jump(number - 1))

    def action_details(self) -> None:
        self.details_scroll.display = not self.details_scroll.display
        self._show_details()

    def action_filter(self) -> None:
        from tuilabel.ui.screens.label_filter import LabelFilterScreen

        def picked(index: int | None) -> None:
            if index is not None:
                self.pick_label(index)

        self.app.push_screen(LabelFilterScreen(self.labels, self.label_app.label_keys), picked)

    def action_zoom_in(self) -> None:
        if self.image_pane is not None:
            self.image_pane.view.zoom_in()

    def action_zoom_out(self) -> None:
        if self.image_pane is not None:
            self.image_pane.view.zoom_out()

    def action_fit(self) -> None:
        if self.image_pane is not None:
            self.image_pane.view.fit()

    def action_move_mode(self) -> None:
        if self.image_pane is None:
            return
        self.move_mode = not self.move_mode
        if self.move_mode and self.image_pane.view.zoom <= 1.0:
            self.image_pane.view.zoom_in()

    def action_pan(self, dx: int, dy: int) -> None:
        if self.image_pane is not None:
            self.image_pane.view.pan(dx, dy)
        elif self.record_text is not None:
            self.record_text.scroll_lines(dy)

    def action_scroll_text(self, where: str) -> None:
        text = self.record_text
        if text is None:
            return
        if where == "home":
            text.scroll_text_home()
        elif where == "end":
            text.scroll_text_end()
        else:
            text.scroll_page(1 if where == "page-down" else -1)

    def action_help(self) -> None:
        self.label_app.action_show_keys_help()

    def action_instructions(self) -> None:
        self.label_app.show_instructions()

    def action_stats(self) -> None:
        self.label_app.show_stats()

    def action_stop(self) -> None:
        self.app.exit()

    @on(LabelList.Picked)
    def _clicked(self, event: LabelList.Picked) -> None:
        self.pick_label(event.index)
