"""Which pictures the terminal gets: the replies real terminals sent to the start-up query,
the mode each leads to, the query itself over a real pty, and the kitty upload's bytes.
(The pictures themselves, in real xterm and kitty, are in test_real_terminals.py.)"""

from __future__ import annotations

import base64
import io
import os
import pty
import re
import threading
import time

import pytest
from PIL import Image

from tuilabel.ui.graphics import choose_mode
from tuilabel.ui.terminal_query import QUERY, TerminalReport, ask_terminal, parse_replies
from tuilabel.ui.widgets.kitty_placement import upload

# Captured from the Debian packages under Xvfb (xterm 379, kitty 0.26.5).
XTERM_VT340 = b"\x1bP>|XTerm(379)\x1b\\\x1b[?63;1;2;4;6;9;15;16;22;28c"
XTERM_PLAIN = b"\x1bP>|XTerm(379)\x1b\\\x1b[?64;1;2;6;9;15;16;17;18;21;22;28c"
KITTY_0_26 = b"\x1bP>|kitty(0.26.5)\x1b\\\x1b_Gi=31;OK\x1b\\\x1b[6;18;9t\x1b[?62;c"
# What the protocols document for other terminals (XTSMGRAPHICS, newer kitty, WezTerm).
FOOT = b"\x1bP>|foot(1.16.2)\x1b\\\x1b[?2;0;1200;900S\x1b[?62;4;22c"
KITTY_0_35 = b"\x1bP>|kitty(0.35.2)\x1b\\\x1b_Gi=31;OK\x1b\\\x1b[?62;52;c"
WEZTERM = b"\x1bP>|WezTerm 20240203-110809-5046fc22\x1b\\\x1b_Gi=31;OK\x1b\\\x1b[?65;4;6;18;22c"
VTE = b"\x1b[?65;1;9c"  # knows no question but DA1


def test_replies_of_real_terminals():
    assert parse_replies(XTERM_VT340) == TerminalReport(name="xterm", version=(379,), sixel=True)
    assert parse_replies(XTERM_PLAIN) == TerminalReport(name="xterm", version=(379,))
    assert parse_replies(KITTY_0_26) == TerminalReport(name="kitty", version=(0, 26, 5), kitty_graphics=True)
    assert parse_replies(FOOT).sixel_max == (1200, 900)
    assert parse_replies(WEZTERM).name == "wezterm"
    assert parse_replies(VTE) == TerminalReport()
    assert parse_replies(b"\x1bP>|XTerm(379)\x1b\\") is None  # no DA1: no answer yet


@pytest.mark.parametrize(
    "replies, auto, kitty",
    [
        (XTERM_VT340, "sixel", "kitty-direct"),
        (XTERM_PLAIN, "halfblock", "kitty-direct"),
        (KITTY_0_26, "kitty-direct", "kitty-direct"),  # placeholders need kitty 0.28
        (KITTY_0_35, "kitty", "kitty"),
        (WEZTERM, "sixel", "kitty-direct"),  # its kitty protocol has no placeholders; sixel works
        (VTE, "halfblock", "kitty-direct"),
        (None, "halfblock", "kitty-direct"),  # no answer at all
    ],
)
def test_mode_for_each_terminal(replies, auto, kitty):
    report = parse_replies(replies) if replies is not None else None
    assert choose_mode("auto", report) == auto
    assert choose_mode("kitty", report) == kitty
    assert choose_mode("sixel", report) == "sixel"
    assert choose_mode("halfblock", report) == "halfblock"


class FakeTerminal:
    """The far end of a real pty, answering the query the way a terminal would."""

    def __init__(self, replies: bytes | None, delay: float = 0.0) -> None:
        self.master, self.slave = pty.openpty()
        self.received = b""
        self.replies, self.delay = replies, delay
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.received.endswith(b"\x1b[c"):
            self.received += os.read(self.master, 4096)
        time.sleep(self.delay)
        if self.replies is not None:
            os.write(self.master, self.replies)

    def close(self) -> None:
        os.close(self.slave)
        os.close(self.master)


def test_query_over_a_pty_reads_every_reply():
    terminal = FakeTerminal(KITTY_0_26, delay=0.05)
    try:
        report = ask_terminal(terminal.slave, terminal.slave, timeout=5)
        assert report == parse_replies(KITTY_0_26)
        assert terminal.received == QUERY
    finally:
        terminal.close()


def test_a_terminal_knowing_only_da1_costs_one_round_trip_not_the_timeout():
    terminal = FakeTerminal(VTE)
    try:
        started = time.monotonic()
        assert ask_terminal(terminal.slave, terminal.slave, timeout=5) == TerminalReport()
        assert time.monotonic() - started < 2.5  # far below the 5 s time-out, even on a busy machine
    finally:
        terminal.close()


def test_a_silent_terminal_gives_up_at_the_timeout():
    terminal = FakeTerminal(None)
    try:
        started = time.monotonic()
        assert ask_terminal(terminal.slave, terminal.slave, timeout=0.3) is None
        assert time.monotonic() - started >= 0.3
    finally:
        terminal.close()


def test_kitty_upload_is_the_png_in_chunks():
    picture = Image.effect_noise((300, 200), 80).convert("RGB")  # noise: PNG far over one chunk
    codes = upload(picture, 7)
    commands = re.findall(r"\x1b_G([^;\x1b]*);?([^\x1b]*)\x1b\\", codes)
    assert len(commands) > 1
    assert commands[0][0] == "a=t,f=100,i=7,q=2,m=1"
    assert [keys for keys, _ in commands[1:]] == ["m=1"] * (len(commands) - 2) + ["m=0"]
    assert all(len(payload) <= 4096 for _, payload in commands)
    png = base64.standard_b64decode("".join(payload for _, payload in commands))
    assert Image.open(io.BytesIO(png)).convert("RGB").tobytes() == picture.tobytes()
