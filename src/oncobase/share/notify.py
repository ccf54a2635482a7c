"""Notifications of the sharing workflow: in-app always, e-mail when SMTP is configured.

Each notification is a row of ``share__notifications`` (what the user sees on the
notifications page). When ``ONCOBASE_SMTP_HOST`` is set, the same message is e-mailed, with
:mod:`smtplib`, to the account's address (``web__users.email``, staff accounts) or else to
its username when that is an e-mail address; the row records whether it left. A mail that
cannot be sent is logged (never with its recipients) and the in-app row stays: a
notification is never lost because the mail server is down.

Messages carry request and permit numbers, never a direct identifier.
"""

from __future__ import annotations

import logging
import re
import smtplib
import ssl
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from oncobase.config import Settings
from oncobase.store.operational import Notification, User

log = logging.getLogger(__name__)

_ADDRESS = re.compile(r"^[^@\s<>\"',;]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$")
STEWARD_ROLE = "data_steward"
ADMIN_ROLE = "admin"


@dataclass(frozen=True, kw_only=True)
class SmtpConfig:
    """Where and how to send the e-mails (from the ``ONCOBASE_SMTP_*`` settings)."""

    host: str
    port: int = 25
    sender: str = "oncobase@localhost"
    user: str | None = None
    password: str | None = None
    starttls: bool = False
    timeout: float = 10.0

    @classmethod
    def from_settings(cls, settings: Settings) -> SmtpConfig | None:
        """The SMTP configuration, or None when ``ONCOBASE_SMTP_HOST`` is not set."""
        if not settings.smtp_host:
            return None
        starttls = bool(settings.smtp_starttls)
        return cls(
            host=settings.smtp_host,
            port=settings.smtp_port or (587 if starttls else 25),
            sender=settings.smtp_from or f"oncobase@{settings.smtp_host}",
            user=settings.smtp_user or None,
            password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
            starttls=starttls,
        )


@dataclass(frozen=True, kw_only=True)
class NotificationView:
    notification_id: int
    username: str
    at: datetime
    subject: str
    body: str
    read: bool
    emailed: bool


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


def mail_address(username: str) -> str | None:
    """The e-mail address of an account: its username when that is an address."""
    name = username.strip()
    return name if _ADDRESS.match(name) else None


def _view(row: Notification) -> NotificationView:
    return NotificationView(
        notification_id=row.notification_id,
        username=row.username,
        at=row.at,
        subject=row.subject,
        body=row.body,
        read=row.read,
        emailed=row.emailed,
    )


def notify(
    factory: sessionmaker[Session],
    usernames: Iterable[str],
    *,
    subject: str,
    body: str,
    smtp: SmtpConfig | None = None,
) -> list[NotificationView]:
    """One in-app notification per user (each name once), e-mailed when SMTP is configured."""
    names = list(dict.fromkeys(n for n in usernames if n))
    if not names:
        return []
    now = _now()
    with factory.begin() as session:
        rows = [
            Notification(
                username=name[:100],
                at=now,
                subject=subject[:200],
                body=body,
                read=False,
                emailed=False,
            )
            for name in names
        ]
        session.add_all(rows)
        session.flush()
        ids = {row.username: row.notification_id for row in rows}
    if smtp is not None:
        with factory() as session:  # an account's address, else a username that is one
            accounts = session.execute(
                select(User.username, User.email).where(
                    User.username.in_(names), User.email.is_not(None)
                )
            ).all()
            addresses: dict[str, str] = {str(row[0]): str(row[1]) for row in accounts}
        sent = [
            name
            for name in names
            if _mail_one(
                smtp, addresses.get(name) or mail_address(name), subject=subject, body=body
            )
        ]
        if sent:
            with factory.begin() as session:
                session.execute(
                    update(Notification)
                    .where(Notification.notification_id.in_([ids[n] for n in sent]))
                    .values(emailed=True)
                )
    with factory() as session:
        found = session.scalars(
            select(Notification).where(Notification.notification_id.in_(list(ids.values())))
        )
        return sorted((_view(r) for r in found), key=lambda v: v.notification_id)


def _mail_one(smtp: SmtpConfig, address: str | None, *, subject: str, body: str) -> bool:
    if address is None:
        return False
    try:
        send_mail(smtp, [address], subject=subject, body=body)
    except (OSError, smtplib.SMTPException) as exc:
        # The recipient is not logged: an address can be a direct identifier.
        log.warning("notification e-mail not sent (%s): %s", type(exc).__name__, subject)
        return False
    return True


def send_mail(smtp: SmtpConfig, to: Sequence[str], *, subject: str, body: str) -> None:
    """Send one plain-text e-mail (raises OSError or SMTPException when it cannot)."""
    message = EmailMessage()
    message["From"] = smtp.sender
    message["To"] = ", ".join(to)
    message["Subject"] = subject
    message.set_content(body)
    with smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout) as client:
        if smtp.starttls:
            client.starttls(context=ssl.create_default_context())
        if smtp.user:
            client.login(smtp.user, smtp.password or "")
        client.send_message(message)


def steward_usernames(factory: sessionmaker[Session]) -> list[str]:
    """The active data stewards (the administrators when there is no steward)."""
    with factory() as session:
        rows = list(
            session.execute(
                select(User.username, User.role).where(
                    User.disabled.is_(False), User.role.in_([STEWARD_ROLE, ADMIN_ROLE])
                )
            )
        )
    stewards = sorted(name for name, role in rows if role == STEWARD_ROLE)
    return stewards or sorted(name for name, role in rows if role == ADMIN_ROLE)


def list_notifications(
    factory: sessionmaker[Session], username: str, *, unread_only: bool = False, limit: int = 200
) -> list[NotificationView]:
    """A user's notifications, newest first."""
    query = (
        select(Notification)
        .where(Notification.username == username)
        .order_by(Notification.notification_id.desc())
        .limit(max(1, min(limit, 1000)))
    )
    if unread_only:
        query = query.where(Notification.read.is_(False))
    with factory() as session:
        return [_view(r) for r in session.scalars(query)]


def unread_count(factory: sessionmaker[Session], username: str) -> int:
    return len(list_notifications(factory, username, unread_only=True, limit=1000))


def mark_read(
    factory: sessionmaker[Session], username: str, notification_ids: Sequence[int] | None = None
) -> int:
    """Mark a user's notifications read (all of them when no ids are given); how many."""
    query = update(Notification).where(
        Notification.username == username, Notification.read.is_(False)
    )
    if notification_ids is not None:
        query = query.where(Notification.notification_id.in_(list(notification_ids)))
    with factory.begin() as session:
        result = session.execute(query.values(read=True))
        return int(getattr(result, "rowcount", 0) or 0)
