"""The operational store brings a file written by an earlier release up to date (real
SQLite files): added columns appear, empty, and nothing held is lost."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from oncobase.api.accounts import add_user, list_users
from oncobase.store.operational import add_missing_columns, engine_of, open_operational


def test_a_store_without_the_email_column_gets_it_and_keeps_its_accounts(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'operational.sqlite3'}"
    factory = open_operational(url)
    add_user(factory, "ada", "admin", password="correct horse")
    engine = engine_of(factory)
    with engine.begin() as connection:  # the file as the previous release wrote it
        connection.execute(text("ALTER TABLE web__users DROP COLUMN email"))
    assert "email" not in {c["name"] for c in inspect(engine).get_columns("web__users")}
    engine.dispose()

    reopened = open_operational(url)
    (user,) = list_users(reopened)
    assert (user.username, user.role, user.email) == ("ada", "admin", None)
    assert add_missing_columns(engine_of(reopened)) == []  # nothing left to add
    assert user.created_at <= dt.datetime.now()


def test_a_missing_required_column_is_refused_not_invented(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'operational.sqlite3'}"
    engine = engine_of(open_operational(url))
    with engine.begin() as connection:
        connection.execute(text("ALTER TABLE web__users DROP COLUMN created_at"))
    with pytest.raises(RuntimeError, match="lacks the required column created_at"):
        add_missing_columns(engine)
