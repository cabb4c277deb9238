"""Consolidation: accuracy on GT's own job (gt-birds) and on synthetic crowds with known truth,
and the speed of 1M+ answers, beside crowd-kit (Toloka) on the same answers, in one run.

crowd-kit runs in a bench-only venv (778 MB with pyarrow, transformers, scipy, pandas):
    python3 -m venv bench/.work/ckvenv && bench/.work/ckvenv/bin/pip install crowd-kit
Then, from the repo root with tuilabel's venv active:
    python bench/bench_consolidate.py [--quick]
Prints three tables (copied into bench/RESULTS.md).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
WORK = REPO / "bench" / ".work"
CK_PYTHON = WORK / "ckvenv" / "bin" / "python"
BIRDS = REPO.parent / "shared" / "data" / "gt-birds"
BIRD_LABELS = ["Duck", "Sparrow", "Woodpecker", "Owl", "Parrot", "Turkey", "Falcon", "Swan", "Goose", "Canary"]
OURS = ("gt", "dawid-skene", "one-coin", "majority")
PEERS = ("MajorityVote", "DawidSkene", "OneCoinDawidSkene", "GLAD", "MACE")
REPEATS = 3

sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))
from synthetic_crowd import SCENARIOS, expected_calibration_error, make_crowd  # noqa: E402

from tuilabel.core.gt.consolidation import Answers, consolidate  # noqa: E402
from tuilabel.core.gt.worker_responses import read_worker_responses  # noqa: E402


def crowdkit(record, worker, label, methods, tag: str) -> tuple[dict, dict]:
    """crowd-kit's labels and confidences per record, and its timings, or ({}, {}) without it."""
    if not CK_PYTHON.exists():
        return {}, {}
    src, dest = WORK / f"{tag}-answers.npz", WORK / f"{tag}-crowdkit.npz"
    np.savez(src, record=record, worker=worker, label=label)
    proc = subprocess.run([str(CK_PYTHON), str(REPO / "bench" / "crowdkit_runner.py"), str(src), str(dest), ",".join(methods)],
                          capture_output=True, text=True, check=True)
    out = np.load(dest)
    return {m: (out[f"{m}_label"], out[f"{m}_confidence"]) for m in methods}, json.loads(proc.stdout.splitlines()[-1])


def ece_of(confidence, correct, several) -> float:
    return expected_calibration_error(np.asarray(confidence)[several], np.asarray(correct)[several])


def birds() -> None:
    if not BIRDS.is_dir():
        print(f"gt-birds not found at {BIRDS}; skipped\n")
        return
    problems: list[str] = []
    answers = Answers.from_worker_answers(read_worker_responses(BIRDS, problems), BIRD_LABELS, problems, 302)
    truth_by_id = {d["ImageId"]: d["Label"] for d in json.loads((BIRDS / "true_labels.json").read_text())}
    lines = [json.loads(line) for line in (BIRDS / "output.manifest").read_text().splitlines()]
    truth = np.array([BIRD_LABELS.index(truth_by_id[line["source-ref"].rsplit("/", 1)[1][:-4]]) for line in lines])
    gt_label = np.array([line["birds-open-images-clone"] for line in lines])
    gt_conf = np.array([line["birds-open-images-clone-metadata"]["confidence"] for line in lines])
    several = np.ones(302, dtype=bool)
    rows = [("GT's consolidated output.manifest", (gt_label == truth).sum(), ece_of(gt_conf, gt_label == truth, several), "")]
    for method in OURS:
        start = time.perf_counter()
        r = consolidate(answers, method)
        ms = (time.perf_counter() - start) * 1000
        ok = r.label == truth[r.record]
        rows.append((f"tuilabel --method {method}", ok.sum(), ece_of(r.confidence, ok, several), f"{ms:.1f} ms"))
    peers, timing = crowdkit(answers.record, answers.worker, answers.label, PEERS, "birds")
    for name, (label, conf) in peers.items():
        ok = label == truth
        rows.append((f"crowd-kit {name}", ok.sum(), ece_of(conf, ok, several), f"{timing[name]['fit_s'] * 1000:.0f} ms"))
    single = (answers.label == truth[answers.record]).mean()
    among = sum(truth[i] in set(answers.label[answers.record == i].tolist()) for i in range(302))
    print("gt-birds: 302 images, 10 classes, 1,510 answers from 97 workers (5 per image)")
    print("ECE of the confidence each writes (tuilabel: the output's rounded confidence; crowd-kit: max probability)")
    print(f"{'method':<38} {'right':>7} {'of 302':>7} {'ECE':>6} {'time':>9}")
    for name, right, ece, t in rows:
        print(f"{name:<38} {right:>7} {right / 302:>7.1%} {ece:>6.3f} {t:>9}")
    print(f"a single worker is right {single:.1%} of the time; the truth is among the 5 answers for {among}\n")


def synthetic(quick: bool) -> None:
    n_records, n_workers = (5000, 100) if quick else (20000, 200)
    print(f"synthetic crowds: {n_records:,} records, {n_workers} workers, 10 classes, 3-5 workers per record; "
          "accuracy / ECE (records with 2+ workers)")
    # GLAD and MACE take minutes per scenario here (MACE: 18 s on gt-birds' 1,510 answers).
    peers = ("DawidSkene", "OneCoinDawidSkene", "MajorityVote")
    head = [f"tl {m}" for m in OURS] + [f"ck {p}" for p in peers]
    print(f"{'scenario':<17}" + "".join(f"{h:>21}" for h in head))
    for scenario in SCENARIOS:
        crowd = make_crowd(scenario, n_records, n_workers, seed=11)
        answers = Answers.from_arrays(crowd.record, crowd.worker, crowd.label, [f"w{i}" for i in range(n_workers)], [str(i) for i in range(10)])
        cells = []
        for method in OURS:
            r = consolidate(answers, method)
            ok = r.label == crowd.truth[r.record]
            cells.append(f"{ok.mean():.4f}/{ece_of(r.confidence, ok, r.n_workers > 1):.3f}")
        several = np.bincount(crowd.record, minlength=n_records) > 1
        got, _ = crowdkit(crowd.record, crowd.worker, crowd.label, peers, f"syn-{scenario}")
        for name in peers:
            if name not in got:
                cells.append("n/a")
                continue
            label, conf = got[name]
            ok = label == crowd.truth
            cells.append(f"{ok.mean():.4f}/{ece_of(conf, ok, several):.3f}")
        print(f"{scenario:<17}" + "".join(f"{c:>21}" for c in cells))
    print()


OUR_PROCESS = """
import sys, time, json
t0 = time.perf_counter()
import numpy as np
from tuilabel.core.gt.consolidation import Answers, consolidate
d = np.load(sys.argv[1])
a = Answers.from_arrays(d["record"], d["worker"], d["label"], [f"w{i}" for i in range(int(d["worker"].max()) + 1)], [str(i) for i in range(10)])
t1 = time.perf_counter()
r = consolidate(a, sys.argv[2])
t2 = time.perf_counter()
hwm = [int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:")][0] / 1024
print(json.dumps({"load_s": t1 - t0, "consolidate_s": t2 - t1, "rounds": r.rounds, "peak_rss_mb": hwm}))
"""


def speed(quick: bool) -> None:
    n_records = 60_000 if quick else 300_000
    crowd = make_crowd("mixed", n_records, 2000, seed=5)
    src = WORK / "speed-answers.npz"
    np.savez(src, record=crowd.record, worker=crowd.worker, label=crowd.label)
    print(f"speed: {len(crowd.record):,} answers, {n_records:,} records, 3-5 workers each, 2,000 workers, "
          f"10 classes; whole processes, best of {REPEATS} (load answers from .npz, consolidate)")
    print(f"{'process':<34} {'wall s':>8} {'consolidate s':>14} {'rounds':>7} {'s/round':>8} {'peak RSS MB':>12}")
    results = {}
    for method in ("gt", "dawid-skene", "one-coin", "majority"):
        best = None
        for _ in range(REPEATS):
            start = time.perf_counter()
            proc = subprocess.run([sys.executable, "-c", OUR_PROCESS, str(src), method], capture_output=True, text=True, check=True, cwd=REPO)
            wall = time.perf_counter() - start
            info = json.loads(proc.stdout)
            if best is None or wall < best[0]:
                best = (wall, info)
        results[method] = best
        wall, info = best
        per_round = f"{info['consolidate_s'] / info['rounds']:.3f}" if info["rounds"] else ""
        print(f"{'tuilabel ' + method:<34} {wall:>8.2f} {info['consolidate_s']:>14.2f} {info['rounds']:>7} {per_round:>8} {info['peak_rss_mb']:>12.0f}")
    if CK_PYTHON.exists():
        for name in ("DawidSkene", "OneCoinDawidSkene", "MajorityVote"):
            best = None
            for _ in range(REPEATS):
                start = time.perf_counter()
                proc = subprocess.run([str(CK_PYTHON), str(REPO / "bench" / "crowdkit_runner.py"), str(src), str(WORK / "speed-ck.npz"), name],
                                      capture_output=True, text=True, check=True)
                wall = time.perf_counter() - start
                info = json.loads(proc.stdout.splitlines()[-1])
                if best is None or wall < best[0]:
                    best = (wall, info)
            wall, info = best
            rounds = info[name]["rounds"]
            per_round = f"{info[name]['fit_s'] / rounds:.3f}" if rounds else ""
            print(f"{'crowd-kit ' + name:<34} {wall:>8.2f} {info[name]['fit_s']:>14.2f} {rounds or '':>7} {per_round:>8} {info[name]['peak_rss_mb']:>12.0f}")
            if name == "DawidSkene":
                print(f"{'':<34} crowd-kit DawidSkene / tuilabel gt, whole process: {wall / results['gt'][0]:.1f}x; "
                      f"/ tuilabel dawid-skene: {wall / results['dawid-skene'][0]:.1f}x")
    else:
        print("crowd-kit not installed in bench/.work/ckvenv: peer column skipped")


def main() -> None:
    quick = "--quick" in sys.argv
    WORK.mkdir(parents=True, exist_ok=True)
    print(f"load average {open('/proc/loadavg').read().split()[:3]}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}\n")
    birds()
    synthetic(quick)
    speed(quick)


if __name__ == "__main__":
    main()
