"""The audit chain: intact after real use, broken by any edit or deletion."""

from __future__ import annotations

from sqlalchemy import text
from tests.api._web import Web
from typer.testing import CliRunner

from oncobase.cli.web import audit_app
from oncobase.store.operational import engine_of


def _use(web: Web) -> None:
    client = web.login(web.client(), "clinician")
    client.get("/api/v1/patients/1/timeline")
    client.get("/api/v1/patients/2/timeline")


def _verify(web: Web) -> dict[str, object]:
    admin = web.login(web.client(), "admin")
    result: dict[str, object] = admin.get("/api/v1/audit/verify").json()
    return result


def test_chain_intact_after_use(web: Web) -> None:
    _use(web)
    result = _verify(web)
    assert result["ok"] is True and int(result["entries"]) >= 4  # type: ignore[call-overload]


def test_editing_an_audit_row_breaks_the_chain(web: Web, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    _use(web)
    engine = engine_of(web.app.state.web.operational)
    with engine.begin() as con:
        con.execute(
            text("UPDATE web__audit SET target = 'person:999' WHERE action = 'record.read'")
        )
    result = _verify(web)
    assert result["ok"] is False and "altered" in str(result["problem"])
    monkeypatch.setenv("ONCOBASE_WEB_HOME", str(web.settings.home))  # type: ignore[attr-defined]
    outcome = CliRunner().invoke(audit_app, ["verify"])
    assert outcome.exit_code == 1 and "broken" in outcome.output


def test_deleting_the_last_rows_breaks_the_chain(web: Web) -> None:
    _use(web)
    engine = engine_of(web.app.state.web.operational)
    with engine.begin() as con:
        last = con.execute(text("SELECT max(seq) FROM web__audit")).scalar_one()
        con.execute(text("DELETE FROM web__audit WHERE seq = :s"), {"s": last})
    result = _verify(web)
    # the verification request itself appends after the gap, or the head no longer matches
    assert result["ok"] is False


def test_cli_verify_passes_on_an_intact_chain(web: Web, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    _use(web)
    monkeypatch.setenv("ONCOBASE_WEB_HOME", str(web.settings.home))  # type: ignore[attr-defined]
    outcome = CliRunner().invoke(audit_app, ["verify", "--format", "json"])
    assert outcome.exit_code == 0, outcome.output
    search = CliRunner().invoke(
        audit_app, ["search", "--action", "record.read", "--format", "json"]
    )
    assert "person:1" in search.output
