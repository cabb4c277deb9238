"""`tuilabel work`: the worker's portal. Each job's state for a worker from real lease stores and
journals; the app with Pilot and as a snapshot; the real command in tmux (Enter labels a job,
q comes back to the portal with fresh numbers, q quits; bare `tuilabel` opens it)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

from test_team_status import make_job, write_journal
from test_tmux_e2e import capture, session_name, tmux, wait_for  # noqa: F401 (session_name: a fixture)
from tuilabel.core.gt.job import JobFolder
from tuilabel.core.team.leases import LeaseStore, clock
from tuilabel.core.team.portal import AVAILABLE, DONE, EXPIRED, IN_PROGRESS, find_jobs, job_card
from tuilabel.core.team.settings import TeamSettings
from tuilabel.core.team.status import job_status
from tuilabel.ui.portal import make_portal

REPO = Path(__file__).resolve().parents[1]


def store_of(job: Path, records: int) -> LeaseStore:
    team = orjson.loads(JobFolder(job).spec_file.read_bytes())["team"]
    return LeaseStore(job / "tuilabel" / "team.sqlite", TeamSettings.from_mapping(team), records)


@pytest.fixture
def jobs(tmp_path, monkeypatch):
    """A folder of jobs in every state for alice, and one team job she is not in."""
    root = tmp_path / "jobs"
    root.mkdir()
    make_job(root, "a-fresh-solo", records=4)
    done = make_job(root / "archive", "b-done-solo", records=2)  # one level down
    write_journal(done, "alice", [(0, "a", 1.0), (1, "d", 1.0)])
    started = make_job(root, "c-team-started", records=5, team={"workers_per_record": 2, "team": ["alice", "bob"]})
    store = store_of(started, 5)
    for lease in store.take("alice", 2, clock()):
        assert store.submit(lease, clock())
    store.close()
    expired = make_job(root, "d-team-expired", records=2,
                       team={"workers_per_record": 1, "availability_lifetime": "1m"})
    store = store_of(expired, 2)
    assert len(store.take("bob", 2, clock() - 120)) == 2  # out two minutes ago, never answered
    store.close()
    make_job(root, "e-not-mine", records=3, team={"team": ["zed"]})
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "no-config"))
    return root


def test_job_states_for_one_worker(jobs):
    found = find_jobs(jobs)
    assert [p.name for p in found] == ["a-fresh-solo", "b-done-solo", "c-team-started", "d-team-expired", "e-not-mine"]
    cards = {p.name: job_card(p, "alice") for p in found}
    assert cards["e-not-mine"] is None  # not in its team: not listed
    assert (cards["a-fresh-solo"].state, cards["a-fresh-solo"].left) == (AVAILABLE, 4)
    assert (cards["b-done-solo"].state, cards["b-done-solo"].left) == (DONE, 0)
    # alice answered 0 and 1; each needs a second worker (not her), 2-4 never went out.
    assert (cards["c-team-started"].state, cards["c-team-started"].left) == (IN_PROGRESS, 3)
    assert (cards["d-team-expired"].state, cards["d-team-expired"].left) == (EXPIRED, 0)
    assert job_card(jobs / "c-team-started", "bob").state == AVAILABLE
    assert job_card(jobs / "e-not-mine", "zed").left == 3  # nothing went out yet: no store


def test_find_jobs_stops_two_levels_down(tmp_path):
    make_job(tmp_path / "x" / "y", "too-deep")
    make_job(tmp_path / "x", "deep-enough")
    assert [p.name for p in find_jobs(tmp_path)] == ["deep-enough"]


def test_enter_starts_the_selected_job_and_a_done_one_says_why_not(jobs):
    app = make_portal(Path("jobs"), "alice", refresh_seconds=None)

    async def go() -> None:
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.app.workers.wait_for_complete()
            await pilot.pause()
            assert [c.name for c in app.cards.values()] == [
                "a-fresh-solo", "b-done-solo", "c-team-started", "d-team-expired"]
            await pilot.press("down", "enter")  # b-done-solo
            assert app.is_running
            assert "nothing left for you in b-done-solo (done)" in str(app.query_one("#portal-message").render())
            await pilot.press("down", "enter")  # c-team-started

    asyncio.run(go())
    assert app.return_value == Path("jobs") / "c-team-started"


def test_q_quits_with_no_job_and_keys_follow_the_keymap(jobs):
    app = make_portal(Path("jobs"), "alice", refresh_seconds=None, keymap={"quit": "ctrl+x"})

    async def go() -> None:
        async with app.run_test() as pilot:
            await pilot.app.workers.wait_for_complete()
            await pilot.pause()
            assert "ctrl+x quits" in str(app.query_one("#portal-message").render())
            await pilot.press("q")
            assert app.is_running  # q is no longer quit
            await pilot.press("ctrl+x")

    asyncio.run(go())
    assert app.return_value is None


def test_portal_snapshot(jobs, snap_compare):
    async def settle(pilot) -> None:
        await pilot.app.workers.wait_for_complete()
        await pilot.pause(0.1)

    app = make_portal(Path("jobs"), "alice", refresh_seconds=None)
    assert snap_compare(app, terminal_size=(80, 24), run_before=settle)


# -- the real command in tmux -------------------------------------------------------------------

def start_in_tmux(name: str, folder: Path, command: str) -> None:
    env = f"env TERM=xterm-256color XDG_CONFIG_HOME={folder / 'no-config'}"
    run = f"cd {folder} && unset COLUMNS LINES; {env} {sys.executable} -m tuilabel {command}; echo EXIT $?; sleep 30"
    tmux("new-session", "-d", "-s", name, "-x", "80", "-y", "24", run)


def wait_row(target: str, job: str, tail: list[str], timeout: float = 20.0) -> None:
    """Wait for the portal's row of `job` to end with `tail` (status, records left)."""
    deadline = time.monotonic() + timeout
    screen = ""
    while time.monotonic() < deadline:
        screen = capture(target)
        if "Jobs for" in screen and any(line.split()[:1] == [job] and line.split()[-2:] == tail
                                        for line in screen.splitlines()):
            return
        time.sleep(0.1)
    raise AssertionError(f"no portal row {job} … {' '.join(tail)} within {timeout}s; screen:\n{screen}")


@pytest.mark.tmux
def test_portal_in_tmux_label_a_job_and_come_back(tmp_path, session_name):
    make_job(tmp_path, "first-job", records=3)
    make_job(tmp_path / "more", "second-job", records=2)
    make_job(tmp_path, "zeds-job", records=2, team={"team": ["zed"]})
    start_in_tmux(session_name, tmp_path, "work --worker alice")
    screen = wait_for(session_name, "second-job")
    assert "first-job" in screen and "zeds-job" not in screen
    tmux("send-keys", "-t", session_name, "Enter")
    wait_for(session_name, "0/3")  # the labeling screen of first-job
    tmux("send-keys", "-t", session_name, "1")
    wait_for(session_name, "1/3")
    tmux("send-keys", "-t", session_name, "q")
    wait_row(session_name, "first-job", ["progress", "2"])  # a fresh portal: in progress, 2 left
    tmux("send-keys", "-t", session_name, "q")
    wait_for(session_name, "EXIT 0")
    journal = JobFolder(tmp_path / "first-job").journal("alice")
    assert len(journal.read_bytes().splitlines()) == 1


@pytest.mark.tmux
def test_bare_tuilabel_in_a_folder_of_jobs_opens_the_portal(tmp_path, session_name):
    make_job(tmp_path / "team", "some-job", records=2)
    start_in_tmux(session_name, tmp_path, "")
    screen = wait_for(session_name, "some-job")
    assert "Jobs for" in screen
    tmux("send-keys", "-t", session_name, "q")
    wait_for(session_name, "EXIT 0")


def test_bare_tuilabel_elsewhere_prints_help(tmp_path):
    done = subprocess.run([sys.executable, "-m", "tuilabel"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 2 and "usage: tuilabel" in done.stdout


def test_the_keymap_knows_the_portals_ids():
    from tuilabel.core.errors import UserError
    from tuilabel.ui.keys import validate_keymap

    validate_keymap({"portal-start": "s", "portal-refresh": "f5"})  # s is skip on the labeling screen: no clash
    with pytest.raises(UserError) as err:
        validate_keymap({"portal-refresh": "q"})
    assert str(err.value) == ('config.toml [keys] portal-refresh = "q": q is already the key of quit; '
                              "pick another key (? lists every id and key)")
    with pytest.raises(UserError, match="portal-nope: no such binding id"):
        validate_keymap({"portal-nope": "n"})


@pytest.mark.tmux
def test_a_team_job_with_nothing_left_comes_back_to_the_portal_done(tmp_path, session_name):
    job = make_job(tmp_path, "team-job", records=2, team={"workers_per_record": 2, "team": ["alice", "bob"]})
    start_in_tmux(session_name, tmp_path, "work --worker alice")
    wait_for(session_name, "available")
    tmux("send-keys", "-t", session_name, "Enter")
    wait_for(session_name, "task time")  # the team labeling screen, with its timer
    tmux("send-keys", "-t", session_name, "1")
    wait_for(session_name, "record 2")
    tmux("send-keys", "-t", session_name, "2")
    # Nothing is left for alice (each record waits for bob): the app ends by itself.
    wait_row(session_name, "team-job", ["done", "0"])
    tmux("send-keys", "-t", session_name, "q")
    wait_for(session_name, "EXIT 0")
    assert sorted(job_status(job).workers) == ["alice"] and job_status(job).workers["alice"].answers == 2


def test_counting_again_keeps_the_cursor_and_drops_removed_jobs(jobs):
    import shutil

    app = make_portal(Path("jobs"), "alice", refresh_seconds=None, selected=Path("jobs") / "c-team-started")

    async def go() -> None:
        async with app.run_test(size=(80, 24)) as pilot:
            await app.workers.wait_for_complete()
            await pilot.pause()
            assert app.chosen().name == "c-team-started"  # back on the job just worked on
            await pilot.press("up")
            shutil.rmtree(jobs / "a-fresh-solo")
            await pilot.press("r")
            await app.workers.wait_for_complete()
            await pilot.pause()
            assert [c.name for c in app.cards.values()] == ["b-done-solo", "c-team-started", "d-team-expired"]
            assert app.chosen().name == "b-done-solo"  # where the worker put it, not the selected job

    asyncio.run(go())
