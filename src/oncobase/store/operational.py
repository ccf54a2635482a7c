"""The operational store (SQLAlchemy 2): users, sessions, API tokens, the audit log, and the
sharing workflow (access requests, permits, extracts, release requests, notifications) and the
patients' opt-outs.

Every table of the operational store is declared here, so one ``create_all`` makes them all.
List-valued fields (teams, variables) are JSON text.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from sqlalchemy import (
    Boolean,
    DateTime,
    Engine,
    ForeignKey,
    Integer,
    String,
    Text,
    create_engine,
    event,
    inspect,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "web__users"

    user_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(100), unique=True, index=True)
    role: Mapped[str] = mapped_column(String(30))
    password_hash: Mapped[str | None] = mapped_column(String(200), nullable=True)
    person_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    oidc_subject: Mapped[str | None] = mapped_column(String(300), nullable=True, unique=True)
    email: Mapped[str | None] = mapped_column(String(254), nullable=True)  # notifications
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)


class WebSession(Base):
    __tablename__ = "web__sessions"

    session_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("web__users.user_id"))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    expires_at: Mapped[datetime] = mapped_column(DateTime)


class ApiToken(Base):
    __tablename__ = "web__api_tokens"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("web__users.user_id"))
    label: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)


class AuditEntry(Base):
    __tablename__ = "web__audit"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(DateTime)
    actor: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(30))
    action: Mapped[str] = mapped_column(String(60), index=True)
    target: Mapped[str] = mapped_column(String(200))
    detail: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    entry_hash: Mapped[str] = mapped_column(String(64))


class AuditHead(Base):
    __tablename__ = "web__audit_head"

    name: Mapped[str] = mapped_column(String(10), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer)
    entry_hash: Mapped[str] = mapped_column(String(64))


class LoginAttempt(Base):
    __tablename__ = "web__login_attempts"

    attempt_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    client: Mapped[str] = mapped_column(String(100), index=True)
    at: Mapped[datetime] = mapped_column(DateTime, index=True)


# -- sharing under control (oncobase.share) -------------------------------------------------
class AccessRequest(Base):
    """A researcher's project asking for data; reviewed by a data steward."""

    __tablename__ = "share__requests"

    request_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    title: Mapped[str] = mapped_column(String(200))
    purpose: Mapped[str] = mapped_column(Text)
    public_interest: Mapped[str] = mapped_column(Text)
    legal_basis: Mapped[str] = mapped_column(String(200))
    team: Mapped[str] = mapped_column(Text)  # JSON list of usernames
    cohort: Mapped[str] = mapped_column(String(100))
    variables: Mapped[str] = mapped_column(Text)  # JSON list of oncobase.share.variables names
    date_precision: Mapped[str] = mapped_column(String(10))  # day, month, year, shift
    duration_days: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(30), index=True)
    submitted_by: Mapped[str] = mapped_column(String(100), index=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)


class RequestEvent(Base):
    """One step of a request's review: submitted, changes asked, amended, approved, rejected."""

    __tablename__ = "share__request_events"

    event_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("share__requests.request_id"), index=True)
    at: Mapped[datetime] = mapped_column(DateTime)
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(40))
    comment: Mapped[str] = mapped_column(Text, default="")


class Permit(Base):
    """An approved request: the exact variables, the date precision and an expiry."""

    __tablename__ = "share__permits"

    permit_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("share__requests.request_id"), index=True)
    project_id: Mapped[str] = mapped_column(String(64), unique=True)
    cohort: Mapped[str] = mapped_column(String(100))
    variables: Mapped[str] = mapped_column(Text)  # JSON list
    team: Mapped[str] = mapped_column(Text)  # JSON list of usernames
    date_precision: Mapped[str] = mapped_column(String(10))
    issued_by: Mapped[str] = mapped_column(String(100))
    issued_at: Mapped[datetime] = mapped_column(DateTime)
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)


class ExtractRecord(Base):
    """An extract built from a permit: where its files are and what the k-anonymity report says."""

    __tablename__ = "share__extracts"

    extract_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    permit_id: Mapped[int] = mapped_column(ForeignKey("share__permits.permit_id"), index=True)
    built_at: Mapped[datetime] = mapped_column(DateTime)
    folder: Mapped[str] = mapped_column(Text)
    persons: Mapped[int] = mapped_column(Integer)
    rows: Mapped[int] = mapped_column(Integer)
    k_min: Mapped[int] = mapped_column(Integer)
    report: Mapped[str] = mapped_column(Text)  # JSON k-anonymity report


class ReleaseRequest(Base):
    """A researcher's own aggregate results asking to leave; checked, then a steward decides."""

    __tablename__ = "share__releases"

    release_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    permit_id: Mapped[int] = mapped_column(ForeignKey("share__permits.permit_id"), index=True)
    requested_by: Mapped[str] = mapped_column(String(100))
    at: Mapped[datetime] = mapped_column(DateTime)
    title: Mapped[str] = mapped_column(String(200))
    table_json: Mapped[str] = mapped_column(Text)  # the table after disclosure control
    status: Mapped[str] = mapped_column(String(30), index=True)
    reviewed_by: Mapped[str | None] = mapped_column(String(100), nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    comment: Mapped[str] = mapped_column(Text, default="")


class Notification(Base):
    """An in-app message (always); also e-mailed when SMTP is configured."""

    __tablename__ = "share__notifications"

    notification_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(100), index=True)
    at: Mapped[datetime] = mapped_column(DateTime)
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    read: Mapped[bool] = mapped_column(Boolean, default=False)
    emailed: Mapped[bool] = mapped_column(Boolean, default=False)


class OptOut(Base):
    """A patient's objection to research reuse, applied from the next extract or cohort build."""

    __tablename__ = "share__optouts"

    optout_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    person_id: Mapped[int] = mapped_column(Integer, index=True)
    recorded_at: Mapped[datetime] = mapped_column(DateTime)
    recorded_by: Mapped[str] = mapped_column(String(100))
    channel: Mapped[str] = mapped_column(String(20))  # patient, clinician
    withdrawn_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    effective_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


def open_operational(url: str) -> sessionmaker[Session]:
    """Connect to the operational store, creating its tables when absent."""
    if url.startswith("sqlite:///"):
        path = url.removeprefix("sqlite:///")
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url, connect_args={"check_same_thread": False} if url.startswith("sqlite") else {}
    )
    if url.startswith("sqlite"):
        event.listen(engine, "connect", _sqlite_pragmas)
    Base.metadata.create_all(engine)
    add_missing_columns(engine)
    return sessionmaker(engine, expire_on_commit=False)


def add_missing_columns(engine: Engine) -> list[str]:
    """Bring a store written by an earlier release up to date: add, empty, every nullable
    column declared here that its tables lack (``create_all`` makes missing tables only).
    Additive only: nothing is dropped or retyped. Returns ``table.column`` of what was added."""
    found = inspect(engine)
    added: list[str] = []
    with engine.begin() as connection:
        for table in Base.metadata.sorted_tables:
            present = {c["name"] for c in found.get_columns(table.name)}
            for column in table.columns:
                if column.name in present:
                    continue
                if not column.nullable:
                    raise RuntimeError(
                        f"the operational store's table {table.name} lacks the required column "
                        f"{column.name}; it cannot be added to existing rows"
                    )
                kind = column.type.compile(dialect=engine.dialect)
                connection.execute(
                    text(f'ALTER TABLE {table.name} ADD COLUMN "{column.name}" {kind}')
                )
                added.append(f"{table.name}.{column.name}")
    return added


def _sqlite_pragmas(dbapi_connection: object, _record: object) -> None:
    cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def engine_of(factory: sessionmaker[Session]) -> Engine:
    bind = factory.kw["bind"]
    assert isinstance(bind, Engine)
    return bind
