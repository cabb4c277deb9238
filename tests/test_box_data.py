"""Bounding-box data: GT's object-detection lines read and written, box consolidation (on
synthetic crowds with known truth and against a plain-Python statement of the method), and
`consolidate`, `export --format coco|yolo` and `check` on box data as a user runs them."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import orjson
import pytest

from engine_helpers import open_session
from test_cli import assert_one_line_error, tl
from tuilabel.core.gt.box_answer import Box, BoxAnswer
from tuilabel.core.gt.box_consolidation import BoxAnswers, consolidate_boxes
from tuilabel.core.gt.box_lines import box_attributes, read_box_label
from tuilabel.core.gt.job import label_category_file

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
from box_consolidate_python import consolidate_image, iou  # noqa: E402
from synthetic_boxes import make_box_crowd  # noqa: E402

REAL = "object-detection-*.output.manifest"


def lines_of(path: Path) -> list[dict]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]


def real_files(shared_data: Path) -> list[Path]:
    files = sorted((shared_data / "gt-samples").glob(REAL))
    assert len(files) >= 3, "the object-detection samples listed in shared/data/README.md"
    return files


def shape(value):
    """A JSON value's shape: its keys (recursively) and types; int and float are one type,
    numbers, as GT writes both (whole pixels as ints, averages as floats)."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [shape(v) for v in value[:1]]
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    return type(value).__name__


# --- reading GT's real files -----------------------------------------------------------------


def test_every_real_object_detection_line_reads_without_a_problem(shared_data):
    seen = 0
    for path in real_files(shared_data):
        for n, obj in enumerate(lines_of(path), 1):
            attrs = box_attributes(obj)
            assert attrs, f"{path.name} line {n}"
            for attr in attrs:
                problems: list[str] = []
                label = read_box_label(obj[attr], obj[attr + "-metadata"], f"{path.name}:{n}", problems)
                assert problems == [] and label is not None and label.image_size is not None
                assert len(label.boxes) == len(obj[attr]["annotations"]) == len(obj[attr + "-metadata"]["objects"])
                seen += len(label.boxes)
    assert seen > 5000
    for n, obj in enumerate(lines_of(shared_data / "gt-samples" / "object-detection-cats.input.manifest"), 1):
        assert box_attributes(obj) == [] and "source-ref" in obj


def _responses_from(real: list[dict], attr: str, root: Path, workers: int = 1, jitter: float = 0.0) -> tuple[list[str], Path]:
    """A GT job folder whose `boundingBox` worker responses hold the real line's boxes (by
    `workers` workers, the k-th shifted by k*jitter pixels), its input manifest and labels."""
    names: dict[int, str] = {}
    for obj in real:
        names.update({int(k): v for k, v in obj[attr + "-metadata"]["class-map"].items()})
    labels = [names.get(i, f"unused-{i}") for i in range(max(names) + 1)]
    (root / "manifests" / "output").mkdir(parents=True)
    (root / "manifests" / "output" / "output.manifest").write_text("".join(json.dumps({"source-ref": o["source-ref"]}) + "\n" for o in real))
    (root / "annotation-tool").mkdir()
    (root / "annotation-tool" / "data.json").write_bytes(label_category_file(labels))
    for i, obj in enumerate(real):
        size = obj[attr]["image_size"][0]
        answers = []
        for w in range(workers):
            boxes = [
                {"label": labels[a["class_id"]], "left": a["left"] + w * jitter, "top": a["top"], "width": a["width"], "height": a["height"]}
                for a in obj[attr]["annotations"]
            ]
            answers.append(
                {
                    "answerContent": {"boundingBox": {"boundingBoxes": boxes, "inputImageProperties": {"width": size["width"], "height": size["height"]}}},
                    "submissionTime": f"2026-12-02T10:00:0{w}Z",
                    "workerId": f"worker-{w}",
                }
            )
        folder = root / "annotations" / "worker-response" / "iteration-1" / str(i)
        folder.mkdir(parents=True)
        (folder / "2026-12-02_10:00:09.json").write_text(json.dumps({"answers": answers}))
    return labels, root


@pytest.mark.parametrize("name", ["cats", "multiworker", "chained-adjustment"])
def test_real_lines_round_trip_through_consolidate_key_for_key(shared_data, tmp_path, name):
    """GT's boxes as one worker's responses -> `tuilabel consolidate` -> the same boxes, in a
    line of the same shape, key for key and type for type, as GT's own."""
    real = lines_of(shared_data / "gt-samples" / f"object-detection-{name}.output.manifest")
    attr = box_attributes(real[0])[0]
    _, root = _responses_from(real, attr, tmp_path / "job")
    out = tmp_path / "out.manifest"
    proc = tl("consolidate", root, "--attribute", attr, "-o", out)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    ours = lines_of(out)
    assert len(ours) == len(real)
    for mine, theirs in zip(ours, real):
        assert list(mine) == ["source-ref", attr, attr + "-metadata"]
        assert mine[attr]["image_size"][0]["width"] == theirs[attr]["image_size"][0]["width"]
        assert shape(mine[attr]) == shape(theirs[attr]) or not theirs[attr]["annotations"]
        assert set(mine[attr]) == set(theirs[attr])
        assert set(mine[attr + "-metadata"]) == set(theirs[attr + "-metadata"]) - {"adjustment-status"}
        meta_shape = shape(mine[attr + "-metadata"])
        assert meta_shape == {k: v for k, v in shape(theirs[attr + "-metadata"]).items() if k in meta_shape} or not theirs[attr]["annotations"]
        assert mine[attr]["annotations"] == [
            {k: a[k] for k in ("class_id", "top", "left", "height", "width")} for a in theirs[attr]["annotations"]
        ]  # one worker: the boxes exactly, ints stay ints and floats floats
        assert mine[attr + "-metadata"]["objects"] == [{"confidence": 0}] * len(theirs[attr]["annotations"])
        assert mine[attr + "-metadata"]["class-map"] == {
            str(a["class_id"]): theirs[attr + "-metadata"]["class-map"][str(a["class_id"])] for a in theirs[attr]["annotations"]
        }
        assert mine[attr + "-metadata"]["type"] == "groundtruth/object-detection"
    assert b'"confidence":0}' in out.read_bytes() or not any(o[attr]["annotations"] for o in real)


def test_three_workers_on_a_real_file_give_its_boxes_with_a_confidence(shared_data, tmp_path):
    real = lines_of(shared_data / "gt-samples" / "object-detection-cats.output.manifest")
    _, root = _responses_from(real, "cat-ground-truth", tmp_path / "job", workers=3, jitter=2)
    out = tmp_path / "out.manifest"
    proc = tl("consolidate", root, "--attribute", "cat-ground-truth", "--json", "-o", out)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["workers"] == 3 and report["boxes_kept"] == 4 and report["problems"] == []
    for mine, theirs in zip(lines_of(out), real):
        got = mine["cat-ground-truth"]["annotations"]
        assert [a["left"] for a in got] == [a["left"] + 2 for a in theirs["cat-ground-truth"]["annotations"]]  # mean of +0, +2, +4
        assert all(0.9 < o["confidence"] < 1 for o in mine["cat-ground-truth-metadata"]["objects"])


# --- consolidation -----------------------------------------------------------------------------


def _per_image(answers: BoxAnswers) -> dict[int, list[list]]:
    out: dict[int, dict[int, list]] = {}
    for img, w in zip(answers.answer_image.tolist(), answers.answer_worker.tolist()):
        out.setdefault(img, {})[w] = []
    for row, c, xy in zip(answers.box_answer.tolist(), answers.box_class.tolist(), answers.box_ltwh.tolist()):
        out[int(answers.answer_image[row])][int(answers.answer_worker[row])].append((c, tuple(xy)))
    return {img: [by_worker[w] for w in sorted(by_worker)] for img, by_worker in out.items()}


@pytest.mark.parametrize(
    "workers,boxes,seed,integer",
    [(1, 3, 1, False), (2, 4, 2, False), (3, 10, 3, False), (5, 6, 4, False), (9, 2, 5, False),
     (3, 10, 6, True), (5, 8, 7, True)],  # whole pixels: IoU ties, broken the same way
)
def test_vectorised_consolidation_equals_the_plain_python_method(workers, boxes, seed, integer):
    crowd = make_box_crowd(400, workers=workers, boxes=boxes, noise=0.1, miss=0.3, extra=0.4, seed=seed, integer=integer)
    result = consolidate_boxes(crowd.answers)
    per = _per_image(crowd.answers)
    assert result.images.tolist() == sorted(per)
    total = 0
    for img, answers in per.items():
        expected = consolidate_image(answers)
        sel = result.image == img
        got = list(zip(result.box_class[sel].tolist(), result.ltwh[sel].tolist(), result.votes[sel].tolist(), result.confidence[sel].tolist()))
        assert len(got) == len(expected), img
        for (c, xy, v, conf), (ec, exy, ev, econf) in zip(got, expected):
            assert (c, v) == (ec, ev) and np.allclose(xy, exy, rtol=0, atol=1e-9) and abs(conf - econf) < 1e-12
        total += len(expected)
    assert total > 0


def test_workers_who_drew_nothing_count_and_images_with_no_boxes_are_kept():
    # Image 7: three workers, only one drew a box -> dropped (1 of 3). Image 9: nobody drew.
    answers = BoxAnswers(
        np.array([7, 7, 7, 9, 9]), np.array([0, 1, 2, 0, 1], dtype=np.int32), np.array([0]),
        np.array([0], dtype=np.int32), np.array([[1.0, 1, 49, 49]]), ["a", "b", "c"],
    )
    result = consolidate_boxes(answers)
    assert result.images.tolist() == [7, 9] and result.workers_per_image.tolist() == [3, 2]
    assert len(result.image) == 0
    assert result.boxes_by_image() == {7: ([], []), 9: ([], [])}


def _match_to_truth(result, crowd) -> tuple[float, float, float]:
    """(recall, precision, mean IoU of found true boxes) with greedy IoU ≥ 0.5 matching."""
    found = ious = 0.0
    kept = 0
    by_image = {}
    for i, c, xy in zip(result.image.tolist(), result.box_class.tolist(), result.ltwh.tolist()):
        by_image.setdefault(i, []).append((c, xy))
    for i in np.unique(crowd.truth_image).tolist():
        mine = by_image.get(i, [])
        kept += len(mine)
        used = set()
        for c, t in zip(crowd.truth_class[crowd.truth_image == i].tolist(), crowd.truth_ltwh[crowd.truth_image == i].tolist()):
            scores = [(iou(t, xy), k) for k, (mc, xy) in enumerate(mine) if mc == c and k not in used]
            best = max(scores, default=(0, -1))
            if best[0] >= 0.5:
                used.add(best[1])
                found += 1
                ious += best[0]
    n_truth = len(crowd.truth_image)
    return found / n_truth, found / max(kept, 1), ious / max(found, 1)


def test_consolidated_boxes_are_closer_to_the_truth_than_one_worker():
    crowd = make_box_crowd(2000, workers=5, boxes=6, noise=0.06, miss=0.1, extra=0.3, seed=11, integer=False)
    recall, precision, mean_iou = _match_to_truth(consolidate_boxes(crowd.answers), crowd)
    assert recall > 0.97 and precision > 0.97 and mean_iou > 0.9
    # One worker alone (the same answers, worker 0 only): lower IoU, and every stray box kept.
    a = crowd.answers
    mine = a.answer_worker[a.box_answer] == 0
    alone = BoxAnswers(a.answer_image[a.answer_worker == 0], a.answer_worker[a.answer_worker == 0] * 0,
                       np.searchsorted(np.flatnonzero(a.answer_worker == 0), a.box_answer[mine]),
                       a.box_class[mine], a.box_ltwh[mine], ["w0"])
    r1, p1, iou1 = _match_to_truth(consolidate_boxes(alone), crowd)
    assert mean_iou > iou1 + 0.03 and precision > p1 + 0.02 and recall > r1


def test_confidence_follows_agreement():
    # Three workers: box A drawn identically by all, box B by two of three, loosely.
    a, b = (10.0, 10, 100, 100), (300.0, 300, 100, 100)
    b2 = (310.0, 305, 100, 90)
    answers = consolidate_image([[(0, a), (1, b)], [(0, a), (1, b2)], [(0, a)]])
    mean_b = [305, 302.5, 100, 95]
    assert [(c, v, conf) for c, _, v, conf in answers] == [(0, 3, 1.0), (1, 2, (iou(b, mean_b) + iou(b2, mean_b)) / 3)]


# --- consolidate on box jobs ----------------------------------------------------------------


def _box_job(tmp_path: Path, plans: dict[str, dict[int, list | None]], labels=("cat", "dog"), n: int = 4) -> Path:
    """A tuilabel bounding-box job labeled by real sessions: `plans[worker][record]` = boxes
    (class, left, top, width, height) on a 640×480 image, or None for a decline."""
    manifest = tmp_path / "photos.jsonl"
    manifest.write_text("".join(json.dumps({"source-ref": f"img/{i:03}.jpg"}) + "\n" for i in range(n)))
    for worker, plan in plans.items():
        session = open_session(manifest, task="bounding-box", labels=labels, name="photos", worker=worker)
        for i in range(max(plan) + 1):
            if i not in plan:
                session.skip()
            elif plan[i] is None:
                session.decline()
            else:
                session.answer(BoxAnswer(640, 480, tuple(Box(*b) for b in plan[i])))
        session.close()
    return tmp_path / "photos"


def test_tuilabel_box_job_consolidates_in_place(tmp_path):
    cat, dog = (0, 10, 20, 100, 80), (1, 300, 200, 50, 60)
    job = _box_job(
        tmp_path,
        {
            "alice": {0: [cat, dog], 1: [cat], 2: None},
            "bob": {0: [(0, 12, 20, 100, 80), dog], 1: [], 2: None},
            "carol": {0: [(0, 14, 20, 100, 80)], 1: []},
        },
    )
    proc = tl("consolidate", job, "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert (report["lines"], report["consolidated"], report["declined"], report["unanswered"]) == (4, 2, 1, 1)
    lines = lines_of(job / "manifests" / "output" / "output.manifest")
    ann = lines[0]["photos"]["annotations"]
    assert ann == [
        {"class_id": 0, "top": 20, "left": 12, "height": 80, "width": 100},
        {"class_id": 1, "top": 200, "left": 300, "height": 60, "width": 50},
    ]
    conf = [o["confidence"] for o in lines[0]["photos-metadata"]["objects"]]
    assert 0.9 < conf[0] < 1 and conf[1] == 0.67  # dog: 2 of 3 workers, identical boxes
    assert lines[0]["photos-metadata"]["class-map"] == {"0": "cat", "1": "dog"}
    # Record 1: one of three drew the cat: dropped; the line is GT's empty answer.
    assert lines[1]["photos"] == {"image_size": [{"width": 640, "height": 480, "depth": 3}], "annotations": []}
    assert lines[1]["photos-metadata"]["objects"] == [] and lines[1]["photos-metadata"]["class-map"] == {}
    assert lines[2]["photos-metadata"]["failure-reason"].startswith("Declined by every worker")
    assert lines[3]["photos-metadata"]["failure-reason"] == "No worker answered this object"


def test_box_job_exports_gt_responses_that_consolidate_to_the_same_lines(tmp_path):
    job = _box_job(tmp_path, {"alice": {0: [(0, 10, 20, 100, 80)], 1: [(1, 5, 5, 30, 30)]}, "bob": {0: [(0, 10, 22, 100, 80)], 1: []}})
    proc = tl("export", job, "--format", "gt-responses", "-o", tmp_path / "gt")
    assert proc.returncode == 0, proc.stderr
    files = sorted((tmp_path / "gt" / "annotations" / "worker-response" / "iteration-1").glob("*/*.json"))
    first = json.loads(files[0].read_text())["answers"][0]["answerContent"]
    assert first == {"boundingBox": {"boundingBoxes": [{"label": "cat", "left": 10, "top": 20, "width": 100, "height": 80}],
                                     "inputImageProperties": {"width": 640, "height": 480, "depth": 3}}}
    a, b = tmp_path / "a.manifest", tmp_path / "b.manifest"
    assert tl("consolidate", job, "-o", a).returncode == 0
    proc = tl("consolidate", "--responses", tmp_path / "gt", "--input", tmp_path / "photos.jsonl", "--labels", "cat,dog", "--attribute", "photos", "--name", "photos", "-o", b)
    assert proc.returncode == 0, proc.stderr
    strip = lambda line: {**line, "photos-metadata": {k: v for k, v in line["photos-metadata"].items() if k != "creation-date"}}  # noqa: E731
    assert [strip(x) for x in lines_of(a)] == [strip(x) for x in lines_of(b)]


def test_bad_boxes_in_worker_responses_are_one_line_each_and_the_rest_consolidates(shared_data, tmp_path):
    real = lines_of(shared_data / "gt-samples" / "object-detection-cats.output.manifest")
    _, root = _responses_from(real, "cat-ground-truth", tmp_path / "job", workers=2)
    path = next((root / "annotations" / "worker-response" / "iteration-1" / "3").glob("*.json"))
    doc = json.loads(path.read_text())
    bad = doc["answers"][1]["answerContent"]["boundingBox"]
    bad["boundingBoxes"] += [
        {"label": "Cat", "left": 900, "top": 10, "width": 50, "height": 50},  # outside the 601×453 image
        {"label": "Cat", "left": 10, "top": 10, "width": -50, "height": 50},  # negative size
        {"label": "Horse", "left": 10, "top": 10, "width": 50, "height": 50},  # not a label
        {"label": "Cat", "left": 580, "top": 10, "width": 50, "height": 50},  # over the edge: clipped
    ]
    path.write_text(json.dumps(doc))
    path2 = next((root / "annotations" / "worker-response" / "iteration-1" / "2").glob("*.json"))
    doc2 = json.loads(path2.read_text())
    for answer in doc2["answers"]:
        del answer["answerContent"]["boundingBox"]["inputImageProperties"]  # no image size at all
    path2.write_text(json.dumps(doc2))
    path1 = next((root / "annotations" / "worker-response" / "iteration-1" / "1").glob("*.json"))
    doc1 = json.loads(path1.read_text())
    del doc1["answers"][0]["answerContent"]["boundingBox"]["inputImageProperties"]  # the other worker's size serves
    path1.write_text(json.dumps(doc1))
    out = tmp_path / "out.manifest"
    proc = tl("consolidate", root, "--attribute", "cat-ground-truth", "-o", out)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr
    problems = proc.stderr.strip().splitlines()
    assert len(problems) == 7, proc.stderr  # 4 boxes, 2 answers without a size, the line written as failed
    for needle in ("outside the 601×453 image", "negative size", "'Horse' is not in the label list", "clipped to it", "no inputImageProperties", "No image size"):
        assert sum(needle in p for p in problems) >= 1, needle
    assert not any("iteration-1/1/" in p for p in problems)
    lines = lines_of(out)
    # Two workers: a box one of them drew is kept (half), at confidence 0.5; clipped to the image.
    assert lines[3]["cat-ground-truth"]["annotations"] == [
        {"class_id": 0, "top": 56, "left": 104, "height": 397, "width": 356},
        {"class_id": 0, "top": 10, "left": 580, "height": 50, "width": 21},
    ]
    assert lines[3]["cat-ground-truth-metadata"]["objects"] == [{"confidence": 1.0}, {"confidence": 0.5}]
    assert "failure-reason" in lines[2]["cat-ground-truth-metadata"] and "cat-ground-truth" not in lines[2]
    assert lines[1]["cat-ground-truth"]["annotations"][0]["left"] == 237


BOX_HANDLER = '''
import json
from urllib.parse import urlparse


def lambda_handler(event, context):
    """A user's box consolidation: keep the boxes of the worker who drew the most."""
    with open(urlparse(event["payload"]["s3Uri"]).path) as fh:
        payload = json.load(fh)
    with open(__file__ + ".payload.json", "w") as fh:
        json.dump(payload, fh)
    attr, classes = event["labelAttributeName"], event["labelCategories"]
    out = []
    for item in payload:
        answers = [json.loads(a["annotationData"]["content"])["boundingBox"] for a in item["annotations"]]
        best = max(answers, key=lambda a: len(a["boundingBoxes"]))
        size = best["inputImageProperties"]
        out.append({"datasetObjectId": item["datasetObjectId"], "consolidatedAnnotation": {"content": {
            attr: {"image_size": [{"width": size["width"], "height": size["height"], "depth": 3}],
                   "annotations": [{"class_id": classes.index(b["label"]), "left": b["left"], "top": b["top"],
                                    "width": b["width"], "height": b["height"]} for b in best["boundingBoxes"]]},
            attr + "-metadata": {"objects": [{"confidence": 1.0}] * len(best["boundingBoxes"]),
                                 "type": "groundtruth/object-detection", "human-annotated": "yes"}}}})
    return out
'''


def test_a_users_post_annotation_lambda_consolidates_a_box_job(tmp_path):
    """`consolidate --lambda` on a box job: the handler gets GT's payload with each worker's
    boundingBox answer as GT's worker response holds it, and its content is the line."""
    cat, dog = (0, 10, 20, 100, 80), (1, 300, 200, 50, 60)
    job = _box_job(tmp_path, {"alice": {0: [cat, dog], 1: [cat], 2: None}, "bob": {0: [cat], 1: [], 2: None}})
    handler = tmp_path / "box_lambda.py"
    handler.write_text(BOX_HANDLER)
    out = tmp_path / "lambda.manifest"
    proc = tl("consolidate", job, "--lambda", f"{handler}:lambda_handler", "-o", out)
    assert proc.returncode == 0, proc.stderr
    payload = json.loads((tmp_path / "box_lambda.py.payload.json").read_text())
    assert [item["datasetObjectId"] for item in payload] == ["0", "1"]  # record 2: declined by both
    assert payload[0]["dataObject"] == {"s3Uri": "img/000.jpg"}
    alice = next(json.loads(a["annotationData"]["content"]) for a in payload[0]["annotations"] if a["workerId"] == "alice")
    assert alice == {"boundingBox": {"boundingBoxes": [
        {"label": "cat", "left": 10, "top": 20, "width": 100, "height": 80},
        {"label": "dog", "left": 300, "top": 200, "width": 50, "height": 60}],
        "inputImageProperties": {"width": 640, "height": 480, "depth": 3}}}
    lines = lines_of(out)
    assert [a["class_id"] for a in lines[0]["photos"]["annotations"]] == [0, 1]  # alice's two boxes
    assert len(lines[1]["photos"]["annotations"]) == 1
    assert lines[2]["photos-metadata"]["failure-reason"].startswith("Declined by every worker")
    assert "Lambda" not in proc.stderr
    # The same answers as GT's worker-response files: the same payload, the same lines.
    assert tl("export", job, "--format", "gt-responses", "-o", tmp_path / "gt").returncode == 0
    again = tmp_path / "again.manifest"
    proc = tl("consolidate", "--responses", tmp_path / "gt", "--input", tmp_path / "photos.jsonl", "--labels", "cat,dog",
              "--attribute", "photos", "--name", "photos", "--lambda", f"{handler}:lambda_handler", "-o", again)
    assert proc.returncode == 0, proc.stderr
    assert [line.get("photos") for line in lines_of(again)] == [line.get("photos") for line in lines]


def test_box_consolidation_usage_errors(tmp_path):
    job = _box_job(tmp_path, {"alice": {0: [(0, 10, 20, 100, 80)]}})
    assert_one_line_error(tl("consolidate", job, "--method", "majority"), "--method applies to classification")
    assert_one_line_error(tl("consolidate", job, "--iou", "0"), "--iou 0.0")
    assert_one_line_error(tl("review", job), "is a bounding-box job: review shows classification answers only")


# --- export: COCO and YOLO ----------------------------------------------------------------------


def test_coco_export_of_every_real_file_loads_in_pycocotools(shared_data, tmp_path):
    from pycocotools.coco import COCO

    for path in real_files(shared_data):
        real = lines_of(path)
        attr = box_attributes(real[0])[-1]
        dest = tmp_path / f"{path.stem}.json"
        proc = tl("export", path, "--format", "coco", "--attribute", attr, "-o", dest)
        assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
        coco = COCO(str(dest))
        assert len(coco.getImgIds()) == len(real)
        assert len(coco.getAnnIds()) == sum(len(o[attr]["annotations"]) for o in real)
        names = {}
        for o in real:
            names.update(o[attr + "-metadata"]["class-map"])
        assert {c["id"] - 1: c["name"] for c in coco.loadCats(coco.getCatIds()) if str(c["id"] - 1) in names} == {int(k): v for k, v in names.items()}
        for line, obj in enumerate(real, 1):
            img = coco.loadImgs(line)[0]
            assert (img["file_name"], img["width"], img["height"]) == (obj["source-ref"], obj[attr]["image_size"][0]["width"], obj[attr]["image_size"][0]["height"])
            anns = coco.loadAnns(coco.getAnnIds(imgIds=[line]))
            assert [a["bbox"] for a in anns] == [[a["left"], a["top"], a["width"], a["height"]] for a in obj[attr]["annotations"]]
            assert [a["category_id"] - 1 for a in anns] == [a["class_id"] for a in obj[attr]["annotations"]]
            assert all(abs(a["area"] - a["bbox"][2] * a["bbox"][3]) < 1e-9 for a in anns)


def test_yolo_export_of_a_real_file(shared_data, tmp_path):
    path = shared_data / "gt-samples" / "object-detection-chained-adjustment.output.manifest"
    real = lines_of(path)
    attr = "suneung-korean-layout-detection-v2-chain"
    dest = tmp_path / "yolo"
    proc = tl("export", path, "--format", "yolo", "--attribute", attr, "-o", dest)
    assert proc.returncode == 0, proc.stderr
    assert (dest / "classes.txt").read_text().splitlines() == ["header", "passage", "question_block", "question_number", "figure", "footer"]
    first = real[0]
    size = first[attr]["image_size"][0]
    rows = (dest / "2016국어_A형_짝수_page_00.txt").read_text().splitlines()
    assert len(rows) == len(first[attr]["annotations"]) and len(list(dest.glob("*.txt"))) == len(real) + 1
    for row, a in zip(rows, first[attr]["annotations"]):
        c, cx, cy, w, h = row.split()
        assert int(c) == a["class_id"]
        assert abs(float(cx) * size["width"] - (a["left"] + a["width"] / 2)) < 0.01 * size["width"] / 1000 + 1e-3 * size["width"]
        assert abs(float(w) - a["width"] / size["width"]) < 1e-6 and abs(float(h) - a["height"] / size["height"]) < 1e-6
        assert 0 <= float(cy) <= 1


def test_coco_and_yolo_of_a_box_job(tmp_path):
    from pycocotools.coco import COCO

    job = _box_job(tmp_path, {"alice": {0: [(0, 10, 20, 100, 80), (1, 300, 200, 50, 60)], 1: [], 2: None}})
    proc = tl("export", job, "--format", "coco")
    assert proc.returncode == 0, proc.stderr
    assert "2 images, 2 boxes, 2 classes; 1 lines without a usable label left out" in proc.stdout
    coco = COCO(str(job / "photos-coco.json"))
    assert [c["name"] for c in coco.loadCats(coco.getCatIds())] == ["cat", "dog"]
    assert [a["bbox"] for a in coco.loadAnns(coco.getAnnIds(imgIds=[1]))] == [[10, 20, 100, 80], [300, 200, 50, 60]]
    assert coco.getAnnIds(imgIds=[2]) == []
    proc = tl("export", job, "--format", "yolo")
    assert proc.returncode == 0, proc.stderr
    yolo = job / "photos-yolo"
    assert (yolo / "000.txt").read_text() == "0 0.093750 0.125000 0.156250 0.166667\n1 0.507812 0.479167 0.078125 0.125000\n"
    assert (yolo / "001.txt").read_text() == "" and not (yolo / "002.txt").exists()
    assert (yolo / "classes.txt").read_text() == "cat\ndog\n"
    assert tl("export", job, "--format", "yolo").returncode == 0  # an earlier YOLO export is replaced
    (yolo / "notes.md").write_text("mine")
    assert_one_line_error(tl("export", job, "--format", "yolo"), "not an earlier YOLO export")


def test_coco_yolo_refuse_what_has_no_boxes(tmp_path, shared_data):
    assert_one_line_error(
        tl("export", shared_data / "gt-samples" / "image-classification-banana.output.manifest", "--format", "coco", "-o", tmp_path / "x.json"),
        "no object-detection labels",
    )


def _bad_box_manifest(shared_data: Path, tmp_path: Path) -> Path:
    real = lines_of(shared_data / "gt-samples" / "object-detection-cats.output.manifest")
    attr = "cat-ground-truth"
    real[1][attr]["annotations"][0]["width"] = -5  # negative size
    real[2][attr]["annotations"][1]["class_id"] = 7  # no such class in its class-map
    real[2][attr]["annotations"][0]["left"] = 700  # outside the 601-pixel-wide image
    del real[3][attr]["image_size"]  # no image size
    return _local(real, tmp_path / "bad.manifest")


def _local(lines: list[dict], path: Path) -> Path:
    """The lines with local (absent) images, so `check` reaches no network."""
    lines = [{**o, "source-ref": f"img/{i}.jpg"} for i, o in enumerate(lines)]
    path.write_text("".join(json.dumps(o) + "\n" for o in lines))
    return path


def test_export_of_bad_boxes_is_one_note_each_and_goes_on(shared_data, tmp_path):
    from pycocotools.coco import COCO

    path = _bad_box_manifest(shared_data, tmp_path)
    proc = tl("export", path, "--format", "coco")
    assert proc.returncode == 0 and "Traceback" not in proc.stderr
    notes = proc.stderr.strip().splitlines()
    assert len(notes) == 4, proc.stderr
    assert "line 2: box 1: negative size (width -5, height 157); box left out" in notes[0]
    assert "line 3: box 1: outside the 601×453 image" in notes[1]
    assert "line 3: box 2: unknown class_id 7" in notes[2]
    assert "line 4: no image_size" in notes[3] and notes[3].endswith("line left out")
    coco = COCO(str(tmp_path / "bad-coco.json"))
    assert sorted(coco.getImgIds()) == [1, 2, 3] and coco.getAnnIds() == []


def test_check_reports_each_bad_box(shared_data, tmp_path):
    path = _bad_box_manifest(shared_data, tmp_path)
    proc = tl("check", path, "--json")
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    report = json.loads(proc.stdout)
    found = [(f["line"], f["reason"]) for f in report["findings"] if f["category"] == "bad-box"]
    assert [line for line, _ in found] == [2, 3, 3, 4] and report["counts"]["bad-box"] == 4
    assert "negative size" in found[0][1] and "outside the 601×453 image" in found[1][1]
    assert "unknown class_id 7" in found[2][1] and "no image_size" in found[3][1]
    real = lines_of(shared_data / "gt-samples" / "object-detection-multiworker.output.manifest")
    clean = tl("check", _local(real, tmp_path / "multi.manifest"), "--json")
    assert json.loads(clean.stdout)["counts"]["bad-box"] == 0


def test_gt_box_folder_takes_attribute_job_and_labels_from_its_output_manifest(shared_data, tmp_path):
    """A GT job folder as GT leaves it: no --labels, no data.json; the output manifest's
    object-detection attribute, job name and class-map say what to write."""
    real_path = shared_data / "gt-samples" / "object-detection-cats.output.manifest"
    real = lines_of(real_path)
    _, root = _responses_from(real, "cat-ground-truth", tmp_path / "job", workers=3)
    (root / "annotation-tool" / "data.json").unlink()
    (root / "manifests" / "output" / "output.manifest").write_bytes(real_path.read_bytes())
    out = tmp_path / "out.manifest"
    proc = tl("consolidate", root, "-o", out)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    for mine, theirs in zip(lines_of(out), real):
        assert mine["cat-ground-truth"]["annotations"] == [
            {k: a[k] for k in ("class_id", "top", "left", "height", "width")} for a in theirs["cat-ground-truth"]["annotations"]
        ]
        meta = mine["cat-ground-truth-metadata"]
        assert meta["job-name"] == "labeling-job/cat-ground-truth" and meta["class-map"] == theirs["cat-ground-truth-metadata"]["class-map"]
        assert all(o == {"confidence": 1.0} for o in meta["objects"])  # three identical workers


def test_the_order_answers_are_read_in_does_not_change_the_result():
    """Matching takes workers in name order, not in the order their answers were read."""
    from tuilabel.core.gt.box_consolidation import BoxAnswersBuilder

    answers = [
        ("carol", [Box(0, 0, 0, 100, 100)]),
        ("alice", [Box(0, 40, 0, 100, 100)]),  # IoU 0.43 with carol's box, 0.43 with bob's
        ("bob", [Box(0, 80, 0, 100, 100)]),
    ]
    results = []
    for order in (answers, answers[::-1], answers[1:] + answers[:1]):
        builder = BoxAnswersBuilder()
        for worker, boxes in order:
            builder.add(0, worker, boxes)
        built = builder.build()
        assert built.workers == ["alice", "bob", "carol"]
        result = consolidate_boxes(built, iou_threshold=0.4)
        results.append((result.ltwh.tolist(), result.votes.tolist()))
    assert results[0] == results[1] == results[2]
    assert results[0] == ([[60.0, 0.0, 100.0, 100.0]], [2])  # alice first, then bob matches her; carol is left alone


def test_stats_of_a_box_job_has_no_classification_agreement(tmp_path):
    job = _box_job(tmp_path, {"alice": {0: [(0, 10, 20, 100, 80)], 1: []}, "bob": {0: [(0, 12, 20, 100, 80)]}})
    proc = tl("stats", job)
    assert proc.returncode == 0, proc.stderr
    assert "kappa" not in proc.stdout and "this one is a box job" in proc.stderr


def test_coco_of_a_box_jobs_input_manifest_names_the_job(tmp_path):
    job = _box_job(tmp_path, {"alice": {0: [(0, 10, 20, 100, 80)]}})
    assert_one_line_error(tl("export", tmp_path / "photos.jsonl", "--format", "coco"), f"tuilabel export {job} --format coco")


def test_coco_of_a_box_job_with_several_workers_holds_their_consolidated_boxes(tmp_path):
    from pycocotools.coco import COCO

    job = _box_job(tmp_path, {
        "alice": {0: [(0, 10, 20, 100, 80), (1, 300, 200, 50, 60)], 1: [(0, 1, 1, 9, 9)]},
        "bob": {0: [(0, 14, 20, 100, 80)], 1: [(0, 1, 1, 9, 9)]},
        "carol": {0: [(0, 12, 20, 100, 80)]},
    })
    proc = tl("export", job, "--format", "coco")
    assert proc.returncode == 0 and "3 workers: exported their consolidated boxes" in proc.stderr, proc.stderr
    coco = COCO(str(job / "photos-coco.json"))
    assert [a["bbox"] for a in coco.loadAnns(coco.getAnnIds(imgIds=[1]))] == [[12, 20, 100, 80]]  # dog: 1 of 3, dropped
    assert [a["bbox"] for a in coco.loadAnns(coco.getAnnIds(imgIds=[2]))] == [[1, 1, 9, 9]]  # 2 of the 2 who answered
    assert sorted(coco.getImgIds()) == [1, 2]  # records 3 and 4: nobody answered
