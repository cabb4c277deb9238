"""A chained job in a real terminal (tmux, 80x24): `tuilabel label OUTPUT --verify ATTR`
shows each earlier label, takes a comment (c), declines a line that has no earlier label with
a note on screen; then `--adjust ATTR` keeps one label with enter and changes one by digit."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import orjson
import pytest

from test_tmux_e2e import capture, session_name, tmux, wait_for  # noqa: F401 (session_name is a fixture)
from tuilabel.core.job_setup import JobRequest, prepare

pytestmark = pytest.mark.tmux


def run_in(name: str, args: str, tmp: Path, new: bool) -> None:
    cmd = f"{sys.executable} -m tuilabel label {args}"
    run = f"unset COLUMNS LINES; env TERM=xterm-256color XDG_CONFIG_HOME={tmp / 'config'} {cmd}; sleep 30"
    if new:
        tmux("new-session", "-d", "-s", name, "-x", "80", "-y", "24", run)
    else:
        tmux("respawn-pane", "-k", "-t", name, run)


def press(name: str, *keys: str) -> None:
    for key in keys:
        tmux("send-keys", "-t", name, key)


def last_key(name: str, key: str, job: Path) -> list[dict]:
    """Press the job's last answer, quit from the summary, read the job's output lines."""
    press(name, key)
    wait_for(name, "is done")
    press(name, "q")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and "is done" in capture(name):
        time.sleep(0.1)
    return [orjson.loads(line) for line in (job / "manifests" / "output" / "output.manifest").read_bytes().splitlines()]


def test_verify_then_adjust_in_a_real_terminal(tmp_path, session_name):  # noqa: F811
    manifest = tmp_path / "reviews.jsonl"
    texts = ["first review", "second review", "third review"]
    manifest.write_bytes(b"".join(orjson.dumps({"source": t}) + b"\n" for t in texts))
    earlier = prepare(JobRequest(source=str(manifest), name="sentiment", labels="positive,negative", worker="ann"))
    session, _ = earlier.start()
    session.answer(0)
    session.answer(1)
    session.decline()  # no earlier label on the third line
    earlier.stop(session, None)
    out = earlier.folder.output_manifest

    run_in(session_name, f"{out} --verify sentiment --worker vera", tmp_path, new=True)
    wait_for(session_name, "first review")
    screen = wait_for(session_name, "c Comment")  # the key bar is drawn last
    assert "earlier sentiment: positive" in screen
    press(session_name, "1")
    wait_for(session_name, "second review")
    press(session_name, "c")
    wait_for(session_name, "Comment on this label")
    tmux("send-keys", "-t", session_name, "-l", "it is positive")
    press(session_name, "Enter")
    screen = wait_for(session_name, "comment it is positive")
    assert "earlier sentiment: negative" in screen
    verified = last_key(session_name, "2", tmp_path / "sentiment-verification")
    attr = "sentiment-verification"
    assert [line.get(attr) for line in verified] == [0, 1, None]
    assert verified[1][attr + "-metadata"]["worker-feedback"] == [{"comment": "it is positive"}]
    assert "the earlier job has no label here" in verified[2][attr + "-metadata"]["failure-reason"]
    after = "".join(wait_for(session_name, "records done").splitlines())  # printed once the app has quit (80-column lines joined)
    assert "output.manifest:3: the earlier job has no label here" in after and "; declined" in after

    run_in(session_name, f"{out} --adjust sentiment --worker adam", tmp_path, new=False)
    wait_for(session_name, "first review")
    screen = wait_for(session_name, "Accept")  # the key bar is drawn last
    assert "enter keeps it" in screen
    press(session_name, "Enter")
    wait_for(session_name, "second review")
    adjusted = last_key(session_name, "1", tmp_path / "sentiment-adjustment")
    meta = [line["sentiment-adjustment-metadata"] for line in adjusted]
    assert [line.get("sentiment-adjustment") for line in adjusted] == [0, 0, None]
    assert [m.get("adjustment-status") for m in meta] == ["unadjusted", "adjusted", None]
