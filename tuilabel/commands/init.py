"""`tuilabel init [JOB-FILE]`: write a commented job file template to fill in."""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "write a commented job file (TOML) to describe a labeling job"


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("init", help=HELP, description=HELP + "; then run `tuilabel label JOB-FILE`.")
    parser.add_argument("path", nargs="?", default="job.toml", metavar="JOB-FILE", help="where to write it (default: job.toml)")
    parser.add_argument("--input", default="manifest.jsonl", help="the manifest to label")
    parser.add_argument("--name", help="job name (default: from the input's file name)")
    parser.add_argument("--labels", default="label-a,label-b", help="labels: 'A,B,C', a GT label category JSON file, or a file with one label per line")
    parser.add_argument("--task", default="image-classification", help="task type")
    parser.add_argument("--force", action="store_true", help="overwrite an existing file")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import orjson

    from tuilabel.core.store.durable import atomic_write
    from tuilabel.core.errors import UserError
    from tuilabel.core.gt.job import JOB_FILE_TEMPLATE, check_job_name, check_labels, read_labels, suggest_name
    from tuilabel.core.gt.tasks import TASK_TYPES

    path = Path(args.path)
    if path.exists() and not args.force:
        raise UserError(f"{path} exists; pass --force to overwrite it")
    if args.task not in TASK_TYPES:
        raise UserError(f"unknown task {args.task!r}; one of: {', '.join(TASK_TYPES)}")
    name = check_job_name(args.name or suggest_name(Path(args.input).name.split(".")[0]))
    # The same rules `tuilabel label` applies, so the file written is one it accepts.
    labels, where = read_labels(args.labels, Path.cwd())
    check_labels(labels, TASK_TYPES[args.task], where)
    labels = ", ".join(orjson.dumps(label).decode() for label in labels)
    toml_text = orjson.dumps(args.input).decode()[1:-1]  # JSON's string escapes are TOML's
    text = JOB_FILE_TEMPLATE.format(file=path, name=name, input=toml_text, task=args.task, labels=labels)
    atomic_write(path, text.encode("utf-8"))
    print(f"wrote {path}: edit it, then run `tuilabel label {path}`")
    return 0
