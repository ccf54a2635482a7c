"""A small real store (the pipeline on a tiny synthetic nation) and the real app on it."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from tests.api._web import Web, build_small_store

from oncobase.api import WebSettings, create_app, create_demo_accounts


@pytest.fixture(scope="session")
def built_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small real store built with the store's bulk loader (once per session)."""
    return build_small_store(tmp_path_factory.mktemp("store-home") / "store.duckdb")


@pytest.fixture(scope="session")
def web_template(
    tmp_path_factory: pytest.TempPathFactory, built_store: Path
) -> tuple[Path, dict[str, tuple[str, str]]]:
    """An operational store with the demo accounts (argon2 is slow: hashed once)."""
    folder = tmp_path_factory.mktemp("web-template")
    settings = WebSettings(home=folder, store_url=f"duckdb:///{built_store}")
    accounts = {}
    for role, username, password in create_demo_accounts(settings):
        accounts[role if username != "demo-patient-2" else "patient_b"] = (username, password)
    settings.session_key()
    settings.audit_key()
    return folder, accounts


@pytest.fixture
def web(
    tmp_path: Path,
    built_store: Path,
    home: object,
    web_template: tuple[Path, dict[str, tuple[str, str]]],
) -> Iterator[Web]:
    template, accounts = web_template
    shutil.copytree(template, tmp_path / "web-home")
    settings = WebSettings(
        home=tmp_path / "web-home",
        store_url=f"duckdb:///{built_store}",
        login_rate_per_minute=1000,
    )
    app = create_app(settings)
    with TestClient(app):
        yield Web(app=app, settings=settings, accounts=accounts)
