"""What the reviewer decides on (`tuilabel review`): the consolidated label with its confidence,
where the record stands in the review order, and every worker's answer (who, what, how long).

It is drawn once per record (not per key), from the session's `ReviewPlan`; worker ids and
labels are data, shown through `one_line`, never as markup.
"""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from tuilabel.ui.safe_text import one_line

MAX_WORKER_CHARS = 27  # GT's ids end in 26 characters that tell them apart


def _worker(name: str) -> str:
    # GT's ids share a long prefix (public.us-east-1.…): the end is what tells them apart.
    name = one_line(name)
    return name if len(name) <= MAX_WORKER_CHARS else "…" + name[-(MAX_WORKER_CHARS - 1):]


class ReviewPanel(Static):
    shown: Table | None = None  # what is on screen (tests read it)

    DEFAULT_CSS = """
    ReviewPanel {
        height: auto;
        max-height: 14;
        padding: 0 1;
        border-top: solid $warning 60%;
        overflow-y: auto;
    }
    """

    def show_record(self, plan, index: int, labels: list[str], colours: list[str]) -> None:
        """`plan` is the session's ReviewPlan; `index` the record's line index."""
        self.shown = render_review(plan, index, labels, colours)
        self.update(self.shown)


def render_review(plan, index: int, labels: list[str], colours: list[str]) -> Table:
    def label_text(names: list[str] | tuple[str, ...]) -> Text:
        text = Text()
        for n, name in enumerate(names):
            if n:
                text.append(", ")
            i = labels.index(name) if name in labels else -1
            text.append(one_line(name), style=f"bold {colours[i]}" if 0 <= i < len(colours) else "bold")
        return text

    suggested = plan.suggested.get(index)
    chosen = [] if suggested is None else ([suggested] if isinstance(suggested, int) else list(suggested))
    names = [labels[i] for i in chosen if 0 <= i < len(labels)]
    head = Text()
    if names:
        head.append("consolidated ")
        head.append_text(label_text(names))
        head.append(f"  confidence {plan.confidence.get(index, 0):.2f}")
        hint = "enter accepts, a label key overrides"
    else:
        head.append("no consolidated label", style="bold")
        head.append(" (no answers, or all declined)", style="dim")
        hint = "pick a label, or x declines"
    pos = plan.position(index)
    where = f"review {pos + 1:,} of {len(plan.order):,}" if pos is not None else "not in the review order"
    if plan.below is not None:
        where += f" · under {plan.below:g}"
    hint = f"{where} · {hint}"

    table = Table(box=None, show_header=True, pad_edge=False, header_style="dim", expand=False)
    table.add_column("worker", no_wrap=True)
    table.add_column("answer", no_wrap=True, max_width=40, overflow="ellipsis")
    table.add_column("time", justify="right", no_wrap=True)
    answers = plan.answers.get(index, [])
    for a in answers:
        agrees = set(a.labels) == set(names)
        seconds = "—" if a.seconds is None else f"{a.seconds:.1f} s"
        answer = Text("declined", style="dim italic") if a.declined else label_text(a.labels)
        table.add_row(Text(_worker(a.worker), style="" if agrees else "italic"), answer, seconds)
    if not answers:
        table.add_row(Text("no worker answers for this record", style="dim"), "", "")

    outer = Table.grid()
    outer.add_column()
    outer.add_row(head)
    outer.add_row(Text(hint, style="dim"))
    outer.add_row(table)
    return outer
