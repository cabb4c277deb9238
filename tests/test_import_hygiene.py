"""The core never imports Textual or Rich; `tuilabel label` imports them only when it starts the app."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import tuilabel.core


def _modules_after(code: str) -> set[str]:
    out = subprocess.run([sys.executable, "-c", code + "\nimport sys; print(' '.join(sys.modules))"],
                         capture_output=True, text=True, check=True)
    return set(out.stdout.split())


def test_core_modules_import_no_ui():
    names = [m.name for m in pkgutil.walk_packages(tuilabel.core.__path__, "tuilabel.core.")]
    assert "tuilabel.core.session" in names
    for name in names:
        loaded = _modules_after(f"import {name}")
        assert not {"textual", "rich"} & loaded, f"{name} pulls in textual/rich"
        assert "boto3" not in loaded, f"{name} imports boto3 at import time"


def test_cli_parser_imports_no_ui():
    loaded = _modules_after("from tuilabel.cli import build_parser; build_parser()")
    assert not {"textual", "rich", "boto3", "PIL"} & loaded


def test_a_text_job_starts_without_pillow():
    """Pillow is imported when the first image is opened, not at start-up (~9 ms of a text
    job's first paint), and opening an image still sets GT's pixel limit."""
    code = (
        "import sys\n"
        "import tuilabel.commands.label, tuilabel.core.job_setup, tuilabel.ui.app\n"
        "assert 'PIL' not in sys.modules, sorted(m for m in sys.modules if m.startswith('PIL'))\n"
        "from tuilabel.core.preview import open_preview\n"
        "from tuilabel.resources import sample_data_dir\n"
        "image = open_preview((sample_data_dir() / 'fashion' / '001.jpg').read_bytes())\n"
        "from PIL import Image\n"
        "assert Image.MAX_IMAGE_PIXELS == 100_000_000 and image.render(20, 10).width > 0\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
