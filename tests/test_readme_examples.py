"""The README's `check` example runs on what the package ships and prints what the README shows."""

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
