"""The ``oncobase`` command line: one Typer sub-app per domain (``oncobase <domain> <verb>``)."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="oncobase",
    help=(
        "OncoBase: an open national cancer data platform.\n\n"
        "Start with `oncobase init` (creates the home folder and the clinical store), then "
        "`oncobase pipeline run`, or `oncobase demo` for everything at once."
    ),
    no_args_is_help=True,
    rich_markup_mode="markdown",
    pretty_exceptions_enable=False,
)


def main() -> None:
    """Entry point of the ``oncobase`` console script."""
    from oncobase.cli import _commands  # noqa: F401  (registers the sub-apps)
    from oncobase.cli._output import err_console
    from oncobase.errors import OncobaseError

    try:
        app()
    except OncobaseError as exc:
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False)
        raise SystemExit(exc.exit_code) from None
