"""`tuilabel status JOB`: where a job stands — records by answers, complete, failed, waiting;
per worker answers, declines, releases, expiries, time per task, active now; tasks out; ETA
at the team's recent pace. A solo job's numbers come from its journals."""

from __future__ import annotations

import argparse
import sys

HELP = "where a job stands: records, workers, tasks out, pace and ETA (team and solo jobs)"


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("status", help=HELP, description=HELP + ".")
    parser.add_argument("job", metavar="JOB", help="job folder")
    parser.add_argument("--json", action="store_true", help="print the numbers as JSON")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from tuilabel.core.data.sources import local_path
    from tuilabel.core.team.status import job_status

    st = job_status(Path(local_path(args.job)).expanduser())
    if args.json:
        import orjson

        sys.stdout.buffer.write(orjson.dumps(st.to_json(), option=orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE))
        return 0
    from rich.console import Console

    from tuilabel.ui.team_status import status_title, status_view

    console = Console()
    console.print(status_title(st))
    console.print(status_view(st))
    return 0
