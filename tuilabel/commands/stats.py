"""`tuilabel stats MANIFEST|JOB`: label distribution, confidence, boxes, and (for a job
folder) labeling speed and workers; agreement and worker quality for a job with several
workers (a GT folder with worker responses, or a tuilabel job with 2+ workers)."""

from __future__ import annotations

import argparse
import sys


def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "stats",
        help="label counts, confidence and speed of a GT output manifest or a job folder",
        description=(
            "Statistics of a Ground Truth output manifest (any task type; chained jobs give "
            "one section per label attribute) or a tuilabel job folder (adds labels per hour, "
            "seconds per record and per-worker counts from the journals)."
        ),
    )
    parser.add_argument("source", metavar="MANIFEST|JOB", help="output manifest (path or s3://) or job folder")
    parser.add_argument("--json", action="store_true", help="print the stats as JSON")
    parser.add_argument("--limit", type=int, default=30, metavar="N", help="classes shown per chart (default 30, 0 = all)")
    parser.set_defaults(run=run)
    return parser


def run(args: argparse.Namespace) -> int:
    import orjson

    from tuilabel.core.data.sources import local_path
    from tuilabel.core.quality.stats import compute

    source = local_path(args.source)
    stats, agreement = _with_agreement(source)
    if stats is None and agreement is None:
        stats = compute(source)
    if args.json:
        out = stats.to_json() if stats is not None else {"source": source}
        if agreement is not None:
            out["agreement"] = agreement.to_json()
        sys.stdout.buffer.write(orjson.dumps(out, option=orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE))
        return 0
    from rich.console import Console

    console = Console()
    if stats is not None:
        render(stats, console, args.limit)
    if agreement is not None:
        from tuilabel.commands.agreement_report import render_agreement

        render_agreement(agreement, console, args.limit)
    return 0


def _with_agreement(source: str):
    """A GT job folder (worker responses) or a tuilabel job with 2+ workers: (stats or None,
    agreement or None); (None, None) for anything else. A GT folder's stats are those of its
    output manifest. Answers that cannot be read are a note, and the stats go on."""
    from pathlib import Path

    from tuilabel.core.errors import UserError
    from tuilabel.core.quality.agreement import job_agreement, several_workers
    from tuilabel.core.quality.stats import compute

    path = Path(source).expanduser()
    if "://" in source or not path.is_dir() or not several_workers(path):
        return None, None
    tuilabel_job = (path / "tuilabel" / "job.json").is_file()
    try:
        inp, agreement = job_agreement(path)
    except UserError as exc:
        if not tuilabel_job:
            raise
        print(f"note: no agreement figures: {exc}", file=sys.stderr)
        return compute(source), None
    # A tuilabel job's stats come from its journals, a GT folder's from its output manifest
    # (without one, the agreement alone).
    stats = None
    if tuilabel_job or inp.manifest_path is not None:
        stats = compute(source if tuilabel_job else str(inp.manifest_path))
        stats.labels = stats.labels or list(inp.spec.labels)
    for problem in inp.problems[:5]:
        print(f"note: {problem}", file=sys.stderr)
    if len(inp.problems) > 5:
        print(f"note: … and {len(inp.problems) - 5} more problems in the worker answers", file=sys.stderr)
    return stats, agreement


def render(stats, console, limit: int = 30) -> None:
    from rich.table import Table
    from rich.text import Text

    from tuilabel.core.quality.stats import CONFIDENCE_BINS
    from tuilabel.ui.format import bar, duration

    head = Text()
    head.append(stats.source, style="bold")
    what = "records answered" if stats.kind == "job" else "lines"
    head.append(f"  ({stats.kind}: {stats.lines:,} {what}")
    if stats.invalid_lines:
        head.append(f", {stats.invalid_lines:,} not JSON objects", style="red")
    head.append(")")
    console.print(head)
    if not stats.attributes:
        console.print("no label attributes (no `X` with an `X-metadata` holding `type`): an input manifest?")

    for st in stats.attributes:
        console.print()
        title = Text()
        title.append(st.name, style="bold cyan")
        title.append(f"  {st.task_type}")
        console.print(title)
        line = f"  records {st.records:,}   labeled {st.labeled:,}   failed {st.failed:,}"
        if st.boxes:
            images = sum(st.boxes_per_image.values())
            line += f"   boxes {st.boxes:,} ({st.boxes / images:.2f} per image)" if images else ""
        if st.adjustment:
            line += "   " + "  ".join(f"{k} {v:,}" for k, v in sorted(st.adjustment.items()))
        console.print(line)
        for reason, n in sorted(st.failure_reasons.items(), key=lambda kv: -kv[1])[:5]:
            console.print(Text(f"  failed {n:,}× : {reason}", style="yellow"))

        if st.classes:
            unit = {
                "object-detection": "boxes",
                "text-span": "entities",
                "semantic-segmentation": "records listing it",
            }.get(st.kind, "records")
            table = Table(title=f"  label distribution ({unit})", title_justify="left", show_edge=False, box=None)
            table.add_column("class", style="bold")
            table.add_column("count", justify="right")
            table.add_column("%", justify="right")
            table.add_column("")
            items = sorted(st.classes.items(), key=lambda kv: (-kv[1], kv[0]))
            total = sum(st.classes.values()) or 1
            top = items[0][1]
            shown = items[:limit] if limit else items
            for name, n in shown:
                table.add_row(Text(name), f"{n:,}", f"{100 * n / total:.1f}", Text(bar(n / (top or 1), 30), style="cyan"))
            console.print(table)
            if len(shown) < len(items):
                console.print(f"  … and {len(items) - len(shown)} more classes")

        if st.verified_by_label:
            render_verdicts(st, stats.labels, console, limit)

        if st.confidence_values:
            table = Table(title="  confidence", title_justify="left", show_edge=False, box=None)
            table.add_column("range")
            table.add_column("count", justify="right")
            table.add_column("")
            top = max(st.confidence)
            for i, n in enumerate(st.confidence):
                lo, hi = i / CONFIDENCE_BINS, (i + 1) / CONFIDENCE_BINS
                label = f"{lo:.1f}–{hi:.1f}"
                table.add_row(label, f"{n:,}", Text(bar(n / (top or 1), 30), style="magenta"))
            console.print(table)

        if st.boxes_per_image:
            table = Table(title="  boxes per image", title_justify="left", show_edge=False, box=None)
            table.add_column("boxes", justify="right")
            table.add_column("images", justify="right")
            table.add_column("")
            top = max(st.boxes_per_image.values())
            rows = sorted(st.boxes_per_image.items())
            for k, n in rows[:limit] if limit else rows:
                table.add_row(str(k), f"{n:,}", Text(bar(n / (top or 1), 30), style="green"))
            console.print(table)

    t = stats.timing
    if t is not None:
        console.print()
        console.print(Text("labeling", style="bold cyan"))
        console.print(
            f"  answers {t.answers:,} (declined {t.declined:,}; {t.submissions:,} journal submissions, relabels included)"
        )
        if t.first:
            console.print(f"  from {t.first} to {t.last}  ({duration(t.span_seconds)})")
        median = f"{t.median_seconds:.1f} s" if t.median_seconds is not None else "—"
        console.print(
            f"  {t.labels_per_hour:,.1f} labels per hour   median {median} per record   "
            f"time spent {duration(t.total_seconds)}"
        )
        if t.workers:
            table = Table(title="  workers", title_justify="left", show_edge=False, box=None)
            table.add_column("worker")
            table.add_column("answers", justify="right")
            table.add_column("")
            top = max(t.workers.values())
            for name, n in t.workers.items():
                table.add_row(Text(name), f"{n:,}", Text(bar(n / (top or 1), 30), style="cyan"))
            console.print(table)


def render_verdicts(st, categories: list[str], console, limit: int = 30) -> None:
    """A verification attribute: the share of each verdict per class of the audited label and
    per worker who gave it, the most often judged incorrect first. `categories`: the job's
    verification categories in their order, when known (else as found)."""
    from rich.table import Table
    from rich.text import Text

    verdicts = list(categories) or list(st.classes)
    worst = next((v for v in verdicts if v.lower() == "incorrect"), None)

    def table(title: str, first: str, rows: dict[str, dict[str, int]]) -> None:
        out = Table(title=title, title_justify="left", show_edge=False, box=None)
        out.add_column(first, style="bold")
        out.add_column("judged", justify="right")
        for verdict in verdicts:
            out.add_column(f"{verdict} %", justify="right", style="red" if verdict == worst else None)

        def share(counts: dict[str, int], verdict: str | None) -> float:
            return (counts.get(verdict, 0) / sum(counts.values())) if verdict and counts else 0.0

        items = sorted(rows.items(), key=lambda kv: (-share(kv[1], worst), -sum(kv[1].values()), kv[0]))
        for name, counts in items[:limit] if limit else items:
            out.add_row(Text(name), f"{sum(counts.values()):,}", *(f"{100 * share(counts, v):.1f}" for v in verdicts))
        console.print(out)
        if limit and len(items) > limit:
            console.print(f"  … and {len(items) - limit} more")

    table(f"  verdicts by earlier label ({st.audited})", "earlier label", st.verified_by_label)
    table("  verdicts by earlier worker (unknown: none in its metadata)", "earlier worker", st.verified_by_worker)
