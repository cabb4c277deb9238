"""Whole-process timing of `tuilabel check` (python -m tuilabel check X --json), beside the
near-duplicate peers doing the same work in one run.

- texts: four corpus shapes from tests/text_corpora.py (uniform made-up words; Zipfian
  5,000-word vocabulary, 15–60 words; Zipfian 36-word vocabulary; 20 shared 25-word openings
  then Zipfian words), 100,000 records each with 1 % exact copies and 1 % edits planted. Recall counts the planted pairs whose true
  word-bigram Jaccard is ≥ 0.8 that end in one group; precision counts reported group members
  that have a ≥ 0.8 partner in their group.
- peers, each a whole process doing what `check` does for texts: read the manifest (orjson),
  drop exact duplicates (folded whitespace and case), shingle word bigrams, MinHash + LSH,
  verify every candidate with the exact Jaccard, union-find. datasketch's MinHashLSH at
  threshold 0.8 with its own band choice, and with ours; rensa's RMinHashLSH with ours.
- "why": the same corpora in this process, LSH work with 4 rows per band (the earlier shape)
  beside the one `check` uses (rows from `lsh_plan`): texts in a bucket, candidate pairs,
  largest bucket, exact Jaccard checks left after the MinHash estimate, CPU seconds.
- images: 10,000 small generated JPEGs (320x240) with 1 % exact and 1 % near duplicates.
Generated data is cached under $TMPDIR/tuilabel-bench-check. Prints tables.

    python bench/bench_check.py [--texts N] [--repeat R] [--rev GITREV] [--skip-peers] [--skip-images]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

REPO = Path(__file__).resolve().parents[1]
CACHE = Path(tempfile.gettempdir()) / "tuilabel-bench-check"
sys.path.insert(0, str(REPO / "tests"))

from text_corpora import SHAPES, Corpus, bigrams, jaccard, make_corpus  # noqa: E402

THRESHOLD = 0.8


# --- data ---------------------------------------------------------------------------------


def text_manifest(corpus: Corpus) -> Path:
    path = CACHE / f"texts-{corpus.shape}-{len(corpus.texts)}.manifest"
    if not path.exists():
        path.write_bytes(b"".join(orjson.dumps({"source": t}) + b"\n" for t in corpus.texts))
    return path


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


# --- one whole process --------------------------------------------------------------------


# A small launcher measures the child: a child forked from this (large) process would inherit
# its peak RSS, as Linux carries the high-water mark across fork and exec.
_LAUNCH = """import os, sys, time
start = time.perf_counter()
pid = os.posix_spawn(sys.argv[1], sys.argv[1:], os.environ)
_, status, usage = os.wait4(pid, 0)
print(time.perf_counter() - start, usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime, file=sys.stderr)
sys.exit(os.waitstatus_to_exitcode(status))
"""


def run(cmd: list[str], env: dict | None = None) -> tuple[float, float, bytes, float]:
    """Wall seconds, peak RSS (MB), stdout and CPU seconds (user + system) of one whole process."""
    result = subprocess.run([sys.executable, "-c", _LAUNCH, *cmd], capture_output=True, cwd=REPO if env is None else CACHE, env=env)
    if result.returncode not in (0, 1):
        raise SystemExit(f"failed: {' '.join(cmd)}\n{result.stderr.decode()}")
    seconds, peak, cpu = map(float, result.stderr.decode().split()[-3:])
    return seconds, peak, result.stdout, cpu


def check_groups(stdout: bytes) -> tuple[list[list[int]], dict]:
    report = orjson.loads(stdout)
    groups = [[line - 1 for line in g["lines"]] for g in report["near_duplicates"] if g["kind"] == "text"]
    return groups, report


# --- the peers (child processes: bench_check.py --peer NAME MANIFEST) ----------------------


def peer(name: str, manifest: str) -> None:
    texts = [orjson.loads(line)["source"] for line in open(manifest, "rb")]
    seen: set[str] = set()
    keep: list[int] = []
    for i, text in enumerate(texts):
        key = " ".join(text.split()).casefold()
        if key not in seen:
            seen.add(key)
            keep.append(i)
    sets = [bigrams(texts[i]) for i in keep]
    from tuilabel.core.quality.near_duplicates import lsh_plan

    bands, rows = lsh_plan(THRESHOLD)
    if name.startswith("datasketch"):
        from datasketch import MinHash, MinHashLSH

        perms = bands * rows if name == "datasketch-ours" else 128
        params = (bands, rows) if name == "datasketch-ours" else None
        hashes = MinHash.bulk([[g.encode() for g in s] for s in sets], num_perm=perms)
        lsh = MinHashLSH(threshold=THRESHOLD, num_perm=perms, params=params)
        with lsh.insertion_session() as session:
            for i, m in enumerate(hashes):
                session.insert(i, m)
        candidates = [lsh.query(m) for m in hashes]
    elif name == "rensa":
        from rensa import RMinHash, RMinHashLSH

        hashes = RMinHash.from_token_sets([list(s) for s in sets], bands * rows, 42)
        lsh = RMinHashLSH(THRESHOLD, bands * rows, bands)
        lsh.insert_many(hashes)
        candidates = lsh.query_all(hashes)
    else:
        raise SystemExit(f"unknown peer {name}")
    parent = list(range(len(sets)))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for i, found in enumerate(candidates):
        for j in found:
            if j > i and find(i) != find(j) and jaccard(sets[i], sets[j]) >= THRESHOLD:
                parent[max(find(i), find(j))] = min(find(i), find(j))
    groups: dict[int, list[int]] = {}
    for i in range(len(sets)):
        groups.setdefault(find(i), []).append(keep[i])
    sys.stdout.buffer.write(orjson.dumps([g for g in groups.values() if len(g) > 1]))


# --- scoring ------------------------------------------------------------------------------


def score(corpus: Corpus, groups: list[list[int]]) -> tuple[float, float, int, int]:
    """(recall, precision, pairs found, pairs planted with true Jaccard ≥ 0.8)."""
    where = {m: n for n, g in enumerate(groups) for m in g}
    truth = corpus.near_pairs(THRESHOLD)
    hits = sum(1 for a, b in truth if a in where and where[a] == where.get(b))
    members = good = 0
    for g in groups:
        sets = [bigrams(corpus.texts[m]) for m in g]
        for i, s in enumerate(sets):
            members += 1
            good += any(jaccard(s, o) >= THRESHOLD for k, o in enumerate(sets) if k != i)
    return hits / len(truth), (good / members if members else 1.0), hits, len(truth)


def why(corpus: Corpus) -> list[tuple]:
    """LSH work on this corpus with 4 rows per band (the earlier shape) and with `lsh_plan`'s."""
    from tuilabel.core.quality.near_duplicates import TextGrouper

    seen: set[str] = set()
    rows = []
    for bands, per_band in ((8, 4), (None, None)):
        grouper = TextGrouper(THRESHOLD)
        if bands:
            grouper.bands, grouper.rows = bands, per_band
        seen.clear()
        for i, text in enumerate(corpus.texts):
            key = " ".join(text.split()).casefold()
            if key not in seen:
                seen.add(key)
                grouper.add(i, text)
        start = time.process_time()
        groups = grouper.groups()
        recall = score(corpus, groups)[0]
        rows.append((corpus.shape, f"{grouper.bands}×{grouper.rows}", grouper.flagged, grouper.candidates,
                     grouper.largest_bucket, grouper.comparisons, time.process_time() - start, recall))
    return rows


# --- main ---------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--texts", type=int, default=100_000)
    parser.add_argument("--shapes", default=",".join(SHAPES))
    parser.add_argument("--repeat", type=int, default=1, help="runs per tool and corpus (median reported)")
    parser.add_argument("--images", type=int, default=10_000)
    parser.add_argument("--skip-images", action="store_true")
    parser.add_argument("--skip-peers", action="store_true")
    parser.add_argument("--rev", help="also run `check` as of this git revision (before/after)")
    parser.add_argument("--peer", nargs=2, metavar=("NAME", "MANIFEST"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.peer:
        return peer(*args.peer)
    CACHE.mkdir(exist_ok=True)
    check_cmd = [sys.executable, "-m", "tuilabel", "check", "{}", "--json"]
    tools = {"tuilabel check": (check_cmd, None)}
    if args.rev:
        tree = CACHE / f"rev-{args.rev}"
        if not tree.exists():
            tree.mkdir()
            archive = subprocess.run(["git", "archive", args.rev, "tuilabel"], cwd=REPO, capture_output=True, check=True)
            subprocess.run(["tar", "-x", "-C", str(tree)], input=archive.stdout, check=True)
        tools[f"check @ {args.rev}"] = (check_cmd, {**os.environ, "PYTHONPATH": str(tree)})
    if not args.skip_peers:
        import importlib.util

        if importlib.util.find_spec("datasketch") is None:
            print("(datasketch not installed: pip install datasketch to measure it)", file=sys.stderr)
        for name in ("datasketch", "datasketch-ours", "rensa"):
            if importlib.util.find_spec(name.split("-")[0]) is not None:
                tools[name] = ([sys.executable, __file__, "--peer", name, "{}"], None)
    rows, why_rows, notes = [], [], []
    for shape in args.shapes.split(","):
        corpus = make_corpus(shape, args.texts)
        path = text_manifest(corpus)
        for tool, (cmd, env) in tools.items():
            runs = [run([str(path) if part == "{}" else part for part in cmd], env) for _ in range(args.repeat)]
            seconds = statistics.median(r[0] for r in runs)
            cpu = statistics.median(r[3] for r in runs)
            peak = max(r[1] for r in runs)
            if "check" in tool:
                groups, report = check_groups(runs[0][2])
                if tool == "tuilabel check":
                    notes.append(f"{shape}: exact copies planted {len(corpus.exact)}, found {report['counts']['duplicate']}")
            else:
                groups = orjson.loads(runs[0][2])
            recall, precision, hits, truth = score(corpus, groups)
            rows.append((shape, tool, seconds, cpu, peak, recall, hits, truth, precision))
        why_rows += why(corpus)
    load = os.getloadavg()
    print(f"near-duplicate texts, {args.texts:,} records, whole processes, median of {args.repeat}; "
          f"{os.cpu_count()} CPUs, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} at the end")
    print(f"{'corpus':<11} {'tool':<16} {'seconds':>8} {'cpu s':>6} {'peak MB':>8} {'recall':>18} {'precision':>9}")
    for shape, tool, seconds, cpu, peak, recall, hits, truth, precision in rows:
        print(f"{shape:<11} {tool:<16} {seconds:8.2f} {cpu:6.2f} {peak:8.0f} "
              f"{f'{recall:.3f} ({hits}/{truth})':>18} {precision:9.3f}")
    print("\n".join(notes))
    print("\nwhy: LSH work in this process (CPU seconds for MinHash, buckets and exact checks)")
    print(f"{'corpus':<11} {'bands×rows':>10} {'in a bucket':>11} {'cand. pairs':>11} {'largest':>8} "
          f"{'exact checks':>12} {'cpu s':>6} {'recall':>6}")
    for shape, plan, flagged, cands, largest, checks, cpu, recall in why_rows:
        print(f"{shape:<11} {plan:>10} {flagged:11,} {cands:11,} {largest:8,} {checks:12,} {cpu:6.2f} {recall:6.3f}")
    if not args.skip_images:
        t = time.perf_counter()
        path, dups, nears = make_images(args.images)
        print(f"(image data ready in {time.perf_counter() - t:.1f} s)", file=sys.stderr)
        seconds, peak, out, _ = run([sys.executable, "-m", "tuilabel", "check", str(path), "--json"])
        counts = orjson.loads(out)["counts"]
        print(f"\n{args.images:,} JPEGs: {seconds:.2f} s, peak {peak:.0f} MB, exact dups planted/found "
              f"{dups}/{counts['duplicate']}, near planted/found {nears}/{counts['near-duplicate']}")


if __name__ == "__main__":
    main()
