"""tuilabel.core.data.s3 against a real moto server over HTTP."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from tuilabel.core.data import s3
from tuilabel.core.errors import UserError


def test_importing_s3_does_not_import_boto3():
    code = "import sys, tuilabel.core.data.s3; assert 'boto3' not in sys.modules and 'botocore' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize(
    "uri, expected",
    [
        ("s3://bucket/a/b.jpg", ("bucket", "a/b.jpg")),
        ("s3://bucket", ("bucket", "")),
        ("s3://bucket/", ("bucket", "")),
        ("S3://Bucket/k", ("Bucket", "k")),
        ("s3://b/with space/ü.png", ("b", "with space/ü.png")),
    ],
)
def test_parse_s3_uri(uri, expected):
    assert s3.parse_s3_uri(uri) == expected


@pytest.mark.parametrize("bad", ["http://x/y", "s3:/b/k", "s3:///key", "bucket/key"])
def test_parse_s3_uri_rejects(bad):
    with pytest.raises(s3.S3Error) as info:
        s3.parse_s3_uri(bad)
    assert isinstance(info.value, UserError)
    assert info.value.kind == "bad-uri"


def test_client_uses_aws_endpoint_url(aws_env):
    # botocore honours AWS_ENDPOINT_URL natively; this is what points us at moto.
    assert s3.endpoint() == aws_env


def test_put_get_head_roundtrip(s3_bucket):
    uri = f"s3://{s3_bucket}/dir/ü x.bin"
    data = bytes(range(256)) * 100
    s3.put_bytes(uri, data)
    assert s3.get_bytes(uri) == data
    info = s3.head(uri)
    assert info.size == len(data)
    assert info.etag and '"' not in info.etag


def test_get_bytes_limit(s3_bucket):
    uri = f"s3://{s3_bucket}/big"
    s3.put_bytes(uri, b"x" * 1000)
    assert s3.get_bytes(uri, max_bytes=1000) == b"x" * 1000
    with pytest.raises(s3.S3Error) as info:
        s3.get_bytes(uri, max_bytes=999)
    assert info.value.kind == "too-large"


def test_missing_object_and_bucket_messages(s3_bucket):
    uri = f"s3://{s3_bucket}/nope.jpg"
    for call in (s3.get_bytes, s3.head):
        with pytest.raises(s3.S3Error) as info:
            call(uri)
        assert str(info.value) == f"{uri} does not exist"
        assert info.value.kind == "not-found"
    for call in (s3.get_bytes, s3.head):
        with pytest.raises(s3.S3Error) as info:
            call("s3://no-such-bucket-tuilabel/x.jpg")
        assert str(info.value) == "bucket 'no-such-bucket-tuilabel' does not exist"
        assert info.value.kind == "no-bucket"
    with pytest.raises(s3.S3Error) as info:
        list(s3.list_keys("s3://no-such-bucket-tuilabel/prefix/"))
    assert info.value.kind == "no-bucket"
    with pytest.raises(s3.S3Error) as info:
        s3.put_bytes("s3://no-such-bucket-tuilabel/k", b"1")
    assert info.value.kind == "no-bucket"
    with pytest.raises(s3.S3Error) as info:
        s3.check_bucket("no-such-bucket-tuilabel")
    assert info.value.kind == "no-bucket"
    s3.check_bucket(s3_bucket)


def test_list_keys_paginates_in_key_order(s3_bucket):
    keys = ["p/b.jpg", "p/a.jpg", "p/a-b.jpg", "p/a/c.png", "p/Z.png", "p/é.jpg", "q/out.jpg"]
    for key in keys:
        s3.put_bytes(f"s3://{s3_bucket}/{key}", key.encode())
    listed = list(s3.list_keys(f"s3://{s3_bucket}/p/", page_size=2))
    expected = sorted(k for k in keys if k.startswith("p/"))
    assert listed == expected
    assert listed == sorted(expected, key=lambda k: k.encode())  # S3's byte order
    assert list(s3.list_keys(f"s3://{s3_bucket}/p/", delimiter="/")) == [
        k for k in expected if k.count("/") == 1
    ]
    sizes = dict(s3.list_objects(f"s3://{s3_bucket}/"))
    assert sizes["q/out.jpg"] == len(b"q/out.jpg")


def test_download_is_atomic(s3_bucket, tmp_path):
    uri = f"s3://{s3_bucket}/img.png"
    s3.put_bytes(uri, b"\x89PNG" + b"0" * 5000)
    dest = s3.download(uri, tmp_path / "sub" / "img.png")
    assert dest.read_bytes() == b"\x89PNG" + b"0" * 5000
    with pytest.raises(s3.S3Error):
        s3.download(f"s3://{s3_bucket}/missing.png", tmp_path / "missing.png")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sub"]  # no partial files
    assert [p.name for p in (tmp_path / "sub").iterdir()] == ["img.png"]


def test_upload_file(s3_bucket, tmp_path):
    path = tmp_path / "out.manifest"
    path.write_bytes(b'{"a":1}\n')
    s3.upload_file(path, f"s3://{s3_bucket}/job/out.manifest")
    assert s3.get_bytes(f"s3://{s3_bucket}/job/out.manifest") == b'{"a":1}\n'
    with pytest.raises(UserError):
        s3.upload_file(tmp_path / "absent", f"s3://{s3_bucket}/x")


def test_no_credentials_message(aws_env, monkeypatch):
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    with pytest.raises(s3.S3Error) as info:
        s3.get_bytes("s3://any-bucket/k")
    assert info.value.kind == "no-credentials"
    assert "no AWS credentials" in str(info.value)


def test_unreachable_endpoint_fails_fast_and_names_it(s3_bucket, s3_outage, moto_server):
    uri = f"s3://{s3_bucket}/k"
    s3.put_bytes(uri, b"1")
    with s3_outage():
        start = time.monotonic()
        with pytest.raises(s3.S3Error) as info:
            s3.get_bytes(uri)
        elapsed = time.monotonic() - start
    assert info.value.kind == "unreachable"
    assert moto_server.endpoint in str(info.value)
    # Not a benchmark: a guard against botocore's default minute of retries.
    assert elapsed < 10, elapsed
    assert s3.get_bytes(uri) == b"1"  # back, and the cached client recovers
