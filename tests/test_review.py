"""`tuilabel review`: the review plan (order, suggestions, every worker's answer), the Session
walking it, final decisions in the journal and the reviewed output (every line), through the
core and through the app with Pilot; resuming keeps decisions."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import orjson
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from review_data import ATTR, LABELS, RECORDS, build_gt_folder, build_tuilabel_job, label_job  # noqa: E402

from tuilabel.core.errors import UserError
from tuilabel.core.gt.consolidate_job import ALL_DECLINED
from tuilabel.core.review import REVIEWER_ROLE, prepare_review
from tuilabel.core.session import State
from tuilabel.core.store.journal import Entry, iter_journal
from tuilabel.ui.app import make_app
from tuilabel.ui.widgets.review_panel import ReviewPanel

SIZE = (110, 32)


def journal_entries(prepared) -> list[Entry]:
    return [Entry.from_line(line) for line in iter_journal(prepared.folder.journal(prepared.spec.worker))]


def output(prepared) -> list[dict]:
    return [orjson.loads(line) for line in prepared.folder.output_manifest.read_bytes().splitlines()]


def test_plan_orders_by_confidence_with_every_answer(tmp_path):
    job = build_gt_folder(tmp_path)
    prepared = prepare_review(str(job), reviewer="rita")
    plan = prepared.plan
    assert plan.order == [4, 1, 3, 2, 5, 0]  # the failed record (confidence 0) first
    assert plan.suggested == {0: 0, 1: 2, 2: 1, 3: 0, 5: 0}
    assert [(a.worker, a.labels, a.seconds) for a in plan.answers[1]] == [
        ("ann", ("neutral",), 6.0), ("bob", ("positive",), 4.0), ("cy", ("negative",), 9.5)]
    assert prepared.folder.root == tmp_path / "sentiment-review"
    assert prepared.spec.label_attribute == ATTR and prepared.spec.labels == tuple(LABELS)
    below = prepare_review(str(job), below=0.7, reviewer="rita").plan
    assert below.order == [4, 1, 3]
    with pytest.raises(UserError, match="--below"):
        prepare_review(str(job), below=1.5)
    with pytest.raises(UserError, match="no worker answers"):
        prepare_review(str(tmp_path))


def test_session_walks_the_review_order_and_writes_every_line(tmp_path):
    job = build_gt_folder(tmp_path)
    prepared = prepare_review(str(job), below=0.7, reviewer="rita")
    session = prepared.start()
    try:
        assert session.current.index == 4
        with pytest.raises(UserError, match="no consolidated label"):
            session.accept()
        session.skip()
        assert session.current.index == 1
        session.accept()  # neutral, as consolidated
        assert session.current.index == 3
        session.answer(1)  # override: negative
        assert session.current.index == 4  # the skipped record comes back
        assert session.progress().done == 2 and session.progress().total == 3
        session.decline()
        assert session.state is State.DONE
        path = session.finish()
    finally:
        session.close()
    entries = journal_entries(prepared)
    assert [(e.index, e.kind, e.worker, e.role) for e in entries] == [
        (1, "a", "rita", REVIEWER_ROLE), (3, "a", "rita", REVIEWER_ROLE), (4, "d", "rita", REVIEWER_ROLE)]
    lines = output(prepared)
    assert path == prepared.folder.output_manifest
    assert [line["source"] for line in lines] == [r[0] for r in RECORDS]  # every line, input order
    original = [orjson.loads(x) for x in (job / "manifests/output/output.manifest").read_bytes().splitlines()]
    for i in (0, 2, 5):
        assert lines[i] == original[i]  # not reviewed: the consolidated line as it was
    assert lines[1][ATTR] == 2 and lines[1][ATTR + "-metadata"]["confidence"] == 1.0
    assert lines[3][ATTR] == 1 and lines[3][ATTR + "-metadata"]["class-name"] == "negative"
    assert lines[3][ATTR + "-metadata"]["human-annotated"] == "yes"
    assert ATTR not in lines[4] and "failure-reason" in lines[4][ATTR + "-metadata"]
    # `tuilabel export` knows a review (tuilabel/review.json) and keeps every line too.
    from tuilabel.cli import main

    assert main(["export", str(prepared.folder.root), "--format", "gt", "-o", str(tmp_path / "again.manifest")]) == 0
    assert (tmp_path / "again.manifest").read_bytes() == prepared.folder.output_manifest.read_bytes()
    before = prepared.folder.output_manifest.read_bytes()
    assert main(["export", str(prepared.folder.root), "--format", "gt"]) == 0  # in place: canonical rewrite
    assert prepared.folder.output_manifest.read_bytes() == before


def test_a_resumed_review_rewrites_its_output_with_every_line_once(tmp_path):
    """Decisions appended after a canonical review output are never taken as canonical as they
    stand (the file already holds every line): closing rewrites it, one line per input line."""
    job = build_gt_folder(tmp_path)
    first = prepare_review(str(job), reviewer="rita")
    session = first.start()
    session.skip()  # record 4
    session.accept()  # record 1
    session.close()
    assert len(output(first)) == len(RECORDS)
    session = prepare_review(str(job), reviewer="rita").start()
    try:
        session.skip()  # record 4 again
        assert session.current.index == 3
        session.answer(1)  # after record 1 in input order: appended in order
    finally:
        session.close()
    lines = output(first)
    assert [line["source"] for line in lines] == [r[0] for r in RECORDS]
    assert lines[3][ATTR] == 1 and lines[3][ATTR + "-metadata"]["confidence"] == 1.0


def test_resume_keeps_decisions_and_continues(tmp_path):
    job = build_gt_folder(tmp_path)
    first = prepare_review(str(job), reviewer="rita")
    session = first.start()
    session.skip()
    session.accept()  # record 1
    session.close()
    second = prepare_review(str(job), reviewer="rita")
    assert not second.new
    session = second.start()
    try:
        assert session.current.index == 4  # first undecided record in review order
        assert session.progress().done == 1 and session.progress().total == 6
        session.skip()
        assert session.current.index == 3
    finally:
        session.close()


def test_review_of_a_tuilabel_job_with_several_workers(tmp_path):
    build_tuilabel_job(tmp_path)
    prepared = prepare_review(str(tmp_path / "sentiment"), reviewer="rita")
    plan = prepared.plan
    assert prepared.manifest_path == prepared.folder.input_cache
    assert plan.order[0] == 4  # every worker declined: first
    assert plan.suggested[0] == 0  # every worker said positive
    ordered = [plan.confidence[i] for i in plan.order]
    assert ordered == sorted(ordered)
    assert {a.worker for a in plan.answers[1]} == {"ann", "bob", "cy"}
    consolidated = [orjson.loads(x) for x in prepared.manifest_path.read_bytes().splitlines()]
    assert consolidated[4][ATTR + "-metadata"]["failure-reason"] == ALL_DECLINED
    session = prepared.start()
    try:
        session.accept() if session.current.index != 4 else session.decline()
        assert session.journal.answered + session.journal.declined == 1
    finally:
        session.close()


def test_review_of_a_tuilabel_job_keeps_line_positions(tmp_path):
    """An input with an empty line and a bad one: the consolidated lines stay at their input
    line index, so each record is reviewed with its own workers' answers."""
    texts = ["good", None, "bad", "not json", "fine"]
    votes = {"ann": [0, 1, 0], "bob": [0, 1, 1]}  # on lines 0, 2 and 4
    label_job(tmp_path, b"".join(
        (b"\n" if t is None else b"{nope\n" if t == "not json" else orjson.dumps({"source": t}) + b"\n") for t in texts), votes)
    prepared = prepare_review(str(tmp_path / "sentiment"), reviewer="rita")
    consolidated = prepared.manifest_path.read_bytes().split(b"\n")
    for index in (0, 2, 4):
        assert orjson.loads(consolidated[index])["source"] == texts[index]
        assert [(a.worker, a.labels) for a in prepared.plan.answers[index]] == [
            (w, (LABELS[votes[w][(0, 2, 4).index(index)]],)) for w in ("ann", "bob")]
    assert consolidated[1] == b"" and consolidated[3] == b""
    assert sorted(prepared.plan.order) == [0, 2, 4]


def test_app_shows_answers_enter_accepts_digit_overrides(tmp_path):
    job = build_gt_folder(tmp_path)
    prepared = prepare_review(str(job), below=0.7, reviewer="rita")
    session = prepared.start()

    async def go():
        app = make_app(session, theme="tuilabel-dark")
        async with app.run_test(size=SIZE) as pilot:
            panel = app.label_screen.query_one("#review-panel", ReviewPanel)
            assert ("⏎", "Accept") in [(h.key, h.description) for h in app.label_screen.key_bar.shown]
            text = _plain(panel)
            assert "no consolidated label" in text and "review 1 of 3" in text
            await pilot.press("enter")  # nothing to accept: an error line, no decision
            assert session.journal.answered == 0 and session.current.index == 4
            assert "no consolidated label" in app.label_screen.message_text
            await pilot.press("space")
            text = _plain(panel)
            assert session.current.index == 1
            for worker, label, seconds in RECORDS[1][1]:
                assert worker in text and label in text and f"{seconds:.1f} s" in text
            assert "consolidated neutral" in text and "0.41" in text
            await pilot.press("enter")
            assert session.current.index == 3
            await pilot.press("2")  # negative overrides positive
            assert session.current.index == 4
            await pilot.press("x")
            await pilot.pause()
            assert session.state is State.DONE

    try:
        asyncio.run(go())
    finally:
        session.close()
    decided = {e.index: (e.kind, e.gt.get(ATTR), e.role) for e in journal_entries(prepared)}
    assert decided == {1: ("a", 2, REVIEWER_ROLE), 3: ("a", 1, REVIEWER_ROLE), 4: ("d", None, REVIEWER_ROLE)}
    assert len(output(prepared)) == len(RECORDS)  # the summary wrote the reviewed output


def _plain(panel: ReviewPanel) -> str:
    from rich.console import Console

    console = Console(width=200, record=True, file=open("/dev/null", "w"))
    console.print(panel.shown)
    return console.export_text()


def test_multi_label_review_starts_at_the_suggestion(tmp_path):
    job = build_gt_folder(tmp_path)
    out = job / "manifests" / "output" / "output.manifest"
    lines = []
    for i, raw in enumerate(out.read_bytes().splitlines()):
        obj = orjson.loads(raw)
        meta = obj[ATTR + "-metadata"]
        meta["type"] = "groundtruth/text-classification-multilabel"
        if ATTR in obj:
            label = obj[ATTR]
            obj[ATTR] = [label, 2] if label != 2 else [2]
            meta.pop("class-name")
            conf = meta.pop("confidence")
            meta["class-map"] = {str(x): LABELS[x] for x in obj[ATTR]}
            meta["confidence-map"] = {str(x): conf for x in obj[ATTR]}
        lines.append(orjson.dumps(obj))
    out.write_bytes(b"\n".join(lines) + b"\n")
    prepared = prepare_review(str(job), below=0.6, reviewer="rita")
    assert prepared.spec.task == "text-classification-multilabel"
    assert prepared.plan.order == [4, 1, 3] and prepared.plan.suggested[3] == [0, 2]
    session = prepared.start()

    async def go():
        app = make_app(session)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("space")  # record 4 has nothing to suggest
            assert session.current.index == 1
            await pilot.press("enter")  # the suggestion starts toggled: enter accepts it
            assert session.current.index == 3
            await pilot.press("3", "enter")  # untoggle neutral: positive only
            await pilot.press("q")

    try:
        asyncio.run(go())
    finally:
        session.close()
    decided = {e.index: e.gt[ATTR] for e in journal_entries(prepared)}
    assert decided == {1: [2], 3: [0]}
    assert journal_entries(prepared)[0].gt[ATTR + "-metadata"]["confidence-map"] == {"2": 1.0}


def test_cli_refuses_bad_input_with_one_line(tmp_path, capsys):
    from tuilabel.cli import main

    assert main(["review", str(tmp_path / "nope")]) == 2
    assert "is not a folder" in capsys.readouterr().err
    job = build_gt_folder(tmp_path)
    assert main(["review", str(job), "--below", "0"]) == 2
    assert "--below" in capsys.readouterr().err
    (tmp_path / "t").mkdir()
    single = build_tuilabel_job(tmp_path / "t")
    for extra in sorted((single / "tuilabel" / "workers").glob("*/journal.jsonl"))[1:]:
        extra.unlink()
    assert main(["review", str(single)]) == 2
    assert "only one worker" in capsys.readouterr().err


def test_review_plan_of_gt_birds(shared_data, tmp_path):
    prepared = prepare_review(str(shared_data / "gt-birds"), below=0.9, output=str(tmp_path), reviewer="rita")
    plan = prepared.plan
    assert prepared.folder.root == tmp_path / "birds-open-images-clone-review"  # the read-only folder is left alone
    assert prepared.spec.task == "image-classification" and len(prepared.spec.labels) == 10
    assert len(plan.order) == 3  # GT's output: two records at 0.6-0.7, one at 0.8-0.9
    confidences = [plan.confidence[i] for i in plan.order]
    assert confidences == sorted(confidences) and confidences[-1] < 0.9
    assert all(len(plan.answers[i]) == 5 for i in plan.order)
    session = prepared.start()
    try:
        assert session.current.index == plan.order[0]
        session.accept()
        assert session.current.index == plan.order[1]
    finally:
        session.close()


def test_review_of_a_multi_label_tuilabel_job(tmp_path):
    """Consolidated per label (main's multi-label EM) at the first start; the suggestion is
    the set of labels, a decision is final with every confidence 1.0."""
    votes = {"ann": [[0], [0, 2], [1]], "bob": [[0], [2], [1, 2]]}
    label_job(tmp_path, b"".join(orjson.dumps({"source": r[0]}) + b"\n" for r in RECORDS[:3]), votes,
              "text-classification-multilabel")
    prepared = prepare_review(str(tmp_path / "sentiment"), reviewer="rita")
    assert prepared.spec.task == "text-classification-multilabel"
    assert sorted(prepared.plan.order) == [0, 1, 2] and prepared.plan.suggested[0] == [0]
    assert {a.worker: a.labels for a in prepared.plan.answers[1]} == {"ann": ("positive", "neutral"), "bob": ("neutral",)}
    session = prepared.start()
    try:
        first = session.current.index
        session.answer(prepared.plan.suggested[first])
    finally:
        session.close()
    decided = journal_entries(prepared)[0]
    assert decided.role == REVIEWER_ROLE
    assert set(decided.gt[ATTR + "-metadata"]["confidence-map"].values()) == {1.0}
    assert len(output(prepared)) == 3
