"""Small jobs with several workers per record, built in a test's tmp folder:
- `build_gt_folder`: a GT job folder: worker responses (annotations/worker-response/
  iteration-1/<i>/<time>.json) and GT's consolidated output manifest with confidences;
- `build_tuilabel_job`: a tuilabel job that three workers labeled through the Session."""

from __future__ import annotations

from pathlib import Path

import orjson

LABELS = ["positive", "negative", "neutral"]
# Per record: (text, [(worker, label, seconds)], consolidated label, confidence); record 4 failed.
RECORDS = [
    ("great product", [("ann", "positive", 2.5), ("bob", "positive", 3.0), ("cy", "positive", 1.5)], 0, 0.95),
    ("meh, fine", [("ann", "neutral", 6.0), ("bob", "positive", 4.0), ("cy", "negative", 9.5)], 2, 0.41),
    ("awful", [("ann", "negative", 1.0), ("bob", "negative", 2.0), ("cy", "neutral", 5.0)], 1, 0.72),
    ("not bad at all", [("ann", "positive", 3.0), ("bob", "negative", 4.5), ("cy", "positive", 2.0)], 0, 0.55),
    ("???", [], None, None),
    ("love it", [("ann", "positive", 1.0), ("bob", "positive", 1.2), ("cy", "neutral", 2.2)], 0, 0.88),
]
ATTR = "sentiment"


def build_gt_folder(root: Path) -> Path:
    job = root / "sentiment"
    (job / "manifests" / "output").mkdir(parents=True)
    (job / "annotation-tool").mkdir(parents=True)
    (job / "annotation-tool" / "data.json").write_bytes(
        orjson.dumps({"document-version": "2018-11-28", "labels": [{"label": x} for x in LABELS]}))
    lines = []
    for i, (text, answers, label, confidence) in enumerate(RECORDS):
        if answers:
            folder = job / "annotations" / "worker-response" / "iteration-1" / str(i)
            folder.mkdir(parents=True)
            folder.joinpath("2026-12-01_10:00:00.json").write_bytes(orjson.dumps({"answers": [
                {"answerContent": {"crowd-classifier": {"label": name}}, "workerId": worker,
                 "submissionTime": "2026-12-01T10:00:00Z", "acceptanceTime": "2026-12-01T09:59:50Z",
                 "timeSpentInSeconds": seconds}
                for worker, name, seconds in answers]}))
        meta = {"job-name": "labeling-job/sentiment", "human-annotated": "yes",
                "creation-date": "2026-12-01T10:00:01.000000", "type": "groundtruth/text-classification"}
        obj = {"source": text}
        if label is None:
            obj[ATTR + "-metadata"] = {"failure-reason": "No worker answered this object", **meta}
        else:
            obj[ATTR] = label
            obj[ATTR + "-metadata"] = {"confidence": confidence, "class-name": LABELS[label], **meta}
        lines.append(orjson.dumps(obj))
    (job / "manifests" / "output" / "output.manifest").write_bytes(b"\n".join(lines) + b"\n")
    return job


# Three workers' answers on RECORDS (None: declined).
VOTES = {"ann": [0, 2, 1, 0, None, 0], "bob": [0, 0, 1, 1, None, 0], "cy": [0, 1, 2, 0, None, 2]}


def label_job(root: Path, lines: bytes, votes: dict, task: str = "text-classification") -> Path:
    """The job `sentiment` on the input `lines`, labeled through the Session by each worker in
    `votes` (worker -> answers in order: a label, a list for multi-label, None declines)."""
    from tuilabel.core.data.manifest import Manifest
    from tuilabel.core.gt.job import JobFolder, JobSpec
    from tuilabel.core.session import Session

    manifest = root / "in.manifest"
    manifest.write_bytes(lines)
    for worker, labels in votes.items():
        spec = JobSpec("sentiment", ATTR, task, tuple(LABELS), str(manifest), str(root), worker)
        session = Session(spec, JobFolder(root / "sentiment"), Manifest(manifest)).open()
        try:
            for label in labels:
                if label is None:
                    session.decline()
                else:
                    session.answer(label)
        finally:
            session.close()
    return root / "sentiment"


def build_tuilabel_job(root: Path) -> Path:
    return label_job(root, b"".join(orjson.dumps({"source": r[0]}) + b"\n" for r in RECORDS), VOTES)
