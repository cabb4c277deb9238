"""Agreement where users see it: `tuilabel stats` on a GT folder with worker responses and on a
tuilabel job with several workers (Rich tables and --json), and the app's stats screen."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).parent))
from review_data import RECORDS, build_gt_folder, build_tuilabel_job  # noqa: E402

from tuilabel.cli import main


def test_stats_on_a_gt_folder_adds_agreement(tmp_path, capsys):
    job = build_gt_folder(tmp_path)
    assert main(["stats", str(job)]) == 0
    out = capsys.readouterr().out
    assert "output.manifest" in out and "label distribution" in out  # the output manifest's stats
    for line in ("Fleiss' kappa", "Krippendorff's alpha", "Cohen's kappa", "per-label agreement", "weakest first"):
        assert line in out
    assert "ann" in out and "bob" in out and "cy" in out
    assert main(["stats", str(job), "--json"]) == 0
    report = orjson.loads(capsys.readouterr().out)["agreement"]
    assert report["answers"] == sum(len(r[1]) for r in RECORDS) and report["workers"] == 3
    assert report["records"] == 5 and report["records_multi"] == 5
    assert [w["worker"] for w in report["per_worker"]] and report["per_worker"][0]["median_seconds"] is not None


def test_stats_on_a_tuilabel_job_with_several_workers(tmp_path, capsys):
    job = build_tuilabel_job(tmp_path)
    assert main(["stats", str(job), "--json"]) == 0
    out = orjson.loads(capsys.readouterr().out)
    assert out["kind"] == "job" and out["agreement"]["answers"] == 15  # 5 records x 3 workers; declines left out
    # The labeling section counts each worker's own records, not whose answer happens to be latest.
    assert out["timing"]["workers"] == {"ann": 6, "bob": 6, "cy": 6}
    assert main(["stats", str(job)]) == 0
    assert "Fleiss' kappa" in capsys.readouterr().out


def test_stats_on_a_single_worker_job_has_no_agreement(tmp_path, capsys):
    from review_data import VOTES

    build_tuilabel_job(tmp_path)
    journals = sorted((tmp_path / "sentiment" / "tuilabel" / "workers").glob("*/journal.jsonl"))
    assert len(journals) == len(VOTES)
    for extra in journals[1:]:
        extra.unlink()
    assert main(["stats", str(tmp_path / "sentiment"), "--json"]) == 0
    assert "agreement" not in orjson.loads(capsys.readouterr().out)


def test_app_stats_screen_shows_agreement_of_a_multi_worker_job(tmp_path):
    from rich.console import Console

    from tuilabel.core.data.manifest import Manifest
    from tuilabel.core.gt.job import JobFolder
    from tuilabel.core.session import Session
    from tuilabel.ui.app import make_app
    from tuilabel.ui.screens.stats import StatsScreen

    job = build_tuilabel_job(tmp_path)
    spec = JobFolder(job).load_spec()
    from dataclasses import replace

    session = Session(replace(spec, worker="dee"), JobFolder(job), Manifest(spec.input)).open()

    async def go():
        app = make_app(session)
        async with app.run_test(size=(110, 40)) as pilot:
            await pilot.press("t")
            for _ in range(100):
                await pilot.pause(0.05)
                if isinstance(app.screen, StatsScreen) and app.screen.stats is not None:
                    break
            console = Console(width=110, record=True, file=open("/dev/null", "w"))
            console.print(app.screen.query_one("#stats-content").content)
            return console.export_text()

    try:
        shown = asyncio.run(go())
    finally:
        session.close()
    assert "Fleiss' kappa" in shown and "Krippendorff's alpha" in shown
    assert "weakest first" in shown and "ann" in shown and "cy" in shown


def multi_label_gt_folder(tmp_path):
    """build_gt_folder with every worker answer made a multi-select one."""
    job = build_gt_folder(tmp_path)
    for path in (job / "annotations" / "worker-response").rglob("*.json"):
        obj = orjson.loads(path.read_bytes())
        for answer in obj["answers"]:
            label = answer["answerContent"]["crowd-classifier"]["label"]
            answer["answerContent"] = {"crowd-classifier-multi-select": {"labels": [label]}}
        path.write_bytes(orjson.dumps(obj))
    return job


def test_stats_on_a_multi_label_gt_folder_says_why_there_is_no_agreement(tmp_path, capsys):
    job = multi_label_gt_folder(tmp_path)
    assert main(["stats", str(job), "--json"]) == 0
    captured = capsys.readouterr()
    assert "agreement" not in orjson.loads(captured.out) and "single-label" in captured.err


def test_stats_on_worker_responses_without_an_output_manifest(tmp_path, capsys):
    job = build_gt_folder(tmp_path)
    (job / "manifests" / "output" / "output.manifest").unlink()
    assert main(["stats", str(job)]) == 0
    out = capsys.readouterr().out
    assert out.lstrip().startswith("agreement") and "Fleiss' kappa" in out


def test_consolidate_reports_agreement_in_json_and_summary(tmp_path, capsys):
    job = build_gt_folder(tmp_path)
    out = tmp_path / "out.manifest"
    assert main(["consolidate", str(job), "-o", str(out), "--json"]) == 0
    report = orjson.loads(capsys.readouterr().out)
    agreement = report["agreement"]
    assert agreement["answers"] == sum(len(r[1]) for r in RECORDS) and agreement["workers"] == 3
    assert agreement["fleiss_kappa"] is not None and len(agreement["per_worker"]) == 3
    # agreement with the consolidated label is measured against the consolidation just made
    assert all(w["with_consolidated"] is not None for w in agreement["per_worker"])
    assert main(["consolidate", str(job), "-o", str(out)]) == 0
    shown = capsys.readouterr().out
    assert "wrote" in shown and "Fleiss' kappa" in shown and "weakest first" in shown


def test_consolidate_multi_label_has_no_agreement(tmp_path, capsys):
    job = multi_label_gt_folder(tmp_path)
    assert main(["consolidate", str(job), "-o", str(tmp_path / "out.manifest"), "--json"]) == 0
    assert orjson.loads(capsys.readouterr().out)["agreement"] is None


def test_stats_on_a_job_whose_input_is_gone_says_why_and_goes_on(tmp_path, capsys):
    job = build_tuilabel_job(tmp_path)
    (tmp_path / "in.manifest").unlink()
    assert main(["stats", str(job), "--json"]) == 0
    captured = capsys.readouterr()
    out = orjson.loads(captured.out)
    assert out["kind"] == "job" and "agreement" not in out
    assert "no agreement figures" in captured.err and "is gone" in captured.err
