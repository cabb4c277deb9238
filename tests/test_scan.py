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


# make_tree holds 6 images and 2 .txt files: images are the majority, texts need --type text.
EXPECTED_LOCAL = (
    b'{"source-ref":"photos/a-b.jpeg"}\n'
    b'{"source-ref":"photos/a.png"}\n'
    b'{"source-ref":"photos/a/c.jpg"}\n'
    b'{"source-ref":"photos/a/d/e.PNG"}\n'
    b'{"source-ref":"photos/b.JPG"}\n'
    b'{"source-ref":"photos/\xc3\xa9 x.jpg"}\n'
)
EXPECTED_LOCAL_TEXT = (
    b'{"source":"first \\"q\\" \\\\ line"}\n'
    b'{"source":"zweite Zeile \xc3\xbc"}\n'
    b'{"source":"last without newline"}\n'
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
    assert (result.images, result.text_lines, result.text_files, result.lines) == (6, 0, 0, 6)
    assert result.media == "image" and result.left_out == {".txt": 2, ".gif": 1, ".md": 1}
    assert seen and seen[-1][0] == "listing"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temp left
    text = scan(str(tmp_path / "photos"), str(tmp_path / "text.manifest"), media="text")
    assert Path(text.manifest).read_bytes() == EXPECTED_LOCAL_TEXT
    assert (text.images, text.text_lines, text.text_files, text.media) == (0, 3, 2, "text")
    assert text.left_out == {".jpg": 3, ".png": 2, ".jpeg": 1, ".gif": 1, ".md": 1}


def test_majority_decides_the_type_and_a_tie_asks(tmp_path):
    folder = tmp_path / "docs"
    folder.mkdir()
    for name in ("a.txt", "b.txt", "c.jpg", "d.gif", "README"):
        (folder / name).write_bytes(b"line\n")
    result = scan(str(folder))
    assert result.media == "text" and result.text_lines == 2
    assert result.left_out == {".jpg": 1, ".gif": 1, "": 1}
    assert b"source-ref" not in Path(result.manifest).read_bytes()
    (folder / "e.png").write_bytes(b"x")
    with pytest.raises(UserError, match="as many images as .txt files .2 each.*--type image or --type text"):
        scan(str(folder))
    (tmp_path / "pics").mkdir()
    (tmp_path / "pics" / "a.jpg").write_bytes(b"x")
    with pytest.raises(UserError, match=r"no \.txt files in .*pics \(--type text\)"):
        scan(str(tmp_path / "pics"), media="text")


def test_a_second_scan_in_the_same_second_takes_the_next_second(tmp_path):
    make_tree(tmp_path / "photos")
    when = datetime(2026, 12, 2, 8, 0, 59, 500000, tzinfo=timezone.utc)
    first = scan(str(tmp_path / "photos"), now=when)
    (tmp_path / "photos" / "new.jpg").write_bytes(b"7")
    second = scan(str(tmp_path / "photos"), now=when)
    assert Path(first.manifest).name == "dataset-20261202T080059.manifest"
    assert Path(second.manifest).name == "dataset-20261202T080100.manifest"
    assert Path(first.manifest).read_bytes() == EXPECTED_LOCAL  # not overwritten
    assert b"new.jpg" in Path(second.manifest).read_bytes()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no partial file left
    named = scan(str(tmp_path / "photos"), str(tmp_path / "mine.manifest"), now=when)
    again = scan(str(tmp_path / "photos"), str(tmp_path / "mine.manifest"), now=when)
    assert named.manifest == again.manifest  # a name the user gave is theirs to replace


def test_scans_racing_in_one_second_each_keep_their_manifest(tmp_path):
    make_tree(tmp_path / "photos")
    procs = [subprocess.Popen([sys.executable, "-m", "tuilabel", "scan", "photos"], cwd=tmp_path,
                              env=dict(os.environ, PYTHONPATH=str(REPO_ROOT)),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(3)]
    outs = [p.communicate(timeout=60)[0].decode() for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    written = sorted(tmp_path.glob("dataset-*.manifest"))
    assert len(written) == 3 and sorted(o.split(":")[0][len("wrote "):] for o in outs) == [str(w) for w in written]
    assert all(w.read_bytes() == EXPECTED_LOCAL for w in written)


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
    with pytest.raises(UserError, match=r"no \.jpg, \.jpeg, \.png or \.txt files in .*empty; it has 1 \.gif$"):
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
    assert proc.stdout == f"wrote {written[0]}: 6 images\n"
    assert proc.stderr == (
        "note: left out 2 .txt, 1 .gif, 1 .md (an image manifest takes .jpg, .jpeg and .png; "
        "--type text lists the others)\n"
    )
    assert written[0].read_bytes() == EXPECTED_LOCAL
    proc = run_cli("scan", "photos", "--type", "text", "-o", "text.manifest", cwd=tmp_path)
    assert proc.stdout == f"wrote {tmp_path / 'text.manifest'}: 3 text lines from 2 .txt files\n"
    assert proc.stderr.startswith("note: left out 3 .jpg, 2 .png, 1 .jpeg, 1 .gif, 1 .md (a text manifest takes .txt; --type image")
    assert (tmp_path / "text.manifest").read_bytes() == EXPECTED_LOCAL_TEXT
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
    return "".join(f'{{"source-ref":"s3://{bucket}/{k}"}}\n' for k in refs).encode()


def test_s3_scan_manifest_lands_beside_prefix(s3_bucket):
    fill_bucket(s3_bucket)
    seen = []
    result = scan(f"s3://{s3_bucket}/dataset", progress=lambda *a: seen.append(a))
    bucket, key = s3.parse_s3_uri(result.manifest)
    assert bucket == s3_bucket and NAME_RE.fullmatch(key)
    assert s3.get_bytes(result.manifest) == expected_s3(s3_bucket)
    assert (result.images, result.text_lines) == (5, 0) and result.left_out == {".txt": 1, ".csv": 1}
    assert seen
    text = scan(f"s3://{s3_bucket}/dataset", media="text", now=datetime(2026, 1, 1, tzinfo=timezone.utc))
    assert s3.get_bytes(text.manifest) == b'{"source":"one"}\n{"source":"two"}\n'
    again = scan(f"s3://{s3_bucket}/dataset", now=datetime(2026, 1, 1, tzinfo=timezone.utc))
    assert again.manifest.endswith("dataset-20260101T000001.manifest")  # the text one is kept
    assert s3.get_bytes(text.manifest) == b'{"source":"one"}\n{"source":"two"}\n'


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
    match = re.fullmatch(rf"wrote (s3://{s3_bucket}/dataset-\d{{8}}T\d{{6}}\.manifest): 5 images\n", proc.stdout)
    assert match, proc.stdout
    assert s3.get_bytes(match.group(1)) == expected_s3(s3_bucket)
    proc = run_cli("scan", "s3://no-such-bucket-tuilabel/x")
    assert proc.returncode == 2
    assert proc.stderr == "tuilabel scan: bucket 'no-such-bucket-tuilabel' does not exist\n"


def test_scan_writes_gt_data_setup_bytes(shared_data, aws_env):
    """GT's own automated-setup manifest, rebuilt by scan's writer from the same keys in S3:
    byte for byte (compact separators, raw UTF-8 such as the U+F025 in its keys, raw '=')."""
    import boto3

    real = (shared_data / "gt-samples" / "dataset-20200530T121341.manifest").read_bytes()
    refs = [orjson.loads(line)["source-ref"] for line in real.splitlines()]
    bucket = s3.parse_s3_uri(refs[0])[0]  # GT's bucket name, so the refs come out the same
    client = boto3.client("s3")
    client.create_bucket(Bucket=bucket)
    try:
        for ref in refs:
            s3.put_bytes(ref, b"image bytes")
        result = scan(f"s3://{bucket}/data", now=datetime(2020, 5, 30, 12, 13, 41, tzinfo=timezone.utc))
        assert result.manifest == f"s3://{bucket}/dataset-20200530T121341.manifest"  # GT's name too
        assert s3.get_bytes(result.manifest) == real
    finally:
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            for obj in page.get("Contents", []):
                client.delete_object(Bucket=bucket, Key=obj["Key"])
        client.delete_bucket(Bucket=bucket)
