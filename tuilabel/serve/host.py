"""What the SSH and web sides of `tuilabel serve` share: the team file (reread when it
changes), the jobs folder, the activity log, and failed-login counts per address."""

from __future__ import annotations

import collections
import time
from pathlib import Path
from typing import Callable

from tuilabel.core.errors import UserError
from tuilabel.core.team.team_file import TeamFile

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

    def __init__(self, team: Team, jobs: str, log: Callable[[str], None]):
        self.team = team
        self.jobs = jobs
        self.log = log
        self.failures = FailedLogins()
        self.sessions: set = set()  # open SSH sessions, ended when the server stops
