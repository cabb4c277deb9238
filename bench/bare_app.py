"""The floor for "first record painted": a bare Textual app that shows one line, started the
way tuilabel is (a Python process, Textual imported, one screen composed and painted).

    python bench/bare_app.py "#0 some record text"
"""

import sys

from textual.app import App, ComposeResult
from textual.widgets import Static


class Bare(App):
    def compose(self) -> ComposeResult:
        yield Static(sys.argv[1] if len(sys.argv) > 1 else "#0")


if __name__ == "__main__":
    Bare().run()
