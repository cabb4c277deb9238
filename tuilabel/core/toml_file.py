"""Reading the TOML files users write (job files, settings, themes): one clear line on error."""

from __future__ import annotations

import tomllib
from pathlib import Path

from tuilabel.core.errors import UserError


def read_toml(path: Path, what: str) -> dict:
    """`path` as a dict; unreadable or invalid TOML is a UserError naming `what` it is."""
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except OSError as exc:
        raise UserError(f"cannot read {what} {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise UserError(f"{path}: not a valid {what} ({exc})") from None
