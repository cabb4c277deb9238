"""End of job: counts per label as bars, declines, time spent, pace, where the output is."""

from __future__ import annotations

from pathlib import Path

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Static

from tuilabel.core.session import Progress
from tuilabel.ui.format import bar, duration
from tuilabel.ui.safe_text import one_line

BAR_WIDTH = 30


def shown_path(path: Path) -> Path:
    """Relative to the working directory when it is inside it (shorter, and what was typed)."""
    try:
        return path.relative_to(Path.cwd())
    except ValueError:
        return path


class SummaryScreen(Screen[str]):
    """Dismissed with "quit" or "undo"."""

    BINDINGS = [
        Binding("q,escape,enter", "leave('quit')", "Quit", id="summary-quit"),
        Binding("backspace,u", "leave('undo')", "Undo last answer", id="summary-undo"),
    ]

    def __init__(self, *, job: str, labels: list[str], colours: list[str], counts: list[int],
                 progress: Progress, output: Path, bad_lines: Path | None = None, message: str = "") -> None:
        super().__init__(id="summary-screen")
        self.job = job
        self.labels = labels
        self.colours = colours
        self.counts = counts
        self.progress = progress
        self.output = output
        self.bad_lines = bad_lines  # the report of unusable input lines, when there are any
        self.message = message

    def compose(self) -> ComposeResult:
        table = Table(box=None, show_header=False, pad_edge=False)
        table.add_column(no_wrap=True, max_width=28, overflow="ellipsis")
        table.add_column(no_wrap=True)
        table.add_column(justify="right", no_wrap=True)
        progress = self.progress
        top = max([*self.counts, progress.declined, 1])
        # A narrow window shortens the bars, not the names and counts.
        width = max(6, min(BAR_WIDTH, self.app.size.width - 26))
        for name, colour, count in zip(self.labels, self.colours, self.counts):
            table.add_row(Text(one_line(name)), Text(bar(count / top, width) or "·", style=colour), f"{count:,}")
        table.add_row(Text("declined", style="italic"), Text(bar(progress.declined / top, width) or "·", style="dim"),
                      f"{progress.declined:,}")
        total = sum(self.counts) + progress.declined
        pace = f"{progress.per_hour:,.0f} labels/hour" if progress.per_hour else "—"
        facts = Text.assemble(
            ("Records done: ", "bold"), f"{total:,}",
            ("   Declined: ", "bold"), f"{progress.declined:,}",
            *((("   Unusable lines: ", "bold"), f"{progress.bad:,}") if progress.bad else ()),
            *(("\n", ("Unusable lines listed in: ", "bold"), one_line(str(shown_path(self.bad_lines))))
              if self.bad_lines is not None else ()),
            "\n",
            ("Time this session: ", "bold"), duration(progress.elapsed),
            ("   Pace: ", "bold"), pace,
            "\n",
            ("Output: ", "bold"), one_line(str(shown_path(self.output))),
        )
        with VerticalScroll(id="summary-body"):
            yield Static(Text(f"Job {one_line(self.job)} is done", style="bold"), classes="dialog-title")
            yield Static(table, id="summary-bars")
            yield Static(facts, id="summary-facts")
            if self.message:
                yield Static(Text(one_line(self.message)), id="summary-message")
            yield Static("q quits · u undoes the last answer to change it", classes="dim")
        yield Footer()

    def action_leave(self, what: str) -> None:
        self.dismiss(what)
