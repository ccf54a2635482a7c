"""Top-level verbs (``init``, ``demo``) and the registration of the domain sub-apps."""

from __future__ import annotations

from typing import Annotated

import typer

from oncobase.cli import app
from oncobase.cli import cohorts as cohorts_cli
from oncobase.cli import ingest as ingest_cli
from oncobase.cli import link as link_cli
from oncobase.cli import nlp as nlp_cli
from oncobase.cli import pipeline as pipeline_cli
from oncobase.cli import quality as quality_cli
from oncobase.cli import share as share_cli
from oncobase.cli import stats as stats_cli
from oncobase.cli import store as store_cli
from oncobase.cli import vocab as vocab_cli
from oncobase.cli._output import console
from oncobase.cli.synth import synth_command
from oncobase.cli.web import audit_app, serve_command, users_app
from oncobase.config import get_settings
from oncobase.linkage import ensure_linkage_keys
from oncobase.logging import setup_logging
from oncobase.pipeline import run_pipeline
from oncobase.store import connect, create_store

app.add_typer(store_cli.app, name="store")
app.add_typer(vocab_cli.app, name="vocab")
app.add_typer(pipeline_cli.app, name="pipeline")
app.add_typer(ingest_cli.app, name="ingest")
app.add_typer(link_cli.app, name="link")
app.add_typer(quality_cli.app, name="quality")
app.add_typer(cohorts_cli.app, name="cohorts")
app.add_typer(nlp_cli.app, name="nlp")
app.add_typer(users_app, name="users")
app.add_typer(audit_app, name="audit")
app.command("serve")(serve_command)
app.add_typer(stats_cli.app, name="stats")
app.add_typer(share_cli.app, name="share")
app.command("synth")(synth_command)


@app.callback()
def _setup() -> None:
    setup_logging(get_settings().log_level)


@app.command("init")
def init() -> None:
    """Create the home folder and the clinical store (idempotent).

    The home folder is ONCOBASE_HOME (default ./.oncobase); the store is ONCOBASE_STORE_URL
    (default a DuckDB file in the home). Example: `ONCOBASE_HOME=/data/oncobase oncobase init`
    """
    settings = get_settings()
    home = settings.ensure_home()
    ensure_linkage_keys(settings)
    with connect(settings=settings) as backend:
        result = create_store(backend)
    console.print(f"home:   {home}")
    console.print(
        f"keys:   {home / 'keys'} (vault, pseudonyms, blocking tokens, record "
        "fingerprints; 0600, back them up)"
    )
    console.print(f"store:  {settings.resolved_store_url} ({result.engine})")
    console.print(f"tables: {len(result.created)} created, {len(result.existing)} already there")


@app.command("demo")
def demo(
    serve: Annotated[
        bool, typer.Option("--serve/--no-serve", help="Start the web platform at the end.")
    ] = True,
) -> None:
    """Set up the home folder and store, run every pipeline step, create one account per
    role and serve the web platform on http://127.0.0.1:8000.

    Example: `ONCOBASE_HOME=/tmp/demo oncobase demo` (`--no-serve` to stop after the pipeline)
    """
    settings = get_settings()
    home = settings.ensure_home()
    ensure_linkage_keys(settings)
    console.rule("OncoBase demo")
    console.print(f"home: {home}")
    with connect(settings=settings) as backend:
        created = create_store(backend)
        console.print(
            f"store: {backend.engine}, {len(created.created)} tables created, "
            f"{len(created.existing)} already there"
        )
        report = run_pipeline(backend, settings, console=console)
    pipeline_cli.print_report(report)
    from oncobase.api import WebSettings, create_demo_accounts

    accounts = create_demo_accounts(WebSettings())
    console.rule("accounts (demo only: change or disable them before any real use)")
    for role, username, password in accounts:
        console.print(f"{role:<18} {username:<18} {password}")
    console.rule("done")
    if serve:
        serve_command()
