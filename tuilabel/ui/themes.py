"""Themes: TOML files (bundled `themes/` and the user's `~/.config/tuilabel/themes/`) parsed
into `textual.theme.Theme`. A theme file holds Theme's fields plus a `[variables]` table;
`label-1` .. `label-8` colour the labels.
"""

from __future__ import annotations

from pathlib import Path

from textual.theme import Theme

from tuilabel.core.errors import UserError
from tuilabel.core.locations import user_themes_dir
from tuilabel.core.toml_file import read_toml
from tuilabel.resources import themes_dir

DEFAULT_THEME = "tuilabel-dark"
LABEL_COLOURS = 8
# Okabe-Ito: the fallback when a theme does not define label colours.
OKABE_ITO = ("#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7", "#BBBBBB")

_FIELDS = {
    "primary", "secondary", "warning", "error", "success", "accent", "foreground",
    "background", "surface", "panel", "boost", "dark", "luminosity_spread", "text_alpha",
}


def label_variable(n: int) -> str:
    """The theme variable colouring label n (0-based)."""
    return f"label-{n % LABEL_COLOURS + 1}"


def label_variable_defaults() -> dict[str, str]:
    return {f"label-{i + 1}": colour for i, colour in enumerate(OKABE_ITO)}


def theme_from_file(path: Path) -> Theme:
    """Parse one theme file; ValueError with a one-line reason when it is not usable."""
    try:
        data = read_toml(path, "theme")
    except UserError as exc:
        raise ValueError(str(exc)) from None
    name = data.get("name") or path.stem
    if "primary" not in data:
        raise ValueError(f"theme {path}: 'primary' colour is required")
    unknown = sorted(set(data) - _FIELDS - {"name", "variables"})
    if unknown:
        raise ValueError(f"theme {path}: unknown field(s) {', '.join(unknown)}")
    variables = data.get("variables") or {}
    if not isinstance(variables, dict) or not all(isinstance(v, str) for v in variables.values()):
        raise ValueError(f"theme {path}: [variables] must map names to colour strings")
    fields = {k: v for k, v in data.items() if k in _FIELDS}
    if "boost" in fields:
        # Textual applies `boost` only to dark themes without `panel` (design.py); as a variable
        # it holds in every theme, and it tints the hovered label row.
        variables = {"boost": fields["boost"], **variables}
    try:
        return Theme(name=str(name), variables={**label_variable_defaults(), **variables}, **fields)
    except Exception as exc:  # Theme validates colours lazily; keep the message one line
        raise ValueError(f"theme {path}: {exc}") from None


def load_themes(extra_dirs: list[Path] | None = None) -> tuple[list[Theme], list[str]]:
    """Bundled themes, then user themes (a user theme may replace a bundled one by name).

    Returns (themes, problems): a broken user file is reported, never fatal.
    """
    themes: dict[str, Theme] = {}
    problems: list[str] = []
    for folder in [themes_dir(), user_themes_dir(), *(extra_dirs or [])]:
        if not folder.is_dir():
            continue
        for path in sorted(folder.glob("*.toml")):
            try:
                theme = theme_from_file(path)
            except ValueError as exc:
                problems.append(str(exc))
                continue
            themes[theme.name] = theme
    return list(themes.values()), problems
