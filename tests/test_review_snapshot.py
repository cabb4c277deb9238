"""How a review looks (pytest-textual-snapshot, 100x24): the record, the consolidated label
with its confidence and place in the review, every worker's answer with their time. Update with
`pytest tests/test_review_snapshot.py --snapshot-update` and look at the SVG first."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from review_data import build_gt_folder  # noqa: E402

from tuilabel.core.review import prepare_review
from tuilabel.ui.app import make_app


def frozen() -> float:
    return 0.0


def test_review_text_record_100x24(tmp_path, monkeypatch, snap_compare):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "no-config"))
    session = prepare_review(str(build_gt_folder(tmp_path)), below=0.7, reviewer="rita").start()

    async def before(pilot):
        await pilot.press("space")  # past the record without a consolidated label
        await pilot.pause(0.1)

    try:
        assert snap_compare(make_app(session, clock=frozen), terminal_size=(100, 24), run_before=before)
    finally:
        session.close()
