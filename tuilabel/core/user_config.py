"""The user's settings: `$XDG_CONFIG_HOME/tuilabel/config.toml` (default ~/.config/tuilabel).

    theme = "tuilabel-light"
    worker = "alice"
    graphics = "halfblock"
    [keys]            # binding id = "keys", e.g. skip = "space,s"
    skip = "s"
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from tuilabel.core.errors import UserError
from tuilabel.core.toml_file import read_toml


def config_dir() -> Path:
    return Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "tuilabel"


@dataclass
class UserConfig:
    theme: str | None = None
    worker: str | None = None
    graphics: str | None = None
    keys: dict[str, str] = field(default_factory=dict)


def load_user_config(path: Path | None = None) -> UserConfig:
    path = path or config_dir() / "config.toml"
    if not path.exists():
        return UserConfig()
    data = read_toml(path, "settings file")
    keys = data.get("keys", {})
    if not isinstance(keys, dict) or not all(isinstance(v, str) for v in keys.values()):
        raise UserError(f'{path}: [keys] must map binding ids to key strings, e.g. skip = "s"')
    return UserConfig(
        theme=data.get("theme"), worker=data.get("worker"), graphics=data.get("graphics"), keys=keys
    )
