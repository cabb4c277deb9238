"""The labeling screen's keys as data: every binding has an id, the user's `[keys]` table maps
ids to keys (`App.set_keymap`), and the label list shows what to type for each label.
"""

from __future__ import annotations

from textual.binding import Binding

DIGITS = "1234567890"
# Prefix keys for labels beyond 10: `g`+digit = 11-20, `h` = 21-30, `j` = 31-40, `k` = 41-50.
PAGE_KEYS = "ghjk"


def label_bindings() -> list[Binding]:
    b: list[Binding] = []
    for n, key in enumerate(DIGITS):
        b.append(Binding(key, f"pick({n})", f"Label {n + 1} (pick / toggle)", show=False, id=f"label-{n + 1}"))
    for page, key in enumerate(PAGE_KEYS, 1):
        lo, hi = page * 10 + 1, page * 10 + 10
        b.append(Binding(key, f"page({page})", f"Then a digit: labels {lo}-{hi}", show=False, id=f"labels-{lo}-{hi}"))
    b += [
        Binding("enter", "submit", "Submit", id="submit"),
        Binding("space", "skip", "Skip", id="skip"),
        Binding("x", "decline", "Decline", id="decline"),
        Binding("backspace,u", "undo", "Undo", id="undo"),
        Binding("left_square_bracket", "history_back", "Previous answer", show=False, id="history-back"),
        Binding("right_square_bracket", "history_forward", "Next answer", show=False, id="history-forward"),
        Binding("slash", "filter", "Find", id="filter"),
        Binding("d", "details", "Details", show=False, id="details"),
        Binding("z", "zoom_in", "Zoom", id="zoom-in"),
        Binding("o", "zoom_out", "Zoom out", show=False, id="zoom-out"),
        Binding("f", "fit", "Fit", show=False, id="fit"),
        Binding("m", "move_mode", "Move", id="move"),
        Binding("left", "pan(-1,0)", "Pan left", show=False, id="pan-left"),
        Binding("right", "pan(1,0)", "Pan right", show=False, id="pan-right"),
        Binding("up", "pan(0,-1)", "Pan up", show=False, id="pan-up"),
        Binding("down", "pan(0,1)", "Pan down", show=False, id="pan-down"),
        Binding("escape", "cancel", "Cancel prefix / move mode", show=False, id="cancel"),
        Binding("i", "instructions", "Instructions", id="instructions"),
        # not `s`: the README's keymap example maps skip to `s`
        Binding("t", "stats", "Stats", show=False, id="stats"),
        Binding("question_mark", "help", "Help", id="help"),
        Binding("q", "stop", "Quit", id="quit"),
    ]
    return b


def label_keys(n_labels: int, keymap: dict[str, str] | None = None) -> list[str]:
    """What to type for each label: `1`..`0`, then prefix + digit (`g1` = label 11)."""
    keymap = keymap or {}

    def first(binding_id: str, default: str) -> str:
        keys = keymap.get(binding_id)
        return keys.split(",")[0].strip() if keys else default

    digits = [first(f"label-{n + 1}", DIGITS[n]) for n in range(10)]
    out: list[str] = []
    for i in range(n_labels):
        page, n = divmod(i, 10)
        if page == 0:
            out.append(digits[n])
        else:
            lo = page * 10 + 1
            out.append(first(f"labels-{lo}-{lo + 9}", PAGE_KEYS[page - 1]) + digits[n])
    return out


def label_binding_id(index: int) -> str:
    """The keymap id(s) that pick label `index` (0-based): `label-7`, or `labels-11-20 + label-7`."""
    page, n = divmod(index, 10)
    if page == 0:
        return f"label-{n + 1}"
    lo = page * 10 + 1
    return f"labels-{lo}-{lo + 9} + label-{n + 1}"
