"""`tuilabel serve` with real parts: keys from `ssh-keygen`, the team file from `tuilabel team`,
the server as its own process, OpenSSH's `ssh` (and `sftp`) in tmux, kill -9 of the server."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid

import orjson
import pytest

from drivers.ssh_host import TUILABEL, Host, Tmux, journal_lines, make_job, make_key, missing_tools, process_alive, team_add

pytestmark = pytest.mark.tmux


@pytest.fixture
def tmux():
    if missing_tools():
        pytest.skip(missing_tools())
    server = Tmux(f"tuilabel-serve-{os.getpid()}-{uuid.uuid4().hex[:6]}")
    yield server
    server.kill()


@pytest.fixture
def site(tmp_path, tmux):
    """alice and bob in the team file, carol with a key nobody added; one job of 12 texts."""
    keys = {name: make_key(tmp_path, name) for name in ("alice", "bob", "carol")}
    team = tmp_path / "host" / "team.toml"
    team.parent.mkdir()
    team_add(team, "alice", keys["alice"])
    team_add(team, "bob", keys["bob"])
    job = make_job(tmp_path / "jobs", "reviews", 12)
    host = Host(team, tmp_path / "jobs", tmp_path / "home")
    host.home.mkdir()
    host.start()
    yield host, keys, job
    host.stop()


def ssh_run(host: Host, key, user: str, *extra: str, command: list[str] | None = None, env=None, timeout: float = 20):
    return subprocess.run(host.ssh(key, user, *extra) + (command or []), capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=timeout, env=env)


def open_job(tmux: Tmux, pane: str) -> None:
    """In the worker's portal: start working on the (only, selected) job, once it is listed."""
    tmux.wait_for(pane, "classification")
    tmux.keys(pane, "Enter")
    tmux.wait_for(pane, "reviews text number")


def leave(tmux: Tmux, pane: str) -> None:
    """q in the labeling app (back to the portal), q in the portal: the ssh session ends."""
    tmux.keys(pane, "q")
    tmux.wait_for(pane, "Start working")
    tmux.keys(pane, "q")
    tmux.wait_for(pane, "[ssh ended]")


def label(tmux: Tmux, pane: str, keys: str, first: int = 0) -> None:
    for n, key in enumerate(keys):
        tmux.wait_for(pane, f"reviews text number {first + n}")
        tmux.keys(pane, key)
    tmux.wait_for(pane, f"reviews text number {first + len(keys)}")


def test_each_key_labels_as_its_worker(site, tmux):
    host, keys, job = site
    tmux.start("alice", host.ssh(keys["alice"], "alice"))
    screen = tmux.wait_for("alice", "Start working")
    assert "Jobs for alice" in screen  # her portal, under the id her key belongs to
    open_job(tmux, "alice")
    label(tmux, "alice", "123")
    leave(tmux, "alice")
    log = host.wait_log("left alice from 127.0.0.1: portal exited (0), 3 answers")
    assert "connected alice from 127.0.0.1" in log

    tmux.start("bob", host.ssh(keys["bob"], "bob"))
    assert "Jobs for bob" in tmux.wait_for("bob", "Start working")
    open_job(tmux, "bob")
    tmux.wait_for("bob", "reviews text number 0")  # a solo job: bob starts at the first record he has not done
    tmux.keys("bob", "2")
    tmux.wait_for("bob", "reviews text number 1")
    leave(tmux, "bob")
    host.wait_log("left bob from 127.0.0.1: portal exited (0), 1 answers")

    alice, bob = journal_lines(job, "alice"), journal_lines(job, "bob")
    assert [(e["i"], e["w"]) for e in alice] == [(0, "alice"), (1, "alice"), (2, "alice")]
    assert [(e["i"], e["w"]) for e in bob] == [(0, "bob")]


def test_a_key_logs_in_only_as_its_worker(site):
    host, keys, _ = site
    refused = ssh_run(host, keys["carol"], "carol", "-tt")
    assert refused.returncode == 255 and "Permission denied (publickey)" in refused.stderr
    host.wait_log("refused 'carol' from 127.0.0.1: key SHA256:")
    assert "is not in the team file" in host.log_text()

    as_bob = ssh_run(host, keys["alice"], "bob", "-tt")  # alice's key cannot claim to be bob
    assert as_bob.returncode == 255 and "Permission denied" in as_bob.stderr
    host.wait_log("is alice's, not bob's")

    password = ssh_run(host, keys["alice"], "alice", "-o", "PubkeyAuthentication=no",
                       "-o", "PreferredAuthentications=password,keyboard-interactive")
    assert password.returncode == 255 and "Permission denied (publickey)" in password.stderr
    host.wait_log("refused 'alice' from 127.0.0.1: no public key offered")
    assert "connected" not in host.log_text()


def test_nothing_but_the_portal(site, tmp_path):
    host, keys, job = site
    exec_ = ssh_run(host, keys["alice"], "alice", command=["ls", "/"])
    assert exec_.returncode != 0 and "exec request failed" in exec_.stderr and "bin" not in exec_.stdout
    host.wait_log("refused command 'ls /' for alice from 127.0.0.1")
    ssh_run(host, keys["alice"], "alice", command=["printf", "\x1b[2J\nforged line"])
    host.wait_log("refused command 'printf \\x1b[2J\\nforged line' for alice")  # escaped: one line, no terminal control

    sftp = subprocess.run(["sftp", *host.client_options(keys["alice"]), "-P", str(host.port), "alice@127.0.0.1"],
                          capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=20)
    assert sftp.returncode != 0
    host.wait_log("refused subsystem 'sftp' for alice")

    remote = ssh_run(host, keys["alice"], "alice", "-N", "-o", "ExitOnForwardFailure=yes", "-R", "127.0.0.1:0:127.0.0.1:22")
    assert remote.returncode == 255 and "remote port forwarding failed" in remote.stderr
    host.wait_log("refused remote port forwarding")

    no_terminal = ssh_run(host, keys["alice"], "alice", "-T")
    assert no_terminal.returncode == 2 and "needs a terminal" in no_terminal.stderr
    host.wait_log("refused a session without a terminal for alice")

    # -L: the client listens, but the host opens nothing for it.
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        local_port = probe.getsockname()[1]
    forward = subprocess.Popen(host.ssh(keys["alice"], "alice", "-N", "-L", f"127.0.0.1:{local_port}:127.0.0.1:{host.port}"),
                               stdin=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                conn = socket.create_connection(("127.0.0.1", local_port), timeout=5)
                break
            except ConnectionRefusedError:
                assert time.monotonic() < deadline, "ssh -L never listened"
                time.sleep(0.1)
        with conn:
            conn.settimeout(10)
            assert conn.recv(100) == b""  # closed: no SSH banner came through the tunnel
        host.wait_log(f"refused local port forwarding to '127.0.0.1':{host.port} for alice")
    finally:
        forward.kill()
        forward.wait()


def environment(pid: int) -> dict[str, str]:
    items = open(f"/proc/{pid}/environ", "rb").read().split(b"\0")
    return dict(item.decode().split("=", 1) for item in items if item)


def test_agent_x11_and_environment_stay_on_the_client(site, tmux, tmp_path):
    """-A and -X are refused; the portal's environment is TERM/COLORTERM/LANG from the client
    (SetEnv'd extras dropped) plus the host's PATH, HOME (and its AWS_* and XDG_DATA_HOME, for
    jobs in S3), and its worker id is alice's."""
    host, keys, _ = site
    agent = subprocess.run(["ssh-agent", "-s", "-a", str(tmp_path / "agent.sock")], capture_output=True, text=True, check=True)
    agent_pid = int(agent.stdout.split("SSH_AGENT_PID=")[1].split(";")[0])
    try:
        argv = host.ssh(keys["alice"], "alice", "-A", "-X", "-o", "SendEnv=LANG COLORTERM", "-o", "SetEnv=EVIL=1 LD_PRELOAD=/x.so")
        tmux.start("alice", argv, env={"SSH_AUTH_SOCK": str(tmp_path / "agent.sock"), "DISPLAY": ":0",
                                       "LANG": "C.UTF-8", "COLORTERM": "truecolor"})
        tmux.wait_for("alice", "Start working")
        log = host.wait_log("refused agent forwarding for alice")
        assert "refused X11 forwarding for alice" in log
        env, served = (environment(pid) for pid in (host.portal_pid("alice"), host.process.pid))
        from_host = {k: v for k, v in served.items() if k.startswith("AWS_") or k == "XDG_DATA_HOME"}
        assert set(env) == {"TERM", "COLORTERM", "LANG", "PATH", "HOME", *from_host}
        assert {k: env[k] for k in from_host} == from_host  # the owner's S3 settings, if any
        assert (env["TERM"], env["COLORTERM"], env["LANG"]) == ("xterm-256color", "truecolor", "C.UTF-8")
        cmdline = open(f"/proc/{host.portal_pid('alice')}/cmdline", "rb").read().split(b"\0")
        assert cmdline[cmdline.index(b"--worker") + 1] == b"alice"
    finally:
        os.kill(agent_pid, signal.SIGTERM)


def test_failed_logins_are_rate_limited_per_address(site):
    host, keys, _ = site
    for _ in range(10):
        ssh_run(host, keys["carol"], "alice")
    refused = ssh_run(host, keys["alice"], "alice", "-tt")  # the right key, but this address is cooling down
    assert refused.returncode == 255 and "Permission denied" in refused.stderr
    host.wait_log("too many failed logins from 127.0.0.1")


def drawn(tmux: Tmux, pane: str, rows: int, columns: int, timeout: float = 15.0) -> str:
    """The screen once the app has drawn a whole frame `columns` wide and `rows` high: its key bar
    ("q Quit") on the last row, the record's text on screen, nothing past `columns`. Polled, since
    a frame arrives over SSH in several writes and tmux may show one half-drawn."""
    deadline = time.monotonic() + timeout
    while True:
        screen = tmux.screen(pane)
        lines = screen.splitlines()
        if ("q Quit" in "".join(lines[rows - 1:rows]) and "reviews text number 0" in screen
                and max(len(line.rstrip()) for line in lines) <= columns):
            return screen
        assert time.monotonic() < deadline, f"no whole {columns}x{rows} frame:\n{screen}"
        time.sleep(0.1)


def test_resizing_the_terminal_resizes_the_app(site, tmux):
    host, keys, _ = site
    tmux.start("alice", host.ssh(keys["alice"], "alice"), size=(100, 30))
    open_job(tmux, "alice")
    screen = drawn(tmux, "alice", 30, 100)
    assert max(len(row.rstrip()) for row in screen.splitlines()) > 90  # the app uses the width it has
    tmux("resize-window", "-t", "alice", "-x", "72", "-y", "20")
    drawn(tmux, "alice", 20, 72)  # ... and redraws itself at the new size


def test_a_dropped_connection_ends_the_portal_and_keeps_the_answers(site, tmux):
    host, keys, job = site
    tmux.start("alice", host.ssh(keys["alice"], "alice"))
    open_job(tmux, "alice")
    label(tmux, "alice", "12")
    portal = host.portal_pid("alice")
    ssh_pid = int(subprocess.run(["pgrep", "-f", "-n", f"^ssh .*-i {keys['alice']}"], capture_output=True, text=True).stdout.split()[0])
    os.kill(ssh_pid, signal.SIGKILL)
    host.wait_log("left alice from 127.0.0.1: disconnected, 2 answers")
    assert not process_alive(portal)
    assert [e["i"] for e in journal_lines(job, "alice")] == [0, 1]


def test_kill_9_of_the_server_mid_session_then_resume(site, tmux, tmp_path):
    host, keys, job = site
    known = host.known_hosts(tmp_path)
    tmux.start("alice", host.ssh(keys["alice"], "alice", known_hosts=known))
    open_job(tmux, "alice")
    label(tmux, "alice", "312")
    portal = host.portal_pid("alice")
    host.process.send_signal(signal.SIGKILL)
    host.process.wait()
    tmux.wait_for("alice", "[ssh ended]")
    deadline = time.monotonic() + 10
    while process_alive(portal) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not process_alive(portal), "the worker's portal outlived the server"
    assert [(e["i"], e["w"]) for e in journal_lines(job, "alice")] == [(0, "alice"), (1, "alice"), (2, "alice")]

    fingerprint = host.fingerprint
    host.start()  # same port, same host key: alice's known_hosts still matches
    assert host.fingerprint == fingerprint
    tmux("kill-session", "-t", "alice")
    tmux.start("alice", host.ssh(keys["alice"], "alice", known_hosts=known))
    open_job(tmux, "alice")
    label(tmux, "alice", "2", first=3)
    leave(tmux, "alice")
    host.wait_log("left alice from 127.0.0.1: portal exited (0), 1 answers")
    assert [e["i"] for e in journal_lines(job, "alice")] == [0, 1, 2, 3]
    key_file = host.team.parent / "ssh_host_ed25519_key"
    assert key_file.stat().st_mode & 0o777 == 0o600


def test_ten_workers_at_once_on_a_team_job(tmp_path, tmux):
    """Ten `ssh` clients label one job with two workers per record, each in its own portal
    process: every record gets exactly two answers from two different workers, each answer
    carries the worker its key belongs to, and every portal ends when nothing is left for it."""
    workers = [f"w{n}" for n in range(10)]
    team = tmp_path / "host" / "team.toml"
    team.parent.mkdir()
    keys = {}
    for worker in workers:
        keys[worker] = make_key(tmp_path, worker)
        team_add(team, worker, keys[worker])
    records = 20
    job = make_job(tmp_path / "jobs", "reviews", records, team={"workers_per_record": 2})
    host = Host(team, tmp_path / "jobs", tmp_path / "home")
    host.home.mkdir()
    host.start()
    try:
        for worker in workers:
            tmux.start(worker, host.ssh(keys[worker], worker), size=(90, 24))
        pressed = {worker: None for worker in workers}  # the record each worker last answered
        entered = {worker: 0.0 for worker in workers}  # when it last pressed Enter in its portal
        done: set[str] = set()
        deadline = time.monotonic() + 240
        while len(done) < len(workers):
            assert time.monotonic() < deadline, f"still labeling: {sorted(set(workers) - done)}"
            for worker in set(workers) - done:
                screen = tmux.screen(worker)
                if "[ssh ended]" in screen:
                    done.add(worker)
                    continue
                shown = [line for line in screen.splitlines() if "reviews text number" in line]
                job_row = [line for line in screen.splitlines() if "reviews" in line and "classification" in line]
                if shown and shown[0] != pressed[worker]:
                    pressed[worker] = shown[0]
                    tmux.keys(worker, str(1 + workers.index(worker) % 3))
                elif "Start working" in screen and job_row:
                    # Back in the portal: nothing is left for this worker now. Leave when the
                    # job is done for it, else try again (other workers' tasks may come back).
                    if " done " in job_row[0]:
                        tmux.keys(worker, "q")
                    elif time.monotonic() - entered[worker] > 1.0:
                        entered[worker] = time.monotonic()
                        tmux.keys(worker, "Enter")
            time.sleep(0.05)
        for worker in workers:
            log = host.wait_log(f"left {worker} from")
    finally:
        host.stop()

    by_record: dict[int, list[str]] = {}
    for worker in workers:
        for entry in journal_lines(job, worker):
            assert entry["w"] == worker and entry["k"] == "a"
            by_record.setdefault(entry["i"], []).append(worker)
    assert sorted(by_record) == list(range(records))
    assert all(len(set(ws)) == len(ws) == 2 for ws in by_record.values()), by_record
    assert sum(int(line.split(", ")[-1].split(" answers")[0]) for line in log.splitlines() if " left w" in line) == 2 * records
    assert len({w for ws in by_record.values() for w in ws}) >= 3  # shared out, not one portal at a time
    output = (job / "manifests" / "output" / "output.manifest").read_bytes().splitlines()
    assert len(output) == records  # one consolidated line per record


def test_connections_dropped_while_the_portal_starts_leave_no_process(site):
    """A client gone at any moment of the start (before, while, after the portal's process
    is made) leaves no portal running for nobody."""
    host, keys, _ = site
    for attempt in range(16):  # killed 0, 2, 4 … 30 ms after the login
        client = subprocess.Popen(host.ssh(keys["alice"], "alice", "-tt"), stdin=subprocess.PIPE,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 15
        while "connected alice" not in host.log_text():
            assert time.monotonic() < deadline
            time.sleep(0.001)
        time.sleep(0.002 * attempt)
        client.kill()
        client.wait()
        host.log.write_text("")  # the next attempt waits for its own login line
    time.sleep(1.0)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        running = subprocess.run(["pgrep", "-f", f"tuilabel work --jobs {host.jobs}"], capture_output=True, text=True).stdout.split()
        if not running:
            break
        time.sleep(0.1)
    assert not running, "a portal outlived its connection"


def test_stopping_the_server_ends_each_portal_like_a_dropped_connection(site, tmux):
    host, keys, job = site
    tmux.start("alice", host.ssh(keys["alice"], "alice"))
    open_job(tmux, "alice")
    label(tmux, "alice", "2")
    portal = host.portal_pid("alice")
    host.stop()  # SIGTERM: the owner stops serving
    log = host.log_text()
    assert "left alice from 127.0.0.1: server stopped, 1 answers" in log and log.rstrip().endswith("stopped")
    assert not process_alive(portal)
    tmux.wait_for("alice", "[ssh ended]")
    assert [e["i"] for e in journal_lines(job, "alice")] == [0]


def test_team_changes_apply_without_a_restart(site, tmux):
    host, keys, _ = site
    assert ssh_run(host, keys["carol"], "carol", "-tt").returncode == 255
    team_add(host.team, "carol", keys["carol"])
    subprocess.run([*TUILABEL, "team", "remove", "bob", "--team", str(host.team)], check=True, capture_output=True)
    tmux.start("carol", host.ssh(keys["carol"], "carol"))
    assert "Jobs for carol" in tmux.wait_for("carol", "Start working")
    host.wait_log("team file reread: 2 workers")
    gone = ssh_run(host, keys["bob"], "bob", "-tt")
    assert gone.returncode == 255 and "Permission denied" in gone.stderr
    host.wait_log("refused 'bob' from 127.0.0.1: key SHA256:")


def test_one_portal_per_connection(site, tmux, tmp_path):
    """A multiplexed connection (OpenSSH's ControlMaster) gets one portal, not one per session."""
    host, keys, _ = site
    control = tmp_path / "ctl"
    tmux.start("first", host.ssh(keys["alice"], "alice", "-o", "ControlMaster=yes", "-o", f"ControlPath={control}"))
    tmux.wait_for("first", "Start working")
    # The second session goes over the first one's connection (no login of its own). When it is
    # refused, OpenSSH falls back to a connection of its own: carol's key cannot log in as
    # alice, so that fallback gets no portal either and the count below is this connection's.
    second = subprocess.Popen(host.ssh(keys["carol"], "alice", "-tt", "-o", "ControlMaster=no", "-o", f"ControlPath={control}"),
                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        host.wait_log("refused a second session on one connection for alice")
    finally:
        second.kill()  # OpenSSH's mux client says "Session open refused by peer", then tries its own connection
        assert b"Session open refused" in second.communicate()[1]
    assert host.log_text().count("portal started for alice") == 1


def test_a_worker_labels_a_job_in_s3_through_the_host(s3_bucket, tmp_path, tmux):
    """`serve --jobs s3://…`: the host lists the jobs under the prefix and its workers label
    them through S3's leases; the answers' counts go to the log in the host's local folder."""
    import boto3

    from test_portal_s3 import RECORDS, WORKER, machine

    boto3.client("s3").put_object(Bucket=s3_bucket, Key="in/reviews.manifest", Body=b"".join(
        b'{"source": "reviews text number %d"}\n' % i for i in range(RECORDS)))
    ann = subprocess.run(  # ann labels on her own machine first: every record has one answer
        [sys.executable, str(WORKER), f"s3://{s3_bucket}/in/reviews.manifest", "ann", "2", "0", "--labels",
         "good,bad", "--output", f"s3://{s3_bucket}/jobs", "--team", "ann,alice"],
        env=machine(tmp_path, "ann"), capture_output=True, text=True, timeout=120)
    assert ann.returncode == 0, ann.stderr[-3000:]
    key = make_key(tmp_path, "alice")
    team = tmp_path / "host" / "team.toml"
    team.parent.mkdir()
    team_add(team, "alice", key)
    data = tmp_path / "host-data"
    host = Host(team, f"s3://{s3_bucket}/jobs", tmp_path / "home", env={"XDG_DATA_HOME": str(data)},
                folder=data / "tuilabel" / "s3" / s3_bucket / "jobs")
    host.home.mkdir()
    host.start()
    try:
        tmux.start("alice", host.ssh(key, "alice"))
        open_job(tmux, "alice")
        seen = []
        while len(seen) < RECORDS:  # alice's tasks come in her own order
            screen = tmux.wait_for("alice", "reviews text number")
            shown = next(line for line in screen.splitlines() if "reviews text number" in line)
            if shown not in seen:
                seen.append(shown)
                tmux.keys("alice", "1")
            time.sleep(0.05)
        tmux.wait_for("alice", "Start working")  # nothing left for alice: back in her portal
        tmux.keys("alice", "q")
        tmux.wait_for("alice", "[ssh ended]")
        host.wait_log(f"left alice from 127.0.0.1: portal exited (0), {RECORDS} answers")
    finally:
        host.stop()
    out = boto3.client("s3").get_object(Bucket=s3_bucket, Key="jobs/reviews/manifests/output/output.manifest")["Body"].read()
    assert sorted(orjson.loads(line)["source"] for line in out.splitlines()) == [
        f"reviews text number {i}" for i in range(RECORDS)]
