"""Team jobs on one host: the settings' ranges, each lease rule, and the invariants under real
processes racing (with kill -9) on one SQLite store."""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tuilabel.core.errors import UserError
from tuilabel.core.team.leases import DECLINED, LIFETIME_OVER, LeaseStore
from tuilabel.core.team.settings import TeamSettings

RACE_WORKER = Path(__file__).with_name("team_race_worker.py")
T0 = 1_000_000.0  # a fixed "now"; the store only ever compares the times it is given


def make_store(tmp_path: Path, records: int = 10, **settings) -> LeaseStore:
    return LeaseStore(tmp_path / "tuilabel" / "team.sqlite", TeamSettings(**settings), records)


# -- settings ---------------------------------------------------------------------------------

def test_default_settings_are_a_solo_job():
    s = TeamSettings()
    assert (s.workers_per_record, s.task_time_limit, s.availability_lifetime, s.max_concurrent) == (
        1, 300, 30 * 86400, 1000)
    assert s.allows("anyone")


@pytest.mark.parametrize("values, message", [
    ({"workers_per_record": 0}, "workers_per_record must be a whole number from 1 to 9, not 0"),
    ({"workers_per_record": 10}, "workers_per_record must be a whole number from 1 to 9, not 10"),
    ({"workers_per_record": "3"}, "workers_per_record must be a whole number from 1 to 9, not '3'"),
    ({"task_time_limit": 29}, "task_time_limit must be from 30s to 8h, not 29.0"),
    ({"task_time_limit": "9h"}, "task_time_limit must be from 30s to 8h, not 32400.0"),
    ({"task_time_limit": "soon"}, "task_time_limit must be seconds or a duration like \"5m\", not 'soon'"),
    ({"availability_lifetime": "59s"}, "availability_lifetime must be from 1m to 30d, not 59.0"),
    ({"availability_lifetime": "31d"}, "availability_lifetime must be from 1m to 30d, not 2678400.0"),
    ({"max_concurrent": 5001}, "max_concurrent must be a whole number from 1 to 5,000, not 5001"),
    ({"team": "alice"}, "cannot read team file alice: No such file or directory"),
    ({"team": ["alice", ""]}, "team must be a list of worker ids, not ('alice', '')"),
])
def test_settings_out_of_range_are_one_line(values, message):
    with pytest.raises(UserError) as err:
        TeamSettings.from_mapping(values)
    assert str(err.value) == message


def test_settings_from_a_job_file():
    s = TeamSettings.from_mapping({"workers_per_record": 3, "task_time_limit": "4m 59s",
                                   "availability_lifetime": "2d", "team": ["alice", "bob"],
                                   "max_concurrent": 5000})
    assert s == TeamSettings(3, 299.0, 2 * 86400.0, ("alice", "bob"), 5000)
    assert s.allows("bob") and not s.allows("mallory")
    assert TeamSettings.from_mapping({"task_time_limit": "8h"}).task_time_limit == 8 * 3600


# -- the rules, one by one --------------------------------------------------------------------

def test_take_gives_records_that_need_answers_counting_leases_out(tmp_path):
    store = make_store(tmp_path, records=4, workers_per_record=2)
    a = store.take("a", 3, T0)
    b = store.take("b", 3, T0)
    c = store.take("c", 3, T0)
    assert [l.record for l in a] == [0, 1, 2]
    assert [l.record for l in b] == [0, 1, 2]  # N = 2: a second worker on each
    assert [l.record for l in c] == [3]  # 0-2 have N leases out; only 3 is left
    assert all(l.expiry == T0 + 300 and l.start == T0 for l in a + b + c)


def test_stop_and_resume_later_gives_own_live_leases_back_first(tmp_path):
    store = make_store(tmp_path, records=10)
    first = store.take("a", 2, T0)
    store.close()  # the worker stops; another process opens the job later
    again = make_store(tmp_path, records=10).take("a", 3, T0 + 60)
    assert [(l.id, l.record) for l in again[:2]] == [(l.id, l.record) for l in first]  # the same leases
    assert all(l.expiry == T0 + 60 + 300 for l in again)  # a worker who asks is there: a fresh limit
    assert again[2].record == 2


def test_expired_lease_goes_to_another_worker_and_the_late_submit_is_refused(tmp_path):
    store = make_store(tmp_path, records=1)
    (late,) = store.take("a", 1, T0)
    assert store.take("b", 1, T0 + 299) == []  # still a's
    (taken,) = store.take("b", 1, T0 + 300)  # expired exactly at its recorded expiry
    assert taken.record == late.record
    assert store.submit(late, T0 + 301) is False
    assert store.submit(taken, T0 + 302) is True
    state = store.record_state(0)
    assert (state.state, state.answered_by) == ("complete", ("b",))
    assert store.status(T0 + 303).workers["a"].expiries == 1


def test_late_submit_is_refused_even_before_anyone_took_it_over(tmp_path):
    store = make_store(tmp_path, records=1)
    (lease,) = store.take("a", 1, T0)
    assert store.submit(lease, T0 + 300) is False
    assert store.record_state(0).answered_by == ()
    assert [l.record for l in store.take("a", 1, T0 + 301)] == [0]  # back in the pool


def test_renew_extends_a_live_lease_only(tmp_path):
    store = make_store(tmp_path, records=2)
    first, second = store.take("a", 2, T0)
    renewed = store.renew(first, T0 + 200)
    assert renewed is not None and renewed.expiry == T0 + 500 and renewed.id == first.id
    assert store.renew(second, T0 + 300) is None
    assert store.submit(renewed, T0 + 450) is True


def test_release_puts_the_task_back_and_counts(tmp_path):
    store = make_store(tmp_path, records=1)
    (lease,) = store.take("a", 1, T0)
    assert store.release(lease) is True
    assert store.release(lease) is False
    assert store.submit(lease, T0 + 1) is False
    assert [l.record for l in store.take("b", 1, T0 + 2)] == [0]
    assert store.status(T0 + 3).workers["a"].releases == 1


def test_no_worker_answers_a_record_twice(tmp_path):
    store = make_store(tmp_path, records=2, workers_per_record=3)
    (lease,) = store.take("a", 1, T0)
    assert store.submit(lease, T0 + 1) is True
    assert store.submit(lease, T0 + 2) is False
    assert [l.record for l in store.take("a", 5, T0 + 3)] == [1]  # never record 0 again
    assert store.record_state(0).answered_by == ("a",)


def test_a_declined_record_never_returns_to_its_decliner(tmp_path):
    store = make_store(tmp_path, records=1, workers_per_record=2)
    (lease,) = store.take("a", 1, T0)
    assert store.decline(lease, T0 + 1) is True
    assert store.take("a", 1, T0 + 2) == []
    assert store.take("a", 1, T0 + 10_000) == []
    assert [l.record for l in store.take("b", 1, T0 + 3)] == [0]
    assert store.record_state(0).state == "open"


def test_a_record_declined_by_n_workers_with_no_answer_fails(tmp_path):
    store = make_store(tmp_path, records=1, workers_per_record=2)
    for worker in ("a", "b"):
        (lease,) = store.take(worker, 1, T0)
        store.decline(lease, T0 + 1)
    state = store.record_state(0)
    assert (state.state, state.reason, state.declined_by) == ("failed", DECLINED, ("a", "b"))
    assert store.take("c", 1, T0 + 2) == []


def test_declines_beside_an_answer_keep_the_record_looking_for_answers(tmp_path):
    store = make_store(tmp_path, records=1, workers_per_record=2)
    (a,) = store.take("a", 1, T0)
    (b,) = store.take("b", 1, T0)
    store.submit(a, T0 + 1)
    store.decline(b, T0 + 1)
    (c,) = store.take("c", 1, T0 + 2)
    store.decline(c, T0 + 3)
    assert store.record_state(0).state == "open"
    (d,) = store.take("d", 1, T0 + 4)
    assert store.submit(d, T0 + 5)
    assert store.record_state(0).answered_by == ("a", "d")
    assert store.record_state(0).state == "complete"


def test_a_named_team_closes_a_record_when_every_member_is_in(tmp_path):
    store = make_store(tmp_path, records=2, workers_per_record=3, team=["a", "b"])
    for worker in ("a", "b"):
        first, second = store.take(worker, 2, T0)
        store.submit(first, T0 + 1)
        store.decline(second, T0 + 1)
    assert store.record_state(0).state == "complete"  # 2 answers: all the team has
    assert (store.record_state(1).state, store.record_state(1).reason) == ("failed", DECLINED)
    with pytest.raises(UserError, match="worker 'mallory' is not in this job's team \\(a, b\\)"):
        store.take("mallory", 1, T0)


def test_at_most_max_concurrent_records_out(tmp_path):
    store = make_store(tmp_path, records=10, max_concurrent=2)
    assert [l.record for l in store.take("a", 5, T0)] == [0, 1]
    assert store.take("b", 5, T0) == []
    first = store.take("a", 5, T0)[0]
    store.submit(first, T0 + 1)
    assert [l.record for l in store.take("b", 5, T0 + 2)] == [2]
    assert store.status(T0 + 2).waiting == 7


def test_availability_lifetime_closes_records_with_what_they_have(tmp_path):
    store = make_store(tmp_path, records=2, workers_per_record=3, availability_lifetime=3600)
    answered, empty = store.take("a", 2, T0)
    store.submit(answered, T0 + 1)
    (held,) = store.take("b", 1, T0 + 3000)  # b's lease is out when the lifetime ends
    status = store.status(T0 + 3600)
    assert (status.complete, status.failed, status.leases_out) == (1, 1, 0)
    assert store.record_state(1).reason == LIFETIME_OVER
    assert store.submit(held, T0 + 3601) is False


def test_closed_records_come_in_the_order_they_closed(tmp_path):
    store = make_store(tmp_path, records=3, workers_per_record=2, availability_lifetime=3600)
    a = store.take("a", 3, T0)
    b = store.take("b", 3, T0)
    store.submit(b[2], T0 + 1)
    store.submit(a[2], T0 + 2)  # record 2 complete first
    store.decline(a[1], T0 + 3)
    store.decline(b[1], T0 + 3)  # record 1 failed next
    store.submit(a[0], T0 + 4)
    closed = store.closed_since()
    assert [(seq, s.record, s.state) for seq, s in closed] == [(1, 2, "complete"), (2, 1, "failed")]
    assert closed[0][1].answered_by == ("b", "a")
    assert store.closed_since(2) == []
    store.status(T0 + 3600)  # record 0's lifetime ends with a's answer
    ((seq, last),) = store.closed_since(2)
    assert (seq, last.record, last.state, last.answered_by) == (3, 0, "complete", ("a",))


def test_status_counts(tmp_path):
    store = make_store(tmp_path, records=5, workers_per_record=2)
    a = store.take("a", 3, T0)
    b = store.take("b", 1, T0)
    store.submit(a[0], T0 + 1)
    store.submit(b[0], T0 + 1)  # record 0 complete
    store.submit(a[1], T0 + 1)
    store.decline(a[2], T0 + 1)
    status = store.status(T0 + 2)
    assert (status.records, status.waiting, status.complete, status.failed) == (5, 2, 1, 0)
    assert status.open_by_answers == (1, 1)  # record 2 (0 answers), record 1 (1 answer)
    assert status.leases_out == 0
    assert status.workers["a"].answers == 2 and status.workers["a"].declines == 1
    assert status.workers["b"].answers == 1


def test_a_store_for_another_input_is_refused(tmp_path):
    make_store(tmp_path, records=10).close()
    with pytest.raises(UserError, match="was made for 10 records, but the input has 11"):
        make_store(tmp_path, records=11)


def test_a_damaged_store_is_one_line(tmp_path):
    path = tmp_path / "tuilabel" / "team.sqlite"
    path.parent.mkdir()
    path.write_bytes(b"not a database, " * 512)
    with pytest.raises(UserError, match=f"^cannot open {path}: file is not a database$"):
        make_store(tmp_path)


def test_clock_skew_override_is_read_from_the_environment():
    code = "import time; from tuilabel.core.team.leases import clock; print(round(clock() - time.time()))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "TUILABEL_CLOCK_SKEW": "-120"})
    assert out.stdout.strip() == "-120"


# -- real processes racing --------------------------------------------------------------------

def _read_log(path: Path) -> list[dict]:
    lines = path.read_bytes().split(b"\n")
    return [json.loads(line) for line in lines if line.strip() and line.endswith(b"}")]


def test_invariants_hold_with_workers_racing_and_killed(tmp_path):
    """8 worker processes take, submit, decline, release and sit on leases until they expire,
    at random, for ~12 s, three of them with skewed clocks; 4 times one is killed with kill -9
    and restarted under its own id.
    Then 3 fresh workers finish the job. Checked from the database and the workers' own logs."""
    n, records, job = 2, 400, tmp_path / "job"
    job.mkdir()
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    rng = random.Random(9)
    deadline = time.time() + 12

    skews = {"w0": "0.12", "w1": "0.12", "w2": "-0.12"}  # +-40 % of the task time limit

    def start(worker: str, until: float, seed: int) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, str(RACE_WORKER), str(job), worker, str(until),
                                 str(seed), str(n), str(records)],
                                env={**env, "TUILABEL_CLOCK_SKEW": skews.get(worker, "0")})

    procs = {f"w{i}": start(f"w{i}", deadline, i) for i in range(8)}
    killed = 0
    for round_ in range(4):
        time.sleep(rng.uniform(1.0, 2.5))
        victim = rng.choice(sorted(procs))
        procs[victim].send_signal(signal.SIGKILL)
        assert procs[victim].wait() == -signal.SIGKILL
        killed += 1
        procs[victim] = start(victim, deadline, 100 + round_)
    for proc in procs.values():
        assert proc.wait(timeout=60) == 0
    # Fresh workers drain the job: every lease the killed left behind went back to the pool.
    for i in range(3):
        assert start(f"drain{i}", 0, 200 + i).wait(timeout=60) == 0

    db = sqlite3.connect(job / "tuilabel" / "team.sqlite")
    answers = db.execute("SELECT rec, worker FROM done WHERE kind = 'answer'").fetchall()
    declines = set(db.execute("SELECT rec, worker FROM done WHERE kind = 'decline'").fetchall())
    states = dict(db.execute("SELECT state, count(*) FROM records GROUP BY state").fetchall())
    per_record: dict[int, int] = {}
    for rec, _ in answers:
        per_record[rec] = per_record.get(rec, 0) + 1
    assert max(per_record.values()) <= n
    assert dict(db.execute("SELECT rec, answers FROM records WHERE answers > 0")) == per_record
    assert sum(states.values()) == records and set(states) <= {1, 2}  # none open, none waiting
    assert db.execute("SELECT count(*) FROM leases").fetchone()[0] == 0
    assert db.execute("SELECT count(*), count(DISTINCT rec) FROM closed").fetchone() == (records, records)
    expiries = db.execute("SELECT sum(expiries) FROM counts").fetchone()[0]
    assert expiries > 0  # workers sat on leases and were killed holding them

    ops = 0
    for log in sorted((job / "logs").glob("*.jsonl")):
        worker = log.stem
        entries = _read_log(log)
        ops += len(entries)
        intents = {e["rec"] for e in entries if e["op"] == "answer"}
        accepted = [e["rec"] for e in entries if e["op"] == "accepted"]
        assert len(accepted) == len(set(accepted)), f"{worker} answered a record twice"
        stored = {rec for rec, w in answers if w == worker}
        # Every accepted answer is in the store, and the store holds nothing the worker did
        # not write to its log first (a kill between the two leaves an intent, not a loss).
        assert set(accepted) <= stored <= intents, worker
        declined = set()
        for e in entries:
            if e["op"] == "declined":
                declined.add(e["rec"])
            elif e["op"] == "took":
                assert not declined & set(e["recs"]), f"{worker} got back a record it declined"
        assert {(rec, worker) for rec in declined} <= declines
    late = sum(1 for log in (job / "logs").glob("*.jsonl") for e in _read_log(log)
               if e["op"] == "refused")
    print(f"ops={ops} late={late} expiries={expiries} states={states}")
    assert killed == 4 and late > 0 and ops > 2000, (killed, late, ops)
