"""Where start-up time goes: a pyinstrument trace from process start to the first frame that
shows MARKER, in a real terminal.

    tmux new-session -x 120 -y 40 \\
        "python bench/trace_start.py '#0' trace.txt -m tuilabel label big.jsonl --labels a,b"
    python bench/trace_start.py 'hello' trace.txt bench/bare_app.py

Runs the module (`-m name args...`) or script the way Python would, with pyinstrument started
before anything else is imported. When the terminal driver is handed a frame containing
MARKER, the profile stops, the text report goes to TRACE_FILE (an .html name gets the
interactive report) and the process exits at once. Needs `pip install pyinstrument` (a bench
tool only, not a dependency of tuilabel).
"""

from __future__ import annotations

import os
import runpy
import sys
import time

T0 = time.perf_counter()

if sys.argv[2].endswith(".prof"):  # cProfile: every call counted, for pstats
    import cProfile

    profiler = cProfile.Profile()
    profiler.enable()
else:
    from pyinstrument import Profiler

    profiler = Profiler(interval=0.0005)
    profiler.start()


def main() -> None:
    marker, out, *rest = sys.argv[1:]
    import textual.drivers.linux_driver as linux_driver

    original = linux_driver.LinuxDriver.write

    def write(self, data: str) -> None:
        original(self, data)
        if marker in data:
            elapsed = time.perf_counter() - T0
            if out.endswith(".prof"):
                profiler.disable()
                profiler.dump_stats(out)
                os._exit(0)
            session = profiler.stop()
            with open(out, "w") as fh:
                if out.endswith(".html"):
                    fh.write(profiler.output_html())
                else:
                    fh.write(f"first frame with {marker!r}: {elapsed:.3f} s after the launcher started\n")
                    fh.write(profiler.output_text(unicode=True, show_all=os.environ.get("TRACE_ALL") == "1"))
            del session
            os._exit(0)

    linux_driver.LinuxDriver.write = write  # type: ignore[method-assign]
    if rest[0] == "-m":
        sys.argv = [rest[1], *rest[2:]]
        runpy.run_module(rest[1], run_name="__main__", alter_sys=True)
    else:
        sys.argv = rest
        runpy.run_path(rest[0], run_name="__main__")


if __name__ == "__main__":
    main()
