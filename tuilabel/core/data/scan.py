"""Automated data setup, as Ground Truth does it: scan a folder or S3 prefix, write an input
manifest `dataset-YYYYMMDDTHHMMSS.manifest` (UTC) beside it.

- Every `.jpg`/`.jpeg`/`.png` (any case) gives one `{"source-ref":"…"}` line.
- Every `.txt` gives one `{"source":"…"}` line per line of text (line ending stripped;
  empty and whitespace-only lines skipped).
- One data type per manifest, as GT's setup takes one: `media="image"` or `"text"`, by default
  the folder's majority (by files); what was left out (the other type, and files GT does not
  take such as `.gif`) is counted in `ScanResult.left_out`. `tuilabel check` lists both types.
- The default name carries the time to the second; a second scan in the same second waits for
  the next one rather than replace the first manifest (GT's name pattern stays intact).
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
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable, Iterator

import orjson

from tuilabel.core.data import s3
from tuilabel.core.data.sources import local_path
from tuilabel.core.store.durable import atomic_write, explain_os_error, fsync_dir
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
    media: str = "image"  # "image" or "text": the one data type written
    left_out: dict[str, int] = field(default_factory=dict)  # extension -> files not listed


@dataclass
class Listing:
    """What a scan found, before any file is read."""

    where: str  # the folder or s3:// prefix, for messages
    found: list[tuple[str, str]]  # (relative path or key, "image" | "text"), key order
    others: Counter  # extension ("" for none) -> files GT's setup does not take


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


def _extension(name: str) -> str:
    stem, dot, ext = name.rpartition(".")
    return f".{ext.lower()}" if dot and stem else ""


def _list_local(root: Path, recursive: bool, tick: _Ticker) -> Listing:
    """The wanted files as (relative posix path, kind), in key order, and the others counted."""
    found: list[tuple[str, str]] = []
    others: Counter = Counter()
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
            else:
                others[_extension(name)] += 1
        tick("listing", seen, None)
    if errors:
        exc = errors[0]
        raise UserError(f"cannot read folder {exc.filename}: {exc.strerror or exc}")
    found.sort()  # code point order == UTF-8 byte order == S3's key order
    return Listing(str(root), found, others)


def _list_s3(source: str, recursive: bool, tick: _Ticker) -> Listing:
    bucket, prefix = s3.parse_s3_uri(source)
    if prefix and not prefix.endswith("/"):
        prefix += "/"  # a prefix names a folder: `data` must not pick up `data2/` or `data-x`
    found: list[tuple[str, str]] = []
    others: Counter = Counter()
    seen = 0
    for key in s3.list_keys(s3.join_uri(bucket, prefix), delimiter=None if recursive else "/"):
        seen += 1
        if key.endswith("/"):
            continue  # a console-made "folder" object
        kind = _kind(key)
        if kind is not None:
            found.append((key, kind))
        else:
            others[_extension(key.rpartition("/")[2])] += 1
        tick("listing", seen, None)
    found.sort()  # S3 already returns this order; sorting keeps us honest with any endpoint
    return Listing(s3.join_uri(bucket, prefix), found, others)


def _choose(listing: Listing, media: str | None, recursive: bool) -> tuple[str | None, dict[str, int]]:
    """Keep one data type in `listing.found` ("image", "text", or "majority" by files; None
    keeps both). Returns (the type kept, extension -> files left out, most first)."""
    where = listing.where
    if not listing.found:
        what = "" if recursive or s3.is_s3_uri(where) else " (not looking in subfolders: --no-recursive)"
        if listing.others:
            what += f"; it has {left_out_text(_most_first(listing.others))}"
        raise UserError(f"no .jpg, .jpeg, .png or .txt files {'under' if s3.is_s3_uri(where) else 'in'} {where}{what}")
    left_out = listing.others
    if media is not None:
        counts = Counter(kind for _, kind in listing.found)
        if media == "majority":
            if counts["image"] == counts["text"]:
                raise UserError(
                    f"{where} holds as many images as .txt files ({counts['image']} each); a manifest "
                    "takes one data type: choose with --type image or --type text"
                )
            media = "image" if counts["image"] > counts["text"] else "text"
        if not counts[media]:
            wanted = "images (.jpg, .jpeg, .png)" if media == "image" else ".txt files"
            raise UserError(f"no {wanted} in {where} (--type {media})")
        other = Counter(_extension(name) for name, kind in listing.found if kind != media)
        listing.found = [item for item in listing.found if item[1] == media]
        return media, {**_most_first(other), **_most_first(left_out)}  # the other type first
    return media, _most_first(left_out)


def _most_first(counts: Counter) -> dict[str, int]:
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], not kv[0], kv[0])))  # ties: no extension last


def left_out_text(left_out: dict[str, int]) -> str:
    """`3 .txt, 1 .gif, 2 without extension` for the note scan prints."""
    return ", ".join(f"{n:,} {ext or 'without extension'}" for ext, n in left_out.items())


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
    media: str | None = None,
    recursive: bool = True,
    progress: Progress | None = None,
) -> tuple[bytes, int, int, int, str | None, dict[str, int]]:
    """The manifest bytes for `source` as if written at `manifest_location`: (data, images,
    text_lines, text_files, media, left_out). `media`: see `_choose` (None lists both types,
    as `tuilabel check` wants)."""
    tick = _Ticker(progress)
    dumps = orjson.dumps
    newline = orjson.OPT_APPEND_NEWLINE
    out: list[bytes] = []
    images = text_lines = text_files = 0

    if s3.is_s3_uri(source):
        bucket, _ = s3.parse_s3_uri(source)
        listing = _list_s3(source, recursive, tick)
        media, left_out = _choose(listing, media, recursive)
        total_text = sum(1 for _, kind in listing.found if kind == "text")
        for key, kind in listing.found:
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
        listing = _list_local(root, recursive, tick)
        media, left_out = _choose(listing, media, recursive)
        if s3.is_s3_uri(manifest_location):
            base = None  # a manifest in S3 cannot point relative to a local folder
        else:
            base = Path(manifest_location).expanduser().resolve().parent
            # relpath of root once; each file's ref is that plus its relative path
            root_rel = os.path.relpath(root, base).replace(os.sep, "/")
            root_prefix = "" if root_rel == "." else root_rel + "/"
        total_text = sum(1 for _, kind in listing.found if kind == "text")
        for rel, kind in listing.found:
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
    if images == 0 and text_lines == 0:
        raise UserError(f"no images, and only empty .txt files, in {listing.where}")
    tick("listing", len(listing.found), len(listing.found), force=True)
    return b"".join(out), images, text_lines, text_files, media, left_out


def _write_new(location: str, data: bytes) -> bool:
    """Write `location` only if nothing is there yet: True if written, False if taken.
    Locally the durable temp file is hard-linked into place, which fails if the name exists
    (atomic: two scans racing cannot both win). On S3 a HEAD comes first (a narrow race)."""
    if s3.is_s3_uri(location):
        try:
            s3.head(location)
            return False
        except s3.S3Error as exc:
            if exc.kind != "not-found":
                raise
        s3.put_bytes(location, data)
        return True
    path = Path(location)
    if not path.parent.is_dir():
        raise UserError(f"folder {path.parent} does not exist (for the manifest {path.name})")
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    atomic_write(partial, data)
    try:
        os.link(partial, path)
    except FileExistsError:
        return False
    except OSError as exc:
        raise explain_os_error(exc, path) from None
    finally:
        partial.unlink(missing_ok=True)
        fsync_dir(path.parent)
    return True


def _write(location: str, data: bytes) -> None:
    if s3.is_s3_uri(location):
        s3.put_bytes(location, data)
        return
    path = Path(location)
    if not path.parent.is_dir():
        raise UserError(f"folder {path.parent} does not exist (for the manifest {path.name})")
    atomic_write(path, data)


def resolve_output(source: str, output: str | None, now: datetime) -> tuple[str, bool]:
    """Where the manifest goes, and whether that is the default (dated) name: `output` as
    given (a folder — existing, or ending in `/` — gets the default name inside it), else
    beside the source."""
    if not output:
        return default_output(source, now), True
    if s3.is_s3_uri(output):
        bucket, key = s3.parse_s3_uri(output)
        if not key or key.endswith("/"):
            return s3.join_uri(bucket, key + manifest_name(now)), True
        return output, False
    path = Path(output).expanduser()
    if output.endswith(("/", os.sep)) or path.is_dir():
        return str((path / manifest_name(now)).resolve()), True
    return str(path.resolve()), False


#: How many seconds a scan moves on when the dated name is taken, before it gives up.
_NAME_TRIES = 10


def scan(
    source: str,
    output: str | None = None,
    *,
    media: str = "majority",
    recursive: bool = True,
    progress: Progress | None = None,
    now: datetime | None = None,
) -> ScanResult:
    """Scan `source` (folder or s3:// prefix) and write its input manifest. `media`: "image",
    "text" or "majority"; a dated name already taken moves on to the next second."""
    source = local_path(source)
    output = local_path(output) if output else None
    when = now or datetime.now(timezone.utc)
    location, dated = resolve_output(source, output, when)
    data, images, text_lines, text_files, chosen, left_out = build_manifest(
        source, location, media=media, recursive=recursive, progress=progress
    )
    if not dated:
        _write(location, data)
    else:
        for _ in range(_NAME_TRIES):
            if _write_new(location, data):
                break
            # GT's name is the time to the second: rather than overwrite the manifest a scan
            # wrote this second, or break the name pattern with a suffix, take the next second.
            when = when.replace(microsecond=0) + timedelta(seconds=1)
            if now is None:
                time.sleep(max(0.0, (when - datetime.now(timezone.utc)).total_seconds()))
            location, _ = resolve_output(source, output, when)
        else:
            raise UserError(f"{_NAME_TRIES} manifests were written beside {source} in {_NAME_TRIES} seconds; give -o FILE")
    return ScanResult(
        manifest=location,
        images=images,
        text_lines=text_lines,
        text_files=text_files,
        lines=images + text_lines,
        media=chosen or "image",
        left_out=left_out,
    )
