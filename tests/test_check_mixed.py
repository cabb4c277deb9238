"""`tuilabel check` names a manifest that mixes data types (a GT job takes one)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from tuilabel.core.quality.check import check


def manifest(path: Path, records: list[dict]) -> Path:
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in records))
    return path


@pytest.fixture
def images(tmp_path) -> list[dict]:
    from PIL import Image

    out = []
    for i in range(3):
        Image.new("RGB", (8 + i, 8), (40 * i, 90, 200)).save(tmp_path / f"{i}.png")
        out.append({"source-ref": f"{i}.png"})
    return out


def mixed_findings(report):
    return [f for f in report.findings if f.category == "mixed"]


def test_images_and_texts(tmp_path, images):
    path = manifest(tmp_path / "m.manifest", [images[0], {"source": "a text"}, images[1], images[2]])
    report = check(str(path))
    (finding,) = mixed_findings(report)
    assert finding.line == 2  # the first record of the smaller type
    assert "3 images (source-ref) from line 1, 1 texts (source) from line 2" in finding.reason
    assert report.errors == 1 and report.counts()["mixed"] == 1


def test_inline_texts_and_text_files(tmp_path):
    (tmp_path / "t.txt").write_text("words")
    path = manifest(tmp_path / "m.manifest", [{"source": "a"}, {"source-ref": "t.txt"}])
    (finding,) = mixed_findings(check(str(path)))
    assert "text files (source-ref to .txt)" in finding.reason and finding.line == 2


def test_one_type_is_not_mixed(tmp_path, images):
    assert not mixed_findings(check(str(manifest(tmp_path / "i.manifest", images))))
    assert not mixed_findings(check(str(manifest(tmp_path / "t.manifest", [{"source": "a"}, {"source": "b"}]))))


def test_mixed_folder_and_cli(tmp_path, images):
    folder = tmp_path / "data"
    folder.mkdir()
    for i in range(3):
        (tmp_path / f"{i}.png").rename(folder / f"{i}.png")
    (folder / "notes.txt").write_text("one\ntwo\n")
    assert len(mixed_findings(check(str(folder)))) == 1
    cli = [sys.executable, "-m", "tuilabel", "check", str(folder)]
    proc = subprocess.run(cli + ["--json"], capture_output=True, timeout=60)
    assert proc.returncode == 1, proc.stderr
    assert orjson.loads(proc.stdout)["counts"]["mixed"] == 1
    proc = subprocess.run(cli, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1 and " mixed " in proc.stdout and "mixes 3 images" in proc.stdout
