"""Numbers as the labeler reads them: durations and bars, one way everywhere (the app, its
screens and `tuilabel stats`). Plain strings, no Rich or Textual, so the CLI can use them.
"""

from __future__ import annotations

_EIGHTHS = " ▏▎▍▌▋▊▉"


def duration(seconds: float | None) -> str:
    """`4:05`, `1:02:03`; `—` when unknown (no pace yet)."""
    if seconds is None:
        return "—"
    seconds = int(round(max(0.0, seconds)))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def bar(fraction: float, width: int) -> str:
    """A bar filled to `fraction` of `width` cells, in eighths of a cell, not padded; anything
    above zero shows at least a sliver."""
    fraction = max(0.0, min(1.0, fraction))
    eighths = round(fraction * width * 8)
    if fraction > 0 and eighths == 0:
        eighths = 1
    full, part = divmod(eighths, 8)
    return "█" * full + (_EIGHTHS[part] if part else "")
