"""GT's object-detection label (spec §2) read with its problems named, for the lines tuilabel
did not write itself (GT's files, consolidated boxes); written by gt/lines.answer_object.

    "<attr>": {"image_size":[{"width":601,"height":453,"depth":3}],
               "annotations":[{"class_id":0,"top":165,"left":237,"height":157,"width":164}]}
    "<attr>-metadata": {"objects":[{"confidence":0.09}], "class-map":{"0":"Cat"},
                        "type":"groundtruth/object-detection", "human-annotated":"yes",
                        "creation-date":"…", "job-name":"labeling-job/…"}

Boxes are box_answer.Box with GT's numbers as they are: whole pixels for a worker's box,
floats for averaged ones. Reading never stops at a bad box: a box outside the image, with a
size ≤ 0 or an unknown `class_id`, and a label without `image_size`, are one problem line
each; the rest is kept. A box that only reaches over the image's edge is clipped to it (COCO
and YOLO need boxes inside the image); one wholly outside is left out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Sequence

from tuilabel.core.gt.box_answer import Box, BoxAnswer
from tuilabel.core.gt.lines import SINGLE_WORKER_CONFIDENCE

OBJECT_DETECTION = "groundtruth/object-detection"
# Real GT coordinates are float sums (164.60000000000002): allow their rounding at the edge.
_EDGE = 1e-6


@dataclass(frozen=True, slots=True)
class ImageSize:
    width: int
    height: int
    depth: int = 3


@dataclass
class BoxLabel:
    image_size: ImageSize | None  # None: the label had none (the boxes are not bounds-checked)
    boxes: list[Box] = field(default_factory=list)
    class_map: dict[int, str] = field(default_factory=dict)


def box_attributes(obj: Mapping) -> list[str]:
    """The label attributes of one line holding object-detection labels (chained jobs hold
    several), in line order."""
    return [
        key[: -len("-metadata")]
        for key, meta in obj.items()
        if key.endswith("-metadata") and isinstance(meta, dict) and meta.get("type") == OBJECT_DETECTION
    ]


def _number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def read_image_size(value: object) -> ImageSize | None:
    """`[{"width","height","depth"}]` (GT's list of one), or the bare mapping."""
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    if not isinstance(value, dict):
        return None
    w, h, d = value.get("width"), value.get("height"), value.get("depth", 3)
    if not (_number(w) and _number(h) and w > 0 and h > 0):
        return None
    return ImageSize(int(w), int(h), int(d) if _number(d) else 3)


def _size_text(size: ImageSize) -> str:
    return f"{size.width}×{size.height}"


def check_box(
    box: Box, size: ImageSize | None, known: set[int] | None, where: str, problems: list[str]
) -> Box | None:
    """The box as it can be used (clipped to the image), or None; each fault is one line."""
    if known is not None and box.class_id not in known:
        problems.append(f"{where}: unknown class_id {box.class_id} (known: {', '.join(map(str, sorted(known))) or 'none'}); box left out")
        return None
    if box.width <= 0 or box.height <= 0:
        kind = "negative" if box.width < 0 or box.height < 0 else "zero"
        problems.append(f"{where}: {kind} size (width {_num(box.width)}, height {_num(box.height)}); box left out")
        return None
    if size is None:
        return box
    right, bottom = box.left + box.width, box.top + box.height
    if right <= 0 or bottom <= 0 or box.left >= size.width or box.top >= size.height:
        problems.append(f"{where}: outside the {_size_text(size)} image (left {_num(box.left)}, top {_num(box.top)}); box left out")
        return None
    if box.left < -_EDGE or box.top < -_EDGE or right > size.width + _EDGE or bottom > size.height + _EDGE:
        left, top = max(box.left, 0), max(box.top, 0)
        right, bottom = min(right, size.width), min(bottom, size.height)
        problems.append(
            f"{where}: reaches outside the {_size_text(size)} image (left {_num(box.left)}, top {_num(box.top)}, "
            f"width {_num(box.width)}, height {_num(box.height)}); clipped to it"
        )
        return Box(box.class_id, left, top, right - left, bottom - top)
    return box


def read_box_label(
    value: object,
    meta: object,
    where: str,
    problems: list[str],
    labels: Sequence[str] | None = None,
) -> BoxLabel | None:
    """One object-detection label. `labels` (a job's classes, in order) decides which
    `class_id`s exist; without it, the line's own `class-map` does (a line without one accepts
    any id ≥ 0). None when the value is not a box label at all (one problem line)."""
    if not isinstance(value, dict) or not isinstance(value.get("annotations", []), list):
        problems.append(f"{where}: not an object-detection label (expected image_size and annotations)")
        return None
    meta = meta if isinstance(meta, dict) else {}
    class_map: dict[int, str] = {}
    raw_map = meta.get("class-map")
    if isinstance(raw_map, dict):
        class_map = {int(k): str(v) for k, v in raw_map.items() if str(k).isdigit()}
    if labels is not None:
        known: set[int] | None = set(range(len(labels)))
        class_map = {i: labels[i] for i in range(len(labels))}
    else:
        known = set(class_map) if isinstance(raw_map, dict) else None
    size = read_image_size(value.get("image_size"))
    if size is None:
        problems.append(f"{where}: no image_size (width, height); the boxes cannot be placed in the image")
    out = BoxLabel(size, class_map=class_map)
    for n, ann in enumerate(value.get("annotations") or []):
        at = f"{where}: box {n + 1}"
        if not isinstance(ann, dict):
            problems.append(f"{at}: not an object; left out")
            continue
        cid, coords = ann.get("class_id"), [ann.get(k) for k in ("left", "top", "width", "height")]
        if not (isinstance(cid, int) and not isinstance(cid, bool) and cid >= 0) or not all(map(_number, coords)):
            problems.append(f"{at}: needs an integer class_id ≥ 0 and numbers left, top, width, height; left out")
            continue
        box = check_box(Box(cid, *coords), size, known, at, problems)
        if box is not None:
            out.boxes.append(box)
    return out


def _num(x: float) -> int | float:
    """GT writes whole pixels as integers and averaged ones as floats (`859`, `164.6`)."""
    x = float(x)
    return int(x) if x.is_integer() else x


def gt_confidence(c: float) -> int | float:
    """2 decimals; GT writes a single worker's 0 as an integer."""
    c = round(float(c), 2)
    return c if c else SINGLE_WORKER_CONFIDENCE


def box_answer(size: ImageSize, boxes: Sequence[Box]) -> BoxAnswer:
    """Boxes as the answer gt/lines.answer_object writes, numbers as GT writes them."""
    return BoxAnswer(
        size.width, size.height, tuple(Box(b.class_id, _num(b.left), _num(b.top), _num(b.width), _num(b.height)) for b in boxes), size.depth
    )
