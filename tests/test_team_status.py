"""`tuilabel status JOB`: a team job's numbers, made by real worker processes driving the lease
store and their journals (tests/team_status_worker.py), and a solo job's from its journals."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from drivers.jobkit import make_spec, write_text_manifest
from tuilabel.core.gt.job import JobFolder
from tuilabel.core.store.journal import Entry
from tuilabel.core.team.leases import clock
from tuilabel.core.team.status import job_status

WORKER = Path(__file__).with_name("team_status_worker.py")
REPO = Path(__file__).resolve().parents[1]


def make_job(tmp_path: Path, name: str, records: int = 6, team: dict | None = None) -> Path:
    """A job folder as `label` leaves it, with job.json's "team" mapping when given."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    manifest = write_text_manifest(tmp_path / f"{name}.jsonl", records)
    spec = make_spec(manifest, tmp_path, name=name)
    folder = JobFolder(tmp_path / name)
    folder.private.mkdir(parents=True)
    job = orjson.loads(spec.to_json())
    if team is not None:
        job["team"] = team
    folder.spec_file.write_bytes(orjson.dumps(job))
    return folder.root


def run_worker(job: Path, worker: str, *plan: str) -> None:
    done = subprocess.run([sys.executable, str(WORKER), str(job), worker, *plan], cwd=REPO,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.strip() == "done", done.stderr


def status_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tuilabel", "status", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=60)


@pytest.fixture
def team_job(tmp_path):
    """Six records, two workers each. alice answers four (2, 4, 6, 8 s); bob answers two, declines
    one and releases one; carol holds a task in a live process (its worker lock held)."""
    yield from worked_team_job(tmp_path, "team-job")


def worked_team_job(tmp_path: Path, name: str):
    job = make_job(tmp_path, name, team={"workers_per_record": 2, "task_time_limit": "30s",
                                         "team": ["alice", "bob", "carol"]})
    run_worker(job, "alice", "a:2", "a:4", "a:6", "a:8")
    run_worker(job, "bob", "a:3", "a:5", "d:1", "r")
    carol = subprocess.Popen([sys.executable, str(WORKER), str(job), "carol", "h"], cwd=REPO,
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert carol.stdout.readline().strip() == "holding 2"
    yield job, carol
    if carol.poll() is None:
        carol.kill()
    carol.wait()


def test_team_status_counts_records_workers_and_pace(team_job):
    job, carol = team_job
    st = job_status(job)
    assert st.team and st.workers_per_record == 2
    # 0, 1: two answers (complete); 2: alice's answer, bob's decline and carol's task out;
    # 3: alice's answer (bob released it); 4, 5 never went out.
    assert (st.records, st.complete, st.failed, st.waiting) == (6, 2, 0, 2)
    assert st.open_by_answers == (0, 2)
    assert st.leases_out == 1 and st.left == 4
    alice, bob, carol_ = st.workers["alice"], st.workers["bob"], st.workers["carol"]
    assert (alice.answers, alice.declines, alice.releases, alice.median_seconds, alice.active) == (4, 0, 0, 5.0, False)
    assert (bob.answers, bob.declines, bob.releases, bob.median_seconds, bob.active) == (2, 1, 1, 3.0, False)
    assert (carol_.answers, carol_.leases, carol_.median_seconds, carol_.active) == (0, 1, None, True)
    # Two answers still needed for each record not out, one for each open record with one.
    assert st.answers_needed == 2 * 2 + 2 * 1
    assert st.answers_per_hour > 0
    assert st.eta_seconds == pytest.approx(st.answers_needed / st.answers_per_hour * 3600)


def test_a_killed_worker_stays_active_until_its_task_expires(team_job):
    job, carol = team_job
    os.kill(carol.pid, signal.SIGKILL)
    carol.wait()
    assert job_status(job).workers["carol"].active  # its lease is still live
    later = job_status(job, now=clock() + 31)  # past the 30 s task time limit
    carol_ = later.workers["carol"]
    assert (carol_.leases, carol_.expiries, carol_.active) == (0, 1, False)
    assert later.leases_out == 0


def test_status_json_shape(team_job):
    job, _ = team_job
    done = status_cli(str(job), "--json")
    assert done.returncode == 0, done.stderr
    out = orjson.loads(done.stdout)
    assert set(out) >= {"folder", "name", "task", "team", "workers_per_record", "records", "waiting",
                        "open_by_answers", "complete", "failed", "left", "leases_out", "workers",
                        "answers_per_hour", "answers_needed", "eta_seconds"}
    assert (out["records"], out["complete"], out["open_by_answers"], out["leases_out"]) == (6, 2, [0, 2], 1)
    assert out["workers"]["bob"] == {"answers": 2, "declines": 1, "releases": 1, "expiries": 0, "leases": 0,
                                     "median_seconds": 3.0, "active": False}
    assert out["workers"]["carol"]["active"] is True


def test_status_table(team_job):
    job, _ = team_job
    done = status_cli(str(job))
    assert done.returncode == 0, done.stderr
    text = done.stdout
    for line in ("6 records", "2 complete", "0 failed", "2 waiting", "1 out"):
        assert line in text, text
    rows = {line.split()[0]: line.split() for line in text.splitlines() if line.split()[:1] in (["alice"], ["bob"], ["carol"])}
    assert rows["bob"][1:6] == ["2", "1", "1", "0", "3.0s"], text
    assert rows["carol"][-1] == "yes" and rows["alice"][-1] == "no", text


def write_journal(job: Path, worker: str, kinds: list[tuple[int, str, float]]) -> None:
    folder = JobFolder(job)
    path = folder.journal(worker)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "ab") as fh:
        for index, kind, seconds in kinds:
            fh.write(Entry(index, index, kind, worker, "2026-12-02T09:00:00Z", "2026-12-02T09:00:05Z",
                           seconds, {"source": "x"}).to_line())


def test_solo_job_from_its_journals(tmp_path):
    job = make_job(tmp_path, "solo-job", records=5)
    write_journal(job, "alice", [(0, "a", 1.0), (1, "d", 2.0), (2, "a", 3.0), (2, "a", 9.0)])
    st = job_status(job, now=1e10)  # long after: no recent pace, no ETA
    assert not st.team and st.leases_out == 0
    assert (st.records, st.complete, st.failed, st.left) == (5, 2, 1, 2)
    assert st.workers["alice"].answers == 2 and st.workers["alice"].declines == 1
    assert st.workers["alice"].median_seconds == 2.5
    assert st.answers_per_hour == 0 and st.eta_seconds is None


@pytest.mark.parametrize("setup, message", [
    (lambda p: p / "nope", "does not exist"),
    (lambda p: p, "is not a tuilabel job folder (no tuilabel/job.json)"),
])
def test_missing_job_is_one_line(tmp_path, setup, message):
    done = status_cli(str(setup(tmp_path)))
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and message in done.stderr, done.stderr


def test_unreadable_job_is_one_line(tmp_path):
    job = make_job(tmp_path, "broken")
    (job / "tuilabel" / "job.json").write_bytes(b"{not json")
    done = status_cli(str(job))
    assert done.returncode == 2 and done.stderr.count("\n") == 1
    assert "not a readable tuilabel job" in done.stderr, done.stderr


def test_the_apps_stats_screen_shows_the_team_numbers(team_job):
    import asyncio
    from dataclasses import replace

    from rich.console import Console

    from tuilabel.core.data.manifest import Manifest
    from tuilabel.core.session import Session
    from tuilabel.ui.app import make_app
    from tuilabel.ui.screens.stats import StatsScreen

    job, _ = team_job
    spec = JobFolder(job).load_spec()
    session = Session(replace(spec, worker="alice"), JobFolder(job), Manifest(spec.input)).open()

    async def go() -> str:
        app = make_app(session)
        async with app.run_test(size=(100, 50)) as pilot:
            await pilot.press("t")
            await app.workers.wait_for_complete()
            await pilot.pause()
            assert isinstance(app.screen, StatsScreen) and app.screen.stats is not None
            console = Console(width=100, record=True, file=open(os.devnull, "w"))
            console.print(app.screen.query_one("#stats-content").content)
            return console.export_text()

    try:
        shown = asyncio.run(go())
    finally:
        session.close()
    # alice's own session has taken the two records that were waiting (4, 5) as her tasks.
    assert "6 records: 2 complete, 0 failed, 4 open, 0 waiting" in shown, shown
    assert "3 out" in shown
    rows: dict[str, list[str]] = {}
    for line in shown.splitlines():  # the team table comes before the agreement's
        if line[:5] in ("alice", "carol"):
            rows.setdefault(line[:5], line.split())
    assert rows["alice"][-2:] == ["2", "yes"] and rows["carol"][-2:] == ["1", "yes"], shown


def test_a_running_session_without_answers_is_active(tmp_path):
    job = make_job(tmp_path, "solo-job", records=2)
    lock = JobFolder(job).lock("dana")
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys; from pathlib import Path; from tuilabel.core.store.lock import JobLock; "
         f"JobLock(Path({str(lock)!r}), 'x').acquire(); print('locked', flush=True); sys.stdin.read()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        dana = job_status(job).workers["dana"]
        assert dana.active and dana.answers == 0
    finally:
        holder.kill()
        holder.wait()
    assert not job_status(job).workers["dana"].active  # the lock died with its process


def test_the_readme_example_is_what_status_prints(tmp_path):
    """The README's `status` example is this scenario (the pace and ETA differ per run)."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    start = readme.index("$ tuilabel status reviews\n") + len("$ tuilabel status reviews\n")
    shown = readme[start:readme.index("```", start)]
    scenario = worked_team_job(tmp_path, "reviews")
    job, _ = next(scenario)
    try:
        done = subprocess.run([sys.executable, "-m", "tuilabel", "status", "reviews"], cwd=tmp_path,
                              capture_output=True, text=True, timeout=60, env=dict(os.environ, COLUMNS="100"))
    finally:
        next(scenario, None)
    got = "\n".join(line.rstrip() for line in done.stdout.splitlines()) + "\n"
    pace = re.compile(r"Pace .*")
    assert pace.sub("Pace …", got) == pace.sub("Pace …", shown)


def test_a_damaged_lease_store_is_one_line(tmp_path):
    job = make_job(tmp_path, "team-job", team={"workers_per_record": 2})
    (job / "tuilabel" / "team.sqlite").write_bytes(b"not a database, not at all" * 10)
    done = status_cli(str(job))
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
    assert "cannot open" in done.stderr and "team.sqlite" in done.stderr


def test_left_for_counts_what_a_worker_may_still_answer(tmp_path):
    from tuilabel.core.team.leases import LeaseStore
    from tuilabel.core.team.settings import TeamSettings

    t0 = 1_000_000.0
    store = LeaseStore(tmp_path / "team.sqlite", TeamSettings(workers_per_record=2, max_concurrent=2), 5)
    first, second = store.take("a", 2, t0)  # records 0 and 1 go out; 2-4 wait
    assert store.submit(first, t0) and store.decline(second, t0)
    (held,) = store.take("b", 1, t0)  # record 0, which needs a second answer
    assert held.record == 0
    assert store.left_for("a", t0) == 3  # answered 0, declined 1: only the three waiting
    assert store.left_for("b", t0) == 5  # its own task (0), 1, and the three waiting
    assert store.left_for("c", t0) == 5
    assert store.submit(held, t0)  # record 0 complete
    assert store.left_for("c", t0) == 4
    store.close()
    reopened = LeaseStore.existing(tmp_path / "team.sqlite", TeamSettings(workers_per_record=2))
    assert reopened is not None and reopened.record_count == 5  # without being told the count
    reopened.close()
    assert LeaseStore.existing(tmp_path / "none.sqlite", TeamSettings()) is None
