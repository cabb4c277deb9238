"""kill -9 at random moments loses no committed answer and leaves no corrupt line; resume is
constant-time (a verified byte offset) and notices a changed or grown input.

The kill loop runs tests/drivers/label_loop.py as a real process, SIGKILLs it after a random
delay, and checks the job's files after each kill. The random seed is printed (and in every
assertion message); rerun one with TUILABEL_KILL_SEED=<seed>.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import orjson
import pytest

from drivers.jobkit import (
    LABELS,
    NAME,
    folder_for,
    journal_entries,
    open_session,
    write_text_manifest,
)
from tuilabel.core.errors import UserError
from tuilabel.core.store.journal import Journal, gt_bytes, line_sha1
from tuilabel.core.session import State

DRIVER = Path(__file__).resolve().parent / "drivers" / "label_loop.py"
REPO = Path(__file__).resolve().parents[1]


def _seed() -> int:
    value = os.environ.get("TUILABEL_KILL_SEED")
    return int(value) if value else random.SystemRandom().randrange(1 << 31)


# -- one kill ------------------------------------------------------------------------------


def run_and_kill(manifest: Path, output: Path, seed: int, delay: float, after_ready: bool, multi: bool):
    """Start the driver, SIGKILL it `delay` s after start (or after it is ready).

    Returns (committed [(index, value)], finished, stderr)."""
    cmd = [sys.executable, str(DRIVER), str(manifest), str(output), str(seed)]
    if multi:
        cmd.append("--multi")
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO)
    lines: list[str] = []
    ready = threading.Event()

    def read() -> None:
        for raw in proc.stdout:
            lines.append(raw.decode().rstrip("\n"))
            if raw.startswith(b"ready"):
                ready.set()
        ready.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    if after_ready:
        ready.wait(30)
    time.sleep(delay)
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    reader.join(30)
    stderr = proc.stderr.read().decode()
    proc.stderr.close()
    proc.stdout.close()
    if proc.returncode not in (0, -signal.SIGKILL):
        pytest.fail(f"driver failed (exit {proc.returncode}):\n{stderr}")
    committed = []
    for line in lines:
        if line.startswith("committed "):
            _, index, value = line.split(" ")
            committed.append((int(index), value))
    return committed, "done" in lines, stderr


# -- what must hold after a kill -------------------------------------------------------------


def split_journal(path: Path) -> tuple[list[bytes], bytes]:
    """(complete lines, torn tail) of a journal file."""
    data = path.read_bytes() if path.exists() else b""
    cut = data.rfind(b"\n") + 1
    return data[:cut].splitlines(keepends=True), data[cut:]


def latest_by_index(lines: list[bytes]) -> dict[int, bytes]:
    latest: dict[int, bytes] = {}
    for line in lines:
        latest[orjson.loads(line)["i"]] = line
    return latest


def expected_counts(lines: list[bytes]) -> list[int]:
    counts = Counter()
    for line in latest_by_index(lines).values():
        obj = orjson.loads(line)
        if obj["k"] != "a":
            continue
        value = obj["gt"][NAME]
        for v in value if isinstance(value, list) else [value]:
            counts[v] += 1
    return [counts[i] for i in range(len(LABELS))]


def check_files_after_kill(journal: Path, prev_lines: int, committed, ctx: str) -> tuple[list[bytes], bool]:
    """(a) every complete journal line is a whole answer; (b) every printed commit is in it."""
    lines, tail = split_journal(journal)
    for n, line in enumerate(lines):
        try:
            obj = orjson.loads(line)
        except orjson.JSONDecodeError:
            pytest.fail(f"{ctx}: journal line {n + 1} is not JSON: {line[:200]!r}")
        assert {"i", "o", "k", "w", "at", "st", "ts", "gt"} <= obj.keys(), ctx
    assert b"\n" not in tail
    segment = lines[prev_lines:]
    got = []
    for line in segment[: len(committed)]:
        obj = orjson.loads(line)
        got.append((obj["i"], "d" if obj["k"] == "d" else entry_value_of(obj)))
    assert got == committed, f"{ctx}: a committed answer is missing or different in the journal"
    # At most one answer was written but not yet reported when the kill came.
    assert len(segment) - len(committed) in (0, 1), f"{ctx}: {len(segment)} new lines, {len(committed)} printed"
    return lines, bool(tail)


def entry_value_of(obj: dict) -> str:
    value = obj["gt"][NAME]
    return ",".join(map(str, value)) if isinstance(value, list) else str(value)


def check_reopened(manifest: Path, output: Path, multi: bool, torn: bool, n_records: int, ctx: str) -> int:
    """(c) reopen: torn tail repaired and reported, resume at the first record without an
    answer, counts right; after the close, output.manifest is canonical: the latest answer of
    every answered record, in input order. Returns journal lines."""
    session = open_session(manifest, output, multi=multi)
    try:
        journal = session.folder.journal("w1")
        lines, tail = split_journal(journal)
        assert tail == b"", f"{ctx}: torn journal tail not repaired"
        if torn:
            assert any("repaired a torn last line" in m and "journal" in m for m in session.messages), (
                f"{ctx}: torn tail repaired without a report: {session.messages}"
            )
        out = session.folder.output_manifest.read_bytes()
        assert out == b"" or out.endswith(b"\n"), f"{ctx}: output.manifest has a partial line"
        out_lines = out.splitlines()
        for line in out_lines:
            orjson.loads(line)
        # Whole now (appended to, or already rewritten in the background): every latest answer is in it.
        assert {gt_bytes(line) for line in latest_by_index(lines).values()} <= set(out_lines), (
            f"{ctx}: output.manifest lacks a committed answer"
        )
        latest = latest_by_index(lines)
        first_open = next((i for i in range(n_records) if i not in latest), None)
        if first_open is None:
            assert session.state is State.DONE, ctx
        else:
            assert session.state is State.LABELING, ctx
            assert session.current.index == first_open, f"{ctx}: resumed at {session.current.index}, first open is {first_open}"
        assert session.label_counts == expected_counts(lines), f"{ctx}: label counts differ from the journal"
        assert session.journal.answered + session.journal.declined == len(latest), ctx
    finally:
        session.close()
    want = [gt_bytes(latest[i]) for i in sorted(latest)]
    assert session.folder.output_manifest.read_bytes().splitlines() == want, (
        f"{ctx}: output.manifest is not canonical after the close"
    )
    return len(lines)


def check_export(manifest: Path, output: Path, ctx: str) -> None:
    """(d) the real CLI's canonical export: one line per answered/declined record, input order,
    each the latest answer; reopening afterwards leaves it as it is."""
    folder = folder_for(output)
    lines, _ = split_journal(folder.journal("w1"))
    latest = latest_by_index(lines)
    result = subprocess.run(
        [sys.executable, "-m", "tuilabel", "export", str(folder.root), "--format", "gt"],
        capture_output=True, text=True, cwd=REPO, timeout=60,
    )
    assert result.returncode == 0, f"{ctx}: export failed: {result.stderr}"
    assert "Traceback" not in result.stderr
    want = [gt_bytes(latest[i]) for i in sorted(latest)]
    got = folder.output_manifest.read_bytes()
    assert got.endswith(b"\n")
    got_lines = got.splitlines()
    assert len(got_lines) == len(want), f"{ctx}: export wrote {len(got_lines)} lines for {len(want)} answered records"
    assert got_lines == want, f"{ctx}: export is not the latest answers in input order"
    ids = [orjson.loads(line)["id"] for line in got_lines]
    assert ids == sorted(ids)
    # Opening the job again must not touch the canonical file (no "restored" line appended).
    session = open_session(manifest, output)
    session.close()
    assert folder.output_manifest.read_bytes() == got, f"{ctx}: reopening changed the canonical output"


# -- the loops ---------------------------------------------------------------------------------


def kill_loop(tmp_path: Path, n_records: int, cycles: int, multi: bool) -> None:
    seed = _seed()
    print(f"kill -9 loop seed: {seed} (rerun with TUILABEL_KILL_SEED={seed})")
    rng = random.Random(seed)
    manifest = write_text_manifest(tmp_path / "in.manifest", n_records)
    output = tmp_path / "out"
    journal = folder_for(output).journal("w1")
    prev = 0
    torn_seen = 0
    answers = 0
    for cycle in range(cycles):
        after_ready = cycle % 2 == 0  # odd cycles may die during start-up, open or repair
        delay = rng.uniform(0.005, 0.300)
        ctx = f"seed {seed}, cycle {cycle}, delay {delay * 1000:.0f} ms after {'ready' if after_ready else 'start'}"
        committed, finished, _ = run_and_kill(manifest, output, rng.randrange(1 << 30), delay, after_ready, multi)
        answers += len(committed)
        lines, torn = check_files_after_kill(journal, prev, committed, ctx)
        torn_seen += torn
        if cycle % 3 != 1 or cycle == cycles - 1:
            # Reopen here (that saves a checkpoint); on other cycles the driver's own open
            # recovers from the kill, replaying the journal past an older checkpoint.
            prev = check_reopened(manifest, output, multi, torn, n_records, ctx)
        else:
            prev = len(lines)
        if finished:
            break
    print(f"{cycles} kills, {answers} answers committed, {torn_seen} torn tails seen")
    assert answers > 0, "the driver never got to answer: kills came too early"
    check_export(manifest, output, f"seed {seed}, export")


@pytest.mark.slow
def test_kill9_loop_single_label(tmp_path):
    kill_loop(tmp_path, n_records=20000, cycles=40, multi=False)


@pytest.mark.slow
def test_kill9_loop_multi_label(tmp_path):
    kill_loop(tmp_path, n_records=5000, cycles=15, multi=True)


# -- torn lines, made on purpose ---------------------------------------------------------------


def _answered_job(tmp_path: Path, n: int = 10):
    manifest = write_text_manifest(tmp_path / "in.manifest", 30)
    output = tmp_path / "out"
    session = open_session(manifest, output)
    for i in range(n):
        session.answer(i % len(LABELS))
    session.close()
    return manifest, output, folder_for(output)


@pytest.mark.parametrize("cut", [1, 40, -1])
def test_torn_journal_tail_is_reported_and_repaired(tmp_path, cut):
    manifest, output, folder = _answered_job(tmp_path)
    journal = folder.journal("w1")
    whole = journal.read_bytes()
    lines = whole.splitlines(keepends=True)
    # What a kill in the middle of writing answer 11 leaves: part of its line, no newline.
    partial = lines[-1].replace(b'"i":9,', b'"i":10,')
    partial = partial[:cut] if cut > 0 else partial[:-1]
    journal.write_bytes(whole + partial)
    session = open_session(manifest, output)
    try:
        torn = [m for m in session.messages if "repaired a torn last line" in m]
        assert len(torn) == 1 and str(journal) in torn[0] and f"{len(partial)} bytes" in torn[0]
        assert journal.read_bytes() == whole  # cut back to the last committed answer, no more
        assert session.current.index == 10
        assert session.label_counts == [3, 3, 2, 2]
        session.answer(1)
    finally:
        session.close()
    assert len(journal_entries(journal)) == 11


def test_torn_output_line_is_repaired_from_the_journal(tmp_path):
    manifest, output, folder = _answered_job(tmp_path)
    out = folder.output_manifest
    whole = out.read_bytes()
    last_start = whole.rstrip(b"\n").rfind(b"\n") + 1
    out.write_bytes(whole[: last_start + 25])  # a kill in the middle of the output write
    session = open_session(manifest, output)
    session.close()
    assert any("repaired a torn last line" in m and "output.manifest" in m for m in session.messages)
    assert out.read_bytes() == whole


def test_missing_output_line_is_restored(tmp_path):
    manifest, output, folder = _answered_job(tmp_path)
    out = folder.output_manifest
    whole = out.read_bytes()
    out.write_bytes(whole[: whole.rstrip(b"\n").rfind(b"\n") + 1])  # killed between the two writes
    session = open_session(manifest, output)
    session.close()
    assert any("restored the last answer's line" in m for m in session.messages)
    assert out.read_bytes() == whole


def test_unreadable_checkpoint_is_rebuilt_from_the_journal(tmp_path):
    manifest, output, folder = _answered_job(tmp_path)
    folder.checkpoint("w1").write_bytes(b'{"version":1,"stat')  # torn by some other tool
    session = open_session(manifest, output)
    try:
        assert any("unreadable; rebuilding" in m for m in session.messages)
        assert session.current.index == 10
        assert session.label_counts == [3, 3, 2, 2]
    finally:
        session.close()


# -- resume: constant time, verified -----------------------------------------------------------


def test_resume_uses_the_checkpoint_cursor_without_replaying(tmp_path):
    manifest = write_text_manifest(tmp_path / "in.manifest", 5000)
    output = tmp_path / "out"
    session = open_session(manifest, output)
    for i in range(2000):
        session.answer(i % 3)
    offset_2000 = session.current.offset
    session.close()
    folder = folder_for(output)

    cursor = orjson.loads(folder.checkpoint("w1").read_bytes())["cursor"]
    assert cursor["index"] == 2000 and cursor["offset"] == offset_2000

    journal = Journal(folder.journal("w1"), folder.checkpoint("w1"), folder.output_manifest, NAME, len(LABELS))
    recovery = journal.open()
    journal.close()
    assert recovery.replayed == 0 and not recovery.full_replay and recovery.messages == []

    session = open_session(manifest, output)
    try:
        assert session.current.index == 2000 and session.current.offset == offset_2000
        assert session.messages == []
        assert session.label_counts == [667, 667, 666, 0]
    finally:
        session.close()


def test_resume_point_is_the_stored_offset_when_its_hash_matches(tmp_path):
    """Proof that opening seeks to the stored offset instead of searching: a cursor moved to
    another line (with that line's hash) is followed; a cursor whose hash does not match the
    line at its offset is refused with a message and the first open record is found instead."""
    manifest, output, folder = _answered_job(tmp_path, n=5)
    cp_path = folder.checkpoint("w1")
    checkpoint = orjson.loads(cp_path.read_bytes())
    lines = manifest.read_bytes().splitlines(keepends=True)
    offset_20 = sum(len(x) for x in lines[:20])
    checkpoint["cursor"] = {"index": 20, "offset": offset_20, "sha1": line_sha1(lines[20].rstrip(b"\n"))}
    cp_path.write_bytes(orjson.dumps(checkpoint))
    session = open_session(manifest, output)
    assert session.current.index == 20
    session.close()

    checkpoint = orjson.loads(cp_path.read_bytes())
    checkpoint["cursor"] = {"index": 20, "offset": offset_20, "sha1": "0" * 40}
    cp_path.write_bytes(orjson.dumps(checkpoint))
    session = open_session(manifest, output)
    try:
        assert session.current.index == 5
        assert any("resume point did not match" in m for m in session.messages)
    finally:
        session.close()


def test_rewritten_input_is_refused(tmp_path):
    manifest, output, folder = _answered_job(tmp_path)
    data = manifest.read_bytes()
    manifest.write_bytes(data.replace(b"review", b"REVIEW"))  # same size, other content
    with pytest.raises(UserError) as info:
        open_session(manifest, output)
    message = str(info.value)
    assert "changed since the last session" in message and "\n" not in message
    assert "new job" in message
    # The refused open released the lock and left the answers alone.
    manifest.write_bytes(data)
    session = open_session(manifest, output)
    assert session.current.index == 10
    session.close()


def test_rewritten_shorter_input_is_refused(tmp_path):
    manifest, output, folder = _answered_job(tmp_path)
    write_text_manifest(manifest, 12)
    with pytest.raises(UserError, match="changed since the last session"):
        open_session(manifest, output)


def test_grown_input_is_reported_and_new_lines_labeled(tmp_path):
    manifest = write_text_manifest(tmp_path / "in.manifest", 40)
    output = tmp_path / "out"
    session = open_session(manifest, output)
    for i in range(40):
        session.answer(i % 2)
    assert session.state is State.DONE
    session.close()
    write_text_manifest(manifest, 7, start=40, mode="ab")
    session = open_session(manifest, output)
    try:
        grew = [m for m in session.messages if "grew since the last session" in m]
        assert len(grew) == 1
        assert not any("did not match" in m for m in session.messages), session.messages
        assert session.state is State.LABELING and session.current.index == 40
        for _ in range(7):
            session.answer(3)
        assert session.state is State.DONE
        assert session.label_counts == [20, 20, 0, 7]
    finally:
        session.close()
    assert [e.index for e in journal_entries(folder_for(output).journal("w1"))] == list(range(47))


def test_grown_input_midway_resumes_at_the_cursor(tmp_path):
    manifest = write_text_manifest(tmp_path / "in.manifest", 40)
    output = tmp_path / "out"
    session = open_session(manifest, output)
    for _ in range(25):
        session.answer(0)
    session.close()
    write_text_manifest(manifest, 5, start=40, mode="ab")
    session = open_session(manifest, output)
    try:
        assert session.current.index == 25
        assert not any("did not match" in m for m in session.messages)
    finally:
        session.close()
