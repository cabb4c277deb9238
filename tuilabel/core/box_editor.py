"""The boxes being drawn on one image before it is submitted: a cursor, the boxes, which one is
selected and which edge or corner is being moved. Pure state; the box screen turns keys and
mouse events into these calls and submits `answer()` through `Session.answer`.

Everything follows the cursor (an image pixel): `start_or_finish()` anchors a new box at the
cursor and the opposite corner follows it until the second call; `grab_next()` takes the
selected box's next handle (the whole box, then each corner and edge) and puts the cursor on
it, after which moving the cursor moves that handle. Boxes never leave the image and are at
least 1×1 pixel (core/geometry.clamp_box).
"""

from __future__ import annotations

from dataclasses import replace

from tuilabel.core.geometry import clamp_box
from tuilabel.core.gt.box_answer import Box, BoxAnswer

HANDLES = ("box", "top-left", "top", "top-right", "right", "bottom-right", "bottom", "bottom-left", "left")


class BoxEditor:
    def __init__(self, width: int, height: int, boxes: tuple[Box, ...] = (), label: int = 0) -> None:
        self.width, self.height = width, height
        self.boxes: list[Box] = list(boxes)
        self.selected: int | None = None
        self.cursor = (width // 2, height // 2)
        self.anchor: tuple[int, int] | None = None  # a box being drawn: its first corner
        self.handle: str | None = None  # what the cursor moves: one of HANDLES
        self.label = label  # the next new box's label
        self.changed = False  # anything edited since the start (adjustment jobs ask)

    # -- what there is -------------------------------------------------------------------------

    @property
    def drawing(self) -> Box | None:
        """The box being drawn, anchor to cursor inclusive."""
        if self.anchor is None:
            return None
        (ax, ay), (cx, cy) = self.anchor, self.cursor
        left, top, width, height = clamp_box(min(ax, cx), min(ay, cy), max(ax, cx) + 1, max(ay, cy) + 1,
                                             self.width, self.height)
        return Box(self.label, left, top, width, height)

    @property
    def current(self) -> Box | None:
        return None if self.selected is None else self.boxes[self.selected]

    def answer(self) -> BoxAnswer:
        return BoxAnswer(self.width, self.height, tuple(self.boxes))

    def box_at(self, x: int, y: int) -> int | None:
        """The smallest box containing pixel (x, y) (the one a click most likely means)."""
        hits = [(b.width * b.height, i) for i, b in enumerate(self.boxes)
                if b.left <= x < b.right and b.top <= y < b.bottom]
        return min(hits)[1] if hits else None

    # -- cursor --------------------------------------------------------------------------------

    def move_cursor(self, x: int, y: int) -> None:
        """Put the cursor on pixel (x, y) (clamped); a grabbed handle goes with it."""
        x, y = min(max(x, 0), self.width - 1), min(max(y, 0), self.height - 1)
        old = self.cursor
        self.cursor = (x, y)
        box = self.current
        if self.handle is None or box is None:
            return
        if self.handle == "box":
            dx = min(max(x - old[0], -box.left), self.width - box.right)
            dy = min(max(y - old[1], -box.top), self.height - box.bottom)
            self._put(replace(box, left=box.left + dx, top=box.top + dy))
            return
        left, top, right, bottom = box.left, box.top, box.right, box.bottom
        if "left" in self.handle:
            left = min(x, right - 1)
        if "right" in self.handle:
            right = max(x + 1, left + 1)
        if "top" in self.handle:
            top = min(y, bottom - 1)
        if "bottom" in self.handle:
            bottom = max(y + 1, top + 1)
        l, t, w, h = clamp_box(left, top, right, bottom, self.width, self.height)
        self._put(replace(box, left=l, top=t, width=w, height=h))

    def _put(self, box: Box) -> None:
        assert self.selected is not None
        if self.boxes[self.selected] != box:
            self.boxes[self.selected] = box
            self.changed = True

    # -- boxes ---------------------------------------------------------------------------------

    def start_or_finish(self) -> Box | None:
        """Anchor a new box at the cursor, or finish the one being drawn (returned, selected)."""
        if self.anchor is None:
            self.handle = None
            self.anchor = self.cursor
            return None
        box = self.drawing
        assert box is not None
        self.anchor = None
        self.boxes.append(box)
        self.selected = len(self.boxes) - 1
        self.changed = True
        return box

    def select(self, index: int | None) -> None:
        self.selected = index
        self.handle = None
        if index is not None:
            box = self.boxes[index]
            self.cursor = (box.left, box.top)

    def select_next(self, step: int = 1) -> None:
        """Tab / shift+tab: the next or previous box, round the list."""
        if not self.boxes:
            return
        if self.selected is None:
            self.select(0 if step > 0 else len(self.boxes) - 1)
        else:
            self.select((self.selected + step) % len(self.boxes))

    def grab_next(self) -> str | None:
        """The selected box's next handle (box, corners, edges), cursor on it; None: no box."""
        box = self.current
        if box is None:
            return None
        self.handle = HANDLES[(HANDLES.index(self.handle) + 1) % len(HANDLES)] if self.handle else HANDLES[0]
        x = box.left if "left" in self.handle else box.right - 1 if "right" in self.handle else box.left + box.width // 2
        y = box.top if "top" in self.handle else box.bottom - 1 if "bottom" in self.handle else box.top + box.height // 2
        self.cursor = (box.left, box.top) if self.handle == "box" else (x, y)
        return self.handle

    def grab(self, index: int, handle: str = "box") -> None:
        """Mouse: select box `index` and move `handle` with the cursor from where it is."""
        self.selected, self.handle = index, handle

    def set_label(self, label: int) -> str:
        """A digit: the label of the box being drawn, else of the selected box, else of the
        next box. Says which."""
        self.label = label
        if self.anchor is not None:
            return "new"
        box = self.current
        if box is not None:
            self._put(replace(box, class_id=label))
            return "selected"
        return "next"

    def delete(self) -> Box | None:
        if self.selected is None:
            return None
        box = self.boxes.pop(self.selected)
        self.selected, self.handle, self.changed = None, None, True
        return box

    def cancel(self) -> bool:
        """Esc: drop the box being drawn, else let go of the handle, else of the selection.
        False when there was nothing to drop."""
        if self.anchor is not None:
            self.anchor = None
        elif self.handle is not None:
            self.handle = None
        elif self.selected is not None:
            self.selected = None
        else:
            return False
        return True
