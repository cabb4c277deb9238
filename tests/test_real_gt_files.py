"""Every real GT file in ../shared/data is read without error, as an input manifest."""

from __future__ import annotations

import orjson

from tuilabel.core.data.manifest import Manifest, iter_records

from engine_helpers import open_session


def _real_files(shared):
    files = sorted((shared / "gt-samples").glob("*.manifest"))
    return files + [shared / "gt-birds" / "output.manifest"]


def test_every_real_file_reads_without_bad_lines(shared_data):
    for path in _real_files(shared_data):
        bad = []
        with Manifest(path) as m:
            records = list(iter_records(m, on_bad=lambda i, o, why: bad.append((i, why))))
            m.build_index()
            lines = m.line_count
        assert not bad, f"{path.name}: {bad[:3]}"
        assert len(records) == lines == len(path.read_bytes().splitlines()), path.name
        for rec in records:
            assert rec.data == orjson.loads(rec.raw)


def test_escaped_and_invisible_keys_survive_a_labeling_pass(tmp_path, shared_data):
    """The automated-setup manifest (U+F025, raw '=') and a GT output used as input keep
    every key and value exactly through our output."""
    for name in ("dataset-20200530T121341.manifest", "image-classification-banana.output.manifest"):
        src = shared_data / "gt-samples" / name
        local = tmp_path / name
        local.write_bytes(src.read_bytes())
        s = open_session(local, task="image-classification", labels=("a", "b"), name="relabel")
        originals = [orjson.loads(x) for x in src.read_bytes().splitlines()[:5]]
        for _ in range(5):
            s.answer(1)
        out = [orjson.loads(x) for x in s.folder.output_manifest.read_bytes().splitlines()]
        s.close()
        for before, after in zip(originals, out):
            for key, value in before.items():
                assert after[key] == value
            assert after["relabel"] == 1
        (tmp_path / "relabel").rename(tmp_path / f"done-{name}")


def test_gt_birds_output_as_input_keeps_earlier_job(tmp_path, shared_data):
    """Chaining: labeling a GT output adds our attribute beside GT's (like GT's chained jobs)."""
    local = tmp_path / "birds.manifest"
    local.write_bytes((shared_data / "gt-birds" / "output.manifest").read_bytes())
    s = open_session(local, task="image-classification", labels=("bird", "not-bird"), name="verify")
    s.answer(0)
    obj = orjson.loads(s.folder.output_manifest.read_bytes().splitlines()[0])
    s.close()
    assert "birds-open-images-clone" in obj and "birds-open-images-clone-metadata" in obj
    assert obj["verify"] == 0
