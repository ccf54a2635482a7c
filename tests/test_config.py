"""Settings from the environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from oncobase.config import Settings, get_settings, load_settings
from oncobase.errors import ConfigError


def test_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("ONCOBASE_HOME", "ONCOBASE_STORE_URL", "ONCOBASE_LOG_LEVEL"):
        monkeypatch.delenv(name, raising=False)
    settings = get_settings(fresh=True)
    assert settings.home_path == tmp_path / ".oncobase"
    assert settings.resolved_store_url == f"duckdb:///{tmp_path / '.oncobase' / 'store.duckdb'}"
    get_settings(fresh=True)


def test_environment_overrides(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ONCOBASE_HOME", str(tmp_path / "h"))
    monkeypatch.setenv("ONCOBASE_STORE_URL", "postgresql://u@db.example:5432/onco")
    monkeypatch.setenv("ONCOBASE_LOG_LEVEL", "debug")
    settings = Settings()
    assert settings.home_path == tmp_path / "h"
    assert settings.resolved_store_url == "postgresql://u@db.example:5432/onco"
    assert settings.log_level == "DEBUG"


@pytest.mark.parametrize("url", ["mysql://x/y", "store.duckdb", "sqlite:///x.db"])
def test_unsupported_store_urls_are_refused(url: str) -> None:
    with pytest.raises(ConfigError, match="must start with duckdb:/// or postgresql://"):
        load_settings(store_url=url)


def test_bad_log_level() -> None:
    with pytest.raises(ConfigError, match="ONCOBASE_LOG_LEVEL"):
        load_settings(log_level="LOUD")


def test_ensure_home_creates_a_private_folder(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "a" / "b")
    path = settings.ensure_home()
    assert path.is_dir()
    assert path.stat().st_mode & 0o777 == 0o700


def test_ensure_home_explains_what_to_do(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ConfigError, match="Set ONCOBASE_HOME"):
        Settings(home=blocker / "home").ensure_home()
