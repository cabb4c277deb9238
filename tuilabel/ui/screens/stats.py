"""`t` (or the palette's "Stats"): the numbers of `tuilabel stats JOB` for the current job.

`tuilabel.core.stats.job_stats` reads the job's journals, so it runs in a thread worker;
the screen says "counting…" until the numbers arrive, and `r` counts again.
"""

from __future__ import annotations

from pathlib import Path

from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Static

from tuilabel.core.errors import UserError
from tuilabel.ui.safe_text import one_line
from tuilabel.ui.format import bar, duration
from tuilabel.ui.team_status import status_view

BAR_WIDTH = 30


class StatsScreen(ModalScreen[None]):
    BINDINGS = [
        Binding("escape,q,t", "close", "Close", id="stats-close"),
        Binding("r", "recount", "Count again", id="stats-recount"),
    ]

    class Ready(Message):
        def __init__(self, stats: object, agreement: object = None, team: object = None) -> None:
            super().__init__()
            self.stats = stats  # Stats, or a one-line str when it could not be computed
            self.agreement = agreement  # Agreement of a job with 2+ workers, else None
            self.team = team  # a team job's JobStatus (`tuilabel status`), else None

    def __init__(self, root: Path, labels: list[str], colours: list[str]) -> None:
        super().__init__(id="stats-screen")
        self.root = root
        self.labels = labels
        self.colours = colours
        self.stats = None

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="stats-body", classes="dialog"):
            yield Static("Job stats  (esc closes, r counts again)", classes="dialog-title")
            yield Static(Text("counting…", style="dim"), id="stats-content")

    def on_mount(self) -> None:
        self.compute()

    @work(thread=True, exclusive=True, exit_on_error=False, group="job-stats")
    def compute(self) -> None:
        from tuilabel.core.quality.stats import job_stats

        agreement = team = None
        try:
            stats: object = job_stats(self.root)
            agreement = _agreement(self.root)  # None unless 2+ workers, single-label
            team = _team_status(self.root)
        except UserError as exc:
            stats = str(exc)
        except OSError as exc:
            stats = f"cannot read the job folder {self.root}: {exc.strerror or exc}"
        self.post_message(self.Ready(stats, agreement, team))

    @on(Ready)
    def _ready(self, event: Ready) -> None:
        self.stats = event.stats
        content = self.query_one("#stats-content", Static)
        if isinstance(event.stats, str):
            content.update(Text(one_line(event.stats), style="bold"))
        else:
            grid = self.render_stats(event.stats)
            if event.team is not None:
                grid.add_row("")
                grid.add_row(Text("Team", style="bold"))
                grid.add_row(status_view(event.team))
            if event.agreement is not None:
                grid.add_row("")
                grid.add_row(render_agreement(event.agreement))
            content.update(grid)

    def render_stats(self, stats) -> Table:
        """Label bars, declines, pace and workers as one Rich table (grid)."""
        timing = stats.timing
        attr = stats.attributes[0] if stats.attributes else None
        classes = dict(attr.classes) if attr else {}
        names = list(self.labels) + [n for n in classes if n not in self.labels]
        declined = timing.declined if timing else (attr.failed if attr else 0)
        top = max([*classes.values(), declined, 1])
        total = sum(classes.values()) + declined

        bars = Table(box=None, show_header=False, pad_edge=False)
        bars.add_column(no_wrap=True, max_width=28, overflow="ellipsis")
        bars.add_column(no_wrap=True)
        bars.add_column(justify="right", no_wrap=True)
        bars.add_column(justify="right", no_wrap=True, style="dim")
        for i, name in enumerate(names):
            count = classes.get(name, 0)
            colour = self.colours[i] if i < len(self.colours) else ""
            share = f"{count / total:.0%}" if total else ""
            bars.add_row(Text(one_line(name)), Text(bar(count / top, BAR_WIDTH) or "·", style=colour), f"{count:,}", share)
        bars.add_row(Text("declined", style="italic"), Text(bar(declined / top, BAR_WIDTH) or "·", style="dim"),
                     f"{declined:,}", f"{declined / total:.0%}" if total else "")

        facts = Table(box=None, show_header=False, pad_edge=False)
        facts.add_column(style="bold", no_wrap=True)
        facts.add_column()
        facts.add_row("Records answered", f"{total:,}" + (f"  ({timing.submissions:,} submissions with relabels)" if timing and timing.submissions != total else ""))
        if timing:
            facts.add_row("Labels per hour", f"{timing.labels_per_hour:,.0f}" if timing.labels_per_hour else "—")
            facts.add_row("Median per record", f"{timing.median_seconds:.1f} s" if timing.median_seconds is not None else "—")
            facts.add_row("Time labeling", duration(timing.total_seconds))
            if timing.first and timing.last:
                facts.add_row("First / last answer", f"{timing.first}  …  {timing.last}")
            workers = ", ".join(f"{one_line(w)} {n:,}" for w, n in timing.workers.items()) or "—"
            facts.add_row("Per worker", workers)
        facts.add_row("Job folder", one_line(str(self.root)))

        grid = Table.grid()
        grid.add_column()
        grid.add_row(bars)
        grid.add_row("")
        grid.add_row(facts)
        return grid

    def action_recount(self) -> None:
        self.query_one("#stats-content", Static).update(Text("counting…", style="dim"))
        self.compute()

    def action_close(self) -> None:
        self.dismiss(None)


def _team_status(root: Path):
    """A team job's numbers, as `tuilabel status` shows them; None for a solo job."""
    from tuilabel.core.gt.job import JobFolder
    from tuilabel.core.team.status import job_status

    return job_status(root) if JobFolder(root).load_spec().is_team else None


# -- agreement (a job with several workers) ------------------------------------------------------

AGREEMENT_WORKERS = 8


def _agreement(root: Path):
    """The agreement of a job with 2+ workers; None otherwise, or when its answers cannot be
    read (the stats above still show)."""
    from tuilabel.core.quality.agreement import job_agreement, several_workers

    if not several_workers(root):
        return None
    try:
        return job_agreement(root)[1]
    except UserError:
        return None


def render_agreement(report) -> Table:
    """Kappas, alpha and the weakest workers, as `tuilabel stats` shows them (shorter)."""

    def share(value: float | None) -> str:
        return "—" if value is None else f"{value:.2f}"

    def share_bar(value: float | None) -> str:
        return bar(value, 16) if value else "·"

    facts = Table(box=None, show_header=False, pad_edge=False)
    facts.add_column(style="bold", no_wrap=True)
    facts.add_column(no_wrap=True)
    facts.add_row("Agreement", f"{report.answers:,} answers by {report.workers:,} workers on {report.records:,} records")
    facts.add_row("Fleiss' kappa", share(report.fleiss_kappa))
    facts.add_row("Krippendorff's alpha", share(report.krippendorff_alpha))
    facts.add_row("Cohen's kappa (pairs)", f"{share(report.mean_pair_kappa)}  mean of {len(report.pairwise):,} pairs "
                  f"sharing {report.min_shared}+ records")
    workers = Table(box=None, pad_edge=False, header_style="dim")
    workers.add_column("worker (weakest first)", no_wrap=True, max_width=28, overflow="ellipsis")
    workers.add_column("answers", justify="right")
    workers.add_column("agree", justify="right")
    workers.add_column("", no_wrap=True)
    workers.add_column("sec", justify="right")
    for q in report.per_worker[:AGREEMENT_WORKERS]:
        seconds = "—" if q.median_seconds is None else f"{q.median_seconds:.1f}"
        workers.add_row(Text(one_line(q.worker)), f"{q.answers:,}", share(q.agreement),
                        Text(share_bar(q.agreement), style="green"), seconds)
    grid = Table.grid()
    grid.add_column()
    grid.add_row(facts)
    grid.add_row(workers)
    return grid
