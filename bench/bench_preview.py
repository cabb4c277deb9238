"""Image preview speed: tuilabel's half-block builder beside rich-pixels, in one run.

    .venv/bin/python bench/bench_preview.py [--runs 15]

An in-process micro benchmark (both builders take the same bytes in the same process), so no
process start-up is included. Input: camera-like 4000x3000 (12 MP) JPEGs with gradients,
shapes and grain, generated once into bench/.work/, at two file sizes (light grain ~0.6 MB,
phone-like grain ~2.7 MB), each carrying an EXIF thumbnail (IFD1, 160x120 JPEG) as real
cameras write it (Pillow cannot write IFD1, so the APP1 segment is built here by hand).
Target: 160x48 cells = a 160x96 px box; a 4:3 image fits it as 128x96 px (every builder
below produces exactly that size).

Rows (median of --runs, milliseconds):
  ours: thumbnail       open_preview(bytes).render(160, 48), the default first frame: header +
                        EXIF parse, decode of the 160x120 EXIF thumbnail, resize, half-block runs
  ours: full decode     the same with allow_thumbnail=False: JPEG draft decode (1/8) of the
                        main image (libjpeg still entropy-decodes the whole file), resize, runs
  ours: thumb -> strips thumbnail row plus ImageView.build_strips (cold caches): the fair
                        end-to-end match for rich-pixels, whose output is Segments too
  ours: full -> strips  full-decode row plus ImageView.build_strips (cold caches)
  ours: render cached   render() again on a PreviewImage holding the full decode (zoom/pan)
  ours: zoom 2 cached   render(160, 48, zoom=2) on the same PreviewImage
  widget: strips        ImageView.build_strips for one 160x48 frame (cold style cache)
  widget: strips warm   the same with the Style cache already filled
  floor: draft decode   Image.open + draft + load alone (what any draft-using viewer pays)
  rich-pixels: full     Image.open + full decode + resize to 128x96 + Pixels.from_image
                        (the naive path the issue measured at 120-180 ms)
  rich-pixels: thumb    Image.open + thumbnail((128, 96)) (Pillow drafts too) + from_image
  rich-pixels: build    Pixels.from_image on an image already resized to 128x96
"""

from __future__ import annotations

import argparse
import statistics
import struct
import sys
import time
from io import BytesIO
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from PIL import Image, ImageDraw, ImageFilter  # noqa: E402

WORK = ROOT / "bench" / ".work"
# JPEG decode time grows with the compressed size (entropy decoding cannot be skipped by
# draft), so the same 12 MP picture is measured with light grain (small file) and with
# phone-camera-like grain (a typical 12 MP photo is 2.5-5 MB).
GRAIN = {"smooth": 0.12, "grainy": 0.6}
CELLS = (160, 48)


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


def median_ms(fn, runs: int) -> float:
    fn()  # warm up imports and caches outside the timing
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    for label, grain in GRAIN.items():
        path = WORK / f"photo-12mp-{label}-exif.jpg"
        bench_one(make_photo(grain, path), path, args.runs)
        print()


def bench_one(data: bytes, path: Path, runs: int) -> None:
    from rich_pixels import Pixels
    from textual.geometry import Size

    from tuilabel.core.preview import HalfBlockPicture, open_preview
    from tuilabel.ui.widgets import image_view as image_view_module
    from tuilabel.ui.widgets.image_view import ImageView

    cw, ch = CELLS
    probe = open_preview(data).render(cw, ch)
    assert isinstance(probe, HalfBlockPicture), probe
    assert probe.from_thumbnail, "the bench image must carry a usable EXIF thumbnail"
    size = probe.pixel_size  # (128, 96)
    full_probe = open_preview(data).render(cw, ch, allow_thumbnail=False)
    assert not full_probe.from_thumbnail and full_probe.pixel_size == size

    def ours_thumb():
        open_preview(data).render(cw, ch)

    def ours_full():
        open_preview(data).render(cw, ch, allow_thumbnail=False)

    cached = open_preview(data)
    cached.render(cw, ch, allow_thumbnail=False)

    def ours_cached():
        cached.render(cw, ch)

    def ours_zoom():
        cached.render(cw, ch, zoom=2.0)

    def widget_cold():
        image_view_module._COLOURS.clear()  # noqa: SLF001 - cold means no cached colours
        view = ImageView()
        view.show_picture(probe)
        view.build_strips(Size(cw, ch))

    def ours_to_strips():
        image_view_module._COLOURS.clear()  # noqa: SLF001
        view = ImageView()
        view.show_picture(open_preview(data).render(cw, ch))
        view.build_strips(Size(cw, ch))

    def ours_full_to_strips():
        image_view_module._COLOURS.clear()  # noqa: SLF001
        view = ImageView()
        view.show_picture(open_preview(data).render(cw, ch, allow_thumbnail=False))
        view.build_strips(Size(cw, ch))

    warm_view = ImageView()
    warm_view.show_picture(probe)
    warm_view.build_strips(Size(cw, ch))

    def widget_warm():
        warm_view.build_strips(Size(cw, ch))

    def floor_decode():
        with Image.open(BytesIO(data)) as img:
            img.draft("RGB", size)
            img.load()

    def rp_full():
        with Image.open(BytesIO(data)) as img:
            Pixels.from_image(img.resize(size))

    def rp_thumb():
        with Image.open(BytesIO(data)) as img:
            img.thumbnail(size)
            Pixels.from_image(img)

    small = Image.open(BytesIO(data)).resize(size)

    def rp_build():
        Pixels.from_image(small)

    rows = [
        ("ours: thumbnail", median_ms(ours_thumb, runs)),
        ("ours: full decode", median_ms(ours_full, runs)),
        ("ours: thumb -> strips", median_ms(ours_to_strips, runs)),
        ("ours: full -> strips", median_ms(ours_full_to_strips, runs)),
        ("ours: render cached", median_ms(ours_cached, runs)),
        ("ours: zoom 2 cached", median_ms(ours_zoom, runs)),
        ("widget: strips (cold)", median_ms(widget_cold, runs)),
        ("widget: strips (warm)", median_ms(widget_warm, runs)),
        ("floor: draft decode only", median_ms(floor_decode, runs)),
        ("rich-pixels: full", median_ms(rp_full, max(3, runs // 3))),
        ("rich-pixels: thumbnail", median_ms(rp_thumb, runs)),
        ("rich-pixels: build only", median_ms(rp_build, runs)),
    ]
    ms = dict(rows)
    print(
        f"input: {path.relative_to(ROOT)} 4000x3000, {len(data) / 1e6:.2f} MB; "
        f"{cw}x{ch} cells -> {size[0]}x{size[1]} px; median of {runs} runs "
        f"(rich-pixels full: {max(3, runs // 3)})"
    )
    print(f"{'case':<28} {'ms':>9}")
    for name, value in rows:
        print(f"{name:<28} {value:>9.2f}")
    print()
    print(f"{'ratio':<44} {'x':>7}")
    for label, peer, ours in (
        ("rich-pixels naive / ours thumbnail", "rich-pixels: full", "ours: thumbnail"),
        ("rich-pixels naive / ours full decode", "rich-pixels: full", "ours: full decode"),
        ("rich-pixels thumbnail / ours thumbnail", "rich-pixels: thumbnail", "ours: thumbnail"),
        ("rich-pixels thumbnail / ours full decode", "rich-pixels: thumbnail", "ours: full decode"),
        ("segments: rich-pixels naive / ours thumb", "rich-pixels: full", "ours: thumb -> strips"),
        ("segments: rich-pixels naive / ours full", "rich-pixels: full", "ours: full -> strips"),
        ("build: rich-pixels / ours cached render", "rich-pixels: build only",
         "ours: render cached"),
    ):
        print(f"{label:<44} {ms[peer] / ms[ours]:>7.1f}")


if __name__ == "__main__":
    main()
