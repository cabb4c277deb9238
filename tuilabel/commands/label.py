"""`tuilabel label SOURCE|JOB-FILE|JOB-FOLDER`: open the labeling app on a job."""

from __future__ import annotations

import argparse
import functools
import gc
import sys

from tuilabel.core.gt.tasks import TASK_TYPES, VERIFICATION
from tuilabel.core.user_config import GRAPHICS_MODES

HELP = "open the labeling app on a manifest, a job file or a job folder (resumes a started job)"


def add_job_options(parser: argparse.ArgumentParser) -> None:
    job = parser.add_argument_group("job (override the job file)")
    job.add_argument("--name", help="GT job name (default: the manifest's file name)")
    job.add_argument("--labels", help="labels: 'A,B,C', a GT label category JSON file, or a file with one label per line")
    job.add_argument("--task", choices=sorted([*TASK_TYPES, VERIFICATION]), help="task type (default: image or text from the first record)")
    job.add_argument("--multi", action="store_true", default=None, help="multi-label: number keys toggle, enter submits")
    job.add_argument("--attribute", dest="label_attribute", help="label attribute name in the output (default: the job name)")
    job.add_argument("--output", help="folder (or s3:// prefix) that holds <job-name>/ (default: beside the input)")
    job.add_argument("--worker", help="worker id (default: your login name)")
    job.add_argument("--instructions", help="short task description shown above each record")
    chained = parser.add_argument_group("chained job (the input is an earlier job's output manifest)")
    chained.add_argument("--verify", metavar="ATTR", help="verify the earlier label attribute ATTR: pick a verification "
                         "category per record (--labels sets them; default Correct, Incorrect, Ambiguous)")
    chained.add_argument("--adjust", metavar="ATTR", help="adjust the earlier label attribute ATTR: start from its "
                         "labels, fix what is wrong, enter accepts")
    team = parser.add_argument_group("team job (several workers per record under leases; see README)")
    team.add_argument("--workers-per-record", type=int, metavar="N", help="workers who label each record, 1-9")
    team.add_argument("--task-time-limit", metavar="TIME", help="time a worker has per task: 30s to 8h (default 5m)")
    team.add_argument("--availability-lifetime", metavar="TIME", help="how long a record waits for its N workers (default 30d)")
    team.add_argument("--team", metavar="IDS|FILE", help="worker ids allowed (a,b,c) or a team file (.toml)")
    team.add_argument("--max-concurrent", type=int, metavar="N", help="records out at once (default 1000)")


def add_app_options(parser: argparse.ArgumentParser) -> None:
    app = parser.add_argument_group("app")
    app.add_argument("--theme", help="theme name (tuilabel-dark, tuilabel-light, tuilabel-high-contrast, tuilabel-colorblind, or one of yours)")
    app.add_argument("--graphics", choices=GRAPHICS_MODES, help="image drawing (default: auto; half-block over SSH and tmux)")


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("label", help=HELP, description=HELP + ".")
    parser.add_argument("source", metavar="SOURCE", help="input manifest (path, file:// or s3://), job file (.toml) or job folder")
    add_job_options(parser)
    add_app_options(parser)
    parser.set_defaults(run=run)


def request_from(args: argparse.Namespace, source: str):
    from tuilabel.core.job_setup import JobRequest

    return JobRequest(
        source=source,
        name=args.name,
        labels=args.labels,
        task=args.task,
        multi=args.multi,
        label_attribute=args.label_attribute,
        output=args.output,
        worker=args.worker,
        instructions=args.instructions,
        verify=getattr(args, "verify", None),  # `demo` has no chained-job flags
        adjust=getattr(args, "adjust", None),
        team=team_flags(args),
    )


def team_flags(args: argparse.Namespace) -> dict:
    """The team settings given as flags (None: not given)."""
    team = getattr(args, "team", None)
    if team is not None and not team.lower().endswith(".toml"):
        team = [part.strip() for part in team.split(",") if part.strip()]
    return {
        "workers_per_record": getattr(args, "workers_per_record", None),
        "task_time_limit": getattr(args, "task_time_limit", None),
        "availability_lifetime": getattr(args, "availability_lifetime", None),
        "team": team,
        "max_concurrent": getattr(args, "max_concurrent", None),
    }


def no_collection_until_run(job):
    """Start-up makes ~10^5 objects that live as long as the app (modules, session, CSS)
    and almost no garbage: collecting while they are made cost ~20 ms of the first paint
    (measured). No collection until the app runs (`start_collecting`), and always after."""

    @functools.wraps(job)
    def run(*args, **kwargs):
        gc.disable()
        try:
            return job(*args, **kwargs)
        finally:
            gc.enable()

    return run


def start_collecting() -> None:
    # Freeze the survivors first, so collections while labeling do not walk them again.
    gc.freeze()
    gc.enable()


def user_config():
    """The user's config file, its keymap checked: refused before a job folder is made."""
    from tuilabel.core.user_config import load_user_config

    config = load_user_config()
    if config.keys:
        from tuilabel.core.locations import config_file
        from tuilabel.ui.keys import validate_keymap

        validate_keymap(config.keys, str(config_file()))
    return config


def run_app(session, args: argparse.Namespace, config, **options) -> None:
    """The app on an opened session, with the user's theme, graphics and keys (`label` and
    `review`). Called after every check of the job, so a real problem is named first."""
    from tuilabel.commands import require_terminal

    require_terminal()
    from tuilabel.ui.app import make_app

    app = make_app(
        session,
        theme=args.theme or config.theme,
        graphics=args.graphics or config.graphics or "auto",
        keymap=config.keys,
        **options,
    )
    start_collecting()
    app.run()


@no_collection_until_run
def run_job(request, args: argparse.Namespace) -> int:
    """Prepare, open, label, close: the whole life of one labeling session."""
    from tuilabel.core.job_setup import prepare
    from tuilabel.core.session import State

    config = user_config()
    if request.worker is None and config.worker:
        request.worker = config.worker
    prepared = prepare(request)
    if prepared.spec.is_team:
        from tuilabel.commands import require_terminal

        require_terminal()  # before the session: it would take tasks for nobody
    # The app starts the background work (line index, input hash) once its first frame is
    # on screen (LabelApp.on_ready); close() verifies the input if it never got there.
    session, mirror = prepared.start(background=False)
    try:
        run_app(session, args, config, first_start=prepared.new,
                upload_status=mirror.lagging if mirror is not None else None)
    finally:
        progress = session.progress()
        left = prepared.stop(session, mirror)
    for message in session.messages[-5:]:
        print(f"note: {message}", file=sys.stderr)
    state = "finished" if session.state is State.DONE else "stopped; run the same command to resume"
    if prepared.spec.is_team:
        state = (f"nothing left for {prepared.spec.worker} now" if session.state is State.DONE
                 else "stopped; your unexpired tasks come back first when you resume")
    print(
        f"{prepared.spec.name}: {progress.done:,} of {progress.total if progress.total is not None else '?'} "
        f"records done ({progress.declined:,} declined), {state}."
    )
    if prepared.spec.is_team:
        print(f"Output (one consolidated line per closed record, in the order they closed): {prepared.folder.output_manifest}")
    else:
        print(canonical_note(prepared.folder, session.output_canonical))
    if prepared.output_s3:
        print(f"S3: {prepared.output_s3}" + (f" ({len(left)} files still to upload; they go up on the next start)" if left else " (up to date)"))
    return 0


def canonical_note(folder, canonical: bool) -> str:
    """Which file holds the answers, in one line, after a session."""
    if canonical:
        return f"Output (canonical: one line per record, latest answer wins, input order): {folder.output_manifest}"
    return (
        f"Output: {folder.output_manifest} (not canonical now: every answer in the order given, see the "
        f"notes above); the record of truth is each worker's journal in {folder.private / 'workers'}"
    )


def run(args: argparse.Namespace) -> int:
    return run_job(request_from(args, args.source), args)
