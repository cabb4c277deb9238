"""A job folder that moved still resumes; a label typo can be fixed before the first answer;
`tuilabel demo` says how to start over when an earlier demo cannot resume."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from drivers.jobkit import write_text_manifest
from tuilabel.core.errors import UserError
from tuilabel.core.job_setup import JobRequest, prepare
from tuilabel.resources import sample_data_dir

REPO = Path(__file__).resolve().parents[1]


def label(req: JobRequest, answers: int = 0):
    """Prepare and open the job, answer `answers` records, close. Returns (prepared, session)."""
    prepared = prepare(req)
    session, _ = prepared.start()
    try:
        for i in range(answers):
            session.answer(i % 2)
    finally:
        session.close()
    return prepared, session


def started_job(tmp_path: Path, answers: int = 3) -> Path:
    base = tmp_path / "a"
    base.mkdir()
    manifest = write_text_manifest(base / "pets.manifest", 10)
    label(JobRequest(source=str(manifest), labels="cat,dog", worker="w1"), answers)
    return base


def test_job_json_keeps_the_input_relative_to_the_job_folder(tmp_path):
    base = started_job(tmp_path)
    spec = orjson.loads((base / "pets" / "tuilabel" / "job.json").read_bytes())
    assert spec["input_from_job"] == "../pets.manifest"


def test_a_moved_job_folder_with_its_manifest_resumes_and_says_so(tmp_path):
    base = started_job(tmp_path)
    moved = tmp_path / "elsewhere" / "b"
    moved.parent.mkdir()
    shutil.move(str(base), str(moved))
    prepared, session = label(JobRequest(source=str(moved / "pets"), worker="w1"), answers=1)
    notes = [n for n in prepared.notes if "moved" in n]
    assert len(notes) == 1 and str(moved / "pets.manifest") in notes[0] and "\n" not in notes[0]
    assert prepared.folder.root == moved / "pets"
    assert session.journal.answered == 4  # the three from before, and one more
    # job.json follows: the next start has nothing to say.
    again = prepare(JobRequest(source=str(moved / "pets"), worker="w1"))
    assert again.spec.input == str(moved / "pets.manifest") and not again.notes


def test_the_manifest_given_at_its_new_place_resumes_the_job(tmp_path):
    base = started_job(tmp_path)
    new_home = tmp_path / "data"
    new_home.mkdir()
    shutil.move(str(base / "pets.manifest"), str(new_home / "pets.manifest"))
    prepared, session = label(JobRequest(source=str(new_home / "pets.manifest"), output=str(base), worker="w1"), answers=1)
    assert any("moved" in n for n in prepared.notes)
    assert session.journal.answered == 4


def test_a_different_file_in_the_old_place_is_refused(tmp_path):
    base = started_job(tmp_path)
    write_text_manifest(base / "other.manifest", 10, start=500)
    with pytest.raises(UserError, match="other content"):
        prepare(JobRequest(source=str(base / "other.manifest"), name="pets", output=str(base), worker="w1"))


def test_a_moved_job_without_its_manifest_says_what_is_missing(tmp_path):
    base = started_job(tmp_path)
    moved = tmp_path / "b"
    shutil.move(str(base / "pets"), str(moved))
    (base / "pets.manifest").rename(base / "renamed.manifest")
    with pytest.raises(UserError, match="does not exist"):
        prepare(JobRequest(source=str(moved), worker="w1"))


def test_labels_change_freely_before_the_first_answer(tmp_path):
    base = started_job(tmp_path, answers=0)
    manifest = base / "pets.manifest"
    prepared, _ = label(JobRequest(source=str(manifest), labels="cat,dgo", worker="w1"))
    prepared, _ = label(JobRequest(source=str(manifest), labels="cat,dog,bird", worker="w1"))
    notes = [n for n in prepared.notes if "no answers yet" in n]
    assert len(notes) == 1 and "cat, dgo -> cat, dog, bird" in notes[0]
    folder = prepared.folder
    assert orjson.loads(folder.spec_file.read_bytes())["labels"] == ["cat", "dog", "bird"]
    assert [x["label"] for x in orjson.loads(folder.label_file.read_bytes())["labels"]] == ["cat", "dog", "bird"]
    prepared, _ = label(JobRequest(source=str(manifest), task="text-classification-multilabel", worker="w1"))
    assert prepared.spec.task == "text-classification-multilabel" and prepared.spec.labels == ("cat", "dog", "bird")


def test_labels_of_a_job_with_answers_are_refused_with_what_to_do(tmp_path):
    base = started_job(tmp_path, answers=1)
    with pytest.raises(UserError) as info:
        prepare(JobRequest(source=str(base / "pets.manifest"), labels="cat,dgo", worker="w1"))
    message = str(info.value)
    assert "cannot change" in message and "labels cat, dog -> cat, dgo" in message
    assert "--name pets-2" in message and "\n" not in message


def test_demo_that_cannot_resume_points_at_reset(tmp_path):
    """An earlier demo job with answers whose labels differ from the bundled sample's (an older
    version): the one-line refusal ends with how to start over."""
    output = tmp_path / "demo"
    job_file = sample_data_dir() / "reviews" / "job.toml"
    label(JobRequest(source=str(job_file), output=str(output), worker="w1"), answers=1)
    spec_file = output / "review-sentiment" / "tuilabel" / "job.json"
    spec = orjson.loads(spec_file.read_bytes())
    spec["labels"] = ["good", "bad", "meh", "both"]
    spec_file.write_bytes(orjson.dumps(spec))
    env = dict(os.environ, XDG_CONFIG_HOME=str(tmp_path / "config"))
    result = subprocess.run(
        [sys.executable, "-m", "tuilabel", "demo", "text", "--output", str(output), "--worker", "w1"],
        capture_output=True, text=True, cwd=REPO, timeout=60, env=env,
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "`tuilabel demo text --reset` starts this demo over" in lines[0]


def test_demo_follows_its_sample_after_a_reinstall(tmp_path):
    """job.json names a sample path from an earlier install that is gone; the bundled sample
    has the same content, so the demo resumes and says so."""
    output = tmp_path / "demo"
    job_file = sample_data_dir() / "reviews" / "job.toml"
    label(JobRequest(source=str(job_file), output=str(output), worker="w1"), answers=2)
    spec_file = output / "review-sentiment" / "tuilabel" / "job.json"
    spec = orjson.loads(spec_file.read_bytes())
    spec["input"] = "/gone/site-packages/tuilabel/sample_data/reviews/reviews.jsonl"
    spec["input_from_job"] = "../../../gone/reviews.jsonl"
    spec_file.write_bytes(orjson.dumps(spec))
    prepared, session = label(JobRequest(source=str(job_file), output=str(output), worker="w1"), answers=1)
    assert any("moved" in n for n in prepared.notes)
    assert session.journal.answered == 3


@pytest.mark.parametrize("content", [b"[1, 2]", b'"job"', b'{"name": "pets", "instructions": 3}'])
def test_a_job_json_that_is_json_but_not_a_job_is_one_line(tmp_path, content):
    base = started_job(tmp_path, answers=0)
    (base / "pets" / "tuilabel" / "job.json").write_bytes(content)
    with pytest.raises(UserError, match="not a readable tuilabel job") as info:
        prepare(JobRequest(source=str(base / "pets"), worker="w1"))
    assert "\n" not in str(info.value)
