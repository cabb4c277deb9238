"""`tuilabel work [--jobs DIR|s3://…] [--worker ID]`: the worker's portal (GT's labeling portal in the
terminal): the jobs this worker may work on, Enter starts labeling one, and when that session
ends (nothing left for this worker, or q) the portal shows again with fresh numbers."""

from __future__ import annotations

import argparse

LOCAL_REFRESH_SECONDS = 10.0  # the portal counts again this often (and on r, and after each job)
S3_REFRESH_SECONDS = 60.0

HELP = "the worker's portal: the jobs you may work on; enter starts labeling one"


def add_parser(sub: argparse._SubParsersAction) -> None:
    from tuilabel.commands.label import add_app_options

    parser = sub.add_parser("work", help=HELP, description=HELP + ".")
    parser.add_argument("--jobs", metavar="DIR|s3://…", default=".",
                        help="folder (or s3:// prefix) holding job folders, up to two levels down "
                             "(default: the current folder)")
    parser.add_argument("--worker", help="worker id (default: your login name)")
    add_app_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from tuilabel.commands import require_terminal
    from tuilabel.commands.label import run_job, user_config
    from tuilabel.core.data.s3 import is_s3_uri
    from tuilabel.core.data.sources import local_path
    from tuilabel.core.errors import UserError
    from tuilabel.core.gt.job import default_worker
    from tuilabel.core.job_setup import JobRequest

    jobs = local_path(args.jobs)
    if is_s3_uri(jobs):
        from tuilabel.core.data.s3 import check_bucket, parse_s3_uri

        check_bucket(parse_s3_uri(jobs)[0])  # a wrong name or no access: one line, before the app
        root: Path | str = jobs  # the jobs under an s3:// prefix, each labeled from a local folder
    else:
        root = Path(jobs).expanduser().resolve()
        if not root.is_dir():
            raise UserError(f"{root} is not a folder")
    config = user_config()
    worker = args.worker or config.worker or default_worker()
    require_terminal()
    from tuilabel.ui.portal import make_portal

    selected, message = None, ""
    while True:
        app = make_portal(root, worker, theme=args.theme or config.theme, keymap=config.keys,
                          selected=selected, message=message,
                          # a count of jobs in S3 reads their open records (GETs): once a minute
                          refresh_seconds=S3_REFRESH_SECONDS if isinstance(root, str) else LOCAL_REFRESH_SECONDS)
        chosen = app.run()
        if chosen is None:
            return 0
        selected, message = chosen, ""
        try:
            run_job(JobRequest(source=str(chosen), worker=worker), args)
        except UserError as exc:  # e.g. the job is open in another session of this worker
            message = f"{chosen.name}: {exc}"
