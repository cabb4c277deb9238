"""The labeling app: themes, dialogs and the end of the job around one `LabelScreen`.

    session = Session(spec, folder, manifest).open()
    make_app(session, theme=..., keymap=...).run()
    session.close()

Every binding has an id for `set_keymap` (see `ui/keys.py`).
"""

from __future__ import annotations

import time
from typing import Callable

from textual.actions import parse as parse_action
from textual.app import App
from textual.screen import Screen
from textual.theme import BUILTIN_THEMES, Theme

from tuilabel.core.errors import UserError
from tuilabel.core.session import Session, State
from tuilabel.core.locations import config_file
from tuilabel.core.user_config import GRAPHICS_MODES
from tuilabel.ui.commands import JobCommands
from tuilabel.ui.graphics import resolve_graphics
from tuilabel.ui.keys import VIEW_KEYS, label_binding_id, label_keys, validate_keymap
from tuilabel.ui.safe_text import visible
from tuilabel.ui.screens.label import LabelScreen
from tuilabel.ui.themes import DEFAULT_THEME, label_variable, label_variable_defaults, load_themes



class LabelApp(App):
    CSS_PATH = "app.tcss"
    TITLE = "tuilabel"
    ENABLE_COMMAND_PALETTE = True
    COMMANDS = App.COMMANDS | {JobCommands}

    def __init__(self, session: Session, *, theme: str | None = None, graphics: str = "auto",
                 keymap: dict[str, str] | None = None, first_start: bool = False,
                 clock: Callable[[], float] = time.monotonic,
                 upload_status: Callable[[], str | None] | None = None) -> None:
        # The theme is in place before App.__init__ builds the stylesheet, so the CSS is parsed
        # once with its colours (setting it afterwards re-parsed all of it: ~6 ms of start-up).
        themes, self.theme_problems = load_themes()
        self._themes = {t.name: t for t in themes}
        wanted = theme or DEFAULT_THEME
        if wanted not in self._themes and wanted not in BUILTIN_THEMES:
            self.theme_problems.append(f"unknown theme {wanted!r}; using {DEFAULT_THEME}")
            wanted = DEFAULT_THEME
        self.set_reactive(App.theme, wanted)
        super().__init__()
        for t in themes:
            self.register_theme(t)
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
        if self.keymap:
            self.set_keymap(self.keymap)
        self.label_keys = label_keys(len(session.spec.labels), self.keymap)
        if session.spec.task_type.boxes:
            from tuilabel.ui.screens.boxes import BoxScreen

            self.label_screen: LabelScreen = BoxScreen(session)
        else:
            self.label_screen = LabelScreen(session)

    # -- theme ---------------------------------------------------------------------------------

    def get_theme(self, theme_name: str) -> Theme | None:
        # Ours are known before App.__init__ registers anything (see __init__).
        return self._themes.get(theme_name) or super().get_theme(theme_name)

    def get_theme_variable_defaults(self) -> dict[str, str]:
        return label_variable_defaults()

    @property
    def label_colours(self) -> list[str]:
        """One colour per label from the current theme ($label-1 …)."""
        variables = {**label_variable_defaults(), **self.current_theme.variables}
        return [variables[label_variable(i)] for i in range(len(self.session.spec.labels))]

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

    def on_ready(self) -> None:
        # The first frame is on screen: start the line index and the input hash now, not while
        # they would share the GIL with start-up (about 0.1 s of a 1M-line manifest's first
        # paint, measured).
        self.session.start_background()

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
        if self.session.team is not None:
            # A team job has nothing left for this worker now (the rest is done or out with
            # other workers): back to where they came from (the portal, or the shell).
            self.session.finish()
            self.exit()
            return
        from tuilabel.ui.screens.summary import SummaryScreen

        session = self.session
        try:
            output = session.finish()
            message = ""
        except UserError as exc:
            output = session.folder.output_manifest
            message = str(exc)
        progress = session.progress()
        report = session.folder.bad_lines_report
        screen = SummaryScreen(
            job=session.spec.name, labels=list(session.spec.labels), colours=self.label_colours,
            counts=list(session.label_counts), progress=progress, output=output,
            bad_lines=report if progress.bad and report.exists() else None, message=message,
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
        view_keys = VIEW_KEYS[self.session.spec.task_type.media]
        rows: dict[str, tuple[list[str], str, bool]] = {}
        bindings = screen._bindings.copy()
        bindings.apply_keymap(self._keymap)  # as Textual does for each key press
        for key, binding in bindings:
            if binding.id is None or binding.id.startswith("label-"):
                continue  # the labels are listed separately
            _, action, params = parse_action(binding.action)
            state = screen.check_action(action, params)
            if state is False and binding.id not in view_keys:
                continue  # not part of this job (zoom in a text job, submit for one label)
            entry = rows.setdefault(binding.id, ([], binding.description, bool(state)))
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

    def ask_jump(self) -> None:
        """The palette's "Jump to record…": ask for the number."""
        from tuilabel.ui.screens.jump import JumpScreen

        def chosen(number: int | None) -> None:
            if number is not None:
                self.jump_to(number)

        manifest = self.session.manifest
        self.push_screen(JumpScreen(manifest.line_count if manifest.index_done else None), chosen)

def make_app(session: Session, *, theme: str | None = None, graphics: str = "auto",
             keymap: dict[str, str] | None = None, first_start: bool = False,
             clock: Callable[[], float] = time.monotonic,
             upload_status: Callable[[], str | None] | None = None) -> LabelApp:
    """The labeling app for an opened session (the caller closes the session after run()).

    `upload_status` (polled every 2 s) returns a line to show while uploads lag, else None."""
    if graphics not in GRAPHICS_MODES:
        raise UserError(f"--graphics must be one of {', '.join(GRAPHICS_MODES)}, not {graphics!r}")
    if keymap:
        validate_keymap(keymap, str(config_file()))
    return LabelApp(session, theme=theme, graphics=graphics, keymap=keymap,
                    first_start=first_start, clock=clock, upload_status=upload_status)
