"""Browser tests: Debian's chromium (installed with apt when absent) against a real uvicorn."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests._server import serve_in_background
from tests.api._web import build_small_store

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).parent / "artifacts"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip


@pytest.fixture(scope="session")
def chromium_path() -> Path:
    """/usr/bin/chromium, installed with apt-get when missing (CI runs as root)."""
    if not CHROMIUM.exists() and shutil.which("apt-get"):
        subprocess.run(["apt-get", "update"], check=False, capture_output=True, timeout=600)
        subprocess.run(["apt-get", "install", "-y", "chromium"], check=False,
                       capture_output=True, timeout=1200)  # fmt: skip
    if not CHROMIUM.exists():
        pytest.skip("chromium is absent and `apt-get install -y chromium` could not install it")
    return CHROMIUM


@pytest.fixture(scope="session")
def server(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[str, dict[str, tuple[str, str]]]]:
    """uvicorn on a free 127.0.0.1 port, on its own store and operational store."""
    from oncobase.api import WebSettings, create_demo_accounts

    folder = tmp_path_factory.mktemp("e2e")
    store = build_small_store(folder / "store.duckdb")
    settings = WebSettings(home=folder / "web", store_url=f"duckdb:///{store}")
    accounts = {}
    for role, username, password in create_demo_accounts(settings):
        accounts[role if username != "demo-patient-2" else "patient_b"] = (username, password)
    with serve_in_background(server_env(folder, store)) as (base, _process):
        yield base, accounts


def server_env(folder: Path, store: Path) -> dict[str, str]:
    """The environment of a test server: its web home under ``folder``, on ``store``."""
    return {**os.environ, "ONCOBASE_WEB_HOME": str(folder / "web"),
            "ONCOBASE_WEB_STORE_URL": f"duckdb:///{store}", "ONCOBASE_HOME": str(folder / "web")}  # fmt: skip


@pytest.fixture(scope="session")
def browser(chromium_path: Path) -> Iterator[object]:
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="playwright is a dev dependency: `uv sync` installs it"
    )
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(chromium_path), args=ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: object) -> Iterator[object]:
    context = browser.new_context(accept_downloads=True)  # type: ignore[attr-defined]
    tab = context.new_page()
    yield tab
    context.close()


def shot(page: object, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)  # type: ignore[attr-defined]
