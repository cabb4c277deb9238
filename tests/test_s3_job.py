"""A whole labeling job on S3, against a real S3 HTTP endpoint (moto on 127.0.0.1): manifest,
images and output folder in S3, an outage in the middle, nothing lost."""

from __future__ import annotations

import time

import boto3
import orjson
import pytest

from tuilabel.core.errors import UserError
from tuilabel.core.job_setup import JobRequest, prepare
from tuilabel.core.data.sources import SourceError, fetch


def _lines(bucket: str, key: str) -> list[dict]:
    body = boto3.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    return [orjson.loads(x) for x in body.splitlines()]


def _put(bucket, key, data: bytes):
    boto3.client("s3").put_object(Bucket=bucket, Key=key, Body=data)


def test_s3_job_end_to_end_with_outage(s3_bucket, s3_outage, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    records = [{"source-ref": f"img/{i}.png", "id": i} for i in range(6)]
    _put(s3_bucket, "data/in.manifest", b"".join(orjson.dumps(r) + b"\n" for r in records))
    _put(s3_bucket, "data/img/0.png", b"\x89PNG fake bytes")

    job = prepare(JobRequest(source=f"s3://{s3_bucket}/data/in.manifest", labels="cat,dog", worker="ann"))
    assert job.output_s3 == f"s3://{s3_bucket}/data/in/"  # beside the input, as GT does
    assert job.spec.task == "image-classification"
    session, mirror = job.start()
    # Images resolve against the manifest's S3 folder.
    assert fetch(session.current.source_ref, session.manifest.base) == b"\x89PNG fake bytes"
    with pytest.raises(SourceError, match="does not exist"):
        fetch("img/1.png", session.manifest.base)

    session.answer(0)
    session.answer(1)
    assert mirror.flush(timeout=10)
    out_key = "data/in/manifests/output/output.manifest"
    assert [x["in"] for x in _lines(s3_bucket, out_key)] == [0, 1]

    with s3_outage():
        t0 = time.monotonic()
        session.answer(1)
        session.decline()
        assert time.monotonic() - t0 < 1.0  # labeling never waits for S3
        assert not mirror.flush(timeout=3)
        status = mirror.status()
        assert not status.online and status.pending >= 1
        # Locally everything is committed.
        local = [orjson.loads(x) for x in job.folder.output_manifest.read_bytes().splitlines()]
        assert len(local) == 4

    assert mirror.flush(timeout=15)  # caught up once S3 is back
    remote = _lines(s3_bucket, out_key)
    assert len(remote) == 4 and "failure-reason" in remote[3]["in-metadata"]
    session.answer(0)
    session.answer(0)
    assert session.current is None  # done
    session.finish()
    left = job.stop(session, mirror)
    assert left == []
    assert [x["id"] for x in _lines(s3_bucket, out_key)] == [0, 1, 2, 3, 4, 5]  # canonical
    keys = {o["Key"] for o in boto3.client("s3").list_objects_v2(Bucket=s3_bucket, Prefix="data/in/")["Contents"]}
    assert "data/in/annotation-tool/data.json" in keys
    assert "data/in/tuilabel/workers/ann/journal.jsonl" in keys


def test_s3_down_at_start_uses_the_jobs_copy(s3_bucket, s3_outage, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    _put(s3_bucket, "in.manifest", b'{"source":"a"}\n{"source":"b"}\n')
    uri = f"s3://{s3_bucket}/in.manifest"
    job = prepare(JobRequest(source=uri, labels="x,y", output=str(tmp_path / "out")))
    session, mirror = job.start()
    session.answer(0)
    job.stop(session, mirror)
    with s3_outage():
        job = prepare(JobRequest(source=uri, output=str(tmp_path / "out")))
        assert any("labeling from the job's copy" in n for n in job.notes)
        session, mirror = job.start()
        assert session.current.source == "b"
        session.answer(1)
        job.stop(session, mirror)


def test_missing_s3_manifest_is_one_clear_error(s3_bucket, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    with pytest.raises(UserError, match="does not exist"):
        prepare(JobRequest(source=f"s3://{s3_bucket}/nope.manifest", labels="a,b"))


def test_app_says_when_s3_is_offline(s3_bucket, s3_outage, tmp_path, monkeypatch):
    """The app polls the mirror and shows a line while S3 is unreachable, then clears it."""
    import asyncio

    from tuilabel.ui.app import make_app

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    _put(s3_bucket, "in.manifest", b'{"source":"a"}\n{"source":"b"}\n{"source":"c"}\n')
    job = prepare(JobRequest(source=f"s3://{s3_bucket}/in.manifest", labels="x,y", worker="ann"))
    session, mirror = job.start()

    async def run() -> tuple[str, str]:
        app = make_app(session, upload_status=mirror.lagging)
        async with app.run_test() as pilot:
            s3_outage.stop()
            try:
                await pilot.press("1")
                for _ in range(60):
                    await pilot.pause(0.1)
                    if "offline" in app.label_screen.message_text:
                        break
                offline = app.label_screen.message_text
            finally:
                s3_outage.start()
            assert mirror.flush(timeout=15)
            for _ in range(40):
                await pilot.pause(0.1)
                if "up to date" in app.label_screen.message_text:
                    break
            return offline, app.label_screen.message_text

    offline, back = asyncio.run(run())
    job.stop(session, mirror)
    assert offline.startswith("S3 offline:") and "waiting" in offline
    assert back == "S3: up to date"
