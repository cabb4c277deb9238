"""Several workers on one job, as real processes: nobody's answers vanish from output.manifest.

- output.manifest is never replaced while another worker's session (another process) appends
  to it: `finish()` and the close leave it as it is and say so; the last worker to quit makes it
  canonical.
- Reopening after another worker wrote appends no duplicate line.
- Between workers, the latest answer is the later submission (`st`), never the later file mtime.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

from drivers.jobkit import NAME, folder_for, journal_entries, open_session, write_text_manifest
from tuilabel.core.data.manifest import Manifest
from tuilabel.core.errors import UserError
from tuilabel.core.gt.export import latest_entries, write_gt
from tuilabel.core.store.journal import gt_bytes

DRIVERS = Path(__file__).resolve().parent / "drivers"
REPO = Path(__file__).resolve().parents[1]


class Worker:
    """A session in its own process, driven line by line (tests/drivers/hold_session.py)."""

    def __init__(self, manifest: Path, output: Path, worker: str):
        self.proc = subprocess.Popen(
            [sys.executable, str(DRIVERS / "hold_session.py"), str(manifest), str(output), "--worker", worker, "--commands"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO,
        )
        line = self._read()
        assert line.startswith("ready "), self.proc.stderr.read().decode()

    def _read(self) -> str:
        return self.proc.stdout.readline().decode().rstrip("\n")

    def answer(self, label: int) -> int:
        self.proc.stdin.write(f"answer {label}\n".encode())
        self.proc.stdin.flush()
        line = self._read()
        assert line.startswith("committed "), line + self.proc.stderr.read().decode()
        return int(line.split()[1])

    def close(self) -> list[str]:
        self.proc.stdin.write(b"close\n")
        self.proc.stdin.flush()
        out, err = self.proc.communicate(timeout=60)
        assert self.proc.returncode == 0, err.decode()
        return [line[len("message "):] for line in out.decode().splitlines() if line.startswith("message ")]

    def kill9(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)


def all_latest(folder) -> list[bytes]:
    """The canonical lines by the rule: per record the latest submission, input order."""
    return [gt_bytes(e.to_line()) for _, e in sorted(latest_entries(folder).items())]


def out_lines(folder) -> list[bytes]:
    return folder.output_manifest.read_bytes().splitlines()


@pytest.fixture
def job(tmp_path):
    return write_text_manifest(tmp_path / "in.manifest", 20), tmp_path / "out"


def test_finish_never_replaces_output_under_another_live_worker(job):
    manifest, output = job
    bob = Worker(manifest, output, "bob")
    alice = open_session(manifest, output, worker="alice")
    for label in (0, 1, 2):
        alice.answer(label)
    with pytest.raises(UserError, match="bob .*is labeling this job now"):
        alice.finish()
    for label in (3, 2, 1):
        bob.answer(label)  # appended to the file alice did not replace
    folder = folder_for(output)
    assert len(out_lines(folder)) == 6
    alice.close()
    assert not alice.output_canonical
    assert any("bob" in m and "left as it is" in m for m in alice.messages)
    assert len(out_lines(folder)) == 6, "alice's quit replaced the file bob appends to"
    bob.answer(0)
    messages = bob.close()  # the last worker out makes it canonical
    assert not any("left as it is" in m for m in messages)
    lines = out_lines(folder)
    assert lines == all_latest(folder)
    # alice's three and bob's four answers are all there, each record once (records 0-3)
    assert len(lines) == 4 and len(journal_entries(folder.journal("alice"))) == 3
    assert len(journal_entries(folder.journal("bob"))) == 4


def test_reopen_after_another_worker_wrote_adds_no_duplicate(job):
    manifest, output = job
    folder = folder_for(output)
    alice = open_session(manifest, output, worker="alice")
    alice.answer(0)
    alice.answer(1)
    alice.close()
    bob = Worker(manifest, output, "bob")
    bob.answer(2)
    bob.kill9()  # no quit: output.manifest is not canonical now
    alice = open_session(manifest, output, worker="alice")
    alice.close()
    lines = out_lines(folder)
    assert len(lines) == len(set(lines)), "a line was appended twice"
    assert lines == all_latest(folder)


def test_reopen_while_another_worker_labels_restores_only_whats_missing(job):
    """alice was killed between her journal write and her output write while bob labels:
    her reopen appends her missing line once and nothing else, and truncates nothing."""
    manifest, output = job
    folder = folder_for(output)
    bob = Worker(manifest, output, "bob")
    alice = open_session(manifest, output, worker="alice")
    alice.answer(0)
    alice.answer(1)
    bob.answer(3)
    # What a kill between alice's two writes leaves: her last line missing from the output.
    whole = folder.output_manifest.read_bytes()
    last = gt_bytes(folder.journal("alice").read_bytes().splitlines(keepends=True)[-1]) + b"\n"
    alice.journal.close()
    alice.lock.release()  # her process is gone: its lock with it
    alice = None
    folder.output_manifest.write_bytes(whole.replace(last, b""))
    again = open_session(manifest, output, worker="alice")
    try:
        assert any("restored the last answer's line" in m for m in again.messages)
        lines = out_lines(folder)
        assert len(lines) == 3 and lines[-1] == last.rstrip(b"\n")
        bob.answer(1)
        again.answer(2)
    finally:
        again.close()
    assert len(out_lines(folder)) == 5  # bob still labels: left as it is, nothing lost
    bob.close()
    assert out_lines(folder) == all_latest(folder)


def test_latest_wins_by_submission_time_not_file_mtime(job):
    manifest, output = job
    folder = folder_for(output)
    bob = open_session(manifest, output, worker="bob")
    bob.answer(1)  # record 0 by bob first
    bob.close()
    time.sleep(1.1)  # submission times have one-second resolution
    alice = open_session(manifest, output, worker="alice")
    alice.answer(2)  # record 0 by alice, later
    alice.close()
    # bob's journal looks newer on disk than alice's: it must not matter.
    future = time.time() + 3600
    os.utime(folder.journal("bob"), (future, future))
    with Manifest(manifest) as m:
        write_gt(folder, m, output / "x.manifest", NAME)
    first = orjson.loads((output / "x.manifest").read_bytes().splitlines()[0])
    assert first[NAME] == 2, "the older answer won because its journal file is newer"
    assert latest_entries(folder)[0].worker == "alice"


def test_equal_submission_times_break_ties_by_worker_folder(job, tmp_path):
    """Same second: the worker whose folder name sorts last wins, whatever the file times."""
    manifest, output = job
    folder = folder_for(output)
    for worker, label in (("bob", 1), ("alice", 2)):
        s = open_session(manifest, output, worker=worker)
        s.answer(label)
        s.close()
    lines = {w: folder.journal(w).read_bytes() for w in ("alice", "bob")}
    st = orjson.loads(lines["alice"])["st"]
    for w in ("alice", "bob"):  # make the times equal
        obj = orjson.loads(lines[w])
        folder.journal(w).write_bytes(lines[w].replace(obj["st"].encode(), st.encode()))
    for order in (("alice", "bob"), ("bob", "alice")):
        for n, w in enumerate(order):
            os.utime(folder.journal(w), (1e9 + n, 1e9 + n))
        with Manifest(manifest) as m:
            write_gt(folder, m, tmp_path / "x.manifest", NAME)
        assert orjson.loads((tmp_path / "x.manifest").read_bytes())[NAME] == 1  # bob > alice
        assert latest_entries(folder)[0].worker == "bob"


@pytest.mark.slow
def test_two_workers_labeling_with_kills_lose_nothing(job):
    """Two label_loop processes on one job, one of them SIGKILLed at random moments and
    restarted; every committed answer of both ends up in the canonical output."""
    manifest, output = job
    manifest = write_text_manifest(manifest, 3000)
    folder = folder_for(output)
    seed = random.SystemRandom().randrange(1 << 30)
    rng = random.Random(seed)
    steady = subprocess.Popen(
        [sys.executable, str(DRIVERS / "label_loop.py"), str(manifest), str(output), str(seed), "--worker", "steady", "--limit", "1500"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO,
    )
    for cycle in range(8):
        victim = subprocess.Popen(
            [sys.executable, str(DRIVERS / "label_loop.py"), str(manifest), str(output), str(seed + cycle), "--worker", "victim"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=REPO,
        )
        time.sleep(rng.uniform(0.05, 0.4))
        victim.send_signal(signal.SIGKILL)
        victim.wait(30)
        victim.stderr.close()
    out, err = steady.communicate(timeout=300)
    assert steady.returncode == 0, f"seed {seed}: {err.decode()}"
    # The victim, reopened and closed by this process, is the last out: canonical now.
    s = open_session(manifest, output, worker="victim")
    s.close()
    lines = out_lines(folder)
    assert lines == all_latest(folder), f"seed {seed}: output.manifest is not every worker's latest answers"
    assert s.output_canonical, f"seed {seed}: {s.messages}"
    committed = [line.split() for line in out.decode().splitlines() if line.startswith("committed ")]
    assert committed and len(journal_entries(folder.journal("steady"))) >= len(committed), f"seed {seed}"
