"""`tuilabel consolidate JOB | --responses DIR --input MANIFEST --labels …`: several workers'
answers -> one label per record with a confidence, written as GT's output manifest."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HELP = "consolidate several workers' answers into one label per record (GT's output manifest)"
# The same names as tuilabel.core.gt.consolidation.METHODS (a test keeps them equal); not
# imported here so building the parser does not import numpy.
METHODS = ("gt", "dawid-skene", "one-coin", "majority")
METHOD_NAMES = {
    "gt": "GT's modified Dawid-Skene",
    "dawid-skene": "Dawid-Skene, full confusion matrices",
    "one-coin": "one-coin Dawid-Skene",
    "majority": "majority vote",
}
MAX_PROBLEM_LINES = 20


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "consolidate",
        help=HELP,
        description=HELP
        + ". Input: a tuilabel job folder, a GT job folder (annotations/worker-response/… with "
        "manifests/output/output.manifest or --input), or --responses DIR --input MANIFEST --labels.",
    )
    parser.add_argument("source", nargs="?", metavar="JOB", help="a tuilabel job folder or a GT job folder")
    parser.add_argument("--responses", metavar="DIR", help="GT's worker-response folder (iteration-N/<index>/<time>.json inside)")
    parser.add_argument("--input", metavar="MANIFEST", help="the input manifest (the worker-response index is its line index)")
    parser.add_argument("--labels", metavar="A,B,…|FILE", help="the labels in order: A,B,C, a GT label category file or one per line")
    parser.add_argument("--method", choices=METHODS, default="gt", help="default: gt (GT's modified Dawid-Skene)")
    parser.add_argument("--gold", metavar="FILE|FIELD", help='known answers: a JSON file {"<line index>": "<label>"} or an input field holding the label')
    parser.add_argument("--lambda", dest="lambda_handler", metavar="FILE.py:FUNCTION", help="run your GT post-annotation Lambda handler locally and write what it returns")
    parser.add_argument("-o", "--output", metavar="FILE", help="where to write (default: a tuilabel job's manifests/output/output.manifest)")
    parser.add_argument("--name", help="job name for the output's job-name (default: from the input or the folder)")
    parser.add_argument("--attribute", help="label attribute name (default: the input's existing one, or the job name)")
    parser.add_argument("--iou", type=float, default=0.5, metavar="T", help="boxes: the IoU at which two workers' boxes are the same object (default 0.5)")
    parser.add_argument("--json", action="store_true", help="print a machine-readable report")
    parser.add_argument("--limit", type=int, default=10, metavar="N", help="rows per agreement table in the summary (default 10, 0 = all)")
    parser.set_defaults(run=run)


class _Bar:
    """A Rich progress bar on stderr when it is a terminal; silent otherwise."""

    def __init__(self) -> None:
        self._progress = None
        self._tasks: dict[str, int] = {}
        if sys.stderr.isatty():
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self._progress = Progress(
                TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                console=Console(stderr=True), transient=True,
            )

    def __enter__(self) -> "_Bar":
        if self._progress is not None:
            self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()

    def __call__(self, what: str, done: int, total: int) -> None:
        if self._progress is None:
            return
        if what not in self._tasks:
            self._tasks[what] = self._progress.add_task(what, total=total)
        self._progress.update(self._tasks[what], completed=done, total=total)


def _load_input(args, bar):
    from tuilabel.core.errors import UserError
    from tuilabel.core.gt.consolidate_job import from_tuilabel_job, from_worker_responses
    from tuilabel.core.job_setup import find_job_folder

    input_path = Path(args.input) if args.input else None
    if args.responses:
        if args.source:
            raise UserError("give either JOB or --responses, not both")
        return from_worker_responses(Path(args.responses), input_path, args.labels, args.name, args.attribute, bar)
    if not args.source:
        raise UserError("give a job folder, or --responses DIR --input MANIFEST --labels A,B,…")
    folder = find_job_folder(args.source)
    if folder is not None:
        if args.input or args.labels:
            raise UserError(f"{args.source} is a tuilabel job: its input and labels are its own (drop --input/--labels)")
        return from_tuilabel_job(folder)
    path = Path(args.source)
    if not path.is_dir():
        raise UserError(f"{args.source} is not a folder")
    return from_worker_responses(path, input_path, args.labels, args.name, args.attribute, bar)


def _records_for(inp, indexes: set[int]) -> dict[int, dict]:
    from tuilabel.core.data.manifest import BadRecord, Manifest, parse_record

    out: dict[int, dict] = {}
    with Manifest(inp.manifest_path) as manifest:
        for index, _, _, raw in manifest.iter_lines():
            if index in indexes:
                try:
                    out[index] = parse_record(raw)
                except BadRecord:
                    pass
    return out


def run(args: argparse.Namespace) -> int:
    import numpy as np
    import orjson

    from tuilabel.core.errors import UserError
    from tuilabel.core.gt.consolidate_job import read_gold, write_output
    from tuilabel.core.gt.consolidation import consolidate

    with _Bar() as bar:
        inp = _load_input(args, bar)
        if inp.boxes is not None:
            return _run_boxes(args, inp, bar)
        answers, spec = inp.answers, inp.spec
        dest = Path(args.output) if args.output else inp.default_output
        if dest is None:
            raise UserError(f"{args.source or args.responses} is not a tuilabel job: say where to write with -o FILE")
        gold = read_gold(args.gold, spec.labels, inp.manifest_path, answers.multi) if args.gold else None
        result = consolidate(answers, args.method, gold) if answers.n_answers and not args.lambda_handler else None
        lambda_content = None
        if args.lambda_handler:
            from tuilabel.core.gt.lambda_local import payload, run_lambda

            answered = set(np.unique(answers.answer_record).tolist())
            lambda_content = run_lambda(args.lambda_handler, spec, payload(answers, _records_for(inp, answered)))
        written = write_output(inp, result, dest, lambda_content, bar)

    from tuilabel.core.quality.agreement import agreement_of

    agreement = agreement_of(answers, result, gold)  # None for multi-label answers
    report = _report(inp, result, written, args, gold, agreement)
    if args.json:
        sys.stdout.write(orjson.dumps(report, option=orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE).decode())
    else:
        _print_summary(report)
        if agreement is not None and agreement.workers > 1:
            from rich.console import Console

            from tuilabel.commands.agreement_report import render_agreement

            render_agreement(agreement, Console(), args.limit)
    return 0


def _report(inp, result, written, args, gold, agreement) -> dict:
    import numpy as np

    answers = inp.answers
    workers = []
    if result is not None:
        n = np.bincount(answers.answer_worker, minlength=len(answers.workers))
        for w, name in enumerate(answers.workers):
            gold_acc = result.gold_accuracy[w] if result.gold_accuracy is not None else np.nan
            workers.append(
                {
                    "worker": name,
                    "answers": int(n[w]),
                    "estimated_accuracy": round(float(result.worker_accuracy[w]), 4),
                    "gold_accuracy": None if np.isnan(gold_acc) else round(float(gold_acc), 4),
                }
            )
    confidence = result.confidence[result.n_workers > 1] if result is not None else np.zeros(0)
    label_counts = {}
    if result is not None:
        counted = result.chosen.sum(axis=0) if result.multi else np.bincount(result.label, minlength=len(answers.labels))
        label_counts = {name: int(c) for name, c in zip(answers.labels, counted)}
    return {
        "input": {"kind": inp.kind, "source": args.source or args.responses, "manifest": str(inp.manifest_path)},
        "output": str(written.path),
        "method": "lambda" if args.lambda_handler else args.method,
        "lambda": args.lambda_handler,
        "task": inp.spec.task,
        "label_attribute": inp.spec.label_attribute,
        "labels": list(answers.labels),
        "lines": written.lines,
        "consolidated": written.consolidated,
        "declined": written.declined,
        "unanswered": written.unanswered,
        "bad_lines": written.bad_lines,
        "lambda_missing": written.lambda_missing,
        "answers": answers.n_answers,
        "declines": int(len(answers.declined_record)),
        "workers": len(answers.workers),
        "single_worker_records": int((result.n_workers == 1).sum()) if result is not None else 0,
        "em_rounds": result.rounds if result is not None else 0,
        "gold_records": len(gold or {}),
        "label_counts": label_counts,
        "confidence": None
        if result is None
        else {
            "mean": round(float(confidence.mean()), 4) if len(confidence) else None,
            "below_0.7": int((confidence < 0.7).sum()),
        },
        "per_worker": workers,
        # Fleiss' kappa, Krippendorff's alpha, pairwise Cohen's kappa, per-label agreement and
        # per-worker quality (core/quality/agreement.py); null for multi-label answers.
        "agreement": None if agreement is None else agreement.to_json(),
        "problems": inp.problems,
    }


def _print_problems(problems: list[str]) -> None:
    for problem in problems[:MAX_PROBLEM_LINES]:
        print(f"tuilabel consolidate: {problem}", file=sys.stderr)
    extra = len(problems) - MAX_PROBLEM_LINES
    if extra > 0:
        print(f"tuilabel consolidate: … and {extra:,} more problems (--json lists them all)", file=sys.stderr)


def _print_summary(report: dict) -> None:
    _print_problems(report["problems"])
    print(
        f"wrote {report['output']}: {report['lines']:,} lines ({report['consolidated']:,} consolidated, "
        f"{report['declined']:,} declined by every worker, {report['unanswered']:,} without an answer"
        + (f", {report['lambda_missing']:,} the Lambda returned nothing for" if report["lambda_missing"] else "")
        + ")"
    )
    method = report["lambda"] or METHOD_NAMES[report["method"]]
    print(
        f"{method}: {report['answers']:,} answers from {report['workers']:,} workers"
        + (f", {report['em_rounds']} EM rounds" if report["em_rounds"] else "")
        + (f"; {report['confidence']['below_0.7']:,} records below confidence 0.7" if report["confidence"] else "")
        + (f"; {len(report['problems']):,} problems" if report["problems"] else "")
    )



def _run_boxes(args: argparse.Namespace, inp, bar) -> int:
    """A box job: GT's box consolidation (IoU matching), the output lines, a short report."""
    import orjson

    from tuilabel.core.errors import UserError
    from tuilabel.core.gt.box_consolidation import MIN_SHARE
    from tuilabel.core.gt.consolidate_job import write_output

    for flag, given in (("--method", args.method != "gt"), ("--gold", args.gold)):
        if given:
            raise UserError(f"{flag} applies to classification; boxes are consolidated by IoU matching (--iou) "
                            "or by your own post-annotation Lambda (--lambda)")
    if not 0 < args.iou <= 1:
        raise UserError(f"--iou {args.iou}: give a number above 0 and at most 1")
    dest = Path(args.output) if args.output else inp.default_output
    if dest is None:
        raise UserError(f"{args.source or args.responses} is not a tuilabel job: say where to write with -o FILE")
    boxes = inp.boxes
    boxes.consolidate(args.iou, MIN_SHARE)
    lambda_content = None
    if args.lambda_handler:  # the user's Lambda decides each answered image's line
        from tuilabel.core.gt.lambda_local import answers_payload, run_lambda

        records = _records_for(inp, set(boxes.rows))
        lambda_content = run_lambda(args.lambda_handler, inp.spec, answers_payload(boxes.reread(), records))
    written = write_output(inp, None, dest, lambda_content, bar)
    result = boxes.result
    report = {
        "input": {"kind": inp.kind, "source": args.source or args.responses, "manifest": str(inp.manifest_path)},
        "output": str(written.path),
        "method": "lambda" if args.lambda_handler else "iou-matching",
        "lambda": args.lambda_handler,
        "lambda_missing": written.lambda_missing,
        "iou": args.iou,
        "task": inp.spec.task,
        "label_attribute": inp.spec.label_attribute,
        "labels": boxes.labels,
        "lines": written.lines,
        "consolidated": written.consolidated,
        "declined": written.declined,
        "unanswered": written.unanswered,
        "bad_lines": written.bad_lines,
        "answers": boxes.answers.n_answers,
        "workers": len(boxes.answers.workers),
        "boxes_drawn": int(len(boxes.answers.box_class)),
        "boxes_kept": int(len(result.image)),
        "problems": inp.problems,
    }
    if args.json:
        sys.stdout.write(orjson.dumps(report, option=orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE).decode())
        return 0
    _print_problems(report["problems"])
    print(
        f"wrote {report['output']}: {report['lines']:,} lines ({report['consolidated']:,} consolidated, "
        f"{report['declined']:,} declined by every worker, {report['unanswered']:,} without an answer"
        + (f", {report['lambda_missing']:,} the Lambda returned nothing for" if report["lambda_missing"] else "")
        + ")"
    )
    if args.lambda_handler:
        print(f"{args.lambda_handler}: {report['boxes_drawn']:,} boxes from {report['answers']:,} answers "
              f"by {report['workers']:,} workers"
              + (f"; {len(report['problems']):,} problems" if report["problems"] else ""))
        return 0
    print(
        f"IoU matching at {args.iou}: {report['boxes_drawn']:,} boxes from {report['answers']:,} answers "
        f"by {report['workers']:,} workers -> {report['boxes_kept']:,} boxes"
        + (f"; {len(report['problems']):,} problems" if report["problems"] else "")
    )
    return 0
