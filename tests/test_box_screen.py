"""The bounding-box screen in the app (headless Pilot): keys and mouse draw, select, grab,
relabel and delete boxes; enter submits GT's line; undo brings the boxes back; a box change
repaints the overlay only. Snapshots at 80×24 and 200×60. (Async bodies run through asyncio.run: no async plugin.)"""

from __future__ import annotations

import asyncio
import contextlib

import orjson
import pytest

from tuilabel.core.gt.box_answer import Box, BoxAnswer
from tuilabel.ui.app import make_app
from tuilabel.ui.keys import box_bindings, validate_keymap

from test_snapshots import IMAGES, frozen, job_dir, open_session, settle  # noqa: F401  (fixtures)

LABELS = ("BAG", "SUNGLASS", "SHOES", "WATCH")


def _box_session(open_session, images=IMAGES):
    return open_session(images, LABELS, "bounding-box", short="Box every item: b starts and ends a box, 1-4 names it.")


@contextlib.asynccontextmanager
async def _box_app(open_session, size=(100, 40), images=IMAGES, **kw):
    """(session, box screen, pilot) of a running box app, its first picture shown."""
    session = _box_session(open_session, images)
    app = make_app(session, clock=frozen, graphics="halfblock", **kw)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        yield session, app.label_screen, pilot


async def _draw_two(pilot) -> None:
    """Two boxes by keyboard: a BAG (moved with shift-arrows) and a WATCH (label while drawing)."""
    await settle(pilot)
    await pilot.press("b", "shift+left", "shift+up", "left", "b")
    await pilot.press("right", "right", "shift+right", "shift+down", "shift+down", "b", "4", "shift+right", "shift+down", "b")
    await pilot.pause(0.05)


def test_snapshot_80x24(open_session, snap_compare):
    session = _box_session(open_session)
    assert snap_compare(make_app(session, clock=frozen, graphics="halfblock"), terminal_size=(80, 24), run_before=_draw_two)


def test_snapshot_200x60(open_session, snap_compare):
    session = _box_session(open_session)
    assert snap_compare(make_app(session, clock=frozen, graphics="halfblock"), terminal_size=(200, 60), run_before=_draw_two)


def test_keys_draw_relabel_grab_delete_submit_and_undo(open_session):
    asyncio.run(_keys_draw_relabel_grab_delete_submit_and_undo(open_session))


async def _keys_draw_relabel_grab_delete_submit_and_undo(open_session):
    async with _box_app(open_session) as (session, screen, pilot):
        await _draw_two(pilot)
        ed = screen.editor
        assert ed is not None and (ed.width, ed.height) == (320, 240)
        assert [b.class_id for b in ed.boxes] == [0, 3] and ed.selected == 1
        first, second = ed.boxes
        assert first.right == 160 + 1 and first.bottom == 120 + 1  # anchored at the centre pixel
        # The status line says what is selected, in image pixels.
        status = str(screen.status.render_line(0).text)
        assert f"WATCH {second.left},{second.top} {second.width}×{second.height}  box 2/2" in status
        # Relabel the first box, grab its right edge and move it one pixel in, delete the second.
        await pilot.press("tab", "2")
        assert ed.selected == 0 and ed.boxes[0].class_id == 1
        for _ in range(5):  # box, top-left, top, top-right, right
            await pilot.press("e")
        assert ed.handle == "right"
        await pilot.press("left")  # at fit: one screen pixel is several image pixels
        coarse = first.right - ed.boxes[0].right
        assert coarse > 1
        await pilot.press("m")  # 1:1 at the cursor (on the edge): now one image pixel per key
        await settle(pilot)
        win = screen.pane.window()
        assert win.kx == 1 and win.shows(*ed.cursor)
        await pilot.press("left")
        assert ed.boxes[0].right == first.right - coarse - 1
        await pilot.press("f")
        await pilot.press("escape", "tab", "delete")
        assert len(ed.boxes) == 1
        await pilot.press("enter")
        await pilot.pause(0.05)
        line = orjson.loads(session.folder.output_manifest.read_bytes().splitlines()[-1])
        answer = BoxAnswer.from_gt(line["label"])
        assert answer.boxes == (Box(1, first.left, first.top, first.width - coarse - 1, first.height),)
        assert line["label-metadata"]["class-map"] == {"1": "SUNGLASS"}
        assert session.current.index == 1
        # Zero boxes is an answer.
        await settle(pilot)
        await pilot.press("enter")
        await pilot.pause(0.05)
        assert BoxAnswer.from_gt(orjson.loads(session.folder.output_manifest.read_bytes().splitlines()[-1])["label"]).boxes == ()
        # Undo: the first record's boxes come back to edit.
        await pilot.press("u")
        await pilot.press("u")
        await settle(pilot)
        assert session.current.index == 0
        assert screen.editor is not None and screen.editor.boxes == list(answer.boxes)


def test_mouse_draws_selects_and_moves(open_session):
    asyncio.run(_mouse_draws_selects_and_moves(open_session))


async def _mouse_draws_selects_and_moves(open_session):
    async with _box_app(open_session) as (session, screen, pilot):
        view = screen.pane.box_view
        await pilot.mouse_down(view, offset=(10, 5))
        await pilot.hover(view, offset=(30, 15))
        await pilot.mouse_up(view, offset=(30, 15))
        await pilot.pause(0.05)
        ed = screen.editor
        assert len(ed.boxes) == 1 and ed.selected == 0
        box = ed.boxes[0]
        assert box.width > 50 and box.height > 50
        # Click inside it and drag: it moves by the drag, same size.
        await pilot.mouse_down(view, offset=(20, 10))
        await pilot.hover(view, offset=(25, 10))
        await pilot.mouse_up(view, offset=(25, 10))
        await pilot.pause(0.05)
        moved = ed.boxes[0]
        assert (moved.width, moved.height, moved.top) == (box.width, box.height, box.top) and moved.left > box.left


def test_a_box_change_repaints_only_the_overlay(open_session):
    asyncio.run(_a_box_change_repaints_only_the_overlay(open_session))


async def _a_box_change_repaints_only_the_overlay(open_session):
    async with _box_app(open_session) as (session, screen, pilot):
        view = screen.pane.box_view
        picture, image = view.picture, screen.pane.images.get("001.jpg")
        work = image._work
        refreshed: list = []
        original = view.refresh

        def spy(*regions, **kw):
            refreshed.append(regions)
            return original(*regions, **kw)

        view.refresh = spy
        await pilot.press("b", "right")
        await pilot.pause(0.05)
        assert view.picture is picture and image._work is work  # nothing rendered or decoded again
        assert refreshed and all(len(r) == 1 and r[0].height == 1 for r in refreshed)  # single lines only


def test_box_keys_are_remappable_and_checked():
    ids = {b.id for b in box_bindings()}
    assert {"box", "box-next", "box-previous", "box-grab", "box-delete", "zoom-1to1", "cursor-left-coarse"} <= ids
    validate_keymap({"box": "n", "box-delete": "y"})  # not r: team jobs release a task with r
    with pytest.raises(Exception, match="already the key of"):
        validate_keymap({"box": "tab"})


def test_help_lists_the_box_keys_and_a_remapped_key_works(open_session):
    asyncio.run(_help_and_remap(open_session))


async def _help_and_remap(open_session):
    from tuilabel.ui.screens.help import HelpScreen

    async with _box_app(open_session, (120, 50), keymap={"box": "n", "box-delete": "y"}) as (session, screen, pilot):
        await pilot.press("n", "shift+right", "shift+down", "n")  # the remapped "start / finish a box"
        ed = screen.editor
        assert len(ed.boxes) == 1
        await pilot.press("b")  # no longer a box key
        assert ed.anchor is None
        await pilot.press("y")
        assert ed.boxes == []
        await pilot.press("question_mark")
        await pilot.pause(0.1)
        help_screen = screen.app.screen
        assert isinstance(help_screen, HelpScreen)
        ids = {row[3] for row in help_screen.rows}
        assert {"box", "box-next", "box-previous", "box-grab", "box-delete", "zoom-1to1", "cursor-left",
                "cursor-left-coarse", "zoom-in", "zoom-out", "fit", "submit"} <= ids
        assert "n" in next(row[0] for row in help_screen.rows if row[3] == "box")


def test_painted_rows_keep_every_unpainted_cell_of_the_picture(open_session, job_dir):
    asyncio.run(_painted_rows(open_session, job_dir))


async def _painted_rows(open_session, job_dir):
    """Rows cut around painted columns (by bisection over the picture's runs) must equal the
    picture cell by cell, with the overlay's cells where it paints."""
    import random

    from PIL import Image

    from tuilabel.ui.widgets.box_pane import _cells

    # Bands of random colours and widths: many runs per row, most of them several cells long.
    rng = random.Random(7)
    picture = Image.new("RGB", (320, 240))
    x = 0
    while x < 320:
        w = rng.randrange(8, 40)
        picture.paste((rng.randrange(256), rng.randrange(256), rng.randrange(256)), (x, 0, x + w, 240))
        x += w
    picture.save(job_dir / "001.png")
    async with _box_app(open_session, images=[{"source-ref": "001.png"}]) as (session, screen, pilot):
        ed = screen.editor
        for _ in range(12):
            x, y = rng.randrange(300), rng.randrange(220)
            ed.boxes.append(Box(rng.randrange(4), x, y, rng.randrange(1, 320 - x), rng.randrange(1, 240 - y)))
        ed.select(3)
        screen._changed()
        await pilot.pause(0.05)
        view = screen.pane.box_view
        picture, left, top = view.picture, view.picture_left(), view.picture_top()
        assert sum(len(r) for r in picture.rows) > 10 * picture.height  # many runs ...
        assert sum(len(r) for r in picture.rows) < picture.width * picture.height // 2  # ... and long ones
        for move in ("", "e", "right", "right", "down", "left", "up", "e", "e", "down"):
            if move:  # then a row paints again, keeping the groups of spans it showed before
                await pilot.press(move)
                await pilot.pause(0.02)
            checked = 0
            for index, spans in view._rows.items():
                strip = view.render_line(top + index)
                cells = []
                for segment in strip:
                    style = segment.style
                    for ch in segment.text:
                        cells.append((ch, style.color.triplet if style.color else None, style.bgcolor.triplet if style.bgcolor else None))
                colours = view._runs[index][2]
                painted = _cells(spans, colours)
                for x in range(picture.width):
                    ch, fg, bg = painted.get(x) or ("▀", *colours[x])
                    want = (ch, tuple(fg.to_bytes(3, "big")), None if bg is None else tuple(bg.to_bytes(3, "big")))
                    got = cells[left + x]
                    assert (got[0], tuple(got[1]), got[2] and tuple(got[2])) == want, (move, index, x)
                checked += 1
            assert checked > 10


def _segments_of_painted_rows(view) -> list:
    """The segments of the rows with boxes, as the widget gives them to the screen."""
    from textual.geometry import Region

    top, width = view.picture_top(), view.size.width
    return [segment for index in view._rows for segment in view.render_lines(Region(0, top + index, width, 1))[0]]


def test_painted_rows_follow_a_theme_change(open_session):
    """The painted rows keep filtered runs and styles between keys: a new theme (a new
    background under the picture) must paint them again, not show the old theme's."""
    asyncio.run(_painted_rows_follow_a_theme_change(open_session))


async def _painted_rows_follow_a_theme_change(open_session):
    async with _box_app(open_session, size=(140, 40)) as (session, screen, pilot):
        await pilot.press("b", "right", "right", "down", "b")
        await pilot.pause(0.05)
        view = screen.pane.box_view
        assert view.picture_left() > 0  # painted rows start with the theme's background
        before = view.visual_style.rich_style.bgcolor
        assert {s.style.bgcolor for s in _segments_of_painted_rows(view) if s.text.isspace()} == {before}
        screen.app.theme = "tuilabel-light"
        await pilot.pause(0.1)
        after = view.visual_style.rich_style.bgcolor
        assert after != before
        assert {s.style.bgcolor for s in _segments_of_painted_rows(view) if s.text.isspace()} == {after}


def test_painted_rows_go_through_the_apps_line_filters(open_session, monkeypatch):
    """BoxView applies the app's line filters itself (to the cells it paints): with NO_COLOR
    the boxes and the picture under them are grey like the rest of the screen."""
    monkeypatch.setenv("NO_COLOR", "1")
    asyncio.run(_painted_rows_go_through_the_apps_line_filters(open_session))


async def _painted_rows_go_through_the_apps_line_filters(open_session):
    async with _box_app(open_session) as (session, screen, pilot):
        await pilot.press("b", "right", "right", "down", "b")
        await pilot.pause(0.05)
        view = screen.pane.box_view
        segments = _segments_of_painted_rows(view)
        assert len(segments) > 10
        colours = {c.triplet for s in segments for c in (s.style.color, s.style.bgcolor) if c is not None}
        assert colours and all(r == g == b for r, g, b in colours)
