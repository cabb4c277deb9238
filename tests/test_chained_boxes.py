"""Chained jobs on boxes: an adjustment starts in the box editor with the earlier boxes (enter
keeps them: "unadjusted"; a deleted box: "adjusted"), a verification draws the earlier boxes
over the picture; GT's real box files adjust the same way (Pilot, headless)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import orjson

from tuilabel.core.gt.box_answer import Box, BoxAnswer
from tuilabel.core.job_setup import JobRequest, prepare
from tuilabel.ui.app import make_app

FASHION = Path(__file__).resolve().parents[1] / "sample_data" / "fashion"
LABELS = "BAG,SUNGLASS,SHOES,WATCH"


def frozen() -> float:
    return 0.0


def lines_of(path: Path) -> list[dict]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def earlier_box_job(tmp_path: Path) -> Path:
    """A box job's output: two images, two boxes and one box (fashion pictures are 320x240)."""
    manifest = tmp_path / "items.jsonl"
    manifest.write_bytes(b"".join(orjson.dumps({"source-ref": str(FASHION / f"00{i}.jpg")}) + b"\n" for i in (1, 2)))
    prepared = prepare(JobRequest(source=str(manifest), name="items", task="bounding-box", labels=LABELS, worker="ann"))
    session, _ = prepared.start()
    try:
        session.answer(BoxAnswer(320, 240, (Box(0, 10, 20, 100, 80), Box(3, 200, 100, 50, 60))))
        session.answer(BoxAnswer(320, 240, (Box(2, 30, 30, 40, 40),)))
    finally:
        prepared.stop(session, None)
    return prepared.folder.output_manifest


def run_keys(prepared, keys: list[str], check=None) -> None:
    async def drive():
        session, mirror = prepared.start(background=False)
        try:
            app = make_app(session, clock=frozen, graphics="halfblock")
            async with app.run_test(size=(100, 40)) as pilot:
                for key in keys:
                    await pilot.pause(0.1)
                    await app.workers.wait_for_complete()  # the picture (and so the editor) is shown
                    await pilot.pause(0.1)
                    if check is not None:
                        check(app)
                    await pilot.press(key)
                await pilot.press("q")
        finally:
            prepared.stop(session, mirror)

    asyncio.run(drive())


def test_box_adjustment_starts_from_the_earlier_boxes(tmp_path):
    out = earlier_box_job(tmp_path)
    prepared = prepare(JobRequest(source=str(out), adjust="items", worker="adam"))
    assert prepared.spec.task == "bounding-box" and prepared.spec.labels == tuple(LABELS.split(","))
    seen: list[tuple] = []

    def editor_boxes(app) -> None:
        ed = app.label_screen.editor
        seen.append(tuple(ed.boxes) if ed is not None else None)

    # Image 1: enter keeps both boxes. Image 2: tab selects its box, delete removes it, enter.
    run_keys(prepared, ["enter", "tab", "delete", "enter"], check=editor_boxes)
    assert seen[0] == (Box(0, 10, 20, 100, 80), Box(3, 200, 100, 50, 60))
    assert seen[1] == (Box(2, 30, 30, 40, 40),)
    lines = lines_of(prepared.folder.output_manifest)
    attr = prepared.spec.label_attribute
    assert [line[attr + "-metadata"]["adjustment-status"] for line in lines] == ["unadjusted", "adjusted"]
    assert lines[0][attr] == lines[0]["items"] and lines[1][attr]["annotations"] == []
    for line in lines:  # the box line's shape plus adjustment-status, last
        assert list(line[attr + "-metadata"]) == [*line["items-metadata"], "adjustment-status"]


def test_box_verification_draws_the_earlier_boxes(tmp_path):
    out = earlier_box_job(tmp_path)
    prepared = prepare(JobRequest(source=str(out), verify="items", worker="vera"))
    assert prepared.spec.task == "image-verification"
    drawn: list[tuple] = []

    def overlay(app) -> None:
        pane = app.label_screen.image_pane
        drawn.append(tuple((box, key) for box, _, key, _ in pane.box_view.overlay.boxes))
        drawn.append(str(app.label_screen.earlier_line.text))

    run_keys(prepared, ["2", "1"], check=overlay)
    assert drawn[0] == ((Box(0, 10, 20, 100, 80), "BAG"), (Box(3, 200, 100, 50, 60), "WATCH"))
    assert "earlier items: 2 boxes: 1 BAG, 1 WATCH" in drawn[1]
    assert drawn[2] == ((Box(2, 30, 30, 40, 40), "SHOES"),)
    lines = lines_of(prepared.folder.output_manifest)
    attr = prepared.spec.label_attribute
    assert [line[attr] for line in lines] == [1, 0]
    assert lines[0][attr + "-metadata"]["class-name"] == "Incorrect"


def test_adjusting_a_real_gt_box_file(shared_data, tmp_path):
    """GT's cat job (one image without boxes): kept, kept, one box moved, the empty one kept;
    the new attribute has GT's object-detection shape plus adjustment-status."""
    cats = shared_data / "gt-samples" / "object-detection-cats.output.manifest"
    prepared = prepare(JobRequest(source=str(cats), adjust="cat-ground-truth", labels="Cat", output=str(tmp_path),
                                  worker="adam"))
    assert prepared.spec.task == "bounding-box"
    session, _ = prepared.start()
    try:
        starts = []
        while session.current is not None:
            start = BoxAnswer.from_gt(session.current.data["cat-ground-truth"])
            starts.append(start)
            if len(starts) == 3:
                first, *rest = start.boxes
                start = BoxAnswer(start.width, start.height, (Box(0, first.left + 5, first.top, first.width, first.height), *rest))
            session.answer(start)
    finally:
        prepared.stop(session, None)
    lines = lines_of(prepared.folder.output_manifest)
    new = prepared.spec.label_attribute
    assert [line[new + "-metadata"]["adjustment-status"] for line in lines] == ["unadjusted", "unadjusted", "adjusted", "unadjusted"]
    for line in lines:
        earlier, meta = line["cat-ground-truth-metadata"], line[new + "-metadata"]
        assert set(meta) - set(earlier) == {"adjustment-status"} and set(earlier) <= set(meta)
        assert meta["class-map"] == earlier["class-map"] and len(meta["objects"]) == len(line[new]["annotations"])
