"""JSON API of the data catalogue (DCAT-AP JSON-LD)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/api/v1", tags=["catalogue"])
