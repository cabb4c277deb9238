"""tuilabel.core.data.sources: every kind of source-ref, read for real (files, moto S3, HTTP)."""

from __future__ import annotations

import http.server
import os
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from tuilabel.core.data import s3, sources
from tuilabel.core.errors import UserError
from tuilabel.core.gt.limits import MAX_IMAGE_BYTES
from tuilabel.core.data.sources import SourceError, fetch


@pytest.fixture
def folder(tmp_path):
    (tmp_path / "img").mkdir()
    (tmp_path / "img" / "a.jpg").write_bytes(b"JPEG-a")
    (tmp_path / "dir with space").mkdir()
    (tmp_path / "dir with space" / "é.png").write_bytes(b"PNG-e")
    return tmp_path


def test_relative_path_resolves_against_manifest_folder(folder, monkeypatch):
    monkeypatch.chdir("/")  # the working directory must not matter
    assert fetch("img/a.jpg", str(folder)) == b"JPEG-a"
    assert fetch("./img/../img/a.jpg", folder) == b"JPEG-a"
    assert sources.resolve("img/a.jpg", folder) == str(folder / "img" / "a.jpg")


def test_absolute_path_and_home(folder, monkeypatch):
    assert fetch(str(folder / "img" / "a.jpg"), "/elsewhere") == b"JPEG-a"
    monkeypatch.setenv("HOME", str(folder))
    assert fetch("~/img/a.jpg", "/elsewhere") == b"JPEG-a"


def test_file_uri(folder):
    uri = (folder / "dir with space" / "é.png").as_uri()  # percent-encoded
    assert "%20" in uri
    assert fetch(uri, "/elsewhere") == b"PNG-e"
    assert fetch("file://localhost" + uri[len("file://"):], "/x") == b"PNG-e"
    with pytest.raises(SourceError, match="another host"):
        fetch("file://otherhost/etc/passwd", "/")


def test_base_of(folder):
    manifest = folder / "in.manifest"
    assert sources.base_of(manifest) == str(folder)
    assert sources.base_of(manifest.as_uri()) == str(folder)
    assert sources.base_of("s3://b/jobs/x/in.manifest") == "s3://b/jobs/x/"
    assert sources.base_of("https://h/p/in.manifest") == "https://h/p/"


def test_missing_file_message(folder):
    with pytest.raises(SourceError) as info:
        fetch("img/x.jpg", folder)
    assert str(info.value) == f"source-ref 'img/x.jpg' not found ({folder / 'img' / 'x.jpg'})"
    assert isinstance(info.value, UserError)
    assert "\n" not in str(info.value)


def test_folder_and_unreadable(folder, unprivileged):
    with pytest.raises(SourceError, match="is a folder"):
        fetch("img", folder)
    (folder / "img" / "a.jpg").chmod(0)
    # In a process that cannot bypass file modes (the tests run as root in CI).
    code = f"from tuilabel.core.data.sources import fetch\nfetch('img/a.jpg', {str(folder)!r})"
    proc = subprocess.run([*unprivileged, sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1 and proc.stderr.splitlines()[-1] == (
        f"tuilabel.core.data.sources.SourceError: source-ref 'img/a.jpg' is not readable: "
        f"permission denied ({folder / 'img' / 'a.jpg'})"
    )


def test_bad_refs():
    for bad in ("", None, 3):
        with pytest.raises(SourceError, match="non-empty string"):
            fetch(bad, "/")


def test_over_limit_local(folder):
    (folder / "big.jpg").write_bytes(b"x" * 2048)
    assert len(fetch("big.jpg", folder, max_bytes=2048)) == 2048
    with pytest.raises(SourceError) as info:
        fetch("big.jpg", folder, max_bytes=2047)
    assert str(info.value) == (
        f"source-ref 'big.jpg' is 2048 bytes, over the 2047 bytes limit ({folder / 'big.jpg'})"
    )


def test_over_gt_limit_message(folder):
    big = folder / "huge.png"
    with open(big, "wb") as f:  # sparse: no 40 MB write
        f.truncate(MAX_IMAGE_BYTES + 1)
    with pytest.raises(SourceError) as info:
        fetch("huge.png", folder)
    assert str(info.value) == (
        f"source-ref 'huge.png' is 40.0 MB, over GT's 40 MB image limit ({big})"
    )
    assert fetch("huge.png", folder, max_bytes=None)[:4] == b"\0\0\0\0"


def test_s3_absolute_and_relative(s3_bucket):
    s3.put_bytes(f"s3://{s3_bucket}/jobs/photos/a.jpg", b"S3-a")
    s3.put_bytes(f"s3://{s3_bucket}/shared/b.jpg", b"S3-b")
    assert fetch(f"s3://{s3_bucket}/jobs/photos/a.jpg", "/local/base") == b"S3-a"
    base = f"s3://{s3_bucket}/jobs/"  # the manifest came from S3
    assert fetch("photos/a.jpg", base) == b"S3-a"
    assert fetch("../shared/b.jpg", base) == b"S3-b"
    assert sources.resolve("photos/a.jpg", base) == f"s3://{s3_bucket}/jobs/photos/a.jpg"
    with pytest.raises(SourceError, match="climbs out"):
        sources.resolve("../../x.jpg", base)


def test_s3_missing_object_and_limit(s3_bucket):
    uri = f"s3://{s3_bucket}/nope.jpg"
    with pytest.raises(SourceError) as info:
        fetch(uri, "/")
    assert str(info.value) == f"{uri} does not exist"
    with pytest.raises(SourceError) as info:
        fetch("nope.jpg", f"s3://{s3_bucket}/")
    assert str(info.value) == f"source-ref 'nope.jpg': {uri} does not exist"
    s3.put_bytes(f"s3://{s3_bucket}/big.jpg", b"x" * 100)
    with pytest.raises(SourceError) as info:
        fetch(f"s3://{s3_bucket}/big.jpg", "/", max_bytes=99)
    assert "over the" in str(info.value) and f"s3://{s3_bucket}/big.jpg" in str(info.value)


def test_s3_fetch_from_threads(s3_bucket):
    for i in range(16):
        s3.put_bytes(f"s3://{s3_bucket}/t/{i}.jpg", str(i).encode() * 10)
    with ThreadPoolExecutor(8) as pool:
        got = list(pool.map(lambda i: fetch(f"t/{i}.jpg", f"s3://{s3_bucket}/"), range(16)))
    assert got == [str(i).encode() * 10 for i in range(16)]


@pytest.fixture
def http_root(folder):
    """A real HTTP server on 127.0.0.1 serving `folder`."""

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a, **kw):
            super().__init__(*a, directory=str(folder), **kw)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_http(http_root, folder):
    assert fetch(f"{http_root}/img/a.jpg", "/") == b"JPEG-a"
    assert fetch("img/a.jpg", f"{http_root}/") == b"JPEG-a"  # manifest served over HTTP
    with pytest.raises(SourceError) as info:
        fetch(f"{http_root}/img/none.jpg", "/")
    assert str(info.value) == f"http 404 File not found ({http_root}/img/none.jpg)"
    (folder / "big.jpg").write_bytes(b"x" * 300)
    with pytest.raises(SourceError, match="over the"):
        fetch(f"{http_root}/big.jpg", "/", max_bytes=299)


def test_http_unreachable():
    import socket

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(SourceError, match=f"cannot reach http://127.0.0.1:{port}/x.jpg"):
        fetch(f"http://127.0.0.1:{port}/x.jpg", "/")
