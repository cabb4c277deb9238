"""output.manifest is canonical whenever no session runs: one line per answered record, the
latest answer, input order. The journal stays the record of truth; the output is rewritten
from it on quit, and on the next start after a crash (in the background, before labeling
goes on); the quit line says which file is canonical."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import orjson
import pytest

from drivers.jobkit import NAME, folder_for, journal_entries, open_session, write_text_manifest
from tuilabel.core.store.journal import gt_bytes

DRIVERS = Path(__file__).resolve().parent / "drivers"
REPO = Path(__file__).resolve().parents[1]


def canonical_lines(folder) -> list[bytes]:
    latest = {e.index: e for e in journal_entries(folder.journal("w1"))}
    return [gt_bytes(latest[i].to_line()) for i in sorted(latest)]


def answered(tmp_path: Path, records: int, labels: tuple[int, ...]):
    """A session on a new job with `labels` answered in order (still open)."""
    manifest = write_text_manifest(tmp_path / "in.manifest", records)
    output = tmp_path / "out"
    session = open_session(manifest, output)
    for label in labels:
        session.answer(label)
    return manifest, output, session


def test_quit_after_relabels_leaves_one_line_per_record(tmp_path):
    manifest, output, session = answered(tmp_path, 10, (0, 1, 2, 3))
    session.back()
    session.back()
    session.answer(0)  # relabel record 2
    session.answer(1)  # relabel record 3
    session.close()
    folder = folder_for(output)
    lines = folder.output_manifest.read_bytes().splitlines()
    assert lines == canonical_lines(folder)
    assert session.output_canonical
    assert [orjson.loads(line)[NAME] for line in lines] == [0, 1, 0, 1]
    assert len(journal_entries(folder.journal("w1"))) == 6  # the journal keeps every answer
    # Reopening a canonical output leaves it alone.
    before = folder.output_manifest.read_bytes()
    session = open_session(manifest, output)
    session.close()
    assert folder.output_manifest.read_bytes() == before


def test_answers_out_of_input_order_are_put_in_order_on_quit(tmp_path):
    manifest, output, session = answered(tmp_path, 20, (0, 1, 2))
    session.close()
    folder = session.folder
    inode = folder.output_manifest.stat().st_ino
    session = open_session(manifest, output)
    session.answer(3)  # record 3: after every earlier answer, in input order
    session.close()
    # Labeling on in input order, alone: canonical as it stands, not rewritten.
    assert folder.output_manifest.stat().st_ino == inode
    assert folder.output_manifest.read_bytes().splitlines() == canonical_lines(folder)
    session = open_session(manifest, output)
    session.jump(10)
    session.answer(1)
    session.jump(5)
    session.answer(2)  # before record 10 in the input, after it in the file
    session.close()
    lines = folder.output_manifest.read_bytes().splitlines()
    assert lines == canonical_lines(folder)
    assert [orjson.loads(line)["id"] for line in lines] == [0, 1, 2, 3, 5, 10]


def test_start_after_a_crash_rewrites_the_output_before_labeling_goes_on(tmp_path):
    manifest = write_text_manifest(tmp_path / "in.manifest", 400)
    output = tmp_path / "out"
    folder = folder_for(output)
    # A real labeling process (with relabels every ~20 answers), killed after 150 answers.
    proc = subprocess.Popen(
        [sys.executable, str(DRIVERS / "label_loop.py"), str(manifest), str(output), "7"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO,
    )
    count = 0
    for raw in proc.stdout:
        count += raw.startswith(b"committed ")
        if count >= 150:
            break
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    proc.stdout.close()
    proc.stderr.close()
    out_before = folder.output_manifest.read_bytes().splitlines()
    assert len(out_before) > len(canonical_lines(folder)), "the driver relabels: the appended output repeats records"

    session = open_session(manifest, output)
    try:
        session.wait_background()  # the rewrite is in place
        session.answer(2)  # and answers append to it
        assert any("rewrote" in m and "canonically" in m for m in session.messages), session.messages
        journal = journal_entries(folder.journal("w1"))
        lines = folder.output_manifest.read_bytes().splitlines()
        latest_before = {e.index: e for e in journal[:-1]}
        assert lines == [gt_bytes(latest_before[i].to_line()) for i in sorted(latest_before)] + [gt_bytes(journal[-1].to_line())]
    finally:
        session.close()
    assert folder.output_manifest.read_bytes().splitlines() == canonical_lines(folder)


def test_a_kill_before_the_rewrite_is_in_place_loses_nothing(tmp_path):
    """A process killed while its background rewrite was being written leaves the old file
    (with every answer) and a temp file beside it, which the next start removes."""
    manifest, output, session = answered(tmp_path, 50, (0, 1, 2))
    folder = session.folder
    session.back()
    session.answer(3)
    session.journal.close()
    session.lock.release()  # as if killed: no close
    before = folder.output_manifest.read_bytes()
    stale = folder.output_manifest.with_name(".output.manifest.99999.pending.tmp")
    stale.write_bytes(before[: len(before) // 2])  # the rewrite, cut off by the kill
    session = open_session(manifest, output)
    try:
        assert not stale.exists()
        assert set(canonical_lines(folder)) <= set(folder.output_manifest.read_bytes().splitlines())
    finally:
        session.close()
    assert folder.output_manifest.read_bytes().splitlines() == canonical_lines(folder)


# -- the quit line, in a real terminal --------------------------------------------------------

SERVER = ["tmux", "-L", f"tuilabel-canonical-{os.getpid()}", "-f", "/dev/null"]


def tmux(*args: str) -> str:
    return subprocess.run([*SERVER, *args], check=True, capture_output=True, text=True).stdout


def wait_for(target: str, text: str, timeout: float = 20.0) -> str:
    deadline = time.monotonic() + timeout
    screen = ""
    while time.monotonic() < deadline:
        screen = tmux("capture-pane", "-p", "-J", "-t", target)
        if text in screen:
            return screen
        time.sleep(0.1)
    raise AssertionError(f"{text!r} did not appear within {timeout}s; screen:\n{screen}")


@pytest.mark.tmux
def test_quit_line_names_the_canonical_file(tmp_path):
    if shutil.which("tmux") is None:
        pytest.skip("tmux is not installed")
    manifest = tmp_path / "notes.manifest"
    manifest.write_bytes(b"".join(orjson.dumps({"source": f"note number {i}"}) + b"\n" for i in range(5)))
    name = f"canon-{uuid.uuid4().hex[:8]}"
    env = f"TERM=xterm-256color XDG_CONFIG_HOME={tmp_path / 'config'}"
    run = f"unset COLUMNS LINES; cd {tmp_path}; env {env} {sys.executable} -m tuilabel label {manifest} --labels yes,no; sleep 30"
    tmux("new-session", "-d", "-s", name, "-x", "200", "-y", "40", run)
    try:
        wait_for(name, "note number 0")
        for n, key in enumerate("12"):
            tmux("send-keys", "-t", name, key)
            wait_for(name, f"note number {n + 1}")
        tmux("send-keys", "-t", name, "u")  # back to record 1 ...
        time.sleep(0.3)
        tmux("send-keys", "-t", name, "1")  # ... relabeled
        time.sleep(0.3)
        tmux("send-keys", "-t", name, "q")
        screen = wait_for(name, "Output (canonical")
        output = tmp_path / "notes" / "manifests" / "output" / "output.manifest"
        assert str(output) in screen.replace("\n", "")
        assert [orjson.loads(line)["notes"] for line in output.read_bytes().splitlines()] == [0, 0]
    finally:
        subprocess.run([*SERVER, "kill-server"], capture_output=True)
