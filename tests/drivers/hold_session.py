"""Open a Session on a job and hold it (and its lock) until killed.

    python tests/drivers/hold_session.py MANIFEST OUTPUT [--worker W] [--commands]

Prints `ready <pid>` once open. A refused open prints the one-line UserError to stderr and
exits 2, as the CLI does. With --commands it reads stdin instead of sleeping: `answer N`
labels the current record N and prints `committed <index> <N>`; `close` closes the session
(printing each of its messages as `message <text>`) and exits. Every output line is flushed.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from jobkit import open_session  # noqa: E402

from tuilabel.core.errors import UserError  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("manifest", type=Path)
    parser.add_argument("output", type=Path)
    parser.add_argument("--worker", default="w1")
    parser.add_argument("--commands", action="store_true")
    args = parser.parse_args()
    try:
        session = open_session(args.manifest, args.output, worker=args.worker)
    except UserError as exc:
        print(f"hold_session: {exc}", file=sys.stderr)
        return 2
    print(f"ready {os.getpid()}", flush=True)
    try:
        if not args.commands:
            while True:
                time.sleep(60)
        for command in sys.stdin:
            word, *rest = command.split()
            if word == "answer":
                index = session.current.index
                session.answer(int(rest[0]))
                print(f"committed {index} {rest[0]}", flush=True)
            elif word == "close":
                break
    finally:
        session.close()
        for message in session.messages:
            print(f"message {message}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
