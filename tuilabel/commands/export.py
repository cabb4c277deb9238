"""`tuilabel export JOB --format gt|csv|jsonl|coco|yolo [-o FILE]`: write a job's answers out
(coco and yolo: a box job's, or a GT object-detection output manifest's)."""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "export a job's answers: gt (canonical output manifest), csv or jsonl (flat)"


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("export", help=HELP, description=HELP + ". Atomic: a temp file, then a rename.")
    parser.add_argument("job", metavar="JOB", help="job folder (<output>/<job-name>) or job file")
    parser.add_argument("--format", choices=("gt", "csv", "jsonl", "gt-responses", "coco", "yolo"), default="gt", help="default: gt; gt-responses: GT's worker-response and consolidation-response files (into the job folder, or -o DIR); coco (one JSON file) and yolo (a folder of .txt files): bounding boxes, of a box job or a GT object-detection output manifest")
    parser.add_argument("--attribute", metavar="ATTR", help="coco/yolo from a manifest: the label attribute to export (default: the first object-detection one)")
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


def _job_beside(manifest: str):
    """The job folder `label` made for this input manifest (beside it, named after it), if any."""
    from tuilabel.core.errors import UserError
    from tuilabel.core.job_setup import JobRequest, prepare

    try:
        folder = prepare(JobRequest(source=manifest), fetch_input=False).folder
    except UserError:  # no job to resume (no labels known): nothing was labeled from it here
        return None
    return folder if folder.exists() else None


def _manifest_hint(manifest: str) -> str:
    """An input manifest was named: say where its job folder is, or that there is none yet."""
    what = f"{manifest} is an input manifest, not a job"
    folder = _job_beside(manifest)
    if folder is None:
        return f"{what}, and it has no job folder beside it; label it first (tuilabel label {manifest})"
    return f"{what}; export its job folder: tuilabel export {folder.root}"


def run(args: argparse.Namespace) -> int:
    import sys

    from tuilabel.core.errors import UserError
    from tuilabel.core.gt.export import refuse_if_busy, write_canonical, write_flat, write_gt
    from tuilabel.core.data.manifest import Manifest
    from tuilabel.core.data.sources import local_path

    if args.format in ("coco", "yolo"):
        return _export_boxes(args)
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


def _export_boxes(args: argparse.Namespace) -> int:
    """COCO or YOLO from a box job (the latest answer per record, as `--format gt` writes) or
    from a GT output manifest with object-detection labels."""
    import sys

    from tuilabel.core.data.sources import local_path
    from tuilabel.core.errors import UserError
    from tuilabel.core.gt.box_export import export_boxes, manifest_lines
    from tuilabel.core.gt.box_lines import box_attributes
    from tuilabel.core.gt.export import latest_entries
    from tuilabel.core.job_setup import find_job_folder

    source = local_path(args.job)
    path = Path(source).expanduser()
    suffix = "-coco.json" if args.format == "coco" else "-yolo"
    notes: list[str] = []
    if find_job_folder(source) is None and path.is_file() and not source.lower().endswith(".toml"):
        attrs: list[str] = []
        for _, obj in manifest_lines(path, _Quiet()):
            attrs.extend(a for a in box_attributes(obj) if a not in attrs)
        if not attrs:
            beside = _job_beside(source)
            raise UserError(
                f"{source}: no object-detection labels to export"
                + (f"; it is the input of job {beside.root}: tuilabel export {beside.root} --format {args.format}" if beside else "")
            )
        attr = args.attribute or attrs[0]
        if attr not in attrs:
            raise UserError(f"{source}: --attribute {attr} holds no object-detection labels (found: {', '.join(attrs)})")
        if len(attrs) > 1 and not args.attribute:
            notes.append(f"{source} has several object-detection attributes ({', '.join(attrs)}); exported {attr} (--attribute picks another)")
        dest = Path(args.output) if args.output else path.with_name(path.name.split(".")[0] + suffix)
        result = export_boxes(args.format, dest, manifest_lines(path, _Quiet()), attr, None, source)
    else:
        folder = _folder_for(source)
        spec = folder.load_spec()
        if not spec.task_type.boxes:
            raise UserError(f"--format {args.format} exports bounding boxes; {folder.root} is a {spec.task} job")
        dest = Path(args.output) if args.output else folder.root / f"{spec.name}{suffix}"
        if len(folder.journals()) > 1:
            # Several workers: one set of boxes per image, consolidated as `consolidate` does.
            from tuilabel.core.gt.consolidate_job import WriteResult, consolidated_objects, from_tuilabel_job

            inp = from_tuilabel_job(folder)
            notes.extend(inp.problems)
            notes.append(f"{len(folder.journals())} workers: exported their consolidated boxes (as tuilabel consolidate writes them)")
            lines = ((index + 1, obj) for index, obj in consolidated_objects(inp, None, None, WriteResult(dest)))
        else:
            latest = latest_entries(folder, notes)
            lines = ((index + 1, latest[index].gt) for index in sorted(latest))
        result = export_boxes(args.format, dest, lines, spec.label_attribute, spec.labels, str(folder.root))
    for problem in notes + result.problems:
        print(f"note: {problem}", file=sys.stderr)
    print(
        f"wrote {dest.absolute()}: {result.images:,} images, {result.boxes:,} boxes, "
        f"{len(result.class_names):,} class{'' if len(result.class_names) == 1 else 'es'}"
        + (f"; {result.left_out:,} lines without a usable label left out" if result.left_out else "")
    )
    return 0


class _Quiet:
    """A BoxExport stand-in for the first pass over a manifest (its problems come in the second)."""

    def __init__(self) -> None:
        self.problems: list[str] = []
        self.left_out = 0
