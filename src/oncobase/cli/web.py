"""`oncobase serve`, `oncobase users add|list|disable|token`, `oncobase audit verify|search`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from oncobase.cli._output import OutputFormat, console, print_json

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from oncobase.api.settings import WebSettings

users_app = typer.Typer(help="Accounts of the web service (local accounts, argon2 hashes).")
audit_app = typer.Typer(help="The hash-chained audit log of the web service.")

FormatOption = Annotated[
    OutputFormat, typer.Option("--format", help="table for people, json for scripts")
]


def _factory() -> tuple[WebSettings, sessionmaker[Session]]:
    from oncobase.api.settings import WebSettings
    from oncobase.store.operational import open_operational

    settings = WebSettings()
    return settings, open_operational(settings.resolved_operational_url)


def serve_command(
    host: Annotated[str | None, typer.Option(help="Address (default 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default 8000).")] = None,
    workers: Annotated[int, typer.Option(help="Worker processes.")] = 1,
) -> None:
    """Serve the web platform and its API with uvicorn (http://127.0.0.1:8000 by default).

    Settings: ONCOBASE_WEB_* (operational store, OIDC, population CSV); see docs/web.md.
    """
    import uvicorn

    from oncobase.api.settings import WebSettings

    settings = WebSettings()
    the_host, the_port = host or settings.host, port or settings.port
    console.print(f"OncoBase web on http://{the_host}:{the_port}  (API docs: /docs)")
    uvicorn.run(
        "oncobase.api.app:create_app",
        factory=True,
        host=the_host,
        port=the_port,
        workers=workers,
        proxy_headers=True,
        log_level="info",
    )


@users_app.command("add")
def users_add(
    username: str,
    *,
    role: Annotated[
        str,
        typer.Option(
            help="admin, data_steward, registry_analyst, researcher, clinician or patient"
        ),
    ],
    person_id: Annotated[
        int | None, typer.Option(help="For a patient: the person_id of their record.")
    ] = None,
    password: Annotated[
        str | None,
        typer.Option(
            help="Password (asked when absent; omit with --no-password for OIDC-only).",
        ),
    ] = None,
    no_password: Annotated[bool, typer.Option(help="An account that signs in by OIDC.")] = False,
    email: Annotated[
        str | None,
        typer.Option(help="Where notifications are e-mailed (staff accounts; not patients)."),
    ] = None,
) -> None:
    """Add an account. Example: `oncobase users add alice --role registry_analyst`."""
    from oncobase.api.accounts import add_user

    settings, factory = _factory()
    if password is None and not no_password:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    principal = add_user(
        factory, username, role, password=password, person_id=person_id, email=email
    )
    _audit(settings, factory, "user.add", f"user:{username}", {"role": principal.role.value})
    console.print(f"added {principal.username} ({principal.role.value})")


@users_app.command("list")
def users_list(fmt: FormatOption = OutputFormat.table) -> None:
    """List the accounts (never their password hashes)."""
    from rich.table import Table

    from oncobase.api.accounts import list_users

    _, factory = _factory()
    users = list_users(factory)
    rows = [
        {
            "username": u.username,
            "role": u.role,
            "person_id": u.person_id,
            "disabled": u.disabled,
            "oidc": u.oidc_subject is not None,
            "email": u.email,
            "created_at": u.created_at.isoformat(timespec="seconds"),
        }
        for u in users
    ]
    if fmt is OutputFormat.json:
        print_json(rows)
        return
    view = Table(title="users")
    for column in ("username", "role", "person_id", "disabled", "oidc", "email", "created_at"):
        view.add_column(column)
    for row in rows:
        view.add_row(*["" if v is None else str(v) for v in row.values()])
    console.print(view)


@users_app.command("email")
def users_email(
    username: str,
    address: Annotated[str, typer.Argument(help='The address notifications go to; "" removes it.')],
) -> None:
    """Set where an account's notifications are e-mailed (when ONCOBASE_SMTP_HOST is set).
    Example: `oncobase users email alice alice@registry.example.org`."""
    from oncobase.api.accounts import set_email

    settings, factory = _factory()
    set_email(factory, username, address)
    _audit(settings, factory, "user.email", f"user:{username}", {"email": bool(address)})
    console.print(f"{username}: notifications {'e-mailed' if address else 'in the app only'}")


@users_app.command("disable")
def users_disable(username: str) -> None:
    """Disable an account and end its sessions and API tokens."""
    from oncobase.api.accounts import disable_user

    settings, factory = _factory()
    disable_user(factory, username)
    _audit(settings, factory, "user.disable", f"user:{username}", {})
    console.print(f"disabled {username}")


@users_app.command("token")
def users_token(
    username: str, label: Annotated[str, typer.Option(help="What the token is for.")] = ""
) -> None:
    """Create an API token for a user (printed once; send it as `Authorization: Bearer …`)."""
    from oncobase.api.accounts import create_api_token

    settings, factory = _factory()
    token = create_api_token(factory, username, label=label)
    _audit(settings, factory, "token.create", f"user:{username}", {"label": label})
    typer.echo(token)


def _audit(
    settings: WebSettings,
    factory: sessionmaker[Session],
    action: str,
    target: str,
    detail: dict[str, object],
) -> None:
    import getpass

    from oncobase.store.audit import append_audit

    append_audit(
        factory,
        settings.audit_key(),
        actor=f"cli:{getpass.getuser()}",
        role="admin",
        action=action,
        target=target,
        detail=detail,
    )


@audit_app.command("verify")
def audit_verify(fmt: FormatOption = OutputFormat.table) -> None:
    """Walk the hash chain; exit code 1 when an entry was edited, inserted or removed."""
    from oncobase.store.audit import verify_audit

    settings, factory = _factory()
    result = verify_audit(factory, settings.audit_key())
    if fmt is OutputFormat.json:
        print_json({"ok": result.ok, "entries": result.entries, "problem": result.problem})
    elif result.ok:
        console.print(f"audit log intact: {result.entries} entries")
    else:
        console.print(f"[bold red]audit log broken:[/] {result.problem}")
    if not result.ok:
        raise typer.Exit(1)


@audit_app.command("search")
def audit_search(
    actor: Annotated[str | None, typer.Option(help="User name.")] = None,
    action: Annotated[str | None, typer.Option(help="e.g. record.read, login, user.add")] = None,
    target: Annotated[str | None, typer.Option(help="Substring, e.g. person:42")] = None,
    limit: Annotated[int, typer.Option(help="Most entries shown.")] = 50,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Search the audit log, newest first."""
    from rich.table import Table

    from oncobase.store.audit import search_audit

    _, factory = _factory()
    entries = search_audit(factory, actor=actor, action=action, target=target, limit=limit)
    rows = [
        {
            "seq": e.seq,
            "at": e.at.isoformat(timespec="seconds"),
            "actor": e.actor,
            "role": e.role,
            "action": e.action,
            "target": e.target,
            "detail": e.detail,
        }
        for e in entries
    ]
    if fmt is OutputFormat.json:
        print_json(rows)
        return
    view = Table(title="audit")
    for column in ("seq", "at", "actor", "role", "action", "target", "detail"):
        view.add_column(column)
    for row in rows:
        view.add_row(*[str(v) for v in row.values()])
    console.print(view)
