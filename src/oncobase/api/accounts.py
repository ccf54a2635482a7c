"""Accounts, roles, sessions and API tokens of the web service."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, sessionmaker

from oncobase.errors import OncobaseError
from oncobase.store.operational import ApiToken, LoginAttempt, User, WebSession

_HASHER = PasswordHasher()
_DUMMY_HASH = _HASHER.hash("not a password")


class WebError(OncobaseError):
    """An error of the web service (accounts, sessions, pages)."""


class Role(StrEnum):
    ADMIN = "admin"
    DATA_STEWARD = "data_steward"
    REGISTRY_ANALYST = "registry_analyst"
    RESEARCHER = "researcher"
    CLINICIAN = "clinician"
    PATIENT = "patient"


# What each capability needs.
CLINICAL_ROLES = frozenset({Role.CLINICIAN})
QUALITY_ROLES = frozenset({Role.ADMIN, Role.DATA_STEWARD, Role.REGISTRY_ANALYST})
COHORT_ROLES = frozenset(
    {Role.ADMIN, Role.DATA_STEWARD, Role.REGISTRY_ANALYST, Role.RESEARCHER, Role.CLINICIAN}
)
ADMIN_ROLES = frozenset({Role.ADMIN})
SHARE_ROLES = frozenset({Role.ADMIN, Role.DATA_STEWARD, Role.RESEARCHER})
STEWARD_ROLES = frozenset({Role.ADMIN, Role.DATA_STEWARD})


@dataclass(frozen=True, kw_only=True)
class Principal:
    """Who is asking: a signed-in user, or nobody."""

    user_id: int
    username: str
    role: Role
    person_id: int | None = None


@dataclass(frozen=True, kw_only=True)
class LoginResult:
    principal: Principal | None
    reason: str | None = None  # "invalid", "locked", "rate_limited"


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def parse_role(value: str) -> Role:
    try:
        return Role(value.strip().lower().replace(" ", "_").replace("-", "_"))
    except ValueError:
        raise WebError(
            f"unknown role {value!r}; choose one of {', '.join(r.value for r in Role)}"
        ) from None


def _principal(user: User) -> Principal:
    return Principal(
        user_id=user.user_id, username=user.username, role=Role(user.role), person_id=user.person_id
    )


def _checked_email(email: str | None, role: Role) -> str | None:
    """An account's notification address, checked (None: no address)."""
    if email is None or not email.strip():
        return None
    if role is Role.PATIENT:
        # A patient's contact details are direct identifiers: they stay out of this store.
        raise WebError("a patient account keeps no e-mail address")
    from oncobase.share.notify import mail_address

    address = mail_address(email)
    if address is None:
        raise WebError("the e-mail address is not valid (name@domain.tld)")
    return address


def add_user(
    factory: sessionmaker[Session],
    username: str,
    role: str,
    *,
    password: str | None = None,
    person_id: int | None = None,
    email: str | None = None,
) -> Principal:
    """Create a local account (argon2 hash of the password). ``email``: where notifications
    are sent (staff accounts only)."""
    name = username.strip()
    if not name or len(name) > 100:
        raise WebError("a username has 1 to 100 characters")
    if password is not None and len(password) < 8:
        raise WebError("a password has at least 8 characters")
    the_role = parse_role(role)
    if the_role is Role.PATIENT and person_id is None:
        raise WebError("a patient account needs the person_id of its record")
    address = _checked_email(email, the_role)
    with factory.begin() as session:
        if session.scalar(select(User).where(User.username == name)) is not None:
            raise WebError(f"user {name!r} already exists")
        user = User(
            username=name,
            role=the_role.value,
            password_hash=_HASHER.hash(password) if password else None,
            person_id=person_id,
            email=address,
            disabled=False,
            failed_logins=0,
            created_at=_now(),
        )
        session.add(user)
        session.flush()
        return _principal(user)


def list_users(factory: sessionmaker[Session]) -> list[User]:
    with factory() as session:
        return list(session.scalars(select(User).order_by(User.username)))


def set_email(factory: sessionmaker[Session], username: str, email: str | None) -> None:
    """Set (or, with None or "", remove) the notification address of an account."""
    with factory.begin() as session:
        user = session.scalar(select(User).where(User.username == username))
        if user is None:
            raise WebError(f"no user {username!r}")
        user.email = _checked_email(email, Role(user.role))


def disable_user(factory: sessionmaker[Session], username: str) -> None:
    """Disable an account and end its sessions and tokens."""
    with factory.begin() as session:
        user = session.scalar(select(User).where(User.username == username))
        if user is None:
            raise WebError(f"no user {username!r}")
        user.disabled = True
        session.execute(delete(WebSession).where(WebSession.user_id == user.user_id))
        for token in session.scalars(select(ApiToken).where(ApiToken.user_id == user.user_id)):
            token.revoked = True


def authenticate(
    factory: sessionmaker[Session],
    username: str,
    password: str,
    *,
    client: str,
    max_failures: int,
    lockout: timedelta,
    rate_per_minute: int,
) -> LoginResult:
    """Check a password, with a per-client rate limit and a per-account lockout."""
    now = _now()
    with factory.begin() as session:
        session.execute(delete(LoginAttempt).where(LoginAttempt.at < now - timedelta(minutes=1)))
        recent = session.scalar(
            select(func.count()).select_from(LoginAttempt).where(LoginAttempt.client == client)
        )
        session.add(LoginAttempt(client=client[:100], at=now))
        if (recent or 0) >= rate_per_minute:
            return LoginResult(principal=None, reason="rate_limited")
        user = session.scalar(select(User).where(User.username == username.strip()))
        if user is None or user.disabled or user.password_hash is None:
            _verify(_DUMMY_HASH, password)  # same time whether the account exists or not
            return LoginResult(principal=None, reason="invalid")
        if user.locked_until is not None and user.locked_until > now:
            return LoginResult(principal=None, reason="locked")
        if not _verify(user.password_hash, password):
            user.failed_logins += 1
            if user.failed_logins >= max_failures:
                user.locked_until = now + lockout
                user.failed_logins = 0
                return LoginResult(principal=None, reason="locked")
            return LoginResult(principal=None, reason="invalid")
        user.failed_logins = 0
        user.locked_until = None
        if _HASHER.check_needs_rehash(user.password_hash):
            user.password_hash = _HASHER.hash(password)
        return LoginResult(principal=_principal(user))


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _HASHER.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def find_or_create_oidc_user(
    factory: sessionmaker[Session], *, subject: str, username: str, default_role: str
) -> Principal | None:
    """The account of an OpenID Connect subject (created with the default role on first use)."""
    with factory.begin() as session:
        user = session.scalar(select(User).where(User.oidc_subject == subject))
        if user is None:
            name = username.strip()[:90] or "oidc"
            if session.scalar(select(User).where(User.username == name)) is not None:
                name = f"{name}-{secrets.token_hex(3)}"
            user = User(
                username=name,
                role=parse_role(default_role).value,
                oidc_subject=subject,
                disabled=False,
                failed_logins=0,
                created_at=_now(),
            )
            session.add(user)
            session.flush()
        return None if user.disabled else _principal(user)


def create_session(factory: sessionmaker[Session], principal: Principal, *, hours: float) -> str:
    """A new random session id (only its hash is stored)."""
    token = secrets.token_urlsafe(32)
    now = _now()
    with factory.begin() as session:
        session.execute(delete(WebSession).where(WebSession.expires_at < now))
        session.add(
            WebSession(
                session_hash=_sha256(token),
                user_id=principal.user_id,
                created_at=now,
                expires_at=now + timedelta(hours=hours),
            )
        )
    return token


def resolve_session(factory: sessionmaker[Session], token: str) -> Principal | None:
    with factory() as session:
        row = session.get(WebSession, _sha256(token))
        if row is None or row.expires_at < _now():
            return None
        user = session.get(User, row.user_id)
        return None if user is None or user.disabled else _principal(user)


def end_session(factory: sessionmaker[Session], token: str) -> None:
    with factory.begin() as session:
        session.execute(delete(WebSession).where(WebSession.session_hash == _sha256(token)))


def create_api_token(factory: sessionmaker[Session], username: str, *, label: str = "") -> str:
    """A bearer token for scripts (shown once; only its hash is stored)."""
    token = "obt_" + secrets.token_urlsafe(32)
    with factory.begin() as session:
        user = session.scalar(select(User).where(User.username == username))
        if user is None or user.disabled:
            raise WebError(f"no active user {username!r}")
        session.add(
            ApiToken(
                token_hash=_sha256(token),
                user_id=user.user_id,
                label=label[:100],
                created_at=_now(),
                revoked=False,
            )
        )
    return token


def resolve_api_token(factory: sessionmaker[Session], token: str) -> Principal | None:
    with factory() as session:
        row = session.get(ApiToken, _sha256(token))
        if row is None or row.revoked:
            return None
        user = session.get(User, row.user_id)
        return None if user is None or user.disabled else _principal(user)
