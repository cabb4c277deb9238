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
from tuilabel.ui.app import LabelApp, make_app
from tuilabel.ui.keys import label_keys
from tuilabel.ui.screens.label import LabelScreen
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


_OPENED: list[Session] = []


@pytest.fixture(autouse=True)
def close_sessions():
    """Every session a test opened is closed, also when an assert failed midway (the lock and
    the index thread must not outlive the test); Session.close() is idempotent."""
    yield
    while _OPENED:
        _OPENED.pop().close()


def open_session(tmp: Path, manifest: Path, labels, task: str, instructions: Instructions | None = None) -> Session:
    spec = JobSpec(
        name="job", label_attribute="label", task=task, labels=tuple(labels),
        input=str(manifest), output=str(tmp), worker="tester",
        instructions=instructions or Instructions(short="Pick the best label."),
    )
    session = Session(spec, JobFolder(tmp / "job"), Manifest(manifest)).open()
    _OPENED.append(session)
    return session


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


def test_click_label_picks_it(tmp_path):
    session = text_session(tmp_path)

    async def go():
        app = make_app(session)
        async with app.run_test(size=SIZE) as pilot:
            app.theme = "tuilabel-light"  # a shipped theme, not the default: its own $boost tints
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
            assert "s Skip" in screen(app).key_bar.text.plain  # the key bar shows the user's key
            await pilot.press("space")  # remapped away: space no longer skips
            assert session.current.index == 0
            await pilot.press("s")
            assert session.current.index == 1

    run(go())


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
            assert app.screen.counts == [1, 1, 0] and app.screen.progress.declined == 1
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
            # one more row than the text: "more below" sits there until the end is reached
            assert view.virtual_size.height == len(view.lines) + 1 and len(view.lines) > view.size.height
            await pilot.press("end")
            await pilot.pause()
            rows = ["".join(seg.text for seg in view.render_line(y)) for y in range(view.size.height)]
            assert rows[-2].split()[-1] == "word399" and "more below" not in "".join(rows)
            await pilot.press("1")
            await pilot.pause()
            assert view.scroll_offset.y == 0 and view.lines == ["short again"]
            assert not view.show_vertical_scrollbar and view.scrollable_content_region.width == full

    run(go())


def row_texts(view: RecordText) -> list[str]:
    return ["".join(seg.text for seg in view.render_line(y)) for y in range(view.size.height)]


def test_long_text_scrolls_by_keyboard_with_more_below(tmp_path):
    """Without a mouse (SSH) every line of a long record can be read: PageDown/PageUp by pages
    that keep one line of context, arrows by lines, Home/End; "more below" until the end; the
    key bar offers PgDn only while the text overflows, and `?` lists the keys."""
    long = " ".join(f"w{i}" for i in range(1500))
    manifest = write_manifest(tmp_path / "m.manifest", [{"source": long}, {"source": "short"}])
    session = open_session(tmp_path, manifest, ["a", "b"], "text-classification")

    async def go():
        app = make_app(session)
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause()
            view = app.query_one(RecordText)
            bar = screen(app).key_bar
            height = view.size.height
            assert view.overflowing and "more below" in row_texts(view)[-1]
            assert "pgdn More" in bar.text.plain
            last_seen = row_texts(view)[height - 2]
            await pilot.press("pagedown")
            assert view.scroll_offset.y == height - 2
            assert row_texts(view)[0] == last_seen  # one line of context kept
            await pilot.press("down", "down")
            assert view.scroll_offset.y == height
            await pilot.press("up")
            assert view.scroll_offset.y == height - 1
            await pilot.press("pageup", "pageup")
            assert view.scroll_offset.y == 0
            await pilot.press("end")
            rows = row_texts(view)
            assert rows[-2].split()[-1] == "w1499" and "more below" not in "".join(rows)
            await pilot.press("home")
            assert view.scroll_offset.y == 0
            seen = set()
            for _ in range(200):  # PageDown alone reaches every word
                seen.update(w for row in row_texts(view) for w in row.split() if w.startswith("w"))
                if not view.more_below:
                    break
                await pilot.press("pagedown")
            assert seen == {f"w{i}" for i in range(1500)}
            assert session.current.index == 0  # scrolling labels nothing
            await pilot.press("1")
            await pilot.pause()
            assert not view.overflowing and "pgdn" not in bar.text.plain
            await pilot.press("pagedown", "end")  # nothing to scroll: nothing happens
            assert view.scroll_offset.y == 0
            await pilot.press("question_mark")
            ids = {binding_id for _, _, _, binding_id in app.screen.rows}
            assert {"page-down", "page-up", "text-start", "text-end", "pan-up", "pan-down"} <= ids
            assert "zoom-in" not in ids

    run(go())


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


def test_the_theme_is_in_place_before_the_first_parse(tmp_path):
    """The chosen theme is set before the stylesheet is built, so start-up parses the CSS once
    (setting it after App.__init__ re-parsed all of it before the first frame)."""
    session = text_session(tmp_path)

    async def go():
        app = make_app(session, theme="tuilabel-light")
        refreshes = []
        reparse = app.stylesheet.reparse
        app.stylesheet.reparse = lambda: (refreshes.append(1), reparse())  # observe only
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            assert app.theme == "tuilabel-light" and app.current_theme.name == "tuilabel-light"
            assert "-light-mode" in app.classes
            assert refreshes == []
            app.theme = "tuilabel-dark"  # switching later still restyles
            await pilot.pause()
            assert refreshes and "-dark-mode" in app.classes

    run(go())
    session.close()


def test_unknown_theme_is_reported_and_the_default_used(tmp_path):
    session = text_session(tmp_path)

    async def go():
        app = make_app(session, theme="no-such-theme")
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            assert app.theme == "tuilabel-dark"
            assert any("unknown theme 'no-such-theme'" in m for m in session.messages)

    run(go())
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
            bar = screen(app).key_bar.text.plain
            assert "←→↑↓ Pan" in bar and "esc End move" in bar  # what move mode offers
            await pilot.press("o", "f")
            await settle(pilot)
            assert view.zoom == 1.0 and view.picture.zoom == 1.0
            await pilot.press("1")
            await settle(pilot, 0.2)
            # the next record came from the prefetch cache or a fresh render, never the old one
            assert session.current.index == 1 and view.picture is not None
            assert view.zoom == 1.0
            assert (session.current.source_ref, view.view_request()) in screen(app).image_pane.pictures

    run(go())


def test_prefetch_renders_next_records(tmp_path):
    session = image_session(tmp_path)

    async def go():
        app = make_app(session)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot, 0.3)
            request = app.query_one(ImageView).view_request()
            for n in (2, 3, 4):
                assert (str(FASHION / f"{n:03d}.jpg"), request) in screen(app).image_pane.pictures

    run(go())


def test_picture_work_for_later_records_starts_after_the_key_frame(tmp_path):
    """A key that shows a prefetched picture draws it before any worker starts (refine,
    prefetch): their pixel loops hold the GIL and slowed that frame."""
    session = image_session(tmp_path)

    async def go():
        app = make_app(session)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot, 0.3)
            await app.workers.wait_for_complete()
            before = set(app.workers)
            at_frame: list[set] = []
            display = app._display  # noqa: SLF001 - observe the frame, as bench_keys does

            def observe(screen, renderable) -> None:
                display(screen, renderable)
                if session.current.index == 1 and not at_frame:
                    at_frame.append({w.group for w in app.workers if w not in before})

            app._display = observe  # noqa: SLF001
            await pilot.press("1")
            await settle(pilot, 0.3)
            assert at_frame == [set()], at_frame
            request = app.query_one(ImageView).view_request()
            assert (str(FASHION / "004.jpg"), request) in screen(app).image_pane.pictures  # prefetch still ran

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


def test_make_app_rejects_unknown_graphics(tmp_path):
    from tuilabel.core.errors import UserError

    session = text_session(tmp_path)
    with pytest.raises(UserError, match="--graphics"):
        make_app(session, graphics="vt340")


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


def test_an_answer_redraws_only_the_label_rows_that_changed(tmp_path):
    """Rows whose count, share and bar look the same keep their cached line."""
    session = text_session(tmp_path, n=20, labels=("a", "b", "c", "d"))

    async def go():
        app = make_app(session)
        async with app.run_test(size=SIZE) as pilot:
            labels = app.query_one(LabelList)
            await pilot.press("1")
            await pilot.pause()
            before = {i: labels._cache[i][1] for i in range(4)}  # noqa: SLF001
            await pilot.press("1")  # a: 1 -> 2 (100%), b-d stay at 0 (0%)
            await pilot.pause()
            after = {i: labels._cache[i][1] for i in range(4)}  # noqa: SLF001
            assert after[0] is not before[0]
            assert all(after[i] is before[i] for i in (1, 2, 3))
            assert "2" in labels.row_text(0).plain and "100%" in labels.row_text(0).plain

    run(go())
    session.close()


def test_deferred_index_starts_after_the_first_frame(tmp_path):
    """`tuilabel label` opens the session without its line index (the index thread would
    share the GIL with start-up); the app starts it once its first frame is drawn."""
    manifest = tmp_path / "big.manifest"
    manifest.write_bytes((orjson.dumps({"source": "x" * 200}) + b"\n") * 50_000)
    spec = JobSpec(name="job", label_attribute="label", task="text-classification", labels=("a", "b"),
                   input=str(manifest), output=str(tmp_path), worker="tester", instructions=Instructions())
    session = Session(spec, JobFolder(tmp_path / "job"), Manifest(manifest)).open(background=False)
    assert not session.manifest.index_done and session.progress().total is None

    async def go():
        async with make_app(session).run_test(size=SIZE) as pilot:
            for _ in range(100):
                if session.manifest.index_done and "50,000" in pilot.app.query_one(ProgressRow).text.plain:
                    break
                await pilot.pause(0.05)
            assert "0/50,000" in pilot.app.query_one(ProgressRow).text.plain

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
            assert screen(app).image_pane.graphics_mode == {"sixel": "sixel", "kitty": "kitty-direct"}[mode]
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


@pytest.mark.parametrize("mode", ["halfblock", "auto"])
def test_halfblock_and_auto_in_tmux_use_imageview(tmp_path, monkeypatch, mode):
    monkeypatch.setenv("TMUX", "/tmp/tmux-1000/default,1,0")
    session = image_session(tmp_path)

    async def go():
        app = make_app(session, graphics=mode)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot, 0.2)
            assert screen(app).image_pane.graphics_mode == "halfblock"
            assert not app.query("#image-gfx")
            assert app.query_one(ImageView).picture is not None

    run(go())


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
            assert not screen(app).image_pane.pictures.get((str(tmp_path / "cam2.jpg"), request)).from_thumbnail
            await pilot.press("1")
            await settle(pilot, 0.1)
            assert view.picture is not None and not view.picture.from_thumbnail

    run(go())


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


# -- issue 7: a labeler's first hour ------------------------------------------------------------


async def wait_total(pilot, session: Session) -> None:
    for _ in range(100):
        if not session.progress().counting:
            break
        await pilot.pause(0.02)
    await pilot.pause()


def test_progress_total_leaves_out_bad_lines_from_the_start(tmp_path):
    """13 lines, 3 of them not records (blank, broken JSON, no source): 0/10 at once, not 0/13
    shrinking to 10 as labeling reaches them."""
    good = [orjson.dumps({"source": f"text {i}"}) for i in range(10)]
    lines = good[:3] + [b""] + good[3:6] + [b"{broken"] + good[6:] + [orjson.dumps({"other": 1})]
    manifest = tmp_path / "m.manifest"
    manifest.write_bytes(b"\n".join(lines) + b"\n")
    session = open_session(tmp_path, manifest, ["a", "b"], "text-classification")

    async def go():
        app = make_app(session)
        async with app.run_test(size=SIZE) as pilot:
            await wait_total(pilot, session)
            assert session.progress().total == 10
            assert "0/10" in screen(app).progress_row.text.plain
            await pilot.press(*"1" * 9)
            assert session.progress().total == 10 and "9/10" in screen(app).progress_row.text.plain
            await pilot.press("1")
            await settle(pilot)
            assert session.state is State.DONE and session.progress().done == 10
            from tuilabel.ui.screens.summary import SummaryScreen

            assert isinstance(app.screen, SummaryScreen)
            facts = rendered_text(app.screen.query_one("#summary-facts").content)
            assert "bad-lines.txt" in facts and app.screen.bad_lines == session.folder.bad_lines_report

    run(go())


def test_skip_says_so_and_skipping_the_last_record_says_it_is_the_last(tmp_path):
    session = text_session(tmp_path, n=2)

    async def go():
        app = make_app(session)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("space")
            assert session.current.index == 1
            assert screen(app).message_text == "skipped record 1: it comes back after the others"
            await pilot.press("1")
            assert session.current.index == 0 and screen(app).message_text == ""
            await pilot.press("space")
            assert session.current.index == 0
            assert "only one left without an answer" in screen(app).message_text

    run(go())


@pytest.mark.parametrize("keymap, words", [
    ({"skip": "1"}, ['skip = "1"', "label-1"]),
    ({"decline": "space"}, ['decline = "space"', "skip"]),
    ({"skipp": "s"}, ["skipp", "no such binding id"]),
    ({"skip": ""}, ["skip", "empty key"]),
])
def test_key_settings_that_conflict_or_are_unknown_are_refused(tmp_path, keymap, words):
    from tuilabel.core.errors import UserError

    session = text_session(tmp_path)
    with pytest.raises(UserError) as info:
        make_app(session, keymap=keymap)
    message = str(info.value)
    assert "\n" not in message and "[keys]" in message and "config.toml" in message
    assert all(word in message for word in words)


def test_help_shows_the_keys_setting_literally(tmp_path):
    session = text_session(tmp_path)

    async def go():
        app = make_app(session)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("question_mark")
            await pilot.pause()
            shown = " ".join(str(static.render()) for static in app.screen.query("Static"))
            assert '[keys] then id = "key"' in shown

    run(go())


def test_escape_leaves_review_mode_where_labeling_left_off(tmp_path):
    session = text_session(tmp_path, n=5)

    async def go():
        app = make_app(session)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("1", "2", "u", "u")
            assert session.state is State.REVIEWING and session.current.index == 0
            assert "esc Back to labeling" in screen(app).key_bar.text.plain
            await pilot.press("escape")
            assert session.state is State.LABELING and session.current.index == 2
            assert session.label_counts == [1, 1, 0]  # the reviewed answers stand

    run(go())


def test_thirty_labels_prefix_shows_its_labels_and_scrolls_to_them(tmp_path):
    labels = [f"class-{i:02d}" for i in range(1, 31)]
    session = text_session(tmp_path, labels=labels)

    async def go():
        app = make_app(session)
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause()
            sc = screen(app)
            lst = sc.label_list
            height = lst.scrollable_content_region.height
            assert height < 30 and lst.scroll_offset.y == 0
            await pilot.press("h")
            assert sc.page == 2
            top = lst.scroll_offset.y
            assert top <= 20 and 29 < top + height  # labels 21-30 all in view
            bar = sc.key_bar.text.plain
            assert bar == "1-0 Labels 21-30, shown in the list  esc Cancel"
            assert "labels 21-30" in sc.status.text.plain
            dimmed = lst.get_component_rich_style("label-list--other-page").color
            colours = {index: list(lst.render_line(index - top))[0].style.color for index in range(top, 30)}
            assert all((colour == dimmed) == (index < 20) for index, colour in colours.items())
            assert top < 20  # a dimmed row was in view

            await pilot.press("5")
            assert session.label_counts[24] == 1 and sc.page == 0
            await pilot.press("h", "escape")
            assert sc.page == 0 and "Skip" in sc.key_bar.text.plain
            await pilot.press("g", "0")
            assert session.label_counts[19] == 1
            await pilot.resize_terminal(200, 60)  # room for every name of the page
            await pilot.press("h")
            bar = sc.key_bar.text.plain
            assert "1 class-21" in bar and "0 class-30" in bar and "esc Cancel" in bar

    run(go())


def test_label_pane_width_follows_the_labels(tmp_path):
    async def width_for(labels, size=(120, 30)) -> int:
        sub = tmp_path / str(len(labels[0]))
        sub.mkdir()
        session = text_session(sub, labels=labels)
        app = make_app(session)
        async with app.run_test(size=size) as pilot:
            await pilot.pause()
            lst = screen(app).label_list
            assert all(lst.row_text(i).plain.rstrip().split()[-1] == "0" for i in range(len(labels)))
            return lst.size.width

    short = run(width_for(["a", "b"]))
    long = run(width_for(["a much longer label name", "another quite long label"]))
    assert short < 34 < long  # not a fixed ~33 columns


@pytest.mark.parametrize("size", [(40, 12), (60, 16), (80, 24), (200, 60)])
def test_layout_at_standard_sizes(tmp_path, size):
    """The short instructions are read whole, the key bar ends with whole hints and keeps
    `q Quit`, and the record pane keeps room to read."""
    short = "Overall sentiment of the review: 1 positive, 2 negative, 3 neutral, 4 mixed."
    manifest = write_manifest(tmp_path / "m.manifest", [{"source": "A review. " * 40}])
    session = open_session(tmp_path, manifest, ["positive", "negative", "neutral", "mixed"],
                           "text-classification", Instructions(short=short))

    async def go():
        app = make_app(session)
        async with app.run_test(size=size) as pilot:
            await pilot.pause()
            sc = screen(app)
            assert not sc.too_small
            assert " ".join(sc.header.plain.split()).endswith(short)
            assert sc.header.compact == (size[1] < 16)
            bar = sc.key_bar.text.plain
            assert bar.endswith(("q Quit", "^p Palette")) and "q Quit" in bar
            assert len(bar) <= sc.key_bar.content_size.width
            assert sc.record_text.size.width >= size[0] // 2 - 2
            assert sc.record_text.size.height >= 4
            assert max(len(line) for line in sc.record_text.lines) <= 100  # readable lines at 200 wide

    run(go())


def test_window_too_small_says_so_and_keys_wait(tmp_path):
    session = text_session(tmp_path)

    async def go():
        app = make_app(session)
        async with app.run_test(size=(39, 11)) as pilot:
            await pilot.pause()
            sc = screen(app)
            assert sc.too_small and sc.too_small_note.display
            assert "window too small: 39×11" in str(sc.too_small_note.render())
            assert "need ≥ 40×12" in str(sc.too_small_note.render())
            await pilot.press("1", "space", "x")
            assert session.current.index == 0 and session.label_counts == [0, 0, 0]
            await pilot.resize_terminal(40, 12)
            await pilot.pause()
            assert not sc.too_small and not sc.too_small_note.display
            await pilot.press("1")
            assert session.label_counts == [1, 0, 0]

    run(go())


def test_clicking_a_key_bar_hint_does_what_its_key_does(tmp_path):
    session = text_session(tmp_path, n=3)

    async def go():
        app = make_app(session)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            bar = screen(app).key_bar
            x = bar.text.plain.index("x Decline")
            await pilot.click(bar, offset=(x + 1 + 2, 0))  # padding 1, inside "Decline"
            assert session.progress().declined == 1 and session.current.index == 1
            await pilot.click(bar, offset=(bar.text.plain.index("  x Decline") + 1, 0))  # the gap: nothing
            assert session.progress().declined == 1

    run(go())


def test_image_task_key_bar_keeps_quit_at_80x24(tmp_path):
    session = image_session(tmp_path)

    async def go():
        app = make_app(session)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            bar = screen(app).key_bar.text.plain
            assert "q Quit" in bar and "? Help" in bar and "z Zoom" in bar
            assert "palette" not in bar.lower() or bar.endswith("Palette")

    run(go())


def test_palette_offers_jump_before_a_number_is_typed(tmp_path):
    session = text_session(tmp_path, n=10)

    async def go():
        from textual.command import CommandPalette

        from tuilabel.ui.screens.jump import JumpScreen

        app = make_app(session)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("ctrl+p")
            await settle(pilot, 0.3)
            assert isinstance(app.screen, CommandPalette)
            shown = [str(option.prompt) for option in app.screen.query_one("CommandList").options]
            assert any("Jump to record… (type a number)" in text for text in shown)
            await pilot.press(*"jump")
            await settle(pilot, 0.3)
            await pilot.press("enter")
            await settle(pilot, 0.1)
            assert isinstance(app.screen, JumpScreen)
            await pilot.press("7", "enter")
            await pilot.pause()
            assert session.current.index == 6 and isinstance(app.screen, LabelScreen)

    run(go())


def test_label_command_refuses_a_conflicting_key_setting_before_making_the_job(tmp_path):
    """The real command: one line naming the setting, exit 2, and no job folder left behind."""
    import os
    import subprocess
    import sys

    config = tmp_path / "cfg" / "tuilabel"
    config.mkdir(parents=True)
    (config / "config.toml").write_text('[keys]\nskip = "1"\n')
    manifest = write_manifest(tmp_path / "reviews.jsonl", [{"source": "a"}, {"source": "b"}])
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path / "cfg")}
    result = subprocess.run([sys.executable, "-m", "tuilabel", "label", str(manifest), "--labels", "a,b"],
                            capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and 'skip = "1"' in lines[0] and "label-1" in lines[0] and "config.toml" in lines[0]
    assert not (tmp_path / "reviews").exists()


def test_upcoming_refs_skips_answered_and_bad_lines(tmp_path):
    """The prefetch look-ahead (core): the next records without an answer, past bad lines."""
    lines = [orjson.dumps({"source-ref": f"{i}.jpg"}) for i in range(8)]
    lines[2] = b"{broken"
    manifest = tmp_path / "m.manifest"
    manifest.write_bytes(b"\n".join(lines) + b"\n")
    session = open_session(tmp_path, manifest, FASHION_LABELS, "image-classification")
    assert session.upcoming_refs(3) == ["1.jpg", "3.jpg", "4.jpg"]
    session.jump(3)
    session.answer(0)  # record 4 answered; the session moves on to record 5
    session.jump(0)
    assert session.upcoming_refs(3) == ["1.jpg", "4.jpg", "5.jpg"]
    assert session.upcoming_refs(0) == []
