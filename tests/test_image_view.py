"""ImageView widget: draws pictures and messages through the Line API, reports view changes."""

from __future__ import annotations

import asyncio
from io import BytesIO

from PIL import Image
from rich.color import Color
from textual.app import App, ComposeResult

from tuilabel.core.preview import PreviewError, PreviewImage, load_preview, open_preview
from tuilabel.ui.widgets.image_view import ImageView, ViewRequest, render_for


def png(img: Image.Image) -> bytes:
    buf = BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def two_colour_image() -> bytes:
    """Red top half, blue bottom half, 40x40."""
    img = Image.new("RGB", (40, 40), (0, 0, 255))
    img.paste((255, 0, 0), (0, 0, 40, 20))
    return png(img)


class ViewerApp(App):
    def __init__(self) -> None:
        super().__init__()
        self.changes: list[ViewRequest] = []

    def compose(self) -> ComposeResult:
        yield ImageView(id="view")

    def on_image_view_view_changed(self, message: ImageView.ViewChanged) -> None:
        self.changes.append(message.request)


def colours(strip) -> set[tuple[Color | None, Color | None]]:
    return {
        (seg.style.color, seg.style.bgcolor)
        for seg in strip
        if seg.style is not None and "▀" in seg.text
    }


RED = Color.from_rgb(255, 0, 0)
BLUE = Color.from_rgb(0, 0, 255)


def test_shows_picture_centered_then_message():
    asyncio.run(_test_shows_picture_centered_then_message())


async def _test_shows_picture_centered_then_message():
    app = ViewerApp()
    async with app.run_test(size=(60, 20)) as pilot:
        view = app.query_one(ImageView)
        request = view.view_request()
        assert (request.cells_w, request.cells_h) == (60, 20)
        image = open_preview(two_colour_image())
        assert isinstance(image, PreviewImage)
        picture = render_for(image, request)
        view.show_picture(picture)
        await pilot.pause()
        # 40x40 px fits 60x20 cells as 40 wide x 20 rows, centered with 10 blank columns.
        assert (picture.width, picture.height) == (40, 20)
        top, bottom = view.render_line(0), view.render_line(19)
        assert top.cell_length == bottom.cell_length == 60
        assert colours(top) == {(RED, RED)}
        assert colours(bottom) == {(BLUE, BLUE)}
        assert top.text.index("▀") == 10 and top.text.rindex("▀") == 49

        view.show_message("Loading 001.jpg\x1b[31m")
        await pilot.pause()
        texts = [view.render_line(y).text for y in range(20)]
        joined = "\n".join(texts)
        assert "Loading 001.jpg␛[31m" in joined  # control characters made visible (safe_text.visible)
        assert "▀" not in joined
        assert all(len(t) == 60 for t in texts)


def test_preview_error_is_shown_as_its_message():
    asyncio.run(_test_preview_error_is_shown_as_its_message())


async def _test_preview_error_is_shown_as_its_message():
    app = ViewerApp()
    async with app.run_test(size=(50, 10)) as pilot:
        view = app.query_one(ImageView)
        error = load_preview(b"", 50, 10)
        assert isinstance(error, PreviewError)
        view.show_picture(error)
        await pilot.pause()
        assert view.picture is None
        assert any("empty" in view.render_line(y).text for y in range(10))


def test_picture_wider_than_widget_is_clipped_not_overflowing():
    asyncio.run(_test_picture_wider_than_widget_is_clipped_not_overflowing())


async def _test_picture_wider_than_widget_is_clipped_not_overflowing():
    app = ViewerApp()
    async with app.run_test(size=(30, 10)) as pilot:
        view = app.query_one(ImageView)
        picture = load_preview(png(Image.new("RGB", (80, 20), (0, 255, 0))), 80, 10)
        view.show_picture(picture)  # rendered for a bigger size than the widget has
        await pilot.pause()
        for y in range(10):
            assert view.render_line(y).cell_length == 30


def test_resize_zoom_pan_and_fit_post_view_changes():
    asyncio.run(_test_resize_zoom_pan_and_fit_post_view_changes())


async def _test_resize_zoom_pan_and_fit_post_view_changes():
    app = ViewerApp()
    async with app.run_test(size=(40, 12)) as pilot:
        view = app.query_one(ImageView)
        image = open_preview(two_colour_image())
        view.show_picture(render_for(image, view.view_request()))
        await pilot.pause()
        app.changes.clear()

        await pilot.resize_terminal(30, 10)
        await pilot.pause()
        assert app.changes and (app.changes[-1].cells_w, app.changes[-1].cells_h) == (30, 10)

        view.zoom_in()
        await pilot.pause()
        assert app.changes[-1].zoom > 1.0
        zoomed = render_for(image, app.changes[-1])
        view.show_picture(zoomed)
        assert view.zoom == zoomed.zoom

        view.pan(0, 1)  # down: the center moves toward the blue half
        await pilot.pause()
        assert app.changes[-1].center[1] > zoomed.center[1]

        view.fit()
        await pilot.pause()
        assert app.changes[-1].zoom == 1.0 and app.changes[-1].center == (0.5, 0.5)

        count = len(app.changes)
        view.zoom_out()  # already at fit: nothing to do
        view.pan(1, 0)
        await pilot.pause()
        assert len(app.changes) == count


def test_stale_picture_does_not_undo_a_newer_zoom():
    asyncio.run(_test_stale_picture_does_not_undo_a_newer_zoom())


async def _test_stale_picture_does_not_undo_a_newer_zoom():
    app = ViewerApp()
    async with app.run_test(size=(40, 12)) as pilot:
        view = app.query_one(ImageView)
        image = open_preview(two_colour_image())
        stale = render_for(image, view.view_request())  # zoom 1, rendered before the key press
        view.zoom_in()
        view.show_picture(stale)
        await pilot.pause()
        assert view.picture is stale and view.zoom > 1.0


def test_worker_built_rows_are_what_the_frame_shows():
    """warm_styles (run by the worker that rendered the picture) builds the rows' Segments,
    so the key that shows the picture only pads them; the frame is the same either way."""
    from rich.segment import Segment
    from textual.geometry import Size

    from tuilabel.resources import sample_data_dir

    image = open_preview((sample_data_dir() / "fashion" / "001.jpg").read_bytes())
    picture = image.render(70, 20)
    image_odd = open_preview(png(Image.new("RGB", (40, 41), (10, 200, 30))))  # last row has no bottom pixel
    odd = image_odd.render(40, 30)
    assert odd.rows[-1][0][2] is None
    for pic in (picture, odd):
        plain, warmed = ImageView(), ImageView()
        warmed.warm_styles(pic)
        plain.show_picture(pic)
        warmed.show_picture(pic)
        size = Size(80, 30)
        assert [list(s) for s in plain.build_strips(size)] == [list(s) for s in warmed.build_strips(size)]
    prebuilt = warmed._prebuilt[id(odd)][1]  # noqa: SLF001
    assert prebuilt[-1] is None and all(isinstance(seg, Segment) for seg in prebuilt[0])
    view = ImageView()
    view.warm_styles(picture)
    view.show_picture(picture)
    rows = view._prebuilt[id(picture)][1]  # noqa: SLF001
    strips = view.build_strips(Size(picture.width, picture.height))
    assert all(list(strip)[0] is row[0] for strip, row in zip(strips, rows))  # not built again


def test_message_keeps_its_line_breaks_and_shows_control_characters():
    """Our own messages break where they say; a path from the record cannot send an escape."""
    asyncio.run(_test_message_lines())


async def _test_message_lines():
    app = ViewerApp()
    async with app.run_test(size=(60, 9)) as pilot:
        view = app.query_one(ImageView)
        view.show_message("cannot read evil\x1b[31m.jpg\n\nx declines this record")
        await pilot.pause()
        rows = [view.render_line(y).text.strip() for y in range(9)]
        shown = [r for r in rows if r]
        assert shown == ["cannot read evil␛[31m.jpg", "x declines this record"]
        assert "\\x0a" not in "".join(rows)
        assert rows.index("x declines this record") - rows.index("cannot read evil␛[31m.jpg") == 2
