"""A bounding-box answer (GT `groundtruth/object-detection`, spec §2) and its GT label value.

    answer = BoxAnswer(601, 453, (Box(0, left=237, top=165, width=164, height=157),))
    answer.gt_value()
    # {"image_size":[{"width":601,"height":453,"depth":3}],
    #  "annotations":[{"class_id":0,"top":165,"left":237,"height":157,"width":164}]}

Coordinates are integer pixels of the image as displayed (EXIF orientation applied; see
core/geometry.py), top-left origin; a box covers [left, left + width) × [top, top + height).
Key order follows GT's newer files (consumers must not depend on it). Zero boxes is an answer:
`annotations` is `[]`, as GT writes for an image with no objects.
"""

from __future__ import annotations

from dataclasses import dataclass

from tuilabel.core.errors import UserError

# GT's box tool reports 3 for every image it draws on (the real files: JPEG and PNG alike).
DEPTH = 3


@dataclass(frozen=True, slots=True)
class Box:
    class_id: int
    left: int
    top: int
    width: int
    height: int

    @property
    def right(self) -> int:
        return self.left + self.width

    @property
    def bottom(self) -> int:
        return self.top + self.height

    def gt(self) -> dict:
        return {"class_id": self.class_id, "top": self.top, "left": self.left, "height": self.height, "width": self.width}


@dataclass(frozen=True, slots=True)
class BoxAnswer:
    width: int  # the displayed image's size
    height: int
    boxes: tuple[Box, ...] = ()
    depth: int = DEPTH

    def check(self, n_labels: int) -> None:
        """One clear line for the first thing GT would not accept."""
        if self.width < 1 or self.height < 1:
            raise UserError(f"image size {self.width}×{self.height} is not an image's size")
        for n, box in enumerate(self.boxes, 1):
            if not 0 <= box.class_id < n_labels:
                raise UserError(f"box {n}: label number {box.class_id + 1} out of range 1-{n_labels}")
            if box.width < 1 or box.height < 1:
                raise UserError(f"box {n}: size {box.width}×{box.height}; a box is at least 1×1 pixel")
            if box.left < 0 or box.top < 0 or box.right > self.width or box.bottom > self.height:
                raise UserError(f"box {n} ({box.left},{box.top} {box.width}×{box.height}) lies outside "
                                f"the {self.width}×{self.height} image")

    def gt_value(self) -> dict:
        return {
            "image_size": [{"width": self.width, "height": self.height, "depth": self.depth}],
            "annotations": [box.gt() for box in self.boxes],
        }

    def class_map(self, labels: list[str]) -> dict[str, str]:
        """The classes present, in order of first appearance ({} when there is no box)."""
        return {str(box.class_id): labels[box.class_id] for box in self.boxes}

    @classmethod
    def from_gt(cls, value: object) -> BoxAnswer:
        """Read a GT object-detection label value (ours or GT's). GT's consolidated boxes are
        floats; they are rounded to whole pixels here (edges to the nearest pixel)."""
        if not isinstance(value, dict):
            raise ValueError("an object-detection label is a JSON object")
        size = value.get("image_size")
        if not (isinstance(size, list) and size and isinstance(size[0], dict)):
            raise ValueError("image_size is missing")
        width, height = _int(size[0].get("width"), "width"), _int(size[0].get("height"), "height")
        depth = size[0].get("depth", DEPTH)
        boxes = []
        annotations = value.get("annotations")
        if not isinstance(annotations, list):
            raise ValueError("annotations is missing")
        for a in annotations:
            if not isinstance(a, dict):
                raise ValueError("an annotation is not a JSON object")
            left, top = _num(a.get("left"), "left"), _num(a.get("top"), "top")
            right, bottom = left + _num(a.get("width"), "width"), top + _num(a.get("height"), "height")
            class_id = a.get("class_id")
            if not isinstance(class_id, int) or isinstance(class_id, bool):
                raise ValueError("class_id is not an integer")
            l, t = round(left), round(top)
            boxes.append(Box(class_id, l, t, round(right) - l, round(bottom) - t))
        return cls(width, height, tuple(boxes), depth if isinstance(depth, int) else DEPTH)


def _num(value: object, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{what} is not a number")
    return value


def _int(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{what} is not an integer")
    return value
