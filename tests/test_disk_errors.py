"""Disk full and read-only job folders: one clear line, earlier answers intact.

We run as root, so chmod does not stop writes; instead the job folder is a real tmpfs mount
(tiny for "disk full", remounted read-only for "read-only"). Skipped, with the reason, where
mount is not permitted.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import uuid
from pathlib import Path

import orjson
import pytest

from drivers.jobkit import NAME, folder_for, open_session, write_text_manifest
from tuilabel.core.errors import UserError
from tuilabel.core.store.journal import gt_bytes
from tuilabel.core.session import State

REPO = Path(__file__).resolve().parents[1]


def _mount(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["mount", *args], capture_output=True, text=True)


@contextlib.contextmanager
def tmpfs(path: Path, size: str):
    """`path` as a fresh tmpfs of `size`; always unmounted."""
    path.mkdir(parents=True, exist_ok=True)
    result = _mount("-t", "tmpfs", "-o", f"size={size},mode=0755", f"tuilabel-test-{uuid.uuid4().hex[:8]}", str(path))
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root / CAP_SYS_ADMIN): {result.stderr.strip()}")
    try:
        yield path
    finally:
        if subprocess.run(["umount", str(path)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(path)], capture_output=True)


def remount(path: Path, options: str) -> None:
    result = _mount("-o", f"remount,{options}", str(path))
    if result.returncode != 0:
        pytest.fail(f"remount {options} failed: {result.stderr.strip()}")


def journal_lines(folder) -> list[bytes]:
    data = folder.journal("w1").read_bytes()
    assert data == b"" or data.endswith(b"\n"), "torn journal line"
    return data.splitlines()


def assert_whole_and_in_step(folder) -> list[bytes]:
    """Journal and output.manifest: only whole lines, and the output is the journal's GT objects."""
    lines = journal_lines(folder)
    for line in lines:
        orjson.loads(line)
    out = folder.output_manifest.read_bytes()
    assert out == b"" or out.endswith(b"\n"), "torn output.manifest line"
    out_lines = out.splitlines()
    for line in out_lines:
        orjson.loads(line)
    assert out_lines[-1] == gt_bytes(lines[-1] + b"\n")
    return lines


def fill_until_full(session, limit: int = 5000) -> tuple[list[tuple[int, int]], UserError]:
    committed = []
    for n in range(limit):
        index = session.current.index
        try:
            session.answer(n % 4)
        except UserError as exc:
            return committed, exc
        committed.append((index, n % 4))
    pytest.fail(f"the disk never filled after {limit} answers")


# Sizes from 40 to 100 KiB, 4 KiB (a page) apart: depending on how the pages fall, the disk
# fills during the journal write or during the output.manifest write. Both must be seen.
SIZES = [f"{k}k" for k in range(40, 104, 4)]


def _failed_file(message: str) -> str:
    return "journal" if "journal.jsonl" in message else "output" if "output.manifest" in message else message


def test_disk_full_is_one_line_and_every_committed_answer_survives(tmp_path):
    manifest = write_text_manifest(tmp_path / "in.manifest", 3000)
    seen: set[str] = set()
    for size in SIZES:
        with tmpfs(tmp_path / f"disk-{size}", size) as disk:
            session = open_session(manifest, disk)
            folder = session.folder
            committed, error = fill_until_full(session)
            message = str(error)
            assert "the disk is full" in message and "\n" not in message, size
            assert str(disk) in message  # names the file it could not write
            seen.add(_failed_file(message))
            assert len(committed) > 5
            session.close()  # must not raise; the checkpoint that did not fit is a message
            assert all("\n" not in m for m in session.messages)

            # Free space, reopen: every committed answer is there, nothing torn.
            remount(disk, "size=4m")
            session = open_session(manifest, disk)
            try:
                lines = assert_whole_and_in_step(folder)
                got = [(orjson.loads(x)["i"], orjson.loads(x)["gt"][NAME]) for x in lines]
                assert got[: len(committed)] == committed, size
                assert len(got) - len(committed) in (0, 1)  # the failed answer may be in the journal
                out = folder.output_manifest.read_bytes().splitlines()
                assert out == [gt_bytes(x + b"\n") for x in lines], f"{size}: output.manifest out of step after repair"
                before = session.current.index
                session.answer(1)  # and labeling goes on
                assert session.current.index > before
            finally:
                session.close()
        if seen == {"journal", "output"}:
            break
    assert seen == {"journal", "output"}, f"only saw the disk fill in {seen} over sizes {SIZES}"


def test_disk_full_then_space_freed_same_session_goes_on(tmp_path):
    """The worker frees space and presses the key again, without restarting."""
    manifest = write_text_manifest(tmp_path / "in.manifest", 3000)
    seen: set[str] = set()
    for size in SIZES:
        with tmpfs(tmp_path / f"disk-{size}", size) as disk:
            session = open_session(manifest, disk)
            folder = session.folder
            try:
                committed, error = fill_until_full(session)
                seen.add(_failed_file(str(error)))
                remount(disk, "size=4m")
                for _ in range(5):
                    session.answer(2)
                for n, line in enumerate(folder.output_manifest.read_bytes().splitlines()):
                    try:
                        orjson.loads(line)
                    except orjson.JSONDecodeError:
                        pytest.fail(f"{size}, {_failed_file(str(error))} write failed: output.manifest line {n + 1} is corrupt: {line[:80]!r}...")
                assert_whole_and_in_step(folder)
            finally:
                session.close()
            session = open_session(manifest, disk)
            session.close()
            lines = assert_whole_and_in_step(folder)
            got = [(orjson.loads(x)["i"], orjson.loads(x)["gt"][NAME]) for x in lines]
            assert got[: len(committed)] == committed
        if seen == {"journal", "output"}:
            break
    assert seen == {"journal", "output"}, f"only saw the disk fill in {seen} over sizes {SIZES}"


def test_read_only_job_folder_is_refused_in_one_line_and_answers_stay(tmp_path):
    manifest = write_text_manifest(tmp_path / "in.manifest", 50)
    with tmpfs(tmp_path / "disk", "1m") as disk:
        session = open_session(manifest, disk)
        for n in range(7):
            session.answer(n % 3)
        session.close()
        folder = folder_for(disk)
        before = {p: p.read_bytes() for p in folder.root.rglob("*") if p.is_file()}
        remount(disk, "ro")
        try:
            with pytest.raises(UserError) as info:
                open_session(manifest, disk)
            message = str(info.value)
            assert "read-only" in message and "\n" not in message and str(disk) in message

            env = dict(os.environ, XDG_CONFIG_HOME=str(tmp_path / "cfg"), XDG_DATA_HOME=str(tmp_path / "data"))
            result = subprocess.run(
                [sys.executable, "-m", "tuilabel", "label", str(folder.root), "--worker", "w1"],
                capture_output=True, text=True, cwd=REPO, env=env, timeout=60, stdin=subprocess.DEVNULL,
            )
            assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
            lines = result.stderr.splitlines()
            assert len(lines) == 1 and lines[0].startswith("tuilabel label: ") and "read-only" in lines[0]

            result = subprocess.run(
                [sys.executable, "-m", "tuilabel", "export", str(folder.root)],
                capture_output=True, text=True, cwd=REPO, env=env, timeout=60,
            )
            assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
            assert len(result.stderr.splitlines()) == 1 and "read-only" in result.stderr

            after = {p: p.read_bytes() for p in folder.root.rglob("*") if p.is_file()}
            assert after == before
        finally:
            remount(disk, "rw")
        session = open_session(manifest, disk)
        try:
            assert session.current.index == 7 and session.state is State.LABELING
        finally:
            session.close()
