"""Core image preview: sizing, orientation, transparency, zoom/pan, errors, cache, samples."""

from __future__ import annotations

import json
import struct
import subprocess
import sys
import threading
import warnings
from io import BytesIO
from pathlib import Path

import pytest
from PIL import Image, ImageOps

from tuilabel.core.preview import (
    BACKGROUND_RGB,
    HalfBlockPicture,
    PreviewCache,
    PreviewError,
    PreviewImage,
    load_preview,
    open_preview,
    pack_rgb,
    rgb,
)

FASHION = Path(__file__).resolve().parents[1] / "sample_data" / "fashion"

RED, GREEN, BLUE, WHITE = (255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255)
GREY = pack_rgb(*BACKGROUND_RGB)


def encode(img: Image.Image, fmt: str = "PNG", **params) -> bytes:
    buf = BytesIO()
    img.save(buf, fmt, **params)
    return buf.getvalue()


def quadrants(size: int = 100) -> Image.Image:
    """Red top-left, green top-right, blue bottom-left, white bottom-right."""
    img = Image.new("RGB", (size, size), WHITE)
    half = size // 2
    img.paste(RED, (0, 0, half, half))
    img.paste(GREEN, (half, 0, size, half))
    img.paste(BLUE, (0, half, half, size))
    return img


def near(colour: int | None, expected: tuple[int, int, int], tol: int = 40) -> bool:
    assert colour is not None
    return all(abs(a - b) <= tol for a, b in zip(rgb(colour), expected))


def picture(data: bytes, cells_w: int, cells_h: int, **kw) -> HalfBlockPicture:
    result = load_preview(data, cells_w, cells_h, **kw)
    assert isinstance(result, HalfBlockPicture), result
    return result


def row_width(row) -> int:
    return sum(len(text) for text, _, _ in row)


# -- sizing ---------------------------------------------------------------------------------


def test_wide_image_keeps_aspect_ratio():
    # 400x100 into 80x24 cells = 80x48 px box: width-bound, 80x20 px = 10 cell rows.
    pic = picture(encode(Image.new("RGB", (400, 100), RED)), 80, 24)
    assert (pic.width, pic.height, pic.pixel_size) == (80, 10, (80, 20))
    assert all(row_width(row) == 80 for row in pic.rows)
    assert pic.source_size == (400, 100)


def test_tall_image_keeps_aspect_ratio():
    # 100x400 into 80x24 cells: height-bound at 48 px, so 12 px wide.
    pic = picture(encode(Image.new("RGB", (100, 400), RED)), 80, 24)
    assert (pic.width, pic.height, pic.pixel_size) == (12, 24, (12, 48))


def test_identical_neighbours_merge_into_one_run():
    pic = picture(encode(Image.new("RGB", (64, 64), BLUE)), 32, 16)
    assert all(len(row) == 1 for row in pic.rows)
    text, fg, bg = pic.rows[0][0]
    assert text == "▀" * 32 and fg == bg == pack_rgb(*BLUE)


def test_known_pixel_lands_in_cell_fg_and_bg():
    img = Image.new("RGB", (20, 20), (0, 0, 0))
    img.putpixel((5, 6), RED)  # top half of cell row 3
    img.putpixel((5, 7), GREEN)  # bottom half of cell row 3
    pic = picture(encode(img), 20, 10)  # exactly 20x20 px: no scaling
    assert pic.pixel_size == (20, 20)
    assert pic.cell_colours(5, 3) == (pack_rgb(*RED), pack_rgb(*GREEN))
    assert pic.cell_colours(4, 3) == (0, 0)
    assert pic.cell_colours(5, 2) == (0, 0)


def test_odd_pixel_height_leaves_bottom_half_empty():
    pic = picture(encode(Image.new("RGB", (10, 5), RED)), 10, 10)
    assert pic.pixel_size == (10, 5) and pic.height == 3
    assert pic.cell_colours(0, 2) == (pack_rgb(*RED), None)
    assert pic.cell_colours(0, 1) == (pack_rgb(*RED), pack_rgb(*RED))


def test_large_jpeg_is_decoded_small_and_redecoded_for_deep_zoom():
    noise = Image.merge("RGB", [Image.effect_noise((2400, 1800), 40)] * 3)
    image = open_preview(encode(noise, "JPEG", quality=80))
    assert isinstance(image, PreviewImage)
    assert image.working_size is None  # header only until the first render
    assert isinstance(image.render(80, 24), HalfBlockPicture)
    first = image.working_size
    assert first is not None and first[0] <= 2400 // 8 + 1  # libjpeg draft at 1/8 scale
    assert isinstance(image.render(80, 24, zoom=6), HalfBlockPicture)
    assert image.working_size[0] > first[0]  # needed more pixels, decoded again
    assert image.working_size[0] <= 2048


# -- orientation ----------------------------------------------------------------------------


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_matches_pillow_exif_transpose(orientation):
    raw = Image.new("RGB", (120, 80), WHITE)
    raw.paste(RED, (0, 0, 60, 40))
    raw.paste(GREEN, (60, 0, 120, 40))
    raw.paste(BLUE, (0, 40, 60, 80))
    exif = Image.Exif()
    exif[0x0112] = orientation
    data = encode(raw, "JPEG", quality=95, exif=exif)
    expected = ImageOps.exif_transpose(Image.open(BytesIO(data)))
    pic = picture(data, 60, 30)
    assert pic.source_size == expected.size
    w, h = pic.pixel_size
    assert (w > h) == (expected.width > expected.height)
    ew, eh = expected.size
    # Compare the middle of each quadrant with Pillow's own transposition.
    for fx, fy in ((0.25, 0.25), (0.75, 0.25), (0.25, 0.75), (0.75, 0.75)):
        want = expected.getpixel((int(fx * ew), int(fy * eh)))
        fg, _ = pic.cell_colours(int(fx * w), int(fy * h) // 2)
        assert near(fg, want), (orientation, fx, fy, rgb(fg), want)


def test_rotated_sample_gives_transposed_size():
    data = (FASHION / "007.jpg").read_bytes()
    assert Image.open(BytesIO(data)).size == (240, 320)  # stored sideways
    image = open_preview(data)
    assert isinstance(image, PreviewImage)
    assert image.orientation == 6 and image.size == (320, 240)
    pic = image.render(80, 30)
    assert pic.pixel_size == (80, 60)


# -- transparency ---------------------------------------------------------------------------


def transparent_with_red_square() -> Image.Image:
    img = Image.new("RGBA", (40, 40), (0, 0, 0, 0))
    img.paste((255, 0, 0, 255), (10, 10, 30, 30))
    return img


@pytest.mark.parametrize("mode", ["RGBA", "LA", "P"])
def test_transparency_is_composited_on_grey(mode):
    img = transparent_with_red_square()
    if mode == "LA":
        img = img.convert("LA")
        inside = (76, 76, 76)  # luminance of pure red
    elif mode == "P":
        img = img.convert("P", palette=Image.Palette.ADAPTIVE, colors=4)
        img.info["transparency"] = img.getpixel((0, 0))
        inside = RED
    else:
        inside = RED
    data = encode(img, "PNG")
    pic = picture(data, 40, 20)
    assert pic.pixel_size == (40, 40)
    assert pic.cell_colours(0, 0) == (GREY, GREY)
    fg, bg = pic.cell_colours(20, 10)
    assert near(fg, inside, 3) and near(bg, inside, 3)


def test_transparent_png_sample_has_grey_corners():
    pic = picture((FASHION / "021.png").read_bytes(), 80, 30)
    assert pic.cell_colours(0, 0) == (GREY, GREY)


# -- zoom and pan ---------------------------------------------------------------------------


def test_zoom_two_shows_the_center_crop():
    data = encode(quadrants(100))
    fit = picture(data, 50, 25)  # 50x50 px
    assert fit.zoom == 1.0 and fit.visible == (0.0, 0.0, 1.0, 1.0)
    zoomed = picture(data, 50, 25, zoom=2.0)
    assert zoomed.pixel_size == (50, 50)
    assert zoomed.visible == pytest.approx((0.25, 0.25, 0.75, 0.75))
    assert near(zoomed.cell_colours(0, 0)[0], RED)
    assert near(zoomed.cell_colours(49, 0)[0], GREEN)
    assert near(zoomed.cell_colours(0, 24)[1], BLUE)
    assert near(zoomed.cell_colours(49, 24)[1], WHITE)


def test_zoom_around_a_corner_shows_only_that_quadrant():
    pic = picture(encode(quadrants(100)), 50, 25, zoom=2.0, center=(0.25, 0.25))
    colours = {c for row in pic.rows for _, fg, bg in row for c in (fg, bg)}
    assert all(near(c, RED, 10) for c in colours)


def test_pan_is_clamped_inside_the_image_and_moves_by_view_fractions():
    image = open_preview(encode(quadrants(100)))
    pic = image.render(50, 25, zoom=2.0, center=(0.0, 0.0))
    assert pic.center == pytest.approx((0.25, 0.25))
    moved = pic.panned_center(0.5, 0.0)  # half the visible width to the right
    assert moved == pytest.approx((0.5, 0.25))
    again = image.render(50, 25, zoom=2.0, center=moved)
    assert near(again.cell_colours(0, 0)[0], RED) and near(again.cell_colours(49, 0)[0], GREEN)


def test_zoom_below_one_means_fit():
    pic = picture(encode(quadrants(100)), 50, 25, zoom=0.1, center=(0.9, 0.9))
    assert pic.zoom == 1.0 and pic.center == (0.5, 0.5)


def test_zoom_re_renders_from_cached_decode():
    image = open_preview(encode(quadrants(400), "JPEG"))
    image.render(40, 20)
    work = image._work
    image.render(40, 20, zoom=1.2, center=(0.4, 0.6))
    assert image._work is work


# -- errors ---------------------------------------------------------------------------------


def assert_error(result, *words: str) -> str:
    assert isinstance(result, PreviewError), result
    message = result.message
    assert message and "\n" not in message
    for word in words:
        assert word.lower() in message.lower(), message
    return message


def test_truncated_sample_is_an_error_not_a_half_image():
    assert_error(load_preview((FASHION / "broken.jpg").read_bytes(), 80, 24), "truncated")


def test_truncated_png_is_an_error():
    data = encode(Image.effect_noise((200, 200), 50), "PNG")
    image = open_preview(data[: len(data) // 2])  # header is fine, the pixels are not
    assert isinstance(image, PreviewImage)
    assert_error(image.render(40, 20), "truncated")


def test_empty_and_missing_data():
    assert_error(load_preview(b"", 80, 24), "empty")
    assert_error(load_preview(None, 80, 24), "no image data")


def test_garbage_and_other_formats_are_refused():
    assert_error(load_preview(b"this is not an image at all", 80, 24), "not a recognised image")
    assert_error(load_preview(b"%PDF-1.7\n%...", 80, 24), "PDF")
    assert_error(load_preview(b"<html><body>403 Forbidden</body></html>", 80, 24), "HTML")
    pcx = encode(Image.new("RGB", (8, 8), RED), "PCX")
    assert_error(load_preview(pcx, 80, 24), "unsupported image format PCX")


def test_corrupt_jpeg_body_is_an_error():
    data = bytearray(encode(quadrants(64), "JPEG"))
    sos = data.find(b"\xff\xda")
    data[sos + 2 : sos + 40] = b"\xff" * 38  # scan header and first bytes destroyed
    assert_error(load_preview(bytes(data), 40, 20))


def test_too_many_bytes_names_the_gt_limit():
    data = encode(Image.new("RGB", (8, 8)), "JPEG") + b"\0" * (41 * 1024 * 1024)
    assert_error(load_preview(data, 80, 24), "40 MB")


def jpeg_claiming_size(width: int, height: int) -> bytes:
    """A tiny JPEG whose SOF header claims width x height (enough for header-only reads)."""
    data = bytearray(encode(Image.new("RGB", (8, 8)), "JPEG"))
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def gif_claiming_size(width: int, height: int) -> bytes:
    data = bytearray(encode(Image.new("P", (4, 4)), "GIF"))
    data[6:10] = struct.pack("<HH", width, height)  # logical screen
    frame = data.index(b",")
    data[frame + 5 : frame + 9] = struct.pack("<HH", width, height)  # first frame
    return bytes(data)


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(encode(Image.new("1", (11_000, 10_000)), "PNG"), id="png"),  # a few KB
        pytest.param(jpeg_claiming_size(11_000, 10_000), id="jpeg"),
        pytest.param(gif_claiming_size(11_000, 10_000), id="gif"),
    ],
)
def test_over_100_megapixels_names_the_gt_limit_without_pillow_warnings(data):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any warning (DecompressionBombWarning) fails
        message = assert_error(load_preview(data, 80, 24), "100 megapixels")
    assert "11000x10000" in message and "110.0" in message


def test_legal_95_megapixel_image_opens_without_pillow_warning():
    # Pillow's default limit is 89.5 MP; GT allows 100 MP, and so must we, silently.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for data in (jpeg_claiming_size(9_748, 9_748), gif_claiming_size(9_748, 9_748)):
            image = open_preview(data)
            assert Image.MAX_IMAGE_PIXELS == 100_000_000
            assert isinstance(image, PreviewImage) and image.size == (9_748, 9_748)


def test_decompression_bomb_is_refused():
    # PNG: our header check refuses it before Pillow opens it.
    data = encode(Image.new("1", (20_000, 10_000)), "PNG")
    assert_error(load_preview(data, 80, 24), "200.0 megapixels", "100 megapixels")


def test_pillow_bomb_error_is_a_clear_message():
    # A format we do not pre-check (TIFF header claiming 200 MP): Pillow raises, we report it.
    img = Image.new("1", (20_001, 10_000))
    data = encode(img, "TIFF", compression="group4")
    assert_error(load_preview(data, 80, 24), "decompression bomb", "100 megapixels")


def test_no_room_is_an_error():
    assert_error(load_preview(encode(quadrants(10)), 0, 5), "no room")


# -- cache ----------------------------------------------------------------------------------


def test_preview_cache_evicts_least_recently_used():
    cache: PreviewCache[str, int] = PreviewCache(2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1  # a is now most recent
    cache.put("c", 3)
    assert "b" not in cache and cache.get("a") == 1 and cache.get("c") == 3
    assert len(cache) == 2
    cache.discard("a")
    assert cache.get("a") is None and len(cache) == 1


def test_preview_cache_from_many_threads():
    cache: PreviewCache[int, int] = PreviewCache(50)
    errors: list[BaseException] = []

    def worker(offset: int) -> None:
        try:
            for i in range(2000):
                cache.put((i + offset) % 80, i)
                cache.get((i * 7) % 80)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(cache) == 50


def test_one_image_rendered_from_many_threads():
    image = open_preview(encode(quadrants(300), "JPEG"))
    results: list[object] = []
    threads = [
        threading.Thread(target=lambda z=z: results.append(image.render(40, 20, zoom=z)))
        for z in (1, 2, 3, 4, 1.5, 2.5)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 6 and all(isinstance(r, HalfBlockPicture) for r in results)


# -- bundled sample job ---------------------------------------------------------------------


def test_fashion_sample_job_is_complete_and_renders():
    lines = (FASHION / "manifest.jsonl").read_text(encoding="utf-8").splitlines()
    refs = [json.loads(line)["source-ref"] for line in lines]
    truth = json.loads((FASHION / "truth.json").read_text(encoding="utf-8"))
    labels = json.loads((FASHION / "labels.json").read_text(encoding="utf-8"))
    assert labels["document-version"] == "2018-11-28"
    names = [entry["label"] for entry in labels["labels"]]
    assert names == ["BAG", "SUNGLASS", "SHOES", "WATCH"]
    assert len(refs) >= 20 and sorted(truth) == sorted(refs)
    assert set(truth.values()) == set(names)
    assert "broken.jpg" not in refs
    for ref in refs:
        assert isinstance(load_preview((FASHION / ref).read_bytes(), 40, 15), HalfBlockPicture)
    total = sum(p.stat().st_size for p in FASHION.iterdir())
    assert total < 1_000_000


def test_core_preview_does_not_import_textual_or_rich():
    code = (
        "import sys, tuilabel.core.preview; "
        "bad = [m for m in ('textual', 'rich') if m in sys.modules]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


# -- EXIF thumbnail fast path ---------------------------------------------------------------


def exif_with_thumbnail(thumb: bytes, orientation: int = 1) -> bytes:
    """APP1 payload as cameras write it: Exif prefix, TIFF header, IFD0 (orientation) and IFD1
    pointing at a JPEG thumbnail (Pillow reads IFD1 but cannot write it)."""

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
    tiff += ifd([(0x0112, 3, orientation)], ifd1_at)
    tiff += ifd([(0x0103, 3, 6), (0x0201, 4, thumb_at), (0x0202, 4, len(thumb))], 0)
    return b"Exif\0\0" + tiff + thumb


def camera_jpeg(
    main: Image.Image, thumb: Image.Image | None = None, orientation: int = 1
) -> bytes:
    """main as a JPEG carrying `thumb` (default: main shrunk to 160 px wide) in EXIF IFD1."""
    if thumb is None:
        thumb = main.resize((160, round(160 * main.height / main.width)), Image.Resampling.BOX)
    exif = exif_with_thumbnail(encode(thumb, "JPEG", quality=90), orientation)
    return encode(main, "JPEG", quality=90, exif=exif)


def test_exif_thumbnail_is_found_and_used_for_a_small_first_frame():
    data = camera_jpeg(quadrants(1600).resize((1600, 1200)))
    image = open_preview(data)
    assert isinstance(image, PreviewImage) and image.thumbnail is not None
    assert image.thumbnail.startswith(b"\xff\xd8") and image.thumbnail in data
    pic = image.render(80, 30)  # 80x60 px view: the 160x120 thumbnail is plenty
    assert isinstance(pic, HalfBlockPicture) and pic.from_thumbnail
    assert image.working_size == (160, 120)  # the main image was never decoded
    assert pic.pixel_size == (80, 60) and pic.source_size == (1600, 1200)
    # A same-size re-render (resize of the terminal, redraw) keeps using it.
    assert image.render(80, 30).from_thumbnail


def test_thumbnail_colours_match_the_full_decode():
    base = Image.new("RGB", (640, 480))
    base.paste(Image.linear_gradient("L").resize((640, 480)).convert("RGB"))
    base.paste((200, 40, 30), (0, 0, 320, 240))
    base.paste((30, 160, 60), (320, 240, 640, 480))
    data = camera_jpeg(base.resize((3200, 2400)))
    fast = picture(data, 80, 30)
    full = open_preview(data).render(80, 30, allow_thumbnail=False)
    assert fast.from_thumbnail and not full.from_thumbnail
    assert fast.pixel_size == full.pixel_size
    diffs = []
    for y in range(fast.height):
        for x in range(fast.width):
            (a, _), (b, _) = fast.cell_colours(x, y), full.cell_colours(x, y)
            diffs.append(max(abs(p - q) for p, q in zip(rgb(a), rgb(b))))
    diffs.sort()
    assert diffs[len(diffs) // 2] <= 6  # median channel difference
    assert diffs[int(len(diffs) * 0.95)] <= 40  # edges may differ a little


def test_thumbnail_not_used_when_zoomed_or_the_view_is_larger():
    data = camera_jpeg(quadrants(1600).resize((1600, 1200)))
    image = open_preview(data)
    assert image.render(80, 30).from_thumbnail
    zoomed = image.render(80, 30, zoom=2)
    assert not zoomed.from_thumbnail and image.working_size[0] > 160
    # Back at zoom 1 the (better) full decode is reused, not the thumbnail.
    assert not image.render(80, 30).from_thumbnail
    big = open_preview(data).render(200, 80)  # 200x150 px needed, thumbnail is 160x120
    assert not big.from_thumbnail and big.pixel_size == (200, 150)
    # Slightly above the thumbnail (within 5%) is still fine.
    assert open_preview(data).render(164, 60).from_thumbnail


def test_thumbnail_with_a_different_aspect_ratio_is_ignored():
    main = quadrants(1500).resize((1500, 1000))  # 3:2
    # Camera-style 4:3 thumbnail with black bars, as some cameras write for 3:2 photos.
    padded = Image.new("RGB", (160, 120))
    padded.paste(main.resize((160, 107)), (0, 6))
    image = open_preview(camera_jpeg(main, padded))
    assert isinstance(image, PreviewImage) and image.thumbnail is not None
    pic = image.render(80, 30)
    assert not pic.from_thumbnail
    assert near(pic.cell_colours(2, 1)[0], RED)  # no black bar at the top


def test_broken_or_missing_thumbnail_falls_back_to_the_full_image():
    main = quadrants(800).resize((800, 600))
    assert not picture(encode(main, "JPEG"), 80, 30).from_thumbnail  # no EXIF at all
    thumb = encode(main.resize((160, 120)), "JPEG")
    broken_thumb = thumb[: len(thumb) // 2] + bytes(len(thumb) - len(thumb) // 2)
    broken = encode(main, "JPEG", exif=exif_with_thumbnail(broken_thumb))
    image = open_preview(broken)
    assert isinstance(image, PreviewImage) and image.thumbnail == broken_thumb
    pic = image.render(80, 30)
    assert not pic.from_thumbnail and near(pic.cell_colours(5, 5)[0], RED)


def test_truncated_file_is_reported_even_with_an_intact_thumbnail():
    data = camera_jpeg(Image.effect_noise((800, 600), 40).convert("RGB"))
    image = open_preview(data[: len(data) * 2 // 3])
    assert isinstance(image, PreviewImage)
    assert image.thumbnail is None  # no end-of-image marker: not trusted
    assert_error(image.render(80, 30), "truncated")
    # Cut just after the EXIF block: the thumbnail's own end marker must not count.
    thumb_end = data.index(b"\xff\xd9") + 2
    image = open_preview(data[: thumb_end + 3000])
    assert isinstance(image, PreviewImage) and image.thumbnail is None
    assert_error(image.render(80, 30), "truncated")


@pytest.mark.parametrize("orientation", range(1, 9))
def test_orientation_is_applied_to_the_thumbnail(orientation):
    raw = Image.new("RGB", (1200, 800), WHITE)
    raw.paste(RED, (0, 0, 600, 400))
    raw.paste(GREEN, (600, 0, 1200, 400))
    raw.paste(BLUE, (0, 400, 600, 800))
    data = camera_jpeg(raw, orientation=orientation)
    expected = ImageOps.exif_transpose(Image.open(BytesIO(data)))
    full = open_preview(data).render(60, 30, allow_thumbnail=False)
    pic = picture(data, 60, 30)
    assert pic.from_thumbnail
    assert pic.source_size == expected.size and pic.pixel_size == full.pixel_size
    w, h = pic.pixel_size
    ew, eh = expected.size
    for fx, fy in ((0.25, 0.25), (0.75, 0.25), (0.25, 0.75), (0.75, 0.75)):
        want = expected.getpixel((int(fx * ew), int(fy * eh)))
        fg, _ = pic.cell_colours(int(fx * w), int(fy * h) // 2)
        assert near(fg, want), (orientation, fx, fy, rgb(fg), want)
