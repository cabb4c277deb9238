"""How the app looks: SVG snapshots at fixed sizes (pytest-textual-snapshot).

Content is deterministic: data is copied into tmp_path and the test runs there (paths are
shown relative to it), the app gets a frozen clock (no rates or times), workers finish
before the picture is taken. Update with `pytest tests/test_snapshots.py --snapshot-update`
and look at the SVGs before committing them.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import orjson
import pytest

from tuilabel.core.gt.job import Example, Instructions, JobFolder, JobSpec
from tuilabel.core.data.manifest import Manifest
from tuilabel.core.session import Session
from tuilabel.ui.app import make_app

FASHION = Path(__file__).resolve().parents[1] / "sample_data" / "fashion"
SMALL = (80, 24)


def frozen() -> float:
    return 0.0


@pytest.fixture
def job_dir(tmp_path, monkeypatch):
    for name in ("001.jpg", "002.jpg", "003.jpg", "broken.jpg", "good-example.jpg", "bad-example.jpg"):
        shutil.copy(FASHION / name, tmp_path / name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "no-config"))
    return tmp_path


@pytest.fixture
def open_session(job_dir):
    """`open_session(objects, labels, task, full="", short=...)`: a session closed after the test."""
    opened: list[Session] = []

    def open_(objects: list[dict], labels, task: str, full: str = "",
              short: str = "Pick the label that fits the main item.") -> Session:
        manifest = job_dir / "input.manifest"
        manifest.write_bytes(b"".join(orjson.dumps(o) + b"\n" for o in objects))
        spec = JobSpec(
            name="snapshot-job", label_attribute="label", task=task, labels=tuple(labels),
            input=str(manifest), output=str(job_dir), worker="tester",
            instructions=Instructions(
                short=short, full=full,
                good=Example("A clear bag, centred.", "good-example.jpg"),
                bad=Example("Blurry and cut off: skip these.", "bad-example.jpg"),
            ),
        )
        session = Session(spec, JobFolder(job_dir / "job"), Manifest(manifest)).open()
        opened.append(session)
        return session

    yield open_
    for session in opened:
        session.close()


async def settle(pilot) -> None:
    await pilot.pause(0.1)
    await pilot.app.workers.wait_for_complete()
    await pilot.pause(0.1)


IMAGES = [{"source-ref": "001.jpg"}, {"source-ref": "002.jpg"}, {"source-ref": "003.jpg"}]
REVIEWS = [
    {"source": "Great battery life, but the screen scratches easily. [bold]Would buy again[/bold].", "stars": 4},
    {"source": "Terrible. \x1b[31mStopped working\x1b[0m after two days.", "stars": 1},
    {"source": "It is fine."},
]


SIZES = [(40, 12), (60, 16), (80, 24), (200, 60)]
SIZE_IDS = [f"{w}x{h}" for w, h in SIZES]
SENTIMENT = ["positive", "negative", "neutral", "mixed"]
SENTIMENT_SHORT = "Overall sentiment of the review: 1 positive, 2 negative, 3 neutral, 4 mixed."
LONG_REVIEW = " ".join(
    f"Paragraph {p}: the kettle boils fast, the lid sticks now and then, and the handle gets warm."
    for p in range(1, 41)
)


@pytest.mark.parametrize("size", SIZES, ids=SIZE_IDS)
def test_image_task(open_session, snap_compare, size):
    session = open_session(IMAGES, ["BAG", "SUNGLASS", "SHOES", "WATCH"], "image-classification")
    assert snap_compare(make_app(session, clock=frozen), terminal_size=size, run_before=settle)


@pytest.mark.parametrize("size", SIZES, ids=SIZE_IDS)
def test_text_task(open_session, snap_compare, size):
    """A long review: "more below" and PgDn in the key bar; the short instructions whole."""
    session = open_session([{"source": LONG_REVIEW}, *REVIEWS], SENTIMENT, "text-classification",
                           short=SENTIMENT_SHORT)
    assert snap_compare(make_app(session, clock=frozen), terminal_size=size, run_before=settle)


def test_window_too_small(open_session, snap_compare):
    session = open_session(REVIEWS, SENTIMENT, "text-classification")
    assert snap_compare(make_app(session, clock=frozen), terminal_size=(36, 10), run_before=settle)


def test_thirty_labels_prefix_pending(open_session, snap_compare):
    session = open_session(REVIEWS, [f"class-{i:02d}" for i in range(1, 31)], "text-classification")

    async def before(pilot):
        await pilot.press("h")  # labels 21-30: in view, the others dimmed
        await settle(pilot)

    assert snap_compare(make_app(session, clock=frozen), terminal_size=SMALL, run_before=before)


def test_text_task_reviewing(open_session, snap_compare):
    session = open_session(REVIEWS, ["positive", "negative", "neutral"], "text-classification")

    async def before(pilot):
        await pilot.press("2", "3", "u")  # reviewing record 2, answered "neutral"
        await settle(pilot)

    assert snap_compare(make_app(session, clock=frozen), terminal_size=SMALL, run_before=before)


def test_text_task_literal_markup(open_session, snap_compare):
    session = open_session(REVIEWS, ["positive", "negative", "neutral"], "text-classification")

    async def before(pilot):
        await pilot.press("1", "d")  # record 2 holds an ANSI escape; details shown
        await settle(pilot)

    assert snap_compare(make_app(session, clock=frozen), terminal_size=(100, 30), run_before=before)


def test_multilabel_toggled(open_session, snap_compare):
    labels = [f"topic-{i}" for i in range(1, 15)]
    session = open_session(REVIEWS, labels, "text-classification-multilabel")

    async def before(pilot):
        await pilot.press("1", "3", "g", "2")  # topic-1, topic-3, topic-12 toggled
        await settle(pilot)

    assert snap_compare(make_app(session, clock=frozen), terminal_size=SMALL, run_before=before)


def test_help_screen(open_session, snap_compare):
    session = open_session(IMAGES, ["BAG", "SUNGLASS", "SHOES", "WATCH"], "image-classification")

    async def before(pilot):
        await pilot.press("question_mark")
        await settle(pilot)

    assert snap_compare(make_app(session, clock=frozen), terminal_size=(100, 40), run_before=before)


def test_instructions_screen(open_session, snap_compare):
    full = (FASHION / "instructions.md").read_text()
    session = open_session(IMAGES, ["BAG", "SUNGLASS", "SHOES", "WATCH"], "image-classification", full)

    async def before(pilot):
        await settle(pilot)
        pilot.app.screen.query_one("#instructions-body").scroll_end(animate=False)
        await settle(pilot)

    assert snap_compare(make_app(session, clock=frozen, first_start=True), terminal_size=(100, 40), run_before=before)


def test_completion_screen(open_session, snap_compare):
    session = open_session(REVIEWS, ["positive", "negative", "neutral"], "text-classification")

    async def before(pilot):
        await pilot.press("1", "2", "x")
        await settle(pilot)

    assert snap_compare(make_app(session, clock=frozen), terminal_size=SMALL, run_before=before)


def test_broken_image(open_session, snap_compare):
    objects = [{"source-ref": "broken.jpg"}, {"source-ref": "missing.jpg"}]
    session = open_session(objects, ["BAG", "SUNGLASS", "SHOES", "WATCH"], "image-classification")
    assert snap_compare(make_app(session, clock=frozen), terminal_size=SMALL, run_before=settle)
