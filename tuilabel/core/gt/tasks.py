"""Task types tuilabel runs, with GT's names and limits for each.

The set grows (entity spans, verification): a new task type is one more entry here plus its
answer shape in lines.py.
"""

from __future__ import annotations

from dataclasses import dataclass


VERIFICATION_TYPE = "groundtruth/label-verification"


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

    @property
    def verification(self) -> bool:
        return self.gt_type == VERIFICATION_TYPE


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
        # Verification of an earlier job's label (spec §7): the labels are the verification
        # categories; `--task verification` picks image or text from the records.
        TaskType(
            "image-verification",
            VERIFICATION_TYPE,
            "image",
            False,
            30,
            "crowd-image-classifier",
            "label verification (images)",
        ),
        TaskType(
            "text-verification",
            VERIFICATION_TYPE,
            "text",
            False,
            30,
            "crowd-classifier",
            "label verification (text)",
        ),
    )
}

# What users type: resolved to image- or text- from the records (job_setup).
VERIFICATION = "verification"


def task_for(media: str, multi: bool) -> TaskType:
    for task in TASK_TYPES.values():
        if task.media == media and task.multi == multi and not task.boxes and not task.verification:
            return task
    raise KeyError((media, multi))
