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
    )


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
    print(
        f"{prepared.spec.name}: {progress.done:,} of {progress.total if progress.total is not None else '?'} "
        f"records done ({progress.declined:,} declined), {state}."
    )
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
