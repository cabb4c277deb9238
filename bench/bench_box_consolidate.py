"""Box consolidation: 100k images × 3 workers × 10 boxes (issue 11's goal: ≤ 10 s), beside the
same method in plain Python and the library peer ensemble-boxes (Weighted Boxes Fusion, the
usual way to merge several box sets by IoU), in one run, each in its own process.

Every run is one whole process started the same way: build the same synthetic crowd
(bench/synthetic_boxes.py, seed 0), consolidate it, print its timings as JSON. The parent
measures the whole process too and takes the median of REPEATS runs.

ensemble-boxes is a bench-only dependency:  pip install ensemble-boxes
    python bench/bench_box_consolidate.py [--images N] [--repeats R] [--python-images N]
ensemble-boxes takes minutes at 100k images: by default it runs on --peer-images (10k) images
and the table scales it per image (the work is per image, so time is linear in images); say
so when recording.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

METHODS = ("tuilabel", "plain-python", "ensemble-boxes")


def _per_image_lists(answers):
    """answers -> {image: [worker's [(class, ltwh)], …]} (what the per-image methods take)."""
    per: dict[int, dict[int, list]] = {}
    for img, w in zip(answers.answer_image.tolist(), answers.answer_worker.tolist()):
        per.setdefault(img, {})[w] = []
    for row, c, box in zip(answers.box_answer.tolist(), answers.box_class.tolist(), answers.box_ltwh.tolist()):
        per[int(answers.answer_image[row])][int(answers.answer_worker[row])].append((c, box))
    return {img: [ws[w] for w in sorted(ws)] for img, ws in per.items()}


def run_one(method: str, images: int) -> dict:
    from box_consolidate_python import consolidate_image
    from synthetic_boxes import HEIGHT, WIDTH, make_box_crowd

    from tuilabel.core.gt.box_consolidation import consolidate_boxes

    if method == "ensemble-boxes":
        from ensemble_boxes import weighted_boxes_fusion
    t0 = time.perf_counter()
    crowd = make_box_crowd(images, workers=3, boxes=10)
    answers = crowd.answers
    built = time.perf_counter()
    if method == "tuilabel":
        kept = len(consolidate_boxes(answers).image)
        prep = built
    else:
        per = _per_image_lists(answers)
        prep = time.perf_counter()
        kept = 0
        if method == "plain-python":
            for img in per:
                kept += len(consolidate_image(per[img]))
        else:
            for img, by_worker in per.items():
                boxes = [[[b[0] / WIDTH, b[1] / HEIGHT, (b[0] + b[2]) / WIDTH, (b[1] + b[3]) / HEIGHT] for _, b in w] for w in by_worker]
                scores = [[1.0] * len(w) for w in by_worker]
                labels = [[c for c, _ in w] for w in by_worker]
                _, fused_scores, _ = weighted_boxes_fusion(boxes, scores, labels, iou_thr=0.5, skip_box_thr=0.0)
                # score = members / workers with unit scores: keep boxes at least half drew
                kept += int((fused_scores >= 2 / 3 - 1e-9).sum())
    done = time.perf_counter()
    return {
        "method": method,
        "images": images,
        "boxes_in": int(len(answers.box_class)),
        "boxes_kept": kept,
        "build_s": round(built - t0, 3),
        "regroup_s": round(prep - built, 3),
        "consolidate_s": round(done - prep, 3),
        "peak_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", choices=METHODS, help=argparse.SUPPRESS)
    parser.add_argument("--images", type=int, default=100_000)
    parser.add_argument("--python-images", type=int, default=100_000, help="images for the plain-Python run (scaled in the table)")
    parser.add_argument("--peer-images", type=int, default=10_000, help="images for the ensemble-boxes run (scaled in the table)")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    if args.run:
        print(json.dumps(run_one(args.run, args.images)))
        return 0
    rows = []
    for method in METHODS:
        n = {"tuilabel": args.images, "plain-python": args.python_images, "ensemble-boxes": args.peer_images}[method]
        runs = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            proc = subprocess.run([sys.executable, __file__, "--run", method, "--images", str(n)], capture_output=True, text=True)
            wall = time.perf_counter() - t0
            if proc.returncode != 0:
                print(f"{method}: failed: {proc.stderr.strip().splitlines()[-1:]}", file=sys.stderr)
                break
            runs.append({**json.loads(proc.stdout), "wall_s": wall})
        if not runs:
            continue
        med = {k: statistics.median(r[k] for r in runs) for k in ("consolidate_s", "wall_s", "peak_mb")}
        scale = args.images / n
        rows.append((method, n, runs[0]["boxes_in"], runs[0]["boxes_kept"], med["consolidate_s"], med["consolidate_s"] * scale, med["wall_s"], med["peak_mb"]))
    print(f"| method | images run | boxes in | boxes kept | consolidate | per {args.images:,} images | whole process | peak RSS |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for method, n, bin_, kept, cons, scaled, wall, peak in rows:
        print(f"| {method} | {n:,} | {bin_:,} | {kept:,} | {cons:.2f} s | {scaled:.1f} s | {wall:.2f} s | {peak:.0f} MB |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
