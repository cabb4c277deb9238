"""Whole-process timing of `tuilabel check` (python -m tuilabel check X --json).

- texts: 10,000 and 100,000 records (40-word sentences from a 20,000-word vocabulary), 1 % exact
  duplicates and 1 % near-duplicates planted; grouping must grow near-linearly.
- images: 10,000 small generated JPEGs (320x240) with 1 % exact and 1 % near duplicates.
Generated data is cached under $TMPDIR/tuilabel-bench-check. Prints a table.

    python bench/bench_check.py [--images N] [--skip-images]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

REPO = Path(__file__).resolve().parents[1]
CACHE = Path(tempfile.gettempdir()) / "tuilabel-bench-check"


def make_texts(n: int) -> tuple[Path, int, int]:
    path = CACHE / f"texts-{n}.manifest"
    rnd = random.Random(n)
    vocab = ["".join(rnd.choices("abcdefghijklmnopqrstuvwxyz", k=rnd.randint(3, 9))) for _ in range(20_000)]
    texts = []
    dups = nears = 0
    for i in range(n):
        if i > 10 and i % 100 == 0:
            texts.append(texts[rnd.randrange(i)].upper())
            dups += 1
        elif i > 10 and i % 100 == 50:
            words = texts[rnd.randrange(i)].split()
            words[rnd.randrange(len(words))] = "changed"
            texts.append(" ".join(words))
            nears += 1
        else:
            texts.append(" ".join(rnd.choices(vocab, k=40)))
    if not path.exists():
        path.write_bytes(b"".join(orjson.dumps({"source": t}) + b"\n" for t in texts))
    return path, dups, nears


def _original(rnd: random.Random, i: int) -> int:
    """A random earlier image that is not itself a planted copy (so each plant is one pair)."""
    while True:
        src = rnd.randrange(i)
        if src <= 10 or src % 100 not in (0, 50):
            return src


def make_images(n: int) -> tuple[Path, int, int]:
    from PIL import Image

    folder = CACHE / f"images-v2-{n}"
    manifest = CACHE / f"images-v2-{n}.manifest"
    dups = nears = 0
    rnd = random.Random(7)
    lines = []
    ready = manifest.exists()
    if not ready:
        folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        name = f"{i:06d}.jpg"
        if i > 10 and i % 100 == 0:
            src = _original(rnd, i)
            dups += 1
            if not ready:
                (folder / name).write_bytes((folder / f"{src:06d}.jpg").read_bytes())
        elif i > 10 and i % 100 == 50:
            src = _original(rnd, i)
            nears += 1
            if not ready:
                with Image.open(folder / f"{src:06d}.jpg") as im:
                    im.save(folder / name, quality=45)
        elif not ready:
            small = Image.new("RGB", (8, 6))
            small.putdata([tuple(rnd.randrange(256) for _ in range(3)) for _ in range(48)])
            small.resize((320, 240), Image.Resampling.BICUBIC).save(folder / name, quality=85)
        lines.append(orjson.dumps({"source-ref": f"{folder.name}/{name}"}) + b"\n")
    if not ready:
        manifest.write_bytes(b"".join(lines))
    return manifest, dups, nears


def run_check(path: Path) -> tuple[float, dict]:
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "tuilabel", "check", str(path), "--json"],
        capture_output=True,
        cwd=REPO,
    )
    elapsed = time.perf_counter() - start
    if result.returncode not in (0, 1):
        raise SystemExit(result.stderr.decode())
    return elapsed, json.loads(result.stdout)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=10_000)
    parser.add_argument("--skip-images", action="store_true")
    args = parser.parse_args()
    CACHE.mkdir(exist_ok=True)
    rows = []
    for n in (10_000, 100_000):
        path, dups, nears = make_texts(n)
        seconds, rep = run_check(path)
        rows.append((f"{n:,} texts", seconds, dups, rep["counts"]["duplicate"], nears, rep["counts"]["near-duplicate"]))
    if not args.skip_images:
        t = time.perf_counter()
        path, dups, nears = make_images(args.images)
        print(f"(image data ready in {time.perf_counter() - t:.1f} s)", file=sys.stderr)
        seconds, rep = run_check(path)
        rows.append((f"{args.images:,} JPEGs", seconds, dups, rep["counts"]["duplicate"], nears, rep["counts"]["near-duplicate"]))
    print(f"tuilabel check, whole process, {os.cpu_count()} CPUs")
    print(f"{'input':<16} {'seconds':>8} {'per 1k':>8} {'dups planted/found':>20} {'near planted/found':>20}")
    for name, seconds, dp, df, np_, nf in rows:
        count = int(name.split()[0].replace(",", ""))
        print(f"{name:<16} {seconds:8.2f} {1000 * seconds / count:8.3f} {f'{dp}/{df}':>20} {f'{np_}/{nf}':>20}")
    if len(rows) >= 2:
        print(f"100k/10k texts time ratio: {rows[1][1] / rows[0][1]:.1f} (10.0 = linear)")


if __name__ == "__main__":
    main()
