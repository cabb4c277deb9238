"""The worker's portal (`tuilabel work`): the jobs this worker may work on, with their task,
state and records left, and Enter to start working on one.

The app exits with the chosen job folder (or None on quit); the command runs the labeling app
on it and then builds a fresh portal, so the numbers are always read anew. Counting runs in a
thread worker (`core.team.portal.job_card` reads journals and the lease store), one posted
message per job, so the table fills in as jobs are counted.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rich.text import Text
from textual import on, work
from textual.app import App, ComposeResult
from textual.message import Message
from textual.theme import BUILTIN_THEMES
from textual.widgets import DataTable, Footer, Static
from textual.worker import get_current_worker

from tuilabel.core.errors import UserError
from tuilabel.core.gt.tasks import TASK_TYPES
from tuilabel.core.team.portal import AVAILABLE, DONE, EXPIRED, IN_PROGRESS, JobCard, find_jobs, job_cards
from tuilabel.core.locations import config_file
from tuilabel.ui.keys import portal_bindings, validate_keymap
from tuilabel.ui.safe_text import one_line
from tuilabel.ui.themes import DEFAULT_THEME, label_variable_defaults, load_themes

STATE_STYLE = {AVAILABLE: "bold", IN_PROGRESS: "bold $accent", DONE: "$text-muted", EXPIRED: "$text-muted italic"}
COLUMNS = (("Job", 24), ("Task", 31), ("Status", 11), ("Left", 6))


@dataclass
class CardReady(Message):
    """One job counted: its card, None when this worker is not in its team, or a one-line error."""

    folder: Path
    card: JobCard | None
    error: str = ""


@dataclass
class Counted(Message):
    """Every job under the folder has been counted."""

    folders: list[Path]


class PortalApp(App[Path | None]):
    TITLE = "tuilabel"
    CSS_PATH = "app.tcss"  # the dialogs' look (help)
    CSS = """
    #portal-title { height: 1; padding: 0 1; background: $panel; color: $foreground; text-style: bold; }
    #portal-jobs { height: 1fr; }
    #portal-message { height: auto; max-height: 3; padding: 0 1; color: $text-muted; }
    #portal-message.-error { color: $error; }
    """
    BINDINGS = portal_bindings()

    def __init__(self, root: Path | str, worker: str, *, theme: str | None = None,
                 keymap: dict[str, str] | None = None, selected: Path | None = None,
                 message: str = "", refresh_seconds: float | None = 10.0) -> None:
        themes, problems = load_themes()
        self._themes = {t.name: t for t in themes}
        super().__init__()
        for t in themes:
            self.register_theme(t)
        wanted = theme or DEFAULT_THEME
        self.theme = wanted if wanted in self._themes or wanted in BUILTIN_THEMES else DEFAULT_THEME
        self.root = root
        self.worker_id = worker
        self.selected = selected  # the job to put the cursor on (the one just worked on)
        self.message = message or "; ".join(problems)
        self.refresh_seconds = refresh_seconds
        self.cards: dict[Path, JobCard] = {}
        self.errors: list[str] = []
        if keymap:
            self.set_keymap(keymap)

    def get_theme_variable_defaults(self) -> dict[str, str]:
        return label_variable_defaults()

    def compose(self) -> ComposeResult:
        yield Static(Text(f"Jobs for {one_line(self.worker_id)} in {one_line(str(self.root))}"), id="portal-title")
        table: DataTable = DataTable(id="portal-jobs", cursor_type="row", zebra_stripes=False)
        for name, width in COLUMNS:
            # the count is right-aligned, and so is its header
            table.add_column(name.rjust(width) if name == "Left" else name, width=width, key=name.lower())
        yield table
        yield Static(Text(one_line(self.message)) if self.message else Text("looking for jobs…"),
                     id="portal-message", classes="-error" if self.message else "")
        yield Footer()

    def on_mount(self) -> None:
        self.count_jobs()
        if self.refresh_seconds:
            self.set_interval(self.refresh_seconds, self.count_jobs)

    # -- counting ----------------------------------------------------------------------------

    @work(thread=True, exclusive=True, exit_on_error=False, group="portal-count")
    def count_jobs(self) -> None:
        worker = get_current_worker()
        try:
            folders = find_jobs(self.root)
        except UserError as exc:  # e.g. S3 unreachable: say so, keep the rows of the last count
            self.errors.append(str(exc))
            self.post_message(Counted(list(self.cards)))
            return
        for folder, card, error in job_cards(folders, self.worker_id):
            if worker.is_cancelled:
                return
            self.post_message(CardReady(folder, card, error))
        self.post_message(Counted(folders))

    @on(CardReady)
    def _card_ready(self, event: CardReady) -> None:
        table = self.query_one(DataTable)
        key = str(event.folder)
        if event.card is None:
            self.cards.pop(event.folder, None)
            if key in table.rows:
                table.remove_row(key)
            if event.error:
                self.errors.append(event.error)
            return
        card = event.card
        self.cards[event.folder] = card
        task = TASK_TYPES[card.task].description if card.task in TASK_TYPES else card.task
        cells = (Text(one_line(card.name), overflow="ellipsis", no_wrap=True), task,
                 Text(card.state, style=self._style(card.state)),
                 ("?" if card.left is None else f"{card.left:,}").rjust(COLUMNS[-1][1]))
        if key in table.rows:
            for (column, _), cell in zip(COLUMNS, cells):
                table.update_cell(key, column.lower(), cell)
        else:
            table.add_row(*cells, key=key)
        if event.folder == self.selected:
            table.move_cursor(row=table.get_row_index(key))
            self.selected = None  # once: a later count leaves the cursor where the worker put it

    def _style(self, state: str) -> str:
        """A state's style with the theme's colours ($name -> the theme's value)."""
        variables = self.get_css_variables()
        return " ".join(variables.get(part[1:], "") if part.startswith("$") else part
                        for part in STATE_STYLE[state].split())

    @on(Counted)
    def _counted(self, event: Counted) -> None:
        table = self.query_one(DataTable)
        gone = set(self.cards) - set(event.folders)  # removed since the last count
        if gone:
            current = self.chosen()
            for folder in gone:
                del self.cards[folder]
                table.remove_row(str(folder))
            if current is not None and current.folder in self.cards:  # the row, not its index
                table.move_cursor(row=table.get_row_index(str(current.folder)))
        errors, self.errors = self.errors, []
        if errors:
            more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
            self.say(errors[0] + more, error=True)
        elif not self.cards:
            self.say(f"no jobs for {self.worker_id} in {self.root} (job folders hold tuilabel/job.json, "
                     "up to two levels down)")
        elif not self.message:
            start, leave = (self._keymap.get(i, default).split(",")[0] for i, default in
                            (("portal-start", "enter"), ("quit", "q")))
            self.say(f"{start} starts working on the selected job; {leave} quits")

    def say(self, text: str, error: bool = False) -> None:
        message = self.query_one("#portal-message", Static)
        message.update(Text(one_line(text)))
        message.set_class(error, "-error")

    # -- actions -----------------------------------------------------------------------------

    def chosen(self) -> JobCard | None:
        table = self.query_one(DataTable)
        if not table.row_count:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return self.cards.get(Path(key)) if key is not None else None

    @on(DataTable.RowSelected)
    def action_start(self) -> None:
        card = self.chosen()
        if card is None:
            return
        if card.state in (DONE, EXPIRED):
            self.say(f"nothing left for you in {card.name} ({card.state})", error=True)
            return
        self.exit(card.folder)

    def action_refresh(self) -> None:
        self.say("counting…")
        self.count_jobs()

    def action_quit_portal(self) -> None:
        self.exit(None)

    def action_help(self) -> None:
        from tuilabel.ui.screens.help import HelpScreen

        bindings = self._bindings.copy()
        bindings.apply_keymap(self._keymap)  # as Textual does for each key press
        keys: dict[str, list[str]] = {}
        for _, binding in bindings:
            if binding.id is not None:
                keys.setdefault(binding.id, []).append(self.get_key_display(binding))
        rows = [(" ".join(keys.get(b.id or "", [])), b.description, True, b.id or "") for b in portal_bindings()]
        self.push_screen(HelpScreen(rows, []))


def make_portal(root: Path | str, worker: str, **options) -> PortalApp:
    """The portal for `worker` over the jobs under `root` (see PortalApp for the options)."""
    if options.get("keymap"):
        validate_keymap(options["keymap"], str(config_file()))
    return PortalApp(root, worker, **options)
