"""Chained jobs (spec §7): verification and adjustment of an earlier job's label attribute.

The GT lines are compared key for key with the spec and the real chained file in
../shared/data; a chain (label, verify its output, adjust it) runs from the command line's own
parser and job setup into the app, driven by keys (Textual pilot); bad inputs are one line each
and lose nothing.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from tuilabel.cli import build_parser
from tuilabel.commands.label import request_from
from tuilabel.core.errors import UserError
from tuilabel.core.gt import chained
from tuilabel.core.job_setup import JobRequest, prepare
from tuilabel.core.quality.stats import compute
from tuilabel.core.session import State
from tuilabel.ui.app import make_app
from tuilabel.ui.widgets.lines import TextLine

REVIEWS = [
    {"source": "Great battery, the screen scratches.", "id": "r1"},
    {"source": "Stopped working after two days.", "id": "r2"},
    {"source": "It is fine.", "id": "r3"},
    {"source": "Best kettle I ever had.", "id": "r4"},
]
SENTIMENT = "positive,negative,neutral"
COMMON_META = {"type", "job-name", "human-annotated", "creation-date"}
# Spec §7: a verification line's metadata, worker-feedback only when given.
VERIFICATION_META = {"class-name", "confidence", *COMMON_META}


def write_manifest(path: Path, objects: list[dict]) -> Path:
    path.write_bytes(b"".join(orjson.dumps(o) + b"\n" for o in objects))
    return path


def lines_of(path: Path) -> list[dict]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def frozen() -> float:
    return 0.0


def from_cli(*argv: str):
    """The job `tuilabel label ARGV` would open: the CLI's own parser and job setup."""
    args = build_parser().parse_args(["label", *argv])
    return prepare(request_from(args, args.source))


def run_keys(prepared, keys: list[str], size=(100, 30), check=None):
    """Open the job's session in the app, press `keys`, call `check(app)` before leaving."""

    async def drive():
        session, mirror = prepared.start(background=False)
        try:
            app = make_app(session, clock=frozen)
            async with app.run_test(size=size) as pilot:
                await pilot.pause()
                for key in keys:
                    await pilot.press(key)
                    await pilot.pause()
                if check is not None:
                    check(app)
                await pilot.press("q")
        finally:
            prepared.stop(session, mirror)
        return session

    return asyncio.run(drive())


@pytest.fixture
def earlier_job(tmp_path) -> Path:
    """A small text job labeled through the app: positive, negative, neutral, positive."""
    manifest = write_manifest(tmp_path / "reviews.jsonl", REVIEWS)
    prepared = from_cli(str(manifest), "--name", "sentiment", "--labels", SENTIMENT, "--worker", "ann")
    session = run_keys(prepared, ["1", "2", "3", "1"])
    assert session.state is State.DONE
    return tmp_path / "sentiment"


# -- the lines ---------------------------------------------------------------------------------


def test_chain_label_verify_adjust_through_the_cli_and_keys(earlier_job, tmp_path):
    earlier_out = earlier_job / "manifests" / "output" / "output.manifest"
    earlier_lines = lines_of(earlier_out)

    # Verify: the earlier label is on screen; 1 correct, c comments then 2 incorrect, 3, 1.
    verify = from_cli(str(earlier_out), "--task", "verification", "--verify", "sentiment", "--worker", "vera")
    assert verify.folder.root == tmp_path / "sentiment-verification"  # beside the earlier job
    assert verify.spec.task == "text-verification" and verify.spec.labels == chained.VERIFICATION_CATEGORIES
    shown: list[str] = []

    def earlier_row(app) -> None:
        shown.append(str(app.screen.query_one("#earlier", TextLine).text))

    keys = ["1", "c", *"wrong one", "enter", "2", "3", "1"]
    run_keys(verify, keys[:1], check=earlier_row)
    assert "earlier sentiment: negative" in shown[0]  # record 2's earlier label
    run_keys(verify, keys[1:])
    verified = lines_of(verify.folder.output_manifest)
    assert [line["sentiment-verification"] for line in verified] == [0, 1, 2, 0]
    for before, after in zip(earlier_lines, verified):
        # The earlier pair stays as it was; the new pair is added beside it.
        assert {k: after[k] for k in before} == before
        meta = after["sentiment-verification-metadata"]
        assert list(meta)[:6] == ["class-name", "confidence", "type", "job-name", "human-annotated", "creation-date"]
        assert meta["type"] == "groundtruth/label-verification" and meta["confidence"] == 0
        assert meta["job-name"] == "labeling-job/sentiment-verification"
    assert set(verified[0]["sentiment-verification-metadata"]) == VERIFICATION_META
    assert verified[1]["sentiment-verification-metadata"]["worker-feedback"] == [{"comment": "wrong one"}]
    assert [line["sentiment-verification-metadata"]["class-name"] for line in verified] == [
        "Correct", "Incorrect", "Ambiguous", "Correct"]

    # Adjust the earlier job: its labels come from its annotation-tool/data.json; enter keeps
    # the earlier label, a digit changes it.
    adjust = from_cli(str(earlier_out), "--adjust", "sentiment", "--attribute", "sentiment-fixed", "--worker", "adam")
    assert adjust.spec.task == "text-classification" and adjust.spec.labels == tuple(SENTIMENT.split(","))
    run_keys(adjust, ["enter", "1", "enter", "2"])
    adjusted = lines_of(adjust.folder.output_manifest)
    assert [line["sentiment-fixed"] for line in adjusted] == [0, 0, 2, 1]
    assert [line["sentiment-fixed-metadata"]["adjustment-status"] for line in adjusted] == [
        "unadjusted", "adjusted", "unadjusted", "adjusted"]
    # The original task's line shape plus adjustment-status, last as in GT's file.
    for before, after in zip(earlier_lines, adjusted):
        assert list(after["sentiment-fixed-metadata"]) == [*before["sentiment-metadata"], "adjustment-status"]


def test_multilabel_adjustment_starts_from_the_earlier_labels(tmp_path):
    manifest = write_manifest(tmp_path / "in.jsonl", REVIEWS[:2])
    first = from_cli(str(manifest), "--name", "topics", "--labels", "price,quality,delivery", "--multi", "--worker", "ann")
    run_keys(first, ["1", "2", "enter", "3", "enter"])
    out = first.folder.output_manifest
    assert [line["topics"] for line in lines_of(out)] == [[0, 1], [2]]
    adjust = from_cli(str(out), "--adjust", "topics", "--worker", "adam")
    assert adjust.spec.task == "text-classification-multilabel"

    def preselected(app) -> None:
        assert app.screen.toggled == {0, 1}

    run_keys(adjust, [], check=preselected)
    run_keys(adjust, ["enter", "1", "enter"])  # keep [0, 1]; add price to [2]
    lines = lines_of(adjust.folder.output_manifest)
    assert [line["topics-adjustment"] for line in lines] == [[0, 1], [0, 2]]
    assert [line["topics-adjustment-metadata"]["adjustment-status"] for line in lines] == ["unadjusted", "adjusted"]
    assert set(lines[1]["topics-adjustment-metadata"]) == {
        "job-name", "class-map", "human-annotated", "creation-date", "confidence-map", "type", "adjustment-status"}


def test_adjustment_metadata_adds_what_the_real_chained_file_adds(shared_data, tmp_path):
    """GT's real chained adjustment: the new metadata holds the earlier one's keys plus
    adjustment-status (last), and the earlier pair stays. Ours, on GT's bird job, the same."""
    real = lines_of(shared_data / "gt-samples" / "object-detection-chained-adjustment.output.manifest")
    earlier, chain = "suneung-korean-layout-detection-v2", "suneung-korean-layout-detection-v2-chain"
    for line in real:
        assert list(line[chain + "-metadata"])[-1] == "adjustment-status"
        assert set(line[chain + "-metadata"]) - set(line[earlier + "-metadata"]) == {"adjustment-status"}
        assert line[chain + "-metadata"]["adjustment-status"] in ("adjusted", "unadjusted")
        assert chained.read_earlier(line, earlier).shown()
    birds = shared_data / "gt-birds" / "output.manifest"
    attr = next(k for k in orjson.loads(birds.read_bytes().splitlines()[0]) if k.endswith("-metadata"))[:-9]
    labels = "Duck,Sparrow,Woodpecker,Owl,Parrot,Turkey,Falcon,Swan,Goose,Canary"
    prepared = prepare(JobRequest(source=str(birds), adjust=attr, labels=labels, output=str(tmp_path), worker="adam"))
    session, _ = prepared.start()
    try:
        first = session.current.data
        session.answer(first[attr])  # unchanged
        session.answer((session.current.data[attr] + 1) % 10)  # changed
    finally:
        prepared.stop(session, None)
    ours = lines_of(prepared.folder.output_manifest)
    new = prepared.spec.label_attribute
    for line, status in zip(ours, ("unadjusted", "adjusted")):
        assert set(line[new + "-metadata"]) - set(line[attr + "-metadata"]) == {"adjustment-status"}
        assert line[new + "-metadata"]["adjustment-status"] == status
        assert type(line[new]) is type(line[attr]) is int


def test_every_real_label_line_reads_as_an_earlier_label(shared_data):
    samples = shared_data / "gt-samples"
    for name, attr in [
        ("image-classification-coral.output.manifest", "test-label-dianthus"),
        ("object-detection-chained-adjustment.output.manifest", "suneung-korean-layout-detection-v2-chain"),
        ("object-detection-multiworker.output.manifest", None),
        ("text-classification-multilabel-comprehend.output.manifest", None),
    ]:
        for line in lines_of(samples / name):
            attr = attr or next(k for k, v in line.items() if k.endswith("-metadata") and isinstance(v, dict))[:-9]
            earlier = chained.read_earlier(line, attr)
            assert earlier.shown() and all(earlier.shown())


# -- stats -------------------------------------------------------------------------------------


def test_stats_of_a_verification_job_per_earlier_label_and_worker(earlier_job, tmp_path):
    out = earlier_job / "manifests" / "output" / "output.manifest"
    lines = lines_of(out)
    lines[0]["sentiment-metadata"]["worker-id"] = "ann"  # one line names its worker
    write_manifest(out, lines)
    prepared = prepare(JobRequest(source=str(out), verify="sentiment", worker="vera"))
    session, _ = prepared.start()
    try:
        for verdict in (1, 1, 0, 0):  # positive: incorrect (ann), negative: incorrect, neutral, positive: correct
            session.answer(verdict)
    finally:
        prepared.stop(session, None)
    for source in (prepared.folder.root, prepared.folder.output_manifest):
        st = next(a for a in compute(source).attributes if a.name == prepared.spec.label_attribute)
        assert st.audited == "sentiment"
        assert st.verified_by_label == {"positive": {"Incorrect": 1, "Correct": 1}, "negative": {"Incorrect": 1},
                                        "neutral": {"Correct": 1}}
        assert st.verified_by_worker == {"ann": {"Incorrect": 1}, "unknown": {"Incorrect": 1, "Correct": 2}}
    shown = subprocess.run([sys.executable, "-m", "tuilabel", "stats", str(prepared.folder.root)],
                           capture_output=True, text=True, check=True, env=_wide()).stdout
    assert "verdicts by earlier label (sentiment)" in shown
    section = shown[shown.index("verdicts by earlier label"):shown.index("confidence")]
    rows = {line.split()[0]: line.split()[1:] for line in section.splitlines()[1:] if line.strip()}
    assert rows["earlier"][1:] == ["judged", "Correct", "%", "Incorrect", "%", "Ambiguous", "%"]
    assert rows["negative"] == ["1", "0.0", "100.0", "0.0"]
    assert rows["positive"] == ["2", "50.0", "50.0", "0.0"]
    assert rows["ann"] == ["1", "0.0", "100.0", "0.0"]
    assert rows["unknown"] == ["3", "66.7", "33.3", "0.0"]


def _wide() -> dict:
    import os

    return {**os.environ, "COLUMNS": "160"}


# -- bad input ---------------------------------------------------------------------------------


def tl(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tuilabel", *args], capture_output=True, text=True, cwd=cwd)


def one_line_error(proc: subprocess.CompletedProcess, *needles: str) -> str:
    assert proc.returncode == 2, proc.stderr
    err = proc.stderr.strip()
    assert "\n" not in err and "Traceback" not in err, err
    for needle in needles:
        assert needle in err, err
    return err


def test_bad_chained_settings_are_one_line_errors(earlier_job, tmp_path):
    out = str(earlier_job / "manifests" / "output" / "output.manifest")
    one_line_error(tl("label", out, "--verify", "sentimnt"), "no line in", "'sentimnt'", "its label attributes: sentiment")
    one_line_error(tl("label", str(tmp_path / "reviews.jsonl"), "--verify", "sentiment"), "no label attributes")
    one_line_error(tl("label", out, "--task", "verification"), "needs --verify ATTR")
    one_line_error(tl("label", out, "--verify", "sentiment", "--adjust", "sentiment"), "not both")
    one_line_error(tl("label", out, "--verify", "sentiment", "--attribute", "sentiment"), "writes a new attribute")
    one_line_error(tl("label", out, "--verify", "sentiment", "--task", "text-classification"), "makes a verification job")
    one_line_error(tl("label", out, "--adjust", "sentiment", "--labels", "negative,positive,neutral"),
                   "do not match the earlier job's", "'positive'", "'negative'")
    one_line_error(tl("label", out, "--adjust", "sentiment", "--task", "text-classification-multilabel"),
                   "so the adjustment is text-classification")
    copy = write_manifest(tmp_path / "copy.manifest", lines_of(Path(out)))
    one_line_error(tl("label", str(copy), "--adjust", "sentiment"), "needs the earlier job's labels")


def test_lines_without_an_auditable_label_are_declined_with_the_reason(tmp_path):
    """Missing audited attribute, a failed earlier record, a malformed earlier label and an
    unknown class_id: each is declined (the line reaches the output with its failure-reason,
    nothing else changed) and named in one message; the good lines are labeled."""
    good = {"source": "fine", "s": 1, "s-metadata": {"class-name": "neg", "type": "groundtruth/text-classification",
                                                      "job-name": "labeling-job/s", "confidence": 0,
                                                      "human-annotated": "yes", "creation-date": "2026-01-01T00:00:00.000000"}}
    bad = [
        {"source": "no earlier label at all"},
        {"source": "failed before", "s-metadata": {"failure-reason": "ClientError: timeout", "type": "groundtruth/text-classification"}},
        {"source": "malformed", "s": "neg", "s-metadata": good["s-metadata"]},
        {"source": "unknown class", "s": 7, "s-metadata": {**good["s-metadata"], "class-name": "other"}},
    ]
    manifest = write_manifest(tmp_path / "in.manifest", [good, *bad, good])
    prepared = prepare(JobRequest(source=str(manifest), adjust="s", labels="pos,neg", worker="adam"))
    session, _ = prepared.start()
    try:
        assert session.current.index == 0
        session.answer(1)
        assert session.current.index == 5  # lines 2-5 declined on the way
        session.answer(0)
        assert session.state is State.DONE
    finally:
        prepared.stop(session, None)
    notes = [m for m in session.messages if m.endswith("; declined")]
    assert len(notes) == 4
    assert "in.manifest:2: no earlier label: s is missing on this line; declined" in notes[0]
    assert "failure-reason" in notes[1] and "ClientError: timeout" in notes[1]
    assert 'malformed earlier label: s is "neg", not a class index' in notes[2]
    assert "unknown class_id 7: this job has 2 labels" in notes[3]
    lines = lines_of(prepared.folder.output_manifest)
    assert len(lines) == 6
    attr = prepared.spec.label_attribute
    for line, original in zip(lines[1:5], bad):
        assert attr not in line and "failure-reason" in line[attr + "-metadata"]
        assert {k: line[k] for k in original} == original  # nothing of the input lost
    assert [lines[0][attr], lines[5][attr]] == [1, 0]


def test_old_job_files_load_and_plain_jobs_are_unchanged(tmp_path):
    """A job.json from before chained jobs (no verify/adjust keys) loads as a plain job."""
    from tuilabel.core.gt.job import JobSpec

    old = {"name": "j", "label_attribute": "j", "task": "text-classification", "labels": ["a", "b"],
           "input": "in", "output": ".", "worker": "w", "instructions": {}}
    spec = JobSpec.from_json(orjson.dumps(old))
    assert (spec.verify, spec.adjust, spec.audited) == ("", "", "")
    assert chained.problem(spec, {"source": "x"}) is None


def test_a_started_chained_job_keeps_what_it_audits(earlier_job):
    out = earlier_job / "manifests" / "output" / "output.manifest"
    prepared = prepare(JobRequest(source=str(out), verify="sentiment", worker="vera"))
    session, _ = prepared.start()
    session.answer(0)
    prepared.stop(session, None)
    again = prepare(JobRequest(source=str(prepared.folder.root)))
    assert again.spec.verify == "sentiment" and again.spec.task == "text-verification"
    with pytest.raises(UserError, match="cannot change .*labels Correct, Incorrect, Ambiguous -> right, wrong"):
        prepare(JobRequest(source=str(out), verify="sentiment", labels="right,wrong"))


def test_a_job_file_names_the_audited_attribute_and_its_own_categories(earlier_job, tmp_path):
    out = earlier_job / "manifests" / "output" / "output.manifest"
    job_file = tmp_path / "verify.toml"
    job_file.write_text(f'name = "check-sentiment"\ninput = "{out}"\ntask = "verification"\nverify = "sentiment"\n'
                        'labels = ["right", "wrong"]\n')
    prepared = prepare(JobRequest(source=str(job_file), worker="vera"))
    assert (prepared.spec.task, prepared.spec.verify, prepared.spec.labels) == ("text-verification", "sentiment", ("right", "wrong"))
    session, _ = prepared.start()
    try:
        session.answer(1, feedback="  neutral, not positive  ")
    finally:
        prepared.stop(session, None)
    line = lines_of(prepared.folder.output_manifest)[0]
    assert line["check-sentiment"] == 1
    assert line["check-sentiment-metadata"]["class-name"] == "wrong"
    assert line["check-sentiment-metadata"]["worker-feedback"] == [{"comment": "neutral, not positive"}]
    job_file.write_text(f'name = "x"\ninput = "{out}"\nverify = 3\n')
    with pytest.raises(UserError, match="verify must be a label attribute name"):
        prepare(JobRequest(source=str(job_file)))


def test_a_chained_job_on_s3_goes_beside_the_earlier_job(earlier_job, s3_bucket, tmp_path, monkeypatch):
    """The earlier job's output on S3 (moto's server): the verification job's folder is
    s3://bucket/sentiment-verification/, not inside the earlier job's manifests/output/."""
    import boto3

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    key = "jobs/sentiment/manifests/output/output.manifest"
    boto3.client("s3").put_object(Bucket=s3_bucket, Key=key,
                                  Body=(earlier_job / "manifests" / "output" / "output.manifest").read_bytes())
    prepared = prepare(JobRequest(source=f"s3://{s3_bucket}/{key}", verify="sentiment", worker="vera"))
    assert prepared.spec.name == "sentiment-verification"
    assert prepared.output_s3 == f"s3://{s3_bucket}/jobs/sentiment-verification/"
    assert prepared.spec.task == "text-verification"


def test_consolidated_adjustment_is_adjusted_when_any_worker_changed(earlier_job, tmp_path):
    """Three workers adjust the same job; on record 1 one of them changes the label, and the
    consolidated label stays the earlier one: GT still writes "adjusted" (spec §7)."""
    from tuilabel.cli import main

    out = earlier_job / "manifests" / "output" / "output.manifest"
    for worker, first in (("ann", 0), ("bob", 0), ("cy", 1)):
        prepared = prepare(JobRequest(source=str(out), adjust="sentiment", worker=worker))
        session, _ = prepared.start()
        try:
            for value in (first, 1, 2, 0):  # the earlier labels are 0, 1, 2, 0
                session.answer(value)
        finally:
            prepared.stop(session, None)
    assert main(["consolidate", str(prepared.folder.root)]) == 0
    lines = lines_of(prepared.folder.output_manifest)
    attr = prepared.spec.label_attribute
    assert [line[attr] for line in lines] == [0, 1, 2, 0]
    assert [line[attr + "-metadata"]["adjustment-status"] for line in lines] == ["adjusted", "unadjusted", "unadjusted", "unadjusted"]


def test_a_team_verification_declines_lines_without_an_earlier_label_and_consolidates(earlier_job, tmp_path):
    """Two workers per record under leases: a line whose earlier label is gone is declined by
    each worker's session with the reason (never shown), the others are consolidated."""
    out = earlier_job / "manifests" / "output" / "output.manifest"
    lines = lines_of(out)
    del lines[2]["sentiment"]  # record 3 lost its earlier label
    source = write_manifest(tmp_path / "earlier.manifest", lines)
    shown: dict[str, list[int]] = {}
    for worker in ("vera", "walt"):
        prepared = prepare(JobRequest(source=str(source), verify="sentiment", worker=worker,
                                      team={"workers_per_record": 2, "task_time_limit": 60}))
        session, _ = prepared.start()
        try:
            shown[worker] = []
            while session.current is not None:
                shown[worker].append(session.current.index)
                index = session.current.index
                session.answer(1 if index == 1 else 0, feedback=f"{worker} on {index}" if index == 1 else "")
        finally:
            prepared.stop(session, None)
        assert any("earlier.manifest:3: no earlier label: sentiment is missing on this line; declined" in m
                   for m in session.messages)
    assert sorted(shown["vera"]) == sorted(shown["walt"]) == [0, 1, 3]
    attr = prepared.spec.label_attribute
    written = {line["id"]: line for line in lines_of(prepared.folder.output_manifest)}
    assert {k: written[k].get(attr) for k in ("r1", "r2", "r4")} == {"r1": 0, "r2": 1, "r4": 0}
    assert written["r2"][attr + "-metadata"]["class-name"] == "Incorrect"
    # Both workers' comments on record 2 stay on its consolidated line (GT's worker-feedback list).
    assert sorted(c["comment"] for c in written["r2"][attr + "-metadata"]["worker-feedback"]) == ["vera on 1", "walt on 1"]
    assert "worker-feedback" not in written["r1"][attr + "-metadata"]
    assert "r3" not in written or "failure-reason" in written["r3"][attr + "-metadata"]


def test_consolidating_a_verification_keeps_every_workers_comment(earlier_job):
    """`tuilabel consolidate` of a verification job three workers did: each record's line
    carries the comments its workers gave, in worker order, and none where nobody commented."""
    from tuilabel.cli import main

    out = earlier_job / "manifests" / "output" / "output.manifest"
    for worker in ("ann", "bob", "cy"):
        prepared = prepare(JobRequest(source=str(out), verify="sentiment", worker=worker))
        session, _ = prepared.start()
        try:
            for i in range(4):
                session.answer(0, feedback=f"{worker}: fine" if i == 2 and worker != "bob" else "")
        finally:
            prepared.stop(session, None)
    assert main(["consolidate", str(prepared.folder.root)]) == 0
    attr = prepared.spec.label_attribute
    metas = [line[attr + "-metadata"] for line in lines_of(prepared.folder.output_manifest)]
    assert metas[2]["worker-feedback"] == [{"comment": "ann: fine"}, {"comment": "cy: fine"}]
    assert [("worker-feedback" in m) for m in metas] == [False, False, True, False]
