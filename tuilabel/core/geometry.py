"""Where image pixels land on the screen: one formula for every picture and every box.

An image of `W`×`H` pixels (EXIF orientation applied: the size a browser shows, which is the
`image_size` GT writes and the frame its box coordinates are in) is fitted into a box of
`box_w`×`box_h` screen pixels (half-block: one cell is 1×2 pixels; kitty/sixel: the pane's
pixels), magnified `zoom` times around `center` (fractions of the image, clamped so the view
stays inside it). `view_window` gives the part of the image shown and its scale; the preview
renders exactly that part, and boxes and the cursor are placed with the same numbers:

    win = view_window(W, H, box_w, box_h, zoom, center)
    p = win.to_screen_x(x)     # the screen pixel showing image pixel x's centre
    x = win.to_image_x(p)      # the image pixel under screen pixel p's centre (clamped)

Round trips are exact on the coarser grid: when a screen pixel is no larger than an image
pixel (zoomed in, `kx` > 1, or exactly 1:1 with a whole-pixel window, which `one_to_one`
gives), image → screen → image returns the same pixel; when it is larger (zoomed out),
screen → image → screen returns the same screen pixel. Image pixel coordinates are integers,
as GT writes human boxes: a box covers pixels [left, left + width) × [top, top + height).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

MAX_ZOOM = 64.0


def _clamp(value: float, low: float, high: float) -> float:
    return low if value < low else high if value > high else value


def _finite(value: float, default: float = 0.5) -> float:
    return value if math.isfinite(value) else default


@dataclass(frozen=True, slots=True)
class Window:
    """The shown part of a `src_w`×`src_h` image: from (`left`, `top`), `vis_w`×`vis_h` image
    pixels (floats), drawn as `out_w`×`out_h` screen pixels."""

    src_w: int
    src_h: int
    zoom: float
    scale: float  # screen pixels per image pixel, as asked (out_* round it per axis)
    out_w: int
    out_h: int
    left: float
    top: float
    vis_w: float
    vis_h: float

    @property
    def kx(self) -> float:
        """Screen pixels per image pixel across (exact for the drawn picture)."""
        return self.out_w / self.vis_w

    @property
    def ky(self) -> float:
        return self.out_h / self.vis_h

    @property
    def center(self) -> tuple[float, float]:
        """The effective (clamped) center, as fractions of the image."""
        return ((self.left + self.vis_w / 2) / self.src_w, (self.top + self.vis_h / 2) / self.src_h)

    def to_screen_x(self, x: float) -> int:
        """The picture column (0 = the picture's left edge) showing image column x's centre."""
        return math.floor((x + 0.5 - self.left) * self.kx)

    def to_screen_y(self, y: float) -> int:
        return math.floor((y + 0.5 - self.top) * self.ky)

    def to_image_x(self, px: int) -> int:
        """The image column under picture column px's centre, clamped into the image."""
        return int(_clamp(math.floor(self.left + (px + 0.5) / self.kx), 0, self.src_w - 1))

    def to_image_y(self, py: int) -> int:
        return int(_clamp(math.floor(self.top + (py + 0.5) / self.ky), 0, self.src_h - 1))

    def shows(self, x: int, y: int) -> bool:
        """Image pixel (x, y) is on screen."""
        return 0 <= self.to_screen_x(x) < self.out_w and 0 <= self.to_screen_y(y) < self.out_h

    def step_x(self, x: int, steps: int) -> int:
        """Image column `steps` screen pixels away (at least one image pixel per step, so a
        zoomed-in cursor still moves pixel by pixel), clamped into the image."""
        return self._step(x, steps, self.kx, self.to_screen_x, self.to_image_x, self.src_w)

    def step_y(self, y: int, steps: int) -> int:
        return self._step(y, steps, self.ky, self.to_screen_y, self.to_image_y, self.src_h)

    @staticmethod
    def _step(v: int, steps: int, k: float, to_screen, to_image, size: int) -> int:
        if not steps:
            return v
        if k >= 1:
            return int(_clamp(v + steps, 0, size - 1))
        moved = to_image(to_screen(v) + steps)
        if moved == v:  # clamped at the picture's edge: keep going in image pixels
            moved = v + (1 if steps > 0 else -1)
        return int(_clamp(moved, 0, size - 1))

    def center_showing(self, x: int, y: int) -> tuple[float, float]:
        """A center that keeps this zoom and brings image pixel (x, y) into view with the
        least movement (the same center when it is shown already)."""
        left = _into_view(x, self.left, self.vis_w)
        top = _into_view(y, self.top, self.vis_h)
        return ((left + self.vis_w / 2) / self.src_w, (top + self.vis_h / 2) / self.src_h)


def _into_view(v: int, start: float, length: float) -> float:
    """The window start that shows pixel v's centre, moved as little as possible."""
    if start <= v + 0.5 < start + length:
        return start
    if length < 1:
        return v + 0.5 - length / 2
    return float(v) if v + 0.5 < start else v + 1 - length


def view_window(src_w: int, src_h: int, box_w: int, box_h: int, zoom: float = 1.0,
                center: tuple[float, float] = (0.5, 0.5)) -> Window:
    """Fit the image into box_w×box_h screen pixels, magnify `zoom` times (1 ≤ zoom ≤
    max_zoom), keep the view inside the image around `center`."""
    fit = fit_scale(src_w, src_h, box_w, box_h)
    zoom = min(max_zoom(fit), max(1.0, float(zoom) if math.isfinite(zoom) else 1.0))
    scale = fit * zoom
    if abs(scale - 1.0) < 1e-9:  # 1:1 asked through a float zoom: make it exact
        scale = 1.0
    out_w = max(1, min(box_w, round(src_w * scale)))
    out_h = max(1, min(box_h, round(src_h * scale)))
    vis_w = min(src_w, out_w / scale)
    vis_h = min(src_h, out_h / scale)
    cx = _clamp(_finite(center[0]) * src_w, vis_w / 2, src_w - vis_w / 2)
    cy = _clamp(_finite(center[1]) * src_h, vis_h / 2, src_h - vis_h / 2)
    left, top = cx - vis_w / 2, cy - vis_h / 2
    if scale == 1.0:  # a center made by one_to_one comes back through floats: keep whole pixels
        left, top = _snap(left), _snap(top)
    return Window(src_w, src_h, zoom, scale, out_w, out_h, left, top, vis_w, vis_h)


def _snap(value: float) -> float:
    near = round(value)
    return float(near) if abs(value - near) < 1e-6 else value


def fit_scale(src_w: int, src_h: int, box_w: int, box_h: int) -> float:
    return min(box_w / src_w, box_h / src_h)


def max_zoom(fit: float) -> float:
    """MAX_ZOOM, or more for a picture so large that 64× does not reach 4 screen pixels per
    image pixel: a box edge can always be placed to the pixel."""
    return max(MAX_ZOOM, 4.0 / fit)


def one_to_one(src_w: int, src_h: int, box_w: int, box_h: int, x: int, y: int) -> tuple[float, tuple[float, float]]:
    """(zoom, center) showing one image pixel per screen pixel around (x, y), with the window
    starting on a whole pixel so every screen pixel is exactly one image pixel. An image that
    fits already at 1:1 or larger is shown fitted (zoom 1)."""
    fit = fit_scale(src_w, src_h, box_w, box_h)
    if fit >= 1.0:
        return 1.0, (0.5, 0.5)
    zoom = 1.0 / fit
    vis_w, vis_h = min(src_w, box_w), min(src_h, box_h)
    left = _clamp(x - vis_w // 2, 0, src_w - vis_w)
    top = _clamp(y - vis_h // 2, 0, src_h - vis_h)
    return zoom, ((left + vis_w / 2) / src_w, (top + vis_h / 2) / src_h)


def oriented_size(raw_w: int, raw_h: int, orientation: int) -> tuple[int, int]:
    """The displayed size of a `raw_w`×`raw_h` image with this EXIF orientation (5-8 turn it
    a quarter, swapping the sides): what GT's `image_size` and box coordinates refer to."""
    return (raw_h, raw_w) if orientation in (5, 6, 7, 8) else (raw_w, raw_h)


def clamp_box(left: int, top: int, right: int, bottom: int, width: int, height: int) -> tuple[int, int, int, int]:
    """(left, top, width, height) of the box between two corners given as pixel edges in any
    order, cut to the image and at least one pixel each way."""
    if right < left:
        left, right = right, left
    if bottom < top:
        top, bottom = bottom, top
    left = int(_clamp(left, 0, width - 1))
    top = int(_clamp(top, 0, height - 1))
    right = int(_clamp(right, left + 1, width))
    bottom = int(_clamp(bottom, top + 1, height))
    return left, top, right - left, bottom - top
