"""`tuilabel scan SOURCE`: Ground Truth's automated data setup — write an input manifest
listing the images, or the lines of the .txt files, in a folder or S3 prefix."""

from __future__ import annotations

import argparse


def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "scan",
        help="write an input manifest for a folder or s3:// prefix (GT's automated data setup)",
        description=(
            "Scan SOURCE (a local folder or s3://bucket/prefix) and write "
            "dataset-YYYYMMDDTHHMMSS.manifest beside it, as Ground Truth's automated data "
            "setup does: one {\"source-ref\":...} line per .jpg/.jpeg/.png (--type image), or "
            "one {\"source\":...} line per non-empty line of each .txt (--type text), in key "
            "order. S3 scans write full s3:// URIs; local scans write paths relative to the "
            "manifest's folder, so the two can be moved together. A name already taken "
            "(two scans in one second) moves on to the next second."
        ),
    )
    parser.add_argument("source", metavar="SOURCE", help="a folder or s3://bucket/prefix")
    parser.add_argument(
        "-o",
        "--output",
        metavar="PATH",
        help="where to write the manifest (a file, or a folder for the default name); "
        "default: beside SOURCE",
    )
    parser.add_argument(
        "--type",
        dest="media",
        choices=("image", "text"),
        default="majority",
        help="one data type, as GT takes: images or .txt lines (default: what most files are)",
    )
    parser.add_argument(
        "--recursive",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="look in subfolders / deeper keys (default: yes)",
    )
    parser.set_defaults(run=run)
    return parser


def run(args: argparse.Namespace) -> int:
    import sys

    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn

    from tuilabel.core.data.scan import left_out_text, scan

    err = Console(stderr=True)
    if not err.is_terminal:
        result = scan(args.source, args.output, media=args.media, recursive=args.recursive)
    else:
        with Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            console=err,
            transient=True,
        ) as bar:
            task = bar.add_task(f"scanning {args.source}", total=None)

            def progress(phase: str, done: int, total: int | None) -> None:
                label = f"scanning {args.source}" if phase == "listing" else "reading .txt files"
                bar.update(task, description=label, completed=done, total=total)

            result = scan(args.source, args.output, media=args.media, recursive=args.recursive, progress=progress)

    text = f"{result.text_lines} text line{'s' if result.text_lines != 1 else ''}"
    if result.text_files:
        text += f" from {result.text_files} .txt file{'s' if result.text_files != 1 else ''}"
    images = f"{result.images} image{'s' if result.images != 1 else ''}"
    print(f"wrote {result.manifest}: {images if result.media == 'image' else text}")
    if result.left_out:
        if result.media == "image":
            takes, other, other_exts = "an image manifest takes .jpg, .jpeg and .png", "text", (".txt",)
        else:
            takes, other, other_exts = "a text manifest takes .txt", "image", (".jpg", ".jpeg", ".png")
        hint = f"; --type {other} lists the others" if any(e in result.left_out for e in other_exts) else ""
        print(f"note: left out {left_out_text(result.left_out)} ({takes}{hint})", file=sys.stderr)
    return 0
