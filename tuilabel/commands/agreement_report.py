"""Agreement and worker quality (core/quality/agreement.py) as Rich tables with bars, for
`tuilabel stats` on a multi-worker job and for `tuilabel consolidate`:

    from tuilabel.commands.agreement_report import render_agreement
    render_agreement(agreement, Console(), limit=30)
"""

from __future__ import annotations

from tuilabel.ui.format import bar


def _share(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def _share_bar(value: float | None, width: int = 20) -> str:
    """A share (or kappa) of 1.0 fills the bar; none or at most 0 draws nothing."""
    return "" if value is None or value <= 0 else bar(value, width)


def short_worker(name: str, width: int = 22) -> str:
    """GT's worker ids share a long prefix (public.us-east-1.…): keep the end, which differs."""
    return name if len(name) <= width else "…" + name[-(width - 1):]


def render_agreement(report, console, limit: int = 30, title: str = "agreement") -> None:
    """Kappas and alpha, per-label agreement, workers (weakest first) and the weakest pairs."""
    from rich.table import Table
    from rich.text import Text

    console.print()
    head = Text()
    head.append(title, style="bold cyan")
    head.append(f"  {report.answers:,} answers by {report.workers:,} workers on {report.records:,} records "
                f"({report.answers_per_record:.1f} per record)")
    console.print(head)
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column(justify="right", no_wrap=True)
    grid.add_column(style="dim")
    grid.add_row("  Fleiss' kappa", _share(report.fleiss_kappa),
                 f"observed {_share(report.observed_agreement)}, chance {_share(report.chance_agreement)}, "
                 f"{report.records_multi:,} records")
    grid.add_row("  Krippendorff's alpha", _share(report.krippendorff_alpha), "nominal")
    pairs = report.pairwise
    grid.add_row("  Cohen's kappa", _share(report.mean_pair_kappa),
                 f"mean of {len(pairs):,} pairs sharing {report.min_shared}+ records, "
                 f"median {_share(report.median_pair_kappa)}")
    console.print(grid)

    table = Table(title="  per-label agreement",
                  title_justify="left", show_edge=False, box=None)
    table.add_column("label", style="bold", max_width=24, overflow="ellipsis", no_wrap=True)
    table.add_column("answers", justify="right")
    table.add_column("agree", justify="right")
    table.add_column("")
    rows = report.per_label[:limit] if limit else report.per_label
    for row in rows:
        table.add_row(Text(row.label), f"{row.answers:,}", _share(row.agreement),
                      Text(_share_bar(row.agreement), style="cyan"))
    console.print(table)
    if len(rows) < len(report.per_label):
        console.print(f"  … and {len(report.per_label) - len(rows)} more labels")

    workers = report.per_worker
    has = lambda name: any(getattr(q, name) is not None for q in workers)  # noqa: E731
    vs_consolidated = has("with_consolidated")
    basis = "the consolidated label" if vs_consolidated else "the other workers"
    table = Table(title=f"  workers, weakest first (agree: with {basis})", title_justify="left", show_edge=False, box=None)
    table.add_column("worker", no_wrap=True)
    table.add_column("answers", justify="right")
    table.add_column("agree", justify="right")
    table.add_column("", no_wrap=True)
    seconds = lambda v: "—" if v is None else f"{v:.1f}"  # noqa: E731
    columns = [("others", "with_others", _share), ("EM acc", "estimated_accuracy", _share),
               ("kappa", "mean_kappa", _share), ("sec", "median_seconds", seconds), ("gold", "gold_accuracy", _share)]
    columns = [c for c in columns if has(c[1]) and (vs_consolidated or c[1] != "with_others")]
    for name, _, _ in columns:
        table.add_column(name, justify="right")
    shown = workers[:limit] if limit else workers
    for q in shown:
        cells = [fmt(getattr(q, attr)) for _, attr, fmt in columns]
        table.add_row(Text(short_worker(q.worker)), f"{q.answers:,}", _share(q.agreement),
                      Text(_share_bar(q.agreement, 10), style="green"), *cells)
    console.print(table)
    if len(shown) < len(workers):
        console.print(f"  … and {len(workers) - len(shown)} more workers (--limit 0 shows all, --json lists all)")
    console.print(Text("  label agree: of answer pairs on a record with the label, both chose it.\n"
                       "  others: the other answers on their records that match theirs.\n"
                       "  EM acc: the consolidation's estimate. kappa: mean pairwise Cohen's kappa.",
                       style="dim"))

    if pairs:
        table = Table(title="  worker pairs, lowest kappa first", title_justify="left", show_edge=False, box=None)
        table.add_column("worker", no_wrap=True)
        table.add_column("worker", no_wrap=True)
        table.add_column("shared", justify="right")
        table.add_column("agree", justify="right")
        table.add_column("kappa", justify="right")
        table.add_column("", no_wrap=True)
        for p in pairs[: min(limit or len(pairs), 10)]:
            table.add_row(Text(short_worker(p.a)), Text(short_worker(p.b)), f"{p.shared:,}", _share(p.agreement),
                          _share(p.kappa), Text(_share_bar(p.kappa, 10), style="magenta"))
        console.print(table)
