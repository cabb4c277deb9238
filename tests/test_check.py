"""`tuilabel check` on generated data with every kind of problem planted.

Each category is its own test (the id names it) and prints precision and recall: the check
must find every planted problem (recall 1) and nothing else (precision 1).
"""

from __future__ import annotations

import hashlib
import io
import random
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import orjson
import pytest
from PIL import Image

from tuilabel.core.quality.check import check

REPO = Path(__file__).resolve().parents[1]


# --- planted data -------------------------------------------------------------------------


def _photo(seed: int, size=(320, 240)) -> Image.Image:
    """A distinct picture: smooth random blobs (noise upscaled), like a photo to dHash."""
    rnd = random.Random(seed)
    small = Image.new("RGB", (8, 6))
    small.putdata([tuple(rnd.randrange(256) for _ in range(3)) for _ in range(48)])
    return small.resize(size, Image.Resampling.BICUBIC)


def _jpeg(im: Image.Image, quality: int = 90) -> bytes:
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height (nothing is decoded past the header)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00")) + chunk(b"IEND", b"")


WORDS = [f"w{i}x{random.Random(i).randrange(10**6)}" for i in range(3000)]


def _sentence(seed: int, n: int = 40) -> str:
    rnd = random.Random(seed)
    return " ".join(rnd.choice(WORDS) for _ in range(n))


class Planted:
    """A manifest of images and texts with known problems; `expected[category]` = lines."""

    def __init__(self, root: Path):
        self.root = root
        img = root / "img"
        img.mkdir()
        lines: list[bytes] = []
        self.expected: dict[str, set[int]] = {
            c: set() for c in ("invalid", "missing", "unreadable", "over-limit", "duplicate", "near-duplicate")
        }
        self.dup_groups: list[set[int]] = []
        self.near_groups: list[set[int]] = []

        def add(obj, category: str | None = None) -> int:
            lines.append(obj if isinstance(obj, bytes) else orjson.dumps(obj))
            n = len(lines)
            if category:
                self.expected[category].add(n)
            return n

        def image(name: str, data: bytes, category: str | None = None) -> int:
            (img / name).write_bytes(data)
            return add({"source-ref": f"img/{name}"}, category)

        good: dict[int, int] = {}
        for i in range(30):
            good[i] = image(f"good{i:02d}.jpg", _jpeg(_photo(i)))
        for i in range(3):
            buf = io.BytesIO()
            _photo(100 + i).save(buf, "PNG")
            good[100 + i] = image(f"good{i}.png", buf.getvalue())
        # exact duplicates: same bytes, other names (a pair and a triple)
        d1 = image("copy-of-good03.jpg", (img / "good03.jpg").read_bytes(), "duplicate")
        self.dup_groups.append({good[3], d1})
        d2 = image("copy-of-good07.jpg", (img / "good07.jpg").read_bytes(), "duplicate")
        d3 = image("again-good07.jpg", (img / "good07.jpg").read_bytes(), "duplicate")
        self.dup_groups.append({good[7], d2, d3})
        # near duplicates: re-encoded, resized, brightened
        n1 = image("good05-q40.jpg", _jpeg(_photo(5), quality=40), "near-duplicate")
        self.near_groups.append({good[5], n1})
        n2 = image("good09-small.jpg", _jpeg(_photo(9).resize((200, 150))), "near-duplicate")
        self.near_groups.append({good[9], n2})
        bright = _photo(11).point(lambda v: min(255, v + 12))
        n3 = image("good11-bright.jpg", _jpeg(bright), "near-duplicate")
        self.near_groups.append({good[11], n3})
        # unreadable
        full = _jpeg(_photo(200))
        image("truncated.jpg", full[: len(full) // 2], "unreadable")
        image("garbage.jpg", random.Random(1).randbytes(5000), "unreadable")
        buf = io.BytesIO()
        _photo(201).save(buf, "PNG")
        image("png-named.jpg", buf.getvalue(), "unreadable")
        buf = io.BytesIO()
        _photo(202).save(buf, "GIF")
        image("anim.png", buf.getvalue(), "unreadable")
        # over GT's limits
        image("huge.png", _png_header_only(10_001, 10_001), "over-limit")  # 100.02 MP
        image("bomb.png", _png_header_only(40_000, 40_000), "over-limit")  # Pillow's bomb error
        big = img / "big.jpg"
        with open(big, "wb") as fh:
            fh.write(_jpeg(_photo(203)))
            fh.truncate(41 * 1024 * 1024)  # sparse: instant, 41 MB
        add({"source-ref": "img/big.jpg"}, "over-limit")
        add({"source": "x" * 20_001}, "over-limit")
        add({"source": "y" * 15_000, "a": "a" * 19_000, "b": "b" * 19_000, "c": "c" * 19_000,
             "d": "d" * 19_000, "e": "e" * 19_000}, "over-limit")
        # missing
        add({"source-ref": "img/not-there.jpg"}, "missing")
        add({"source-ref": str(root / "elsewhere" / "gone.png")}, "missing")
        add({"source": "   "}, "missing")
        add({"source-ref": ""}, "missing")
        # invalid (the reader's rules)
        add(b'{"source-ref": "img/good01.jpg"', "invalid")
        add(b"[1, 2]", "invalid")
        add({"id": 3}, "invalid")
        add({"source": "a", "source-ref": "img/good01.jpg"}, "invalid")
        add({"source": 42}, "invalid")
        add(b"", None)  # blank lines are skipped, not reported
        # texts
        texts: dict[int, int] = {}
        for i in range(60):
            texts[i] = add({"source": _sentence(i)})
        t1 = add({"source": "  " + _sentence(2).upper().replace(" ", "   \t ") + "\n"}, "duplicate")
        self.dup_groups.append({texts[2], t1})
        words = _sentence(4).split()
        words[20] = "CHANGED"
        t2 = add({"source": " ".join(words)}, "near-duplicate")
        self.near_groups.append({texts[4], t2})
        words = _sentence(6).split()
        t3 = add({"source": " ".join(words[:-2])}, "near-duplicate")  # two words cut
        self.near_groups.append({texts[6], t3})
        short = add({"source": "Great product, works fine."})
        t4 = add({"source": "great product works fine"}, "near-duplicate")  # punctuation only
        self.near_groups.append({short, t4})
        self.lines = lines
        self.manifest = root / "input.manifest"
        self.manifest.write_bytes(b"\n".join(lines) + b"\n")


@pytest.fixture(scope="module")
def planted(tmp_path_factory) -> Planted:
    return Planted(tmp_path_factory.mktemp("planted"))


@pytest.fixture(scope="module")
def report(planted):
    return check(str(planted.manifest), workers=4)


def _found(report, category: str) -> set[int]:
    if category == "near-duplicate":
        return {line for g in report.near_duplicates for line in g.lines[1:]}
    return {f.line for f in report.findings if f.category == category}


@pytest.mark.parametrize(
    "category", ["invalid", "missing", "unreadable", "over-limit", "duplicate", "near-duplicate"]
)
def test_precision_and_recall(planted, report, category):
    expected = planted.expected[category]
    found = _found(report, category)
    hits = len(found & expected)
    precision = hits / len(found) if found else 1.0
    recall = hits / len(expected) if expected else 1.0
    print(f"\n{category:15s} planted {len(expected):2d} found {len(found):2d} "
          f"precision {precision:.2f} recall {recall:.2f}")
    assert expected, "the fixture must plant this category"
    assert found == expected, (
        f"missed {sorted(expected - found)}, extra {sorted(found - expected)}: "
        + "; ".join(f"{f.line}: {f.reason}" for f in report.findings if f.line in found ^ expected)
    )


def test_groups_are_the_planted_ones(planted, report):
    assert [set(g.lines) for g in report.duplicates] == sorted(planted.dup_groups, key=min)
    assert sorted(map(set, (g.lines for g in report.near_duplicates)), key=min) == sorted(
        planted.near_groups, key=min
    )
    for group in report.duplicates + report.near_duplicates:
        assert group.lines == sorted(group.lines)  # the first line is the one kept


def test_reasons_say_what_is_wrong(planted, report):
    by_ref = {f.ref: f.reason for f in report.findings if f.ref}
    assert "truncated" in by_ref["img/truncated.jpg"]
    assert "PNG data in a .jpg file" in by_ref["img/png-named.jpg"]
    assert "GIF" in by_ref["img/anim.png"]
    assert "megapixels" in by_ref["img/huge.png"]
    assert "decompression bomb" in by_ref["img/bomb.png"]
    assert "40 MB" in by_ref["img/big.jpg"]
    assert "not found" in by_ref["img/not-there.jpg"]
    assert report.counts()["near-duplicate"] == len(planted.expected["near-duplicate"])
    # records = non-blank lines the reader accepts: not the invalid ones, not the two
    # over-long text lines, not the two empty sources
    assert report.records == len(planted.lines) - 1 - len(planted.expected["invalid"]) - 2 - 2


def test_write_clean_keeps_first_of_groups_and_never_touches_input(planted, tmp_path):
    before = hashlib.sha256(planted.manifest.read_bytes()).hexdigest()
    dest = tmp_path / "clean.manifest"
    rep = check(str(planted.manifest), write_clean=str(dest), workers=4)
    assert hashlib.sha256(planted.manifest.read_bytes()).hexdigest() == before
    errors = set().union(*(planted.expected[c] for c in ("invalid", "missing", "unreadable", "over-limit", "duplicate")))
    kept_lines = [n for n in range(1, len(planted.lines) + 1) if n not in errors and planted.lines[n - 1]]
    assert dest.read_bytes() == b"".join(planted.lines[n - 1] + b"\n" for n in kept_lines)
    assert rep.clean_lines == len(kept_lines)
    # The clean manifest lives elsewhere: relative refs must still resolve, so copy it beside the images.
    beside = planted.root / "clean-beside.manifest"
    beside.write_bytes(dest.read_bytes())
    again = check(str(beside), workers=4)
    assert again.errors == again.counts()["mixed"] == 1  # images and texts, planted on purpose
    assert len(again.near_duplicates) == len(planted.near_groups)
    # --drop-near leaves out all but the first of each near group too
    rep = check(str(planted.manifest), write_clean=str(tmp_path / "c2.manifest"), drop_near=True, workers=4)
    assert rep.clean_lines == len(kept_lines) - len(planted.expected["near-duplicate"])


def test_folder_source_checks_what_scan_would_list(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    for i in range(5):
        (folder / f"p{i}.jpg").write_bytes(_jpeg(_photo(300 + i)))
    (folder / "dup.jpg").write_bytes((folder / "p1.jpg").read_bytes())
    data = _jpeg(_photo(310))
    (folder / "cut.jpg").write_bytes(data[:400])
    (folder / "notes.txt").write_text("first line\n\nFirst   LINE\nsecond\n")
    (folder / "ignored.gif").write_bytes(b"GIF89a")
    rep = check(str(folder), write_clean=str(tmp_path / "clean.manifest"))
    assert rep.kind == "folder"
    assert (rep.images, rep.texts) == (7, 3)
    dups = [g for g in rep.duplicates if g.kind == "image"]
    assert len(dups) == 1 and set(dups[0].refs) == {"photos/dup.jpg", "photos/p1.jpg"}
    assert any(g.kind == "text" for g in rep.duplicates)
    assert [f.ref for f in rep.findings if f.category == "unreadable"] == ["photos/cut.jpg"]
    assert not list(tmp_path.glob("dataset-*.manifest"))  # check writes no listing manifest
    clean = (tmp_path / "clean.manifest").read_bytes().splitlines()
    assert len(clean) == 10 - 2 - 1  # minus one image dup, one text dup, one unreadable
    assert orjson.loads(clean[0])["source-ref"].startswith("photos/")  # relative to the clean file


def test_labeled_manifest_balance(tmp_path):
    lines = []
    for name, n in (("cat", 50), ("dog", 5), ("bird", 20)):
        idx = ["cat", "dog", "bird"].index(name)
        for i in range(n):
            lines.append(orjson.dumps({
                "source": f"{name} text number {i} " + _sentence(1000 + len(lines), 8),
                "pets": idx,
                "pets-metadata": {"class-name": name, "confidence": 0.9, "type": "groundtruth/text-classification",
                                  "job-name": "labeling-job/pets", "human-annotated": "yes",
                                  "creation-date": "2024-01-01T00:00:00.000000"},
            }))
    path = tmp_path / "out.manifest"
    path.write_bytes(b"\n".join(lines) + b"\n")
    rep = check(str(path), min_count=10)
    assert rep.errors == 0
    (bal,) = rep.balance
    assert bal.classes == {"cat": 50, "bird": 20, "dog": 5}
    assert bal.ratio == 10.0 and bal.biased and bal.few == ["dog"]
    rep = check(str(path), min_count=5, max_ratio=20)
    assert not rep.balance[0].biased and rep.balance[0].few == []


def test_job_folder_balance_includes_labels_without_answers(tmp_path):
    root = make_job(tmp_path, answers=[0] * 12 + [1] * 3, labels=("Yes", "No", "Maybe"))
    rep = check(str(root), min_count=10)
    assert rep.kind == "job"
    (bal,) = rep.balance
    assert bal.classes == {"Yes": 12, "No": 3, "Maybe": 0}
    assert bal.ratio is None and bal.biased and bal.few == ["No", "Maybe"]


def test_s3_prefix_and_s3_manifest(s3_bucket, tmp_path):
    import boto3

    client = boto3.client("s3")
    a = _jpeg(_photo(400))
    client.put_object(Bucket=s3_bucket, Key="data/a.jpg", Body=a)
    client.put_object(Bucket=s3_bucket, Key="data/b.jpg", Body=_jpeg(_photo(401)))
    client.put_object(Bucket=s3_bucket, Key="data/a-copy.jpg", Body=a)
    client.put_object(Bucket=s3_bucket, Key="data/cut.jpg", Body=a[:300])
    rep = check(f"s3://{s3_bucket}/data", workers=2)
    assert rep.kind == "s3-prefix" and rep.images == 4
    assert {f.category for f in rep.findings} == {"duplicate", "unreadable"}
    assert [f.ref for f in rep.findings if f.category == "unreadable"] == [f"s3://{s3_bucket}/data/cut.jpg"]
    manifest = b"\n".join(
        orjson.dumps({"source-ref": f"s3://{s3_bucket}/data/{k}"}) for k in ("a.jpg", "b.jpg", "gone.jpg")
    ) + b"\n"
    client.put_object(Bucket=s3_bucket, Key="in/x.manifest", Body=manifest)
    rep = check(f"s3://{s3_bucket}/in/x.manifest", workers=2)
    assert [(f.category, f.line) for f in rep.findings] == [("missing", 3)]


def make_job(tmp_path: Path, answers: list, labels=("Yes", "No"), declines: int = 0,
             workers=("alice",), start=None, step_seconds: float = 10.0) -> Path:
    """A tuilabel job folder written with the core's own formats: spec, label file, input
    manifest, one journal per worker (answers dealt round-robin, `step_seconds` apart)."""
    from datetime import datetime, timedelta, timezone

    from tuilabel.core.gt import lines as gt_lines
    from tuilabel.core.gt.job import JobFolder, JobSpec, label_category_file
    from tuilabel.core.store.journal import Entry

    n = len(answers) + declines
    src = tmp_path / "in.manifest"
    src.write_bytes(b"".join(orjson.dumps({"source": _sentence(5000 + i, 12)}) + b"\n" for i in range(n)))
    spec = JobSpec(name="pets", label_attribute="pets", task="text-classification", labels=tuple(labels),
                   input=str(src), output=str(tmp_path), worker=workers[0])
    root = tmp_path / "pets"
    folder = JobFolder(root)
    folder.spec_file.parent.mkdir(parents=True)
    folder.spec_file.write_bytes(spec.to_json())
    folder.label_file.parent.mkdir(parents=True)
    folder.label_file.write_bytes(label_category_file(list(labels)))
    start = start or datetime(2024, 5, 1, 9, 0, tzinfo=timezone.utc)
    records = src.read_bytes().splitlines()
    offsets = [0]
    for line in records:
        offsets.append(offsets[-1] + len(line) + 1)
    journals: dict[str, list[bytes]] = {w: [] for w in workers}
    for i in range(n):
        worker = workers[i % len(workers)]
        shown = start + timedelta(seconds=step_seconds * i)
        done = shown + timedelta(seconds=step_seconds * 0.8)
        rec = orjson.loads(records[i])
        if i < len(answers):
            obj, kind = gt_lines.answer_object(rec, spec, answers[i], done), "a"
        else:
            obj, kind = gt_lines.declined_object(rec, spec, "bad data", done), "d"
        entry = Entry(i, offsets[i], kind, worker, gt_lines.iso_seconds(shown), gt_lines.iso_seconds(done),
                      round(step_seconds * 0.8, 3), obj)
        journals[worker].append(entry.to_line())
    for worker, lines in journals.items():
        path = folder.journal(worker)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"".join(lines))
    folder.output_manifest.parent.mkdir(parents=True, exist_ok=True)
    folder.output_manifest.write_bytes(b"".join(gt_lines.dumps_line(Entry.from_line(l).gt) for ls in journals.values() for l in ls))
    return root


# --- near-duplicate texts that look like real text ----------------------------------------
# Corpora from text_corpora.py: Zipfian word frequencies (frequent word pairs in many texts),
# a 36-word vocabulary (every text shares many pairs with every other) and shared openings
# (texts of one form are 0.3–0.6 alike, just under the threshold). "scatter" plants
# replace one word in twenty here and there: a Jaccard near 0.8 whose differences are spread
# over the text, the case a coarse LSH misses (the earlier 4-row bands found 93 % on zipf).

NEAR_CORPORA = {
    "zipf-scattered": dict(shape="zipf", n=3000, every=10, words=(60, 200), edits=("scatter",)),
    "lowvocab-scattered": dict(shape="lowvocab", n=3000, every=10, words=(60, 200), edits=("scatter",)),
    "zipf": dict(shape="zipf", n=3000, every=10),
    "lowvocab": dict(shape="lowvocab", n=3000, every=10),
    "boilerplate": dict(shape="boilerplate", n=3000, every=10),
}


def _near_check(tmp_path, corpus, threshold: float = 0.8):
    path = tmp_path / "texts.manifest"
    path.write_bytes(b"".join(orjson.dumps({"source": t}) + b"\n" for t in corpus.texts))
    rep = check(str(path), text_similarity=threshold)
    return [[line - 1 for line in g.lines] for g in rep.near_duplicates]


@pytest.mark.parametrize(
    "name, threshold", [(name, 0.8) for name in NEAR_CORPORA] + [("zipf", 0.6), ("lowvocab", 0.9)]
)
def test_near_duplicate_texts_recall(tmp_path, name, threshold):
    from text_corpora import make_corpus

    corpus = make_corpus(**NEAR_CORPORA[name])
    where = {m: n for n, g in enumerate(_near_check(tmp_path, corpus, threshold)) for m in g}
    truth = corpus.near_pairs(threshold)
    missed = [(a, b) for a, b in truth if a not in where or where[a] != where.get(b)]
    recall = 1 - len(missed) / len(truth)
    print(f"\n{name} at {threshold}: {len(truth) - len(missed)}/{len(truth)} planted pairs found ({recall:.3f})")
    assert len(truth) > 150, "the corpus must plant enough pairs at or above the threshold"
    # lsh_plan catches a pair exactly at the threshold with probability 0.98, higher above it.
    assert recall >= 0.98, f"missed {missed[:10]}"


@pytest.mark.parametrize("name", ["zipf", "lowvocab", "boilerplate"])
def test_near_duplicate_texts_precision(tmp_path, name):
    """No false group: within every group, pairs at or above the threshold connect all members;
    a planted edit that falls below it (short texts) is never a group of its own."""
    from text_corpora import bigrams, jaccard, make_corpus

    corpus = make_corpus(**NEAR_CORPORA[name])
    groups = _near_check(tmp_path, corpus)
    assert groups
    for group in groups:
        sets = {m: bigrams(corpus.texts[m]) for m in group}
        reached, todo = {group[0]}, [group[0]]
        while todo:
            a = todo.pop()
            for b in group:
                if b not in reached and jaccard(sets[a], sets[b]) >= 0.8:
                    reached.add(b)
                    todo.append(b)
        assert reached == set(group), f"group {group} is not joined by pairs with Jaccard ≥ 0.8"
    below = [(a, b) for a, b, j in corpus.near if j < 0.8]
    assert below, "the corpus must plant pairs just below the threshold"
    assert not [g for g in groups for a, b in below if sorted(g) == sorted((a, b))]


@pytest.mark.parametrize("threshold", [0.01, 0.05, 0.1, 0.3, 0.5, 0.6, 0.8, 0.9, 0.95, 1.0])
def test_lsh_plan_catches_a_pair_at_the_threshold(threshold):
    from tuilabel.core.quality.near_duplicates import lsh_plan

    bands, rows = lsh_plan(threshold)
    assert bands * rows <= 160
    caught = 1 - (1 - threshold**rows) ** bands
    # 0.98 wherever 160 permutations allow it; below ~0.03 the most that one row per band gives
    assert caught >= 0.98 or (rows, bands) == (1, 160), (bands, rows, caught)


def test_shingle_hashes_are_word_bigrams():
    """The vectorised shingling equals the definition (re's \\w+ words of the folded text,
    bigrams; one word alone; a text without words is itself) on messy Unicode."""
    from text_corpora import bigrams

    from tuilabel.core.quality.near_duplicates import shingle_hashes

    rnd = random.Random(5)
    alphabet = list("abcXYZ  _-.,!é—…ßÅ日本\t\n\x00’0٣ΣσςİK")
    texts = ["".join(rnd.choices(alphabet, k=rnd.randint(1, 40))) for _ in range(5000)]
    texts += ["Great product, works fine.", "great product works fine", "!!!", " !!! ", "one", "ONE."]
    hashes, counts = shingle_hashes(texts)
    sets, start = [], 0
    for count in counts.tolist():
        sets.append(frozenset(hashes[start : start + count].tolist()))
        start += count
    by_definition: dict[frozenset, set] = {}
    by_hash: dict[frozenset, set] = {}
    for text, mine in zip(texts, sets):
        grams = bigrams(text.replace("\x00", " "))
        assert len(mine) == len(grams), repr(text)
        by_definition.setdefault(grams, set()).add(mine)
        by_hash.setdefault(mine, set()).add(grams)
    assert all(len(v) == 1 for v in by_definition.values())  # same bigrams, same hashes
    assert all(len(v) == 1 for v in by_hash.values())  # and the other way round
    assert sets[-6] == sets[-5] and sets[-4] == sets[-3] and sets[-2] == sets[-1]


def test_a_bucket_larger_than_the_pair_limit_is_one_group(tmp_path):
    """1,500 records from one template (one number differs): every LSH bucket holds them all,
    far over BUCKET_PAIR_LIMIT; still one group, and the unrelated texts stay out."""
    from tuilabel.core.quality.near_duplicates import BUCKET_PAIR_LIMIT

    template = "thank you for your order it will ship within two days and you can track it online order"
    texts = [f"{template} {i}" for i in range(1500)] + [_sentence(9000 + i) for i in range(100)]
    assert 1500 > BUCKET_PAIR_LIMIT
    path = tmp_path / "template.manifest"
    path.write_bytes(b"".join(orjson.dumps({"source": t}) + b"\n" for t in texts))
    rep = check(str(path))
    assert [g.lines for g in rep.near_duplicates] == [list(range(1, 1501))]


# --- the command --------------------------------------------------------------------------


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "tuilabel", *args], capture_output=True, text=True, cwd=REPO, timeout=120
    )


def test_cli_exit_status_and_json(planted, tmp_path):
    result = _cli("check", str(planted.manifest), "--json")
    assert result.returncode == 1, result.stderr
    data = orjson.loads(result.stdout)
    assert data["counts"]["invalid"] == len(planted.expected["invalid"])
    assert data["errors"] > 0
    clean = tmp_path / "ok.manifest"
    clean.write_bytes(b'{"source":"one thing"}\n{"source":"another thing entirely"}\n')
    result = _cli("check", str(clean))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no errors" in result.stdout
    result = _cli("check", str(planted.manifest), "--write-clean", str(planted.manifest))
    assert result.returncode == 2
    assert "never modifies its input" in result.stderr and "Traceback" not in result.stderr
    result = _cli("check", str(tmp_path / "absent.manifest"))
    assert result.returncode == 2 and "does not exist" in result.stderr
    result = _cli("check", str(clean), "--image-distance", "40")
    assert result.returncode == 2 and "--image-distance" in result.stderr


def test_cli_report_names_problems(planted):
    result = _cli("check", str(planted.manifest), "--limit", "0")
    assert result.returncode == 1
    out = result.stdout
    for text in ("Summary", "Problems", "Exact duplicates", "Near-duplicates", "img/truncated.jpg", "error(s)"):
        assert text in out, text
