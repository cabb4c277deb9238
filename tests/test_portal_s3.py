"""`tuilabel work --jobs s3://…`: the portal over jobs that live under an s3:// prefix (moto's
server). A worker on another machine (its own XDG folders) finds the job by listing the prefix,
sees where it stands for them from S3's leases, and labels it from the portal in tmux; the
output in S3 then holds every record once, with each record's two answers."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

from test_portal import wait_row
from test_tmux_e2e import session_name, tmux, wait_for  # noqa: F401 (session_name: a fixture)
from tuilabel.core.team.portal import AVAILABLE, DONE, IN_PROGRESS, find_jobs, job_card

REPO = Path(__file__).resolve().parents[1]
WORKER = Path(__file__).with_name("team_session_worker.py")
RECORDS = 4


def machine(tmp_path: Path, name: str) -> dict[str, str]:
    """The environment of a worker's own machine: its own local folders, this S3."""
    home = tmp_path / name
    return {**os.environ, "PYTHONPATH": str(REPO), "XDG_DATA_HOME": str(home / "data"),
            "XDG_CONFIG_HOME": str(home / "config"), "XDG_CACHE_HOME": str(home / "cache")}


@pytest.fixture
def s3_job(s3_bucket, tmp_path):
    """A team job in S3 (two workers per record, team ann and ben): ann, on her machine, has
    answered every record she may; nothing of it is on ben's machine."""
    import boto3

    body = b"".join(orjson.dumps({"source": f"review {i}"}) + b"\n" for i in range(RECORDS))
    boto3.client("s3").put_object(Bucket=s3_bucket, Key="in/reviews.manifest", Body=body)
    boto3.client("s3").put_object(Bucket=s3_bucket, Key="jobs/notes.txt", Body=b"not a job")
    ann = subprocess.run(
        [sys.executable, str(WORKER), f"s3://{s3_bucket}/in/reviews.manifest", "ann", "2", "0",
         "--labels", "good,bad", "--output", f"s3://{s3_bucket}/jobs", "--team", "ann,ben"],
        cwd=REPO, env=machine(tmp_path, "ann"), capture_output=True, text=True, timeout=120)
    assert ann.returncode == 0, ann.stderr[-3000:]
    return s3_bucket


def test_a_worker_on_another_machine_finds_the_job_and_where_it_stands(s3_job, tmp_path, monkeypatch):
    for name, value in machine(tmp_path, "ben").items():
        monkeypatch.setenv(name, value)
    folders = find_jobs(f"s3://{s3_job}/jobs/")
    assert [f.name for f in folders] == ["reviews"]
    folder = folders[0]
    assert folder == tmp_path / "ben" / "data" / "tuilabel" / "s3" / s3_job / "jobs" / "reviews"
    ben = job_card(folder, "ben")
    assert (ben.name, ben.team, ben.state, ben.left) == ("reviews", True, AVAILABLE, RECORDS)
    ann = job_card(folder, "ann")
    assert (ann.state, ann.left) == (DONE, 0)  # her answers are in S3, not on this machine
    assert job_card(folder, "zed") is None  # not in the team
    assert find_jobs(f"s3://{s3_job}/") == folders  # one level further up: the same job


def test_the_portal_in_tmux_labels_the_s3_job_to_the_end(s3_job, tmp_path, session_name):
    env = machine(tmp_path, "ben")
    keep = " ".join(f"{k}={v}" for k, v in env.items() if k.startswith(("AWS_", "XDG_")) or k == "PYTHONPATH")
    run = (f"cd {tmp_path} && unset COLUMNS LINES; env TERM=xterm-256color {keep} {sys.executable} -m tuilabel "
           f"work --jobs s3://{s3_job}/jobs --worker ben; echo EXIT $?; sleep 30")
    tmux("new-session", "-d", "-s", session_name, "-x", "90", "-y", "24", run)
    screen = wait_for(session_name, "reviews")
    assert f"Jobs for ben in s3://{s3_job}/jobs" in screen
    wait_row(session_name, "reviews", [AVAILABLE, str(RECORDS)])
    tmux("send-keys", "-t", session_name, "Enter")
    for i in range(RECORDS):
        wait_for(session_name, "review ")
        wait_for(session_name, f"{i}/{RECORDS}")
        tmux("send-keys", "-t", session_name, "2")
    wait_row(session_name, "reviews", [DONE, "0"])  # nothing left for ben: back in the portal
    tmux("send-keys", "-t", session_name, "q")
    wait_for(session_name, "EXIT 0")

    import boto3

    deadline = time.monotonic() + 30
    while True:  # the output is published as ben's session ends
        out = boto3.client("s3").get_object(Bucket=s3_job, Key="jobs/reviews/manifests/output/output.manifest")["Body"].read()
        if len(out.splitlines()) == RECORDS or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    lines = [orjson.loads(line) for line in out.splitlines()]
    assert sorted(line["source"] for line in lines) == [f"review {i}" for i in range(RECORDS)]
    assert all(line["reviews-metadata"]["job-name"] == "labeling-job/reviews" for line in lines)


def test_in_progress_once_the_worker_has_started(s3_job, tmp_path, monkeypatch):
    for name, value in machine(tmp_path, "ben").items():
        monkeypatch.setenv(name, value)
    ben = subprocess.run(
        [sys.executable, str(WORKER), f"s3://{s3_job}/in/reviews.manifest", "ben", "2", "1",
         "--labels", "good,bad", "--output", f"s3://{s3_job}/jobs", "--team", "ann,ben", "--max", "1"],
        cwd=REPO, env=machine(tmp_path, "ben"), capture_output=True, text=True, timeout=120)
    assert ben.returncode == 0, ben.stderr[-3000:]
    folder, = find_jobs(f"s3://{s3_job}/jobs")
    card = job_card(folder, "ben")
    # Ended (as by kill -9) right after his first answer: it reached S3 or it waits in his
    # journal for his next start; either way he has started (his claim is in S3).
    assert card.state == IN_PROGRESS and card.left in (RECORDS - 1, RECORDS)


def test_an_unknown_bucket_is_one_line(aws_env):
    done = subprocess.run([sys.executable, "-m", "tuilabel", "work", "--jobs", "s3://no-such-bucket-here/jobs"],
                          cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
    assert "no-such-bucket-here" in done.stderr and "does not exist" in done.stderr

