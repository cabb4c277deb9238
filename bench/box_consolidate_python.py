"""The same box consolidation as tuilabel.core.gt.box_consolidation, in plain Python, one image
at a time: the bench's baseline, and the tests' independent statement of the method."""

from __future__ import annotations

import math


def iou(a, b) -> float:
    """Boxes as (left, top, width, height)."""
    ix = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    iy = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    inter = max(ix, 0.0) * max(iy, 0.0)
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


def consolidate_image(answers, threshold: float = 0.5, min_share: float = 0.5):
    """answers: one list per worker (in worker order) of (class, (left, top, width, height)).
    Returns [(class, mean box, votes, confidence)] in cluster order."""
    clusters = []  # [class, sums, members]
    for boxes in answers:
        pairs = []
        for c, cl in enumerate(clusters):
            mean = [s / len(cl[2]) for s in cl[1]]
            for b, (klass, box) in enumerate(boxes):
                if klass == cl[0]:
                    v = iou(mean, box)
                    if v >= threshold:
                        pairs.append((-v, c, b))
        pairs.sort()  # highest IoU first; ties to the lower cluster, then the lower box
        used_c, used_b, match = set(), set(), {}
        for _, c, b in pairs:
            if c not in used_c and b not in used_b:
                used_c.add(c)
                used_b.add(b)
                match[b] = c
        for b, (klass, box) in enumerate(boxes):
            if b in match:
                cl = clusters[match[b]]
                cl[1] = [s + x for s, x in zip(cl[1], box)]
                cl[2].append(box)
            else:
                clusters.append([klass, list(box), [box]])
    n = len(answers)
    need = max(1, math.ceil(n * min_share - 1e-9))
    out = []
    for klass, sums, members in clusters:
        if len(members) < need:
            continue
        mean = [s / len(members) for s in sums]
        conf = sum(iou(m, mean) for m in members) / n if n > 1 else 0.0
        out.append((klass, mean, len(members), conf))
    return out
