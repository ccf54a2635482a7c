"""Server-rendered pages (Jinja2, a small hand-written script, Plotly) of OncoBase."""

from __future__ import annotations

from oncobase.web.routes import install_pages

__all__ = ["install_pages"]
