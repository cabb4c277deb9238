"""Team jobs through the real session: several workers per record under leases, the output
written per closed record, consolidated; release, expiry, relabel, declines, resume; real
worker processes killed with kill -9 at random moments (one host: the SQLite lease store)."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

from tuilabel.core.errors import UserError
from tuilabel.core.job_setup import JobRequest, prepare
from tuilabel.core.session import State
from tuilabel.core.store.journal import iter_journal, parse_entry

REPO = Path(__file__).resolve().parents[1]
WORKER = Path(__file__).with_name("team_session_worker.py")


def make_input(tmp_path: Path, n: int) -> Path:
    path = tmp_path / "reviews.manifest"
    path.write_bytes(b"".join(orjson.dumps({"source": f"review {i}"}) + b"\n" for i in range(n)))
    return path


def open_worker(source: Path, worker: str, **team):
    team = {"workers_per_record": 2, "task_time_limit": 60, **team}
    job = prepare(JobRequest(source=str(source), labels="good,bad", worker=worker, team=team))
    session, _ = job.start()
    return job, session


def output_lines(job) -> list[dict]:
    path = job.folder.output_manifest
    return [orjson.loads(line) for line in path.read_bytes().splitlines()] if path.exists() else []


def by_source(lines: list[dict]) -> dict[str, dict]:
    seen: dict[str, dict] = {}
    for line in lines:
        assert line["source"] not in seen, f"{line['source']} written twice"
        seen[line["source"]] = line
    return seen


def label_all(session, pick) -> int:
    n = 0
    while session.current is not None:
        session.answer(pick(session.current.index))
        n += 1
    return n


def test_two_workers_per_record_write_each_record_once_consolidated(tmp_path):
    source = make_input(tmp_path, 12)
    job_a, alice = open_worker(source, "alice")
    assert label_all(alice, lambda i: 0) == 12
    job_a.stop(alice, None)
    assert output_lines(job_a) == []  # nothing is complete with one of two answers
    job_b, bob = open_worker(source, "bob")
    assert label_all(bob, lambda i: i % 2) == 12
    assert bob.state is State.DONE
    job_b.stop(bob, None)
    job_c, carol = open_worker(source, "carol")
    assert carol.current is None and carol.state is State.DONE  # every record has its two workers
    job_c.stop(carol, None)
    lines = by_source(output_lines(job_a))
    assert len(lines) == 12
    attr = job_a.spec.label_attribute
    for i in range(12):
        meta = lines[f"review {i}"][attr + "-metadata"]
        assert meta["type"] == "groundtruth/text-classification"
        assert 0 < meta["confidence"] <= 0.95  # two workers: a real confidence, GT's cap
        if i % 2 == 0:
            assert lines[f"review {i}"][attr] == 0  # both said good
    # Each worker's answers are in its own journal, with its id.
    for worker in ("alice", "bob"):
        entries = [parse_entry(line) for line in iter_journal(job_a.folder.journal(worker))]
        assert len(entries) == 12 and {e.worker for e in entries} == {worker}


def test_release_expiry_and_stop_and_resume_later(tmp_path):
    source = make_input(tmp_path, 6)
    job_a, alice = open_worker(source, "alice")
    first = alice.current.index
    alice.release()  # GT's "Release task": back to the pool
    assert alice.current.index != first
    second = alice.current.index
    alice.expire_current()  # the app calls this when the timer reaches the limit
    assert "task time limit passed" in alice.messages[-1]
    third = alice.current.index
    assert third not in (first, second)
    job_a.stop(alice, None)  # q: stop and resume later
    job_a2, alice = open_worker(source, "alice")
    assert alice.current.index == third  # her unexpired task comes back first
    job_a2.stop(alice, None)
    job_b, bob = open_worker(source, "bob")
    assert bob.current.index == first  # the released record went back to the pool
    job_b.stop(bob, None)
    from tuilabel.core.team.leases import LeaseStore

    store = LeaseStore(job_a.folder.team_db, job_a.spec.team_settings, 6)
    counts = store.status(time.time()).workers["alice"]
    assert counts.releases == 1
    store.close()


def test_relabel_counts_until_the_line_is_written(tmp_path):
    source = make_input(tmp_path, 3)
    job_a, alice = open_worker(source, "alice")
    label_all(alice, lambda i: 0)
    assert alice.back()  # her last answer, not yet consolidated (bob has not answered)
    changed = alice.current.index
    alice.answer(1)
    job_a.stop(alice, None)
    job_b, bob = open_worker(source, "bob")
    label_all(bob, lambda i: 1)
    job_b.stop(bob, None)
    lines = by_source(output_lines(job_a))
    attr = job_a.spec.label_attribute
    assert lines[f"review {changed}"][attr] == 1  # both say bad: alice's change counted
    # After the line is written, a change stays in her journal and she is told so.
    job_a, alice = open_worker(source, "alice")
    assert alice.state is State.DONE
    alice.jump(changed)
    alice.answer(0)
    job_a.stop(alice, None)
    assert any("already written" in m for m in alice.messages)
    assert by_source(output_lines(job_a))[f"review {changed}"][attr] == 1


def test_a_record_every_worker_declined_fails_with_a_reason(tmp_path):
    source = make_input(tmp_path, 2)
    for worker in ("alice", "bob"):
        job, session = open_worker(source, worker)
        while session.current is not None:
            if session.current.index == 0:
                session.decline()
            else:
                session.answer(0)
        job.stop(session, None)
    lines = by_source(output_lines(job))
    meta = lines["review 0"][job.spec.label_attribute + "-metadata"]
    assert meta["failure-reason"].startswith("Declined by every worker")
    assert job.spec.label_attribute not in lines["review 0"]


def test_team_workers_cannot_decline_a_counted_answer_or_jump_ahead(tmp_path):
    source = make_input(tmp_path, 4)
    job, alice = open_worker(source, "alice")
    alice.answer(0)
    with pytest.raises(UserError, match="your own answers only"):
        alice.jump(3)
    assert alice.back()
    with pytest.raises(UserError, match="changed, not declined"):
        alice.decline()
    job.stop(alice, None)


def test_a_worker_outside_the_team_is_refused_in_one_line(tmp_path):
    source = make_input(tmp_path, 2)
    result = subprocess.run(
        [sys.executable, "-m", "tuilabel", "label", str(source), "--labels", "a,b", "--team", "alice,bob",
         "--worker", "mallory"], capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "tuilabel label: worker 'mallory' is not in job 'reviews''s team; ask its owner to add them"]


# -- real processes ---------------------------------------------------------------------------


def spawn(source: Path, worker: str, n: int, seed: int, *extra: str, env: dict | None = None):
    return subprocess.Popen(
        [sys.executable, str(WORKER), str(source), worker, str(n), str(seed), *extra],
        cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO), **(env or {})},
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def check_invariants(folder: Path, n: int, records: int, attr: str) -> dict:
    db = sqlite3.connect(folder / "tuilabel" / "team.sqlite")
    over = db.execute("SELECT rec, answers FROM records WHERE answers > ?", (n,)).fetchall()
    assert over == [], "records with more than N accepted answers"
    per_rec = dict(db.execute("SELECT rec, count(*) FROM done WHERE kind = 'answer' GROUP BY rec"))
    stored = dict(db.execute("SELECT rec, answers FROM records"))
    assert all(per_rec.get(r, 0) == a for r, a in stored.items())
    # Every accepted answer is one of its worker's journal lines: nothing submitted is lost.
    journals: dict[str, set[bytes]] = {}
    for path in (folder / "tuilabel" / "workers").glob("*/journal.jsonl"):
        journals[path.parent.name] = set(iter_journal(path))
    for rec, worker, answer in db.execute("SELECT rec, worker, answer FROM done WHERE kind = 'answer'"):
        assert answer.rstrip(b"\n") in {line.rstrip(b"\n") for line in journals[worker]}, (rec, worker)
    states = dict(db.execute("SELECT state, count(*) FROM records GROUP BY state"))
    counts = {w: (r, e) for w, r, e in db.execute("SELECT worker, releases, expiries FROM counts")}
    written, = db.execute("SELECT value FROM meta WHERE key = 'written'").fetchone()
    closed = db.execute("SELECT count(*) FROM closed WHERE seq <= ?", (written,)).fetchone()[0]
    db.close()
    out = folder / "manifests" / "output" / "output.manifest"
    lines = by_source([orjson.loads(line) for line in out.read_bytes().splitlines()]) if out.exists() else {}
    assert len(lines) == closed  # every written record once
    return {"states": states, "counts": counts, "lines": lines}


def test_kill9_of_random_workers_loses_nothing_and_breaks_no_invariant(tmp_path):
    records, n, workers = 150, 3, [f"w{i}" for i in range(10)]
    source = make_input(tmp_path, records)
    rng = random.Random(7)
    # A worker that takes its tasks ahead and vanishes: its leases must expire and go to others.
    ghost = spawn(source, "ghost", n, 0, "--max", "1")
    assert ghost.wait(60) == 0
    for round_ in range(4):
        procs = [spawn(source, w, n, i, *(["--max", str(rng.randint(1, 15))] if rng.random() < 0.3 else []))
                 for i, w in enumerate(workers)]
        time.sleep(rng.uniform(0.8, 2.0))
        for p in rng.sample(procs, 5):
            p.send_signal(signal.SIGKILL)
        for p in procs:
            try:
                p.wait(60)
            except subprocess.TimeoutExpired:
                p.kill()
        check_invariants(tmp_path / "reviews", n, records, "reviews")
    # Everyone drains the job, with clocks 2 min ahead: the ghost's leases have expired by then.
    procs = [spawn(source, w, n, i, env={"TUILABEL_CLOCK_SKEW": "120"}) for i, w in enumerate(workers)]
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err.decode()[-2000:]
    result = check_invariants(tmp_path / "reviews", n, records, "reviews")
    assert result["states"] == {1: records}  # every record complete
    assert len(result["lines"]) == records
    assert result["counts"]["ghost"][1] >= 1  # the ghost's leases expired and were reassigned
    for line in result["lines"].values():
        assert line["reviews-metadata"]["confidence"] > 0  # three workers: consolidated


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tuilabel", *args], capture_output=True, text=True, cwd=cwd,
                          env={**os.environ, "PYTHONPATH": str(REPO)})


def test_consolidate_and_export_of_a_team_job_count_only_accepted_answers(tmp_path):
    source = make_input(tmp_path, 4)
    job, alice = open_worker(source, "alice")
    label_all(alice, lambda i: 0)
    job.stop(alice, None)
    folder = str(job.folder.root)
    result = run_cli("consolidate", folder, cwd=tmp_path)
    assert result.returncode == 2 and "not closed yet" in result.stderr  # the team still writes output.manifest
    result = run_cli("export", folder, "--format", "gt", cwd=tmp_path)
    assert result.returncode == 2 and "tuilabel consolidate" in result.stderr
    # An answer the lease store never accepted (dave's task had gone back to the pool) is in
    # his journal, and counts nowhere.
    from tuilabel.core.store.journal import Entry

    entry = parse_entry(next(iter_journal(job.folder.journal("alice"))))
    dave = job.folder.journal("dave")
    dave.parent.mkdir(parents=True)
    dave.write_bytes(Entry(entry.index, entry.offset, "a", "dave", entry.accepted, entry.submitted, 1.0,
                           {**entry.gt, job.spec.label_attribute: 1}).to_line())
    result = run_cli("consolidate", folder, "-o", str(tmp_path / "out.manifest"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = by_source([orjson.loads(l) for l in (tmp_path / "out.manifest").read_bytes().splitlines()])
    assert all(line["reviews"] == 0 for line in lines.values())  # alice alone
    result = run_cli("export", folder, "--format", "gt-responses", "-o", str(tmp_path / "responses"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    texts = [p.read_text() for p in (tmp_path / "responses").rglob("*.json")]
    assert any('"alice"' in t for t in texts) and not any('"dave"' in t for t in texts)


def test_a_worker_id_cannot_be_taken_over_while_its_process_lives(tmp_path):
    source = make_input(tmp_path, 5)
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time\n"
         "from tuilabel.core.job_setup import JobRequest, prepare\n"
         f"job = prepare(JobRequest(source={str(source)!r}, labels='good,bad', worker='ann', "
         "team={'workers_per_record': 2}))\n"
         "session, _ = job.start()\nprint('open', flush=True)\ntime.sleep(60)\n"],
        cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "open"
        with pytest.raises(UserError, match="ann") as refused:
            open_worker(source, "ann")
        assert "\n" not in str(refused.value)
    finally:
        holder.kill()
        holder.wait()
    # Once it is gone (killed: no clean exit), the id is free again and its tasks come back.
    job, ann = open_worker(source, "ann")
    assert ann.current is not None
    job.stop(ann, None)


def test_a_team_file_names_who_may_work_on_the_job(tmp_path):
    source = make_input(tmp_path, 3)
    (tmp_path / "team.toml").write_text("[workers.ann]\nkeys = []\n\n[workers.ben]\nkeys = []\n")
    job, ann = open_worker(source, "ann", team=str(tmp_path / "team.toml"))
    assert ann.current is not None and job.spec.team_settings.team == ("ann", "ben")
    job.stop(ann, None)
    with pytest.raises(UserError, match="'cat' is not in job"):
        open_worker(source, "cat", team=str(tmp_path / "team.toml"))


def test_with_fewer_tasks_left_than_it_leases_ahead_the_worker_does_not_poll_the_store_in_a_loop(tmp_path):
    """Two records and a lease-ahead block of three: the store has nothing more to give, so
    the assignment thread asks again about once a second, not as fast as it can (a loop that
    read S3 hundreds of times a second, and took SQLite's write lock as often, at every job's
    end)."""
    job, session = open_worker(make_input(tmp_path, 2), "alice")
    store = session.team.store
    takes = []
    take = store.take
    store.take = lambda *args: takes.append(time.monotonic()) or take(*args)  # counts, then the real take
    try:
        time.sleep(3.0)
        assert session.current is not None and session.current.index == 0
        assert len(takes) <= 6, f"{len(takes)} takes in 3 s"
        session.answer(0)  # a decision wakes the thread at once: the next task is there
        assert session.current is not None and session.current.index == 1
    finally:
        job.stop(session, None)
