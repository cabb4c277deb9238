"""One home for the user's folders (core/locations.py), used by settings, themes and data."""

from __future__ import annotations

from pathlib import Path

from tuilabel.core import locations
from tuilabel.core.user_config import load_user_config


def test_xdg_variables_and_defaults(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert locations.config_file() == tmp_path / "cfg" / "tuilabel" / "config.toml"
    assert locations.user_themes_dir() == tmp_path / "cfg" / "tuilabel" / "themes"
    assert locations.data_home() == tmp_path / "data" / "tuilabel"
    for name in ("XDG_CONFIG_HOME", "XDG_DATA_HOME"):
        monkeypatch.setenv(name, "relative/dir")  # invalid per the XDG spec: ignored
    assert locations.config_dir() == tmp_path / "home" / ".config" / "tuilabel"
    assert locations.data_home() == tmp_path / "home" / ".local" / "share" / "tuilabel"


def test_settings_are_read_from_there(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    (tmp_path / "tuilabel").mkdir()
    (tmp_path / "tuilabel" / "config.toml").write_text('graphics = "halfblock"\nworker = "alice"\n')
    config = load_user_config()
    assert (config.graphics, config.worker, config.theme) == ("halfblock", "alice", None)
    from tuilabel.ui.themes import user_themes_dir
    from tuilabel.core.job_setup import s3_stage

    assert user_themes_dir is locations.user_themes_dir and s3_stage is locations.s3_stage
    assert Path(tmp_path / "tuilabel" / "themes") == user_themes_dir()


def test_jobs_in_s3_are_kept_under_the_data_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    expected = tmp_path / "tuilabel" / "s3" / "bucket" / "jobs" / "reviews"
    assert locations.s3_stage("s3://bucket/jobs/reviews/") == expected
    assert locations.s3_stage("s3://bucket/jobs") / "reviews" == expected
    assert locations.s3_stage("s3://bucket/") == tmp_path / "tuilabel" / "s3" / "bucket"
