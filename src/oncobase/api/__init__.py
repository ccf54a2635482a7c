"""The web service's API: FastAPI app factory, settings, accounts and audit."""

from __future__ import annotations

from oncobase.api.app import create_app
from oncobase.api.demo import create_demo_accounts
from oncobase.api.settings import WebSettings

__all__ = ["WebSettings", "create_app", "create_demo_accounts"]
