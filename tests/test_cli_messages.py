"""What a user sees when something is off, through the real command: one clear line, exit 2,
no traceback, nothing made on disk before the problem is found."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

from engine_helpers import open_session, text_manifest

REPO = Path(__file__).resolve().parents[1]


def env_for(tmp_path: Path) -> dict:
    env = dict(os.environ)
    env["XDG_CONFIG_HOME"] = str(tmp_path / "xdg-config")
    env["XDG_DATA_HOME"] = str(tmp_path / "xdg-data")
    return env


def tl(tmp_path: Path, *args, cwd: Path | None = None, stdin=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout: float = 60):
    return subprocess.run(
        [sys.executable, "-m", "tuilabel", *map(str, args)],
        stdin=stdin, stdout=subprocess.PIPE, stderr=stderr, text=True,
        cwd=cwd or tmp_path, env=env_for(tmp_path), timeout=timeout,
    )


def one_line(proc, command: str) -> str:
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith(f"tuilabel {command}: "), lines[0]
    return lines[0]


# --- a terminal is needed to label ----------------------------------------------------------


@pytest.mark.parametrize("command", [["label", "in.jsonl", "--labels", "a,b"], ["demo", "text"]])
def test_label_without_a_terminal_refuses_at_once(tmp_path, command):
    text_manifest(tmp_path / "in.jsonl", 3)
    start = time.monotonic()
    proc = tl(tmp_path, *command, timeout=30)  # stdin /dev/null, stdout a pipe
    assert time.monotonic() - start < 20  # it used to spin at 100% CPU until killed
    line = one_line(proc, command[0])
    assert "needs a terminal" in line and "tuilabel export" in line and "tuilabel check" in line
    assert proc.stdout == ""  # no closing summary: nothing was labeled


def test_label_drawing_into_a_file_refuses(tmp_path):
    """The app draws on stderr; with stderr in a file the user would see nothing."""
    text_manifest(tmp_path / "in.jsonl", 3)
    main, tty = os.openpty()
    try:
        with open(tmp_path / "err.txt", "w+") as err:
            proc = tl(tmp_path, "label", "in.jsonl", "--labels", "a,b", stdin=tty, stderr=err, timeout=30)
            err.seek(0)
            text = err.read()
    finally:
        os.close(main)
        os.close(tty)
    assert proc.returncode == 2
    assert text.startswith("tuilabel label: ") and "(stderr is not one)" in text and text.count("\n") == 1


def test_label_with_stdout_piped_still_works(tmp_path):
    """stdin and stderr a terminal, stdout a pipe (`tuilabel label … | tee log`): the app runs,
    and the closing summary goes down the pipe."""
    text_manifest(tmp_path / "in.jsonl", 3)
    main, tty = os.openpty()
    screen = bytearray()

    def read_screen() -> None:
        while True:
            try:
                chunk = os.read(main, 65536)
            except OSError:
                return
            if not chunk:
                return
            screen.extend(chunk)

    import threading

    reader = threading.Thread(target=read_screen, daemon=True)
    reader.start()
    proc = subprocess.Popen(
        [sys.executable, "-m", "tuilabel", "label", "in.jsonl", "--labels", "a,b"],
        stdin=tty, stdout=subprocess.PIPE, stderr=tty, cwd=tmp_path, env=env_for(tmp_path),
    )
    try:
        deadline = time.monotonic() + 30
        while b"text 0" not in screen and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
        assert b"text 0" in screen, bytes(screen[-500:])  # the first record is on the terminal
        os.write(main, b"1")
        deadline = time.monotonic() + 10
        while not (tmp_path / "in" / "manifests/output/output.manifest").stat().st_size and time.monotonic() < deadline:
            time.sleep(0.05)
        os.write(main, b"q")
        out, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(tty)
        os.close(main)
    assert proc.returncode == 0
    assert out.decode().startswith("in: 1 of 3 records done")


# --- tracebacks that were still reachable ----------------------------------------------------


@pytest.mark.parametrize("content", [b"[1, 2]\n", b'"job"\n', b"3\n"])
@pytest.mark.parametrize("command", ["label", "export", "stats", "check"])
def test_job_json_that_is_not_an_object(tmp_path, content, command):
    job = tmp_path / "job"
    (job / "tuilabel").mkdir(parents=True)
    (job / "tuilabel" / "job.json").write_bytes(content)
    line = one_line(tl(tmp_path, command, job), command)
    assert "job.json" in line and "not a JSON object" in line


@pytest.mark.parametrize("setting, needle", [
    ('graphics = "sixels"', "graphics = 'sixels' is not one of auto, kitty, sixel, halfblock"),
    ("graphics = 3", "graphics must be a string"),
    ('theme = ["x"]', "theme must be a string"),
    ('grafics = "kitty"', "unknown setting(s) grafics"),
])
def test_bad_setting_is_refused_before_the_job_folder_is_made(tmp_path, setting, needle):
    text_manifest(tmp_path / "in.jsonl", 3)
    config = tmp_path / "xdg-config" / "tuilabel" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text(setting + "\n")
    line = one_line(tl(tmp_path, "label", "in.jsonl", "--labels", "a,b"), "label")
    assert str(config) in line and needle in line
    assert not (tmp_path / "in").exists()


@pytest.mark.parametrize("labels, needle", [
    ("a", "at least 2 labels, got 1"),
    ("a,a", "'a' appears twice"),
    ("", "--labels is empty"),
    ("a,,b", "label 2 is empty"),
])
def test_init_applies_the_label_rules(tmp_path, labels, needle):
    line = one_line(tl(tmp_path, "init", "job.toml", "--labels", labels), "init")
    assert needle in line
    assert not (tmp_path / "job.toml").exists()


def test_init_job_file_is_accepted_by_label(tmp_path):
    text_manifest(tmp_path / "m.jsonl", 2)
    proc = tl(tmp_path, "init", "job.toml", "--input", "m.jsonl", "--labels", "yes, no", "--task", "text-classification")
    assert proc.returncode == 0, proc.stderr
    from tuilabel.core.job_setup import JobRequest, prepare

    assert prepare(JobRequest(source=str(tmp_path / "job.toml"))).spec.labels == ("yes", "no")


def test_empty_labels_flag_says_empty(tmp_path):
    text_manifest(tmp_path / "in.jsonl", 2)
    line = one_line(tl(tmp_path, "label", "in.jsonl", "--labels", ""), "label")
    assert "--labels is empty" in line and "got 1" not in line


# --- argument errors: the line that matters, not a usage block -------------------------------


@pytest.mark.parametrize("args, needle", [
    (["label"], "the following arguments are required: SOURCE"),
    (["label", "x.jsonl", "--graphics", "sixels"], "argument --graphics: invalid choice: 'sixels'"),
    (["check", "x", "--jobs", "many"], "argument --jobs: invalid int value: 'many'"),
    (["export", "x", "--format", "xml"], "argument --format: invalid choice: 'xml'"),
    (["label", "x.jsonl", "--lables", "a,b"], "unrecognized arguments: --lables a,b"),
    (["stats", "x", "extra"], "unrecognized arguments: extra"),
])
def test_argument_errors_are_one_line_and_a_pointer(tmp_path, args, needle):
    proc = tl(tmp_path, *args)
    assert proc.returncode == 2 and proc.stdout == ""
    error, pointer = proc.stderr.splitlines()  # no usage block before them
    assert error.startswith(f"tuilabel {args[0]}: error: ") and needle in error
    assert pointer == f"see tuilabel {args[0]} --help"


def test_unknown_command_is_one_line(tmp_path):
    proc = tl(tmp_path, "lable", "x")
    assert proc.returncode == 2
    lines = proc.stderr.splitlines()
    assert len(lines) == 2 and lines[0].startswith("tuilabel: error: argument COMMAND: invalid choice: 'lable'")
    assert lines[1] == "see tuilabel --help"


# --- export ---------------------------------------------------------------------------------


def _labeled_job(tmp_path: Path) -> Path:
    m = text_manifest(tmp_path / "reviews.jsonl", 3)
    s = open_session(m, name="reviews", labels=("a", "b"))
    s.answer(1)
    s.close()
    return m


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_flat_export_default_name_differs_from_the_input(tmp_path, fmt):
    m = _labeled_job(tmp_path)
    proc = tl(tmp_path, "export", "reviews", "--format", fmt)
    assert proc.returncode == 0, proc.stderr
    dest = tmp_path / "reviews" / f"reviews-answers.{fmt}"
    assert proc.stdout == f"wrote {dest}: 1 records\n"
    assert dest.is_file() and dest.name != m.name
    if fmt == "jsonl":
        assert orjson.loads(dest.read_bytes().splitlines()[0])["label"] == "b"


def test_export_of_a_manifest_points_to_its_job_folder(tmp_path):
    _labeled_job(tmp_path)
    line = one_line(tl(tmp_path, "export", "reviews.jsonl", "--format", "csv"), "export")
    assert "reviews.jsonl is an input manifest, not a job" in line
    assert f"tuilabel export {tmp_path / 'reviews'}" in line
    (tmp_path / "other.jsonl").write_text('{"source":"x"}\n')
    line = one_line(tl(tmp_path, "export", "other.jsonl"), "export")
    assert "other.jsonl is an input manifest, not a job" in line and "no job folder" in line
