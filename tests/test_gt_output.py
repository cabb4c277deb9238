"""Output lines byte-checked against the GT spec (§2) and against real GT output files."""

from __future__ import annotations

import re

import orjson
import pytest

from engine_helpers import open_session, write_manifest

DATE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}$")


def _lines(session):
    return session.folder.output_manifest.read_bytes().split(b"\n")


def test_single_label_line_bytes(tmp_path):
    m = write_manifest(tmp_path / "in.jsonl", [{"source": "héllo = & '", "id": 7, "nested": {"a": [1, 2.5]}}])
    s = open_session(m, labels=("pos", "neg"), name="My-Job")
    s.answer(1)
    raw = _lines(s)
    s.close()
    assert raw[-1] == b""  # LF-terminated
    line = raw[0]
    assert b" " not in line.replace(b"h\xc3\xa9llo = & '", b"")  # compact: no spaces outside data
    assert "héllo".encode() in line  # raw UTF-8, not \u escapes
    obj = orjson.loads(line)
    assert list(obj)[:3] == ["source", "id", "nested"]  # input keys first, unchanged
    assert obj["source"] == "héllo = & '" and obj["nested"] == {"a": [1, 2.5]}
    assert obj["My-Job"] == 1 and type(obj["My-Job"]) is int
    meta = obj["My-Job-metadata"]
    assert meta["class-name"] == "neg"
    assert meta["job-name"] == "labeling-job/my-job"
    assert meta["human-annotated"] == "yes"
    assert meta["confidence"] == 0 and type(meta["confidence"]) is int
    assert meta["type"] == "groundtruth/text-classification"
    assert DATE.match(meta["creation-date"])
    assert set(meta) == {"class-name", "job-name", "human-annotated", "confidence", "type", "creation-date"}


def test_multilabel_line(tmp_path):
    m = write_manifest(tmp_path / "in.jsonl", [{"source-ref": "a.jpg"}])
    s = open_session(m, task="image-classification-multilabel", labels=("a", "b", "c"))
    s.answer([2, 0])
    obj = orjson.loads(_lines(s)[0])
    s.close()
    assert obj["job1"] == [0, 2]
    meta = obj["job1-metadata"]
    assert meta["class-map"] == {"0": "a", "2": "c"}
    assert meta["confidence-map"] == {"0": 0, "2": 0}
    assert meta["type"] == "groundtruth/image-classification-multilabel"
    assert set(meta) == {"class-map", "confidence-map", "job-name", "human-annotated", "type", "creation-date"}


def test_declined_line_has_failure_reason_and_no_label(tmp_path):
    m = write_manifest(tmp_path / "in.jsonl", [{"source": "x"}])
    s = open_session(m)
    s.decline()
    obj = orjson.loads(_lines(s)[0])
    s.close()
    assert "job1" not in obj
    assert "failure-reason" in obj["job1-metadata"]
    assert DATE.match(obj["job1-metadata"]["creation-date"])


def test_existing_attribute_is_replaced_not_duplicated(tmp_path):
    m = write_manifest(tmp_path / "in.jsonl", [{"source": "x", "job1": 5, "job1-metadata": {"old": True}}])
    s = open_session(m)
    s.answer(0)
    line = _lines(s)[0]
    s.close()
    assert line.count(b'"job1"') == 1 and orjson.loads(line)["job1"] == 0


@pytest.mark.parametrize("task, real", [
    ("image-classification", "gt-birds/output.manifest"),
    ("text-classification", "gt-samples/text-classification-doc.output.manifest"),
    ("text-classification-multilabel", "gt-samples/text-classification-multilabel-comprehend.output.manifest"),
])
def test_same_shape_as_real_gt_output(tmp_path, shared_data, task, real):
    """Our metadata has the same keys and value types as GT's own lines for the task."""
    gt_line = orjson.loads((shared_data / real).read_bytes().splitlines()[0])
    attr = next(k for k in gt_line if k + "-metadata" in gt_line)
    gt_meta = gt_line[attr + "-metadata"]
    m = write_manifest(tmp_path / "in.jsonl", [{"source-ref" if task.startswith("image") else "source": "x"}])
    s = open_session(m, task=task, labels=tuple(f"l{i}" for i in range(10)))
    s.answer([1, 5] if task.endswith("multilabel") else 3)
    ours = orjson.loads(_lines(s)[0])
    s.close()
    meta = ours["job1-metadata"]
    assert set(meta) == set(gt_meta)
    assert type(ours["job1"]) is type(gt_line[attr])
    for key in meta:
        assert type(meta[key]) in (type(gt_meta[key]), int, float) if key.startswith("confidence") else type(meta[key]) is type(gt_meta[key])
    assert meta["type"] == gt_meta["type"]
