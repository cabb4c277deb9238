"""What the SSH and web sides of `tuilabel serve` share: the team file (reread when it
changes), the jobs (a folder, or an s3:// prefix and the local folder that stands for it), the
activity log, failed-login counts per address, and what of the host's environment a worker's
process gets."""

from __future__ import annotations

import collections
import os
import time
from pathlib import Path
from typing import Callable

from tuilabel.core.errors import UserError
from tuilabel.core.team.team_file import TeamFile

# What a worker's process (portal or labeling app) gets of the host's environment: enough to run
# (PATH, HOME, where tuilabel keeps job folders) and to reach the jobs' S3 (the owner's AWS_*
# settings: the worker cannot run anything but tuilabel with them). Nothing else.
HOST_ENV = ("PATH", "HOME", "XDG_DATA_HOME")


def host_environment() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k in HOST_ENV or k.startswith("AWS_")}


MAX_FAILURES = 10  # failed logins per address ...
FAILURE_WINDOW = 60.0  # ... within this many seconds: the address is refused until they age out


class FailedLogins:
    def __init__(self) -> None:
        self._times: dict[str, collections.deque] = collections.defaultdict(collections.deque)

    def _recent(self, address: str) -> collections.deque:
        times = self._times[address]
        while times and times[0] < time.monotonic() - FAILURE_WINDOW:
            times.popleft()
        return times

    def add(self, address: str) -> None:
        self._recent(address).append(time.monotonic())

    def blocked(self, address: str) -> bool:
        blocked = len(self._recent(address)) >= MAX_FAILURES
        if not self._times[address]:
            del self._times[address]  # forget addresses whose failures aged out
        return blocked


class Team:
    """The team file, reread when it changes, so `tuilabel team add` needs no restart. A file
    that no longer loads keeps the last good team (and says so in the log)."""

    def __init__(self, path: Path, log: Callable[[str], None]):
        self.path = path
        self._log = log
        self._stamp = self._mtime()
        self.file = TeamFile.load(path)

    def _mtime(self) -> tuple[int, int]:
        try:
            stat = self.path.stat()
            return (stat.st_mtime_ns, stat.st_ino)
        except OSError:
            return (0, 0)

    def current(self) -> TeamFile:
        stamp = self._mtime()
        if stamp != self._stamp:
            self._stamp = stamp
            try:
                self.file = TeamFile.load(self.path)
                self._log(f"team file reread: {len(self.file.workers)} workers")
            except UserError as exc:
                self._log(f"team file not reread, keeping the last good one: {exc}")
        return self.file


class Host:
    """What every connection shares: the team, the jobs, the log, the failed-login counts."""

    def __init__(self, team: Team, jobs: str, folder: Path, log: Callable[[str], None]):
        self.team = team
        self.jobs = jobs  # what the portal lists: a folder, or an s3:// prefix
        self.folder = folder  # the local folder of those jobs: serve.log, journals, the cwd
        self.log = log
        self.failures = FailedLogins()
        self.sessions: set = set()  # open SSH sessions, ended when the server stops
