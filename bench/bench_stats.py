"""Whole-process timing of `tuilabel stats X --json` on big generated GT output manifests,
beside the obvious peer (a Python loop doing orjson.loads per line and counting class-name).

- 1,000,000 image-classification lines (10 classes, 1 % failed, GT's metadata layout);
- 200,000 bounding-box lines (every line distinct: the fast path's worst case).
Data is cached under $TMPDIR/tuilabel-bench-stats. Prints a table.

    python bench/bench_stats.py
"""

from __future__ import annotations

import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

REPO = Path(__file__).resolve().parents[1]
CACHE = Path(tempfile.gettempdir()) / "tuilabel-bench-stats"
CLASSES = ["Duck", "Sparrow", "Woodpecker", "Owl", "Parrot", "Turkey", "Falcon", "Swan", "Goose", "Canary"]

PEER = """
import sys, orjson
from collections import Counter
c = Counter()
with open(sys.argv[1], "rb") as fh:
    for line in fh:
        obj = orjson.loads(line)
        for k, v in obj.items():
            if k.endswith("-metadata") and "class-name" in v:
                c[v["class-name"]] += 1
print(sum(c.values()))
"""


def classification(n: int) -> Path:
    path = CACHE / f"classification-{n}.manifest"
    if path.exists():
        return path
    rnd = random.Random(0)
    with open(path, "wb") as fh:
        buf = []
        for i in range(n):
            c = rnd.randrange(10)
            meta = {"job-name": "labeling-job/birds", "human-annotated": "yes",
                    "creation-date": f"2024-01-01T00:{i // 60 % 60:02d}:{i % 60:02d}.{rnd.randrange(10**6):06d}",
                    "type": "groundtruth/image-classification"}
            obj = {"source-ref": f"s3://bucket/images/{i:08x}{rnd.getrandbits(32):08x}.jpg"}
            if rnd.random() < 0.01:
                meta["failure-reason"] = "ClientError: all workers declined"
            else:
                obj["birds"] = c
                meta = {"confidence": rnd.choice([0.95, 0.88, 0.72, 0.5, 0.63, 0.91, 0.99]), "class-name": CLASSES[c], **meta}
            obj["birds-metadata"] = meta
            buf.append(orjson.dumps(obj) + b"\n")
            if len(buf) >= 10_000:
                fh.write(b"".join(buf))
                buf = []
        fh.write(b"".join(buf))
    return path


def boxes(n: int) -> Path:
    path = CACHE / f"boxes-{n}.manifest"
    if path.exists():
        return path
    rnd = random.Random(1)
    with open(path, "wb") as fh:
        for i in range(n):
            k = rnd.randrange(0, 6)
            anns = [{"class_id": rnd.randrange(3), "top": rnd.randrange(400), "left": rnd.randrange(600),
                     "height": rnd.randrange(1, 200), "width": rnd.randrange(1, 200)} for _ in range(k)]
            obj = {"source-ref": f"s3://bucket/img/{i}.jpg",
                   "box": {"image_size": [{"width": 640, "height": 480, "depth": 3}], "annotations": anns},
                   "box-metadata": {"objects": [{"confidence": round(rnd.random(), 2)} for _ in anns],
                                    "class-map": {"0": "cat", "1": "dog", "2": "bird"},
                                    "type": "groundtruth/object-detection", "human-annotated": "yes",
                                    "creation-date": "2024-01-01T00:00:00.000000", "job-name": "labeling-job/box"}}
            fh.write(orjson.dumps(obj) + b"\n")
    return path


def timed(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, cwd=REPO)
    return time.perf_counter() - start


def main() -> None:
    CACHE.mkdir(exist_ok=True)
    rows = []
    for name, path in (("1M classification", classification(1_000_000)), ("200k boxes", boxes(200_000))):
        ours = min(timed([sys.executable, "-m", "tuilabel", "stats", str(path), "--json"]) for _ in range(3))
        peer = min(timed([sys.executable, "-c", PEER, str(path)]) for _ in range(3))
        rows.append((name, path.stat().st_size / 1e6, ours, peer))
    print("tuilabel stats --json, whole process (best of 3)")
    print(f"{'input':<20} {'MB':>7} {'tuilabel s':>11} {'peer loop s':>12}")
    for name, mb, ours, peer in rows:
        print(f"{name:<20} {mb:7.0f} {ours:11.2f} {peer:12.2f}")
    print("peer = orjson.loads per line + Counter of class-name (no boxes, no histograms)")


if __name__ == "__main__":
    main()
