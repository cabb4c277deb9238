"""Several workers' boxes on one image -> one set of boxes with a confidence each (spec §6).

GT's method for boxes, as its documentation describes it: boxes of different workers are
matched by IoU (Jaccard) and the matched boxes averaged; each box gets a confidence; a box too
few workers drew is dropped. In detail (the details are tuilabel's; GT publishes none):
- Workers are taken one at a time (in worker order). The first worker's boxes start one
  cluster each. Each next worker's boxes are matched to the clusters so far, greedily by
  highest IoU with the cluster's current mean box, same class only, IoU ≥ `iou_threshold`
  (0.5), at most one box per worker per cluster; an unmatched box starts a new cluster.
- A cluster's box is the mean of its boxes' left, top, width and height (averaged as GT
  writes them, so one worker's box comes back bit for bit).
- Kept: clusters drawn by at least `min_share` (half) of the image's workers, rounded up
  (2 of 3, 3 of 5; 1 of 1 or 2). A worker who drew no boxes counts as a worker.
- Confidence = (workers who drew it / workers on the image) × mean IoU of its boxes with the
  mean box; 0 for a single worker, as GT writes it.

Everything is arrays: images are grouped by (workers, most boxes per worker) and handled in
chunks as dense (image, worker, box) tensors, so a matching round is one arg-max over each
image's cluster × box IoU matrix for the whole chunk at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from tuilabel.core.gt.box_answer import Box

IOU_THRESHOLD = 0.5
MIN_SHARE = 0.5
_CHUNK_CELLS = 4_000_000  # IoU matrix cells per chunk (images × clusters × boxes): ~32 MB float64


@dataclass
class BoxAnswers:
    """Workers' boxes as parallel arrays. One row per answer (image, worker), including answers
    with no boxes; one row per box, pointing at its answer row."""

    answer_image: np.ndarray  # int64, the image's input line index
    answer_worker: np.ndarray  # int32, index into workers
    box_answer: np.ndarray  # int64, the box's answer row
    box_class: np.ndarray  # int32
    box_ltwh: np.ndarray  # float64 (n, 4): left, top, width, height
    workers: list[str] = field(default_factory=list)

    @property
    def n_answers(self) -> int:
        return len(self.answer_image)


class BoxAnswersBuilder:
    """Collects answers one at a time (from journals or GT's files) into BoxAnswers."""

    def __init__(self) -> None:
        self._image: list[int] = []
        self._worker: list[int] = []
        self._box_answer: list[int] = []
        self._class: list[int] = []
        self._coords: list[tuple[float, float, float, float]] = []
        self._workers: dict[str, int] = {}

    def add(self, image: int, worker: str, boxes: Sequence[Box]) -> None:
        row = len(self._image)
        self._image.append(image)
        self._worker.append(self._workers.setdefault(worker, len(self._workers)))
        for b in boxes:
            self._box_answer.append(row)
            self._class.append(b.class_id)
            self._coords.append((b.left, b.top, b.width, b.height))

    def build(self) -> BoxAnswers:
        # Workers by name: matching takes them in worker order, so the same answers must give
        # the same order whatever order the files or journals were read in.
        names = sorted(self._workers)
        remap = np.zeros(len(names), dtype=np.int32)
        for new, name in enumerate(names):
            remap[self._workers[name]] = new
        return BoxAnswers(
            np.asarray(self._image, dtype=np.int64),
            remap[np.asarray(self._worker, dtype=np.int64)] if names else np.zeros(0, dtype=np.int32),
            np.asarray(self._box_answer, dtype=np.int64),
            np.asarray(self._class, dtype=np.int32),
            np.asarray(self._coords, dtype=np.float64).reshape(-1, 4),
            names,
        )


@dataclass
class ConsolidatedBoxes:
    """Per image that has answers: its workers; per kept box (sorted by image): the box."""

    images: np.ndarray  # int64, every image with at least one answer, ascending
    workers_per_image: np.ndarray  # int32, parallel to images
    image: np.ndarray  # int64 per box
    box_class: np.ndarray  # int32
    ltwh: np.ndarray  # float64 (n, 4): left, top, width, height
    votes: np.ndarray  # int32: workers who drew it
    confidence: np.ndarray  # float64, unrounded

    def boxes_by_image(self) -> dict[int, tuple[list[Box], list[float]]]:
        """image -> (boxes as GT's left/top/width/height, confidences); images whose boxes
        were all dropped (or that had none) map to empty lists."""
        out: dict[int, tuple[list[Box], list[float]]] = {int(i): ([], []) for i in self.images}
        for i, c, (x, y, w, h), conf in zip(self.image.tolist(), self.box_class.tolist(), self.ltwh.tolist(), self.confidence.tolist()):
            boxes, confs = out[i]
            boxes.append(Box(c, x, y, w, h))
            confs.append(conf)
        return out


def min_votes(n_workers: np.ndarray, min_share: float = MIN_SHARE) -> np.ndarray:
    return np.maximum(1, np.ceil(n_workers * min_share - 1e-9)).astype(np.int32)


def _iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of boxes (…, 4: left, top, width, height) broadcast against boxes (…, 4); 0 where
    either is empty."""
    ix = np.minimum(a[..., 0] + a[..., 2], b[..., 0] + b[..., 2]) - np.maximum(a[..., 0], b[..., 0])
    iy = np.minimum(a[..., 1] + a[..., 3], b[..., 1] + b[..., 3]) - np.maximum(a[..., 1], b[..., 1])
    inter = np.clip(ix, 0, None) * np.clip(iy, 0, None)
    area_a = a[..., 2] * a[..., 3]
    area_b = b[..., 2] * b[..., 3]
    union = area_a + area_b - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def consolidate_boxes(
    answers: BoxAnswers, iou_threshold: float = IOU_THRESHOLD, min_share: float = MIN_SHARE
) -> ConsolidatedBoxes:
    if not 0 < iou_threshold <= 1:
        raise ValueError("iou_threshold must be in (0, 1]")
    images, img_of_answer = np.unique(answers.answer_image, return_inverse=True)
    n_img = len(images)
    workers_per_image = np.bincount(img_of_answer, minlength=n_img).astype(np.int32)
    # Rank of each answer among its image's answers (worker order), and of each box in its answer.
    order = np.lexsort((answers.answer_worker, img_of_answer))
    first_answer = np.concatenate(([0], np.cumsum(workers_per_image)[:-1]))
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order)) - first_answer[img_of_answer[order]]
    border = np.argsort(answers.box_answer, kind="stable")
    per_answer = np.bincount(answers.box_answer, minlength=answers.n_answers)
    first_box = np.concatenate(([0], np.cumsum(per_answer)[:-1]))
    slot = np.empty(len(border), dtype=np.int64)
    slot[border] = np.arange(len(border)) - first_box[answers.box_answer[border]]
    most = np.zeros(n_img, dtype=np.int64)
    np.maximum.at(most, img_of_answer, per_answer)

    box_img = img_of_answer[answers.box_answer]
    box_rank = rank[answers.box_answer]
    # Images in (workers, most boxes) order, so each chunk pads little; boxes follow them.
    img_order = np.lexsort((most, workers_per_image))
    position = np.empty(n_img, dtype=np.int64)
    position[img_order] = np.arange(n_img)
    box_pos = position[box_img]
    by_pos = np.argsort(box_pos, kind="stable")
    box_starts = np.searchsorted(box_pos[by_pos], np.arange(n_img + 1))

    out: list[tuple[np.ndarray, ...]] = []
    group_w, group_b = workers_per_image[img_order], most[img_order]
    edges = np.flatnonzero((np.diff(group_w) != 0) | (np.diff(group_b) != 0)) + 1
    for lo, hi in zip(np.concatenate(([0], edges)).tolist(), np.concatenate((edges, [n_img])).tolist()):
        w, b = int(group_w[lo]), int(group_b[lo])
        if not b:
            continue  # nobody drew a box on these images
        step = max(1, _CHUNK_CELLS // (w * b * w * b))
        for start in range(lo, hi, step):
            stop = min(hi, start + step)
            sel = by_pos[box_starts[start] : box_starts[stop]]
            out.append(
                _consolidate_chunk(
                    box_pos[sel] - start, box_rank[sel], slot[sel], answers.box_class[sel], answers.box_ltwh[sel],
                    img_order[start:stop], stop - start, w, b, iou_threshold, min_share,
                )
            )
    if out:
        img, cls, ltwh, votes, conf = (np.concatenate(parts) for parts in zip(*out))
        keep = np.argsort(img, kind="stable")
        img, cls, ltwh, votes, conf = img[keep], cls[keep], ltwh[keep], votes[keep], conf[keep]
    else:
        img, cls, ltwh, votes, conf = (np.zeros(0, np.int64), np.zeros(0, np.int32), np.zeros((0, 4)), np.zeros(0, np.int32), np.zeros(0))
    return ConsolidatedBoxes(images, workers_per_image, images[img], cls, ltwh, votes, conf)


def _consolidate_chunk(li, r, j, cls, ltwh, chunk_images, n, W, B, threshold, min_share):
    """Images of one (workers W, most boxes B) group: dense tensors, matching, the kept boxes.
    Returns (image position in `images`, class, ltwh, votes, confidence) per kept box."""
    boxes = np.zeros((n, W, B, 4))
    valid = np.zeros((n, W, B), dtype=bool)
    klass = np.full((n, W, B), -1, dtype=np.int32)
    boxes[li, r, j] = ltwh
    valid[li, r, j] = True
    klass[li, r, j] = cls
    C = W * B  # a cluster slot per (worker, box): box (r, j) starts cluster r*B + j if unmatched
    sums = np.zeros((n, C, 4))
    count = np.zeros((n, C), dtype=np.int32)
    cluster_class = np.full((n, C), -1, dtype=np.int32)
    assign = np.full((n, W, B), -1, dtype=np.int64)
    rows = np.arange(n)
    for w in range(W):
        have = w * B  # the slots earlier workers can have filled
        mine = np.full((n, B), -1, dtype=np.int64)
        if w:
            means = sums[:, :have] / np.maximum(count[:, :have], 1)[..., None]
            iou = _iou(means[:, :, None, :], boxes[:, w][:, None, :, :])
            ok = (count[:, :have, None] > 0) & valid[:, w][:, None, :] & (cluster_class[:, :have, None] == klass[:, w][:, None, :])
            iou = np.where(ok & (iou >= threshold), iou, -1.0)
            flat = iou.reshape(n, -1)
            live = rows
            for _ in range(B):
                k = flat[live].argmax(axis=1)
                best = flat[live, k]
                hit = best >= threshold
                if not hit.any():
                    break
                live, k = live[hit], k[hit]
                c, bx = k // B, k % B
                mine[live, bx] = c
                iou[live, c, :] = -1.0
                iou[live, :, bx] = -1.0
        fresh = valid[:, w] & (mine < 0)
        mine = np.where(fresh, w * B + np.arange(B)[None, :], mine)
        ii, jj = np.nonzero(valid[:, w])
        cc = mine[ii, jj]
        sums[ii, cc] += boxes[ii, w, jj]  # each cluster takes at most one box per worker
        count[ii, cc] += 1
        cluster_class[ii, cc] = klass[ii, w, jj]
        assign[ii, w, jj] = cc
    # Mean box and how well its boxes fit it.
    means = sums / np.maximum(count, 1)[..., None]
    fit = np.zeros((n, C))
    ii, ww, jj = np.nonzero(valid)
    cc = assign[ii, ww, jj]
    np.add.at(fit, (ii, cc), _iou(boxes[ii, ww, jj], means[ii, cc]))
    keep = count >= min_votes(np.full(n, W), min_share)[:, None]
    ki, kc = np.nonzero(keep)
    votes = count[ki, kc]
    conf = (fit[ki, kc] / W) if W > 1 else np.zeros(len(ki))
    return chunk_images[ki], cluster_class[ki, kc], means[ki, kc], votes, conf
