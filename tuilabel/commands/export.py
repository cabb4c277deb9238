"""`tuilabel export JOB --format gt|csv|jsonl [-o FILE]`: write a job's answers out."""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "export a job's answers: gt (canonical output manifest), csv or jsonl (flat)"


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("export", help=HELP, description=HELP + ". Atomic: a temp file, then a rename.")
    parser.add_argument("job", metavar="JOB", help="job folder (<output>/<job-name>) or job file")
    parser.add_argument("--format", choices=("gt", "csv", "jsonl"), default="gt", help="default: gt")
    parser.add_argument("-o", "--output", metavar="FILE", help="where to write (default: the job's manifests/output/output.manifest for gt, <job>/<name>.csv|jsonl otherwise)")
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
    raise UserError(f"{job} is not a tuilabel job folder (no tuilabel/job.json inside)")


def run(args: argparse.Namespace) -> int:
    from tuilabel.core.errors import UserError
    from tuilabel.core.gt.export import write_flat, write_gt
    from tuilabel.core.store.lock import JobLock
    from tuilabel.core.data.manifest import Manifest
    from tuilabel.core.review import review_marker

    folder = _folder_for(args.job)
    spec = folder.load_spec()
    if args.format == "gt":
        dest = Path(args.output) if args.output else folder.output_manifest
        in_place = dest.resolve() == folder.output_manifest.resolve()
        locks = []
        if in_place:
            # Rewriting output.manifest under a running session would cut its appends off.
            for journal in folder.journals():
                locks.append(JobLock(journal.parent / "lock", f"job {spec.name!r} (worker {journal.parent.name})").acquire())
        try:
            manifest_path = folder.input_cache if "://" in spec.input else Path(spec.input)
            if not manifest_path.is_file():
                raise UserError(f"the job's input {spec.input} is gone; cannot order the output")
            with Manifest(manifest_path, display=spec.input) as manifest:
                # A review's output keeps every consolidated line, decisions replacing labels.
                result = write_gt(folder, manifest, dest, spec.label_attribute, keep_unanswered=review_marker(folder).exists())
            if in_place:
                _mark_canonical(folder, spec)
        finally:
            for lock in locks:
                lock.release()
        print(
            f"wrote {dest}: {result.written:,} lines ({result.declined:,} declined)"
            + (f"; {result.unanswered:,} input lines without an answer left out" if result.unanswered else "")
        )
        return 0
    dest = Path(args.output) if args.output else folder.root / f"{spec.name}.{args.format}"
    rows = write_flat(folder, dest, args.format, spec.label_attribute, spec.labels)
    print(f"wrote {dest}: {rows:,} records")
    return 0


def _mark_canonical(folder, spec) -> None:
    """Tell each worker's checkpoint that output.manifest now holds its journal canonically."""
    from tuilabel.core.store.journal import Journal

    for journal_path in folder.journals():
        worker_dir = journal_path.parent
        journal = Journal(journal_path, worker_dir / "checkpoint.json", folder.output_manifest, spec.label_attribute, len(spec.labels))
        journal.open(repair_output=False)  # output.manifest was just written canonically
        journal.canonical_journal_size = journal.size
        cursor = journal.checkpoint.get("cursor")
        extra = {"cursor": cursor} if cursor else {}
        if journal.checkpoint.get("input"):
            extra["input"] = journal.checkpoint["input"]
        journal.save_checkpoint(**extra)
        journal.close()
