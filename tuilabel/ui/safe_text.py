"""Record text is data: never markup, never terminal escapes.

`visible(text)` maps every control character to something printable (ESC -> "␛", other C0
controls -> their Unicode control pictures, C1 and bidi/format characters -> "<U+XXXX>"), so
a record can neither style the screen nor move the cursor, and a bidi override cannot
reorder what the labeler reads. `record_text(text)` wraps the result in a `rich.text.Text`
(no markup parsing). The mapping is one `str.translate`, done in C.
"""

from __future__ import annotations

from rich.text import Text

_TABLE: dict[int, str] = {}
for _c in range(0x20):
    if _c not in (0x0A, 0x09):  # keep line breaks and tabs
        _TABLE[_c] = chr(0x2400 + _c)  # ␀ ␁ … ␛ …
_TABLE[0x7F] = "␡"
for _c in range(0x80, 0xA0):
    _TABLE[_c] = f"<U+{_c:04X}>"
# Bidi controls and invisible format characters that could disguise the text.
for _c in (*range(0x200B, 0x2010), *range(0x202A, 0x202F), *range(0x2060, 0x2070), 0xFEFF, 0x061C):
    _TABLE[_c] = f"<U+{_c:04X}>"
_TABLE[0x2028] = "\n"
_TABLE[0x2029] = "\n"
_TABLE[0x09] = "    "


def visible(text: str) -> str:
    """`text` with every control and invisible format character made visible."""
    return text.translate(_TABLE)


def one_line(text: str) -> str:
    """Visible and on one line (labels, messages, paths)."""
    return visible(text).replace("\n", "⏎")


def record_text(text: str, style: str = "") -> Text:
    return Text(visible(text), style=style, no_wrap=False, end="")
