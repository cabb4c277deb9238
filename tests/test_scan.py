"""`tuilabel scan`: GT's automated data setup, on local folders and a real moto S3."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import orjson
import pytest

from tuilabel.core.data import s3, sources
from tuilabel.core.errors import UserError
from tuilabel.core.data.scan import default_output, manifest_name, scan

REPO_ROOT = Path(__file__).resolve().parents[1]
NAME_RE = re.compile(r"dataset-\d{8}T\d{6}\.manifest")


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    return subprocess.run(
        [sys.executable, "-m", "tuilabel", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=60,
    )


def make_tree(root: Path) -> None:
    files = {
        "b.JPG": b"1",
        "a.png": b"2",
        "a-b.jpeg": b"3",
        "a/c.jpg": b"4",
        "a/d/e.PNG": b"5",
        "é x.jpg": b"6",
        "notes.txt": 'first "q" \\ line\r\n\n   \nzweite Zeile ü\nlast without newline'.encode(),
        "readme.md": b"not data",
        "photo.gif": b"not supported",
        "a/.hidden.jpg": b"skip",
        ".git/x.jpg": b"skip",
        "._b.jpg": b"skip",
        "empty.txt": b"\n\n",
    }
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


EXPECTED_LOCAL = (
    b'{"source-ref":"photos/a-b.jpeg"}\n'
    b'{"source-ref":"photos/a.png"}\n'
    b'{"source-ref":"photos/a/c.jpg"}\n'
    b'{"source-ref":"photos/a/d/e.PNG"}\n'
    b'{"source-ref":"photos/b.JPG"}\n'
    b'{"source":"first \\"q\\" \\\\ line"}\n'
    b'{"source":"zweite Zeile \xc3\xbc"}\n'
    b'{"source":"last without newline"}\n'
    b'{"source-ref":"photos/\xc3\xa9 x.jpg"}\n'
)


def test_manifest_name_is_utc():
    when = datetime(2026, 11, 27, 19, 1, 2, tzinfo=timezone.utc)
    assert manifest_name(when) == "dataset-20261127T190102.manifest"
    assert NAME_RE.fullmatch(manifest_name())


def test_default_output_is_beside_source(tmp_path):
    when = datetime(2026, 11, 27, 18, 1, 2, tzinfo=timezone.utc)
    assert default_output("s3://bucket/dataset", when) == "s3://bucket/dataset-20261127T180102.manifest"
    assert default_output("s3://bucket/a/b/", when) == "s3://bucket/a/dataset-20261127T180102.manifest"
    assert default_output("s3://bucket", when) == "s3://bucket/dataset-20261127T180102.manifest"
    assert default_output(str(tmp_path / "photos"), when) == str(tmp_path / "dataset-20261127T180102.manifest")


def test_local_scan_byte_exact(tmp_path):
    make_tree(tmp_path / "photos")
    seen = []
    result = scan(str(tmp_path / "photos"), progress=lambda *a: seen.append(a))
    path = Path(result.manifest)
    assert path.parent == tmp_path
    assert NAME_RE.fullmatch(path.name)
    assert path.read_bytes() == EXPECTED_LOCAL
    assert (result.images, result.text_lines, result.text_files, result.lines) == (6, 3, 2, 9)
    assert seen and seen[-1][0] == "listing"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temp left


def test_local_refs_resolve_with_sources(tmp_path):
    """The manifest is portable: move folder + manifest together, every ref still reads."""
    make_tree(tmp_path / "job" / "photos")
    result = scan(str(tmp_path / "job" / "photos"))
    moved = tmp_path / "moved"
    (tmp_path / "job").rename(moved)
    manifest = moved / Path(result.manifest).name
    base = sources.base_of(manifest)
    got = [
        sources.fetch(rec["source-ref"], base)
        for rec in map(orjson.loads, manifest.read_bytes().splitlines())
        if "source-ref" in rec
    ]
    assert sorted(got) == [b"1", b"2", b"3", b"4", b"5", b"6"]


def test_output_option_file_and_folder(tmp_path):
    make_tree(tmp_path / "photos")
    (tmp_path / "out").mkdir()
    result = scan(str(tmp_path / "photos"), str(tmp_path / "out"))
    assert Path(result.manifest).parent == tmp_path / "out"
    first = Path(result.manifest).read_bytes().splitlines()[0]
    assert first == b'{"source-ref":"../photos/a-b.jpeg"}'
    result = scan(str(tmp_path / "photos"), str(tmp_path / "photos" / "in.manifest"))
    assert result.manifest == str(tmp_path / "photos" / "in.manifest")
    assert Path(result.manifest).read_bytes().splitlines()[0] == b'{"source-ref":"a-b.jpeg"}'


def test_no_recursive(tmp_path):
    make_tree(tmp_path / "photos")
    result = scan(str(tmp_path / "photos"), recursive=False)
    refs = [orjson.loads(x).get("source-ref") for x in Path(result.manifest).read_bytes().splitlines()]
    assert "photos/a/c.jpg" not in refs and "photos/a.png" in refs


def test_local_errors(tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        scan(str(tmp_path / "missing"))
    (tmp_path / "file.jpg").write_bytes(b"x")
    with pytest.raises(UserError, match="is not a folder"):
        scan(str(tmp_path / "file.jpg"))
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    (tmp_path / "empty" / "x.gif").write_bytes(b"x")
    with pytest.raises(UserError, match=r"no \.jpg, \.jpeg, \.png or \.txt files in"):
        scan(str(tmp_path / "empty"))
    (tmp_path / "blank").mkdir()
    (tmp_path / "blank" / "t.txt").write_bytes(b"\n \n")
    with pytest.raises(UserError, match="only empty .txt"):
        scan(str(tmp_path / "blank"))
    (tmp_path / "latin").mkdir()
    (tmp_path / "latin" / "t.txt").write_bytes(b"caf\xe9\n")
    with pytest.raises(UserError, match="is not UTF-8 text"):
        scan(str(tmp_path / "latin"))
    assert not list(tmp_path.glob("dataset-*"))  # nothing written on failure


def test_local_cli(tmp_path):
    make_tree(tmp_path / "photos")
    proc = run_cli("scan", "photos", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    written = list(tmp_path.glob("dataset-*.manifest"))
    assert len(written) == 1 and NAME_RE.fullmatch(written[0].name)
    assert proc.stdout == f"wrote {written[0]}: 6 images, 3 text lines from 2 .txt files\n"
    assert written[0].read_bytes() == EXPECTED_LOCAL
    proc = run_cli("scan", str(tmp_path / "nowhere"))
    assert proc.returncode == 2
    assert proc.stderr == f"tuilabel scan: folder {tmp_path / 'nowhere'} does not exist\n"


# --- S3 -----------------------------------------------------------------------------------


def fill_bucket(bucket: str) -> None:
    for key, data in {
        "dataset/b.jpg": b"1",
        "dataset/a/z.png": b"2",
        "dataset/a.JPEG": b"3",
        "dataset/a/deep/y.jpg": b"4",
        "dataset/lines.txt": b"one\n\ntwo\r\n",
        "dataset/skip.csv": b"x",
        "dataset/._mac.jpg": b"kept: S3 scans keep every key, as GT does",
        "dataset2/not-mine.jpg": b"x",
        "dataset-old.jpg": b"x",
        "other/x.jpg": b"x",
    }.items():
        s3.put_bytes(f"s3://{bucket}/{key}", data)


def expected_s3(bucket: str) -> bytes:
    refs = ["dataset/._mac.jpg", "dataset/a.JPEG", "dataset/a/deep/y.jpg", "dataset/a/z.png", "dataset/b.jpg"]
    lines = [orjson.dumps({"source-ref": f"s3://{bucket}/{k}"}) for k in refs]
    return b"".join(x + b"\n" for x in lines[:5]) + b'{"source":"one"}\n{"source":"two"}\n'


def test_s3_scan_manifest_lands_beside_prefix(s3_bucket):
    fill_bucket(s3_bucket)
    seen = []
    result = scan(f"s3://{s3_bucket}/dataset", progress=lambda *a: seen.append(a))
    bucket, key = s3.parse_s3_uri(result.manifest)
    assert bucket == s3_bucket and NAME_RE.fullmatch(key)
    assert s3.get_bytes(result.manifest) == expected_s3(s3_bucket)
    assert (result.images, result.text_lines) == (5, 2)
    assert seen


def test_s3_scan_to_local_output_and_no_recursive(s3_bucket, tmp_path):
    fill_bucket(s3_bucket)
    result = scan(f"s3://{s3_bucket}/dataset/", str(tmp_path) + "/", recursive=False)
    data = Path(result.manifest).read_bytes()
    assert f"s3://{s3_bucket}/dataset/a.JPEG".encode() in data
    assert b"deep" not in data and b"z.png" not in data


def test_s3_errors(s3_bucket):
    fill_bucket(s3_bucket)
    with pytest.raises(UserError, match=rf"no \.jpg, \.jpeg, \.png or \.txt files under s3://{s3_bucket}/nothing/"):
        scan(f"s3://{s3_bucket}/nothing")
    with pytest.raises(s3.S3Error, match="bucket 'no-such-bucket-tuilabel' does not exist"):
        scan("s3://no-such-bucket-tuilabel/data")


def test_local_folder_to_s3_manifest_uses_absolute_paths(s3_bucket, tmp_path):
    make_tree(tmp_path / "photos")
    result = scan(str(tmp_path / "photos"), f"s3://{s3_bucket}/manifests/")
    first = s3.get_bytes(result.manifest).splitlines()[0]
    assert orjson.loads(first) == {"source-ref": str(tmp_path / "photos" / "a-b.jpeg")}


def test_s3_cli(s3_bucket):
    fill_bucket(s3_bucket)
    proc = run_cli("scan", f"s3://{s3_bucket}/dataset")
    assert proc.returncode == 0, proc.stderr
    match = re.fullmatch(rf"wrote (s3://{s3_bucket}/dataset-\d{{8}}T\d{{6}}\.manifest): 5 images, 2 text lines from 1 \.txt file\n", proc.stdout)
    assert match, proc.stdout
    assert s3.get_bytes(match.group(1)) == expected_s3(s3_bucket)
    proc = run_cli("scan", "s3://no-such-bucket-tuilabel/x")
    assert proc.returncode == 2
    assert proc.stderr == "tuilabel scan: bucket 'no-such-bucket-tuilabel' does not exist\n"


def test_lines_match_real_gt_data_setup_bytes(shared_data):
    """GT's own automated-setup manifest re-serializes byte for byte with our writer
    (compact separators, raw UTF-8 such as the U+F025 in its keys, raw '=')."""
    real = (shared_data / "gt-samples" / "dataset-20200530T121341.manifest").read_bytes()
    lines = real.splitlines(keepends=True)
    assert lines
    for line in lines:
        ref = orjson.loads(line)["source-ref"]
        assert orjson.dumps({"source-ref": ref}, option=orjson.OPT_APPEND_NEWLINE) == line
