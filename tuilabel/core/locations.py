"""Where tuilabel keeps the user's files (XDG base directories), in one place.

- settings and user themes: `$XDG_CONFIG_HOME/tuilabel/` (default `~/.config/tuilabel/`)
- data (the demo jobs, local stages of S3 jobs): `$XDG_DATA_HOME/tuilabel/`
  (default `~/.local/share/tuilabel/`)

Read at each call, not at import, so a test (or a user) can point the variables elsewhere.
"""

from __future__ import annotations

import os
from pathlib import Path


def _xdg(variable: str, default: str) -> Path:
    # The XDG spec says a relative value is invalid and must be ignored.
    value = os.environ.get(variable, "")
    base = Path(value) if os.path.isabs(value) else Path.home() / default
    return base / "tuilabel"


def config_dir() -> Path:
    return _xdg("XDG_CONFIG_HOME", ".config")


def config_file() -> Path:
    return config_dir() / "config.toml"


def user_themes_dir() -> Path:
    return config_dir() / "themes"


def data_home() -> Path:
    return _xdg("XDG_DATA_HOME", ".local/share")


def s3_stage(prefix: str) -> Path:
    """The local folder that stands for an s3:// prefix: jobs under it are kept here first
    (`<data>/s3/<bucket>/<key>/<job name>/`) and uploaded as they change."""
    from tuilabel.core.data.s3 import parse_s3_uri

    bucket, key = parse_s3_uri(prefix.rstrip("/") + "/")
    return data_home() / "s3" / bucket / key.strip("/")
