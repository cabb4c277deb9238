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

Texts — word bigrams, hashed for many texts at once with numpy (`shingle_hashes`); MinHash
and LSH candidates by rensa (Rust); every candidate verified with the exact Jaccard of its
bigram sets, so the only possible error is a missed pair (recall), never a false group.
Bands and rows come from the threshold (`lsh_plan`); see TextGrouper for why.
"""

from __future__ import annotations

import math
import zlib
from array import array

BUCKET_COMPARE_LIMIT = 200  # compare a newcomer with at most this many bucket members


class UnionFind:
    def __init__(self, size: int = 0) -> None:
        self.parent: array = array("l", range(size))

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

    def groups(self, members=None) -> list[list[int]]:
        """Groups of two or more, each in position order; `members`: only these positions
        (ascending) can be in a group."""
        by_root: dict[int, list[int]] = {}
        for i in range(len(self.parent)) if members is None else members:
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

BUCKET_PAIR_LIMIT = 50  # in one LSH bucket, pair each text with at most the next 50 members
_SEED = 0x7475696C  # fixed: the same input gives the same candidates, run after run
_CHUNK = 2048  # texts tokenised per numpy pass (its temporaries: ~4 MB)
_TARGET_RECALL = 0.98  # LSH catch probability for a pair exactly at the threshold
_MAX_PERM = 160


def normalize_text(text: str) -> str:
    """What "the same text" means for exact duplicates: whitespace runs and case ignored."""
    return " ".join(text.split()).casefold()


def lsh_plan(threshold: float) -> tuple[int, int]:
    """(bands, rows) for MinHash LSH at `threshold`: the most rows per band (the steepest
    S-curve, so the many weakly similar pairs of real text stay out of the buckets) whose
    band count still catches a pair at the threshold with probability ≥ 98 %, within 160
    permutations. At 0.8: 17 bands of 7 rows (pair caught: 0.98 at J = 0.8, 0.12 at 0.5,
    0.004 at 0.3). Below ~0.03 even one row needs more bands than that: all 160 of one row."""
    best = (_MAX_PERM, 1)
    for rows in range(1, 33):
        p = threshold**rows
        bands = 1 if p >= _TARGET_RECALL else math.ceil(math.log(1 - _TARGET_RECALL) / math.log1p(-p))
        if bands * rows > _MAX_PERM:
            break
        best = (bands, rows)
    return best


class _NonWordToSpace(dict):
    r"""str.translate table: every character that is not \w (re's definition: alphanumeric
    or "_") becomes a space; NUL, the text separator, stays. Filled as characters are met."""

    def __missing__(self, code: int) -> int:
        ch = chr(code)
        self[code] = value = code if code == 0 or ch == "_" or ch.isalnum() else 32
        return value


_NON_WORD = _NonWordToSpace()


def _mix(np, x):
    """splitmix64's finaliser: spreads polynomial hashes over all 64 bits."""
    x = x ^ (x >> np.uint64(30))
    x = x * np.uint64(0xBF58476D1CE4E5B9)
    x = x ^ (x >> np.uint64(27))
    x = x * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def shingle_hashes(texts: list[str]):
    r"""Word-bigram hashes of many texts at once: (uint32 hashes of all texts, concatenated;
    hash count per text). Words are runs of \w in the case-folded text, as `re` finds them;
    a one-word text is its word, a text without words its stripped, folded self.

    Vectorised (numpy) over the texts joined by NUL: per-text Python string work was ~20 µs
    a text, most of `check`'s time on 100k texts; this is ~2 µs."""
    import numpy as np

    n = len(texts)
    joined = "\x00".join(texts)
    if joined.count("\x00") != n - 1:  # a text holds NUL itself: keep the separators unique
        joined = "\x00".join(t.replace("\x00", " ") for t in texts)
    folded = joined.casefold()
    if not folded.isascii():
        folded = folded.translate(_NON_WORD)  # then every non-ASCII byte left is a word byte
    data = np.frombuffer(folded.encode(), np.uint8)
    is_word = _word_bytes(np)[data]
    edges = np.diff(is_word.view(np.int8), prepend=np.int8(0), append=np.int8(0))
    starts = np.flatnonzero(edges == 1)
    lengths = np.flatnonzero(edges == -1) - starts
    doc = np.searchsorted(np.flatnonzero(data == 0), starts)  # separators before each word
    if len(starts):
        # Polynomial hash of each word's bytes: sum of byte * P**position, mod 2**64.
        first = np.cumsum(lengths) - lengths
        pos = np.arange(int(lengths.sum())) - np.repeat(first, lengths)
        powers = np.ones(int(lengths.max()), np.uint64)
        powers[1:] = np.cumprod(np.full(len(powers) - 1, 0x100000001B3, np.uint64))
        words = _mix(np, np.add.reduceat(data[is_word].astype(np.uint64) * powers[pos], first))
    else:
        words = np.zeros(0, np.uint64)
    same = doc[:-1] == doc[1:]
    tokens = _mix(np, words[:-1][same] * np.uint64(0x9E3779B97F4A7C15) + words[1:][same])
    owner = doc[:-1][same]
    per_doc = np.bincount(doc, minlength=n)
    lone = np.flatnonzero(per_doc == 1)
    bare = np.flatnonzero(per_doc == 0)
    if len(lone) or len(bare):
        bare_hashes = [_bare_hash(texts[i]) for i in bare.tolist()]
        tokens = np.concatenate([tokens, words[np.searchsorted(doc, lone)], np.array(bare_hashes, np.uint64)])
        owner = np.concatenate([owner, lone, bare])
        order = np.argsort(owner, kind="stable")
        tokens, owner = tokens[order], owner[order]
    return (tokens >> np.uint64(32)).astype(np.uint32), np.bincount(owner, minlength=n)


def _bare_hash(text: str) -> int:
    return zlib.crc32(text.replace("\x00", " ").strip().casefold().encode()) << 32


def _word_bytes(np):
    table = np.zeros(256, bool)
    for c in b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_":
        table[c] = True
    table[0x80:] = True  # UTF-8 of a word character (non-word ones became spaces)
    return table


def jaccard(a: set[int], b: set[int]) -> float:
    if not a and not b:
        return 1.0
    inter = len(a & b)
    return inter / (len(a) + len(b) - inter)


class TextGrouper:
    """Add (id, text); `groups()` gives lists of ids whose word-bigram Jaccard ≥ `threshold`.

    Texts are tokenised in chunks as they come (`shingle_hashes`); only their 4-byte bigram
    hashes are kept. `groups()` then finds candidates with MinHash LSH (rensa, in Rust:
    ~30x faster than the same MinHash in numpy, measured) and verifies each candidate with
    the exact Jaccard of its bigram sets, so the only possible error is a missed pair.

    Why candidates used to explode on real text: with few rows per band, a band's key is
    decided by a handful of frequent bigrams ("of the"), so buckets hold thousands of
    unrelated texts (5,624 in one bucket with a 36-word vocabulary). `lsh_plan` takes the
    most rows per band that keeps recall, so a bucket holds texts that agree on 7 minimum
    hashes at once. Texts that share boilerplate still meet in buckets; `_likely` drops
    those pairs by their MinHash estimate before any exact check.
    """

    def __init__(self, threshold: float = 0.8):
        if not 0 < threshold <= 1:
            raise ValueError("threshold must be in (0, 1]")
        self.threshold = threshold
        self.bands, self.rows = lsh_plan(threshold)
        self.ids: list[int] = []
        self._pending: list[str] = []
        self._hashes: list = []  # uint32 arrays, one per chunk
        self._counts: list = []
        self.flagged = 0  # texts that share an LSH bucket with another
        self.candidates = 0  # distinct candidate pairs
        self.largest_bucket = 0  # members of the largest bucket (counted up to the pair limit)
        self.comparisons = 0  # candidate pairs whose exact Jaccard was computed

    def add(self, ident: int, text: str) -> None:
        self.ids.append(ident)
        self._pending.append(text)
        if len(self._pending) >= _CHUNK:
            self._tokenise()

    def _tokenise(self) -> None:
        if self._pending:
            hashes, counts = shingle_hashes(self._pending)
            self._hashes.append(hashes)
            self._counts.append(counts)
            self._pending = []

    def groups(self) -> list[list[int]]:
        self._tokenise()
        n = len(self.ids)
        if n < 2:
            return []
        import numpy as np
        from rensa import RMinHash, RMinHashLSH

        hashes = np.concatenate(self._hashes)
        counts = np.concatenate(self._counts)
        offsets = np.zeros(n + 1, np.uint64)
        np.cumsum(counts, out=offsets[1:])
        perms = self.bands * self.rows
        # Pass 1, every text: which texts share any bucket? (Rust, no Python object per text.)
        matrix = RMinHash.digest_matrix_from_flat_token_hashes(hashes.astype(np.uint64), offsets, perms, _SEED)
        flags = RMinHashLSH(self.threshold, perms, self.bands).query_duplicate_flags_matrix_one_shot(matrix)
        del matrix
        rows = np.flatnonzero(np.fromiter(flags, bool, n))
        self.flagged = len(rows)
        if len(rows) < 2:
            return []
        # Pass 2, flagged texts only: the same signatures (same seed), banded the same way
        # (consecutive rows), give the pairs themselves. In blocks: to_rows makes Python ints.
        keys = np.empty((len(rows), self.bands), np.uint64)
        sigs = np.empty((len(rows), perms), np.uint32)
        weights = _mix(np, np.arange(1, self.rows + 1, dtype=np.uint64))
        for start in range(0, len(rows), _CHUNK):
            block = rows[start : start + _CHUNK]
            block_counts = counts[block]
            block_offsets = np.zeros(len(block) + 1, np.uint64)
            np.cumsum(block_counts, out=block_offsets[1:])
            gather = np.repeat(offsets[block].astype(np.int64) - block_offsets[:-1].astype(np.int64), block_counts)
            gather += np.arange(len(gather))
            sub = RMinHash.digest_matrix_from_flat_token_hashes(
                hashes[gather].astype(np.uint64), block_offsets, perms, _SEED
            )
            sigs[start : start + len(block)] = sub.to_rows()
            sig = sigs[start : start + len(block)].astype(np.uint64).reshape(len(block), self.bands, self.rows)
            keys[start : start + len(block)] = (sig * weights).sum(axis=2)  # one key per band
        found = []
        for band in range(self.bands):
            order = np.argsort(keys[:, band], kind="stable")
            sorted_keys = keys[order, band]
            # Members of a bucket are adjacent once sorted: pair each with the next ones.
            for d in range(1, BUCKET_PAIR_LIMIT + 1):
                same = np.flatnonzero(sorted_keys[:-d] == sorted_keys[d:])
                if not len(same):
                    break
                self.largest_bucket = max(self.largest_bucket, d + 1)
                a, b = order[same], order[same + d]
                found.append(np.minimum(a, b) * len(rows) + np.maximum(a, b))
        pairs = np.concatenate(found) if found else np.zeros(0, np.int64)
        pairs.sort()  # then drop repeats (np.unique's hash table was 7x slower on 12M pairs)
        pairs = pairs[np.concatenate(([True], pairs[1:] != pairs[:-1]))] if len(pairs) else pairs
        self.candidates = len(pairs)
        firsts, seconds = self._likely(np, sigs, pairs // len(rows), pairs % len(rows))
        return self._verify(rows[firsts], rows[seconds], hashes, offsets)

    def _likely(self, np, sigs, firsts, seconds):
        """The candidate pairs whose MinHash estimate (equal rows of all the permutations) is
        within 4.5 standard deviations of the threshold. Texts sharing boilerplate (Jaccard
        ~0.5) fill buckets too; this drops them in numpy instead of a Python set each
        (a pair at the threshold is dropped with probability < 1e-5)."""
        perms = sigs.shape[1]
        t = self.threshold
        floor = perms * (t - 4.5 * math.sqrt(t * (1 - t) / perms))
        keep = np.zeros(len(firsts), bool)
        for start in range(0, len(firsts), 4096):  # 2 MB blocks: reused, no fresh pages each time
            a, b = firsts[start : start + 4096], seconds[start : start + 4096]
            keep[start : start + len(a)] = (sigs[a] == sigs[b]).sum(axis=1) >= floor
        return firsts[keep], seconds[keep]

    def _verify(self, firsts, seconds, hashes, offsets) -> list[list[int]]:
        """Exact Jaccard of each candidate pair (a length filter first: J ≤ small / large);
        pairs already in one group are skipped, so a bucket of copies costs one check each."""
        uf = UnionFind(len(self.ids))
        sets: dict[int, set[int]] = {}
        bounds = offsets.tolist()
        view = memoryview(hashes)  # slicing a memoryview is the cheapest way to Python ints
        t = self.threshold

        def shingle_set(pos: int) -> set[int]:
            s = sets.get(pos)
            if s is None:
                s = sets[pos] = set(view[bounds[pos] : bounds[pos + 1]])
            return s

        for a, b in zip(firsts.tolist(), seconds.tolist()):
            if uf.find(a) == uf.find(b):
                continue
            sa, sb = shingle_set(a), shingle_set(b)
            small, large = sorted((len(sa), len(sb)))
            if small < t * large:
                continue
            self.comparisons += 1
            if jaccard(sa, sb) >= t:
                uf.union(a, b)
        return [[self.ids[p] for p in g] for g in uf.groups(sorted(sets))]
