"""The labeling screen's and the portal's keys as data: every binding has an id, the user's
`[keys]` table maps ids to keys (`App.set_keymap`), and the label list shows what to type for
each label.
"""

from __future__ import annotations

from textual.binding import Binding

from tuilabel.core.errors import UserError

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
        # A verification job: a comment on the earlier label (GT's worker-feedback).
        Binding("c", "comment", "Comment", id="comment"),
        Binding("r", "release", "Release task", id="release"),  # team jobs: back to the pool
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
        # A text record scrolls with the same up/down keys (and a picture never scrolls).
        Binding("up", "pan(0,-1)", "Pan / scroll up", show=False, id="pan-up"),
        Binding("down", "pan(0,1)", "Pan / scroll down", show=False, id="pan-down"),
        Binding("pagedown", "scroll_text('page-down')", "More", id="page-down"),
        Binding("pageup", "scroll_text('page-up')", "Page up", show=False, id="page-up"),
        Binding("home", "scroll_text('home')", "Text start", show=False, id="text-start"),
        Binding("end", "scroll_text('end')", "Text end", show=False, id="text-end"),
        Binding("escape", "cancel", "Back", show=False, id="cancel"),
        Binding("i", "instructions", "Instructions", id="instructions"),
        # not `s`: the README's keymap example maps skip to `s`
        Binding("t", "stats", "Stats", show=False, id="stats"),
        Binding("question_mark", "help", "Help", id="help"),
        Binding("q", "stop", "Quit", id="quit"),
    ]
    return b


# A bounding-box job: the labels and job keys, plus a cursor on the image and the box keys
# (arrows move the cursor, not the view: the view follows it).
NOT_ON_BOX_SCREEN = ("move", "pan-left", "pan-right", "pan-up", "pan-down", "page-down", "page-up", "text-start", "text-end")


def box_bindings() -> list[Binding]:
    b = [x for x in label_bindings() if x.id not in NOT_ON_BOX_SCREEN]
    for n, (key, name) in enumerate((("left", "left"), ("right", "right"), ("up", "up"), ("down", "down"))):
        dx, dy = ((-1, 0), (1, 0), (0, -1), (0, 1))[n]
        b.append(Binding(key, f"cursor({dx},{dy})", f"Cursor {name} (one screen pixel)", show=False, id=f"cursor-{name}"))
        b.append(Binding(f"shift+{key}", f"cursor({dx * 8},{dy * 8})", f"Cursor {name}, 8 pixels", show=False,
                         id=f"cursor-{name}-coarse"))
    b += [
        Binding("b", "box", "Start / finish a box", id="box"),
        Binding("tab", "select_box(1)", "Next box", id="box-next"),
        Binding("shift+tab", "select_box(-1)", "Previous box", show=False, id="box-previous"),
        Binding("e", "grab", "Grab: box, then each corner and edge", id="box-grab"),
        Binding("delete", "delete_box", "Delete box", id="box-delete"),
        Binding("m", "one_to_one", "Zoom 1:1 (one image pixel per screen pixel)", show=False, id="zoom-1to1"),
    ]
    return b


# Keys that move the view: listed in `?` for the media they serve even while they do nothing
# (no zoom yet, a text that fits).
VIEW_KEYS = {
    "image": {"pan-left", "pan-right", "pan-up", "pan-down"},
    "text": {"pan-up", "pan-down", "page-down", "page-up", "text-start", "text-end"},
}

# What the key bar keeps when the window is narrow: lower first (the rest stay in `?`).
KEY_BAR_PRIORITY = {
    "quit": 0, "help": 1, "submit": 2, "skip": 2, "cancel": 3, "page-down": 3, "history-forward": 3,
    "decline": 4, "comment": 4, "release": 4, "undo": 5, "filter": 6, "zoom-in": 7, "move": 8, "instructions": 9,
}


def portal_bindings() -> list[Binding]:
    """The portal's keys (`tuilabel work`); `help` and `quit` share the labeling screen's ids,
    so one remap serves both."""
    return [
        Binding("enter", "start", "Start working", id="portal-start", priority=True),
        Binding("r", "refresh", "Refresh", id="portal-refresh"),
        Binding("question_mark", "help", "Help", id="help"),
        Binding("q", "quit_portal", "Quit", id="quit"),
    ]


def validate_keymap(keymap: dict[str, str], where: str = "config.toml") -> None:
    """Refuse a `[keys]` table that names an unknown binding id or gives one key two meanings
    on one screen (`skip = "1"` would steal label 1), with one line naming the setting."""
    screens = (label_bindings(), box_bindings(), portal_bindings())
    for bindings in screens:  # one key, one meaning, per screen
        _check_one_meaning(bindings, keymap, where)
    ids = {b.id for bindings in screens for b in bindings}
    for binding_id in keymap:
        if binding_id not in ids:
            raise UserError(f"{where} [keys] {binding_id}: no such binding id; the ids are listed by ? in the app "
                            "(e.g. skip, decline, undo, label-1)")


def _check_one_meaning(bindings: list[Binding], keymap: dict[str, str], where: str) -> None:
    owner: dict[str, str] = {}
    for b in bindings:
        assert b.id is not None
        keys = keymap.get(b.id, b.key)
        for key in (k.strip() for k in keys.split(",")):
            if not key:
                raise UserError(f'{where} [keys] {b.id} = "{keys}": an empty key; give one or more keys, e.g. "s,space"')
            other = owner.get(key)
            if other is not None:
                setting = b.id if b.id in keymap else other
                value = keymap.get(setting, "")
                taken = other if setting == b.id else b.id
                raise UserError(f'{where} [keys] {setting} = "{value}": {key} is already the key of {taken}; '
                                "pick another key (? lists every id and key)")
            owner[key] = b.id


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
