"""A job's team numbers (core.team.status.JobStatus) as Rich renderables: `tuilabel status`
prints them, the app's stats screen shows the same (Rich only, no Textual: the CLI uses it)."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text

from tuilabel.ui.format import duration
from tuilabel.ui.safe_text import one_line


def _answers(k: int) -> str:
    return f"{k} answer" + ("" if k == 1 else "s")


def status_facts(st) -> Table:
    facts = Table(box=None, show_header=False, pad_edge=False)
    facts.add_column(style="bold", no_wrap=True)
    facts.add_column()
    records = "?" if st.records is None else f"{st.records:,}"
    left = "?" if st.left is None else f"{st.left:,}"
    if st.team:
        facts.add_row("Records", f"{records} records: {st.complete:,} complete, {st.failed:,} failed, "
                                 f"{sum(st.open_by_answers):,} open, {st.waiting:,} waiting")
        facts.add_row("Open", ", ".join(f"{n:,} with {_answers(k)}" for k, n in enumerate(st.open_by_answers)))
        facts.add_row("Tasks", f"{st.leases_out:,} out")
    else:
        facts.add_row("Records", f"{records} records: {st.complete:,} answered, {st.failed:,} declined, {left} left")
    needed = "?" if st.answers_needed is None else f"{st.answers_needed:,}"
    pace = f"{st.answers_per_hour:,.0f} answers per hour (last hour)" if st.answers_per_hour else "no answers in the last hour"
    facts.add_row("Pace", f"{pace}; {needed} answers needed; ETA {duration(st.eta_seconds)}")
    for note in st.notes:
        facts.add_row("Note", Text(one_line(note), style="yellow"))
    return facts


def workers_table(st) -> Table:
    """One row per worker; releases, expiries and tasks only in a team job (a solo job has no
    tasks to hand back)."""
    table = Table(box=None, pad_edge=False, header_style="dim")
    table.add_column("worker", no_wrap=True, max_width=28, overflow="ellipsis")
    names = ("answers", "declines", "releases", "expiries", "median", "tasks") if st.team else (
        "answers", "declines", "median")
    for name in names:
        table.add_column(name, justify="right", no_wrap=True)
    table.add_column("active", no_wrap=True)
    for worker, w in st.workers.items():
        cells = {"answers": w.answers, "declines": w.declines, "releases": w.releases,
                 "expiries": w.expiries, "tasks": w.leases}
        median = "—" if w.median_seconds is None else f"{w.median_seconds:.1f}s"
        table.add_row(Text(one_line(worker)),
                      *(median if name == "median" else f"{cells[name]:,}" for name in names),
                      Text("yes", style="bold green") if w.active else Text("no", style="dim"))
    return table


def status_view(st) -> Group:
    """The whole `tuilabel status` picture (without the title)."""
    parts = [status_facts(st)]
    if st.workers:
        parts += [Text(""), workers_table(st)]
    return Group(*parts)


def status_title(st) -> Text:
    title = Text()
    title.append(one_line(st.name), style="bold")
    kind = f"team job: {st.workers_per_record} workers per record" if st.team else "solo job"
    title.append(f"  ({st.task}, {kind})")
    return title
