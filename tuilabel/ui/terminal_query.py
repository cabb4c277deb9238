"""Ask the terminal what it is and which pictures it draws, in one round trip, before the app starts.

One write sends every question, and DA1 (`CSI c`) last:

    CSI > 0 q                         XTVERSION: name and version, e.g. "XTerm(379)", "kitty(0.26.5)"
    APC G i=31,s=1,v=1,a=q,... ST     kitty graphics query: "OK" if the protocol is spoken
    CSI ? 2 ; 1 S                     XTSMGRAPHICS: the largest sixel image, in pixels
    CSI c                             DA1: attribute 4 = sixel; every terminal answers this one

A terminal answers in order, so when the DA1 reply arrives every other reply it will ever
send has arrived too: a terminal that knows none of the questions costs one round trip, not a
time-out. Only a terminal that does not answer DA1 at all costs `timeout`.

The replies are read from stdin in cbreak mode; this stops working once Textual reads stdin,
hence "before the app starts". Keys typed during the round trip are lost (as with any query).
"""

from __future__ import annotations

import os
import re
import select
import termios
import time
import tty
from dataclasses import dataclass

QUERY = b"\x1b[>0q" b"\x1b_Gi=31,s=1,v=1,a=q,t=d,f=24;AAAA\x1b\\" b"\x1b[?2;1S" b"\x1b[c"

_DA1 = re.compile(rb"\x1b\[\?([0-9;]*)c")
_XTVERSION = re.compile(rb"\x1bP>\|([^\x1b]*)\x1b\\")
_KITTY_REPLY = re.compile(rb"\x1b_Gi=31;([^\x1b]*)\x1b\\")
_SIXEL_GEOMETRY = re.compile(rb"\x1b\[\?2;0;([0-9]+);([0-9]+)S")
_NAME_VERSION = re.compile(r"^\s*([A-Za-z][\w.-]*?)\s*(?:\(|\s)\s*v?([0-9]+(?:\.[0-9]+)*)")


@dataclass(frozen=True)
class TerminalReport:
    """What the terminal said about itself (empty/None/False where it said nothing)."""

    name: str = ""  # lower-case XTVERSION name: "xterm", "kitty", "wezterm", "foot", …
    version: tuple[int, ...] | None = None
    sixel: bool = False  # DA1 attribute 4
    kitty_graphics: bool = False  # answered the kitty graphics query with OK
    sixel_max: tuple[int, int] | None = None  # XTSMGRAPHICS: largest sixel image (w, h) in pixels


def parse_replies(data: bytes) -> TerminalReport | None:
    """The report in a terminal's replies to QUERY; None without the DA1 reply (no answer)."""
    da1 = _DA1.search(data)
    if da1 is None:
        return None
    name, version = "", None
    xtversion = _XTVERSION.search(data)
    if xtversion:
        text = xtversion.group(1).decode("utf-8", "replace")
        match = _NAME_VERSION.match(text)
        if match:
            name, version = match.group(1).lower(), tuple(int(p) for p in match.group(2).split("."))
        else:
            name = text.strip().split(" ")[0].lower()
    kitty = _KITTY_REPLY.search(data)
    geometry = _SIXEL_GEOMETRY.search(data)
    return TerminalReport(
        name=name,
        version=version,
        sixel="4" in da1.group(1).decode().split(";"),
        kitty_graphics=bool(kitty) and kitty.group(1) == b"OK",
        sixel_max=(int(geometry.group(1)), int(geometry.group(2))) if geometry else None,
    )


def ask_terminal(fd_in: int, fd_out: int, timeout: float = 0.5) -> TerminalReport | None:
    """Send QUERY on fd_out and read the replies from fd_in (both the same terminal).

    None when the terminal did not answer DA1 within `timeout` seconds."""
    saved = termios.tcgetattr(fd_in)
    tty.setcbreak(fd_in, termios.TCSANOW)  # bytes as they come, no echo of the replies
    try:
        os.write(fd_out, QUERY)
        data = b""
        deadline = time.monotonic() + timeout
        while not _DA1.search(data):
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd_in], [], [], left)[0]:
                return None
            chunk = os.read(fd_in, 4096)
            if not chunk:
                return None
            data += chunk
        return parse_replies(data)
    finally:
        termios.tcsetattr(fd_in, termios.TCSANOW, saved)
