"""`tuilabel demo [image|text|text-multi|boxes]`: the labeling app on a bundled sample job."""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from tuilabel.commands.label import add_app_options, request_from, run_job

DEMOS = {
    "image": ("fashion", "job.toml"),
    "text": ("reviews", "job.toml"),
    "text-multi": ("reviews", "job-multi.toml"),
    "boxes": ("fashion", "job-boxes.toml"),
}
HELP = "label a bundled sample: fashion images (image), review sentiment (text) or topics (text-multi), boxes around fashion items (boxes)"


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("demo", help=HELP, description=HELP + ". Answers go to --output (default: ~/.local/share/tuilabel/demo) and resume like any job.")
    parser.add_argument("which", nargs="?", choices=sorted(DEMOS), default="image", help="which sample (default: image)")
    parser.add_argument("--output", help="where the demo job folder goes")
    parser.add_argument("--worker", help="worker id (default: your login name)")
    parser.add_argument("--reset", action="store_true", help="forget earlier demo answers and start over")
    add_app_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from tuilabel.core.errors import UserError
    from tuilabel.core.locations import data_home
    from tuilabel.core.gt.job import read_job_file
    from tuilabel.resources import sample_data_dir

    folder, job_file = DEMOS[args.which]
    path = sample_data_dir() / folder / job_file
    output = args.output or str(data_home() / "demo")
    job_folder = Path(output) / read_job_file(path)["name"]
    if args.reset:
        shutil.rmtree(job_folder, ignore_errors=True)
    for attr in ("name", "labels", "task", "multi", "label_attribute", "instructions"):
        setattr(args, attr, None)
    args.output = output
    try:
        return run_job(request_from(args, str(path)), args)
    except UserError as exc:
        if not (job_folder / "tuilabel" / "job.json").exists():
            raise
        # An earlier demo (another version's sample, or labels) the bundled one cannot resume.
        raise UserError(f"{exc}; `tuilabel demo {args.which} --reset` starts this demo over (its answers are deleted)") from None
