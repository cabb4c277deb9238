"""The bad-input corpus (tests/bad_input/): every case gets one clear line saying what and
where, never a traceback; bad manifest lines never stop a job and good ones are all labeled.

CLI cases run the real `python -m tuilabel label …`, which refuses bad labels, names and files
before the app starts, so no terminal is needed. "Unreadable" cases run the command without
the root capabilities that bypass file permissions (setpriv drops CAP_DAC_OVERRIDE and
CAP_DAC_READ_SEARCH), so chmod 000 means what it says even though the tests run as root.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from tuilabel.core.gt.job import JobFolder, JobSpec, read_labels
from tuilabel.core.data.manifest import Manifest
from tuilabel.core.session import Session, State
from tuilabel.core.data.sources import SourceError, fetch

CORPUS = Path(__file__).resolve().parent / "bad_input"
REPO = Path(__file__).resolve().parents[1]

# mixed.manifest: line number -> the reason its report must give.
MIXED_BAD = {
    3: "invalid JSON",
    4: "not a JSON object (a JSON array)",
    5: "not a JSON object (a JSON string)",
    6: "not a JSON object (a number)",
    7: "not a JSON object (a null)",
    8: "not a JSON object (a boolean)",
    9: "invalid UTF-8 at byte 16",
    10: "NUL byte at column 15",
    11: "no 'source' or 'source-ref' key",
    12: "has both 'source' and 'source-ref'",
    14: "'source' is a number, not a string",
    15: "'source' is empty",
    16: "'note' is 20,001 characters, over GT's 20,000 limit",
}
MIXED_GOOD_IDS = [1, 2, 17, 18]


def text_spec(manifest: Path, output: Path, name: str = "bad-input") -> JobSpec:
    return JobSpec(name=name, label_attribute=name, task="text-classification", labels=("yes", "no"),
                   input=str(manifest), output=str(output), worker="w1")


def open_text_session(manifest: Path, output: Path) -> Session:
    spec = text_spec(manifest, output)
    return Session(spec, JobFolder(output / spec.name), Manifest(manifest)).open()


def label_everything(session: Session, limit: int = 1000) -> list[int]:
    seen = []
    while session.state is not State.DONE and limit:
        seen.append(session.current.index)
        session.answer(len(seen) % 2)
        limit -= 1
    return seen


# -- manifests with bad lines: reported, skipped, job completes --------------------------------


def test_mixed_manifest_labels_every_good_line_and_reports_each_bad_one(tmp_path):
    manifest = CORPUS / "mixed.manifest"
    session = open_text_session(manifest, tmp_path)
    try:
        labeled = label_everything(session)
        assert session.state is State.DONE
        assert [session.manifest.record_at(i, session.manifest.offset_of(i)).data["id"] for i in labeled] == MIXED_GOOD_IDS
        bad = [m for m in session.messages if m.startswith(f"{manifest}:")]
        assert len(bad) == len(MIXED_BAD) and session.bad_lines == len(MIXED_BAD)
        for message, (lineno, reason) in zip(bad, sorted(MIXED_BAD.items())):
            assert message.startswith(f"{manifest}:{lineno}: "), message
            assert reason in message, (reason, message)
            assert "\n" not in message and len(message) < 300
        report = session.folder.bad_lines_report.read_text(encoding="utf-8").splitlines()
        assert report == bad
        progress = session.progress()
        assert (progress.done, progress.total) == (4, 4)
        assert progress.bad == len(MIXED_BAD)  # the blank line is not a record, and not bad
    finally:
        session.close()
    out = [orjson.loads(x) for x in (tmp_path / "bad-input" / "manifests" / "output" / "output.manifest").read_bytes().splitlines()]
    assert [o["id"] for o in out] == MIXED_GOOD_IDS
    assert out[1]["source"] == "good 2 \u2014 unicode \u2713"

    # Reopening a finished job does not report the same lines again.
    session = open_text_session(manifest, tmp_path)
    try:
        assert session.state is State.DONE and session.messages == []
    finally:
        session.close()
    assert len(session.folder.bad_lines_report.read_text().splitlines()) == len(MIXED_BAD)


def test_crlf_and_bom_are_good_input(tmp_path):
    manifest = CORPUS / "crlf-bom.manifest"
    session = open_text_session(manifest, tmp_path)
    try:
        first = session.current
        assert first.data == {"source": "first, after a BOM", "id": 1}
        assert label_everything(session) == [0, 1, 2]
        assert session.messages == [] and session.bad_lines == 0
    finally:
        session.close()
    out = [orjson.loads(x) for x in session.folder.output_manifest.read_bytes().splitlines()]
    assert [o["source"] for o in out] == ["first, after a BOM", "second \u00e9", "third"]
    assert b"\r" not in session.folder.output_manifest.read_bytes()


@pytest.mark.parametrize("last_newline", [True, False])
def test_a_10_mb_line_is_reported_not_loaded_into_the_job(tmp_path, last_newline):
    manifest = tmp_path / "big.manifest"
    big = b'{"source":"' + b"x" * (10 * 1024 * 1024) + b'"}'
    with open(manifest, "wb") as fh:
        fh.write(b'{"source":"before"}\n' + big + b"\n" + b'{"source":"after"}' + (b"\n" if last_newline else b""))
    session = open_text_session(manifest, tmp_path / "out")
    try:
        assert session.current.source == "before"
        session.answer(0)
        assert session.current.source == "after"
        session.answer(1)
        assert session.state is State.DONE
        assert session.messages == [f"{manifest}:2: line is 10,485,773 characters, over GT's 100,000 limit"]
    finally:
        session.close()
    assert len(session.folder.output_manifest.read_bytes()) < 1000  # the big line went nowhere


# -- source-refs that cannot be read ---------------------------------------------------------


def test_source_ref_that_does_not_exist(tmp_path):
    with pytest.raises(SourceError) as info:
        fetch("images/missing.jpg", tmp_path)
    assert str(info.value) == f"source-ref 'images/missing.jpg' not found ({tmp_path / 'images' / 'missing.jpg'})"
    with pytest.raises(SourceError, match="not found"):
        fetch((tmp_path / "gone.png").as_uri(), "/")


def test_s3_object_that_does_not_exist(s3_bucket):
    import boto3

    boto3.client("s3").put_object(Bucket=s3_bucket, Key="img/there.jpg", Body=b"JPEG")
    assert fetch(f"s3://{s3_bucket}/img/there.jpg") == b"JPEG"
    uri = f"s3://{s3_bucket}/img/missing.jpg"
    with pytest.raises(SourceError) as info:
        fetch(uri)
    message = str(info.value)
    assert uri in message and "\n" not in message
    with pytest.raises(SourceError) as info:
        fetch("s3://no-such-bucket-tuilabel/x.jpg")
    assert "no-such-bucket-tuilabel" in str(info.value)


def test_s3_manifest_that_does_not_exist_cli(s3_bucket, tmp_path):
    env = cli_env(tmp_path)  # inherits the moto endpoint set by aws_env
    result = run_cli("label", f"s3://{s3_bucket}/jobs/missing.manifest", "--labels", "A,B", env=env)
    line = one_line_error(result, "label")
    assert f"s3://{s3_bucket}/jobs/missing.manifest" in line


# -- the CLI refuses bad jobs before the app starts --------------------------------------------


def cli_env(tmp_path: Path) -> dict:
    env = dict(os.environ)
    env["XDG_CONFIG_HOME"] = str(tmp_path / "xdg-config")
    env["XDG_DATA_HOME"] = str(tmp_path / "xdg-data")
    return env


def run_cli(*args: str, env: dict | None = None, cwd: Path = REPO, prefix: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*prefix, sys.executable, "-m", "tuilabel", *args],
        capture_output=True, text=True, cwd=cwd, env=env, timeout=60, stdin=subprocess.DEVNULL,
    )


def one_line_error(result: subprocess.CompletedProcess, command: str) -> str:
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode == 2, (result.returncode, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"tuilabel {command}: "), lines[0]
    assert result.stdout == ""
    return lines[0]


@pytest.fixture
def corpus(tmp_path) -> Path:
    """A copy of the corpus, so a job folder could never land in the repository."""
    dest = tmp_path / "corpus"
    shutil.copytree(CORPUS, dest)
    return dest


LABEL_CASES = [
    ("labels-not-json.json", "not valid JSON"),
    ("labels-not-gt.json", "not a GT label category file"),
    ("labels-duplicate.json", "label 'cat' appears twice"),
    ("labels-empty.json", "label 2 is empty"),
    ("labels-one.json", "needs at least 2 labels, got 1"),
    ("labels-too-many.json", "31 labels, over GT's limit of 30"),
    ("labels-too-long.txt", "label 2 is 257 characters, over GT's 256"),
    ("labels-not-utf8.txt", "not UTF-8 text"),
    ("no-such-labels.json", "does not exist"),
]


@pytest.mark.parametrize("label_file,expected", LABEL_CASES, ids=[c[0] for c in LABEL_CASES])
def test_bad_label_file_cli(corpus, tmp_path, label_file, expected):
    result = run_cli("label", str(corpus / "crlf-bom.manifest"), "--labels", str(corpus / label_file), env=cli_env(tmp_path))
    line = one_line_error(result, "label")
    assert expected in line
    assert label_file in line
    assert not (corpus / "crlf-bom").exists()  # nothing was created


@pytest.mark.parametrize(
    "labels,expected",
    [("cat,dog,cat", "label 'cat' appears twice"), ("cat,,dog", "label 2 is empty"), ("cat", "at least 2 labels")],
)
def test_bad_labels_flag_cli(corpus, tmp_path, labels, expected):
    result = run_cli("label", str(corpus / "crlf-bom.manifest"), "--labels", labels, env=cli_env(tmp_path))
    assert expected in one_line_error(result, "label")


def test_too_many_labels_multilabel_cap_is_50(corpus, tmp_path):
    many = ",".join(f"L{i}" for i in range(51))
    result = run_cli("label", str(corpus / "crlf-bom.manifest"), "--multi", "--labels", many, env=cli_env(tmp_path))
    assert "51 labels, over GT's limit of 50" in one_line_error(result, "label")


def test_good_label_file_with_bom_reads(tmp_path):
    path = tmp_path / "labels.json"
    path.write_bytes(b'\xef\xbb\xbf{"labels":[{"label":"Caf\xc3\xa9"},{"label":"Tea"}]}')
    assert read_labels(str(path)) == (["Caf\u00e9", "Tea"], str(path))


@pytest.mark.parametrize(
    "name,suggestion",
    [("my job!", "my-job"), ("_lead", "lead"), ("x" * 64, "x" * 63), ("ends-", "ends"), ("data.set", "data-set")],
)
def test_bad_job_name_shows_rule_and_a_valid_suggestion(corpus, tmp_path, name, suggestion):
    result = run_cli("label", str(corpus / "crlf-bom.manifest"), "--labels", "A,B", "--name", name, env=cli_env(tmp_path))
    line = one_line_error(result, "label")
    assert f"job name {name!r} breaks GT's rule" in line
    assert "[a-zA-Z0-9](-*[a-zA-Z0-9])*" in line and "1-63 characters" in line
    assert line.endswith(f"try {suggestion!r}")
    from tuilabel.core.gt.job import check_job_name

    assert check_job_name(suggestion) == suggestion  # the suggestion itself is valid


@pytest.mark.parametrize("attr", ["x-metadata", "source", "source-ref", "labels-ref", "bad attr", "-x"])
def test_bad_label_attribute_suggests_a_valid_one(corpus, tmp_path, attr):
    result = run_cli("label", str(corpus / "crlf-bom.manifest"), "--labels", "A,B", f"--attribute={attr}", env=cli_env(tmp_path))
    line = one_line_error(result, "label")
    assert f"label attribute name {attr!r} breaks GT's rule" in line
    suggestion = line.rsplit("try ", 1)[1].strip("'")
    from tuilabel.core.gt.job import check_label_attribute

    assert check_label_attribute(suggestion) == suggestion, f"suggested {suggestion!r} is not valid either"


@pytest.mark.parametrize(
    "source,expected",
    [
        ("missing.manifest", "does not exist"),
        (".", "is a folder; make a manifest first with `tuilabel scan"),
        ("all-bad.manifest", "no usable record"),
        ("job-not-toml.toml", "not a valid job file"),
        ("job-unknown-key.toml", "unknown setting(s) colour"),
        ("no-such-job.toml", "job file"),
    ],
)
def test_bad_input_files_cli(corpus, tmp_path, source, expected):
    result = run_cli("label", str(corpus / source), "--labels", "A,B", env=cli_env(tmp_path))
    assert expected in one_line_error(result, "label")


# -- unreadable folders (permissions enforced even for root) -----------------------------------


@pytest.fixture
def locked(tmp_path, unprivileged):
    """(folder, prefix): `secret/` (mode 000) holds a manifest, a label file and an image;
    `readonly/` is mode 555. `prefix` runs a command that cannot bypass those modes."""
    prefix = unprivileged
    root = tmp_path / "perm"
    (root / "secret").mkdir(parents=True)
    (root / "readonly").mkdir()
    (root / "secret" / "in.manifest").write_bytes(b'{"source":"a"}\n{"source":"b"}\n')
    (root / "secret" / "labels.json").write_bytes(b'{"labels":[{"label":"A"},{"label":"B"}]}')
    (root / "secret" / "a.jpg").write_bytes(b"JPEG")
    (root / "ok.manifest").write_bytes(b'{"source":"a"}\n')
    (root / "secret").chmod(0)
    (root / "readonly").chmod(0o555)
    yield root, prefix
    (root / "secret").chmod(0o755)
    (root / "readonly").chmod(0o755)


def test_manifest_in_unreadable_folder_cli(locked, tmp_path):
    root, prefix = locked
    result = run_cli("label", str(root / "secret" / "in.manifest"), "--labels", "A,B", env=cli_env(tmp_path), prefix=prefix)
    line = one_line_error(result, "label")
    assert "permission denied" in line.lower() and "secret" in line


def test_label_file_in_unreadable_folder_cli(locked, tmp_path):
    root, prefix = locked
    result = run_cli("label", str(root / "ok.manifest"), "--labels", str(root / "secret" / "labels.json"), env=cli_env(tmp_path), prefix=prefix)
    line = one_line_error(result, "label")
    assert "permission denied" in line.lower() and "labels.json" in line


def test_output_folder_not_writable_cli(locked, tmp_path):
    root, prefix = locked
    result = run_cli("label", str(root / "ok.manifest"), "--labels", "A,B", "--output", str(root / "readonly"), env=cli_env(tmp_path), prefix=prefix)
    line = one_line_error(result, "label")
    assert "permission denied" in line and "readonly" in line


def test_output_inside_unreadable_folder_cli(locked, tmp_path):
    root, prefix = locked
    result = run_cli("label", str(root / "ok.manifest"), "--labels", "A,B", "--output", str(root / "secret" / "jobs"), env=cli_env(tmp_path), prefix=prefix)
    line = one_line_error(result, "label")
    assert "permission denied" in line.lower() and "secret" in line


def test_scan_unreadable_folder_cli(locked, tmp_path):
    root, prefix = locked
    result = run_cli("scan", str(root / "secret"), env=cli_env(tmp_path), prefix=prefix)
    line = one_line_error(result, "scan")
    assert "permission denied" in line.lower() and "secret" in line


def test_source_ref_in_unreadable_folder(locked):
    root, prefix = locked
    code = (
        "import sys\nfrom tuilabel.core.data.sources import SourceError, fetch\n"
        f"try:\n    fetch('secret/a.jpg', {str(root)!r})\nexcept SourceError as exc:\n    print(exc)\n    sys.exit(3)\n"
    )
    result = subprocess.run([*prefix, sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert result.returncode == 3, result.stderr
    assert "permission denied" in result.stdout and str(root / "secret" / "a.jpg") in result.stdout
