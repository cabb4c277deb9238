"""Bounding-box answers through the session: GT's object-detection line, key for key and type
for type as in real GT files; zero boxes; undo and relabel bring the boxes back; bad boxes are
refused with one line and nothing is lost."""

from __future__ import annotations

import orjson
import pytest

from tuilabel.core.errors import UserError
from tuilabel.core.gt.box_answer import Box, BoxAnswer
from tuilabel.core.session import State

from engine_helpers import open_session, output_lines, write_manifest

GT_FILES = ("object-detection-cats.output.manifest", "object-detection-multiworker.output.manifest",
            "object-detection-chained-adjustment.output.manifest")


def _box_session(tmp_path, n=3, labels=("Cat", "Dog")):
    manifest = write_manifest(tmp_path / "in.jsonl", [{"source-ref": f"{i:03}.jpg"} for i in range(n)])
    return open_session(manifest, task="bounding-box", labels=labels, name="cats")


def _shape(value):
    """The structure of a JSON value: keys and types (a map keyed by class number, like
    class-map, by the type of its entries only)."""
    if isinstance(value, dict):
        if value and all(k.isdigit() for k in value):
            return {"<n>": _shape(next(iter(value.values())))}
        return {k: _shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_shape(value[0])] if value else []
    return type(value).__name__


def test_boxes_are_written_as_gt_writes_them_and_match_real_files(tmp_path, shared_data):
    s = _box_session(tmp_path)
    s.answer(BoxAnswer(601, 453, (Box(0, 237, 165, 164, 157), Box(1, 10, 20, 30, 40))))
    s.answer(BoxAnswer(601, 453))  # zero boxes: a valid answer
    s.close()
    ours = output_lines(s)
    assert ours[0]["cats"] == {
        "image_size": [{"width": 601, "height": 453, "depth": 3}],
        "annotations": [{"class_id": 0, "top": 165, "left": 237, "height": 157, "width": 164},
                        {"class_id": 1, "top": 20, "left": 10, "height": 40, "width": 30}],
    }
    meta = ours[0]["cats-metadata"]
    assert meta["objects"] == [{"confidence": 0}, {"confidence": 0}]
    assert meta["class-map"] == {"0": "Cat", "1": "Dog"}
    assert meta["type"] == "groundtruth/object-detection" and meta["job-name"] == "labeling-job/cats"
    assert ours[1]["cats"]["annotations"] == [] and ours[1]["cats-metadata"]["class-map"] == {}
    assert ours[1]["cats-metadata"]["objects"] == []

    # Real single-worker lines (cats; the chained job's first attribute): same keys, same types.
    for name, attr in (("object-detection-cats.output.manifest", "cat-ground-truth"),
                       ("object-detection-chained-adjustment.output.manifest", "suneung-korean-layout-detection-v2")):
        real = [orjson.loads(x) for x in (shared_data / "gt-samples" / name).read_bytes().splitlines()]
        with_boxes = next(o for o in real if o[attr]["annotations"])
        assert _shape(ours[0]["cats"]) == _shape(with_boxes[attr]), name
        theirs_meta = {k: v for k, v in with_boxes[attr + "-metadata"].items() if k != "adjustment-status"}
        if name.startswith("object-detection-cats"):
            # GT wrote 0.09 for this 2019 single-worker job; today's single-worker lines (the
            # chained job, 2025) write the integer 0, as tuilabel does.
            theirs_meta["objects"] = [{"confidence": 0} for _ in theirs_meta["objects"]]
        assert _shape(meta) == _shape(theirs_meta), name
        if name.startswith("object-detection-cats"):
            empty = next(o for o in real if not o[attr]["annotations"])
            assert _shape(ours[1]["cats"]) == _shape(empty[attr])
            assert _shape(ours[1]["cats-metadata"]) == _shape(empty[attr + "-metadata"])


@pytest.mark.parametrize("name", GT_FILES)
def test_every_real_object_detection_line_reads_as_boxes(shared_data, name):
    lines = (shared_data / "gt-samples" / name).read_bytes().splitlines()
    read = 0
    for raw in lines:
        obj = orjson.loads(raw)
        for key, meta in obj.items():
            if key.endswith("-metadata") and meta.get("type") == "groundtruth/object-detection":
                value = obj[key[: -len("-metadata")]]
                answer = BoxAnswer.from_gt(value)
                assert len(answer.boxes) == len(value["annotations"]) == len(meta["objects"])
                assert set(meta["class-map"]) == {str(b.class_id) for b in answer.boxes}
                read += 1
    assert read >= len(lines)


def test_undo_brings_the_boxes_back_and_a_relabel_wins(tmp_path):
    s = _box_session(tmp_path)
    first = BoxAnswer(50, 40, (Box(0, 1, 2, 3, 4),))
    s.answer(first)
    assert s.back() and s.state is State.REVIEWING
    assert BoxAnswer.from_gt(s.current_answer.gt["cats"]) == first
    edited = BoxAnswer(50, 40, (Box(1, 1, 2, 3, 4), Box(0, 0, 0, 50, 40)))
    s.answer(edited)
    assert s.state is State.LABELING and s.current.index == 1
    assert s.label_counts == [1, 1]  # per box, latest answer only
    s.answer(BoxAnswer(50, 40))
    s.answer(BoxAnswer(50, 40))
    path = s.finish()
    s.close()
    lines = [orjson.loads(x) for x in path.read_bytes().splitlines()]
    assert BoxAnswer.from_gt(lines[0]["cats"]) == edited


def test_boxes_survive_a_restart(tmp_path):
    s = _box_session(tmp_path)
    s.answer(BoxAnswer(50, 40, (Box(1, 5, 5, 10, 10),)))
    s.close()
    again = _box_session(tmp_path)
    assert again.current.index == 1
    assert again.back()
    assert BoxAnswer.from_gt(again.current_answer.gt["cats"]).boxes == (Box(1, 5, 5, 10, 10),)
    again.close()


@pytest.mark.parametrize(("answer", "message"), [
    (BoxAnswer(50, 40, (Box(0, 45, 5, 10, 10),)), "box 1 (45,5 10×10) lies outside the 50×40 image"),
    (BoxAnswer(50, 40, (Box(0, -1, 5, 10, 10),)), "lies outside"),
    (BoxAnswer(50, 40, (Box(0, 5, 5, -3, 10),)), "box 1: size -3×10; a box is at least 1×1 pixel"),
    (BoxAnswer(50, 40, (Box(0, 1, 1, 2, 2), Box(7, 5, 5, 3, 3))), "box 2: label number 8 out of range 1-2"),
    (3, "this job takes boxes"),
])
def test_bad_boxes_are_refused_with_one_line_and_nothing_is_lost(tmp_path, answer, message):
    s = _box_session(tmp_path)
    s.answer(BoxAnswer(50, 40, (Box(0, 1, 1, 2, 2),)))
    with pytest.raises(UserError, match=message.replace("(", r"\(").replace(")", r"\)")):
        s.answer(answer)
    assert s.current.index == 1 and len(output_lines(s)) == 1
    s.close()


def test_a_classification_job_refuses_boxes(tmp_path):
    manifest = write_manifest(tmp_path / "in.jsonl", [{"source-ref": "a.jpg"}])
    s = open_session(manifest, task="image-classification", labels=("a", "b"))
    with pytest.raises(UserError, match="one label per record"):
        s.answer(BoxAnswer(5, 5))
    s.close()


def _tl(*args, cwd=None):
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-m", "tuilabel", *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=60)


def test_box_jobs_from_the_command_line(tmp_path):
    # One class is enough for boxes ("Cat"); init writes a job file that label accepts.
    proc = _tl("init", tmp_path / "job.toml", "--task", "bounding-box", "--labels", "Cat", "--input", "in.jsonl")
    assert proc.returncode == 0, proc.stderr
    assert 'task = "bounding-box"' in (tmp_path / "job.toml").read_text()
    (tmp_path / "in.jsonl").write_text('{"source-ref":"a.jpg"}\n')
    # Over GT's 50 labels, and --multi on a box job: one line each, exit 2.
    labels = ",".join(f"c{i}" for i in range(51))
    for args, needle in (((("--labels", labels)), "51 labels, over GT's limit of 50 for bounding boxes"),
                         (("--labels", "Cat", "--multi"), "--multi is for classification")):
        proc = _tl("label", tmp_path / "in.jsonl", "--task", "bounding-box", *args, cwd=tmp_path)
        assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1 and needle in proc.stderr, proc.stderr


def test_consolidating_a_one_worker_box_job_keeps_its_output(tmp_path):
    """Box consolidation (gt/box_consolidation.py) of one worker's answer gives that answer back."""
    s = _box_session(tmp_path)
    s.answer(BoxAnswer(50, 40, (Box(1, 5, 5, 10, 10),)))
    s.close()
    before = [orjson.loads(line) for line in s.folder.output_manifest.read_bytes().splitlines()]
    for args in (("consolidate", "cats"), ("export", "cats", "--format", "gt-responses")):
        proc = _tl(*args, cwd=tmp_path)
        assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    after = [orjson.loads(line) for line in s.folder.output_manifest.read_bytes().splitlines()]
    assert [line["cats"] for line in after[:1]] == [line["cats"] for line in before[:1]]
    assert after[0]["cats-metadata"]["objects"] == [{"confidence": 0}]
