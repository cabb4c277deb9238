"""KittyPlacement: a picture drawn with the kitty graphics protocol's direct placement.

textual-image's kitty widget places pictures with Unicode placeholder characters, which kitty
draws only from 0.28 on (older kitty shows a grid of boxes). Direct placement works in every
kitty and in the other terminals that speak the protocol: the picture is sent once
(`a=t`, PNG from Pillow, encoded in a thread worker: ~0.1 s for a large pane, too long for the
key path), then placed at the cursor over the widget's cells (`a=p`, `C=1` keeps the cursor
still, `c`/`r` scale it to the cells).

A placed picture stays on screen until it is deleted: text written over it does not erase
it. So the widget deletes its placement whenever it is not to be seen: hidden, its screen
covered by another (help, instructions, the palette), unmounted. Those commands and the
upload go through Textual's driver, in order with the frames; the placement itself rides in
the last rendered line, like textual-image's sixel widget does, so it lands where Textual
just drew the widget.
"""

from __future__ import annotations

import base64
import io
import itertools
import random

from PIL import Image
from rich.control import Control
from textual import work
from textual.message import Message
from rich.segment import ControlType, Segment
from rich.style import Style
from textual.dom import NoScreen
from textual.errors import NoWidget
from textual.geometry import Region, Size
from textual.screen import Screen
from textual.strip import Strip
from textual.widget import Widget

from tuilabel.ui.graphics import cell_pixels

_CHUNK = 4096  # the protocol's largest payload per escape code
_NULL_STYLE = Style()
_RAW = ((ControlType.CURSOR_FORWARD, 0),)  # a no-op control: Rich passes the text through as is
_ids = itertools.count(random.randint(1, 2**30))  # image ids, unlikely to clash with other programs


def _command(keys: str, payload: str = "") -> str:
    return f"\x1b_G{keys};{payload}\x1b\\" if payload else f"\x1b_G{keys}\x1b\\"


def upload(image: Image.Image, image_id: int) -> str:
    """The escape codes that send `image` to the terminal as `image_id` (PNG, in chunks)."""
    png = io.BytesIO()
    image.save(png, "PNG", compress_level=1)  # fast: the bytes only cross a pty
    data = base64.standard_b64encode(png.getvalue()).decode("ascii")
    chunks = [data[i : i + _CHUNK] for i in range(0, len(data), _CHUNK)] or [""]
    parts = []
    for n, chunk in enumerate(chunks):
        more = 1 if n < len(chunks) - 1 else 0
        keys = f"a=t,f=100,i={image_id},q=2,m={more}" if n == 0 else f"m={more}"
        parts.append(_command(keys, chunk))
    return "".join(parts)


class KittyPlacement(Widget):
    """Shows a PIL image (already cut and scaled to the pane) with kitty's direct placement."""

    DEFAULT_CSS = """
    KittyPlacement { width: auto; height: auto; }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._image: Image.Image | None = None
        self._image_id = 0
        self._uploaded = False  # the terminal holds self._image_id's picture
        self._placed = False
        self._stale: list[int] = []  # replaced pictures, deleted once the new one is placed

    # -- what the app sets ----------------------------------------------------------------------

    @property
    def image(self) -> Image.Image | None:
        return self._image

    @image.setter
    def image(self, value: Image.Image | None) -> None:
        if value is self._image:
            return
        if value is not None and (self._uploaded or self._stale):
            # A new picture for the same view (boxes drawn over it): the one on screen stays
            # until the new one is placed, instead of a blank pane while it is encoded (also
            # when pictures come faster than they encode: those never sent are just dropped).
            if self._uploaded:
                self._stale.append(self._image_id)
            self._image_id, self._uploaded = 0, False
        else:
            self._forget()
        self._image = value
        if value is not None:
            self._image_id = next(_ids)
            self._encode(value, self._image_id)
        self.refresh(layout=True)

    class Encoded(Message):
        """The upload codes for one picture, from the encoding worker."""

        def __init__(self, image_id: int, codes: str) -> None:
            super().__init__()
            self.image_id, self.codes = image_id, codes

    @work(thread=True, exclusive=True, exit_on_error=False, group="kitty-upload")
    def _encode(self, image: Image.Image, image_id: int) -> None:
        self.post_message(self.Encoded(image_id, upload(image, image_id)))

    def on_kitty_placement_encoded(self, message: Encoded) -> None:
        if message.image_id == self._image_id:  # not replaced meanwhile
            self._write(message.codes)
            self._uploaded = True
            self.refresh()

    # -- size: the picture's own size in cells, within the pane ---------------------------------

    def _cells(self, container: Size) -> tuple[int, int]:
        if self._image is None:
            return 0, 0
        cell_w, cell_h = cell_pixels()
        width = max(1, min(container.width or 2**16, round(self._image.width / cell_w)))
        height = max(1, min(container.height or 2**16, round(self._image.height / cell_h)))
        return width, height

    def get_content_width(self, container: Size, viewport: Size) -> int:
        return self._cells(container)[0]

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return self._cells(container)[1]

    # -- drawing --------------------------------------------------------------------------------

    def render_lines(self, crop: Region) -> list[Strip]:
        blank = Strip.blank(crop.width, self.rich_style)
        lines = [blank] * crop.height
        try:
            if not self._uploaded or not crop.height or not self.screen.is_active:
                return lines
            region = self.screen.find_widget(self).region
        except (NoScreen, NoWidget):  # not laid out on a screen (yet): nothing to place
            return lines
        width, height = self.content_size
        place = _command(f"a=p,i={self._image_id},p=1,c={width},r={height},C=1,q=2")
        lines[-1] = Strip(
            [
                *blank,
                Segment(Control.move_to(region.x, region.y).segment.text, _NULL_STYLE),
                Segment(place + "".join(_command(f"a=d,d=I,i={old},q=2") for old in self._stale), _NULL_STYLE, _RAW),
                Segment(Control.move_to(region.right, region.bottom - 1).segment.text, _NULL_STYLE),
            ],
            cell_length=crop.width,
        )
        self._placed = True
        self._stale = []
        return lines

    # -- taking it away when it must not be seen -----------------------------------------------

    def on_mount(self) -> None:
        self.app.screen_change_signal.subscribe(self, self._screen_changed)

    def _screen_changed(self, screen: Screen) -> None:
        if screen is self.screen:
            self.refresh()
        else:
            self._unplace()

    def on_hide(self) -> None:
        self._unplace()

    def on_show(self) -> None:
        self.refresh()

    def on_unmount(self) -> None:
        self._forget()

    def _unplace(self) -> None:
        for old in self._stale:
            self._write(_command(f"a=d,d=I,i={old},q=2"))
        self._stale = []
        if self._placed and self._image_id:
            self._write(_command(f"a=d,d=i,i={self._image_id},q=2"))  # keep the data: it may come back
            self._placed = False

    def _forget(self) -> None:
        for old in self._stale:
            self._write(_command(f"a=d,d=I,i={old},q=2"))
        self._stale = []
        if self._uploaded:
            self._write(_command(f"a=d,d=I,i={self._image_id},q=2"))  # placements and data
        self._image_id = 0
        self._uploaded = self._placed = False

    def _write(self, data: str) -> None:
        # Through the driver's writer, so it stays in order with the frames around it.
        driver = getattr(self.app, "_driver", None)
        if driver is not None:
            driver.write(data)
