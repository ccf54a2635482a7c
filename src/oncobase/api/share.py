"""JSON API of access requests, permits, extracts, release requests, notifications and opt-outs."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/api/v1", tags=["share"])
