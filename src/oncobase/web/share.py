"""Pages of data access: requests, review, permits, extracts, releases, notifications."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
