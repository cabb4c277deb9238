"""The box editor (what the box screen's keys and mouse do), without a terminal."""

from __future__ import annotations

from tuilabel.core.box_editor import BoxEditor
from tuilabel.core.gt.box_answer import Box


def test_draw_relabel_resize_move_delete():
    ed = BoxEditor(100, 80, label=1)
    ed.move_cursor(10, 20)
    ed.start_or_finish()
    ed.move_cursor(5, 30)  # any direction: the corners sort themselves
    assert ed.drawing == Box(1, 5, 20, 6, 11)
    assert ed.set_label(0) == "new"
    assert ed.start_or_finish() == Box(0, 5, 20, 6, 11) and ed.selected == 0
    assert ed.set_label(1) == "selected" and ed.boxes[0].class_id == 1
    assert ed.grab_next() == "box" and ed.cursor == (5, 20)
    ed.move_cursor(-50, 25)  # the whole box moves, and stops at the image edge
    assert ed.boxes[0] == Box(1, 0, 25, 6, 11)
    while ed.handle != "right":
        ed.grab_next()
    assert ed.cursor == (5, 30)
    ed.move_cursor(500, 30)  # the right edge stops at the image's
    assert ed.boxes[0].right == 100
    ed.move_cursor(-3, 30)  # and never crosses the left edge
    assert ed.boxes[0] == Box(1, 0, 25, 1, 11)
    assert ed.cancel() and ed.handle is None and ed.selected == 0
    assert ed.delete() == Box(1, 0, 25, 1, 11) and ed.boxes == [] and ed.changed
    assert ed.answer().boxes == ()


def test_tab_cycles_and_clicks_pick_the_smallest_box():
    ed = BoxEditor(100, 100, (Box(0, 0, 0, 100, 100), Box(1, 10, 10, 5, 5)))
    assert ed.box_at(12, 12) == 1 and ed.box_at(50, 50) == 0 and ed.box_at(100, 0) is None
    ed.select_next()
    ed.select_next()
    assert ed.selected == 1 and ed.cursor == (10, 10)
    ed.select_next()
    assert ed.selected == 0
    ed.select_next(-1)
    assert ed.selected == 1
    assert not ed.changed
    ed.grab(1)
    ed.move_cursor(20, 10)  # from the cursor at 10,10: ten to the right
    assert ed.boxes[1] == Box(1, 20, 10, 5, 5)
