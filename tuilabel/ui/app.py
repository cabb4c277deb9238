"""The labeling app: themes, dialogs and the end of the job around one `LabelScreen`.

    session = Session(spec, folder, manifest).open()
    make_app(session, theme=..., keymap=...).run()
    session.close()

Every binding has an id for `set_keymap` (see `ui/keys.py`).
"""

from __future__ import annotations

import time
from typing import Callable

from textual.app import App
from textual.screen import Screen

from tuilabel.core.errors import UserError
from tuilabel.core.session import Session, State
from tuilabel.ui.commands import JobCommands
from tuilabel.ui.graphics import resolve_graphics
from tuilabel.ui.keys import label_binding_id, label_keys
from tuilabel.ui.safe_text import visible
from tuilabel.ui.screens.label import LabelScreen
from tuilabel.ui.themes import DEFAULT_THEME, label_variable, label_variable_defaults, load_themes

GRAPHICS = ("auto", "kitty", "sixel", "halfblock")


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
        session.start_clock(clock)
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
        self.label_screen = LabelScreen(session)

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
                self.label_screen.label_list.set_colours(self.label_colours)

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
        screen = SummaryScreen(
            job=session.spec.name, labels=list(session.spec.labels), colours=self.label_colours,
            counts=list(session.label_counts), progress=session.progress(), output=output, message=message,
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
        self.label_screen.action_jump(number)

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
