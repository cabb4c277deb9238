"""The labeling app driven through Textual's Pilot: every key and flow, asserting on the
session's state and the files it writes (not on timings)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import orjson
import pytest

from tuilabel.core.gt.job import Example, Instructions, JobFolder, JobSpec
from tuilabel.core.data.manifest import Manifest
from tuilabel.core.session import Session, State
from tuilabel.ui.app import LabelApp, LabelScreen, label_keys, make_app
from tuilabel.ui.safe_text import visible
from tuilabel.ui.widgets.image_view import ImageView
from tuilabel.ui.widgets.label_list import LabelList
from tuilabel.ui.widgets.lines import ProgressRow, TextLine
from tuilabel.ui.widgets.record_text import RecordText

REPO = Path(__file__).resolve().parents[1]
FASHION = REPO / "sample_data" / "fashion"
FASHION_LABELS = ("BAG", "SUNGLASS", "SHOES", "WATCH")
SIZE = (100, 30)


def write_manifest(path: Path, objects: list[dict]) -> Path:
    path.write_bytes(b"".join(orjson.dumps(o) + b"\n" for o in objects))
    return path


def open_session(tmp: Path, manifest: Path, labels, task: str, instructions: Instructions | None = None) -> Session:
    spec = JobSpec(
        name="job", label_attribute="label", task=task, labels=tuple(labels),
        input=str(manifest), output=str(tmp), worker="tester",
        instructions=instructions or Instructions(short="Pick the best label."),
    )
    return Session(spec, JobFolder(tmp / "job"), Manifest(manifest)).open()


def text_session(tmp: Path, n: int = 5, labels=("pos", "neg", "mixed"), task="text-classification") -> Session:
    manifest = write_manifest(tmp / "in.manifest", [{"source": f"review number {i}", "id": i} for i in range(n)])
    return open_session(tmp, manifest, labels, task)


def image_session(tmp: Path, task="image-classification", extra: list[dict] | None = None) -> Session:
    objects = [{"source-ref": str(FASHION / f"{i:03d}.jpg")} for i in range(1, 5)]
    objects += extra or []
    manifest = write_manifest(tmp / "images.manifest", objects)
    ins = Instructions(
        short="Pick the item.",
        full=(FASHION / "instructions.md").read_text(),
        good=Example("a clear bag", str(FASHION / "good-example.jpg")),
        bad=Example("blurry", str(FASHION / "bad-example.jpg")),
    )
    return open_session(tmp, manifest, FASHION_LABELS, task, ins)


def output_lines(session: Session) -> list[dict]:
    path = session.folder.output_manifest
    return [orjson.loads(line) for line in path.read_bytes().splitlines()] if path.exists() else []


def rendered_text(renderable, width: int = 100) -> str:
    """What a Rich renderable looks like as plain text."""
    from rich.console import Console

    console = Console(width=width, record=True, file=open("/dev/null", "w"))
    console.print(renderable)
    return console.export_text()


def run(coro):
    return asyncio.run(coro)


def screen(app: LabelApp) -> LabelScreen:
    return app.label_screen


async def settle(pilot, delay: float = 0.05) -> None:
    await pilot.pause(delay)
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


# -- single label -----------------------------------------------------------------------------


def test_number_keys_label_and_advance(tmp_path):
    session = text_session(tmp_path)

    async def go():
        app = make_app(session)
        async with app.run_test(size=SIZE) as pilot:
            assert session.current.index == 0
            await pilot.press("2")
            assert session.current.index == 1
            await pilot.press("1", "3")
            assert session.current.index == 3
            assert session.label_counts == [1, 1, 1]
            rows = app.query_one(LabelList).rows
            assert [r.count for r in rows] == [1, 1, 1]
            await pilot.press("9")  # no label 9: nothing happens
            assert session.current.index == 3

    run(go())
    lines = output_lines(session)
    assert [line["label"] for line in lines] == [1, 0, 2]
    assert lines[0]["label-metadata"]["class-name"] == "neg"
    session.close()


def test_click_label_picks_it(tmp_path):
    session = text_session(tmp_path)

    async def go():
        app = make_app(session)
        async with app.run_test(size=SIZE) as pilot:
            app.theme = "textual-dark"  # its $boost is visible (tuilabel-dark's is transparent)
            await pilot.pause()
            labels = app.query_one(LabelList)
            await pilot.hover(LabelList, offset=(8, 1))  # x 0 is the list's left border
            assert labels.hover == 1
            hovered = {seg.style.bgcolor for seg in labels.render_line(1) if seg.text.strip()}
            plain = {seg.style.bgcolor for seg in labels.render_line(0) if seg.text.strip()}
            assert hovered and plain and hovered != plain  # the hover row is tinted
            await pilot.click(LabelList, offset=(8, 2))
            assert session.label_counts == [0, 0, 1]
            assert session.current.index == 1
            await pilot.click(LabelList, offset=(8, 5))  # below the last label: nothing
            assert session.label_counts == [0, 0, 1]

    run(go())
    session.close()


def test_skip_and_decline(tmp_path):
    session = text_session(tmp_path, n=3)

    async def go():
        app = make_app(session)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("space")
            assert session.current.index == 1
            await pilot.press("x")
            assert session.current.index == 2
            assert "declined record 2" in screen(app).message_text
            await pilot.press("1")
            # the skipped record comes back at the end of the pass
            assert session.current.index == 0

    run(go())
    lines = output_lines(session)
    declined = [line for line in lines if "failure-reason" in line.get("label-metadata", {})]
    assert len(declined) == 1 and declined[0]["source"] == "review number 1"
    session.close()


def test_undo_shows_previous_answer_ready_to_relabel(tmp_path):
    session = text_session(tmp_path)

    async def go():
        app = make_app(session)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("1", "2")
            await pilot.press("backspace")
            assert session.state is State.REVIEWING
            assert session.current.index == 1
            scr = screen(app)
            assert scr.answer_labels == {1}
            assert "REVIEWING" in scr.query_one("#status", TextLine).text.plain
            labels = app.query_one(LabelList)
            assert labels.rows[1].mark == "answer"
            assert "●" in labels.row_text(1).plain and "●" not in labels.row_text(0).plain
            answer = labels.render_line(1)
            assert all(seg.style.bold for seg in answer if seg.text.strip())
            assert {seg.style.bgcolor for seg in answer} != {seg.style.bgcolor for seg in labels.render_line(0)}
            await pilot.press("3")  # relabel; back to labeling where we were
            assert session.state is State.LABELING
            assert session.current.index == 2
            assert session.label_counts == [1, 0, 1]
            await pilot.press("u")
            assert session.current.index == 1 and scr.answer_labels == {2}

    run(go())
    session.close()


def test_history_back_and_forward(tmp_path):
    session = text_session(tmp_path)

    async def go():
        app = make_app(session)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("1", "2", "3")
            await pilot.press("left_square_bracket", "left_square_bracket")
            assert session.state is State.REVIEWING and session.current.index == 1
            await pilot.press("left_square_bracket", "left_square_bracket")  # stops at the oldest
            assert session.current.index == 0
            assert "oldest" in screen(app).message_text
            await pilot.press("right_square_bracket")
            assert session.current.index == 1
            await pilot.press("1")  # relabel record 2 -> moves to the next answer in history
            assert session.current.index == 2 and session.state is State.REVIEWING
            await pilot.press("right_square_bracket")
            assert session.state is State.LABELING and session.current.index == 3
            assert session.label_counts == [2, 0, 1]

    run(go())
    session.close()


def test_many_labels_prefix_key_picks_label_17(tmp_path):
    labels = [f"class-{i + 1}" for i in range(25)]
    session = text_session(tmp_path, labels=labels)
    assert label_keys(25)[16] == "g7" and label_keys(25)[20] == "h1"

    async def go():
        app = make_app(session)
        async with app.run_test(size=SIZE) as pilot:
            rows = app.query_one(LabelList).rows
            assert rows[16].key == "g7"
            await pilot.press("g")
            assert screen(app).page == 1
            await pilot.press("7")
            assert session.label_counts[16] == 1
            await pilot.press("h", "5")  # label 25
            assert session.label_counts[24] == 1
            await pilot.press("g", "escape", "2")  # escape cancels the prefix: label 2
            assert session.label_counts[1] == 1
            await pilot.press("h", "9")  # label 29 does not exist: nothing
            assert session.current.index == 3

    run(go())
    session.close()


def test_filter_picks_first_match(tmp_path):
    labels = ["apple", "banana", "blueberry", "cherry"]
    session = text_session(tmp_path, labels=labels)

    async def go():
        app = make_app(session)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("slash")
            await pilot.press(*"blue")
            await pilot.press("enter")
            assert session.label_counts == [0, 0, 1, 0]
            await pilot.press("slash", *"an", "enter")  # "banana" contains "an"
            assert session.label_counts == [0, 1, 1, 0]
            await pilot.press("slash", "c", "escape")
            assert sum(session.label_counts) == 2
            assert isinstance(app.screen, LabelScreen)

    run(go())
    session.close()


# -- multi-label ------------------------------------------------------------------------------


def test_multilabel_toggle_and_submit(tmp_path):
    session = text_session(tmp_path, labels=("a", "b", "c", "d"), task="text-classification-multilabel")

    async def go():
        app = make_app(session)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("enter")  # nothing picked: a clear message, no answer
            assert session.current.index == 0
            assert "pick at least one label" in screen(app).message_text
            await pilot.press("1", "3", "4", "4")
            assert screen(app).toggled == {0, 2}
            rows = app.query_one(LabelList).rows
            assert rows[0].mark == "toggled" and rows[3].mark == ""
            labels = app.query_one(LabelList)
            assert labels.row_text(0).plain.split()[1] == "[x]" and "[ ]" in labels.row_text(3).plain
            await pilot.press("enter")
            assert session.current.index == 1
            assert screen(app).toggled == set()
            await pilot.press("u")  # review: the answer is pre-toggled
            assert screen(app).toggled == {0, 2}
            await pilot.press("2", "enter")
            assert session.state is State.LABELING

    run(go())
    lines = output_lines(session)
    assert lines[-1]["label"] == [0, 1, 2]
    assert set(lines[-1]["label-metadata"]["class-map"].values()) == {"a", "b", "c"}
    session.close()


# -- screens ----------------------------------------------------------------------------------


def test_help_lists_every_key_from_bindings(tmp_path):
    session = text_session(tmp_path)

    async def go():
        app = make_app(session, keymap={"skip": "s"})
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("question_mark")
            from tuilabel.ui.screens.help import HelpScreen

            assert isinstance(app.screen, HelpScreen)
            keys = {desc: key for key, desc, _, _ in app.screen.rows}
            ids = {desc: binding_id for _, desc, _, binding_id in app.screen.rows}
            assert keys["Skip"] == "s"  # the user's keymap, not the default
            assert "Decline" in keys and "Undo" in keys and "Quit" in keys
            # every id shown is one set_keymap accepts (what config.toml [keys] uses)
            assert ids["Skip"] == "skip" and ids["Undo"] == "undo" and ids["Stats"] == "stats"
            assert set(ids.values()) <= {b.id for b in LabelScreen.BINDINGS}
            assert app.screen.labels == [("1", "pos", "label-1"), ("2", "neg", "label-2"), ("3", "mixed", "label-3")]
            shown = "\n".join(rendered_text(w.content) for w in app.screen.query("Static"))
            assert "history-back" in shown and "label-2" in shown
            await pilot.press("1")  # typing in the help screen does not label
            assert session.label_counts == [0, 0, 0]
            await pilot.press("escape")
            assert isinstance(app.screen, LabelScreen)
            await pilot.press("space")  # remapped away: space no longer skips
            assert session.current.index == 0
            await pilot.press("s")
            assert session.current.index == 1

    run(go())
    session.close()


def test_instructions_screen_and_first_start(tmp_path):
    session = image_session(tmp_path)

    async def go():
        app = make_app(session, first_start=True)
        async with app.run_test(size=SIZE) as pilot:
            from textual.widgets import Markdown

            from tuilabel.ui.screens.instructions import InstructionsScreen

            await settle(pilot, 0.2)
            assert isinstance(app.screen, InstructionsScreen)
            assert app.screen.query_one(Markdown)
            good = app.screen.query_one("#example-good", ImageView)
            await settle(pilot, 0.2)
            assert good.picture is not None  # the example image was decoded and drawn
            await pilot.press("escape")
            assert isinstance(app.screen, LabelScreen)
            await pilot.press("i")
            assert isinstance(app.screen, InstructionsScreen)

    run(go())
    session.close()


def test_completion_summary_writes_output(tmp_path):
    session = text_session(tmp_path, n=3)

    async def go():
        app = make_app(session)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("1", "2", "x")
            await pilot.pause()
            from tuilabel.ui.screens.summary import SummaryScreen

            assert session.state is State.DONE
            assert isinstance(app.screen, SummaryScreen)
            assert app.screen.counts == [1, 1, 0] and app.screen.declined == 1
            assert app.screen.output == session.folder.output_manifest
            await pilot.press("u")  # undo from the summary: back to the last record
            assert session.state is State.REVIEWING and isinstance(app.screen, LabelScreen)
            await pilot.press("space")  # keep the answer: done again
            assert isinstance(app.screen, SummaryScreen)
            await pilot.press("q")
        assert app.return_code == 0

    run(go())
    lines = output_lines(session)
    assert [line["source"] for line in lines] == ["review number 0", "review number 1", "review number 2"]
    session.close()


def test_quit_and_resume_at_the_right_record(tmp_path):
    session = text_session(tmp_path, n=6)

    async def go(s: Session, keys: list[str]):
        app = make_app(s)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press(*keys)
            await pilot.press("q")
            await pilot.pause()
        return app

    run(go(session, ["1", "2", "space", "3"]))
    session.close()
    again = text_session(tmp_path, n=6)
    # records 0, 1, 3 are answered; 2 was skipped: the first record without an answer is 2
    assert again.current.index == 2
    app = run(go(again, []))
    assert again.label_counts == [1, 1, 1]
    again.close()
    assert app.return_code == 0


def test_literal_markup_and_escapes(tmp_path):
    nasty = "[bold red]x[/] [link=https://evil.example]click[/link] \x1b[31mred\x1b]8;;http://x\x07 \u202eevil\x00?"
    manifest = write_manifest(tmp_path / "nasty.manifest", [{"source": nasty.replace("\x00", "")}])
    session = open_session(tmp_path, manifest, ["[b]ok[/b]", "no\x1b[2J"], "text-classification")

    async def go():
        app = make_app(session)
        async with app.run_test(size=SIZE) as pilot:
            view = app.query_one(RecordText)
            plain = " ".join(view.lines)
            assert "[bold red]x[/]" in plain and "[link=https://evil.example]" in plain
            assert "\x1b" not in plain and "␛[31m" in plain and "<U+202E>" in plain
            base = view.base_style
            # no styles came from the record: every drawn cell has the widget's own style
            assert all(seg.style == base for y in range(len(view.lines)) for seg in view.render_line(y))
            labels = app.query_one(LabelList)
            assert "\x1b" not in labels.row_text(1).plain and "␛[2J" in labels.row_text(1).plain
            assert "[b]ok[/b]" in labels.row_text(0).plain
            assert "[b]ok[/b]" in "".join(seg.text for seg in labels.render_line(0))
            await pilot.press("1")

    run(go())
    session.close()
    assert visible("a\x1bb\x9bc\td") == "a␛b<U+009B>c    d"


def test_long_text_wraps_and_scrolls(tmp_path):
    """A long record wraps to the pane (narrower once its scrollbar shows), scrolls to its last
    word, and the next record starts at its top at the full width again."""
    long = " ".join(f"word{i}" for i in range(400))
    manifest = write_manifest(tmp_path / "m.manifest", [{"source": "short one"}, {"source": long}, {"source": "short again"}])
    session = open_session(tmp_path, manifest, ["a", "b"], "text-classification")

    async def go():
        app = make_app(session)
        async with app.run_test(size=SIZE) as pilot:
            view = app.query_one(RecordText)
            assert view.lines == ["short one"] and not view.show_vertical_scrollbar
            full = view.scrollable_content_region.width
            await pilot.press("1")
            await pilot.pause()
            assert view.show_vertical_scrollbar
            width = view.scrollable_content_region.width
            assert width < full and all(len(line) <= width for line in view.lines)
            assert " ".join(view.lines) == long  # every word, in order, nothing cut
            assert view.virtual_size.height == len(view.lines) > view.size.height
            view.scroll_end(animate=False)
            await pilot.pause()
            bottom = "".join(seg.text for seg in view.render_line(view.size.height - 1))
            assert bottom.split()[-1] == "word399"
            await pilot.press("1")
            await pilot.pause()
            assert view.scroll_offset.y == 0 and view.lines == ["short again"]
            assert not view.show_vertical_scrollbar and view.scrollable_content_region.width == full

    run(go())
    session.close()


def test_details_toggle_shows_other_fields(tmp_path):
    session = text_session(tmp_path)

    async def go():
        app = make_app(session)
        async with app.run_test(size=SIZE) as pilot:
            details = app.query_one("#details-scroll")
            assert not details.display
            await pilot.press("d")
            assert details.display
            assert "id: 0" in str(app.query_one("#details").render())

    run(go())
    session.close()


def test_command_palette_jump_and_export(tmp_path):
    session = text_session(tmp_path, n=10)

    async def go():
        app = make_app(session)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("1", "2")
            await pilot.press("ctrl+p")
            await pilot.press(*"7")
            await settle(pilot, 0.3)
            await pilot.press("enter")
            await pilot.pause()
            assert session.current.index == 6
            app.export_now()
            assert "wrote" in screen(app).message_text

    run(go())
    assert len(output_lines(session)) == 2
    session.close()


def test_theme_switching_and_user_theme(tmp_path, monkeypatch):
    user = tmp_path / "cfg" / "tuilabel" / "themes"
    user.mkdir(parents=True)
    (user / "mine.toml").write_text('name = "mine"\nprimary = "#ff0000"\n[variables]\nlabel-1 = "#123456"\n')
    (user / "broken.toml").write_text("name = \n")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    session = text_session(tmp_path)

    async def go():
        app = make_app(session, theme="mine")
        async with app.run_test(size=SIZE) as pilot:
            assert app.theme == "mine"
            assert app.label_colours[0] == "#123456"
            assert "broken.toml" in screen(app).message_text
            app.theme = "tuilabel-light"
            await pilot.pause()
            labels = app.query_one(LabelList)
            assert labels.rows[0].colour == "#B36B00"
            square = next(seg for seg in labels.render_line(0) if seg.text.startswith("■"))
            assert square.style.color.triplet.hex.upper() == "#B36B00"  # drawn in the new theme
            assert {"tuilabel-dark", "tuilabel-high-contrast", "tuilabel-colorblind"} <= set(app.available_themes)

    run(go())
    session.close()


# -- images -----------------------------------------------------------------------------------


def test_image_preview_zoom_move_fit(tmp_path):
    session = image_session(tmp_path)

    async def go():
        app = make_app(session)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot, 0.2)
            view = app.query_one(ImageView)
            assert view.picture is not None and view.message is None
            await pilot.press("z")
            await settle(pilot)
            assert view.zoom > 1 and view.picture.zoom > 1
            center = view.center
            await pilot.press("left")  # arrows only pan in move mode
            assert view.center == center
            await pilot.press("m", "right", "right")
            await settle(pilot)
            assert screen(app).move_mode and view.center[0] > center[0]
            await pilot.press("o", "f")
            await settle(pilot)
            assert view.zoom == 1.0 and view.picture.zoom == 1.0
            await pilot.press("1")
            await settle(pilot, 0.2)
            # the next record came from the prefetch cache or a fresh render, never the old one
            assert session.current.index == 1 and view.picture is not None
            assert view.zoom == 1.0
            assert (session.current.source_ref, view.view_request()) in app.pictures

    run(go())
    session.close()


def test_prefetch_renders_next_records(tmp_path):
    session = image_session(tmp_path)

    async def go():
        app = make_app(session)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot, 0.3)
            request = app.query_one(ImageView).view_request()
            for n in (2, 3, 4):
                assert (str(FASHION / f"{n:03d}.jpg"), request) in app.pictures

    run(go())
    session.close()


def test_broken_and_missing_images_show_message_and_can_be_declined(tmp_path):
    extra = [{"source-ref": str(FASHION / "broken.jpg")}, {"source-ref": str(tmp_path / "nope.jpg")}]
    session = image_session(tmp_path, extra=extra)

    async def go():
        app = make_app(session)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("1", "1", "1", "1")
            await settle(pilot, 0.2)
            view = app.query_one(ImageView)
            assert session.current.index == 4
            assert view.picture is None and "truncated" in view.message.lower()
            await pilot.press("x")
            await settle(pilot, 0.2)
            assert session.current.index == 5
            assert "nope.jpg" in view.message
            await pilot.press("space")  # skip works too (comes back: the only open record)
            assert session.current.index == 5

    run(go())
    session.close()


def test_make_app_rejects_unknown_graphics(tmp_path):
    from tuilabel.core.errors import UserError

    session = text_session(tmp_path)
    with pytest.raises(UserError, match="--graphics"):
        make_app(session, graphics="vt340")
    session.close()


def test_total_appears_when_the_index_finishes(tmp_path):
    """A large manifest: progress says "counting…" at first and the total without a key press."""
    manifest = tmp_path / "big.manifest"
    line = orjson.dumps({"source": "x" * 200}) + b"\n"
    manifest.write_bytes(line * 200_000)
    session = open_session(tmp_path, manifest, ["a", "b"], "text-classification")

    async def go():
        app = make_app(session)
        async with app.run_test(size=SIZE) as pilot:
            for _ in range(100):
                if "200,000" in app.query_one(ProgressRow).text.plain:
                    break
                await pilot.pause(0.05)
            assert "0/200,000" in app.query_one(ProgressRow).text.plain

    run(go())
    session.close()


def test_keymap_remaps_label_keys_and_list_shows_them(tmp_path):
    labels = [f"l{i}" for i in range(1, 13)]
    session = text_session(tmp_path, labels=labels)

    async def go():
        app = make_app(session, keymap={"label-1": "a", "labels-11-20": "n"})
        async with app.run_test(size=SIZE) as pilot:
            rows = app.query_one(LabelList).rows
            assert rows[0].key == "a" and rows[10].key == "na" and rows[11].key == "n2"  # the prefix then the (remapped) digit
            await pilot.press("1")  # no longer label 1
            assert session.current.index == 0
            await pilot.press("a")
            assert session.label_counts[0] == 1
            await pilot.press("n", "2")
            assert session.label_counts[11] == 1

    run(go())
    session.close()


# -- graphics protocols -------------------------------------------------------------------------


def test_auto_graphics_rule():
    from tuilabel.ui.graphics import auto_allowed

    assert not auto_allowed({})[0]  # no TERM: nothing to ask
    assert auto_allowed({"TERM": "xterm-kitty"}) == (True, "")
    assert auto_allowed({"TERM": "xterm-256color"})[0]  # local: one round trip, no time-out
    assert not auto_allowed({"TERM": "linux"})[0]
    assert not auto_allowed({"TMUX": "/tmp/tmux-1/default,1,0"})[0]
    assert not auto_allowed({"STY": "1234.pts-0.host"})[0]
    assert not auto_allowed({"SSH_CONNECTION": "1 2 3 4", "TERM": "xterm-256color"})[0]
    assert auto_allowed({"SSH_CONNECTION": "1 2 3 4", "TERM": "xterm-kitty"})[0]
    assert auto_allowed({"SSH_TTY": "/dev/pts/1", "TERM_PROGRAM": "WezTerm"})[0]


@pytest.mark.parametrize("mode", ["sixel", "kitty"])
def test_graphics_protocol_shows_the_real_image(tmp_path, monkeypatch, mode):
    """kitty/sixel: the image pane holds the mode's widget with a PIL image cut to the
    pane; zoom crops it; errors still show as text in ImageView."""
    from PIL import Image as PILImage
    from textual.geometry import Region

    from tuilabel.ui.graphics import widget_class

    extra = [{"source-ref": str(FASHION / "broken.jpg")}]
    session = image_session(tmp_path, extra=extra)

    async def go():
        app = make_app(session, graphics=mode)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot, 0.3)
            # No terminal answers here, so kitty gets direct placement (every kitty draws it).
            assert app.graphics_mode == {"sixel": "sixel", "kitty": "kitty-direct"}[mode]
            gfx = app.query_one("#image-gfx")
            assert isinstance(gfx, widget_class(app.graphics_mode))
            assert gfx.display and not app.query_one(ImageView).display
            assert isinstance(gfx.image, PILImage.Image)
            box = app.query_one("#image-box").content_size
            fitted = gfx.image.size
            assert fitted[0] <= box.width * 10 and fitted[1] <= box.height * 20  # cut to the pane
            await pilot.press("z")
            await settle(pilot, 0.3)
            assert app.query_one(ImageView).zoom > 1 and gfx.image.size != fitted  # zoom crops
            if mode == "kitty":  # the placement rides in the widget's last line
                width, height = gfx.size
                last = gfx.render_lines(Region(0, 0, width, height))[-1]
                assert "\x1b_Ga=p," in "".join(segment.text for segment in last)
            await pilot.press("1", "1", "1", "1")  # to the broken image
            await settle(pilot, 0.3)
            assert session.current.index == 4
            view = app.query_one(ImageView)
            assert view.display and not gfx.display and "truncated" in view.message.lower()

    run(go())
    session.close()


@pytest.mark.parametrize("mode", ["halfblock", "auto"])
def test_halfblock_and_auto_in_tmux_use_imageview(tmp_path, monkeypatch, mode):
    monkeypatch.setenv("TMUX", "/tmp/tmux-1000/default,1,0")
    session = image_session(tmp_path)

    async def go():
        app = make_app(session, graphics=mode)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot, 0.2)
            assert app.graphics_mode == "halfblock"
            assert not app.query("#image-gfx")
            assert app.query_one(ImageView).picture is not None

    run(go())
    session.close()


def test_thumbnail_first_frame_is_refined_in_the_background(tmp_path):
    """A camera JPEG is first drawn from its EXIF thumbnail (red here), then from the full
    image (blue) without a key press; the prefetched next record gets refined too."""
    from PIL import Image as PILImage
    from test_preview import camera_jpeg

    red = PILImage.new("RGB", (160, 120), (220, 0, 0))
    for n in (1, 2):
        (tmp_path / f"cam{n}.jpg").write_bytes(camera_jpeg(PILImage.new("RGB", (1600, 1200), (0, 0, 220)), red))
    manifest = write_manifest(tmp_path / "cam.manifest", [{"source-ref": str(tmp_path / f"cam{n}.jpg")} for n in (1, 2)])
    session = open_session(tmp_path, manifest, FASHION_LABELS, "image-classification")
    shown: list[bool] = []

    async def go():
        app = make_app(session)
        async with app.run_test(size=SIZE) as pilot:
            view = app.query_one(ImageView)
            original = view.show_picture

            def spy(picture):
                shown.append(getattr(picture, "from_thumbnail", None))
                original(picture)

            view.show_picture = spy
            for _ in range(3):
                await settle(pilot, 0.2)
            assert shown[0] is True and shown[-1] is False  # thumbnail first, then the full image
            fg, bg = view.picture.cell_colours(view.picture.width // 2, view.picture.height // 2)
            assert (fg >> 16) < 60 and (fg & 0xFF) > 160  # blue: the main image, not the red thumbnail
            request = view.view_request()
            assert not app.pictures.get((str(tmp_path / "cam2.jpg"), request)).from_thumbnail
            await pilot.press("1")
            await settle(pilot, 0.1)
            assert view.picture is not None and not view.picture.from_thumbnail

    run(go())
    session.close()


# -- stats screen -------------------------------------------------------------------------------


def test_stats_screen_shows_job_numbers(tmp_path):
    session = text_session(tmp_path, n=6)

    async def go():
        app = make_app(session)
        async with app.run_test(size=SIZE) as pilot:
            from tuilabel.ui.screens.stats import StatsScreen

            await pilot.press("1", "1", "2", "x")
            await pilot.press("t")
            assert isinstance(app.screen, StatsScreen)
            await settle(pilot, 0.1)
            stats = app.screen.stats
            assert stats.timing.answers == 4 and stats.timing.declined == 1
            assert stats.attributes[0].classes == {"pos": 2, "neg": 1}
            assert stats.timing.workers == {"tester": 4}
            shown = rendered_text(app.screen.query_one("#stats-content").content)
            assert "pos" in shown and "declined" in shown and "Per worker" in shown and "tester 4" in shown
            await pilot.press("1")  # typing here does not label
            assert session.label_counts == [2, 1, 0]
            await pilot.press("escape")
            assert isinstance(app.screen, LabelScreen)
            # the palette command opens it too
            await pilot.press("ctrl+p", *"stats")
            await settle(pilot, 0.3)
            await pilot.press("enter")
            await settle(pilot, 0.1)
            assert isinstance(app.screen, StatsScreen) and app.screen.stats.timing.answers == 4

    run(go())
    session.close()
