"""Task types tuilabel runs, with GT's names and limits for each.

The set grows (entity spans, verification): a new task type is one more entry here plus its
answer shape in lines.py.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class TaskType:
    name: str  # what users write: --task image-classification
    gt_type: str  # the metadata "type"
    media: str  # "image" (source-ref) or "text" (source)
    multi: bool  # several labels per record
    max_labels: int  # GT console cap
    element: str  # the worker-response element name (crowd-…)
    description: str
    boxes: bool = False  # the answer is a list of labeled boxes (object detection)
    min_labels: int = 2  # a box job may name one class ("Cat")


TASK_TYPES: dict[str, TaskType] = {
    t.name: t
    for t in (
        TaskType(
            "image-classification",
            "groundtruth/image-classification",
            "image",
            False,
            30,
            "crowd-image-classifier",
            "image classification (one label)",
        ),
        TaskType(
            "image-classification-multilabel",
            "groundtruth/image-classification-multilabel",
            "image",
            True,
            50,
            "crowd-image-classifier-multi-select",
            "image classification (multi-label)",
        ),
        TaskType(
            "text-classification",
            "groundtruth/text-classification",
            "text",
            False,
            30,
            "crowd-classifier",
            "text classification (one label)",
        ),
        TaskType(
            "text-classification-multilabel",
            "groundtruth/text-classification-multilabel",
            "text",
            True,
            50,
            "crowd-classifier-multi-select",
            "text classification (multi-label)",
        ),
        TaskType(
            "bounding-box",
            "groundtruth/object-detection",
            "image",
            False,
            50,
            "boundingBox",
            "bounding boxes",
            boxes=True,
            min_labels=1,
        ),
    )
}


def task_for(media: str, multi: bool) -> TaskType:
    for task in TASK_TYPES.values():
        if task.media == media and task.multi == multi and not task.boxes:
            return task
    raise KeyError((media, multi))
