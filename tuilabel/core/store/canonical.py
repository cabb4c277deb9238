"""Whether output.manifest is canonical: one line per answered record, latest answer wins.

After a canonical rewrite the sizes it was made from are kept beside it (the output file's
inode and size, and each journal's size). While they all still match, nothing was appended
since and the file is canonical; any answer, crash repair or foreign edit breaks the match.
"""

from __future__ import annotations

import os
from pathlib import Path

import orjson

from tuilabel.core.store.durable import atomic_write


def _stat(path: Path) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return st.st_ino, st.st_size


def _journal_sizes(journals: dict[str, int]) -> dict[str, int]:
    return {name: size for name, size in journals.items() if size > 0}


def mark(state: Path, output: Path, journals: dict[str, int]) -> None:
    """Record that `output` was just written canonically from `journals` ({worker: size})."""
    ino, size = _stat(output) or (0, 0)
    atomic_write(
        state,
        orjson.dumps({"version": 1, "output_inode": ino, "output_size": size, "journals": _journal_sizes(journals)}),
    )


def read(state: Path) -> dict:
    try:
        obj = orjson.loads(state.read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return {}
    return obj if isinstance(obj, dict) and obj.get("version") == 1 else {}


def is_canonical(state: Path, output: Path, journals: dict[str, int]) -> bool:
    saved = read(state)
    if not saved:
        return False
    now = _stat(output)
    return (
        now is not None
        and now == (saved.get("output_inode"), saved.get("output_size"))
        and saved.get("journals") == _journal_sizes(journals)
    )


def appended_since(state: Path, output: Path) -> int:
    """Where answers appended after the last canonical rewrite begin in `output` (0: unknown)."""
    saved = read(state)
    now = _stat(output)
    if saved and now is not None and now[0] == saved.get("output_inode") and now[1] >= saved.get("output_size", 0):
        return int(saved.get("output_size", 0))
    return 0
