"""GT's object-detection label (spec §2), read with its problems named and written back.

    "<attr>": {"image_size":[{"width":601,"height":453,"depth":3}],
               "annotations":[{"class_id":0,"top":165,"left":237,"height":157,"width":164}]}
    "<attr>-metadata": {"objects":[{"confidence":0.09}], "class-map":{"0":"Cat"},
                        "type":"groundtruth/object-detection", "human-annotated":"yes",
                        "creation-date":"…", "job-name":"labeling-job/…"}

Reading never stops at a bad box: a box outside the image, with a size ≤ 0 or an unknown
`class_id`, and a label without `image_size`, are one problem line each; the rest is kept.
A box that only reaches over the image's edge is clipped to it (COCO and YOLO need boxes
inside the image); one wholly outside is left out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Mapping, Sequence

from tuilabel.core.gt.lines import SINGLE_WORKER_CONFIDENCE, creation_date

OBJECT_DETECTION = "groundtruth/object-detection"
# Real GT coordinates are float sums (164.60000000000002): allow their rounding at the edge.
_EDGE = 1e-6


@dataclass(frozen=True, slots=True)
class ImageSize:
    width: int
    height: int
    depth: int = 3


@dataclass(frozen=True, slots=True)
class Box:
    class_id: int
    left: float
    top: float
    width: float
    height: float


@dataclass
class BoxLabel:
    image_size: ImageSize | None  # None: the label had none (the boxes are not bounds-checked)
    boxes: list[Box] = field(default_factory=list)
    confidences: list[float] = field(default_factory=list)  # parallel to boxes (0 when absent)
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
    objects = meta.get("objects")
    objects = objects if isinstance(objects, list) else []
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
        if box is None:
            continue
        conf = objects[n].get("confidence") if n < len(objects) and isinstance(objects[n], dict) else None
        out.boxes.append(box)
        out.confidences.append(conf if _number(conf) else SINGLE_WORKER_CONFIDENCE)
    return out


def _num(x: float) -> int | float:
    """GT writes whole pixels as integers and averaged ones as floats (`859`, `164.6`)."""
    x = float(x)
    return int(x) if x.is_integer() else x


def _confidence(c: float) -> int | float:
    c = round(float(c), 2)
    return c if c else SINGLE_WORKER_CONFIDENCE  # GT writes a single worker's 0 as an integer


def box_value(size: ImageSize, boxes: Sequence[Box]) -> dict:
    """The label value, in the key order of GT's current multi-worker output."""
    return {
        "image_size": [{"width": size.width, "height": size.height, "depth": size.depth}],
        "annotations": [
            {"class_id": b.class_id, "top": _num(b.top), "left": _num(b.left), "height": _num(b.height), "width": _num(b.width)}
            for b in boxes
        ],
    }


def box_metadata(
    boxes: Sequence[Box], confidences: Sequence[float], labels: Mapping[int, str] | Sequence[str], gt_job_name: str, when: datetime
) -> dict:
    """`objects` parallel to the boxes, `class-map` of the classes present (first seen first,
    as GT orders it), then the common fields."""
    class_map: dict[str, str] = {}
    for b in boxes:
        class_map.setdefault(str(b.class_id), labels[b.class_id])
    return {
        "objects": [{"confidence": _confidence(c)} for c in confidences],
        "class-map": class_map,
        "type": OBJECT_DETECTION,
        "human-annotated": "yes",
        "creation-date": creation_date(when),
        "job-name": gt_job_name,
    }


def box_object(
    record: dict,
    attr: str,
    gt_job_name: str,
    labels: Mapping[int, str] | Sequence[str],
    size: ImageSize,
    boxes: Sequence[Box],
    confidences: Sequence[float],
    when: datetime,
) -> dict:
    """The output line for a record: the input object plus `<attr>` and `<attr>-metadata`."""
    out = {k: v for k, v in record.items() if k != attr and k != attr + "-metadata"}
    out[attr] = box_value(size, boxes)
    out[attr + "-metadata"] = box_metadata(boxes, confidences, labels, gt_job_name, when)
    return out
