"""Run crowd-kit's aggregators on answers saved by bench_consolidate.py. Runs in the bench-only
venv (bench/.work/ckvenv), never in tuilabel's: crowd-kit is the peer, not a dependency.

    ckvenv/bin/python crowdkit_runner.py ANSWERS.npz OUT.npz Method[,Method…]

ANSWERS.npz holds record, worker, label (ints). OUT.npz gets, per method, `<m>_label` and
`<m>_confidence` (max probability) for records 0..max(record), -1 / nan where missing.
Prints one JSON line: per method, the fit time in seconds and the peak RSS so far (MB).
"""

from __future__ import annotations

import json
import sys
import time


def peak_rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    start = time.perf_counter()
    import numpy as np
    import pandas as pd
    from crowdkit import aggregation

    src, dest, methods = sys.argv[1], sys.argv[2], sys.argv[3].split(",")
    data = np.load(src)
    df = pd.DataFrame({"task": data["record"], "worker": data["worker"], "label": data["label"]})
    n = int(data["record"].max()) + 1
    out, report = {}, {"import_and_load_s": time.perf_counter() - start}
    for name in methods:
        model = getattr(aggregation, name)()
        t = time.perf_counter()
        proba = model.fit_predict_proba(df)
        report[name] = {"fit_s": time.perf_counter() - t, "peak_rss_mb": peak_rss_mb(),
                        "rounds": len(getattr(model, "loss_history_", []) or [])}
        label = np.full(n, -1)
        conf = np.full(n, np.nan)
        values = proba.to_numpy()
        label[proba.index.to_numpy()] = proba.columns.to_numpy()[values.argmax(axis=1)]
        conf[proba.index.to_numpy()] = values.max(axis=1)
        out[f"{name}_label"], out[f"{name}_confidence"] = label, conf
    np.savez(dest, **out)
    report["total_s"] = time.perf_counter() - start
    print(json.dumps(report))


if __name__ == "__main__":
    main()
