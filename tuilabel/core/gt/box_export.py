"""Object-detection labels (GT lines) -> COCO JSON or YOLO text.

COCO: one JSON file with `images` (id = input line number, file_name = the source-ref,
width, height), `annotations` (bbox [x, y, w, h] in pixels, area = w × h, iscrowd 0) and
`categories`. Category ids are GT's class_id + 1: COCO keeps 0 free (torchvision and others
read 0 as background).
YOLO: one `<image stem>.txt` per image (`class cx cy w h`, each normalised by the image's
size, 6 decimals; an image without boxes gets an empty file, a background image to YOLO)
and `classes.txt` (one name per line, line n = class n).

Lines without a label (failed, declined), without image_size or without a source-ref are left
out, and bad boxes dropped (box_lines.py): one problem line each; the rest is written.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Iterable, Iterator, Sequence
from urllib.parse import unquote, urlparse

import orjson

from tuilabel.core.errors import UserError
from tuilabel.core.gt.box_answer import Box
from tuilabel.core.gt.box_lines import ImageSize, read_box_label
from tuilabel.core.store.durable import atomic_write, ensure_dir, explain_os_error

FORMATS = ("coco", "yolo")


@dataclass
class LabeledImage:
    line: int  # 1-based line of the manifest (or input line of the job)
    ref: str
    size: ImageSize
    boxes: list[Box]


@dataclass
class BoxExport:
    images: int = 0
    boxes: int = 0
    left_out: int = 0  # lines without a usable label
    problems: list[str] = field(default_factory=list)
    class_names: dict[int, str] = field(default_factory=dict)


def labeled_images(
    lines: Iterable[tuple[int, dict]], attr: str, labels: Sequence[str] | None, where: str, out: BoxExport
) -> Iterator[LabeledImage]:
    """(1-based line, GT output object) -> the images with usable box labels. Class names
    come from `labels` or, without them, from the lines' class-maps."""
    if labels is not None:
        out.class_names.update(enumerate(labels))
    for line, obj in lines:
        at = f"{where} line {line}"
        value, meta = obj.get(attr), obj.get(attr + "-metadata")
        if value is None:
            reason = meta.get("failure-reason") if isinstance(meta, dict) else None
            out.problems.append(f"{at}: no {attr!r} label" + (f" ({reason})" if reason else "") + "; left out")
            out.left_out += 1
            continue
        ref = obj.get("source-ref")
        if not isinstance(ref, str) or not ref:
            out.problems.append(f"{at}: no source-ref (boxes need an image); left out")
            out.left_out += 1
            continue
        first = len(out.problems)
        label = read_box_label(value, meta, at, out.problems, labels)
        if label is None or label.image_size is None:
            out.problems[first] += "; line left out"
            out.left_out += 1
            continue
        if labels is None:
            for cid, name in label.class_map.items():
                out.class_names.setdefault(cid, name)
        out.images += 1
        out.boxes += len(label.boxes)
        yield LabeledImage(line, ref, label.image_size, label.boxes)


def _categories(names: dict[int, str]) -> list[dict]:
    top = max(names, default=-1)
    return [{"id": cid + 1, "name": names.get(cid, f"class-{cid}"), "supercategory": "none"} for cid in range(top + 1)]


def write_coco(dest: Path, images: Iterable[LabeledImage], out: BoxExport) -> None:
    coco_images, annotations = [], []
    for image in images:
        coco_images.append({"id": image.line, "file_name": image.ref, "width": image.size.width, "height": image.size.height})
        for b in image.boxes:
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": image.line,
                    "category_id": b.class_id + 1,
                    "bbox": [b.left, b.top, b.width, b.height],
                    "area": b.width * b.height,
                    "iscrowd": 0,
                }
            )
    for a in annotations:  # a class used but never named: still a category
        out.class_names.setdefault(a["category_id"] - 1, f"class-{a['category_id'] - 1}")
    doc = {
        "info": {"description": "exported by tuilabel from Ground Truth object-detection labels"},
        "images": coco_images,
        "annotations": annotations,
        "categories": _categories(out.class_names),
    }
    atomic_write(dest, orjson.dumps(doc, option=orjson.OPT_APPEND_NEWLINE))


def _stem(ref: str) -> str:
    path = urlparse(ref).path if "://" in ref else ref
    return PurePosixPath(unquote(path).replace("\\", "/")).stem or "image"


def _yolo_row(b: Box, size: ImageSize) -> str:
    cx, cy = (b.left + b.width / 2) / size.width, (b.top + b.height / 2) / size.height
    return f"{b.class_id} {cx:.6f} {cy:.6f} {b.width / size.width:.6f} {b.height / size.height:.6f}\n"


def write_yolo(dest: Path, images: Iterable[LabeledImage], out: BoxExport) -> None:
    """Into a fresh folder beside `dest`, renamed into place at the end; an earlier YOLO
    export there (only .txt files) is replaced, any other folder is refused."""
    if dest.exists():
        if not dest.is_dir() or any(p.suffix != ".txt" or not p.is_file() for p in dest.iterdir()):
            raise UserError(f"{dest} exists and is not an earlier YOLO export (only .txt files); choose another -o")
    tmp = dest.parent / f".{dest.name}.tmp-{os.getpid()}"
    try:
        shutil.rmtree(tmp, ignore_errors=True)
        ensure_dir(tmp)
        used: dict[str, int] = {}
        for image in images:
            name = _stem(image.ref)
            if name in used or name == "classes":
                out.problems.append(
                    f"line {image.line}: {image.ref} has the file name of line {used.get(name, 0)}'s image; written as {name}-line{image.line}.txt"
                )
                name = f"{name}-line{image.line}"
            used.setdefault(name, image.line)
            (tmp / f"{name}.txt").write_text("".join(_yolo_row(b, image.size) for b in image.boxes), encoding="utf-8")
        top = max(out.class_names, default=-1)
        names = [out.class_names.get(cid, f"class-{cid}") for cid in range(top + 1)]
        (tmp / "classes.txt").write_text("".join(f"{n}\n" for n in names), encoding="utf-8")
        if dest.exists():
            shutil.rmtree(dest)
        os.rename(tmp, dest)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise explain_os_error(exc, dest) from None


def manifest_lines(path: Path, out: BoxExport) -> Iterator[tuple[int, dict]]:
    """(1-based line, object) for each JSON-object line of a GT output manifest."""
    from tuilabel.core.data.manifest import Manifest, is_blank

    with Manifest(path) as manifest:
        for index, _, _, raw in manifest.iter_lines():
            if is_blank(raw):
                continue
            try:
                obj = orjson.loads(raw)
            except orjson.JSONDecodeError:
                obj = None
            if not isinstance(obj, dict):
                out.problems.append(f"{path} line {index + 1}: not a JSON object; left out")
                out.left_out += 1
                continue
            yield index + 1, obj


def export_boxes(
    fmt: str, dest: Path, lines: Iterable[tuple[int, dict]], attr: str, labels: Sequence[str] | None, where: str
) -> BoxExport:
    out = BoxExport()
    images = labeled_images(lines, attr, labels, where, out)
    (write_coco if fmt == "coco" else write_yolo)(dest, images, out)
    return out
