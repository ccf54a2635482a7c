"""One summary shape for every reader's result (registry, deaths, FHIR)."""

from __future__ import annotations

from typing import Any


def summarise_stage(result: Any) -> dict[str, Any]:
    """Source, read, accepted, ignored, quarantined (total and by reason), staged rows."""
    quarantined = result.quarantined
    if isinstance(quarantined, dict):
        by_reason = dict(quarantined)
        total = sum(by_reason.values())
    else:
        by_reason = dict(result.by_reason)
        total = int(quarantined)
    return {
        "source": result.source,
        "read": int(result.read),
        "accepted": int(result.accepted),
        "ignored": int(getattr(result, "ignored", 0)),
        "quarantined": total,
        "by_reason": by_reason,
        "staged": dict(result.staged),
    }
