"""The README's `check` and `stats` examples run on what the package ships and print what the README shows."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def readme_block(command: str) -> str:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    start = text.index(f"$ {command}\n") + len(f"$ {command}\n")
    return text[start : text.index("$ echo $?", start)]


def test_check_example_on_sample_data():
    env = dict(os.environ, COLUMNS="100")
    proc = subprocess.run([sys.executable, "-m", "tuilabel", "check", "sample_data/fashion"],
                          capture_output=True, text=True, cwd=REPO, env=env, timeout=120)
    assert proc.returncode == 1, proc.stderr  # broken.jpg is an error
    got = "\n".join(line.rstrip() for line in proc.stdout.splitlines()) + "\n"
    seconds = re.compile(r"in \d+\.\d s\)")
    assert seconds.sub("in … s)", got) == seconds.sub("in … s)", readme_block("tuilabel check sample_data/fashion"))


def test_stats_example_on_the_demo_job(tmp_path):
    """The README's `stats` example: the demo's fashion job, twelve answers by alice (one
    declined), run the way the README shows it. Times and pace differ from run to run."""
    from tuilabel.core.job_setup import JobRequest, prepare

    prepared = prepare(JobRequest(source=str(REPO / "sample_data/fashion/job.toml"), output=str(tmp_path), worker="alice"))
    session, _ = prepared.start()
    try:
        for label in (0, 0, 0, 0, 2, 2, 2, 1, 1, 3, 3):  # BAG 4, SHOES 3, SUNGLASS 2, WATCH 2
            session.answer(label)
        session.decline()
    finally:
        prepared.stop(session, None)
    command = "tuilabel stats fashion-classification --limit 5"
    proc = subprocess.run([sys.executable, "-m", "tuilabel", *command.split()[1:]],
                          capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert proc.returncode == 0, proc.stderr
    text = (REPO / "README.md").read_text(encoding="utf-8")
    start = text.index(f"$ cd ~/.local/share/tuilabel/demo && {command}\n")
    start = text.index("\n", start) + 1
    shown = text[start : text.index("```", start)]

    def same_shape(out: str) -> str:
        out = "\n".join(line.rstrip() for line in out.splitlines()) + "\n"
        out = re.sub(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", "<time>", out)
        out = re.sub(r"\((\d+:)?\d+:\d\d\)", "(<span>)", out)  # the app's duration format
        out = re.sub(r"time spent (\d+:)?\d+:\d\d", "time spent <span>", out)
        return re.sub(r"[\d,]+\.\d labels per hour   median [\d.]+ s", "<pace>", out)

    assert same_shape(proc.stdout) == same_shape(shown)
