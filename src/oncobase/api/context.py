"""What the web service holds while it runs: settings, stores, keys."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from oncobase.api.accounts import Principal
from oncobase.api.settings import WebSettings
from oncobase.api.store_pool import StorePool
from oncobase.store.audit import append_audit


@dataclass(kw_only=True)
class WebContext:
    settings: WebSettings
    operational: sessionmaker[Session]
    store: StorePool
    session_key: bytes
    audit_key: bytes

    def audit(
        self,
        principal: Principal | None,
        action: str,
        *,
        target: str = "",
        detail: dict[str, object] | None = None,
        actor: str | None = None,
    ) -> None:
        """Append to the audit log on behalf of ``principal`` (or an anonymous ``actor``)."""
        append_audit(
            self.operational,
            self.audit_key,
            actor=principal.username if principal else (actor or "anonymous"),
            role=principal.role.value if principal else "anonymous",
            action=action,
            target=target,
            detail=detail,
        )
