"""Label a job in a tight loop until killed (or done), printing each committed answer.

    python tests/drivers/label_loop.py MANIFEST OUTPUT SEED [--multi] [--worker W] [--limit N]

After every answer()/decline() returns (the answer is fsynced), prints
`committed <index> <value>` (value: `2`, `0,3` or `d`) and flushes. Mixes in declines,
skips, and every ~20 answers goes back one or two answers and relabels them.
Prints `ready <index>` once the session is open, `done` when the job is finished.
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from jobkit import LABELS, open_session, value_text  # noqa: E402

from tuilabel.core.session import State  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("manifest", type=Path)
    parser.add_argument("output", type=Path)
    parser.add_argument("seed", type=int)
    parser.add_argument("--multi", action="store_true")
    parser.add_argument("--worker", default="w1")
    parser.add_argument("--limit", type=int, default=0, help="stop (and close) after N answers")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    out = sys.stdout
    session = open_session(args.manifest, args.output, multi=args.multi, worker=args.worker)
    out.write(f"ready {session.current.index if session.current else -1}\n")
    out.flush()
    n = 0

    def pick():
        if args.multi:
            return sorted(rng.sample(range(len(LABELS)), rng.randint(1, len(LABELS))))
        return rng.randrange(len(LABELS))

    def commit(value) -> None:
        nonlocal n
        index = session.current.index
        if value is None:
            session.decline()
        else:
            session.answer(value)
        out.write(f"committed {index} {value_text(value)}\n")
        out.flush()
        n += 1

    while session.state is not State.DONE and (not args.limit or n < args.limit):
        roll = rng.random()
        if n and n % 20 == 0 and session.back():
            if rng.random() < 0.3:
                session.back()
            commit(None if rng.random() < 0.1 else pick())
            while session.state is State.REVIEWING:
                session.skip()  # back to labeling (skip == forward while reviewing)
        elif roll < 0.06:
            commit(None)
        elif roll < 0.12:
            session.skip()
        else:
            commit(pick())
    if session.state is State.DONE:
        out.write("done\n")
        out.flush()
    session.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
