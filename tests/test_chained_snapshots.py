"""How a verification job looks at 80x24: the record, the earlier label on its own row with the
worker's comment, the verification categories, and `c Comment` in the key bar.
Update with `pytest tests/test_chained_snapshots.py --snapshot-update` and look at the SVG."""

from __future__ import annotations

import orjson

from tuilabel.core.data.manifest import Manifest
from tuilabel.core.gt.chained import VERIFICATION_CATEGORIES
from tuilabel.core.gt.job import Instructions, JobFolder, JobSpec
from tuilabel.core.session import Session
from tuilabel.ui.app import make_app

SMALL = (80, 24)


def frozen() -> float:
    return 0.0


def earlier(text: str, index: int, name: str) -> dict:
    return {"source": text, "sentiment": index, "sentiment-metadata": {
        "confidence": 0, "job-name": "labeling-job/sentiment", "class-name": name, "human-annotated": "yes",
        "creation-date": "2026-12-01T10:00:00.000000", "type": "groundtruth/text-classification"}}


def test_verification_screen_with_a_comment(tmp_path, monkeypatch, snap_compare):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "no-config"))
    manifest = tmp_path / "output.manifest"
    objects = [earlier("Great battery life, but the screen scratches easily.", 1, "negative"),
               earlier("It is fine.", 2, "neutral")]
    manifest.write_bytes(b"".join(orjson.dumps(o) + b"\n" for o in objects))
    spec = JobSpec(name="sentiment-verification", label_attribute="sentiment-verification", task="text-verification",
                   labels=VERIFICATION_CATEGORIES, input=str(manifest), output=str(tmp_path), worker="tester",
                   instructions=Instructions(short="Is the earlier label right?"), verify="sentiment")
    session = Session(spec, JobFolder(tmp_path / "job"), Manifest(manifest)).open()

    async def before(pilot):
        await pilot.press("c", *"mixed, not negative", "enter")
        await pilot.pause(0.1)
        await pilot.app.workers.wait_for_complete()
        await pilot.pause(0.1)

    try:
        assert snap_compare(make_app(session, clock=frozen), terminal_size=SMALL, run_before=before)
    finally:
        session.close()
