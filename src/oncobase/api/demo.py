"""One account per role for the demo, with fresh random passwords."""

from __future__ import annotations

import secrets

from sqlalchemy import delete, select

from oncobase.api.accounts import Role, add_user
from oncobase.api.records import sample_person_ids
from oncobase.api.settings import WebSettings
from oncobase.store import connect
from oncobase.store.operational import User, WebSession, open_operational


def create_demo_accounts(settings: WebSettings | None = None) -> list[tuple[str, str, str]]:
    """(role, username, password) for each role; existing demo accounts are recreated.

    The patient account is linked to the first person with a cancer diagnosis in the store
    (a second patient account, ``demo-patient-2``, lets one check that A cannot read B).
    """
    settings = settings or WebSettings()
    factory = open_operational(settings.resolved_operational_url)
    try:
        with connect(settings.resolved_store_url) as backend:
            persons = sample_person_ids(backend, limit=2)
    except Exception:  # a store not built yet: the patient accounts then point nowhere
        persons = []
    persons = persons + [1, 2][len(persons) :]
    wanted: list[tuple[Role, str, int | None]] = [
        (Role.ADMIN, "demo-admin", None),
        (Role.DATA_STEWARD, "demo-steward", None),
        (Role.REGISTRY_ANALYST, "demo-analyst", None),
        (Role.RESEARCHER, "demo-researcher", None),
        (Role.CLINICIAN, "demo-clinician", None),
        (Role.PATIENT, "demo-patient", persons[0]),
        (Role.PATIENT, "demo-patient-2", persons[1]),
    ]
    with factory.begin() as session:
        names = [name for _, name, _ in wanted]
        ids = list(session.scalars(select(User.user_id).where(User.username.in_(names))))
        session.execute(delete(WebSession).where(WebSession.user_id.in_(ids)))
        session.execute(delete(User).where(User.user_id.in_(ids)))
    out: list[tuple[str, str, str]] = []
    for role, name, person_id in wanted:
        password = secrets.token_urlsafe(12)
        add_user(factory, name, role.value, password=password, person_id=person_id)
        out.append((role.value, name, password))
    return out
