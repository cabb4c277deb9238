"""`tuilabel review JOB [--below 0.7]`: review the least confident records of a job with several
workers, in the app: every worker's answer, the consolidated label, one key to accept it."""

from __future__ import annotations

import argparse
import sys

HELP = "review doubtful records of a GT job folder or a tuilabel job with several workers"


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "review",
        help=HELP,
        description=HELP + ": records in ascending confidence, each with every worker's answer (who, "
        "what, how long) and the consolidated label; enter accepts it, a digit overrides it. The "
        "decision is final. The review is a job of its own (<name>-review/ beside JOB): stop any "
        "time, run the same command to resume.",
    )
    parser.add_argument("job", metavar="JOB", help="GT job folder (annotations/worker-response + output manifest) or tuilabel job folder")
    parser.add_argument("--below", type=float, metavar="C", help="only records with confidence under C (e.g. 0.7)")
    parser.add_argument("--reviewer", help="reviewer id written with each decision (default: your login name)")
    parser.add_argument("--output", help="folder that holds <name>-review/ (default: beside JOB)")
    from tuilabel.commands.label import add_app_options

    add_app_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from tuilabel.commands.label import canonical_note, run_app, user_config
    from tuilabel.core.review import prepare_review
    from tuilabel.core.session import State

    config = user_config()
    prepared = prepare_review(args.job, below=args.below, reviewer=args.reviewer or config.worker, output=args.output)
    if not prepared.plan.order:
        what = f"under confidence {args.below}" if args.below is not None else "with a consolidated line"
        print(f"{prepared.spec.name}: no record {what}; nothing to review")
        return 0
    session = prepared.start()
    try:
        run_app(session, args, config)
    finally:
        progress = session.progress()
        session.close()  # writes the reviewed output: decisions where made, consolidated lines elsewhere
    for message in session.messages[-5:]:
        print(f"note: {message}", file=sys.stderr)
    state = "finished" if session.state is State.DONE else "stopped; run the same command to resume"
    print(f"{prepared.spec.name}: {progress.done:,} of {progress.total:,} records reviewed "
          f"({progress.declined:,} declined), {state}.")
    if session.output_canonical:
        print(f"Reviewed output (every line: the decision where one was made, else the consolidated line): "
              f"{prepared.folder.output_manifest}")
    else:
        print(canonical_note(prepared.folder, False))
    return 0
