"""The command line as a user runs it: real subprocesses, exit codes, one-line errors."""

from __future__ import annotations

import subprocess
import sys

import orjson
import pytest

from tuilabel import __version__
from tuilabel.cli import COMMANDS
from tuilabel.core.errors import UserError
from tuilabel.core.job_setup import JobRequest, prepare

from engine_helpers import open_session, text_manifest


def tl(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "tuilabel", *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=60)


def assert_one_line_error(proc, *needles):
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


def test_version_and_help_for_every_command():
    assert tl("--version").stdout.strip() == f"tuilabel {__version__}"
    top = tl("--help").stdout
    for name in COMMANDS:
        assert name in top
        proc = tl(name, "--help")
        assert proc.returncode == 0 and "usage: tuilabel " + name in proc.stdout, name


def test_init_template_is_a_working_job_file(tmp_path):
    text_manifest(tmp_path / "reviews.jsonl", 3)
    proc = tl("init", "job.toml", "--input", "reviews.jsonl", "--labels", "good,bad", "--task", "text-classification", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "# " in (tmp_path / "job.toml").read_text()  # commented
    job = prepare(JobRequest(source=str(tmp_path / "job.toml")))
    assert job.spec.name == "reviews" and job.spec.labels == ("good", "bad")
    assert job.folder.root == tmp_path / "reviews"
    assert_one_line_error(tl("init", "job.toml", cwd=tmp_path), "exists")


def test_flags_override_job_file(tmp_path):
    text_manifest(tmp_path / "r.jsonl", 3)
    tl("init", "job.toml", "--input", "r.jsonl", "--labels", "a,b", cwd=tmp_path)
    job = prepare(JobRequest(source=str(tmp_path / "job.toml"), labels="x,y,z", name="other", task="text-classification", multi=True))
    assert job.spec.labels == ("x", "y", "z") and job.spec.name == "other"
    assert job.spec.task == "text-classification-multilabel"


def test_task_detected_from_first_record(tmp_path):
    m = text_manifest(tmp_path / "t.jsonl", 2)
    assert prepare(JobRequest(source=str(m), labels="a,b")).spec.task == "text-classification"
    (tmp_path / "i.jsonl").write_text('\n{"source-ref":"x.jpg"}\n')
    assert prepare(JobRequest(source=str(tmp_path / "i.jsonl"), labels="a,b", multi=True)).spec.task == "image-classification-multilabel"


@pytest.mark.parametrize("args, needles", [
    (["--name", "bad_name!"], ["breaks GT's rule", "[a-zA-Z0-9](-*[a-zA-Z0-9])*", "try 'bad-name'"]),
    (["--labels", "a"], ["at least 2 labels"]),
    (["--labels", "a,b,a"], ["'a' appears twice"]),
    (["--labels", "a,,b"], ["label 2 is empty"]),
    (["--labels", ",".join(f"l{i}" for i in range(31))], ["over GT's limit of 30"]),
    (["--attribute", "x-metadata"], ["-metadata"]),
    ([], ["no labels"]),
])
def test_bad_job_settings_are_one_line_errors(tmp_path, args, needles):
    m = text_manifest(tmp_path / "in.jsonl", 2)
    base = ["--labels", "a,b"] if args and args[0] not in ("--labels",) else []
    proc = tl("label", m, *base, *args)
    assert_one_line_error(proc, "tuilabel label:", *needles)


def test_bad_label_files(tmp_path):
    m = text_manifest(tmp_path / "in.jsonl", 2)
    (tmp_path / "labels.json").write_text('{"labels": [{"label": "a"},')
    assert_one_line_error(tl("label", m, "--labels", tmp_path / "labels.json"), "not valid JSON")
    (tmp_path / "labels2.json").write_text('{"labels": ["a", "b"]}')
    assert_one_line_error(tl("label", m, "--labels", tmp_path / "labels2.json"), "not a GT label category file")
    assert_one_line_error(tl("label", m, "--labels", tmp_path / "missing.json"), "does not exist")
    assert_one_line_error(tl("label", tmp_path / "nope.jsonl", "--labels", "a,b"), "does not exist")
    assert_one_line_error(tl("label", tmp_path, "--labels", "a,b"), "is a folder", "tuilabel scan")


def test_label_files_gt_json_and_plain(tmp_path):
    m = text_manifest(tmp_path / "in.jsonl", 2)
    (tmp_path / "data.json").write_text('{"document-version":"2018-11-28","labels":[{"label":"BAG"},{"label":"SHOES"}]}')
    (tmp_path / "labels.txt").write_text("cat\n\ndog\r\nbird\n")
    assert prepare(JobRequest(source=str(m), labels=str(tmp_path / "data.json"))).spec.labels == ("BAG", "SHOES")
    assert prepare(JobRequest(source=str(m), labels=str(tmp_path / "labels.txt"))).spec.labels == ("cat", "dog", "bird")


def test_started_job_refuses_other_labels_or_task(tmp_path):
    m = text_manifest(tmp_path / "in.jsonl", 3)
    s = open_session(m, name="in", labels=("a", "b"))
    s.answer(0)
    s.close()
    with pytest.raises(UserError, match="cannot change"):
        prepare(JobRequest(source=str(m), labels="a,c"))
    with pytest.raises(UserError, match="task text-classification -> text-classification-multilabel"):
        prepare(JobRequest(source=str(m), task="text-classification-multilabel"))
    job = prepare(JobRequest(source=str(m)))  # same command again: resumes with its labels
    assert job.spec.labels == ("a", "b") and not job.new
    job = prepare(JobRequest(source=str(tmp_path / "in")))  # the job folder itself
    assert job.spec.name == "in"


def test_export_formats_via_cli(tmp_path):
    m = text_manifest(tmp_path / "in.jsonl", 4)
    s = open_session(m, name="in", labels=("a", "b"))
    s.answer(1)
    s.decline()
    s.answer(0)
    s.back()
    s.answer(1)  # relabel record 2
    s.close()
    proc = tl("export", tmp_path / "in", "--format", "gt")
    assert proc.returncode == 0, proc.stderr
    assert "3 lines (1 declined); 1 input lines without an answer left out" in proc.stdout
    lines = [orjson.loads(x) for x in (tmp_path / "in" / "manifests/output/output.manifest").read_bytes().splitlines()]
    assert [x["id"] for x in lines] == [0, 1, 2]
    assert lines[0]["in"] == 1 and "in" not in lines[1] and lines[2]["in"] == 1
    assert tl("export", tmp_path / "in", "--format", "csv", "-o", tmp_path / "o.csv").returncode == 0
    csv_lines = (tmp_path / "o.csv").read_text().splitlines()
    assert csv_lines[0].startswith("line,source,status,label")
    assert csv_lines[2].startswith("2,text 1,declined,,,")
    assert tl("export", tmp_path / "in", "--format", "jsonl").returncode == 0
    rows = [orjson.loads(x) for x in (tmp_path / "in" / "in-answers.jsonl").read_bytes().splitlines()]
    assert [r["label"] for r in rows] == ["b", None, "b"] and rows[0]["worker"] == "w1"
    # A later session appends after the canonical file, and the next start does not duplicate.
    s = open_session(m, name="in", labels=("a", "b"))
    s.answer(0)
    s.close()
    s = open_session(m, name="in", labels=("a", "b"))
    s.close()
    assert len((tmp_path / "in" / "manifests/output/output.manifest").read_bytes().splitlines()) == 4
    assert_one_line_error(tl("export", tmp_path), "not a tuilabel job folder")


def test_label_start_up_collects_no_garbage_until_the_app_runs_and_always_after():
    """`tuilabel label` turns the cyclic GC off while it starts (a measured ~20 ms of the
    first paint) and must turn it back on however the job ends."""
    import gc

    from tuilabel.commands.label import no_collection_until_run, start_collecting

    seen = []

    @no_collection_until_run
    def job(fail: bool):
        seen.append(gc.isenabled())
        if fail:
            raise UserError("refused")
        start_collecting()
        seen.append(gc.isenabled())
        return 0

    try:
        assert job(False) == 0 and gc.isenabled()
        assert gc.get_freeze_count() > 0
        with pytest.raises(UserError):
            job(True)
        assert gc.isenabled()
        assert seen == [False, True, False]
    finally:
        gc.unfreeze()
        gc.enable()
