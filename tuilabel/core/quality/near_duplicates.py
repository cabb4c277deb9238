"""Near-duplicate grouping that scales to 100,000 items: never all pairs.

Images — 64-bit difference hash (dHash: 9x8 grey thumbnail, one bit per "left pixel brighter
than its right neighbour"). Two images are near duplicates when their hashes differ in at most
`max_distance` bits (default 4: re-encoded, resized, slightly re-toned or watermarked copies
land at 0–3; unrelated photos sit near 32). Candidates come from the pigeonhole principle: cut
the hash into max_distance + 1 bands; two hashes within distance k agree exactly on at least
one band. Each band is a dict bucket, so each image is compared only with the images that
share one of its bands, then pairs are verified by popcount and joined with union-find.
With k = 4 the bands are 12–13 bits wide, so a random pair collides with probability ≈
5/8192 — about 0.06 % of all pairs get a popcount, which stays linear enough at 100k images.

Texts — word bigrams, MinHash by one-permutation hashing: each bigram is hashed once with
zlib.crc32 (in C), the low 5 bits pick one of 32 bins, and each bin keeps its minimum (one
`dict(zip(...))` over the hashes sorted high-to-low, also in C). Empty bins (short texts)
borrow the next filled bin's value ("densification", Shrivastava & Li 2014). LSH: 8 bands of
4 bins; a pair with Jaccard J becomes a candidate with probability 1 − (1 − J⁴)⁸ (0.985 at
J = 0.8, 0.9999 at J = 0.9, 0.001 at J = 0.2). Candidates are verified with the exact Jaccard
of their bigram sets, so the only error is a missed pair (recall), never a false group.
No numpy: the per-text work is a handful of C-level calls (≈15 µs per text, measured).
"""

from __future__ import annotations

import re
import zlib
from array import array
from itertools import repeat
from operator import and_
from typing import Callable

BUCKET_COMPARE_LIMIT = 200  # compare a newcomer with at most this many bucket members


class UnionFind:
    def __init__(self) -> None:
        self.parent: array = array("l")

    def add(self) -> int:
        self.parent.append(len(self.parent))
        return len(self.parent) - 1

    def find(self, x: int) -> int:
        parent = self.parent
        root = x
        while parent[root] != root:
            root = parent[root]
        while parent[x] != root:
            parent[x], x = root, parent[x]
        return root

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            # The smaller position stays the root, so a group's root is its first member.
            if ra < rb:
                self.parent[rb] = ra
            else:
                self.parent[ra] = rb

    def groups(self) -> list[list[int]]:
        by_root: dict[int, list[int]] = {}
        for i in range(len(self.parent)):
            by_root.setdefault(self.find(i), []).append(i)
        return [members for members in by_root.values() if len(members) > 1]


# --- images -------------------------------------------------------------------------------


def dhash(image) -> int:
    """64-bit difference hash of a Pillow image (any mode, any size)."""
    from PIL import Image

    small = image.convert("L").resize((9, 8), Image.Resampling.BOX)
    px = small.tobytes()
    bits = 0
    for row in range(0, 72, 9):
        for col in range(row, row + 8):
            bits = (bits << 1) | (px[col] > px[col + 1])
    return bits


def _bands(bits: int, parts: int) -> list[tuple[int, int]]:
    """(shift, mask) for `parts` near-equal bands over `bits` bits."""
    out = []
    start = 0
    for p in range(parts):
        width = bits // parts + (1 if p < bits % parts else 0)
        out.append((start, (1 << width) - 1))
        start += width
    return out


class ImageGrouper:
    """Add (id, 64-bit hash) pairs; `groups()` gives lists of ids within `max_distance`."""

    def __init__(self, max_distance: int = 4):
        if not 0 <= max_distance <= 16:
            raise ValueError("max_distance must be between 0 and 16")
        self.max_distance = max_distance
        self.ids: list[int] = []
        self.hashes = array("Q")
        self.uf = UnionFind()
        self._exact: dict[int, int] = {}
        self._bands = _bands(64, max_distance + 1)
        self._buckets: list[dict[int, list[int] | int]] = [{} for _ in self._bands]
        self.comparisons = 0

    def add(self, ident: int, h: int) -> None:
        pos = self.uf.add()
        self.ids.append(ident)
        self.hashes.append(h)
        same = self._exact.get(h)
        if same is not None:  # identical hash: same group, no need to band it again
            self.uf.union(same, pos)
            return
        self._exact[h] = pos
        k = self.max_distance
        hashes = self.hashes
        uf = self.uf
        for (shift, mask), buckets in zip(self._bands, self._buckets):
            key = (h >> shift) & mask
            bucket = buckets.get(key)
            if bucket is None:
                buckets[key] = pos  # one member: a bare int, no list
                continue
            if isinstance(bucket, int):
                bucket = buckets[key] = [bucket]
            for other in bucket[:BUCKET_COMPARE_LIMIT]:
                self.comparisons += 1
                if (hashes[other] ^ h).bit_count() <= k and uf.find(other) != uf.find(pos):
                    uf.union(other, pos)
            bucket.append(pos)

    def groups(self) -> list[list[int]]:
        return [[self.ids[p] for p in g] for g in self.uf.groups()]

    def distance(self, a_pos: int, b_pos: int) -> int:
        return (self.hashes[a_pos] ^ self.hashes[b_pos]).bit_count()


# --- texts --------------------------------------------------------------------------------

_WORD = re.compile(r"\w+")
BINS = 32
_BIN_MASK = BINS - 1
BANDS = 8
ROWS = 4
_ORDER = range(2 * BINS - 1, -1, -1)
_BIN_RANGE = range(BINS)


def normalize_text(text: str) -> str:
    """What "the same text" means for exact duplicates: whitespace runs and case ignored."""
    return " ".join(text.split()).casefold()


def shingles(text: str) -> set[int]:
    """crc32 of each word bigram (a single word for one-word texts)."""
    words = _WORD.findall(text.casefold())
    if len(words) > 1:
        grams = map(" ".join, zip(words, words[1:]))
    else:
        grams = words or [text.strip().casefold()]
    return set(map(zlib.crc32, map(str.encode, grams)))


def jaccard(a: set[int], b: set[int]) -> float:
    if not a and not b:
        return 1.0
    inter = len(a & b)
    return inter / (len(a) + len(b) - inter)


def band_keys(hashes: set[int]) -> list[int]:
    """The LSH band keys of a shingle-hash set (one-permutation MinHash, densified)."""
    ordered = sorted(hashes, reverse=True)
    mins = dict(zip(map(and_, ordered, repeat(_BIN_MASK)), ordered))  # last write = min
    sig = list(map(mins.get, _BIN_RANGE))
    if len(mins) < BINS:
        # Fill each empty bin from the next filled bin to its right (circular).
        last = None
        for i in _ORDER:
            v = sig[i & _BIN_MASK]
            if v is None:
                if last is not None:
                    sig[i & _BIN_MASK] = last + 1  # +1: a borrowed value is not the owner's
            else:
                last = v
    return list(map(hash, zip(sig[0::8], sig[1::8], sig[2::8], sig[3::8], strict=True)))


class TextGrouper:
    """Add (id, text); `groups()` gives lists of ids whose bigram Jaccard ≥ `threshold`.

    `load(id)` returns the text of an earlier id: candidates are verified exactly by
    re-reading their texts (rare), instead of keeping every shingle set in memory.
    """

    def __init__(self, load: Callable[[int], str], threshold: float = 0.8):
        if not 0 < threshold <= 1:
            raise ValueError("threshold must be in (0, 1]")
        self.threshold = threshold
        self.load = load
        self.ids: list[int] = []
        self.uf = UnionFind()
        self._buckets: list[dict[int, list[int] | int]] = [{} for _ in range(BANDS)]
        self.comparisons = 0

    def add(self, ident: int, text: str) -> None:
        pos = self.uf.add()
        self.ids.append(ident)
        mine = shingles(text)
        uf = self.uf
        checked: set[int] = set()
        for key, buckets in zip(band_keys(mine), self._buckets):
            bucket = buckets.get(key)
            if bucket is None:
                buckets[key] = pos
                continue
            if isinstance(bucket, int):
                bucket = buckets[key] = [bucket]
            for other in bucket[:BUCKET_COMPARE_LIMIT]:
                if other in checked or uf.find(other) == uf.find(pos):
                    continue
                checked.add(other)
                self.comparisons += 1
                if jaccard(mine, shingles(self.load(self.ids[other]))) >= self.threshold:
                    uf.union(other, pos)
            bucket.append(pos)

    def groups(self) -> list[list[int]]:
        return [[self.ids[p] for p in g] for g in self.uf.groups()]
