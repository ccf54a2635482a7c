"""`oncobase share requests|permits|extract|optout`: the sharing workflow from the command line.

The command line acts as an administrator named ``cli:<system user>``; every step is audited
like the same step on the web.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from oncobase.cli._output import OutputFormat, console, err_console, print_json

if TYPE_CHECKING:
    from oncobase.share.requests import Actor, ShareContext

app = typer.Typer(help="Access requests, permits, extracts and opt-outs (sharing under control).")

FormatOption = Annotated[
    OutputFormat, typer.Option("--format", help="table for people, json for scripts")
]


def _context() -> tuple[ShareContext, Actor]:
    import getpass

    from oncobase.api.settings import WebSettings
    from oncobase.share.notify import SmtpConfig
    from oncobase.share.requests import Actor, ShareContext
    from oncobase.store.operational import open_operational

    settings = WebSettings()
    ctx = ShareContext(
        factory=open_operational(settings.resolved_operational_url),
        audit_key=settings.audit_key(),
        smtp=SmtpConfig.from_settings(settings.platform()),
    )
    return ctx, Actor(username=f"cli:{getpass.getuser()}", role="admin")


def _table(rows: list[dict[str, object]], title: str, fmt: OutputFormat) -> None:
    if fmt is OutputFormat.json:
        print_json(rows)
        return
    from rich.table import Table

    view = Table(title=title)
    for column in rows[0] if rows else ["(none)"]:
        view.add_column(column)
    for row in rows:
        view.add_row(*["" if v is None else str(v) for v in row.values()])
    console.print(view)


def _fail(exc: Exception) -> typer.Exit:
    err_console.print(f"[bold red]error:[/] {exc}")
    return typer.Exit(1)


@app.command("requests")
def requests_command(
    status: Annotated[
        str | None,
        typer.Option(help="submitted, changes_requested, approved or rejected."),
    ] = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """List the access requests, newest first. Example: `oncobase share requests --status
    submitted`."""
    from oncobase.share.requests import AccessError, list_requests

    ctx, actor = _context()
    try:
        views = list_requests(ctx.factory, actor, status=status)
    except AccessError as exc:
        raise _fail(exc) from None
    rows: list[dict[str, object]] = [
        {
            "request_id": v.request_id,
            "title": v.title,
            "status": v.status,
            "version": v.version,
            "submitted_by": v.submitted_by,
            "cohort": v.cohort,
            "variables": ", ".join(v.variables),
            "updated_at": v.updated_at.isoformat(timespec="seconds"),
            "permit_id": v.permit_id,
        }
        for v in views
    ]
    _table(rows, "access requests", fmt)


@app.command("permits")
def permits_command(fmt: FormatOption = OutputFormat.table) -> None:
    """List the permits with their expiry. Example: `oncobase share permits --format json`."""
    from oncobase.share.requests import list_permits

    ctx, actor = _context()
    rows: list[dict[str, object]] = [
        {
            "permit_id": p.permit_id,
            "request_id": p.request_id,
            "project_id": p.project_id,
            "cohort": p.cohort,
            "variables": ", ".join(p.variables),
            "team": ", ".join(p.team),
            "date_precision": p.date_precision,
            "expires_at": p.expires_at.isoformat(timespec="seconds"),
            "valid": p.is_valid(),
        }
        for p in list_permits(ctx.factory, actor)
    ]
    _table(rows, "permits", fmt)


@app.command("extract")
def extract_command(permit_id: int, fmt: FormatOption = OutputFormat.table) -> None:
    """Build an extract of a valid permit (opt-outs excluded) into
    <home>/share/extracts/<project_id>/. Example: `oncobase share extract 3`."""
    from oncobase.api.settings import WebSettings
    from oncobase.linkage import ensure_pseudonym_key
    from oncobase.share.downloads import build_permit_extract
    from oncobase.share.errors import ShareError
    from oncobase.store import connect

    ctx, actor = _context()
    platform = WebSettings().platform()
    try:
        with connect(WebSettings().resolved_store_url) as backend:
            view = build_permit_extract(
                ctx,
                actor,
                permit_id,
                backend=backend,
                home=platform.home_path,
                pseudonym_key=ensure_pseudonym_key(platform),
            )
    except ShareError as exc:
        raise _fail(exc) from None
    row: dict[str, object] = {
        "extract_id": view.extract_id,
        "permit_id": view.permit_id,
        "persons": view.persons,
        "rows": view.rows,
        "k_min": view.k_min,
    }
    if fmt is OutputFormat.json:
        print_json(row)
    else:
        console.print(
            f"extract {view.extract_id} of permit {permit_id}: {view.persons} persons, "
            f"{view.rows} rows, k-min {view.k_min}"
        )


@app.command("optout")
def optout_command(
    person_id: int,
    withdraw: Annotated[bool, typer.Option(help="Withdraw the person's objection.")] = False,
) -> None:
    """Record (or withdraw) a patient's written objection to research reuse; it applies from
    the next extract or cohort build. Example: `oncobase share optout 1234`."""
    from oncobase.api.settings import WebSettings
    from oncobase.share.errors import ShareError
    from oncobase.share.objections import record_objection, withdraw_objection
    from oncobase.store import connect

    ctx, actor = _context()
    change = withdraw_objection if withdraw else record_objection
    try:
        with connect(WebSettings().resolved_store_url) as backend:
            state = change(ctx, actor, person_id, backend=backend)
    except ShareError as exc:
        raise _fail(exc) from None
    if state.active:
        console.print(f"person {person_id}: objection recorded ({state.channel})")
    else:
        console.print(f"person {person_id}: no objection in force")
