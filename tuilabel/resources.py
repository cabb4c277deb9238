"""Where the bundled themes/ and sample_data/ folders are.

From a wheel they sit inside the package (force-included); from a source checkout or an
editable install they are the top-level folders next to the package.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def bundled_dir(name: str) -> Path:
    inside = _PACKAGE / name
    if inside.is_dir():
        return inside
    return _PACKAGE.parent / name


def themes_dir() -> Path:
    return bundled_dir("themes")


def sample_data_dir() -> Path:
    return bundled_dir("sample_data")
