"""Box geometry: image pixels <-> screen pixels at every size and zoom, EXIF-rotated images
included, and the picture the preview draws agrees with where boxes are placed."""

from __future__ import annotations

import io

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from PIL import Image

from tuilabel.core.geometry import MAX_ZOOM, clamp_box, one_to_one, oriented_size, view_window
from tuilabel.core.preview import open_preview

sizes = st.integers(1, 6000)
boxes = st.integers(1, 400)
zooms = st.floats(1.0, MAX_ZOOM)
fractions = st.floats(0.0, 1.0)


@settings(max_examples=400, deadline=None)
@given(sizes, sizes, boxes, boxes, zooms, fractions, fractions, st.data())
def test_round_trips_on_the_coarser_grid(w, h, bw, bh, zoom, cx, cy, data):
    win = view_window(w, h, bw, bh, zoom, (cx, cy))
    assert 1 <= win.out_w <= bw and 1 <= win.out_h <= bh
    assert -1e-6 <= win.left and win.left + win.vis_w <= w + 1e-6
    if win.kx > 1:  # a screen pixel is smaller than an image pixel: image -> screen -> image
        x = data.draw(st.integers(int(win.left) + 1, max(int(win.left) + 1, int(win.left + win.vis_w) - 1)))
        assume(x < w)
        assert win.to_image_x(win.to_screen_x(x)) == x
    elif win.kx < 1:  # larger: screen -> image -> screen
        p = data.draw(st.integers(0, win.out_w - 1))
        assert win.to_screen_x(win.to_image_x(p)) == p
    if win.ky > 1:
        y = data.draw(st.integers(int(win.top) + 1, max(int(win.top) + 1, int(win.top + win.vis_h) - 1)))
        assume(y < h)
        assert win.to_image_y(win.to_screen_y(y)) == y
    elif win.ky < 1:
        p = data.draw(st.integers(0, win.out_h - 1))
        assert win.to_screen_y(win.to_image_y(p)) == p


@settings(max_examples=300, deadline=None)
@given(sizes, sizes, boxes, boxes, zooms, fractions, fractions, st.integers(-50, 500))
def test_screen_to_image_is_monotonic_and_inside_the_image(w, h, bw, bh, zoom, cx, cy, p):
    win = view_window(w, h, bw, bh, zoom, (cx, cy))
    x0, x1 = win.to_image_x(p), win.to_image_x(p + 1)
    assert 0 <= x0 <= x1 <= w - 1
    y0, y1 = win.to_image_y(p), win.to_image_y(p + 1)
    assert 0 <= y0 <= y1 <= h - 1


@settings(max_examples=300, deadline=None)
@given(st.integers(200, 6000), st.integers(200, 6000), boxes, boxes, st.data())
def test_one_to_one_puts_every_image_pixel_on_its_own_screen_pixel(w, h, bw, bh, data):
    x, y = data.draw(st.integers(0, w - 1)), data.draw(st.integers(0, h - 1))
    zoom, center = one_to_one(w, h, bw, bh, x, y)
    win = view_window(w, h, bw, bh, zoom, center)
    if min(bw / w, bh / h) >= 1:
        return  # fits already: shown fitted
    assert win.kx == 1 and win.ky == 1 and win.left == int(win.left) and win.top == int(win.top)
    assert win.shows(x, y)
    for p in (0, win.out_w // 2, win.out_w - 1):
        assert win.to_screen_x(win.to_image_x(p)) == p
        assert win.to_image_x(p) == int(win.left) + p


@settings(max_examples=300, deadline=None)
@given(sizes, sizes, boxes, boxes, zooms, fractions, fractions, st.data())
def test_fine_steps_reach_every_pixel_and_follow_the_view(w, h, bw, bh, zoom, cx, cy, data):
    win = view_window(w, h, bw, bh, zoom, (cx, cy))
    x = data.draw(st.integers(0, w - 1))
    right = win.step_x(x, 1)
    assert right == min(w - 1, x + 1) if win.kx >= 1 else right > x or x == w - 1
    assert win.step_x(x, -1) < x or x == 0
    assert win.step_x(x, 0) == x and win.step_y(min(x, h - 1), 0) == min(x, h - 1)  # the other axis stays put
    # Bringing any pixel into view keeps the zoom and shows it.
    y = data.draw(st.integers(0, h - 1))
    moved = view_window(w, h, bw, bh, win.zoom, win.center_showing(x, y))
    assert moved.shows(x, y)


@settings(max_examples=300, deadline=None)
@given(st.integers(-100, 700), st.integers(-100, 700), st.integers(-100, 700), st.integers(-100, 700), sizes, sizes)
def test_clamped_boxes_stay_inside_and_are_at_least_one_pixel(l, t, r, b, w, h):
    left, top, width, height = clamp_box(l, t, r, b, w, h)
    assert 0 <= left and left + width <= w and width >= 1
    assert 0 <= top and top + height <= h and height >= 1


def _jpeg_with_orientation(raw_w: int, raw_h: int, orientation: int, dot: tuple[int, int]) -> bytes:
    """A grey JPEG whose stored pixels have a red block at `dot` (stored coordinates)."""
    img = Image.new("RGB", (raw_w, raw_h), (90, 90, 90))
    x, y = dot
    img.paste((255, 0, 0), (x, y, x + 8, y + 8))
    exif = Image.Exif()
    exif[0x0112] = orientation
    out = io.BytesIO()
    img.save(out, "JPEG", quality=95, exif=exif)
    return out.getvalue()


def _oriented_point(x: int, y: int, raw_w: int, raw_h: int, orientation: int) -> tuple[int, int]:
    """Where stored pixel (x, y) lands once the EXIF orientation is applied (centre of an 8 px
    block, as the test draws them)."""
    cx, cy = x + 4, y + 4
    return {
        1: (cx, cy),
        3: (raw_w - cx, raw_h - cy),
        6: (raw_h - cy, cx),  # rotate 90 clockwise
        8: (cy, raw_w - cx),  # rotate 90 counter-clockwise
    }[orientation]


@pytest.mark.parametrize("orientation", [1, 3, 6, 8])
@pytest.mark.parametrize("zoom", [1.0, 2.5, "1:1"])
def test_boxes_land_on_the_pixels_the_preview_draws_for_rotated_photos(orientation, zoom):
    raw_w, raw_h, dot = 300, 200, (40, 150)
    image = open_preview(_jpeg_with_orientation(raw_w, raw_h, orientation, dot))
    assert image.size == oriented_size(raw_w, raw_h, orientation)  # GT's image_size is the shown one
    w, h = image.size
    ox, oy = _oriented_point(*dot, raw_w, raw_h, orientation)
    cells_w, cells_h = 60, 40
    if zoom == "1:1":
        zoom, center = one_to_one(w, h, cells_w, cells_h * 2, ox, oy)
    else:
        center = (ox / w, oy / h)
    picture = image.render(cells_w, cells_h, zoom, center, allow_thumbnail=False)
    win = view_window(w, h, cells_w, cells_h * 2, zoom, center)
    assert (win.out_w, win.out_h) == picture.pixel_size
    px, py = win.to_screen_x(ox), win.to_screen_y(oy)
    fg, bg = picture.cell_colours(px, py // 2)
    r, g, b = (fg if py % 2 == 0 else bg) >> 16, ((fg if py % 2 == 0 else bg) >> 8) & 0xFF, (fg if py % 2 == 0 else bg) & 0xFF
    assert r > 180 and g < 90 and b < 90, f"red dot not at screen pixel {px},{py}"
    # And the pixel the screen maps back to is the dot's.
    assert abs(win.to_image_x(px) - ox) <= max(1, 1 / win.kx) and abs(win.to_image_y(py) - oy) <= max(1, 1 / win.ky)
