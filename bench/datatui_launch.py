"""Start datatui on a JSONL file the way its README shows (its 0.0.2 CLI passes the cache path
where the examples go, and crashes): `python datatui_launch.py FILE CACHE`."""

import sys

import srsly
from datatui.app import datatui

datatui(list(srsly.read_jsonl(sys.argv[1])), "default", sys.argv[2])
