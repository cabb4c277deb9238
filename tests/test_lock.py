"""One process per job and worker: a second one is refused with a line naming the holder; a
different worker may label the same job; the lock dies with its process, even on kill -9."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from drivers.jobkit import folder_for, open_session, write_text_manifest
from tuilabel.core.errors import UserError

HOLD = Path(__file__).resolve().parent / "drivers" / "hold_session.py"
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def job(tmp_path):
    manifest = write_text_manifest(tmp_path / "in.manifest", 20)
    return manifest, tmp_path / "out"


@pytest.fixture
def env(tmp_path):
    e = dict(os.environ)
    e["XDG_CONFIG_HOME"] = str(tmp_path / "config")  # no user config from this machine
    e["XDG_DATA_HOME"] = str(tmp_path / "data")
    return e


class Holder:
    def __init__(self, manifest: Path, output: Path, worker: str):
        self.proc = subprocess.Popen(
            [sys.executable, str(HOLD), str(manifest), str(output), "--worker", worker],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO,
        )
        line = self.proc.stdout.readline().decode()
        if not line.startswith("ready "):
            self.proc.wait(10)
            self.stderr = self.proc.stderr.read().decode()
            self.ready = False
        else:
            assert int(line.split()[1]) == self.proc.pid
            self.ready = True
            self.stderr = ""

    def kill9(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)
        self.proc.stdout.close()
        self.proc.stderr.close()


@pytest.fixture
def holders():
    started: list[Holder] = []

    def start(*args) -> Holder:
        holder = Holder(*args)
        started.append(holder)
        return holder

    yield start
    for holder in started:
        holder.kill9()


def test_second_process_same_worker_is_refused_naming_the_holder(job, holders):
    manifest, output = job
    first = holders(manifest, output, "w1")
    assert first.ready, first.stderr
    second = holders(manifest, output, "w1")
    assert not second.ready and second.proc.returncode == 2
    lines = second.stderr.strip().splitlines()
    assert len(lines) == 1, second.stderr
    assert f"process {first.proc.pid}" in lines[0]
    assert "job 'kill-job' for worker 'w1' is already open" in lines[0]


def test_second_process_through_the_cli_gets_one_line(job, holders, env):
    manifest, output = job
    first = holders(manifest, output, "w1")
    assert first.ready, first.stderr
    folder = folder_for(output)
    result = subprocess.run(
        [sys.executable, "-m", "tuilabel", "label", str(folder.root), "--worker", "w1"],
        capture_output=True, text=True, cwd=REPO, env=env, timeout=60, stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("tuilabel label: "), result.stderr
    assert f"process {first.proc.pid}" in lines[0]


def test_in_process_second_open_is_refused_and_first_keeps_working(job):
    manifest, output = job
    first = open_session(manifest, output)
    try:
        with pytest.raises(UserError, match=f"already open \\(process {os.getpid()}\\)"):
            open_session(manifest, output)
        first.answer(1)  # the refused open touched nothing of the first session's
        assert first.current.index == 1
    finally:
        first.close()
    again = open_session(manifest, output)  # released on close
    assert again.current.index == 1
    again.close()


def test_other_worker_on_the_same_job_is_allowed(job, holders):
    manifest, output = job
    first = holders(manifest, output, "w1")
    other = holders(manifest, output, "w2")
    assert first.ready and other.ready, other.stderr
    folder = folder_for(output)
    assert folder.lock("w1") != folder.lock("w2")


def test_export_in_place_is_refused_while_a_session_writes(job, holders, env):
    manifest, output = job
    first = holders(manifest, output, "w1")
    assert first.ready
    folder = folder_for(output)
    result = subprocess.run(
        [sys.executable, "-m", "tuilabel", "export", str(folder.root)],
        capture_output=True, text=True, cwd=REPO, env=env, timeout=60,
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.startswith("tuilabel export: ") and f"process {first.proc.pid}" in result.stderr


def test_lock_is_free_after_kill9_of_the_holder(job, holders):
    manifest, output = job
    first = holders(manifest, output, "w1")
    assert first.ready
    first.kill9()
    lock = folder_for(output).lock("w1")
    assert lock.read_text().strip() == str(first.proc.pid)  # the stale pid file stays ...
    second = holders(manifest, output, "w1")  # ... but the flock died with the process
    assert second.ready, second.stderr
    assert lock.read_text().strip() == str(second.proc.pid)
    # And the in-process open is refused now, naming the new holder.
    with pytest.raises(UserError, match=f"process {second.proc.pid}"):
        open_session(manifest, output)
