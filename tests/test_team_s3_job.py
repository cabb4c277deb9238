"""A team job across machines, through the real session: the input and the job live under an
s3:// prefix (moto's server), each worker process has its own local folder (as if on its own
machine), they coordinate through S3's conditional writes only, and the output.manifest in S3
ends with every record once, consolidated."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

REPO = Path(__file__).resolve().parents[1]
WORKER = Path(__file__).with_name("team_session_worker.py")


def test_three_machines_label_one_s3_team_job_to_the_end(s3_bucket, tmp_path):
    pytest.importorskip("tuilabel.core.team.s3_leases")
    import boto3

    s3 = boto3.client("s3")
    records = 12
    body = b"".join(orjson.dumps({"source": f"review {i}"}) + b"\n" for i in range(records))
    s3.put_object(Bucket=s3_bucket, Key="in/reviews.manifest", Body=body)
    procs = []
    for i, worker in enumerate(("ann", "ben", "cat")):
        home = tmp_path / worker  # each "machine" keeps its own local job folder
        env = {**os.environ, "PYTHONPATH": str(REPO), "XDG_DATA_HOME": str(home / "data"),
               "XDG_CONFIG_HOME": str(home / "config"), "XDG_CACHE_HOME": str(home / "cache")}
        procs.append(subprocess.Popen(
            [sys.executable, str(WORKER), f"s3://{s3_bucket}/in/reviews.manifest", worker, "2", str(i),
             "--labels", "good,bad", "--output", f"s3://{s3_bucket}/jobs"],
            cwd=REPO, env=env, stderr=subprocess.PIPE))
    for proc in procs:
        _, err = proc.communicate(timeout=180)
        assert proc.returncode == 0, err.decode()[-3000:]
    out = s3.get_object(Bucket=s3_bucket, Key="jobs/reviews/manifests/output/output.manifest")["Body"].read()
    lines = [orjson.loads(line) for line in out.splitlines()]
    assert sorted(line["source"] for line in lines) == sorted(f"review {i}" for i in range(records))
    for line in lines:
        assert line["reviews-metadata"]["confidence"] > 0  # two workers each
    # Each worker's journal went to its own object; no worker's answers went anywhere else.
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=s3_bucket, Prefix="jobs/reviews/tuilabel/workers/")["Contents"]]
    assert {k.split("/")[4] for k in keys if k.endswith("journal.jsonl")} == {"ann", "ben", "cat"}

    # The owner's view, from any of those machines' job folders: the numbers are S3's.
    folder = tmp_path / "ann" / "data" / "tuilabel" / "s3" / s3_bucket / "jobs" / "reviews"
    done = subprocess.run([sys.executable, "-m", "tuilabel", "status", str(folder), "--json"],
                          cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True)
    assert done.returncode == 0, done.stderr.decode()
    status = orjson.loads(done.stdout)
    assert (status["records"], status["complete"], status["leases_out"]) == (records, records, 0)
    assert sum(w["answers"] for w in status["workers"].values()) == 2 * records
