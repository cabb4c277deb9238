"""`tuilabel check`: find what would hurt a labeling job before it starts.

SOURCE is a manifest (local or s3://…/x.manifest), a folder or an s3:// prefix (listed as
`tuilabel scan` would, nothing written), or a tuilabel job folder (its input manifest, plus
label balance from its answers). Records stream through once; memory per record is a few
bytes in arrays and dicts (hashes, offsets) plus, for texts, about 4 bytes per word pair for
the near-duplicate check; never the records themselves.

Categories (each finding names its line):
- errors: `invalid` (the reader's rules: manifest.parse_record), `missing` (source-ref that
  cannot be fetched, empty source), `unreadable` (Pillow cannot decode the whole image:
  truncated, corrupt, not JPEG/PNG, content that does not match the extension),
  `over-limit` (GT's 40 MB, 100 megapixels incl. decompression bombs, 20,000 characters per
  attribute, 100,000 per line), `duplicate` (same image bytes, or same text after folding
  whitespace and case: every member of a group but the first), `mixed` (more than one data
  type in one manifest: one finding, at the first record of the smaller type; `write_clean`
  keeps both types, since which to keep is the user's choice), `bad-box` (an object-detection
  label with a box outside the image, a size ≤ 0, an unknown class_id, or no image_size:
  one finding per fault, box_lines.read_box_label);
- warnings: `near-duplicate` (near_duplicates.py), and label balance (few samples, biased).

`write_clean` writes the input's lines minus the error records (the first of each duplicate
group stays), byte for byte; near-duplicates stay unless asked.
"""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
import time
import warnings
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import orjson

from tuilabel.core.data import s3
from tuilabel.core.errors import UserError
from tuilabel.core.data.manifest import BadRecord, Manifest, is_blank, parse_record
from tuilabel.core.gt.box_lines import box_attributes, read_box_label
from tuilabel.core.gt.limits import IMAGE_FORMATS, MAX_ATTRIBUTE_CHARS, MAX_IMAGE_BYTES, MAX_IMAGE_PIXELS, MAX_LINE_CHARS
from tuilabel.core.quality.near_duplicates import ImageGrouper, TextGrouper, dhash, normalize_text

ERROR_CATEGORIES = ("invalid", "missing", "unreadable", "over-limit", "duplicate", "mixed", "bad-box")
WARNING_CATEGORIES = ("near-duplicate", "few-samples", "biased")
_EXPECTED_FORMAT = {".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG"}

# progress(phase, done, total): phase "listing" (total None) or "records" (bytes read / size).
Progress = Callable[[str, int, "int | None"], None]


@dataclass
class Finding:
    category: str
    line: int  # 1-based line in the manifest (for a folder: position in the listing)
    ref: str | None  # source-ref (images), or None
    reason: str


@dataclass
class Group:
    kind: str  # "image" or "text"
    lines: list[int]  # 1-based, first one is kept by write_clean
    refs: list[str | None]
    detail: str = ""  # e.g. "same bytes", "Hamming distance ≤ 4"


@dataclass
class Balance:
    attribute: str
    task_type: str
    classes: dict[str, int]  # largest first
    ratio: float | None  # largest / smallest (None when a class has no samples)
    few: list[str]  # classes under min_count
    min_count: int
    biased: bool


@dataclass
class CheckReport:
    source: str
    kind: str  # "manifest", "folder", "s3-prefix", "job"
    lines: int = 0
    records: int = 0
    images: int = 0
    texts: int = 0
    findings: list[Finding] = field(default_factory=list)
    duplicates: list[Group] = field(default_factory=list)
    near_duplicates: list[Group] = field(default_factory=list)
    balance: list[Balance] = field(default_factory=list)
    settings: dict = field(default_factory=dict)
    seconds: float = 0.0
    clean_written: str | None = None
    clean_lines: int | None = None

    def counts(self) -> dict[str, int]:
        out = {c: 0 for c in ERROR_CATEGORIES + WARNING_CATEGORIES}
        for f in self.findings:
            out[f.category] += 1
        out["near-duplicate"] = sum(len(g.lines) - 1 for g in self.near_duplicates)
        for b in self.balance:
            out["few-samples"] += len(b.few)
            out["biased"] += int(b.biased)
        return out

    @property
    def errors(self) -> int:
        c = self.counts()
        return sum(c[k] for k in ERROR_CATEGORIES)

    @property
    def warnings(self) -> int:
        c = self.counts()
        return sum(c[k] for k in WARNING_CATEGORIES)

    def to_json(self) -> dict:
        out = asdict(self)
        out["counts"] = self.counts()
        out["errors"] = self.errors
        out["warnings"] = self.warnings
        return out


# --- one image ----------------------------------------------------------------------------


def inspect_image(ref: str, base: str) -> tuple:
    """("ok", digest, dhash) or (category, reason). Runs in pool threads: Pillow releases
    the GIL while decoding, so decodes overlap."""
    from PIL import Image

    from tuilabel.core.data.sources import SourceError, fetch, resolve

    try:
        where = resolve(ref, base)
        if not s3.is_s3_uri(where) and "://" not in where:
            try:
                size = os.stat(where).st_size
            except OSError:
                size = 0  # fetch gives the precise message
            if size > MAX_IMAGE_BYTES:
                return ("over-limit", f"{size / 1048576:.1f} MB, over GT's 40 MB image limit")
        data = fetch(ref, base, MAX_IMAGE_BYTES)
    except SourceError as exc:
        text = str(exc)
        if "over GT's 40 MB" in text:
            return ("over-limit", text)
        return ("missing", text)
    digest = hashlib.blake2b(data, digest_size=16).digest()
    try:
        with Image.open(io.BytesIO(data)) as im:
            width, height = im.size
            fmt = im.format
            if width * height > MAX_IMAGE_PIXELS:
                return (
                    "over-limit",
                    f"{width}x{height} is {width * height / 1e6:.1f} megapixels, over GT's 100",
                )
            if fmt not in IMAGE_FORMATS:
                return ("unreadable", f"{fmt} image; GT takes JPEG and PNG only")
            ext = os.path.splitext(ref.split("?", 1)[0])[1].lower()
            expected = _EXPECTED_FORMAT.get(ext)
            if expected is not None and expected != fmt:
                return ("unreadable", f"{fmt} data in a {ext} file (wrong extension)")
            if fmt == "JPEG":
                # Decode at 1/8 scale: every byte is still read, so truncation still shows.
                im.draft("L", (64, 64))
            im.load()
            return ("ok", digest, dhash(im))
    except Image.DecompressionBombError as exc:
        return ("over-limit", f"decompression bomb: {exc}")
    except Image.UnidentifiedImageError:
        return ("unreadable", "not an image Pillow can identify (corrupt or not an image)")
    except (OSError, ValueError, SyntaxError, EOFError, IndexError, TypeError) as exc:
        text = str(exc) or type(exc).__name__
        if "truncated" in text:
            return ("unreadable", f"truncated: {text}")
        return ("unreadable", f"cannot decode: {text}")


def _classify_bad(raw: bytes, reason: str) -> tuple[str, str]:
    """A line the reader refused: is it missing data, over GT's limits, or invalid?"""
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError:
        obj = None
    if isinstance(obj, dict):
        for key in ("source-ref", "source"):
            value = obj.get(key)
            if isinstance(value, str) and not value.strip() and not ("source" in obj and "source-ref" in obj):
                return "missing", reason
        for name, item in obj.items():
            if isinstance(item, str) and len(item) > MAX_ATTRIBUTE_CHARS:
                return "over-limit", reason
    if len(raw) > MAX_LINE_CHARS:
        try:
            if len(raw.decode("utf-8")) > MAX_LINE_CHARS:
                return "over-limit", reason
        except UnicodeDecodeError:
            pass
    return "invalid", reason


# --- one data type per job ------------------------------------------------------------------

_MEDIA = {"image": "images (source-ref)", "text": "texts (source)", "text-ref": "text files (source-ref to .txt)"}


@dataclass
class MediaMix:
    """The data types seen. A GT job takes one: images, texts inline in `source`, or texts by
    `source-ref` to .txt objects; a manifest mixing them fails on every record of the others."""

    counts: dict[str, int] = field(default_factory=dict)
    first: dict[str, int] = field(default_factory=dict)  # kind -> its first line index

    def add(self, index: int, record: dict) -> None:
        ref = record.get("source-ref")
        kind = "text" if ref is None else "text-ref" if ref.lower().endswith(".txt") else "image"
        self.counts[kind] = self.counts.get(kind, 0) + 1
        self.first.setdefault(kind, index)

    def finding(self) -> Finding | None:
        if len(self.counts) < 2:
            return None
        kinds = sorted(self.counts, key=lambda k: (-self.counts[k], self.first[k]))
        parts = ", ".join(f"{self.counts[k]:,} {_MEDIA[k]} from line {self.first[k] + 1}" for k in kinds)
        return Finding(
            "mixed",
            self.first[kinds[-1]] + 1,  # the smaller type (the later one on a tie)
            None,
            f"mixes {parts}; a GT job takes one data type: split it (`tuilabel scan --type` lists one)",
        )


# --- sources ------------------------------------------------------------------------------


@dataclass
class _Input:
    manifest: Manifest
    kind: str
    display: str
    by_ref: bool  # report refs rather than line numbers (folders, prefixes)
    job_root: Path | None = None


def _open_source(source: str, tmp: Path, clean_location: str | None, progress: Progress | None) -> _Input:
    from tuilabel.core.data import scan
    from tuilabel.core.gt.job import JobFolder
    from tuilabel.core.data.sources import base_of

    if s3.is_s3_uri(source):
        if source.lower().endswith((".manifest", ".jsonl", ".json")):
            local = s3.download(source, tmp / "input.manifest")
            return _Input(Manifest(local, base=base_of(source), display=source), "manifest", source, False)
        location = clean_location or scan.default_output(source)
        data, *_ = scan.build_manifest(source, location, progress=progress)
        path = tmp / "listing.manifest"
        path.write_bytes(data)
        return _Input(Manifest(path, base=base_of(location), display=source), "s3-prefix", source, True)
    path = Path(source).expanduser()
    if not path.exists():
        raise UserError(f"{path} does not exist")
    if path.is_dir():
        folder = JobFolder(path)
        if folder.exists():
            spec = folder.load_spec()
            if s3.is_s3_uri(spec.input):
                local = folder.input_cache if folder.input_cache.is_file() else s3.download(
                    spec.input, tmp / "input.manifest"
                )
                base = base_of(spec.input)
            else:
                local = Path(spec.input).expanduser()
                if not local.is_absolute():
                    local = (path / local).resolve()
                if not local.is_file():
                    raise UserError(f"the input manifest of job {spec.name} is gone: {local}")
                base = base_of(local)
            return _Input(Manifest(local, base=base, display=str(local)), "job", str(path), False, path)
        location = clean_location or scan.default_output(str(path))
        if s3.is_s3_uri(location):
            location = scan.default_output(str(path))
        data, *_ = scan.build_manifest(str(path), location, progress=progress)
        listing = tmp / "listing.manifest"
        listing.write_bytes(data)
        return _Input(Manifest(listing, base=base_of(location), display=str(path)), "folder", str(path), True)
    try:
        return _Input(Manifest(path, display=str(path)), "manifest", str(path), False)
    except OSError as exc:
        raise UserError(f"cannot read {path}: {exc.strerror or exc}") from None


# --- the check ----------------------------------------------------------------------------


def _balance(attrs, labels: list[str], min_count: int, max_ratio: float) -> list:
    out = []
    for st in attrs:
        classes = dict(st.classes)
        if labels and st.kind in (
            "image-classification",
            "text-classification",
            "image-classification-multilabel",
            "text-classification-multilabel",
        ):
            for name in labels:
                classes.setdefault(name, 0)
        if not classes:
            continue
        ordered = dict(sorted(classes.items(), key=lambda kv: (-kv[1], kv[0])))
        counts = list(ordered.values())
        smallest = min(counts)
        ratio = round(max(counts) / smallest, 2) if smallest > 0 else None
        few = [name for name, n in ordered.items() if n < min_count]
        biased = len(counts) > 1 and (ratio is None or ratio >= max_ratio)
        out.append(Balance(st.name, st.task_type, ordered, ratio, few, min_count, biased))
    return out


def check(
    source: str,
    *,
    image_distance: int = 4,
    text_similarity: float = 0.8,
    min_count: int = 10,
    max_ratio: float = 10.0,
    workers: int | None = None,
    write_clean: str | None = None,
    drop_near: bool = False,
    progress: Progress | None = None,
) -> CheckReport:
    from tuilabel.core.quality.stats import Accumulator

    start = time.perf_counter()
    if workers is None:
        workers = min(16, (os.cpu_count() or 2) * 2)
    from PIL import Image

    warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # we apply GT's limit ourselves

    with tempfile.TemporaryDirectory(prefix="tuilabel-check-") as tmpdir:
        inp = _open_source(source, Path(tmpdir), write_clean, progress)
        manifest = inp.manifest
        try:
            report = CheckReport(source=inp.display, kind=inp.kind)
            report.settings = {
                "image_distance": image_distance,
                "text_similarity": text_similarity,
                "min_count": min_count,
                "max_ratio": max_ratio,
            }
            drop = bytearray()  # per line: 1 = left out of the clean manifest
            near_drop: list[int] = []
            acc = Accumulator()

            def add(category: str, index: int, ref: str | None, reason: str) -> None:
                report.findings.append(Finding(category, index + 1, ref, reason))
                drop[index] = 1

            text_groups = TextGrouper(text_similarity)
            image_groups = ImageGrouper(image_distance)
            text_first: dict[bytes, int] = {}
            image_first: dict[bytes, int] = {}
            dup_members: dict[int, list[int]] = {}  # first index -> later indexes
            image_refs: dict[int, str] = {}
            mix = MediaMix()

            def image_done(index: int, ref: str, result: tuple) -> None:
                if result[0] != "ok":
                    add(result[0], index, ref, result[1])
                    return
                _, digest, h = result
                first = image_first.get(digest)
                if first is not None:
                    dup_members.setdefault(first, []).append(index)
                    image_refs[index] = ref
                    drop[index] = 1
                    return
                image_first[digest] = index
                image_refs[index] = ref
                image_groups.add(index, h)

            size = manifest.size
            last_tick = 0.0
            inflight: deque = deque()
            limit = workers * 4
            with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="check-image") as pool:
                for index, offset, _nxt, raw in manifest.iter_lines():
                    drop.append(0)
                    report.lines += 1
                    if progress is not None:
                        now = time.monotonic()
                        if now - last_tick >= 0.1:
                            last_tick = now
                            progress("records", offset, size)
                    if is_blank(raw):
                        continue  # blank lines are skipped by the reader too (and by write_clean)
                    try:
                        data = parse_record(raw)
                    except BadRecord as exc:
                        category, reason = _classify_bad(raw, str(exc))
                        add(category, index, None, reason)
                        continue
                    report.records += 1
                    acc.add(data)
                    mix.add(index, data)
                    ref = data.get("source-ref")
                    for attr in box_attributes(data):
                        if attr in data:  # a failed line has no label to check
                            faults: list[str] = []
                            read_box_label(data[attr], data.get(attr + "-metadata"), attr, faults)
                            for fault in faults:
                                add("bad-box", index, ref, fault)
                    if ref is not None:
                        report.images += 1
                        inflight.append((index, ref, pool.submit(inspect_image, ref, manifest.base)))
                        while len(inflight) >= limit:
                            i, r, fut = inflight.popleft()
                            image_done(i, r, fut.result())
                        continue
                    report.texts += 1
                    text = data["source"]
                    key = hashlib.blake2b(normalize_text(text).encode(), digest_size=16).digest()
                    first = text_first.get(key)
                    if first is not None:
                        dup_members.setdefault(first, []).append(index)
                        drop[index] = 1
                        continue
                    text_first[key] = index
                    text_groups.add(index, text)
                while inflight:
                    i, r, fut = inflight.popleft()
                    image_done(i, r, fut.result())
            if progress is not None:
                progress("records", size, size)

            # Exact duplicate groups, in file order.
            for first in sorted(dup_members):
                members = [first] + dup_members[first]
                is_image = first in image_refs
                group = Group(
                    "image" if is_image else "text",
                    [m + 1 for m in members],
                    [image_refs.get(m) for m in members],
                    "same bytes" if is_image else "same text (whitespace and case ignored)",
                )
                report.duplicates.append(group)
                for m in members[1:]:
                    report.findings.append(
                        Finding("duplicate", m + 1, image_refs.get(m), f"same {group.kind} as line {first + 1}")
                    )
            for kind, grouper, detail in (
                ("image", image_groups, f"dHash within Hamming distance {image_distance}"),
                ("text", text_groups, f"word-bigram Jaccard ≥ {text_similarity}"),
            ):
                for members in sorted(grouper.groups()):
                    report.near_duplicates.append(
                        Group(kind, [m + 1 for m in members], [image_refs.get(m) for m in members], detail)
                    )
                    near_drop.extend(members[1:])
            mixed = mix.finding()
            if mixed is not None:
                report.findings.append(mixed)
            report.findings.sort(key=lambda f: (f.line, f.category))

            # Balance: labels in the manifest itself, or the job's answers.
            if inp.job_root is not None:
                from tuilabel.core.quality.stats import job_stats

                st = job_stats(inp.job_root)
                report.balance = _balance(st.attributes, st.labels, min_count, max_ratio)
            else:
                report.balance = _balance(acc.attributes(), [], min_count, max_ratio)

            if write_clean:
                if drop_near:
                    for i in near_drop:
                        drop[i] = 1
                report.clean_written, report.clean_lines = _write_clean(manifest, drop, write_clean, inp)
        finally:
            manifest.close()
    report.seconds = round(time.perf_counter() - start, 3)
    return report


def _write_clean(manifest: Manifest, drop: bytearray, dest: str, inp: _Input) -> tuple[str, int]:
    from tuilabel.core.store.durable import atomic_write

    kept = 0

    def lines():
        nonlocal kept
        buf: list[bytes] = []
        for index, _off, _nxt, raw in manifest.iter_lines():
            if drop[index] or is_blank(raw):
                continue
            buf.append(raw)
            kept += 1
            if len(buf) >= 4096:
                buf.append(b"")
                yield b"\n".join(buf)
                buf = []
        if buf:
            buf.append(b"")
            yield b"\n".join(buf)

    if s3.is_s3_uri(dest):
        if dest == inp.display:
            raise UserError("--write-clean must name a new file, not the input manifest")
        s3.put_bytes(dest, b"".join(lines()))
        return dest, kept
    path = Path(dest).expanduser().resolve()
    if inp.kind in ("manifest", "job") and path == manifest.path.resolve():
        raise UserError(f"--write-clean {dest} is the input manifest; check never modifies its input")
    if path.is_dir():
        raise UserError(f"--write-clean {dest} is a folder; give a file name")
    atomic_write(path, lines())
    return str(path), kept
