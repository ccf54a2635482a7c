"""Notifications: in-app rows always; e-mails through a real SMTP server (aiosmtpd on
127.0.0.1) when one is configured; a dead mail server loses nothing."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker
from tests._server import free_port
from tests.share._workflow import DRAFT, notifications_of, smtp_sink

from oncobase.api.accounts import add_user, disable_user
from oncobase.config import load_settings
from oncobase.share import requests as wf
from oncobase.share.notify import (
    SmtpConfig,
    list_notifications,
    mail_address,
    mark_read,
    notify,
    steward_usernames,
    unread_count,
)
from oncobase.store.operational import open_operational


@pytest.fixture
def factory(tmp_path: Path) -> sessionmaker[Session]:
    return open_operational(f"sqlite:///{tmp_path / 'operational.sqlite3'}")


def test_settings_give_the_smtp_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    assert SmtpConfig.from_settings(load_settings()) is None
    monkeypatch.setenv("ONCOBASE_SMTP_HOST", "mail.example.org")
    monkeypatch.setenv("ONCOBASE_SMTP_STARTTLS", "true")
    monkeypatch.setenv("ONCOBASE_SMTP_USER", "bot")
    monkeypatch.setenv("ONCOBASE_SMTP_PASSWORD", "s3cret-pass")
    settings = load_settings()
    config = SmtpConfig.from_settings(settings)
    assert config is not None
    assert (config.host, config.port, config.starttls) == ("mail.example.org", 587, True)
    assert config.sender == "oncobase@mail.example.org" and config.user == "bot"
    assert config.password == "s3cret-pass"
    assert "s3cret-pass" not in repr(settings)  # the password is a secret
    monkeypatch.setenv("ONCOBASE_SMTP_PORT", "2525")
    monkeypatch.setenv("ONCOBASE_SMTP_FROM", "noreply@oncobase.example")
    monkeypatch.setenv("ONCOBASE_SMTP_STARTTLS", "false")
    config = SmtpConfig.from_settings(load_settings())
    assert config is not None and (config.port, config.sender) == (2525, "noreply@oncobase.example")
    assert not config.starttls


def test_mail_addresses_are_usernames_that_are_addresses() -> None:
    assert mail_address("rita@lab.example.org") == "rita@lab.example.org"
    for name in ("demo-researcher", "rita@", "a b@lab.example", "x@localhost"):
        assert mail_address(name) is None, name


def test_in_app_always_and_e_mail_through_a_real_smtp_server(
    factory: sessionmaker[Session],
) -> None:
    with smtp_sink() as sink:
        smtp = SmtpConfig(host="127.0.0.1", port=sink.port, sender="oncobase@test.example")
        rows = notify(
            factory, ["rita@lab.example", "demo-researcher", "rita@lab.example"],
            subject="OncoBase: access request 7 approved", body="Permit 3 until 2027.", smtp=smtp,
        )  # fmt: skip
    assert [r.username for r in rows] == ["rita@lab.example", "demo-researcher"]
    assert [r.emailed for r in rows] == [True, False]  # no address for a plain username
    assert len(sink.mails) == 1
    mail = sink.mails[0]
    assert mail.recipients == ["rita@lab.example"] and mail.sender == "oncobase@test.example"
    assert mail.message["Subject"] == "OncoBase: access request 7 approved"
    assert "Permit 3 until 2027." in mail.message.get_payload()
    stored = notifications_of(factory, "rita@lab.example")
    assert len(stored) == 1 and stored[0].emailed and not stored[0].read


def test_a_dead_mail_server_loses_no_notification(
    factory: sessionmaker[Session], caplog: pytest.LogCaptureFixture
) -> None:
    smtp = SmtpConfig(host="127.0.0.1", port=free_port(), timeout=2)  # nobody listens
    with caplog.at_level(logging.WARNING, logger="oncobase.share.notify"):
        rows = notify(factory, ["rita@lab.example"], subject="s", body="b", smtp=smtp)
    assert len(rows) == 1 and not rows[0].emailed
    assert "not sent" in caplog.text and "rita@lab.example" not in caplog.text


def test_workflow_mails_the_stewards_and_the_team(factory: sessionmaker[Session]) -> None:
    for name, role in (("rita@lab.example", "researcher"), ("tom@lab.example", "researcher"),
                       ("sam@agency.example", "data_steward"), ("ada@agency.example", "admin")):  # fmt: skip
        add_user(factory, name, role)
    rita = wf.Actor(username="rita@lab.example", role="researcher")
    sam = wf.Actor(username="sam@agency.example", role="data_steward")
    with smtp_sink() as sink:
        ctx = wf.ShareContext(factory=factory, audit_key=b"k" * 32,
                              smtp=SmtpConfig(host="127.0.0.1", port=sink.port))  # fmt: skip
        draft = wf.RequestDraft(**{**DRAFT, "variables": ("person.sex",),  # type: ignore[arg-type]
                                   "team": ("tom@lab.example",)})  # fmt: skip
        request = wf.submit_request(ctx, rita, draft)
        wf.request_changes(ctx, sam, request.request_id, comment="Say which stage variable")
    assert [m.message["Subject"] for m in sink.to("sam@agency.example")] == [
        f"OncoBase: access request {request.request_id} to review"
    ]
    assert sink.to("ada@agency.example") == []  # a steward exists: admins are not mailed
    for member in ("rita@lab.example", "tom@lab.example"):
        (mail,) = sink.to(member)
        assert "needs changes" in mail.message["Subject"]
        assert "Say which stage variable" in mail.message.get_payload()


def test_stewards_fall_back_to_admins(factory: sessionmaker[Session]) -> None:
    add_user(factory, "ada", "admin")
    add_user(factory, "sam", "data_steward")
    assert steward_usernames(factory) == ["sam"]
    disable_user(factory, "sam")
    assert steward_usernames(factory) == ["ada"]


def test_list_and_mark_read(factory: sessionmaker[Session]) -> None:
    for i in range(3):
        notify(factory, ["rita"], subject=f"s{i}", body="b")
    notify(factory, ["olaf"], subject="other", body="b")
    rows = list_notifications(factory, "rita")
    assert [r.subject for r in rows] == ["s2", "s1", "s0"]
    assert unread_count(factory, "rita") == 3
    assert mark_read(factory, "rita", [rows[0].notification_id]) == 1
    assert [r.subject for r in list_notifications(factory, "rita", unread_only=True)] == [
        "s1", "s0",
    ]  # fmt: skip
    assert mark_read(factory, "rita") == 2
    assert unread_count(factory, "rita") == 0 and unread_count(factory, "olaf") == 1


def test_an_account_address_is_used_and_checked(factory: sessionmaker[Session]) -> None:
    from oncobase.api.accounts import WebError, set_email

    add_user(factory, "cleo", "clinician", email="Cleo.Martin@clinic.example")
    add_user(factory, "demo-researcher", "researcher")
    with pytest.raises(WebError, match="patient account keeps no e-mail"):
        add_user(factory, "pat", "patient", person_id=4, email="pat@home.example")
    with pytest.raises(WebError, match="not valid"):
        set_email(factory, "demo-researcher", "not an address")
    with smtp_sink() as sink:
        smtp = SmtpConfig(host="127.0.0.1", port=sink.port)
        rows = notify(factory, ["cleo", "demo-researcher"], subject="s", body="b", smtp=smtp)
        assert [r.emailed for r in rows] == [True, False]
        assert [m.recipients for m in sink.mails] == [["Cleo.Martin@clinic.example"]]
        set_email(factory, "cleo", "")  # removed: in-app only again
        again = notify(factory, ["cleo"], subject="s2", body="b", smtp=smtp)
    assert not again[0].emailed and len(sink.mails) == 1
