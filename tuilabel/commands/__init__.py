"""One module per subcommand: `add_parser(subparsers)` and `run(args) -> int`."""

from __future__ import annotations

import os
import sys

from tuilabel.core.errors import UserError


def require_terminal() -> None:
    """Refuse to start the app where nobody can use it. Textual reads keys from stdin and draws
    on stderr; without a terminal there it spins at full CPU (stdin) or draws into a file
    (stderr). stdout may be a pipe: only the closing summary line goes there. Under Textual's
    web driver (`tuilabel serve --web`) the pipes are the browser's terminal."""
    if os.environ.get("TEXTUAL_DRIVER", "").endswith(":WebDriver"):
        return
    for name, stream in (("stdin", sys.stdin), ("stderr", sys.stderr)):
        if stream is None or not stream.isatty():
            raise UserError(
                f"labeling needs a terminal ({name} is not one); for scripts use "
                "`tuilabel export` (answers), `tuilabel check`, `tuilabel stats` or `tuilabel scan`"
            )
