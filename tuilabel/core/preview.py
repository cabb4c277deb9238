"""Image preview: decode small, orient, and turn pixels into half-block terminal cells.

A terminal cell is about twice as tall as it is wide, so one cell showing "▀" with the
foreground set to the top pixel and the background to the bottom pixel displays a 1x2 pixel
block. An image fitted into W x H cells is therefore scaled to at most W x 2H pixels.

The work is split so that the slow part happens once per image and in C:

* `open_preview(data)` reads only the header (size, format, EXIF orientation) and checks
  Ground Truth's limits (40 MB, 100 megapixels). Nothing is decoded yet.
* `PreviewImage.render(cells_w, cells_h, zoom, center)` decodes at the smallest resolution
  the view needs (JPEG `draft` lets libjpeg scale by 1/2, 1/4, 1/8 while decoding), applies
  EXIF orientation, composites transparency onto neutral grey, and keeps that working image
  so zoom and pan re-render without decoding again (a deeper zoom re-decodes a JPEG at a
  higher draft scale, never above `WORK_MAX_SIDE`).
* Camera JPEGs carry a small EXIF thumbnail (IFD1, typically 160x120). When the view at
  zoom 1 needs no more pixels than it has (within 5%), the first frame decodes that
  thumbnail (a few KB) instead of entropy-decoding the whole multi-megabyte file, which
  libjpeg must do even at 1/8 draft scale. It is used only if its aspect ratio matches the
  main image within 2% (some cameras pad thumbnails with black bars) and the file ends with
  a JPEG end-of-image marker (a truncated download must still be reported, not hidden behind
  its intact thumbnail). The main image's EXIF orientation is applied to it. Zooming in or a
  larger view decodes the full image as before; `render(..., allow_thumbnail=False)` forces
  that, e.g. to refine the first frame in the background.
* Cells are built from `Image.tobytes()` packed as 0xRRGGBB integers; the only Python loop is
  one comparison per cell to merge identical neighbours into runs.

Bad data never raises: every entry point returns a `PreviewError` with a one-line message.
Truncated files are an error, not a silently half-grey picture: Pillow's
`ImageFile.LOAD_TRUNCATED_IMAGES` stays False (we never change that global), so a partial
download is reported as such.

Pixel limits: Pillow is imported when the first image is opened (`open_preview`; a text job
never needs it, and the import is ~9 ms of start-up), which sets its global `Image.MAX_IMAGE_PIXELS` to Ground
Truth's 100 MP limit (Pillow's default is 89.5 MP, so a legal 90-100 MP image made Pillow print
a `DecompressionBombWarning`; Pillow still raises above twice the limit, 200 MP). Images over
100 MP are refused: for PNG and JPEG (GT's formats), GIF and BMP we read the size from the
header bytes ourselves *before* `Image.open`, so Pillow never gets to warn about an image we
refuse anyway (an over-limit WEBP/TIFF/PPM/ICO/TGA can still make Pillow warn once before we
refuse it).
Silencing with `warnings.catch_warnings()` is not an option: it swaps process-global state
and is not thread-safe, and we decode in worker threads. Pillow is also used by
`quality/check.py` and `quality/near_duplicates.py` (verify and hash images; they apply GT's
limits themselves) and `ui/graphics.py` (scale for kitty/sixel, after this module decoded).

Everything here is pure (no Textual, no Rich) and safe to call from worker threads:
`PreviewImage` guards its cached working image with a lock, and `PreviewCache` is a small
thread-safe LRU for prefetching.
"""

from __future__ import annotations

import math
import sys
import threading
from array import array
from collections import OrderedDict
from dataclasses import dataclass
from io import BytesIO
from typing import TYPE_CHECKING, Any, Generic, Hashable, TypeVar

if TYPE_CHECKING:
    from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError
else:  # bound by _pillow() on first use
    ExifTags = Image = ImageOps = UnidentifiedImageError = None

from tuilabel.core.geometry import MAX_ZOOM, view_window  # noqa: F401  (MAX_ZOOM: the view widgets import it from here)
from tuilabel.core.gt.limits import MAX_IMAGE_BYTES, MAX_IMAGE_PIXELS


def _pillow() -> None:
    """Import Pillow into this module's globals, once (thread-safe: imports take a lock and
    the names are bound before the one that is checked)."""
    global ExifTags, Image, ImageOps, UnidentifiedImageError
    if UnidentifiedImageError is not None:
        return
    from PIL import ExifTags as exif_tags, Image as image, ImageOps as image_ops, UnidentifiedImageError as unidentified

    # Pillow warns above MAX_IMAGE_PIXELS and raises above twice that; match GT's limit so
    # legal images never warn (see the module docstring). Set once, never toggled.
    image.MAX_IMAGE_PIXELS = MAX_IMAGE_PIXELS
    ExifTags, Image, ImageOps = exif_tags, image, image_ops
    UnidentifiedImageError = unidentified


#: Transparent pixels are shown over this neutral mid-grey.
BACKGROUND_RGB = (128, 128, 128)

#: Upper bound for the long side of the cached, decoded working image.
WORK_MAX_SIDE = 2048


HALF_BLOCK = "▀"

#: Formats we preview. GT itself accepts JPEG and PNG; the others are common raster formats
#: Pillow decodes without external programs (EPS, for one, needs Ghostscript).
SUPPORTED_FORMATS = frozenset(
    {"JPEG", "MPO", "PNG", "GIF", "BMP", "WEBP", "TIFF", "PPM", "ICO", "TGA"}
)

_ORIENTATION_TAG = 0x0112
_THUMB_OFFSET_TAG = 0x0201  # JPEGInterchangeFormat, relative to the TIFF header
_THUMB_LENGTH_TAG = 0x0202  # JPEGInterchangeFormatLength
#: Use the EXIF thumbnail if it has at least this fraction of the pixels per side the view needs.
THUMBNAIL_MIN_COVER = 0.95
#: ... and its aspect ratio is within this relative difference of the main image's.
THUMBNAIL_MAX_ASPECT_DIFF = 0.02
_JPEG_EOI = b"\xff\xd9"
_DRAFT_FORMATS = frozenset({"JPEG", "MPO"})

# One 4-byte unsigned type for packing pixels ("I" is 4 bytes on every platform we ship to).
_UINT32 = "I" if array("I").itemsize == 4 else "L"
_BIG_ENDIAN = sys.byteorder == "big"

_BLOCKS = [HALF_BLOCK * n for n in range(513)]


def _blocks(n: int) -> str:
    return _BLOCKS[n] if n < len(_BLOCKS) else HALF_BLOCK * n


def rgb(colour: int) -> tuple[int, int, int]:
    """Split a packed 0xRRGGBB colour into (r, g, b)."""
    return (colour >> 16) & 0xFF, (colour >> 8) & 0xFF, colour & 0xFF


def pack_rgb(r: int, g: int, b: int) -> int:
    """Pack (r, g, b) into the 0xRRGGBB integer used in cell runs."""
    return (r << 16) | (g << 8) | b


@dataclass(frozen=True, slots=True)
class PreviewError:
    """Why an image cannot be shown, as one human-readable line."""

    message: str

    def __str__(self) -> str:
        return self.message


#: One run of identical cells: (text of n "▀", foreground 0xRRGGBB, background 0xRRGGBB or
#: None). The background is None only on the last row of an odd-height picture, where the
#: bottom half of each cell has no pixel and should show whatever is behind the picture.
Run = tuple[str, int, int | None]


@dataclass(frozen=True, slots=True)
class HalfBlockPicture:
    """A rendered picture: rows of runs, ready to become terminal lines.

    `width` x `height` are in cells; `pixel_size` is the image actually drawn (width x
    2*height or one pixel row fewer). `zoom` and `center` are the effective view after
    clamping, and `visible` is the shown part of the source as fractions
    (left, top, right, bottom) so callers can pan by a fraction of the view.
    """

    width: int
    height: int
    rows: tuple[tuple[Run, ...], ...]
    pixel_size: tuple[int, int]
    source_size: tuple[int, int]
    zoom: float
    center: tuple[float, float]
    visible: tuple[float, float, float, float]
    #: True when drawn from the file's embedded EXIF thumbnail instead of the full image.
    from_thumbnail: bool = False

    def cell_colours(self, x: int, y: int) -> tuple[int, int | None]:
        """(foreground, background) of cell (x, y); for tests and hit-testing, not drawing."""
        if not (0 <= x < self.width and 0 <= y < self.height):
            raise IndexError(f"cell {x},{y} outside a {self.width}x{self.height} picture")
        offset = 0
        for text, fg, bg in self.rows[y]:
            offset += len(text)
            if x < offset:
                return fg, bg
        raise AssertionError("row shorter than picture width")  # pragma: no cover

    def panned_center(self, dx: float, dy: float) -> tuple[float, float]:
        """Center moved by dx, dy fractions of the visible width/height (render clamps it)."""
        left, top, right, bottom = self.visible
        cx, cy = self.center
        return cx + dx * (right - left), cy + dy * (bottom - top)


class PreviewImage:
    """An image whose header has been read; renders views on demand (thread-safe)."""

    def __init__(
        self,
        data: bytes,
        fmt: str,
        raw_size: tuple[int, int],
        orientation: int,
        thumbnail: bytes | None = None,
    ):
        self._data = data
        #: Embedded EXIF thumbnail (JPEG bytes) that passed the cheap checks, else None.
        self.thumbnail = thumbnail
        self.format = fmt
        self.orientation = orientation
        # Orientations 5-8 swap width and height (transpose / rotate 90 / 270).
        self._swap = orientation in (5, 6, 7, 8)
        self.raw_size = raw_size
        self.size = (raw_size[1], raw_size[0]) if self._swap else raw_size
        self._lock = threading.Lock()
        self._work: Image.Image | None = None
        self._work_scale = 0.0  # working image width / oriented source width
        self._work_is_thumbnail = False
        self._thumb: Image.Image | None | bool = None  # decoded thumbnail; False = unusable

    @property
    def working_size(self) -> tuple[int, int] | None:
        """Size of the cached decoded image (None before the first render)."""
        work = self._work
        return None if work is None else work.size

    @property
    def max_work_scale(self) -> float:
        return min(1.0, WORK_MAX_SIDE / max(self.size))

    def render(
        self,
        cells_w: int,
        cells_h: int,
        zoom: float = 1.0,
        center: tuple[float, float] = (0.5, 0.5),
        allow_thumbnail: bool = True,
    ) -> HalfBlockPicture | PreviewError:
        """Fit the image into cells_w x cells_h cells, zoomed around center (fractions 0..1).

        zoom 1 shows the whole image; zoom z magnifies the fitted picture z times and shows
        the part that fits in the cells around center (clamped to stay inside the image).
        With allow_thumbnail (default), a zoom-1 view small enough for the embedded EXIF
        thumbnail is drawn from it; the picture's `from_thumbnail` says so.
        """
        if cells_w < 1 or cells_h < 1:
            return PreviewError(f"no room to draw the image ({cells_w}x{cells_h} cells)")
        src_w, src_h = self.size
        # Part of the source that is visible, in source pixels, clamped inside the image (the
        # same window boxes are drawn in).
        win = view_window(src_w, src_h, cells_w, cells_h * 2, zoom, center)
        zoom, scale, out_w, out_h = win.zoom, win.scale, win.out_w, win.out_h
        left, top, vis_w, vis_h = win.left, win.top, win.vis_w, win.vis_h
        cx, cy = left + vis_w / 2, top + vis_h / 2

        work, from_thumbnail = self._working_image(scale, allow_thumbnail and zoom == 1.0)
        if isinstance(work, PreviewError):
            return work
        # Per-axis scales: a draft decode rounds each side up, and a thumbnail's aspect may
        # differ from the image's by up to THUMBNAIL_MAX_ASPECT_DIFF.
        wsx, wsy = work.width / src_w, work.height / src_h
        box = (left * wsx, top * wsy, (left + vis_w) * wsx, (top + vis_h) * wsy)
        downscale = (box[2] - box[0]) >= out_w
        resample = Image.Resampling.BOX if downscale else Image.Resampling.BILINEAR
        shown = work.resize((out_w, out_h), resample, box=box)
        rows = _half_block_rows(shown)
        return HalfBlockPicture(
            width=out_w,
            height=len(rows),
            rows=rows,
            pixel_size=(out_w, out_h),
            source_size=self.size,
            zoom=zoom,
            center=(cx / src_w, cy / src_h),
            visible=(left / src_w, top / src_h, (left + vis_w) / src_w, (top + vis_h) / src_h),
            from_thumbnail=from_thumbnail,
        )

    def decoded(self, scale: float) -> Image.Image | PreviewError:
        """The full image decoded (never the EXIF thumbnail) at no less than `scale` times
        its oriented size (capped), RGB on grey; cached like every render. For drawing paths
        other than half-block (kitty, sixel)."""
        work, _ = self._working_image(scale, False)
        return work

    def _working_image(
        self, scale: float, thumbnail_ok: bool
    ) -> tuple[Image.Image | PreviewError, bool]:
        """(Decoded RGB image with at least `scale` x source resolution (up to the cap),
        whether it is the EXIF thumbnail)."""
        needed = min(scale, self.max_work_scale)
        with self._lock:
            work = self._work
            if work is not None:
                if not self._work_is_thumbnail and self._work_scale >= needed * 0.999:
                    return work, False
                if (
                    self._work_is_thumbnail
                    and thumbnail_ok
                    and self._work_scale >= needed * THUMBNAIL_MIN_COVER
                ):
                    return work, True
            if thumbnail_ok and work is None:
                thumb = self._thumbnail_image()
                thumb_scale = 0.0
                if thumb is not None:
                    thumb_scale = min(thumb.width / self.size[0], thumb.height / self.size[1])
                if thumb is not None and thumb_scale >= needed * THUMBNAIL_MIN_COVER:
                    self._work, self._work_is_thumbnail = thumb, True
                    self._work_scale = thumb_scale
                    return thumb, True
            # Ask for a little more than needed so small zoom steps reuse the decode.
            request = min(self.max_work_scale, needed * 1.25)
            work = self._decode(request)
            if isinstance(work, PreviewError):
                return work, False
            self._work, self._work_is_thumbnail = work, False
            self._work_scale = work.width / self.size[0]
            return work, False

    def _thumbnail_image(self) -> Image.Image | None:
        """The decoded, oriented EXIF thumbnail if its shape matches the image (lock held)."""
        if self._thumb is None:
            self._thumb = _decode_thumbnail(self.thumbnail, self.raw_size, self.orientation)
        return self._thumb or None

    def _decode(self, scale: float) -> Image.Image | PreviewError:
        try:
            with Image.open(BytesIO(self._data)) as img:
                raw_w, raw_h = self.raw_size
                want = (max(1, math.ceil(raw_w * scale)), max(1, math.ceil(raw_h * scale)))
                if self.format in _DRAFT_FORMATS:
                    # libjpeg scales by 1/2..1/8 while decoding: far less work for previews.
                    img.draft("RGB", want)
                img.load()
                img = _first_frame_rgb(img)
        except Image.DecompressionBombError as exc:
            return PreviewError(f"image refused as a decompression bomb: {exc}")
        except OSError as exc:
            return PreviewError(_describe_load_error(exc))
        except (SyntaxError, ValueError, TypeError, IndexError, EOFError) as exc:
            return PreviewError(f"corrupt image data: {_one_line(exc)}")
        except MemoryError:
            return PreviewError("not enough memory to decode this image")
        work_w, work_h = (img.height, img.width) if self._swap else img.size
        cap_w = max(1, math.ceil(self.size[0] * self.max_work_scale))
        if work_w > cap_w:
            cap_h = max(1, round(work_h * cap_w / work_w))
            size = (cap_h, cap_w) if self._swap else (cap_w, cap_h)
            img = img.resize(size, Image.Resampling.BOX, reducing_gap=2.0)
        if self.orientation != 1:
            img = _orient(img, self.orientation)
        return img


def open_preview(data: bytes | bytearray | memoryview | None) -> PreviewImage | PreviewError:
    """Read the image header and check limits; decoding happens on first render."""
    if data is None:
        return PreviewError("no image data (the file could not be read)")
    _pillow()
    data = bytes(data)
    if not data:
        return PreviewError("the image file is empty (0 bytes)")
    if len(data) > MAX_IMAGE_BYTES:
        return PreviewError(
            f"image file is {len(data) / 1024 / 1024:.1f} MB; Ground Truth accepts at most 40 MB"
        )
    # Refuse over-limit PNG/JPEG/GIF/BMP before Pillow sees them: no Pillow warning (see top).
    sniffed = _header_size(data)
    if sniffed is not None and sniffed[0] * sniffed[1] > MAX_IMAGE_PIXELS:
        return _too_many_pixels(*sniffed)
    try:
        with Image.open(BytesIO(data)) as img:
            fmt = img.format or "unknown"
            raw_size = img.size
            orientation, thumbnail = _exif_orientation_and_thumbnail(img, data)
    except Image.DecompressionBombError as exc:
        return PreviewError(
            f"image refused as a decompression bomb (Ground Truth's limit is 100 megapixels): "
            f"{_one_line(exc)}"
        )
    except UnidentifiedImageError:
        return PreviewError(
            f"not a recognised image ({_sniff(data)}); Ground Truth accepts JPEG and PNG"
        )
    except (OSError, SyntaxError, ValueError, TypeError, IndexError, EOFError) as exc:
        return PreviewError(f"corrupt image header: {_one_line(exc)}")
    if fmt not in SUPPORTED_FORMATS:
        return PreviewError(f"unsupported image format {fmt}; Ground Truth accepts JPEG and PNG")
    width, height = raw_size
    if width < 1 or height < 1:
        return PreviewError(f"image has no pixels ({width}x{height})")
    if width * height > MAX_IMAGE_PIXELS:
        return _too_many_pixels(width, height)
    return PreviewImage(data, fmt, raw_size, orientation, thumbnail)


def load_preview(
    data: bytes | None,
    cells_w: int,
    cells_h: int,
    zoom: float = 1.0,
    center: tuple[float, float] = (0.5, 0.5),
) -> HalfBlockPicture | PreviewError:
    """One call: open, decode small, render. Use `open_preview` to keep zoom/pan cheap."""
    image = open_preview(data)
    if isinstance(image, PreviewError):
        return image
    return image.render(cells_w, cells_h, zoom, center)


K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class PreviewCache(Generic[K, V]):
    """Thread-safe LRU cache, e.g. source key -> PreviewImage, or
    (source key, cells_w, cells_h, zoom, center) -> HalfBlockPicture for prefetching."""

    def __init__(self, max_items: int = 32):
        if max_items < 1:
            raise ValueError("max_items must be at least 1")
        self.max_items = max_items
        self._items: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def put(self, key: K, value: V) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.max_items:
                self._items.popitem(last=False)

    def discard(self, key: K) -> None:
        with self._lock:
            self._items.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def __contains__(self, key: object) -> bool:
        with self._lock:
            return key in self._items

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)


def _half_block_rows(img: Image.Image) -> tuple[tuple[Run, ...], ...]:
    """RGB image -> rows of merged runs, two pixel rows per cell row."""
    width, height = img.size
    r, g, b = img.split()
    # Bands in B, G, R, 0 order read as little-endian uint32 give 0x00RRGGBB per pixel.
    packed = Image.merge("RGBA", (b, g, r, Image.new("L", img.size, 0))).tobytes()
    pixels = array(_UINT32)
    pixels.frombytes(packed)
    if _BIG_ENDIAN:
        pixels.byteswap()
    rows: list[tuple[Run, ...]] = []
    blocks = _blocks
    for y in range(0, height, 2):
        top = pixels[y * width : (y + 1) * width]
        if y + 1 < height:
            bottom = pixels[(y + 1) * width : (y + 2) * width]
        else:
            bottom = [None] * width
        runs: list[Run] = []
        append = runs.append
        prev_fg, prev_bg = top[0], bottom[0]
        count = 0
        for fg, bg in zip(top, bottom):
            if fg == prev_fg and bg == prev_bg:
                count += 1
            else:
                append((blocks(count), prev_fg, prev_bg))
                prev_fg, prev_bg, count = fg, bg, 1
        append((blocks(count), prev_fg, prev_bg))
        rows.append(tuple(runs))
    return tuple(rows)


def _first_frame_rgb(img: Image.Image) -> Image.Image:
    """Any mode -> RGB; transparency composited over BACKGROUND_RGB."""
    if img.mode == "RGB":
        return img
    has_alpha = img.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (
        img.mode in ("P", "L", "RGB", "1", "I", "I;16") and "transparency" in img.info
    )
    if has_alpha:
        rgba = img.convert("RGBA")
        base = Image.new("RGBA", rgba.size, BACKGROUND_RGB + (255,))
        return Image.alpha_composite(base, rgba).convert("RGB")
    if img.mode in ("I", "I;16", "I;16B", "I;16L", "F"):
        # 16-bit / float greyscale: scale to 8 bits instead of clipping to white.
        return ImageOps.autocontrast(img.convert("F").convert("L")).convert("RGB")
    return img.convert("RGB")


_ORIENT_OPS = {  # EXIF orientation -> Image.Transpose member names
    2: ("FLIP_LEFT_RIGHT",),
    3: ("ROTATE_180",),
    4: ("FLIP_TOP_BOTTOM",),
    5: ("TRANSPOSE",),
    6: ("ROTATE_270",),
    7: ("TRANSVERSE",),
    8: ("ROTATE_90",),
}


def _orient(img: Image.Image, orientation: int) -> Image.Image:
    """Apply an EXIF orientation (same table as ImageOps.exif_transpose).

    We read the tag from the header once and transpose the small working image ourselves:
    exif_transpose would re-parse EXIF on every decode and also rewrite it, which we never use.
    """
    for op in _ORIENT_OPS.get(orientation, ()):
        img = img.transpose(Image.Transpose[op])
    return img


def _too_many_pixels(width: int, height: int) -> PreviewError:
    return PreviewError(
        f"image is {width}x{height} = {width * height / 1e6:.1f} megapixels; "
        "Ground Truth's limit is 100 megapixels"
    )


def _exif_orientation_and_thumbnail(img: Image.Image, data: bytes) -> tuple[int, bytes | None]:
    """EXIF orientation (1..8) and, for JPEG, the IFD1 thumbnail bytes if they look usable.

    Broken EXIF never hides an otherwise good image: any problem means orientation 1 / no
    thumbnail.
    """
    try:
        exif = img.getexif()
        value = exif.get(_ORIENTATION_TAG, 1)
    except Exception:
        return 1, None
    orientation = value if isinstance(value, int) and 1 <= value <= 8 else 1
    if img.format not in _DRAFT_FORMATS:
        return orientation, None
    try:
        thumbnail = _exif_thumbnail(img, exif, data)
    except Exception:
        thumbnail = None
    return orientation, thumbnail


def _exif_thumbnail(img: Image.Image, exif: Image.Exif, data: bytes) -> bytes | None:
    raw = img.info.get("exif")
    if not isinstance(raw, bytes):
        return None
    ifd1 = exif.get_ifd(ExifTags.IFD.IFD1)
    offset, length = ifd1.get(_THUMB_OFFSET_TAG), ifd1.get(_THUMB_LENGTH_TAG)
    if not isinstance(offset, int) or not isinstance(length, int) or length < 4:
        return None
    # Offsets count from the TIFF header, which follows the "Exif\0\0" APP1 prefix (Pillow
    # strips the prefix the same way, once or twice).
    tiff_start = 0
    while raw.startswith(b"Exif\0\0", tiff_start):
        tiff_start += 6
    start = tiff_start + offset
    thumb = raw[start : start + length]
    if len(thumb) != length or not thumb.startswith(b"\xff\xd8"):
        return None
    # A complete JPEG ends with an EOI marker (FF D9 cannot occur inside entropy-coded data).
    # Without one after the EXIF block, the file is probably truncated: skip the thumbnail so
    # the full decode reports it instead of showing an intact-looking preview.
    at = data.find(thumb)  # early in the file, so the search stops early
    if at < 0 or data.rfind(_JPEG_EOI, max(at + length, len(data) - 65536)) < 0:
        return None
    return thumb


def _decode_thumbnail(
    thumb: bytes | None, raw_size: tuple[int, int], orientation: int
) -> Image.Image | bool:
    """Decoded, oriented RGB thumbnail, or False if missing, broken or shaped differently."""
    if thumb is None:
        return False
    try:
        with Image.open(BytesIO(thumb)) as img:
            if img.format != "JPEG":
                return False
            tw, th = img.size
            raw_w, raw_h = raw_size
            if tw < 1 or th < 1:
                return False
            if abs((tw / th) / (raw_w / raw_h) - 1.0) > THUMBNAIL_MAX_ASPECT_DIFF:
                return False  # padded with bars, cropped, or stale after an edit
            img.load()
            img = _first_frame_rgb(img)
    except Exception:  # a broken thumbnail just means the full decode
        return False
    if orientation != 1:
        img = _orient(img, orientation)
    return img


def _header_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from a PNG, JPEG, GIF or BMP header, else None.

    Only for refusing over-limit images before Pillow opens them; Pillow stays the authority
    for everything else, so a header we cannot read here is simply left to Pillow.
    """
    if data.startswith(b"\x89PNG\r\n\x1a\n") and data[12:16] == b"IHDR":
        return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    if data[:6] in (b"GIF87a", b"GIF89a") and len(data) >= 10:  # logical screen size
        return int.from_bytes(data[6:8], "little"), int.from_bytes(data[8:10], "little")
    if data.startswith(b"BM") and len(data) >= 26:
        if int.from_bytes(data[14:18], "little") == 12:  # OS/2 core header
            return int.from_bytes(data[18:20], "little"), int.from_bytes(data[20:22], "little")
        width = int.from_bytes(data[18:22], "little", signed=True)
        height = int.from_bytes(data[22:26], "little", signed=True)  # negative = top-down
        return abs(width), abs(height)
    if not data.startswith(b"\xff\xd8"):
        return None
    pos, end = 2, len(data)
    while pos + 4 <= end:  # one step per marker segment (a dozen or so), not per byte
        if data[pos] != 0xFF:
            return None
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in (0x01, 0xD8) or 0xD0 <= marker <= 0xD7:  # standalone markers
            pos += 2
            continue
        seg_len = int.from_bytes(data[pos + 2 : pos + 4], "big")
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):  # SOFn
            if pos + 9 > end:
                return None
            height = int.from_bytes(data[pos + 5 : pos + 7], "big")
            width = int.from_bytes(data[pos + 7 : pos + 9], "big")
            return width, height
        if marker in (0xD9, 0xDA) or seg_len < 2:  # EOI / start of scan before any SOF
            return None
        pos += 2 + seg_len
    return None


def _describe_load_error(exc: OSError) -> str:
    text = _one_line(exc)
    if "truncated" in text.lower():
        return "image file is truncated (incomplete download or copy?)"
    return f"cannot decode image: {text}"


def _sniff(data: bytes) -> str:
    head = data[:16]
    for magic, name in (
        (b"%PDF", "a PDF document"),
        (b"<svg", "an SVG drawing"),
        (b"<?xml", "an XML file"),
        (b"PK\x03\x04", "a ZIP archive"),
        (b"\x1f\x8b", "a gzip file"),
    ):
        if head.startswith(magic):
            return name
    if head[4:12] in (b"ftypheic", b"ftypheix", b"ftypmif1", b"ftypavif"):
        return "HEIC/AVIF, which Pillow cannot read without a plugin"
    if b"<html" in data[:512].lower():
        return "an HTML page, maybe an error page instead of the image"
    return f"{len(data)} bytes starting {head[:8].hex(' ')}"


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 200 else text[:197] + "..."


def load_source(ref: str, base: str) -> PreviewImage | PreviewError:
    """Fetch a record's `source-ref` (path, file://, s3://, http) and open it; worker threads
    only. Every failure (missing, S3 down, not an image) becomes a one-line PreviewError."""
    from tuilabel.core.data.sources import fetch

    try:
        data = fetch(ref, base)
    except Exception as exc:  # SourceError/UserError and anything odd: one line in the pane
        return PreviewError(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
    return open_preview(data)

