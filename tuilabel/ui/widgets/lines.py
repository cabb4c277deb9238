"""Fixed rows of text drawn through the Line API, and the progress row built on them.

A `Static` turns its content into strips through Textual's visual pipeline on every update;
these widgets hold `rich.text.Text` lines, draw each line once into a cached `Strip`, and
repaint only the lines whose text changed. Their size never depends on their content, so an
update never asks for a layout. Text is shown as given (callers pass data through
`safe_text.one_line`), cut with an ellipsis at the widget's width.
"""

from __future__ import annotations

from rich.style import Style
from rich.text import Text
from textual.geometry import Region
from textual.strip import Strip
from textual.widget import Widget


class TextLines(Widget, can_focus=False):
    """`len(lines)` rows of text. Row `i` is drawn in the widget's style plus the component
    class `line_classes[i]` (if any), which also fills its `margin` cells at either end (CSS
    padding would be drawn in the widget's background, not the row's)."""

    DEFAULT_CSS = """
    TextLines { height: auto; }
    """

    def __init__(self, lines: list[Text | str], line_classes: list[str | None] | None = None,
                 margin: int = 0, **kw) -> None:
        super().__init__(**kw)
        self._texts = [Text(t) if isinstance(t, str) else t for t in lines]
        self._line_classes = line_classes or [None] * len(lines)
        self.margin = margin
        self._strips: list[Strip | None] = [None] * len(lines)
        self._styles: list[Style] | None = None  # per row; component styles walk the ancestors
        self._fitted_width = -1

    def get_content_height(self, container, viewport, width: int) -> int:
        return len(self._texts)

    def line(self, y: int = 0) -> Text:
        return self._texts[y]

    @property
    def plain(self) -> str:
        return "\n".join(t.plain for t in self._texts)

    def set_line(self, y: int, text: Text | str) -> bool:
        """Show `text` on row `y`; repaint that row only if it changed."""
        if isinstance(text, str):
            text = Text(text)
        if text == self._texts[y] and text.style == self._texts[y].style:
            return False
        self._texts[y] = text
        self._strips[y] = None
        if self.is_mounted:
            self.refresh_line(y)
        return True

    def refresh_line(self, y: int) -> None:
        self.refresh(Region(0, y, self.size.width, 1))

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._styles = None
        self._strips = [None] * len(self._texts)

    def _row_styles(self) -> list[Style]:
        if self._styles is None:
            base = self.rich_style
            self._styles = [base if name is None else base + self.get_component_rich_style(name)
                            for name in self._line_classes]
        return self._styles

    def fit_width(self, width: int) -> None:
        """Called before drawing at a new width (the first draw included): rows laid out by
        width are rebuilt here, with `_texts` set directly (this runs while painting)."""

    def render_line(self, y: int) -> Strip:
        width = self.content_size.width
        if width != self._fitted_width:
            self._fitted_width = width
            self.fit_width(width)
        styles = self._row_styles()
        if not 0 <= y < len(self._texts):
            return Strip.blank(width, self.rich_style)
        strip = self._strips[y]
        if strip is None or strip.cell_length != width:
            style = styles[y]
            text = self._texts[y].copy()
            text.end = ""
            room = max(0, width - 2 * self.margin)
            if text.cell_len > room:
                text.truncate(room, overflow="ellipsis")
            segments = Strip(text.render(self.app.console), text.cell_len).apply_style(style)
            if self.margin:
                pad = Strip.blank(self.margin, style)
                segments = Strip.join([pad, segments])
            strip = segments.crop_extend(0, width, style)
            self._strips[y] = strip
        return strip


class TextLine(TextLines):
    """One row of text (status, message, source path). CSS padding is fine here."""

    DEFAULT_CSS = """
    TextLine { height: 1; }
    """

    def __init__(self, text: Text | str = "", **kw) -> None:
        super().__init__([text], **kw)

    @property
    def text(self) -> Text:
        return self._texts[0]

    def update(self, text: Text | str) -> bool:
        return self.set_line(0, text)


BAR_WIDTH = 30
MIN_BAR_WIDTH = 8


class ProgressRow(TextLine):
    """`━━━━━━╸━━━━━━   42% 1,234/5,000 · 812/h · ETA 4:10`: a bar, the percentage and the
    session's numbers on one row (no ProgressBar widget with its own children and timer)."""

    COMPONENT_CLASSES = {"progress--bar", "progress--track", "progress--complete", "progress--stats"}

    DEFAULT_CSS = """
    ProgressRow {
        height: 1;
        padding: 0 1;
        & > .progress--bar { color: $primary; }
        & > .progress--track { color: $surface; }
        & > .progress--complete { color: $success; }
        & > .progress--stats { color: $text-muted; }
    }
    """

    def __init__(self, **kw) -> None:
        super().__init__("", **kw)
        self._shown: tuple | None = None
        self._parts: dict[str, Style] | None = None

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._parts = None
        if self._shown is not None:
            self.show(*self._shown, force=True)

    def _part(self, name: str) -> Style:
        if self._parts is None:
            self._parts = {}
        style = self._parts.get(name)
        if style is None:
            style = self._parts[name] = Style(color=self.get_component_rich_style(name).color)
        return style

    def fit_width(self, width: int) -> None:
        if self._shown is not None:
            self._texts[0], self._strips[0] = self._build(*self._shown, width), None

    def show(self, done: int, total: int | None, stats: str, force: bool = False) -> None:
        """`total` None: still counting (an empty bar and `--%`)."""
        state = (done, total, stats)
        if state == self._shown and not force:
            return
        self._shown = state
        self.update(self._build(done, total, stats, self._fitted_width))

    def _build(self, done: int, total: int | None, stats: str, width: int) -> Text:
        text = Text(no_wrap=True, overflow="ellipsis", end="")
        # The numbers matter more than the bar: a narrow window gets a shorter bar.
        if width < 0:
            width = BAR_WIDTH * 3
        bar_width = max(MIN_BAR_WIDTH, min(BAR_WIDTH, width - 6 - len(stats)))
        if total:
            fraction = max(0.0, min(1.0, done / total))
            halves = round(fraction * bar_width * 2)
            full, half = divmod(halves, 2)
            colour = self._part("progress--complete" if done >= total else "progress--bar")
            text.append("━" * full, colour)
            if half:
                text.append("╸", colour)
            text.append("━" * (bar_width - full - half), self._part("progress--track"))
            text.append(f"{round(fraction * 100)}%".rjust(5))
        else:
            text.append("━" * bar_width, self._part("progress--track"))
            text.append("--%".rjust(5))
        text.append(" " + stats, self._part("progress--stats"))
        return text


class JobHeader(TextLines):
    """The job's title row (on the primary tint) and its short instructions, wrapped to the
    width so they are always read whole (up to `MAX_SHORT_ROWS`; `i` shows everything). A low
    window (`compact`) drops the title row, not the instructions."""

    MAX_SHORT_ROWS = 3
    COMPONENT_CLASSES = {"header--title", "header--short"}

    DEFAULT_CSS = """
    JobHeader {
        height: 2;
        & > .header--title { background: $primary 30%; color: $foreground; }
        & > .header--short { color: $text-muted; }
    }
    """

    def __init__(self, titles: list[Text], short: Text, **kw) -> None:
        """`titles`: the title row, longest first; the first that fits is shown."""
        super().__init__([titles[0], short], ["header--title", "header--short"], margin=1, **kw)
        self.titles, self.short_text = titles, short
        self.compact = False
        self._laid_out: tuple[int, bool] | None = None

    def set_compact(self, compact: bool) -> None:
        if compact != self.compact:
            self.compact = compact
            self._relayout()

    def on_resize(self) -> None:
        self._relayout()

    def _relayout(self) -> None:
        width = self.size.width - 2 * self.margin
        if width <= 0 or self._laid_out == (width, self.compact):
            return
        self._laid_out = (width, self.compact)
        short = list(self.short_text.wrap(self.app.console, width, overflow="fold"))
        if len(short) > self.MAX_SHORT_ROWS:
            short = short[: self.MAX_SHORT_ROWS]
            short[-1].truncate(max(1, width - 2))
            short[-1].append(" …")  # the rest is under `i`
        title = next((t for t in self.titles if t.cell_len <= width), self.titles[-1])
        texts = ([] if self.compact else [title]) + short
        classes = ([] if self.compact else ["header--title"]) + ["header--short"] * len(short)
        self._texts, self._line_classes = texts, classes
        self._strips, self._styles = [None] * len(texts), None
        # A style change, not refresh(layout=True): this runs inside a resize, where a layout
        # request can be absorbed by the one under way.
        self.styles.height = len(texts)
        self.refresh()
