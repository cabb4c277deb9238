"""Synthetic box crowds with known truth (tests and bench_box_consolidate.py).

Each image has `boxes` true boxes of random classes; each worker draws each true box with its
edges jittered by `noise` × the box's size (a miss with probability `miss`), plus, with
probability `extra`, one box of their own somewhere else.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tuilabel.core.gt.box_consolidation import BoxAnswers

WIDTH, HEIGHT = 1024, 768


@dataclass
class BoxCrowd:
    answers: BoxAnswers
    truth_image: np.ndarray  # per true box
    truth_class: np.ndarray
    truth_ltwh: np.ndarray


def _random_boxes(rng, n: int) -> np.ndarray:
    w = rng.uniform(40, 300, n)
    h = rng.uniform(40, 300, n)
    x = rng.uniform(0, WIDTH - w)
    y = rng.uniform(0, HEIGHT - h)
    return np.stack([x, y, x + w, y + h], axis=1)


def make_box_crowd(
    images: int, workers: int = 3, boxes: int = 10, classes: int = 5, noise: float = 0.03,
    miss: float = 0.05, extra: float = 0.1, seed: int = 0, integer: bool = True,
) -> BoxCrowd:
    rng = np.random.default_rng(seed)
    truth_image = np.repeat(np.arange(images, dtype=np.int64), boxes)
    truth_class = rng.integers(0, classes, images * boxes).astype(np.int32)
    truth = _random_boxes(rng, images * boxes)
    answer_image = np.repeat(np.arange(images, dtype=np.int64), workers)
    answer_worker = np.tile(np.arange(workers, dtype=np.int32), images)
    parts_answer, parts_class, parts_xyxy = [], [], []
    size = np.concatenate([truth[:, 2:] - truth[:, :2]] * 2, axis=1)
    for w in range(workers):
        drawn = rng.random(images * boxes) >= miss
        xyxy = truth + rng.normal(0, noise, truth.shape) * size
        parts_answer.append((truth_image * workers + w)[drawn])
        parts_class.append(truth_class[drawn])
        parts_xyxy.append(xyxy[drawn])
        more = np.flatnonzero(rng.random(images) < extra)
        parts_answer.append(more * workers + w)
        parts_class.append(rng.integers(0, classes, len(more)).astype(np.int32))
        parts_xyxy.append(_random_boxes(rng, len(more)))
    box_answer = np.concatenate(parts_answer)
    xyxy = np.concatenate(parts_xyxy)
    xyxy[:, [0, 2]] = np.clip(xyxy[:, [0, 2]], 0, WIDTH)
    xyxy[:, [1, 3]] = np.clip(xyxy[:, [1, 3]], 0, HEIGHT)
    if integer:  # people draw whole pixels
        xyxy = np.round(xyxy)
    ok = (xyxy[:, 2] > xyxy[:, 0]) & (xyxy[:, 3] > xyxy[:, 1])
    order = np.argsort(box_answer[ok], kind="stable")
    ltwh = np.concatenate([xyxy[:, :2], xyxy[:, 2:] - xyxy[:, :2]], axis=1)
    answers = BoxAnswers(
        answer_image, answer_worker, box_answer[ok][order], np.concatenate(parts_class)[ok][order], ltwh[ok][order],
        [f"worker-{w}" for w in range(workers)],
    )
    return BoxCrowd(answers, truth_image, truth_class, np.concatenate([truth[:, :2], truth[:, 2:] - truth[:, :2]], axis=1))
