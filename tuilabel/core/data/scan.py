"""Automated data setup, as Ground Truth does it: scan a folder or S3 prefix, write an input
manifest `dataset-YYYYMMDDTHHMMSS.manifest` (UTC) beside it.

- Every `.jpg`/`.jpeg`/`.png` (any case) gives one `{"source-ref":"…"}` line.
- Every `.txt` gives one `{"source":"…"}` line per line of text (line ending stripped;
  empty and whitespace-only lines skipped).
- Lines follow key order: S3's lexicographic key order, and for a local folder the same
  order over the relative paths with `/` separators (so a folder and its copy in S3 scan
  identically). Text lines sit at their file's place in that order.
- Refs: for S3, full `s3://bucket/key` URIs (what GT writes). For a local folder, paths
  relative to the manifest's folder, so the folder and its manifest can be moved or copied
  together; absolute paths only when the manifest goes to S3 while the images stay local.
- Local scans skip hidden files and folders (names starting with `.`: `.git`, macOS
  `._x.jpg` resource forks); S3 scans take every key, as GT does.

The core reports progress through a callback and never prints.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterator

import orjson

from tuilabel.core.data import s3
from tuilabel.core.data.sources import local_path
from tuilabel.core.store.durable import atomic_write
from tuilabel.core.errors import UserError

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png")
TEXT_EXTENSIONS = (".txt",)

# progress(phase, done, total): phase is "listing" (total None) or "reading text".
Progress = Callable[[str, int, "int | None"], None]

_PROGRESS_EVERY = 0.1  # seconds between progress callbacks


@dataclass(frozen=True)
class ScanResult:
    manifest: str  # where the manifest was written (absolute path or s3:// URI)
    images: int
    text_lines: int
    text_files: int
    lines: int  # images + text_lines


def manifest_name(now: datetime | None = None) -> str:
    now = now or datetime.now(timezone.utc)
    if now.tzinfo is not None:
        now = now.astimezone(timezone.utc)
    return f"dataset-{now:%Y%m%dT%H%M%S}.manifest"


def default_output(source: str, now: datetime | None = None) -> str:
    """Beside the source: `s3://b/data/set` → `s3://b/data/dataset-….manifest`,
    `/x/photos` → `/x/dataset-….manifest`. A bucket root keeps the manifest in its root."""
    name = manifest_name(now)
    if s3.is_s3_uri(source):
        bucket, prefix = s3.parse_s3_uri(source)
        parent = prefix.rstrip("/").rpartition("/")[0]
        return s3.join_uri(bucket, f"{parent}/{name}" if parent else name)
    folder = Path(source).expanduser().resolve()
    return str(folder.parent / name)


def _kind(name: str) -> str | None:
    low = name.lower()
    if low.endswith(IMAGE_EXTENSIONS):
        return "image"
    if low.endswith(TEXT_EXTENSIONS):
        return "text"
    return None


class _Ticker:
    def __init__(self, progress: Progress | None) -> None:
        self.progress = progress
        self.last = 0.0

    def __call__(self, phase: str, done: int, total: int | None, force: bool = False) -> None:
        if self.progress is None:
            return
        now = time.monotonic()
        if force or now - self.last >= _PROGRESS_EVERY:
            self.last = now
            self.progress(phase, done, total)


# --- listing ------------------------------------------------------------------------------


def _list_local(root: Path, recursive: bool, tick: _Ticker) -> list[tuple[str, str]]:
    """(relative posix path, kind) of the wanted files, in key order."""
    found: list[tuple[str, str]] = []
    seen = 0
    errors: list[OSError] = []

    def onerror(exc: OSError) -> None:
        errors.append(exc)

    for dirpath, dirnames, filenames in os.walk(root, onerror=onerror):
        if errors:
            break
        dirnames[:] = [d for d in dirnames if not d.startswith(".")] if recursive else []
        rel_dir = os.path.relpath(dirpath, root)
        prefix = "" if rel_dir == "." else rel_dir.replace(os.sep, "/") + "/"
        for name in filenames:
            seen += 1
            if name.startswith("."):
                continue
            kind = _kind(name)
            if kind is not None:
                found.append((prefix + name, kind))
        tick("listing", seen, None)
    if errors:
        exc = errors[0]
        raise UserError(f"cannot read folder {exc.filename}: {exc.strerror or exc}")
    found.sort()  # code point order == UTF-8 byte order == S3's key order
    return found


def _list_s3(source: str, recursive: bool, tick: _Ticker) -> tuple[str, list[tuple[str, str]]]:
    bucket, prefix = s3.parse_s3_uri(source)
    if prefix and not prefix.endswith("/"):
        prefix += "/"  # a prefix names a folder: `data` must not pick up `data2/` or `data-x`
    found: list[tuple[str, str]] = []
    seen = 0
    for key in s3.list_keys(s3.join_uri(bucket, prefix), delimiter=None if recursive else "/"):
        seen += 1
        kind = _kind(key)
        if kind is not None and not key.endswith("/"):
            found.append((key, kind))
        tick("listing", seen, None)
    found.sort()  # S3 already returns this order; sorting keeps us honest with any endpoint
    return s3.join_uri(bucket, prefix), found


# --- manifest lines -----------------------------------------------------------------------


def _text_lines(data: bytes, where: str) -> Iterator[str]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UserError(f"{where} is not UTF-8 text (bad byte at offset {exc.start})") from None
    for line in text.split("\n"):  # not splitlines(): U+2028, \x0c... are text, not line ends
        if line.endswith("\r"):
            line = line[:-1]
        if line.strip():
            yield line


def _check_local_source(source: str) -> Path:
    root = Path(source).expanduser()
    if not root.exists():
        raise UserError(f"folder {root} does not exist")
    if not root.is_dir():
        raise UserError(f"{root} is not a folder (scan takes a folder or an s3:// prefix)")
    if not os.access(root, os.R_OK | os.X_OK):
        raise UserError(f"cannot read folder {root}: permission denied")
    return root.resolve()


def build_manifest(
    source: str,
    manifest_location: str,
    *,
    recursive: bool = True,
    progress: Progress | None = None,
) -> tuple[bytes, int, int, int]:
    """The manifest bytes for `source` as if written at `manifest_location`:
    (data, images, text_lines, text_files)."""
    tick = _Ticker(progress)
    dumps = orjson.dumps
    newline = orjson.OPT_APPEND_NEWLINE
    out: list[bytes] = []
    images = text_lines = text_files = 0

    if s3.is_s3_uri(source):
        bucket, _ = s3.parse_s3_uri(source)
        where, found = _list_s3(source, recursive, tick)
        if not found:
            raise UserError(f"no .jpg, .jpeg, .png or .txt files under {where}")
        total_text = sum(1 for _, kind in found if kind == "text")
        for key, kind in found:
            uri = s3.join_uri(bucket, key)
            if kind == "image":
                out.append(dumps({"source-ref": uri}, option=newline))
                images += 1
            else:
                for line in _text_lines(s3.get_bytes(uri), uri):
                    out.append(dumps({"source": line}, option=newline))
                    text_lines += 1
                text_files += 1
                tick("reading text", text_files, total_text)
    else:
        root = _check_local_source(source)
        found = _list_local(root, recursive, tick)
        if not found:
            what = "" if recursive else " (not looking in subfolders: --no-recursive)"
            raise UserError(f"no .jpg, .jpeg, .png or .txt files in {root}{what}")
        if s3.is_s3_uri(manifest_location):
            base = None  # a manifest in S3 cannot point relative to a local folder
        else:
            base = Path(manifest_location).expanduser().resolve().parent
            # relpath of root once; each file's ref is that plus its relative path
            root_rel = os.path.relpath(root, base).replace(os.sep, "/")
            root_prefix = "" if root_rel == "." else root_rel + "/"
        total_text = sum(1 for _, kind in found if kind == "text")
        for rel, kind in found:
            if kind == "image":
                ref = str(root / rel) if base is None else root_prefix + rel
                out.append(dumps({"source-ref": ref}, option=newline))
                images += 1
            else:
                path = root / rel
                try:
                    data = path.read_bytes()
                except OSError as exc:
                    raise UserError(f"cannot read {path}: {exc.strerror or exc}") from None
                for line in _text_lines(data, str(path)):
                    out.append(dumps({"source": line}, option=newline))
                    text_lines += 1
                text_files += 1
                tick("reading text", text_files, total_text)
        where = str(root)
    if images == 0 and text_lines == 0:
        raise UserError(f"no images, and only empty .txt files, in {where}")
    tick("listing", len(found), len(found), force=True)
    return b"".join(out), images, text_lines, text_files


def _write_local(path: Path, data: bytes) -> None:
    folder = path.parent
    if not folder.is_dir():
        raise UserError(f"folder {folder} does not exist (for the manifest {path.name})")
    atomic_write(path, data)


def resolve_output(source: str, output: str | None, now: datetime | None = None) -> str:
    """Where the manifest goes: `output` as given (a folder — existing, or ending in `/` —
    gets the default name inside it), else beside the source."""
    if not output:
        return default_output(source, now)
    if s3.is_s3_uri(output):
        bucket, key = s3.parse_s3_uri(output)
        if not key or key.endswith("/"):
            return s3.join_uri(bucket, key + manifest_name(now))
        return output
    path = Path(output).expanduser()
    if output.endswith(("/", os.sep)) or path.is_dir():
        return str((path / manifest_name(now)).resolve())
    return str(path.resolve())


def scan(
    source: str,
    output: str | None = None,
    *,
    recursive: bool = True,
    progress: Progress | None = None,
    now: datetime | None = None,
) -> ScanResult:
    """Scan `source` (folder or s3:// prefix) and write its input manifest."""
    source = local_path(source)
    location = resolve_output(source, local_path(output) if output else None, now)
    data, images, text_lines, text_files = build_manifest(
        source, location, recursive=recursive, progress=progress
    )
    if s3.is_s3_uri(location):
        s3.put_bytes(location, data)
    else:
        _write_local(Path(location), data)
    return ScanResult(
        manifest=location,
        images=images,
        text_lines=text_lines,
        text_files=text_files,
        lines=images + text_lines,
    )
