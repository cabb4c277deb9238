"""The bounding-box screen: the labeling screen with a cursor and boxes on the image.

Keys and the mouse become `BoxEditor` calls (core); enter submits `editor.answer()` through
`Session.answer`, so undo, history, skip, decline and resume are the labeling screen's own. The
arrows move the cursor one screen pixel (shift: 8), and the view follows the cursor; z/o zoom
in at the cursor and out, m shows one image pixel per screen pixel around it, f fits.
"""

from __future__ import annotations

from rich.color import Color
from rich.text import Text
from textual import on

from tuilabel.core.box_editor import BoxEditor
from tuilabel.core.data.manifest import Record
from tuilabel.core.geometry import max_zoom, one_to_one
from tuilabel.core.gt import chained
from tuilabel.core.gt.box_answer import BoxAnswer
from tuilabel.core.session import State
from tuilabel.ui.keys import box_bindings
from tuilabel.ui.safe_text import one_line
from tuilabel.ui.screens.label import LabelScreen
from tuilabel.ui.widgets.box_pane import BoxPane, Overlay
from tuilabel.ui.widgets.image_view import ZOOM_STEP

BOX_ACTIONS = ("cursor", "box", "select_box", "grab", "delete_box", "one_to_one")


class BoxScreen(LabelScreen, inherit_bindings=False):
    BINDINGS = box_bindings()
    PANE = BoxPane
    HINT = "Box each object: b at the cursor (arrows) or drag; a digit names it; enter submits."

    def __init__(self, session) -> None:
        super().__init__(session)
        self.editor: BoxEditor | None = None
        """The boxes of the record shown (None until its picture is on screen)."""
        self.start_boxes: BoxAnswer | None = None
        """The standing answer's boxes, put in place once the picture is shown."""

    @property
    def pane(self) -> BoxPane:
        return self.image_pane  # type: ignore[return-value]

    # -- record ------------------------------------------------------------------------------

    def _show_record(self, record: Record) -> None:
        self.editor = None
        self.start_boxes = None
        entry = self.session.current_answer
        if entry is not None and entry.kind == "a":
            try:
                self.start_boxes = BoxAnswer.from_gt(entry.gt.get(self.spec.label_attribute))
            except ValueError as exc:
                self.say(f"the earlier boxes cannot be read ({exc}); draw them again", error=True)
        elif self.spec.adjust:  # an adjustment starts from the earlier job's boxes
            start = chained.earlier_answer(self.spec, record.data)
            self.start_boxes = start if isinstance(start, BoxAnswer) else None
        super()._show_record(record)

    @on(BoxPane.PictureShown)
    def _picture_shown(self) -> None:
        size = self.pane.image_size
        if size is None or (self.editor is not None and (self.editor.width, self.editor.height) == size):
            self._show_overlay()
            return
        boxes = ()
        if self.start_boxes is not None:
            boxes = self.start_boxes.boxes
            if (self.start_boxes.width, self.start_boxes.height) != size:
                self.say(f"the earlier answer was for a {self.start_boxes.width}×{self.start_boxes.height} image; "
                         f"this one is {size[0]}×{size[1]}", error=True)
        self.editor = BoxEditor(size[0], size[1], boxes)
        self._show_overlay()
        self._show_status()

    # -- drawing -------------------------------------------------------------------------------

    def _colours(self) -> list[int]:
        return [int(Color.parse(c).triplet.hex[1:], 16) for c in self.label_app.label_colours]  # type: ignore[union-attr]

    def _show_overlay(self) -> None:
        ed = self.editor
        if ed is None:
            return
        colours, keys = self._colours(), self.label_app.label_keys
        drawing = ed.drawing
        self.pane.set_overlay(Overlay(
            boxes=tuple((b, colours[b.class_id], keys[b.class_id], i == ed.selected) for i, b in enumerate(ed.boxes)),
            cursor=ed.cursor,
            drawing=None if drawing is None else (drawing, colours[drawing.class_id]),
            handle=ed.handle,
        ))

    def _changed(self) -> None:
        self._show_overlay()
        self._show_status()

    def _show_status(self) -> None:
        record = self.session.current
        if record is None:
            return
        ed = self.editor
        reviewing = self.session.state is State.REVIEWING
        # Compact, most useful first: the selected box must fit beside the labels at 80 columns.
        text = (Text.assemble(("REVIEWING", "bold reverse"), f" #{record.lineno:,} ") if reviewing
                else Text.assemble((f"#{record.lineno:,} ", "dim")))
        if ed is not None:
            box = ed.drawing or ed.current
            if box is not None:
                text.append(one_line(self.labels[box.class_id]), "bold")
                text.append(f" {box.left},{box.top} {box.width}×{box.height}")
                which = "new" if ed.drawing is not None else f"{ed.selected + 1}/{len(ed.boxes)}"  # type: ignore[operator]
                text.append(f"  box {which}", "dim")
                if ed.handle:
                    text.append(f"  moving {ed.handle}", "bold")
            else:
                text.append(f"{len(ed.boxes)} box{'es' if len(ed.boxes) != 1 else ''}", "dim")
            text.append(f"  cursor {ed.cursor[0]},{ed.cursor[1]}", "dim")
            win = self.pane.window()
            if win is not None and win.zoom > 1:
                text.append(f"  {win.kx:.2g} px/px" if abs(win.kx - 1) > 1e-9 else "  1:1", "dim")
        if self.page:
            lo = self.page * 10 + 1
            text.append(f"  ·  labels {lo}-{min(lo + 9, len(self.labels))}: a digit picks", "bold")
        self.status.update(text)
        self.status.set_class(reviewing, "-reviewing")

    def _theme_changed(self, theme: object) -> None:
        super()._theme_changed(theme)
        self._show_overlay()

    # -- availability --------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if self.too_small and action not in ("stop", "help"):
            return False
        if action == "submit":
            return True
        if action in BOX_ACTIONS:
            return True
        if action == "cancel":
            ed = self.editor
            holding = ed is not None and (ed.anchor is not None or ed.handle is not None or ed.selected is not None)
            return bool(self.page) or holding or self.session.state is State.REVIEWING
        return super().check_action(action, parameters)

    # -- keys ----------------------------------------------------------------------------------

    def pick_label(self, index: int) -> None:
        if not 0 <= index < len(self.labels) or self.session.current is None:
            return
        self.page = 0
        ed = self.editor
        if ed is None:
            return
        which = ed.set_label(index)
        if which == "next":
            self.say(f"next box: {one_line(self.labels[index])} (b starts a box at the cursor)")
        self._changed()

    def action_submit(self) -> None:
        ed = self.editor
        if ed is None:
            self.say("the picture is not shown yet; x declines a broken image, space skips", error=True)
            return
        if ed.anchor is not None:
            ed.start_or_finish()  # enter while drawing keeps the box being drawn
        self._do(lambda: self.session.answer(ed.answer()))

    def action_cancel(self) -> None:
        if self.page:
            self.page = 0
            return
        if self.editor is not None and self.editor.cancel():
            self._changed()
            self.refresh_bindings()
            return
        self._do(self.session.leave_review)

    def action_cursor(self, dx: int, dy: int) -> None:
        ed, win = self.editor, self.pane.window()
        if ed is None or win is None:
            return
        x, y = win.step_x(ed.cursor[0], dx), win.step_y(ed.cursor[1], dy)
        ed.move_cursor(x, y)
        if not win.shows(*ed.cursor):  # the view follows the cursor
            self._set_view(win.zoom, win.center_showing(*ed.cursor))
        self._changed()

    def action_box(self) -> None:
        if self.editor is not None:
            self.editor.start_or_finish()
            self._changed()
            self.refresh_bindings()

    def action_select_box(self, step: int) -> None:
        ed = self.editor
        if ed is None:
            return
        if not ed.boxes:
            self.say("no boxes yet: b starts one at the cursor")
            return
        ed.select_next(step)
        self._follow_cursor()
        self._changed()
        self.refresh_bindings()

    def action_grab(self) -> None:
        ed = self.editor
        if ed is None or ed.grab_next() is None:
            self.say("select a box first (tab), then e grabs it, its corners and edges in turn")
            return
        self._follow_cursor()
        self._changed()
        self.refresh_bindings()

    def action_delete_box(self) -> None:
        ed = self.editor
        if ed is None:
            return
        box = ed.delete()
        if box is None:
            self.say("select a box first (tab), then delete removes it")
            return
        self.say(f"deleted a {one_line(self.labels[box.class_id])} box")
        self._changed()
        self.refresh_bindings()

    def action_zoom_in(self) -> None:
        ed, win = self.editor, self.pane.window()
        if ed is None or win is None:
            return
        fit = win.scale / win.zoom
        self._set_view(min(max_zoom(fit), win.zoom * ZOOM_STEP), ((ed.cursor[0] + 0.5) / ed.width, (ed.cursor[1] + 0.5) / ed.height))

    def action_zoom_out(self) -> None:
        win = self.pane.window()
        if win is not None:
            self._set_view(max(1.0, win.zoom / ZOOM_STEP), win.center)

    def action_one_to_one(self) -> None:
        ed, win = self.editor, self.pane.window()
        if ed is None or win is None:
            return
        req = self.pane.view_request()  # 1:1 in half-block pixels in every mode (see BoxPane.window)
        self._set_view(*one_to_one(ed.width, ed.height, req.cells_w, req.cells_h * 2, *ed.cursor))

    def action_fit(self) -> None:
        self._set_view(1.0, (0.5, 0.5))

    def _follow_cursor(self) -> None:
        ed, win = self.editor, self.pane.window()
        if ed is not None and win is not None and not win.shows(*ed.cursor):
            self._set_view(win.zoom, win.center_showing(*ed.cursor))

    def _set_view(self, zoom: float, center: tuple[float, float]) -> None:
        view = self.pane.view
        if (zoom, center) != (view.zoom, view.center):
            view.zoom, view.center = zoom, center
            view._post_view_changed()
        self._show_status()

    # -- mouse ---------------------------------------------------------------------------------

    @on(BoxPane.Pointer)
    def _pointer(self, event: BoxPane.Pointer) -> None:
        ed = self.editor
        if ed is None:
            return
        if event.kind == "down":
            hit = ed.box_at(event.x, event.y)
            ed.anchor = None
            if hit is not None:
                ed.select(hit)
                ed.cursor = (event.x, event.y)
                ed.grab(hit)  # a drag moves it
            else:
                ed.selected, ed.handle = None, None
                ed.move_cursor(event.x, event.y)
                ed.start_or_finish()
        elif event.kind == "drag":
            ed.move_cursor(event.x, event.y)
        else:
            ed.move_cursor(event.x, event.y)
            if ed.anchor is not None:
                if ed.anchor == ed.cursor:
                    ed.anchor = None  # a click on the picture: the cursor goes there
                else:
                    ed.start_or_finish()
            ed.handle = None
        self._changed()
        self.refresh_bindings()
