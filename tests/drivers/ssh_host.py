"""A real labeling host for tests and bench/bench_serve.py: keys made with `ssh-keygen`, a team
file made with `tuilabel team add`, `tuilabel serve` as its own process, OpenSSH's `ssh`
client in a private tmux server.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson

REPO = Path(__file__).resolve().parents[2]
TUILABEL = [sys.executable, "-m", "tuilabel"]


def missing_tools() -> str | None:
    for tool in ("ssh", "ssh-keygen", "tmux"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (openssh-client, tmux)"
    return None


def make_key(folder: Path, name: str) -> Path:
    """A fresh ed25519 key pair; returns the private key's path (the public one is .pub)."""
    path = folder / f"id_{name}"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"{name}@laptop", "-f", str(path)], check=True)
    return path


def team_add(team: Path, worker: str, key: Path) -> None:
    subprocess.run([*TUILABEL, "team", "add", worker, "--key", f"{key}.pub", "--team", str(team)],
                   check=True, capture_output=True, cwd=REPO)


def make_job(jobs: Path, name: str, records: int, labels: str = "alpha,beta,gamma", team: dict | None = None) -> Path:
    """A text job folder `<jobs>/<name>` made the way `tuilabel label` makes one (the input
    manifest beside it in `<jobs>/inputs/`); `team`: a team job's settings (job.json's "team")."""
    from tuilabel.core.job_setup import JobRequest, prepare

    inputs = jobs / "inputs"
    inputs.mkdir(parents=True, exist_ok=True)
    manifest = inputs / f"{name}.manifest"
    manifest.write_bytes(b"".join(orjson.dumps({"source": f"{name} text number {i}"}) + b"\n" for i in range(records)))
    prepared = prepare(JobRequest(source=str(manifest), labels=labels, output=str(jobs), worker="owner"))
    session, mirror = prepared.start(background=False)
    prepared.stop(session, mirror)
    if team:
        # Set after the owner's session: a team session's leases outlive a stop (until the
        # task time limit), and the owner's would keep the first records from the workers.
        spec = prepared.folder.spec_file
        spec.write_bytes(orjson.dumps({**orjson.loads(spec.read_bytes()), "team": team}, option=orjson.OPT_INDENT_2))
    return prepared.folder.root


class Host:
    """`tuilabel serve` on 127.0.0.1 (a free port unless given), its console in a file."""

    def __init__(self, team: Path, jobs: Path | str, home: Path, port: int = 0, web: bool = False,
                 folder: Path | None = None, env: dict[str, str] | None = None, web_args: tuple[str, ...] = ()):
        """`jobs`: a folder or an s3:// prefix; `folder`: where serve keeps the jobs' local
        folders and its log (default: `jobs`); `env`: more of serve's environment; `web_args`:
        more flags for the web side (HTTPS)."""
        self.team, self.jobs, self.home = team, jobs, home
        self.folder = folder or Path(jobs)
        self.env = env or {}
        self.console = home / "serve-console.txt"
        self.port = port
        self.web = web
        self.web_args = web_args
        self.web_url = ""
        self.fingerprint = ""
        self.process: subprocess.Popen | None = None

    @property
    def log(self) -> Path:
        return self.folder / "serve.log"

    def start(self, timeout: float = 20.0) -> "Host":
        env = {**os.environ, "HOME": str(self.home), **self.env}
        env.pop("XDG_CONFIG_HOME", None)
        out = open(self.console, "w")
        self.process = subprocess.Popen(
            [*TUILABEL, "serve", "--team", str(self.team), "--jobs", str(self.jobs), "--ssh", f"127.0.0.1:{self.port}",
             *(["--web", "127.0.0.1:0", *self.web_args] if self.web else [])],
            stdout=out, stderr=subprocess.STDOUT, env=env, cwd=REPO,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.console.read_text()
            found = re.search(r"SSH on 127\.0\.0\.1:(\d+)", text)
            fingerprint = re.search(r"host key fingerprint: (SHA256:\S+)", text)
            web = re.search(r"web: (https?://\S+/)", text)
            if found and fingerprint and (web or not self.web) and "log: " in text:
                self.port, self.fingerprint = int(found.group(1)), fingerprint.group(1)
                self.web_url = web.group(1) if web else ""
                return self
            if self.process.poll() is not None:
                raise AssertionError(f"serve exited {self.process.returncode}:\n{text}")
            time.sleep(0.05)
        raise AssertionError(f"serve did not start within {timeout}s:\n{self.console.read_text()}")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def log_text(self) -> str:
        return self.log.read_text() if self.log.exists() else ""

    def wait_log(self, text: str, timeout: float = 15.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            log = self.log_text()
            if text in log:
                return log
            time.sleep(0.05)
        raise AssertionError(f"{text!r} not in serve.log within {timeout}s:\n{self.log_text()}")

    def portal_pid(self, worker: str, nth: int = -1) -> int:
        return int(re.findall(rf"portal started for {re.escape(worker)} \(pid (\d+)", self.log_text())[nth])

    def known_hosts(self, folder: Path) -> Path:
        """A known_hosts file holding this host's key, so clients check it strictly."""
        public = subprocess.run(["ssh-keygen", "-y", "-f", str(self.team.parent / "ssh_host_ed25519_key")],
                                check=True, capture_output=True, text=True).stdout.strip()
        path = folder / "known_hosts"
        path.write_text(f"[127.0.0.1]:{self.port} {public}\n")
        return path

    def client_options(self, key: Path, known_hosts: Path | None = None) -> list[str]:
        """OpenSSH options that use only `key` and no user configuration."""
        checking = (["-o", "StrictHostKeyChecking=yes", "-o", f"UserKnownHostsFile={known_hosts}"] if known_hosts
                    else ["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null"])
        return ["-F", "/dev/null", "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes", "-o", "LogLevel=ERROR",
                *checking, "-i", str(key)]

    def ssh(self, key: Path, user: str, *extra: str, known_hosts: Path | None = None) -> list[str]:
        return ["ssh", *self.client_options(key, known_hosts), "-p", str(self.port), *extra, f"{user}@127.0.0.1"]


class Tmux:
    """A private tmux server (its own socket, default settings) for SSH clients' terminals."""

    def __init__(self, name: str):
        self.server = ["tmux", "-L", name, "-f", "/dev/null"]
        # A session that outlives the others: tmux exits with its last session, and a
        # new-session racing that exit fails.
        self("new-session", "-d", "-s", "keep-alive", "sleep 3600")

    def __call__(self, *args: str) -> str:
        return subprocess.run([*self.server, *args], check=True, capture_output=True, text=True).stdout

    def start(self, pane: str, argv: list[str], size: tuple[int, int] = (100, 30), env: dict[str, str] | None = None) -> None:
        exports = " ".join(f"{k}={v}" for k, v in (env or {}).items())
        command = shlex.join(argv)
        self("new-session", "-d", "-s", pane, "-x", str(size[0]), "-y", str(size[1]),
             f"unset COLUMNS LINES; env TERM=xterm-256color {exports} {command}; echo '[ssh ended]'; sleep 600")

    def keys(self, pane: str, *keys: str) -> None:
        self("send-keys", "-t", pane, *keys)

    def screen(self, pane: str) -> str:
        return self("capture-pane", "-p", "-t", pane)

    def wait_for(self, pane: str, text: str, timeout: float = 20.0) -> str:
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = self.screen(pane)
            if text in screen:
                return screen
            time.sleep(0.05)
        raise AssertionError(f"{text!r} did not appear in pane {pane} within {timeout}s; screen:\n{screen}")

    def kill(self) -> None:
        subprocess.run([*self.server, "kill-server"], capture_output=True)


def journal_lines(job: Path, worker: str) -> list[dict]:
    path = job / "tuilabel" / "workers" / worker / "journal.jsonl"
    return [orjson.loads(line) for line in path.read_bytes().splitlines()] if path.exists() else []


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    state = Path(f"/proc/{pid}/stat")
    return not (state.exists() and state.read_text().split(")")[-1].split()[0] == "Z")
