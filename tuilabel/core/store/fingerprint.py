"""A whole-input fingerprint: SHA-256 of the manifest's bytes, read in 1 MB blocks.

It runs in a background thread while labeling starts (hashlib releases the GIL on blocks this
size, so keys are not slowed). SHA-256 because it is as fast as any hash in the standard library
on CPUs with SHA extensions: a 175 MB manifest (page cache warm, 2 loaded cores, 2026-12-02) in
0.13-0.24 s, sha1 0.20-0.22, blake2b 0.21-0.24, md5 0.27-0.43. xxhash's xxh3_128 took 0.025 s:
10x faster, but the hash is off the key path and a cold read costs more than either, so it is
not worth a dependency. Digests are taken at several lengths in one pass, so an input that only
grew is checked against its old length's prefix.
"""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path

ALGORITHM = "sha256"
_BLOCK = 1024 * 1024


def digests(path: Path, lengths: list[int], mtime_ns: int, stop: threading.Event) -> dict[int, str] | None:
    """{length: hex digest of the first `length` bytes}; None if stopped, or if the file is
    not the one the session opened any more (other mtime, or shorter than asked)."""
    wanted = sorted(set(lengths))
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if st.st_mtime_ns != mtime_ns or st.st_size < wanted[-1]:
            return None
        h = hashlib.new(ALGORITHM)
        out: dict[int, str] = {}
        pos = 0
        for length in wanted:
            while pos < length:
                if stop.is_set():
                    return None
                block = os.pread(fd, min(_BLOCK, length - pos), pos)
                if not block:
                    return None
                h.update(block)
                pos += len(block)
            out[length] = h.hexdigest()
        return out
    except OSError:
        return None
    finally:
        os.close(fd)
