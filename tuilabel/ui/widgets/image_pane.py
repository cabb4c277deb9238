"""The image pane: the current record's picture, its path, and the render/prefetch pipeline.

Half-block: `ImageView` draws `HalfBlockPicture` cells. kitty/sixel: a textual-image widget
(#image-gfx) in the same box draws a PIL image cut and scaled for the view; `ImageView` stays
for "loading…" and error messages and holds the zoom/center either way.

    pane.request(ref)        # a new record: cached picture at once, else render in a worker
    pane.show_loading(text)  # a message instead of a picture
    pane.show(picture)       # a rendered picture, PIL image or PreviewError

Workers only call core (`load_source`, `render_for`, `Session.upcoming_refs`) and post
`PreviewReady`; results for an older record (token) or view size are dropped. A half-block
picture drawn from the EXIF thumbnail is re-rendered from the full image in the background
(`refine`) and swapped in when it is ready; the key path never waits.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Container, Vertical
from textual.message import Message
from textual.widget import Widget
from textual.worker import get_current_worker

from tuilabel.core.preview import HalfBlockPicture, PreviewCache, PreviewError, PreviewImage, load_source
from tuilabel.core.session import Session
from tuilabel.ui.graphics import graphics_picture, widget_class
from tuilabel.ui.safe_text import one_line
from tuilabel.ui.widgets.image_view import ImageView, ViewRequest, render_for
from tuilabel.ui.widgets.lines import TextLine

PREFETCH = 3

if TYPE_CHECKING:
    from PIL import Image

    # What a worker renders for the pane: half-block cells, a PIL image for kitty/sixel, or
    # why the image cannot be shown.
    Rendered = HalfBlockPicture | Image.Image | PreviewError


@dataclass
class PreviewReady(Message):
    """A worker rendered a picture (or failed) for record `token`.

    `refined` pictures replace a thumbnail-based one only if the view is still `request`."""

    token: int
    picture: Rendered
    request: ViewRequest | None = None
    refined: bool = False


class ImagePane(Vertical):
    DEFAULT_CSS = """
    ImagePane { height: 1fr; }
    """

    def __init__(self, session: Session, graphics_mode: str, **kw) -> None:
        super().__init__(**kw)
        self.session = session
        self.graphics_mode = graphics_mode
        """"halfblock", "kitty" or "sixel" (resolved before the app started)."""
        self.images: PreviewCache[str, PreviewImage | PreviewError] = PreviewCache(6)
        """Decoded sources by ref: a resize or zoom renders again without reading the file."""
        self.pictures: PreviewCache[tuple[str, ViewRequest], Rendered] = PreviewCache(16)
        """Rendered pictures by (ref, view): the current record's and the prefetched ones."""
        self.ref: str | None = None
        """The record shown (None before the first)."""
        self.token = 0
        """Counts records shown; a worker result for an older token is dropped."""
        self.view = ImageView(id="image")
        self.box = Container(id="image-box")
        self.gfx: Widget | None = None
        if graphics_mode != "halfblock":
            self.gfx = widget_class(graphics_mode)(id="image-gfx")
            self.gfx.display = False
        self.source_line = TextLine(id="source-ref")

    def compose(self) -> ComposeResult:
        with self.box:
            yield self.view
            if self.gfx is not None:
                yield self.gfx
        yield self.source_line

    # -- what the pane shows -----------------------------------------------------------------

    def request(self, ref: str) -> None:
        """Show a new record's picture: at fit, from the cache at once or rendered in a worker;
        then prepare the next records'."""
        self.token += 1
        self.ref = ref
        self.source_line.update(Text(one_line(ref)))
        self.view.zoom, self.view.center = 1.0, (0.5, 0.5)
        if not self._ready():
            self.show_loading("loading…")
            return  # the first Resize posts ViewChanged and renders
        self._show_or_render(loading=True)

    def show_loading(self, text: str) -> None:
        self._show_view()
        self.view.show_message(text)

    def show(self, picture: Rendered) -> None:
        """Put a rendered picture, a PIL image or an error into the pane."""
        if isinstance(picture, PreviewError):
            self._show_view()
            # The message is ours: its line breaks are meant (only record data is escaped).
            self.view.show_message(f"{picture.message}\n\nx declines this record (bad data), space skips it")
        elif isinstance(picture, HalfBlockPicture):
            self._show_view()
            self.view.show_picture(picture)
        elif self.gfx is not None:
            self.gfx.image = picture  # type: ignore[attr-defined]
            self.view.display = False
            self.gfx.display = True

    def view_request(self) -> ViewRequest:
        """What the pane needs now: its size in cells and the user's zoom and center."""
        if self.gfx is None:
            return self.view.view_request()
        width, height = self.box.content_size
        return ViewRequest(max(1, width), max(1, height), self.view.zoom, self.view.center)

    def _show_view(self) -> None:
        if self.gfx is not None:
            self.gfx.display = False
            self.view.display = True

    def _ready(self) -> bool:
        size = self.view.size if self.gfx is None else self.box.content_size
        return size.width >= 1 and size.height >= 1

    def _show_or_render(self, loading: bool) -> None:
        ref = self.ref
        assert ref is not None
        request = self.view_request()
        cached = self.pictures.get((ref, request))
        if cached is not None:
            self.show(cached)
            # Background work starts once this frame is drawn: workers hold the GIL in their
            # pixel loops and slowed the frame they are not needed for.
            self.call_after_refresh(self._maybe_refine, self.token, ref, request, cached)
        else:
            if loading:
                self.show_loading(f"loading {one_line(ref)}…")
            self.render_image(self.token, ref, request)
        # Next records open at fit (zoom 1), so that is the view to prepare.
        self.call_after_refresh(self.prefetch, ViewRequest(request.cells_w, request.cells_h))

    @on(ImageView.ViewChanged)
    def _view_changed(self, event: ImageView.ViewChanged) -> None:
        event.stop()
        if event.image_view is self.view and self.ref and self._ready():
            self._show_or_render(loading=False)

    def _maybe_refine(self, token: int, ref: str, request: ViewRequest, picture: Rendered) -> None:
        if isinstance(picture, HalfBlockPicture) and picture.from_thumbnail:
            self.refine(token, ref, request)

    # -- workers -----------------------------------------------------------------------------

    @work(thread=True, exclusive=True, exit_on_error=False, group="preview")
    def render_image(self, token: int, ref: str, request: ViewRequest) -> None:
        picture = self._picture_for(ref, request)
        if not get_current_worker().is_cancelled:
            self.post_message(PreviewReady(token, picture, request))

    @work(thread=True, exclusive=True, exit_on_error=False, group="refine")
    def refine(self, token: int, ref: str, request: ViewRequest) -> None:
        """Replace a thumbnail-based picture with one from the full image."""
        picture = self._picture_for(ref, request, allow_thumbnail=False)
        if not get_current_worker().is_cancelled:
            self.post_message(PreviewReady(token, picture, request, refined=True))

    @work(thread=True, exclusive=True, exit_on_error=False, group="prefetch")
    def prefetch(self, request: ViewRequest) -> None:
        """Render the next few records' pictures, then refine any that came from an EXIF
        thumbnail."""
        worker = get_current_worker()
        refs = self.session.upcoming_refs(PREFETCH)
        for ref in refs:
            if worker.is_cancelled:
                return
            self._picture_for(ref, request)
        for ref in refs:
            if worker.is_cancelled:
                return
            if getattr(self.pictures.get((ref, request)), "from_thumbnail", False):
                self._picture_for(ref, request, allow_thumbnail=False)

    def _picture_for(self, ref: str, request: ViewRequest, allow_thumbnail: bool = True) -> Rendered:
        """Decode (cached) and render `ref` for `request` (worker threads only)."""
        picture = self.pictures.get((ref, request))
        if picture is not None and (allow_thumbnail or not getattr(picture, "from_thumbnail", False)):
            return picture
        image = self.images.get(ref)
        if image is None:
            image = load_source(ref, self.session.manifest.base)
            self.images.put(ref, image)
        if isinstance(image, PreviewError):
            picture = image
        elif self.gfx is None:
            picture = render_for(image, request, allow_thumbnail)
            if isinstance(picture, HalfBlockPicture):
                self.view.warm_styles(picture)
        else:
            picture = graphics_picture(image, request.cells_w, request.cells_h, request.zoom, request.center)
        self.pictures.put((ref, request), picture)
        return picture

    @on(PreviewReady)
    def _preview_ready(self, event: PreviewReady) -> None:
        if event.token != self.token:
            return
        ref = self.ref
        if event.request is not None and event.request != self.view_request():
            # Rendered for an older size or zoom (a resize or key came in meanwhile): a worker
            # result can arrive after the newer one, so never show it; render what fits now.
            if not event.refined and ref and self._ready():
                self.render_image(event.token, ref, self.view_request())
            return
        self.show(event.picture)
        if not event.refined and event.request is not None and ref:
            self._maybe_refine(event.token, ref, event.request, event.picture)
