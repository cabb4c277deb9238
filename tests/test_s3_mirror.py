"""S3Mirror against a real moto server, including an outage and the catch-up after it."""

from __future__ import annotations

import time

import pytest

from tuilabel.core.data import s3
from tuilabel.core.data.s3_mirror import S3Mirror


def wait_for(predicate, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


@pytest.fixture
def job(tmp_path):
    root = tmp_path / "job"
    (root / "manifests" / "output").mkdir(parents=True)
    return root


def remote(bucket: str, rel: str) -> bytes:
    return s3.get_bytes(f"s3://{bucket}/out/job/{rel}")


def test_uploads_touched_files(s3_bucket, job):
    (job / "manifests" / "output" / "output.manifest").write_bytes(b'{"a":1}\n')
    (job / "data.json").write_bytes(b"{}")
    mirror = S3Mirror(job, f"s3://{s3_bucket}/out/job", interval=0.1)
    try:
        mirror.touch("manifests/output/output.manifest")
        mirror.touch(job / "data.json")  # absolute paths inside the root work too
        assert mirror.flush(10)
        assert remote(s3_bucket, "manifests/output/output.manifest") == b'{"a":1}\n'
        assert remote(s3_bucket, "data.json") == b"{}"
        status = mirror.status()
        assert (status.pending, status.uploaded, status.online, status.last_error) == (0, 2, True, None)
        assert status.last_success is not None
        assert status.summary() == "S3: up to date"
    finally:
        assert mirror.close() == []


def test_debounce_batches_rapid_touches(s3_bucket, job):
    path = job / "journal.jsonl"
    mirror = S3Mirror(job, f"s3://{s3_bucket}/out/job/", interval=0.5)
    try:
        with open(path, "ab") as f:
            for i in range(100):
                f.write(b'{"i":%d}\n' % i)
                f.flush()
                mirror.touch("journal.jsonl")
        assert mirror.flush(10)
        assert remote(s3_bucket, "journal.jsonl").count(b"\n") == 100
        assert mirror.status().uploaded <= 3  # 100 touches, a handful of uploads
    finally:
        mirror.close()


def test_line_files_are_cut_at_the_last_newline(s3_bucket, job):
    (job / "journal.jsonl").write_bytes(b'{"done":1}\n{"half')  # a line being written
    (job / "notes.bin").write_bytes(b"no newline at all")
    mirror = S3Mirror(job, f"s3://{s3_bucket}/out/job", interval=0.05)
    try:
        mirror.touch("journal.jsonl")
        mirror.touch("notes.bin")
        assert mirror.flush(10)
        assert remote(s3_bucket, "journal.jsonl") == b'{"done":1}\n'
        assert remote(s3_bucket, "notes.bin") == b"no newline at all"
    finally:
        mirror.close()


def test_outage_then_catch_up(s3_bucket, job, s3_outage):
    out = job / "manifests" / "output" / "output.manifest"
    out.write_bytes(b'{"n":0}\n')
    mirror = S3Mirror(job, f"s3://{s3_bucket}/out/job", interval=0.1, min_backoff=0.1, max_backoff=0.3)
    try:
        mirror.touch(out)
        assert mirror.flush(10)

        s3_outage.stop()
        try:
            slowest = 0.0
            with open(out, "ab") as f:
                for n in range(1, 201):  # labeling goes on while S3 is down
                    f.write(b'{"n":%d}\n' % n)
                    f.flush()
                    started = time.perf_counter()
                    mirror.touch(out)
                    if n % 20 == 0:
                        (job / f"worker-response-{n}.json").write_bytes(b"{}")
                        mirror.touch(f"worker-response-{n}.json")
                    slowest = max(slowest, time.perf_counter() - started)
                    time.sleep(0.002)
            # touch() is a dict write: a blocking network call would take ≥ 1 s here.
            assert slowest < 0.5, slowest
            assert wait_for(lambda: not mirror.status().online)
            status = mirror.status()
            assert status.pending == 11
            assert "cannot reach S3 endpoint" in status.last_error
            assert status.summary() == "S3 offline: 11 files waiting"
        finally:
            s3_outage.start()

        assert mirror.flush(15), mirror.status()
        assert remote(s3_bucket, "manifests/output/output.manifest") == out.read_bytes()
        assert out.read_bytes().count(b"\n") == 201
        for n in range(20, 201, 20):
            assert remote(s3_bucket, f"worker-response-{n}.json") == b"{}"
        status = mirror.status()
        assert status.online and status.last_error is None and status.pending == 0
    finally:
        assert mirror.close() == []


def test_close_flushes_without_waiting_for_debounce(s3_bucket, job):
    mirror = S3Mirror(job, f"s3://{s3_bucket}/out/job", interval=60)
    (job / "a.json").write_bytes(b"1")
    mirror.touch("a.json")
    assert wait_for(lambda: mirror.status().uploaded == 1)  # first upload goes at once
    (job / "a.json").write_bytes(b"2")
    (job / "b.json").write_bytes(b"3")
    mirror.touch("a.json")
    mirror.touch("b.json")
    assert mirror.close(10) == []
    assert remote(s3_bucket, "a.json") == b"2"
    assert remote(s3_bucket, "b.json") == b"3"


def test_close_during_outage_returns_pending_and_does_not_raise(s3_bucket, job, s3_outage):
    mirror = S3Mirror(job, f"s3://{s3_bucket}/out/job", interval=0.05)
    (job / "a.json").write_bytes(b"1")
    with s3_outage():
        mirror.touch("a.json")
        started = time.monotonic()
        left = mirror.close(timeout=10)
        took = time.monotonic() - started
    assert left == ["a.json"]
    assert took < 10  # a refused connection fails fast; close() does not spin on it


def test_vanished_files_are_dropped(s3_bucket, job):
    mirror = S3Mirror(job, f"s3://{s3_bucket}/out/job", interval=0.05)
    try:
        mirror.touch("gone.tmp")
        assert mirror.flush(10)
        assert mirror.status().uploaded == 0
        with pytest.raises(s3.S3Error, match="does not exist"):
            remote(s3_bucket, "gone.tmp")
    finally:
        mirror.close()


def test_sync_existing_uploads_only_what_s3_lacks(s3_bucket, job):
    (job / "same.json").write_bytes(b"same")
    (job / "changed.json").write_bytes(b"new, longer")
    (job / "sub").mkdir()
    (job / "sub" / "missing.json").write_bytes(b"m")
    s3.put_bytes(f"s3://{s3_bucket}/out/job/same.json", b"same")
    s3.put_bytes(f"s3://{s3_bucket}/out/job/changed.json", b"old")
    mirror = S3Mirror(job, f"s3://{s3_bucket}/out/job", interval=0.05)
    try:
        mirror.sync_existing()
        assert mirror.flush(10)
        assert mirror.status().uploaded == 2
        assert remote(s3_bucket, "changed.json") == b"new, longer"
        assert remote(s3_bucket, "sub/missing.json") == b"m"
    finally:
        mirror.close()


def test_touch_outside_root_is_a_bug(job, tmp_path):
    mirror = S3Mirror(job, "s3://bucket/prefix", start=False)
    with pytest.raises(ValueError):
        mirror.touch(tmp_path / "elsewhere.json")
    with pytest.raises(ValueError):
        mirror.touch("../x.json")
    assert mirror.close() == []


def test_missing_bucket_shows_as_error(aws_env, job):
    mirror = S3Mirror(job, "s3://no-such-bucket-tuilabel/out", interval=0.05, min_backoff=0.05)
    (job / "a.json").write_bytes(b"1")
    mirror.touch("a.json")
    assert wait_for(lambda: mirror.status().last_error is not None)
    assert mirror.status().last_error == "bucket 'no-such-bucket-tuilabel' does not exist"
    assert mirror.close(5) == ["a.json"]
