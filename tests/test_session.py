"""The session state machine: every user action, without a terminal."""

from __future__ import annotations

import time

import orjson
import pytest

from tuilabel.core.errors import UserError
from tuilabel.core.gt.export import write_gt
from tuilabel.core.session import State

from engine_helpers import open_session, output_lines, text_manifest, write_manifest


def test_label_advances_and_writes_line_by_line(tmp_path):
    s = open_session(text_manifest(tmp_path / "in.jsonl", 5))
    assert s.current.index == 0
    s.answer(0)
    assert s.current.index == 1
    assert len(output_lines(s)) == 1  # on disk before the next record is shown
    s.answer(2)
    assert [o["job1"] for o in output_lines(s)] == [0, 2]
    assert s.label_counts == [1, 0, 1]
    s.close()


def test_skip_comes_back_at_end_of_pass(tmp_path):
    s = open_session(text_manifest(tmp_path / "in.jsonl", 4))
    s.skip()
    s.answer(0)
    s.skip()
    assert s.current.index == 3
    s.answer(1)
    assert s.current.index == 0  # new pass: skipped ones return, in order
    s.answer(1)
    assert s.current.index == 2
    s.answer(1)
    assert s.state is State.DONE and s.current is None
    s.close()


def test_undo_shows_previous_answer_and_relabel_wins(tmp_path):
    s = open_session(text_manifest(tmp_path / "in.jsonl", 4))
    s.answer(0)
    s.answer(1)
    assert s.back()
    assert s.state is State.REVIEWING and s.current.index == 1
    assert s.current_answer.gt["job1"] == 1
    s.answer(2)  # relabel
    assert s.state is State.LABELING and s.current.index == 2
    assert s.label_counts == [1, 0, 1]
    s.answer(0)
    s.answer(0)
    path = s.finish()
    s.close()
    lines = [orjson.loads(x) for x in path.read_bytes().splitlines()]
    assert [o["job1"] for o in lines] == [0, 2, 0, 0]  # canonical: input order, latest wins


def test_history_walks_back_ten_and_forward(tmp_path):
    s = open_session(text_manifest(tmp_path / "in.jsonl", 30))
    for i in range(15):
        s.answer(i % 3)
    for expect in range(14, 3, -1):
        assert s.back()
        assert s.current.index == expect
    s.answer(1)  # change an answer 11 back
    assert s.current.index == 5  # moves on through the history
    for _ in range(9):
        s.forward()
    assert s.state is State.REVIEWING and s.current.index == 14
    s.forward()
    assert s.state is State.LABELING and s.current.index == 15
    assert s.journal.latest_for(4).gt["job1"] == 1
    s.close()


def test_back_at_start_does_nothing(tmp_path):
    s = open_session(text_manifest(tmp_path / "in.jsonl", 3))
    assert not s.back()
    assert s.current.index == 0
    s.close()


def test_decline_is_an_answer_with_failure_reason(tmp_path):
    s = open_session(text_manifest(tmp_path / "in.jsonl", 2))
    s.decline()
    s.answer(0)
    assert s.state is State.DONE
    p = s.progress()
    assert (p.done, p.declined, p.answered, p.total) == (2, 1, 1, 2)
    s.finish()
    lines = output_lines(s)
    s.close()
    assert "failure-reason" in lines[0]["job1-metadata"] and "job1" not in lines[0]


def test_multilabel_needs_one_label(tmp_path):
    s = open_session(text_manifest(tmp_path / "in.jsonl", 2), task="text-classification-multilabel")
    with pytest.raises(UserError):
        s.answer([])
    s.answer([0, 2])
    assert s.label_counts == [1, 0, 1]
    s.close()


def test_out_of_range_label_refused(tmp_path):
    s = open_session(text_manifest(tmp_path / "in.jsonl", 2))
    with pytest.raises(UserError, match="out of range"):
        s.answer(7)
    assert s.current.index == 0
    s.close()


def test_jump_to_answered_and_unanswered(tmp_path):
    s = open_session(text_manifest(tmp_path / "in.jsonl", 10))
    for _ in range(3):
        s.answer(1)
    s.jump(1)
    assert s.state is State.REVIEWING and s.current_answer.gt["job1"] == 1
    s.jump(7)
    assert s.state is State.LABELING and s.current.index == 7
    with pytest.raises(UserError, match="no record 11"):
        s.jump(10)
    s.close()


def test_resume_after_close_is_first_unanswered(tmp_path):
    m = text_manifest(tmp_path / "in.jsonl", 10)
    s = open_session(m)
    s.skip()
    for _ in range(5):
        s.answer(0)
    s.close()
    s = open_session(m)
    assert s.current.index == 0  # the skipped one: first record without an answer
    s.answer(1)
    assert s.current.index == 6
    assert s.label_counts == [5, 1, 0]
    s.close()


def test_resume_at_frontier_without_replaying(tmp_path):
    m = text_manifest(tmp_path / "in.jsonl", 2000)
    s = open_session(m)
    for _ in range(1500):
        s.answer(0)
    s.close()
    s = open_session(m)
    assert s.current.index == 1500
    assert s.journal.checkpoint["journal_size"] == s.journal.size  # nothing to replay
    s.close()


def test_bad_lines_reported_and_job_completes(tmp_path):
    m = write_manifest(tmp_path / "in.jsonl", [{"source": "a"}, b"oops\n", b"\n", {"nope": 1}, {"source": "b"}])
    s = open_session(m)
    s.answer(0)
    assert s.current.source == "b"
    s.answer(1)
    assert s.state is State.DONE
    assert s.bad_lines == 2
    assert any("in.jsonl:2: invalid JSON" in msg for msg in s.messages)
    assert any("in.jsonl:4: no 'source'" in msg for msg in s.messages)
    report = s.folder.bad_lines_report.read_text()
    assert "in.jsonl:2:" in report and "in.jsonl:4:" in report
    assert s.progress().total == 2
    s.close()


def test_export_leaves_out_unanswered(tmp_path):
    m = text_manifest(tmp_path / "in.jsonl", 5)
    s = open_session(m)
    s.answer(0)
    s.skip()
    s.answer(2)
    res = write_gt(s.folder, s.manifest, tmp_path / "out.manifest", "job1")
    s.close()
    assert (res.written, res.unanswered) == (2, 3)
    assert [orjson.loads(x)["id"] for x in (tmp_path / "out.manifest").read_bytes().splitlines()] == [0, 2]


def wait_total(session, timeout: float = 10.0) -> int | None:
    deadline = time.monotonic() + timeout
    while session.progress().total is None and time.monotonic() < deadline:
        time.sleep(0.02)
    return session.progress().total


def test_open_without_background_leaves_the_index_to_start_background(tmp_path):
    """A UI opens with background=False and starts the index once it has drawn its first
    frame; until then the first record and answers work, and the total is unknown."""
    from tuilabel.core.data.manifest import Manifest
    from tuilabel.core.gt.job import JobFolder
    from tuilabel.core.session import Session

    from engine_helpers import make_spec

    manifest = text_manifest(tmp_path / "in.manifest", 1000)
    spec = make_spec(manifest)
    session = Session(spec, JobFolder(manifest.parent / spec.name), Manifest(manifest)).open(background=False)
    try:
        assert session.current is not None and session.current.index == 0
        session.answer(0)
        assert session.current.index == 1
        assert not session.manifest.index_done and session.progress().total is None
        session.start_background()
        session.start_background()  # idempotent
        assert session.manifest.wait_index(10)
        assert wait_total(session) == 1000  # lines not records are counted after the index
    finally:
        session.close()


def test_deferred_index_starts_when_resuming_needs_it(tmp_path):
    """After a crash (no checkpoint) resuming looks records up by line number: with the
    index deferred (background=False) that must start it, not wait for it forever."""
    import threading

    from tuilabel.core.data.manifest import Manifest
    from tuilabel.core.gt.job import JobFolder
    from tuilabel.core.session import Session

    from engine_helpers import make_spec

    manifest = text_manifest(tmp_path / "in.manifest", 12)
    spec = make_spec(manifest)
    first = Session(spec, JobFolder(manifest.parent / spec.name), Manifest(manifest)).open()
    for label in (0, 1, 2, 0, 1):
        first.answer(label)
    first.journal.close()  # a killed process: no checkpoint, no clean close
    first.manifest.close()
    first.lock.release()
    assert not first.folder.checkpoint(spec.worker).exists()

    opened: list[Session] = []
    thread = threading.Thread(target=lambda: opened.append(
        Session(spec, JobFolder(manifest.parent / spec.name), Manifest(manifest)).open(background=False)), daemon=True)
    thread.start()
    thread.join(10)
    assert not thread.is_alive(), "open(background=False) hung waiting for an index nobody started"
    try:
        assert opened[0].current.index == 5
        # The index that lookup started reports to the session: the total appears.
        opened[0].start_background()
        assert wait_total(opened[0]) == 12
    finally:
        opened[0].close()

