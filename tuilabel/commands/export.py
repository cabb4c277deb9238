"""`tuilabel export JOB --format gt|csv|jsonl [-o FILE]`: write a job's answers out."""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "export a job's answers: gt (canonical output manifest), csv or jsonl (flat)"


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("export", help=HELP, description=HELP + ". Atomic: a temp file, then a rename.")
    parser.add_argument("job", metavar="JOB", help="job folder (<output>/<job-name>) or job file")
    parser.add_argument("--format", choices=("gt", "csv", "jsonl", "gt-responses"), default="gt", help="default: gt; gt-responses: GT's worker-response and consolidation-response files (into the job folder, or -o DIR)")
    parser.add_argument("-o", "--output", metavar="FILE", help="where to write (default: the job's manifests/output/output.manifest for gt, <job>/<name>-answers.csv|jsonl otherwise)")
    parser.set_defaults(run=run)


def _folder_for(job: str):
    from tuilabel.core.errors import UserError
    from tuilabel.core.job_setup import JobRequest, find_job_folder, prepare

    folder = find_job_folder(job)
    if folder is not None:
        return folder
    if job.lower().endswith(".toml"):
        prepared = prepare(JobRequest(source=job, labels=None), fetch_input=False)
        if prepared.folder.exists():
            return prepared.folder
        raise UserError(f"job file {job} has no job folder yet ({prepared.folder.root}); label first")
    if Path(job).expanduser().is_file():
        raise UserError(_manifest_hint(job))
    raise UserError(f"{job} is not a tuilabel job folder (no tuilabel/job.json inside)")


def _manifest_hint(manifest: str) -> str:
    """An input manifest was named: say where its job folder is (`label` puts it beside the
    manifest, named after it), or that there is none yet."""
    from tuilabel.core.errors import UserError
    from tuilabel.core.job_setup import JobRequest, prepare

    what = f"{manifest} is an input manifest, not a job"
    try:
        folder = prepare(JobRequest(source=manifest), fetch_input=False).folder
    except UserError:  # no job to resume (no labels known): nothing was labeled from it here
        folder = None
    if folder is None or not folder.exists():
        return f"{what}, and it has no job folder beside it; label it first (tuilabel label {manifest})"
    return f"{what}; export its job folder: tuilabel export {folder.root}"


def run(args: argparse.Namespace) -> int:
    import sys

    from tuilabel.core.errors import UserError
    from tuilabel.core.gt.export import refuse_if_busy, write_canonical, write_flat, write_gt
    from tuilabel.core.data.manifest import Manifest
    from tuilabel.core.data.sources import local_path

    folder = _folder_for(local_path(args.job))
    spec = folder.load_spec()
    if args.format == "gt-responses":
        from tuilabel.core.gt.consolidate_job import export_gt_responses

        done = export_gt_responses(folder, Path(args.output) if args.output else folder.root)
        print(f"wrote {done.response_files:,} worker-response files and {done.consolidation_response} ({done.consolidated:,} consolidated) under {done.root}")
        return 0
    if args.format == "gt" and spec.is_team:
        raise UserError(f"team job {spec.name!r} writes its GT output as records close: {folder.output_manifest} "
                        f"(one consolidated line per record); for one in input order: tuilabel consolidate {args.job} -o FILE")
    if args.format == "gt":
        dest = Path(args.output) if args.output else folder.output_manifest
        in_place = dest.resolve() == folder.output_manifest.resolve()
        manifest_path = folder.input_cache if "://" in spec.input else Path(spec.input)
        if not manifest_path.is_file():
            raise UserError(f"the job's input {spec.input} is gone; cannot order the output")
        with Manifest(manifest_path, display=spec.input) as manifest:
            if in_place:
                # Never replace output.manifest under a running session: it appends to it.
                result = refuse_if_busy(folder, write_canonical(folder, manifest, spec.label_attribute))
            else:
                # A review's output keeps every consolidated line, decisions replacing labels.
                result = write_gt(folder, manifest, dest, spec.label_attribute,
                                  keep_unanswered=folder.review_marker.exists())
        for problem in result.skipped:
            print(f"note: {problem}", file=sys.stderr)
        print(
            f"wrote {dest.absolute()}: {result.written:,} lines ({result.declined:,} declined)"
            + (f"; {result.unanswered:,} input lines without an answer left out" if result.unanswered else "")
        )
        return 0
    # Not <name>.jsonl: the job is named after its input, so that would look like the input.
    dest = Path(args.output) if args.output else folder.root / f"{spec.name}-answers.{args.format}"
    skipped: list[str] = []
    rows = write_flat(folder, dest, args.format, spec.label_attribute, spec.labels, skipped)
    for problem in skipped:
        print(f"note: {problem}", file=sys.stderr)
    print(f"wrote {dest.absolute()}: {rows:,} records")
    return 0
