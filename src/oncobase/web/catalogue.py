"""Pages of the data catalogue: browse and search."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
