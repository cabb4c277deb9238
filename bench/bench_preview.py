"""Image preview speed: tuilabel's half-block pictures beside rich-pixels, in one run.

    .venv/bin/python bench/bench_preview.py [--runs 15]

In-process (both sides read the same file in the same process; no process start-up). Input:
camera-like 4000x3000 (12 MP) JPEGs with gradients, shapes and grain, generated once into
bench/.work/, at two file sizes (light grain ~0.6 MB, phone-like grain ~2.7 MB), each with an
EXIF thumbnail (IFD1, 160x120 JPEG) as cameras write it (Pillow cannot write IFD1, so the APP1
segment is built here by hand). Target: 160x48 cells = a 160x96 px box; a 4:3 image fits it
as 128x96 px, which every case below produces.

Each case runs on both sides through the same decode path, so the ratio measures the code
that differs (cells and styles), not a decoding shortcut only one side takes:

  exif thumbnail  decode the 160x120 thumbnail embedded in the file. Ours: what the app draws
                  first (open_preview().render()). rich-pixels: the same thumbnail bytes
                  decoded by Pillow, resized, Pixels.from_image.
  draft           libjpeg's 1/8 draft decode of the whole file (entropy decoding is not
                  skippable). Ours: render(allow_thumbnail=False), the background refine.
                  rich-pixels: Image.thumbnail((128, 96)) (Pillow drafts), from_image.
  full            decode at full resolution (no draft). Ours: the path every non-JPEG takes
                  (decode, cap at 2048 px, resize). rich-pixels: Image.resize((128, 96)) on
                  the opened file, from_image: what its README shows.

Two stages per case (median and best of --runs; every case runs once per round, sides
interleaved, so load hits both alike):
  cells     bytes in memory -> half-block cells (ours: HalfBlockPicture; rich-pixels: Pixels)
  to strips file on disk -> the Textual Strips a widget paints (ours: load_source + render +
            ImageView.build_strips; rich-pixels: Image.open(path) + from_image + the
            console.render_lines + Strip that Textual applies to a Rich renderable). This is
            the end-to-end figure the >= 10x goal is about.
Caches are cold on both sides for every run (a new picture has new colours): our style
cache and rich's Style.parse / Color.parse caches are emptied before each run.
Also: the libjpeg draft decode alone (the floor for any draft viewer) and our re-render from
a cached decode (zoom, pan, resize).
"""

from __future__ import annotations

import argparse
import os
import statistics
import struct
import sys
import time
from io import BytesIO
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from PIL import Image, ImageDraw, ImageFilter  # noqa: E402

WORK = ROOT / "bench" / ".work"
# JPEG decode time grows with the compressed size (entropy decoding cannot be skipped by
# draft), so the same 12 MP picture is measured with light grain (small file) and with
# phone-camera-like grain (a typical 12 MP photo is 2.5-5 MB).
GRAIN = {"smooth": 0.12, "grainy": 0.6}
CELLS = (160, 48)
HOW = ("exif thumbnail", "draft", "full")


def exif_with_thumbnail(thumb: bytes) -> bytes:
    """APP1 payload: Exif prefix, little-endian TIFF header, IFD0 (orientation 1) and IFD1
    (compression 6 = JPEG, JPEGInterchangeFormat 0x0201 / ...Length 0x0202) + thumbnail."""

    def ifd(entries: list[tuple[int, int, int]], next_offset: int) -> bytes:
        out = struct.pack("<H", len(entries))
        for tag, typ, value in entries:  # typ 3 = SHORT (left-justified), 4 = LONG
            packed = struct.pack("<I", value) if typ == 4 else struct.pack("<HH", value, 0)
            out += struct.pack("<HHI", tag, typ, 1) + packed
        return out + struct.pack("<I", next_offset)

    ifd0_at = 8
    ifd1_at = ifd0_at + 2 + 12 + 4
    thumb_at = ifd1_at + 2 + 3 * 12 + 4
    tiff = b"II*\0" + struct.pack("<I", ifd0_at)
    tiff += ifd([(0x0112, 3, 1)], ifd1_at)
    tiff += ifd([(0x0103, 3, 6), (0x0201, 4, thumb_at), (0x0202, 4, len(thumb))], 0)
    return b"Exif\0\0" + tiff + thumb


def make_photo(grain: float, path: Path) -> bytes:
    if path.exists():
        return path.read_bytes()
    WORK.mkdir(parents=True, exist_ok=True)
    w, h = 4000, 3000
    grad = Image.linear_gradient("L").resize((w, h))
    side = grad.transpose(Image.Transpose.ROTATE_90).resize((w, h))
    img = Image.merge("RGB", (grad, side, grad.transpose(Image.Transpose.FLIP_TOP_BOTTOM)))
    draw = ImageDraw.Draw(img)
    for i in range(60):  # deterministic shapes: edges and flat areas like a real scene
        x, y = (i * 997) % w, (i * 613) % h
        colour = ((i * 53) % 256, (i * 101) % 256, (i * 197) % 256)
        draw.ellipse((x, y, x + 200 + i * 9, y + 150 + i * 7), fill=colour)
    img = img.filter(ImageFilter.GaussianBlur(2))
    noise = Image.effect_noise((w, h), 12).convert("RGB")
    img = Image.blend(img, noise, grain)  # sensor-like grain: makes the JPEG photo-sized
    thumb = BytesIO()
    img.resize((160, 120), Image.Resampling.BOX).save(thumb, "JPEG", quality=85)
    buf = BytesIO()
    img.save(buf, "JPEG", quality=85, exif=exif_with_thumbnail(thumb.getvalue()))
    path.write_bytes(buf.getvalue())
    return buf.getvalue()


def interleaved(cases: dict[str, Callable[[], object]], runs: int) -> dict[str, tuple[float, float]]:
    """(median ms, best ms) per case; one warm-up, then `runs` rounds of every case in turn."""
    for fn in cases.values():
        fn()  # imports and one-time tables outside the timing
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(runs):
        for name, fn in cases.items():
            start = time.perf_counter()
            fn()
            times[name].append((time.perf_counter() - start) * 1000)
    return {name: (statistics.median(t), min(t)) for name, t in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    print(f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, load average {os.getloadavg()[0]:.2f}")
    for label, grain in GRAIN.items():
        path = WORK / f"photo-12mp-{label}-exif.jpg"
        make_photo(grain, path)
        bench_one(path, args.runs)
        print()


def bench_one(path: Path, runs: int) -> None:
    from rich.color import Color
    from rich.console import Console
    from rich.style import Style
    from rich_pixels import Pixels
    from textual.geometry import Size
    from textual.strip import Strip

    from tuilabel.core import preview
    from tuilabel.core.preview import HalfBlockPicture, load_source, open_preview
    from tuilabel.ui.widgets import image_view as image_view_module
    from tuilabel.ui.widgets.image_view import ImageView

    data = path.read_bytes()
    cw, ch = CELLS
    probe = open_preview(data)
    first = probe.render(cw, ch)
    assert isinstance(first, HalfBlockPicture) and first.from_thumbnail, "the bench image must carry a usable EXIF thumbnail"
    size = first.pixel_size  # (128, 96)
    thumb_bytes = probe.thumbnail
    assert thumb_bytes

    def no_draft(image: preview.PreviewImage) -> preview.PreviewImage:
        # The same file through the path a PNG takes: no draft, full-resolution decode.
        return preview.PreviewImage(image._data, "no-draft", image.raw_size, image.orientation)  # noqa: SLF001

    assert open_preview(data).render(cw, ch, allow_thumbnail=False).pixel_size == size
    assert no_draft(open_preview(data)).render(cw, ch).pixel_size == size

    def cold() -> None:
        image_view_module._COLOURS.clear()  # noqa: SLF001
        Style.parse.cache_clear()
        Color.parse.cache_clear()

    # -- ours ------------------------------------------------------------------------------
    def ours_cells(how: str, image: preview.PreviewImage):
        cold()
        if how == "full":
            image = no_draft(image)
        return image.render(cw, ch, allow_thumbnail=how == "exif thumbnail")

    def ours_strips(how: str):
        picture = ours_cells(how, load_source(str(path), "/"))
        view = ImageView()
        view.show_picture(picture)
        return view.build_strips(Size(cw, ch))

    # -- rich-pixels -----------------------------------------------------------------------
    def rp_image(how: str, img: Image.Image) -> Image.Image:
        if how == "exif thumbnail":
            with Image.open(BytesIO(thumb_bytes)) as thumb:
                return thumb.resize(size)
        if how == "draft":
            img.thumbnail(size)
            return img
        return img.resize(size)

    def rp_cells(how: str, source) -> Pixels:
        cold()
        with Image.open(source) as img:
            return Pixels.from_image(rp_image(how, img))

    console = Console(width=cw, height=ch, color_system="truecolor", force_terminal=True, legacy_windows=False)
    options = console.options.update_dimensions(cw, ch)

    def rp_strips(how: str):
        pixels = rp_cells(how, path)
        return [Strip(line) for line in console.render_lines(pixels, options, pad=True)]

    probe_rp = rp_strips("draft")
    assert len(probe_rp) == ch and probe_rp[0].cell_length == cw

    cases: dict[str, Callable[[], object]] = {}
    for how in HOW:
        cases[f"{how}: ours cells"] = lambda how=how: ours_cells(how, open_preview(data))
        cases[f"{how}: rich-pixels cells"] = lambda how=how: rp_cells(how, BytesIO(data))
        cases[f"{how}: ours to strips"] = lambda how=how: ours_strips(how)
        cases[f"{how}: rich-pixels to strips"] = lambda how=how: rp_strips(how)

    cached = open_preview(data)
    cached.render(cw, ch, allow_thumbnail=False)
    cases["ours: re-render from cached decode"] = lambda: cached.render(cw, ch)

    def floor_decode():
        with Image.open(BytesIO(data)) as img:
            img.draft("RGB", size)
            img.load()

    cases["floor: libjpeg draft decode alone"] = floor_decode
    result = interleaved(cases, runs)

    print(f"input: {path.relative_to(ROOT)} 4000x3000, {len(data) / 1e6:.2f} MB; {cw}x{ch} cells -> "
          f"{size[0]}x{size[1]} px; median / best of {runs} runs, every case")
    print(f"{'decode path':<16}{'stage':<12}{'ours ms':>16}{'rich-pixels ms':>18}{'ratio (median)':>16}")
    for how in HOW:
        for stage in ("cells", "to strips"):
            o, r = result[f"{how}: ours {stage}"], result[f"{how}: rich-pixels {stage}"]
            print(f"{how:<16}{stage:<12}{o[0]:>8.2f} /{o[1]:>6.2f}{r[0]:>10.2f} /{r[1]:>6.2f}{r[0] / o[0]:>15.1f}x")
    naive, ours_default = result["full: rich-pixels to strips"], result["exif thumbnail: ours to strips"]
    print(f"{'rich-pixels as its README shows (full) / ours as the app draws first (exif thumbnail), to strips':<96}"
          f"{naive[0] / ours_default[0]:>6.1f}x")
    for name in ("ours: re-render from cached decode", "floor: libjpeg draft decode alone"):
        print(f"{name:<44}{result[name][0]:>8.2f} /{result[name][1]:>6.2f} ms")


if __name__ == "__main__":
    main()
