"""`file://` manifest locations, percent-escapes and `localhost` included, through every command
that takes one (one parser for all: core/data/sources.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from tuilabel.core.job_setup import JobRequest, prepare

from engine_helpers import open_session, text_manifest


def uri_forms(path: Path) -> list[str]:
    plain = path.as_uri()  # percent-escapes the space: file:///…/my%20data/…
    assert "%20" in plain
    return [plain, "file://localhost" + plain[len("file://"):]]


@pytest.fixture
def folder(tmp_path) -> Path:
    folder = tmp_path / "my data"
    folder.mkdir()
    return folder


def tl(*args, cwd: Path):
    env = dict(os.environ, XDG_CONFIG_HOME=str(cwd / "cfg"), XDG_DATA_HOME=str(cwd / "data"))
    return subprocess.run([sys.executable, "-m", "tuilabel", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, env=env, stdin=subprocess.DEVNULL, timeout=60)


@pytest.mark.parametrize("form", [0, 1])
def test_label_reads_a_file_uri_manifest(folder, form):
    m = text_manifest(folder / "in.jsonl", 3)
    job = prepare(JobRequest(source=uri_forms(m)[form], labels="a,b"))
    assert job.manifest_path == m and job.spec.input == str(m)
    assert job.folder.root == folder / "in"


@pytest.mark.parametrize("form", [0, 1])
def test_job_file_input_as_file_uri(folder, form):
    m = text_manifest(folder / "in.jsonl", 3)
    (folder / "job.toml").write_text(f'input = "{uri_forms(m)[form]}"\nlabels = ["a", "b"]\n')
    assert prepare(JobRequest(source=str(folder / "job.toml"))).manifest_path == m


def test_another_host_is_refused(folder):
    m = text_manifest(folder / "in.jsonl", 3)
    with pytest.raises(Exception, match="names another host"):
        prepare(JobRequest(source="file://elsewhere" + m.as_uri()[len("file://"):], labels="a,b"))


@pytest.mark.parametrize("form", [0, 1])
def test_check_reads_a_file_uri_manifest(folder, form):
    m = text_manifest(folder / "in.jsonl", 3)
    proc = tl("check", uri_forms(m)[form], "--json", cwd=folder.parent)
    assert proc.returncode == 0, proc.stderr
    assert orjson.loads(proc.stdout)["records"] == 3


@pytest.mark.parametrize("form", [0, 1])
def test_stats_reads_a_file_uri_manifest_and_job(folder, form):
    m = text_manifest(folder / "in.jsonl", 3)
    s = open_session(m, name="in", labels=("a", "b"))
    s.answer(1)
    s.close()
    out = folder / "in" / "manifests" / "output" / "output.manifest"
    proc = tl("stats", uri_forms(out)[form], "--json", cwd=folder.parent)
    assert proc.returncode == 0, proc.stderr
    assert orjson.loads(proc.stdout)["attributes"][0]["classes"] == {"b": 1}
    proc = tl("stats", uri_forms(folder / "in")[form], "--json", cwd=folder.parent)
    assert proc.returncode == 0, proc.stderr
    assert orjson.loads(proc.stdout)["kind"] == "job"


@pytest.mark.parametrize("form", [0, 1])
def test_scan_folder_and_output_as_file_uris(folder, form):
    (folder / "pics").mkdir()
    (folder / "pics" / "a.jpg").write_bytes(b"x")
    dest = folder / "out put.manifest"
    proc = tl("scan", uri_forms(folder / "pics")[form], "-o", uri_forms(dest)[form], cwd=folder.parent)
    assert proc.returncode == 0, proc.stderr
    assert dest.read_bytes() == b'{"source-ref":"pics/a.jpg"}\n'


def test_percent_escapes_are_decoded_once(tmp_path):
    m = text_manifest(tmp_path / "x%20y.jsonl", 2)  # a literal "%20" in the name: x%2520y in a URI
    assert prepare(JobRequest(source=m.as_uri(), labels="a,b")).manifest_path == m
