"""The user's settings: `$XDG_CONFIG_HOME/tuilabel/config.toml` (default ~/.config/tuilabel).

    theme = "tuilabel-light"
    worker = "alice"
    graphics = "halfblock"
    [keys]            # binding id = "keys", e.g. skip = "space,s"
    skip = "s"

Every setting is typed and checked when the file is read, so a bad value is one line naming
the setting before anything else happens (no job folder is made, no app is started).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Literal, get_args

from tuilabel.core.errors import UserError
from tuilabel.core.locations import config_file
from tuilabel.core.toml_file import read_toml

#: How pictures are drawn: `auto` picks kitty or sixel where the terminal can, else half-block.
GraphicsMode = Literal["auto", "kitty", "sixel", "halfblock"]
GRAPHICS_MODES: tuple[str, ...] = get_args(GraphicsMode)


@dataclass
class UserConfig:
    theme: str | None = None
    worker: str | None = None
    graphics: GraphicsMode | None = None
    keys: dict[str, str] = field(default_factory=dict)


# The values each plain setting accepts; keys is checked on its own (a table).
_CHOICES: dict[str, tuple[str, ...] | None] = {"theme": None, "worker": None, "graphics": GRAPHICS_MODES}


def load_user_config(path: Path | None = None) -> UserConfig:
    path = path or config_file()
    if not path.exists():
        return UserConfig()
    data = read_toml(path, "settings file")
    known = {f.name for f in fields(UserConfig)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise UserError(f"{path}: unknown setting(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    for name, choices in _CHOICES.items():
        value = data.get(name)
        if value is None:
            continue
        if not isinstance(value, str):
            raise UserError(f"{path}: {name} must be a string in quotes, not {type(value).__name__} {value!r}")
        if choices is not None and value not in choices:
            raise UserError(f"{path}: {name} = {value!r} is not one of {', '.join(choices)}")
    keys = data.get("keys", {})
    if not isinstance(keys, dict) or not all(isinstance(v, str) for v in keys.values()):
        raise UserError(f'{path}: [keys] must map binding ids to key strings, e.g. skip = "s"')
    return UserConfig(theme=data.get("theme"), worker=data.get("worker"), graphics=data.get("graphics"), keys=keys)
