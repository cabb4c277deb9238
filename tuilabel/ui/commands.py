"""Command palette (ctrl+p): jump to record N, job stats, switch theme, write the output now, help."""

from __future__ import annotations

import re
from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider

_NUMBER = re.compile(r"^\s*(?:jump|go|goto|record|#)?\s*(?:to\s+)?(?:record\s+)?#?\s*(\d{1,12})\s*$", re.I)


class JobCommands(Provider):
    def _commands(self) -> list[tuple[str, object, str]]:
        app = self.app
        out = [
            ("Jump to record… (type its number)", None, "e.g. 'jump 120' or just '120'"),
            ("Write output.manifest now", app.export_now, "canonical GT output of every answer so far"),  # type: ignore[attr-defined]
            ("Help: keys", app.action_show_keys_help, "every key of the labeling screen"),  # type: ignore[attr-defined]
            ("Instructions", app.show_instructions, "full instructions and examples"),  # type: ignore[attr-defined]
            ("Stats of this job", app.show_stats, "answers per label, declines, pace, workers"),  # type: ignore[attr-defined]
        ]
        for name in sorted(app.available_themes):
            if name.startswith("tuilabel-") or name.startswith("textual-"):
                out.append((f"Theme: {name}", partial(setattr, app, "theme", name), "switch the colour theme"))
        return out

    async def discover(self) -> Hits:
        for title, callback, help_text in self._commands():
            if callback is not None:
                yield DiscoveryHit(title, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        number = _NUMBER.match(query)
        if number and int(number.group(1)) > 0:
            n = int(number.group(1))
            yield Hit(1.0, f"Jump to record {n:,}", partial(self.app.jump_to, n), help="show it, with its answer if it has one")  # type: ignore[attr-defined]
        matcher = self.matcher(query)
        for title, callback, help_text in self._commands():
            if callback is None:
                continue
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), callback, help=help_text)
