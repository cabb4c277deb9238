"""A team job's settings, with Ground Truth's ranges (spec §6), checked once, with one-line errors.

The defaults are a solo job: one worker per record, anyone may work on it. Durations are
seconds, or text with units: "90s", "4m59s", "8h", "30d".
"""

from __future__ import annotations

import re
from pathlib import Path
from dataclasses import dataclass
from typing import Mapping

from tuilabel.core.errors import UserError

MINUTE, HOUR, DAY = 60, 3600, 86400
WORKERS_PER_RECORD = (1, 9)  # NumberOfHumanWorkersPerDataObject
TASK_TIME_LIMIT = (30, 8 * HOUR)  # TaskTimeLimitInSeconds
AVAILABILITY_LIFETIME = (60, 30 * DAY)  # private teams: the default is the maximum
MAX_CONCURRENT = (1, 5000)  # MaxConcurrentTaskCount
_UNITS = {"s": 1, "m": MINUTE, "h": HOUR, "d": DAY}


@dataclass(frozen=True)
class TeamSettings:
    workers_per_record: int = 1
    task_time_limit: float = 5 * MINUTE  # GT console's default for classification
    availability_lifetime: float = 30 * DAY
    team: tuple[str, ...] = ()  # worker ids allowed on the job; empty = anyone
    max_concurrent: int = 1000  # records out at once

    def __post_init__(self) -> None:
        _whole("workers_per_record", self.workers_per_record, WORKERS_PER_RECORD)
        _whole("max_concurrent", self.max_concurrent, MAX_CONCURRENT)
        _seconds_in("task_time_limit", self.task_time_limit, TASK_TIME_LIMIT)
        _seconds_in("availability_lifetime", self.availability_lifetime, AVAILABILITY_LIFETIME)
        if isinstance(self.team, str) or not all(isinstance(w, str) and w.strip() for w in self.team):
            raise UserError(f"team must be a list of worker ids, not {self.team!r}")

    def allows(self, worker: str) -> bool:
        return not self.team or worker in self.team

    @classmethod
    def from_mapping(cls, data: Mapping[str, object]) -> "TeamSettings":
        """From a job file's (or flags') values; keys that are absent keep the solo defaults."""
        values: dict[str, object] = {}
        for key in ("workers_per_record", "max_concurrent"):
            if key in data:
                values[key] = data[key]
        for key in ("task_time_limit", "availability_lifetime"):
            if key in data:
                values[key] = parse_duration(data[key], key)
        if "team" in data:
            team = data["team"]
            if isinstance(team, str):
                team = team_file_ids(team)
            if not isinstance(team, (list, tuple)):
                raise UserError(f"team must be a list of worker ids or a team file, not {team!r}")
            values["team"] = tuple(team)
        return cls(**values)  # type: ignore[arg-type]


TEAM_KEYS = ("workers_per_record", "task_time_limit", "availability_lifetime", "team", "max_concurrent")


def team_file_ids(path: str) -> list[str]:
    """The worker ids of a team file (core/team/team_file.py: shared by jobs and `serve`)."""
    from tuilabel.core.team.team_file import TeamFile

    return sorted(TeamFile.load(Path(path).expanduser()).workers)


def parse_duration(value: object, what: str) -> float:
    if isinstance(value, bool):
        raise UserError(f"{what} must be seconds or a duration like \"5m\", not {value!r}")
    if isinstance(value, (int, float)):
        return float(value)
    text = str(value).replace(" ", "")
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return float(text)
    if not re.fullmatch(r"(\d+(\.\d+)?[smhd])+", text):
        raise UserError(f"{what} must be seconds or a duration like \"5m\", not {value!r}")
    return sum(float(num) * _UNITS[unit] for num, unit in re.findall(r"(\d+(?:\.\d+)?)([smhd])", text))


def _whole(what: str, value: object, bounds: tuple[int, int]) -> None:
    low, high = bounds
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise UserError(f"{what} must be a whole number from {low:,} to {high:,}, not {value!r}")


def _seconds_in(what: str, value: object, bounds: tuple[int, int]) -> None:
    low, high = bounds
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise UserError(
            f"{what} must be from {describe_seconds(low)} to {describe_seconds(high)}, not {value!r}"
        )


def describe_seconds(seconds: float) -> str:
    for unit, size in (("d", DAY), ("h", HOUR), ("m", MINUTE)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"
