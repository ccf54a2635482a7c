"""OncoBase: an open national cancer data platform."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
