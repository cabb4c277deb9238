"""Command palette (ctrl+p): jump to record N, job stats, switch theme, write the output now, help."""

from __future__ import annotations

import re
from functools import partial
from typing import TYPE_CHECKING, Callable, cast

from textual.command import DiscoveryHit, Hit, Hits, Provider

from tuilabel.core.session import State

if TYPE_CHECKING:
    from tuilabel.ui.app import LabelApp

_NUMBER = re.compile(r"^\s*(?:jump|go|goto|record|#)?\s*(?:to\s+)?(?:record\s+)?#?\s*(\d{1,12})\s*$", re.I)


class JobCommands(Provider):
    @property
    def label_app(self) -> LabelApp:
        return cast("LabelApp", self.app)

    def _commands(self) -> list[tuple[str, Callable[[], object], str]]:
        app = self.label_app
        out = [
            ("Jump to record… (type a number)", app.ask_jump, "or type the number here: 'jump 120', '120'"),
            ("Write output.manifest now", app.export_now, "canonical GT output of every answer so far"),
            ("Help: keys", app.action_show_keys_help, "every key of the labeling screen"),
            ("Instructions", app.show_instructions, "full instructions and examples"),
            ("Stats of this job", app.show_stats, "answers per label, declines, pace, workers"),
        ]
        if app.session.state is State.REVIEWING:
            out.insert(1, ("Back to labeling", app.label_screen.action_cancel, "where labeling left off"))
        for name in sorted(app.available_themes):
            if name.startswith("tuilabel-") or name.startswith("textual-"):
                out.append((f"Theme: {name}", partial(setattr, app, "theme", name), "switch the colour theme"))
        return out

    async def discover(self) -> Hits:
        for title, callback, help_text in self._commands():
            yield DiscoveryHit(title, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        number = _NUMBER.match(query)
        if number and int(number.group(1)) > 0:
            n = int(number.group(1))
            yield Hit(1.0, f"Jump to record {n:,}", partial(self.label_app.jump_to, n), help="show it, with its answer if it has one")
        matcher = self.matcher(query)
        for title, callback, help_text in self._commands():
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), callback, help=help_text)
