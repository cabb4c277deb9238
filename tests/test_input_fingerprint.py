"""A changed input is noticed: the whole file is hashed (SHA-256) in the background while
labeling starts, kept in the checkpoint, and compared in the background on the next start.
A same-size edit in the middle of a big manifest (beyond the first and last 64 KiB that are
compared at once) is refused; an input that only grew is still accepted."""

from __future__ import annotations

import hashlib
import os

import orjson
import pytest

from drivers.jobkit import folder_for, make_spec, open_session, write_text_manifest
from tuilabel.core.data.manifest import Manifest
from tuilabel.core.errors import UserError
from tuilabel.core.session import Session


def big_job(tmp_path, answers: int = 5):
    manifest = write_text_manifest(tmp_path / "in.manifest", 8000)  # ~600 KB: a middle to edit
    output = tmp_path / "out"
    session = open_session(manifest, output)
    for i in range(answers):
        session.answer(i % 4)
    session.close()
    return manifest, output


def reopen_and_answer(manifest, output, label: int) -> list[str]:
    """Open again, let the background comparison finish, answer (it must be accepted), close.
    Returns the session's messages."""
    session = open_session(manifest, output)
    try:
        session.wait_background()
        assert not session.input_refused
        session.answer(label)
    finally:
        session.close()
    return session.messages


def saved_input(output) -> dict:
    return orjson.loads(folder_for(output).checkpoint("w1").read_bytes())["input"]


def test_the_whole_input_hash_is_kept_in_the_checkpoint(tmp_path):
    manifest, output = big_job(tmp_path)
    assert saved_input(output)["sha256"] == hashlib.sha256(manifest.read_bytes()).hexdigest()


def test_same_size_edit_in_the_middle_is_refused(tmp_path):
    manifest, output = big_job(tmp_path)
    data = manifest.read_bytes()
    middle = len(data) // 2
    at = data.index(b"review", middle)
    edited = data[:at] + b"REVIEW" + data[at + 6:]
    assert len(edited) == len(data)
    manifest.write_bytes(edited)
    session = open_session(manifest, output)  # opens at once: the first and last 64 KiB match
    try:
        session.wait_background()  # the background hash has compared the whole file
        assert session.input_refused
        message = session.input_refused
        assert "changed since the last session" in message and "\n" not in message
        assert "put the old file back" in message and "new job" in message
        with pytest.raises(UserError, match="changed since the last session"):
            session.answer(0)
    finally:
        session.close()
    entries = folder_for(output).journal("w1").read_bytes().splitlines()
    assert len(entries) == 5, "an answer was taken against the rewritten input"
    # With the old file back, labeling resumes.
    manifest.write_bytes(data)
    reopen_and_answer(manifest, output, 1)


def test_appended_lines_are_accepted_and_the_hash_follows(tmp_path):
    manifest, output = big_job(tmp_path)
    write_text_manifest(manifest, 10, start=8000, mode="ab")
    messages = reopen_and_answer(manifest, output, 2)
    assert any("grew since the last session" in m for m in messages)
    assert saved_input(output)["sha256"] == hashlib.sha256(manifest.read_bytes()).hexdigest()
    assert saved_input(output)["size"] == manifest.stat().st_size


def test_grown_input_with_an_edit_before_the_old_end_is_refused(tmp_path):
    manifest, output = big_job(tmp_path)
    data = manifest.read_bytes()
    at = data.index(b"review", len(data) // 2)
    manifest.write_bytes(data[:at] + b"REVIEW" + data[at + 6:] + b'{"source":"new"}\n')
    session = open_session(manifest, output)
    try:
        session.wait_background()
        assert session.input_refused and "changed since the last session" in session.input_refused
    finally:
        session.close()


def test_touched_but_unchanged_input_is_accepted(tmp_path):
    manifest, output = big_job(tmp_path)
    os.utime(manifest, (1e9, 1e9))
    reopen_and_answer(manifest, output, 3)


def edited_middle(tmp_path):
    """A closed job whose input was then edited in the middle, same size."""
    manifest, output = big_job(tmp_path)
    data = manifest.read_bytes()
    at = data.index(b"review", len(data) // 2)
    manifest.write_bytes(data[:at] + b"REVIEW" + data[at + 6:])
    return Session(make_spec(manifest, output), folder_for(output), Manifest(manifest))


def test_a_deferred_hash_starts_with_start_background(tmp_path):
    """`tuilabel label` opens with background=False: the app starts the hash after its
    first frame (start_background), and the edit is refused then."""
    session = edited_middle(tmp_path).open(background=False)
    try:
        session.wait_background()
        assert session.input_refused is None  # not hashed yet
        session.start_background()
        session.wait_background()
        assert session.input_refused and "changed since the last session" in session.input_refused
        with pytest.raises(UserError, match="changed since the last session"):
            session.answer(0)
    finally:
        session.close()


def test_a_session_closed_before_its_background_started_still_checks_the_input(tmp_path):
    """An app that never drew a frame (no terminal, a crash at start) never called
    start_background: close() still hashes the input before it writes output.manifest."""
    session = edited_middle(tmp_path).open(background=False)
    session.close()
    assert session.input_refused and any("changed since the last session" in m for m in session.messages)


def test_a_refused_input_stays_refused_at_every_later_start(tmp_path):
    """Closing a session that refused the input must not save the edited file as the job's
    input: the next start would then accept it."""
    manifest, output = big_job(tmp_path)
    data = manifest.read_bytes()
    at = data.index(b"review", len(data) // 2)
    manifest.write_bytes(data[:at] + b"REVIEW" + data[at + 6:])
    for _ in range(3):
        session = open_session(manifest, output)
        try:
            session.wait_background()
            assert session.input_refused
        finally:
            session.close()
    manifest.write_bytes(data)
    reopen_and_answer(manifest, output, 1)
