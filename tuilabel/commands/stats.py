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

    from tuilabel.core.quality.stats import compute

    stats, agreement = _with_agreement(args.source)
    if stats is None and agreement is None:
        stats = compute(args.source)
    if args.json:
        out = stats.to_json() if stats is not None else {"source": args.source}
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
    agreement). A GT folder's stats are those of its output manifest."""
    from pathlib import Path

    from tuilabel.core.gt.job_answers import gt_output_manifest, is_multi_worker_folder

    path = Path(source).expanduser()
    if "://" in source or not path.is_dir() or not is_multi_worker_folder(path):
        return None, None
    from tuilabel.core.errors import UserError
    from tuilabel.core.quality.agreement import job_agreement
    from tuilabel.core.quality.stats import compute

    job, agreement = job_agreement(path)
    # A tuilabel job's stats come from its journals, a GT folder's from its output manifest.
    output = path if (path / "tuilabel" / "job.json").is_file() else gt_output_manifest(path)
    stats = compute(output) if output is not None else None
    if stats is None and agreement is None:
        raise UserError(f"{path}: no output manifest and no single-label answers to count")
    if stats is not None:
        stats.labels = stats.labels or job.labels
    for problem in job.problems[:5]:
        print(f"note: {problem}", file=sys.stderr)
    if len(job.problems) > 5:
        print(f"note: … and {len(job.problems) - 5} more problems in the worker responses", file=sys.stderr)
    return stats, agreement


def _bar(n: int, top: int, width: int = 30) -> str:
    if not n or not top:
        return ""
    cells = n * width / top
    full = int(cells)
    eighths = int((cells - full) * 8)
    return "█" * full + ("▏▎▍▌▋▊▉"[eighths - 1] if eighths else "") or "▏"


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}h {m:02d}m {s:02d}s" if h else f"{m}m {s:02d}s"


def render(stats, console, limit: int = 30) -> None:
    from rich.table import Table
    from rich.text import Text

    from tuilabel.core.quality.stats import CONFIDENCE_BINS

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
                table.add_row(Text(name), f"{n:,}", f"{100 * n / total:.1f}", Text(_bar(n, top), style="cyan"))
            console.print(table)
            if len(shown) < len(items):
                console.print(f"  … and {len(items) - len(shown)} more classes")

        if st.confidence_values:
            table = Table(title="  confidence", title_justify="left", show_edge=False, box=None)
            table.add_column("range")
            table.add_column("count", justify="right")
            table.add_column("")
            top = max(st.confidence)
            for i, n in enumerate(st.confidence):
                lo, hi = i / CONFIDENCE_BINS, (i + 1) / CONFIDENCE_BINS
                label = f"{lo:.1f}–{hi:.1f}"
                table.add_row(label, f"{n:,}", Text(_bar(n, top), style="magenta"))
            console.print(table)

        if st.boxes_per_image:
            table = Table(title="  boxes per image", title_justify="left", show_edge=False, box=None)
            table.add_column("boxes", justify="right")
            table.add_column("images", justify="right")
            table.add_column("")
            top = max(st.boxes_per_image.values())
            rows = sorted(st.boxes_per_image.items())
            for k, n in rows[:limit] if limit else rows:
                table.add_row(str(k), f"{n:,}", Text(_bar(n, top), style="green"))
            console.print(table)

    t = stats.timing
    if t is not None:
        console.print()
        console.print(Text("labeling", style="bold cyan"))
        console.print(
            f"  answers {t.answers:,} (declined {t.declined:,}; {t.submissions:,} journal submissions, relabels included)"
        )
        if t.first:
            console.print(f"  from {t.first} to {t.last}  ({_duration(t.span_seconds)})")
        median = f"{t.median_seconds:.1f} s" if t.median_seconds is not None else "—"
        console.print(
            f"  {t.labels_per_hour:,.1f} labels per hour   median {median} per record   "
            f"time spent {_duration(t.total_seconds)}"
        )
        if t.workers:
            table = Table(title="  workers", title_justify="left", show_edge=False, box=None)
            table.add_column("worker")
            table.add_column("answers", justify="right")
            table.add_column("")
            top = max(t.workers.values())
            for name, n in t.workers.items():
                table.add_row(Text(name), f"{n:,}", Text(_bar(n, top), style="cyan"))
            console.print(table)
