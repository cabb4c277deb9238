"""`tuilabel stats` against counts computed here independently (plain json, line by line),
on every real GT file in ../shared/data and on generated edge cases of the fast path."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import orjson
import pytest

from test_check import make_job
from tuilabel.core.quality.stats import CONFIDENCE_BINS, compute

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
REAL_FILES = sorted(SHARED.glob("gt-samples/*.manifest")) + [SHARED / "gt-birds" / "output.manifest"]


def independent(path: Path) -> dict:
    """attr -> {type, records, labeled, failed, classes, confidences, boxes}, the slow obvious way."""
    out: dict = {}
    for raw in path.read_text(encoding="utf-8-sig").splitlines():
        if not raw.strip():
            continue
        obj = json.loads(raw)
        for key, meta in obj.items():
            if not (key.endswith("-metadata") and isinstance(meta, dict) and "type" in meta):
                continue
            attr = key[: -len("-metadata")]
            a = out.setdefault(
                attr,
                {"type": meta["type"], "records": 0, "labeled": 0, "failed": 0, "classes": Counter(),
                 "confidences": 0, "boxes": 0},
            )
            a["records"] += 1
            if "failure-reason" in meta:
                a["failed"] += 1
                continue
            if attr not in obj:
                continue
            a["labeled"] += 1
            value = obj[attr]
            kind = meta["type"].split("/")[-1]
            if kind == "object-detection":
                for ann in value["annotations"]:
                    a["classes"][meta["class-map"].get(str(ann["class_id"]), str(ann["class_id"]))] += 1
                a["boxes"] += len(value["annotations"])
                a["confidences"] += len(meta.get("objects", []))
            elif kind.endswith("multilabel"):
                for i in value:
                    a["classes"][meta["class-map"][str(i)]] += 1
                a["confidences"] += len(meta.get("confidence-map", {}))
            elif kind == "text-span":
                for ent in value["annotations"]["entities"]:
                    a["classes"][ent["label"]] += 1
                a["confidences"] += len(meta.get("entities", []))
            elif kind == "semantic-segmentation":
                for idx, entry in meta["internal-color-map"].items():
                    if idx != "0":
                        a["classes"][entry["class-name"]] += 1
                        a["confidences"] += 1
            else:
                a["classes"][meta["class-name"]] += 1
                a["confidences"] += "confidence" in meta
    return out


def assert_matches(stats, expected: dict) -> None:
    got = {a.name: a for a in stats.attributes}
    assert set(got) == set(expected)
    for name, exp in expected.items():
        a = got[name]
        assert a.task_type == exp["type"]
        assert (a.records, a.labeled, a.failed) == (exp["records"], exp["labeled"], exp["failed"]), name
        assert a.classes == dict(exp["classes"]), name
        assert a.confidence_values == exp["confidences"] == sum(a.confidence), name
        assert a.boxes == exp["boxes"], name
        if a.boxes_per_image:
            assert sum(k * v for k, v in a.boxes_per_image.items()) == a.boxes
            assert sum(a.boxes_per_image.values()) == a.labeled


@pytest.mark.parametrize("path", REAL_FILES, ids=lambda p: p.name)
def test_real_gt_files(path):
    if not SHARED.is_dir():
        pytest.skip(f"real Ground Truth files not found at {SHARED} (../shared/data)")
    stats = compute(path)
    expected = independent(path)
    assert stats.lines == sum(1 for line in path.read_bytes().splitlines() if line.strip())
    assert stats.invalid_lines == 0
    assert_matches(stats, expected)
    print(f"\n{path.name}: " + "; ".join(
        f"{a.name} {a.kind} labeled {a.labeled} failed {a.failed} classes {len(a.classes)}" for a in stats.attributes
    ))


def test_real_task_types_are_all_covered():
    if not SHARED.is_dir():
        pytest.skip(f"real Ground Truth files not found at {SHARED} (../shared/data)")
    kinds = {a.kind for p in REAL_FILES for a in compute(p).attributes}
    assert kinds >= {
        "image-classification", "object-detection", "semantic-segmentation", "text-span",
        "text-classification", "text-classification-multilabel",
    }
    chained = compute(SHARED / "gt-samples" / "object-detection-chained-adjustment.output.manifest")
    assert len(chained.attributes) == 2
    assert sum(chained.attributes[1].adjustment.values()) == chained.attributes[1].labeled
    birds = compute(SHARED / "gt-birds" / "output.manifest")
    assert sum(birds.attributes[0].classes.values()) == 302
    assert len(birds.attributes[0].classes) == 10


def test_fast_path_edge_cases(tmp_path):
    """Lines that the regex-and-Counter path could get wrong: escaped quotes and `\\u003d` in
    sources, other key orders, failures, CRLF, a BOM, blank and broken lines, identical
    lines, many chunks."""
    meta = lambda name, conf: {"confidence": conf, "class-name": name, "type": "groundtruth/image-classification",
                               "job-name": "labeling-job/x", "human-annotated": "yes",
                               "creation-date": "2024-01-01T00:00:00.000001"}
    lines = []
    for i in range(30_000):
        name = ["a", "b", "c"][i % 3]
        obj = {"source-ref": f's3://b/k\\"{i}\u003d.jpg', "x": i % 3, "x-metadata": meta(name, (i % 11) / 10)}
        if i % 7 == 0:
            obj = {"x-metadata": meta(name, 0.5), "x": i % 3, "source": f'he said "hi" {i} \\ ok'}
        if i % 13 == 0:
            obj = {"source-ref": f"s3://b/{i}.jpg", "x-metadata": {"failure-reason": f"declined {i % 2}",
                                                                  "type": "groundtruth/image-classification"}}
        lines.append(orjson.dumps(obj))
    lines.append(lines[-1])
    raw = b"\xef\xbb\xbf" + b"\r\n".join(lines[:100]) + b"\r\n\n" + b"\n".join(lines[100:]) + b"\n"
    path = tmp_path / "edge.manifest"
    path.write_bytes(raw)
    expected = independent(path)
    stats = compute(path)
    assert_matches(stats, expected)
    assert stats.lines == len(lines)
    assert stats.attributes[0].failure_reasons == {
        "declined 0": sum(1 for i in range(30_000) if i % 13 == 0 and i % 2 == 0),
        "declined 1": sum(1 for i in range(30_000) if i % 13 == 0 and i % 2 == 1),
    }
    broken = tmp_path / "broken.manifest"
    broken.write_bytes(lines[1] + b"\n{not json\n[1]\n" + lines[2] + b"\n")
    stats = compute(broken)
    assert (stats.lines, stats.invalid_lines, stats.attributes[0].labeled) == (4, 2, 2)


def test_confidence_histogram_bins(tmp_path):
    confs = [0, 0.05, 0.1, 0.55, 0.95, 1.0, 0.99]
    path = tmp_path / "c.manifest"
    path.write_bytes(b"".join(
        orjson.dumps({"source": str(i), "t": 0, "t-metadata": {"confidence": c, "class-name": "A",
                                                               "type": "groundtruth/text-classification"}}) + b"\n"
        for i, c in enumerate(confs)
    ))
    (a,) = compute(path).attributes
    assert len(a.confidence) == CONFIDENCE_BINS
    assert a.confidence == [2, 1, 0, 0, 0, 1, 0, 0, 0, 3]


def test_job_folder_timing_and_workers(tmp_path):
    root = make_job(tmp_path, answers=[0, 1, 1, 0, 1, 1], declines=2, workers=("alice", "bob"), step_seconds=60)
    stats = compute(root)
    assert stats.kind == "job"
    (a,) = stats.attributes
    assert (a.records, a.labeled, a.failed) == (8, 6, 2)
    assert a.classes == {"Yes": 2, "No": 4}
    t = stats.timing
    assert t.answers == 8 and t.declined == 2 and t.submissions == 8
    assert t.workers == {"alice": 4, "bob": 4}
    assert t.first == "2024-05-01T09:00:00Z"
    assert t.last == "2024-05-01T09:07:48Z"  # shown at 7 min, submitted 48 s later
    assert t.span_seconds == 468
    assert t.labels_per_hour == round(8 / (468 / 3600), 1)
    assert t.median_seconds == 48
    assert t.total_seconds == 8 * 48


def test_relabel_counts_latest_answer_only(tmp_path):
    from tuilabel.core.gt.job import JobFolder
    from tuilabel.core.store.journal import Entry

    root = make_job(tmp_path, answers=[0, 0, 0])
    journal = JobFolder(root).journal("alice")
    last = Entry.from_line(journal.read_bytes().splitlines()[-1])
    last.gt["pets"] = 1
    last.gt["pets-metadata"]["class-name"] = "No"
    with open(journal, "ab") as fh:
        fh.write(last.to_line())
    stats = compute(root)
    assert stats.attributes[0].classes == {"Yes": 2, "No": 1}
    assert stats.timing.answers == 3 and stats.timing.submissions == 4


def test_cli(tmp_path):
    root = make_job(tmp_path, answers=[0, 1, 1])
    run = lambda *a: subprocess.run([sys.executable, "-m", "tuilabel", "stats", *a], capture_output=True,
                                     text=True, cwd=REPO, timeout=60)
    result = run(str(root), "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["attributes"][0]["classes"] == {"Yes": 1, "No": 2}
    assert data["timing"]["workers"] == {"alice": 3}
    result = run(str(root))
    assert result.returncode == 0 and "label distribution" in result.stdout and "labels per hour" in result.stdout
    result = run(str(tmp_path / "nothing"))
    assert result.returncode == 2 and "does not exist" in result.stderr and "Traceback" not in result.stderr
    result = run(str(tmp_path))
    assert result.returncode == 2 and "neither a tuilabel job folder" in result.stderr
