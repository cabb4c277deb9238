"""`tuilabel check SOURCE`: report invalid lines, missing and unreadable data, duplicates,
near-duplicates and label balance; optionally write a clean manifest."""

from __future__ import annotations

import argparse

from tuilabel.core.errors import UserError


def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "check",
        help="find invalid lines, missing/unreadable data, duplicates and label imbalance",
        description=(
            "Check SOURCE — a manifest, a folder, an s3:// prefix or a tuilabel job folder — "
            "before labeling: invalid lines, missing and unreadable data, data over Ground "
            "Truth's limits, exact and near duplicates, and (for labeled data) class balance. "
            "Exit status: 0 clean, 1 problems found, 2 usage error."
        ),
    )
    parser.add_argument("source", metavar="SOURCE", help="manifest, folder, s3:// prefix or job folder")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument(
        "--write-clean",
        metavar="FILE",
        help="write a manifest without the invalid, missing, unreadable, over-limit and "
        "duplicate records (the first of each duplicate group stays); the input is never changed",
    )
    parser.add_argument(
        "--drop-near",
        action="store_true",
        help="with --write-clean, also leave out near-duplicates (all but the first of each group)",
    )
    parser.add_argument("--min-count", type=int, default=10, metavar="N", help="warn about classes with fewer samples (default 10)")
    parser.add_argument(
        "--max-ratio",
        type=float,
        default=10.0,
        metavar="R",
        help="warn when the largest class is R times the smallest or more (default 10)",
    )
    parser.add_argument(
        "--image-distance",
        type=int,
        default=4,
        metavar="K",
        help="near-duplicate images: dHash Hamming distance up to K of 64 bits (default 4, max 16)",
    )
    parser.add_argument(
        "--text-similarity",
        type=float,
        default=0.8,
        metavar="J",
        help="near-duplicate texts: word-bigram Jaccard similarity at least J (default 0.8)",
    )
    parser.add_argument("--jobs", type=int, default=None, metavar="N", help="image decoding threads, 1..64 (default 2 x CPUs, at most 16)")
    parser.add_argument("--limit", type=int, default=20, metavar="N", help="rows per table in the report (default 20, 0 = all)")
    parser.add_argument("--strict", action="store_true", help="exit 1 on warnings (near-duplicates, imbalance) too")
    parser.set_defaults(run=run)
    return parser


def _validate(args: argparse.Namespace) -> None:
    if not 0 <= args.image_distance <= 16:
        raise UserError(f"--image-distance must be 0..16, got {args.image_distance}")
    if not 0 < args.text_similarity <= 1:
        raise UserError(f"--text-similarity must be in (0, 1], got {args.text_similarity}")
    if args.min_count < 0:
        raise UserError("--min-count must be 0 or more")
    if args.max_ratio <= 1:
        raise UserError("--max-ratio must be more than 1")
    if args.jobs is not None and not 1 <= args.jobs <= 64:
        raise UserError("--jobs must be 1..64")
    if args.drop_near and not args.write_clean:
        raise UserError("--drop-near needs --write-clean FILE")


def run(args: argparse.Namespace) -> int:
    import sys

    import orjson
    from rich.console import Console

    from tuilabel.core.data.sources import local_path
    from tuilabel.core.quality.check import check

    _validate(args)
    args.source = local_path(args.source)
    err = Console(stderr=True)
    kwargs = dict(
        image_distance=args.image_distance,
        text_similarity=args.text_similarity,
        min_count=args.min_count,
        max_ratio=args.max_ratio,
        workers=args.jobs,
        write_clean=args.write_clean,
        drop_near=args.drop_near,
    )
    if not err.is_terminal:
        report = check(args.source, **kwargs)
    else:
        from rich.progress import BarColumn, DownloadColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        with Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TimeElapsedColumn(),
            console=err,
            transient=True,
        ) as bar:
            task = bar.add_task(f"listing {args.source}", total=None)

            def progress(phase: str, done: int, total: int | None) -> None:
                if phase == "records":
                    bar.update(task, description=f"checking {args.source}", completed=done, total=total)
                else:
                    bar.update(task, description=f"listing {args.source}", completed=0, total=None)

            report = check(args.source, progress=progress, **kwargs)

    if args.json:
        sys.stdout.buffer.write(orjson.dumps(report.to_json(), option=orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE))
    else:
        render(report, Console(), args.limit)
    if report.errors or (args.strict and report.warnings):
        return 1
    return 0


# --- rendering ----------------------------------------------------------------------------


def _short(text: str | None, width: int = 60) -> str:
    if text is None:
        return ""
    return text if len(text) <= width else "…" + text[-(width - 1) :]


def render(report, console, limit: int = 20) -> None:
    from rich.table import Table
    from rich.text import Text

    from tuilabel.core.quality.check import ERROR_CATEGORIES, WARNING_CATEGORIES

    counts = report.counts()
    where = "file" if report.kind in ("folder", "s3-prefix") else "line"
    head = Text()
    head.append(f"{report.source}", style="bold")
    head.append(
        f"  ({report.kind}: {report.records:,} records — {report.images:,} images, "
        f"{report.texts:,} texts — in {report.seconds:.1f} s)"
    )
    console.print(head)

    summary = Table(title="Summary", title_justify="left", show_edge=False)
    summary.add_column("check")
    summary.add_column("found", justify="right")
    summary.add_column("")
    for cat in ERROR_CATEGORIES + WARNING_CATEGORIES:
        n = counts[cat]
        level = "error" if cat in ERROR_CATEGORIES else "warning"
        mark = Text("ok", style="green") if n == 0 else Text(level, style="red" if level == "error" else "yellow")
        summary.add_row(cat, f"{n:,}", mark)
    console.print(summary)

    def cut(rows: list) -> tuple[list, int]:
        if limit and len(rows) > limit:
            return rows[:limit], len(rows) - limit
        return rows, 0

    problems = [f for f in report.findings if f.category != "duplicate"]
    if problems:
        table = Table(title="Problems", title_justify="left", show_edge=False)
        table.add_column("line", justify="right")
        table.add_column("category")
        if where == "file" or any(f.ref for f in problems):
            table.add_column("source-ref")
        table.add_column("reason", overflow="fold")
        rows, more = cut(problems)
        show_ref = len(table.columns) == 4
        for f in rows:
            cells = [str(f.line), f.category] + ([Text(_short(f.ref))] if show_ref else []) + [Text(f.reason)]
            table.add_row(*cells)
        console.print(table)
        if more:
            console.print(f"  … and {more:,} more (--limit 0 shows all, --json lists all)")

    for title, groups in (("Exact duplicates", report.duplicates), ("Near-duplicates", report.near_duplicates)):
        if not groups:
            continue
        table = Table(title=title, title_justify="left", show_edge=False)
        table.add_column("kind")
        table.add_column("lines (first is kept)", overflow="fold")
        table.add_column("example", overflow="fold")
        rows, more = cut(groups)
        for g in rows:
            lines = ", ".join(map(str, g.lines[:12])) + (f", … ({len(g.lines)} in all)" if len(g.lines) > 12 else "")
            example = " = ".join(_short(r, 30) for r in g.refs[:2] if r) or g.detail
            table.add_row(g.kind, lines, Text(example))
        console.print(table)
        details = sorted({g.detail for g in groups})
        console.print(Text("  " + "; ".join(details), style="dim"))
        if more:
            console.print(f"  … and {more:,} more groups")

    for bal in report.balance:
        table = Table(
            title=f"Balance of {bal.attribute} ({bal.task_type.rpartition('/')[2]})",
            title_justify="left",
            show_edge=False,
        )
        table.add_column("class")
        table.add_column("count", justify="right")
        table.add_column("", min_width=20)
        top = max(bal.classes.values()) or 1
        rows, more = cut(list(bal.classes.items()))
        for name, n in rows:
            style = "yellow" if name in bal.few else "cyan"
            table.add_row(Text(name), f"{n:,}", Text("█" * max(1 if n else 0, round(30 * n / top)), style=style))
        console.print(table)
        if more:
            console.print(f"  … and {more:,} more classes")
        ratio = "∞ (a class has no samples)" if bal.ratio is None else f"{bal.ratio:g}"
        line = Text(f"  largest/smallest: {ratio}")
        if bal.biased:
            line.append("  biased", style="yellow")
        if bal.few:
            line.append(f"  {len(bal.few)} class(es) under {bal.min_count} samples", style="yellow")
        console.print(line)

    verdict = Text()
    if report.errors:
        verdict.append(f"{report.errors:,} error(s)", style="bold red")
    else:
        verdict.append("no errors", style="bold green")
    verdict.append(f", {report.warnings:,} warning(s)")
    if report.clean_written:
        verdict.append(f"; wrote {report.clean_lines:,} clean lines to {report.clean_written}")
    console.print(verdict)
