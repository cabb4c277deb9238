"""`tuilabel consolidate` and `tuilabel export --format gt-responses` as a user runs them:
real subprocesses on GT's own job (gt-birds), on tuilabel jobs with several workers, on GT
folders with bad files, and with a user's post-annotation Lambda handler."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pytest

from engine_helpers import open_session, text_manifest
from test_cli import assert_one_line_error as one_line_error, tl

BIRDS = "Duck,Sparrow,Woodpecker,Owl,Parrot,Turkey,Falcon,Swan,Goose,Canary"


def lines_of(path: Path) -> list[dict]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def test_method_names_match_the_core():
    from tuilabel.commands.consolidate import METHODS as command_methods
    from tuilabel.core.gt.consolidation import METHODS

    assert command_methods == METHODS


# -- GT's own job ------------------------------------------------------------------------------


def _birds_truth(birds: Path) -> list[str]:
    truth = {d["ImageId"]: d["Label"] for d in json.loads((birds / "true_labels.json").read_text())}
    return [truth[line["source-ref"].rsplit("/", 1)[1][:-4]] for line in lines_of(birds / "output.manifest")]


def test_gt_birds_responses_input_labels(shared_data, tmp_path):
    birds = shared_data / "gt-birds"
    out = tmp_path / "out.manifest"
    proc = tl("consolidate", "--responses", birds / "worker-response", "--input", birds / "output.manifest", "--labels", BIRDS, "-o", out, "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert (report["consolidated"], report["answers"], report["workers"], report["problems"]) == (302, 1510, 97, [])
    assert "agreement" in report and report["method"] == "gt"
    lines = lines_of(out)
    assert len(lines) == 302
    right = 0
    for line, truth in zip(lines, _birds_truth(birds)):
        meta = line["birds-open-images-clone-metadata"]
        assert meta["human-annotated"] == "yes" and meta["type"] == "groundtruth/image-classification"
        assert meta["job-name"] == "labeling-job/birds-open-images-clone"
        assert round(meta["confidence"], 2) == meta["confidence"] and 0.1 <= meta["confidence"] <= 1
        assert BIRDS.split(",")[line["birds-open-images-clone"]] == meta["class-name"]
        right += meta["class-name"] == truth
    assert right >= 272  # GT's own consolidated output is right on 272


def test_gt_job_folder_takes_labels_from_its_output_manifest(shared_data, tmp_path):
    birds = shared_data / "gt-birds"
    job = tmp_path / "birds-job"
    (job / "annotations").mkdir(parents=True)
    (job / "annotations" / "worker-response").symlink_to(birds / "worker-response")
    (job / "manifests" / "output").mkdir(parents=True)
    (job / "manifests" / "output" / "output.manifest").symlink_to(birds / "output.manifest")
    one_line_error(tl("consolidate", job), "-o FILE")
    out = tmp_path / "majority.manifest"
    proc = tl("consolidate", job, "--method", "majority", "-o", out)
    assert proc.returncode == 0, proc.stderr
    assert "302 consolidated" in proc.stdout and "majority vote" in proc.stdout
    names = [line["birds-open-images-clone-metadata"]["class-name"] for line in lines_of(out)]
    assert sum(a == b for a, b in zip(names, _birds_truth(birds))) == 273  # the spec's figure


# -- tuilabel jobs -----------------------------------------------------------------------------


def _team_job(tmp_path: Path) -> Path:
    """7 records, 3 workers: 0-2 by all three, 3 by alice only, 4 by alice and bob, 5 declined
    by both of them, 6 by nobody."""
    manifest = text_manifest(tmp_path / "reviews.jsonl", 7)
    plans = {
        "alice": ["a0", "a1", "a2", "a0", "a1", "x"],
        "bob": ["a0", "a1", "a1", "skip", "a1", "x"],
        "carol": ["a0", "a1", "a2"],
    }
    for worker, plan in plans.items():
        session = open_session(manifest, worker=worker)
        for step in plan:
            if step == "x":
                session.decline()
            elif step == "skip":
                session.skip()
            else:
                session.answer(int(step[1]))
        session.close()
    return tmp_path / "job1"


def test_tuilabel_job_in_place(tmp_path):
    job = _team_job(tmp_path)
    proc = tl("consolidate", job, "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert (report["lines"], report["consolidated"], report["declined"], report["unanswered"]) == (7, 5, 1, 1)
    assert report["single_worker_records"] == 1 and report["workers"] == 3
    raw = (job / "manifests" / "output" / "output.manifest").read_bytes().splitlines()
    lines = [orjson.loads(r) for r in raw]
    assert [line.get("job1") for line in lines] == [0, 1, 2, 0, 1, None, None]
    assert b'"confidence":0,' in raw[3]  # one worker: an integer 0, as GT writes it
    assert all(0.5 < line["job1-metadata"]["confidence"] <= 1 for line in lines[:3])
    assert lines[5]["job1-metadata"]["failure-reason"].startswith("Declined by every worker")
    assert lines[6]["job1-metadata"]["failure-reason"] == "No worker answered this object"
    # A worker coming back finds the consolidated output as it is (nothing re-appended).
    before = (job / "manifests" / "output" / "output.manifest").read_bytes()
    session = open_session(tmp_path / "reviews.jsonl", worker="alice")
    assert session.messages == []
    session.close()
    assert (job / "manifests" / "output" / "output.manifest").read_bytes() == before


def test_never_replaces_output_under_a_live_session(tmp_path):
    job = _team_job(tmp_path)
    output = job / "manifests" / "output" / "output.manifest"
    session = open_session(tmp_path / "reviews.jsonl", worker="bob")  # holds bob's lock
    before = output.read_bytes()
    try:
        one_line_error(tl("consolidate", job), "is labeling this job now", "-o FILE")
        assert output.read_bytes() == before
        elsewhere = tmp_path / "elsewhere.manifest"
        proc = tl("consolidate", job, "-o", elsewhere)
        assert proc.returncode == 0, proc.stderr
        assert len(lines_of(elsewhere)) == 7
    finally:
        session.close()


def test_export_gt_responses_reads_back_with_identical_labels(tmp_path):
    job = _team_job(tmp_path)
    gt_dir = tmp_path / "gt-folder"
    proc = tl("export", job, "--format", "gt-responses", "-o", gt_dir)
    assert proc.returncode == 0, proc.stderr
    files = sorted((gt_dir / "annotations" / "worker-response" / "iteration-1").glob("*/*.json"))
    assert [f.parent.name for f in files] == ["0", "1", "2", "3", "4", "5"]
    first = orjson.loads(files[0].read_bytes())
    answer = first["answers"][0]
    assert set(answer) == {"answerContent", "submissionTime", "workerId", "acceptanceTime", "timeSpentInSeconds"}
    assert answer["answerContent"] == {"crowd-classifier": {"label": "pos"}}
    assert files[0].name == first["answers"][-1]["submissionTime"][:19].replace("T", "_") + ".json"
    declined = orjson.loads(files[5].read_bytes())
    assert declined["answers"] == [] and {d["workerId"] for d in declined["declined"]} == {"alice", "bob"}
    (response,) = (gt_dir / "annotations" / "consolidated-annotation" / "consolidation-response" / "iteration-1").glob("*.json")
    items = orjson.loads(response.read_bytes())
    assert [i["datasetObjectId"] for i in items] == ["0", "1", "2", "3", "4"]
    assert items[0]["consolidatedAnnotation"]["content"]["job1"] == 0

    direct, back = tmp_path / "direct.manifest", tmp_path / "back.manifest"
    assert tl("consolidate", job, "-o", direct).returncode == 0
    proc = tl("consolidate", gt_dir, "--input", tmp_path / "reviews.jsonl", "--attribute", "job1", "--name", "job1", "-o", back)
    assert proc.returncode == 0, proc.stderr

    def labels(path):
        return [(line.get("job1"), line["job1-metadata"].get("confidence"), line["job1-metadata"].get("failure-reason")) for line in lines_of(path)]

    assert labels(back) == labels(direct)


# -- a user's post-annotation Lambda ------------------------------------------------------------

HANDLER = '''
import json
from collections import Counter
from urllib.parse import urlparse

EVENTS = []


def lambda_handler(event, context):
    """Like AWS's sample consolidation Lambda: read the payload, take the majority per object."""
    EVENTS.append(event)
    with open(urlparse(event["payload"]["s3Uri"]).path) as fh:
        payload = json.load(fh)
    with open(__file__ + ".event.json", "w") as fh:
        json.dump({"event": event, "payload": payload}, fh)
    attr = event["labelAttributeName"]
    out = []
    for item in payload:
        labels = [json.loads(a["annotationData"]["content"])["crowd-classifier"]["label"] for a in item["annotations"]]
        label, votes = Counter(labels).most_common(1)[0]
        out.append({
            "datasetObjectId": item["datasetObjectId"],
            "consolidatedAnnotation": {"content": {attr: {"label": label, "votes": votes}}},
        })
    return out


def broken(event, context):
    return {}["nothing"]
'''


def test_lambda_handler_runs_locally_with_gts_event(tmp_path):
    job = _team_job(tmp_path)
    handler = tmp_path / "consolidation_lambda.py"
    handler.write_text(HANDLER)
    out = tmp_path / "lambda.manifest"
    proc = tl("consolidate", job, "--lambda", f"{handler}:lambda_handler", "-o", out)
    assert proc.returncode == 0, proc.stderr
    seen = json.loads((tmp_path / "consolidation_lambda.py.event.json").read_text())
    event, payload = seen["event"], seen["payload"]
    assert event["version"] == "2018-10-16" and event["labelAttributeName"] == "job1"
    assert event["labelCategories"] == ["pos", "neg", "meh"] and event["payload"]["s3Uri"].startswith("file://")
    assert [p["datasetObjectId"] for p in payload] == ["0", "1", "2", "3", "4"]
    assert payload[0]["dataObject"] == {"content": "text 0"}
    assert {a["workerId"] for a in payload[0]["annotations"]} == {"alice", "bob", "carol"}
    lines = lines_of(out)
    assert lines[2]["job1"] == {"label": "meh", "votes": 2}
    assert lines[2]["job1-metadata"]["type"] == "groundtruth/custom"
    assert "failure-reason" in lines[5]["job1-metadata"] and "job1" not in lines[6]
    one_line_error(tl("consolidate", job, "--lambda", f"{handler}:broken", "-o", out), "KeyError", "consolidation_lambda.py line")
    one_line_error(tl("consolidate", job, "--lambda", f"{handler}:nope", "-o", out), "no function 'nope'")


# -- bad worker-response files -------------------------------------------------------------------


def _answer(worker: str, label: str, when: str, element: str = "crowd-classifier") -> dict:
    key = "labels" if element.endswith("multi-select") else "label"
    return {"answerContent": {element: {key: label}}, "submissionTime": when, "workerId": worker, "timeSpentInSeconds": 3.5}


def _gt_folder(tmp_path: Path, n: int = 4) -> tuple[Path, Path]:
    """A GT job folder with n objects answered by three workers, and its input manifest."""
    manifest = text_manifest(tmp_path / "input.jsonl", n)
    root = tmp_path / "gt-job" / "annotations" / "worker-response" / "iteration-1"
    for i in range(n):
        (root / str(i)).mkdir(parents=True)
        answers = [_answer(w, "pos" if i % 2 == 0 else "neg", f"2024-05-01T10:0{i}:0{j}Z") for j, w in enumerate("abc")]
        (root / str(i) / f"2024-05-01_10:0{i}:09.json").write_text(json.dumps({"answers": answers}))
    return tmp_path / "gt-job", manifest


BAD_FILES = {
    "truncated": (0, b'{"answers":[{"answerContent":{"crowd-classifier":{"label":"pos"}},"submi', "truncated JSON"),
    "not-json": (1, b"<html>503 Service Unavailable</html>", "not JSON"),
    "unknown-element": (2, json.dumps({"answers": [{"answerContent": {"crowd-polygon": {"label": "pos"}}, "submissionTime": "2024-05-01T11:00:00Z", "workerId": "d"}]}).encode(), "unknown element name 'crowd-polygon'"),
    "label-not-in-list": (3, json.dumps({"answers": [_answer("d", "spam", "2024-05-01T11:00:00Z")]}).encode(), "'spam', not in the label list"),
    "index-outside-input": (9, json.dumps({"answers": [_answer("d", "pos", "2024-05-01T11:00:00Z")]}).encode(), "object index 9 is outside the input (4 lines)"),
    "duplicate-answer": (0, json.dumps({"answers": [_answer("a", "neg", "2024-05-01T12:00:00Z")]}).encode(), "a answered object 0 twice"),
}


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_bad_worker_response_file_is_one_line_and_the_job_goes_on(tmp_path, case):
    job, manifest = _gt_folder(tmp_path)
    index, data, message = BAD_FILES[case]
    folder = job / "annotations" / "worker-response" / "iteration-1" / str(index)
    folder.mkdir(parents=True, exist_ok=True)
    bad = folder / "2024-05-01_12:00:00.json"
    bad.write_bytes(data)
    out = tmp_path / "out.manifest"
    proc = tl("consolidate", job, "--input", manifest, "--labels", "pos,neg,meh", "-o", out)
    assert proc.returncode == 0, proc.stderr
    problems = [line for line in proc.stderr.splitlines() if message in line]
    assert len(problems) == 1 and str(bad) in problems[0], proc.stderr
    assert "Traceback" not in proc.stderr
    lines = lines_of(out)
    assert len(lines) == 4 and all("failure-reason" not in line["gt-job-metadata"] for line in lines)
    if case == "duplicate-answer":
        assert "kept the latest" in problems[0]
    report = json.loads(tl("consolidate", job, "--input", manifest, "--labels", "pos,neg,meh", "-o", out, "--json").stdout)
    assert [p for p in report["problems"] if message in p] == [problems[0].removeprefix("tuilabel consolidate: ")]
    assert report["consolidated"] == 4


def test_duplicate_answer_keeps_the_latest(tmp_path):
    job, manifest = _gt_folder(tmp_path, 1)
    folder = job / "annotations" / "worker-response" / "iteration-1" / "0"
    # b and c say pos; a said pos first, then neg later (kept), and d says neg: 2 against 2.
    (folder / "2024-05-01_12:00:00.json").write_text(json.dumps({"answers": [_answer("a", "neg", "2024-05-01T12:00:00Z"), _answer("d", "neg", "2024-05-01T12:00:01Z")]}))
    out = tmp_path / "out.manifest"
    report = json.loads(tl("consolidate", job, "--input", manifest, "--labels", "pos,neg", "--method", "majority", "-o", out, "--json").stdout)
    assert report["answers"] == 4  # a counted once
    meta = lines_of(out)[0]["gt-job-metadata"]
    assert meta["confidence"] == 0.5


def test_damaged_journal_line_is_one_problem_line(tmp_path):
    job = _team_job(tmp_path)
    journal = job / "tuilabel" / "workers" / "alice" / "journal.jsonl"
    lines = journal.read_bytes().splitlines(keepends=True)
    journal.write_bytes(b"".join(lines[:2] + [b'{"i":2,"o":\x00\x00 damaged\n'] + lines[3:]))
    out = tmp_path / "out.manifest"
    report = json.loads(tl("consolidate", job, "-o", out, "--json").stdout)
    assert report["problems"] == [f"{journal}:3: not a journal line; skipped"]
    assert report["answers"] == 11 and report["lines"] == 7  # 12 answers, one line lost


def test_stray_files_in_a_response_folder_are_named(tmp_path):
    job, manifest = _gt_folder(tmp_path)
    stray = job / "annotations" / "worker-response" / "iteration-1" / "1" / "notes.txt"
    stray.write_text("hello")
    out = tmp_path / "out.manifest"
    report = json.loads(tl("consolidate", job, "--input", manifest, "--labels", "pos,neg", "-o", out, "--json").stdout)
    assert report["problems"] == [f"{stray}: not a .json response file; skipped"]
    assert report["consolidated"] == 4


def test_usage_errors_are_one_line(tmp_path):
    one_line_error(tl("consolidate"), "give a job folder")
    one_line_error(tl("consolidate", tmp_path / "nowhere"), "not a folder")
    one_line_error(tl("consolidate", tmp_path), "no worker-response/iteration-N folders")
    job, manifest = _gt_folder(tmp_path)
    one_line_error(tl("consolidate", job, "--input", manifest, "-o", tmp_path / "o"), "--labels")
    one_line_error(tl("consolidate", job, "--labels", "pos,neg", "-o", tmp_path / "o"), "--input")


# -- multi-label and gold ------------------------------------------------------------------------


def test_multilabel_output_has_every_chosen_label_with_a_score(tmp_path):
    manifest = text_manifest(tmp_path / "input.jsonl", 2)
    root = tmp_path / "ml" / "annotations" / "worker-response" / "iteration-1"
    picks = {0: [["cat", "dog"], ["cat"], ["cat", "dog"]], 1: [["car"], ["car"], ["tree", "car"]]}
    for i, chosen in picks.items():
        (root / str(i)).mkdir(parents=True)
        answers = [_answer(w, c, f"2024-05-01T10:00:0{j}Z", "crowd-classifier-multi-select") for j, (w, c) in enumerate(zip("abc", chosen))]
        (root / str(i) / "2024-05-01_10:00:09.json").write_text(json.dumps({"answers": answers}))
    out = tmp_path / "out.manifest"
    proc = tl("consolidate", tmp_path / "ml", "--input", manifest, "--labels", "cat,dog,car,tree", "--method", "majority", "-o", out)
    assert proc.returncode == 0, proc.stderr
    first, second = lines_of(out)
    assert first["ml"] == [0, 1] and second["ml"] == [2, 3]
    meta = first["ml-metadata"]
    assert meta["type"] == "groundtruth/text-classification-multilabel"
    assert meta["class-map"] == {"0": "cat", "1": "dog"}
    assert meta["confidence-map"] == {"0": 1.0, "1": 0.67}
    assert second["ml-metadata"]["confidence-map"] == {"2": 1.0, "3": 0.33}


def test_gold_file_fixes_records_and_scores_workers(tmp_path):
    job, manifest = _gt_folder(tmp_path)
    gold = tmp_path / "gold.json"
    gold.write_text(json.dumps({"0": "neg", "1": "neg"}))
    out = tmp_path / "out.manifest"
    proc = tl("consolidate", job, "--input", manifest, "--labels", "pos,neg", "--gold", gold, "-o", out, "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["gold_records"] == 2
    assert [w["gold_accuracy"] for w in report["per_worker"]] == [0.5, 0.5, 0.5]
    lines = lines_of(out)
    assert [line["gt-job-metadata"]["class-name"] for line in lines][:2] == ["neg", "neg"]
    gold.write_text(json.dumps({"0": "zebra"}))
    one_line_error(tl("consolidate", job, "--input", manifest, "--labels", "pos,neg", "--gold", gold, "-o", out), "zebra")
