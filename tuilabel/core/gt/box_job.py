"""Box answers (GT's `boundingBox` worker responses, or a tuilabel box job's journals read as
them) -> BoxAnswers for consolidation, and each record's consolidated GT line.

A `boundingBox` answer (spec §3) carries label names and the image's size:
    {"boundingBox":{"boundingBoxes":[{"label":"Cat","left":237,"top":165,"width":164,"height":157}],
                    "inputImageProperties":{"width":601,"height":453}}}
Every fault (a box outside the image, a size ≤ 0, a label not in the list, no image size) is
one problem line naming the file and worker; the answer's other boxes still count.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable, Iterable, Sequence

from tuilabel.core.gt import lines as gt_lines
from tuilabel.core.gt.box_answer import Box
from tuilabel.core.gt.box_consolidation import BoxAnswers, BoxAnswersBuilder, ConsolidatedBoxes, consolidate_boxes
from tuilabel.core.gt.box_lines import ImageSize, box_answer, check_box, gt_confidence, read_image_size
from tuilabel.core.gt.job import JobSpec
from tuilabel.core.gt.worker_responses import BOXES, WorkerAnswer

NO_IMAGE_SIZE = "No image size: no worker's answer gave the image's width and height"


def box_answer_content(value: object, labels: Sequence[str]) -> dict:
    """A tuilabel box answer (GT's object-detection label) as GT's `boundingBox` content."""
    value = value if isinstance(value, dict) else {}
    size = read_image_size(value.get("image_size"))
    boxes = []
    for ann in value.get("annotations") or []:
        if not isinstance(ann, dict):
            continue
        cid = ann.get("class_id")
        name = labels[cid] if isinstance(cid, int) and 0 <= cid < len(labels) else str(cid)
        boxes.append({"label": name, **{k: ann.get(k) for k in ("left", "top", "width", "height")}})
    props = None if size is None else {"width": size.width, "height": size.height, "depth": size.depth}
    return {BOXES: boxes, "inputImageProperties": props}


@dataclass
class BoxInput:
    answers: BoxAnswers
    labels: list[str]
    image_sizes: dict[int, ImageSize]
    declined: set[int]  # records every worker declined (none answered)
    result: ConsolidatedBoxes | None = None
    rows: dict[int, tuple[list[Box], list[float]]] = field(default_factory=dict)
    # The worker answers read again, as read (for a post-annotation Lambda's payload): not
    # kept in memory for the default consolidation.
    reread: Callable[[], Iterable[WorkerAnswer]] | None = None

    def consolidate(self, iou_threshold: float, min_share: float) -> None:
        self.result = consolidate_boxes(self.answers, iou_threshold, min_share)
        self.rows = self.result.boxes_by_image()


def read_box_answers(
    answers: Iterable[WorkerAnswer], labels: Sequence[str], problems: list[str], n_records: int | None = None
) -> BoxInput:
    index_of = {name: i for i, name in enumerate(labels)}
    known = set(range(len(labels)))
    builder = BoxAnswersBuilder()
    answers = list(answers)
    sizes: dict[int, ImageSize] = {}  # the first size any worker's answer gives, per image
    for a in answers:
        size = None if a.declined else read_image_size(a.content.get("inputImageProperties"))
        if size is not None:
            sizes.setdefault(a.index, size)
    answered: set[int] = set()
    declined: set[int] = set()
    for a in answers:
        if n_records is not None and not 0 <= a.index < n_records:
            problems.append(f"{a.source}: object index {a.index} is outside the input ({n_records:,} lines); skipped")
            continue
        if a.declined:
            declined.add(a.index)
            continue
        if a.element != "boundingBox":
            problems.append(f"{a.source}: {a.worker} answered with {a.element}, not boundingBox; skipped")
            continue
        where = f"{a.source}: {a.worker}"
        size = sizes.get(a.index)
        if size is None:
            problems.append(f"{where}: no inputImageProperties (width, height); the boxes are not checked against the image")
        boxes = []
        for n, raw in enumerate(a.content[BOXES]):
            at = f"{where}: box {n + 1}"
            coords = [raw.get(k) for k in ("left", "top", "width", "height")] if isinstance(raw, dict) else []
            if len(coords) != 4 or not all(isinstance(c, (int, float)) and not isinstance(c, bool) for c in coords):
                problems.append(f"{at}: needs a label and numbers left, top, width, height; left out")
                continue
            name = raw.get("label")
            if name not in index_of:
                problems.append(f"{at}: label {name!r} is not in the label list; box left out")
                continue
            box = check_box(Box(index_of[name], *coords), size, known, at, problems)
            if box is not None:
                boxes.append(box)
        builder.add(a.index, a.worker, boxes)
        answered.add(a.index)
    return BoxInput(builder.build(), list(labels), sizes, declined - answered)


def consolidated_box_object(record: dict, index: int, inp: BoxInput, spec: JobSpec, when: datetime) -> dict | None:
    """The consolidated line for an answered record; None when its image size is unknown."""
    size = inp.image_sizes.get(index)
    if size is None:
        return None
    boxes, confidences = inp.rows.get(index, ([], []))
    return gt_lines.answer_object(record, spec, box_answer(size, boxes), when, [gt_confidence(c) for c in confidences])
