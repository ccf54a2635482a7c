"""One logging set-up for OncoBase.

Log lines carry counts, table names, step names and load ids, never a direct identifier.
As a last line of defence a filter masks anything shaped like a French NIR/INS.
"""

from __future__ import annotations

import logging
import re

from rich.logging import RichHandler

_NIR = re.compile(
    r"\b[12][0-9]{2}(?:0[1-9]|1[0-2]|[2-9][0-9])(?:[0-9]{2}|2[AB])[0-9]{6}(?:[0-9]{2})?\b"
)


class RedactIdentifiers(logging.Filter):
    """Replace anything that looks like a NIR or INS by ``[redacted]``."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = _NIR.sub("[redacted]", message)
        if redacted != message:
            record.msg = redacted
            record.args = None
        return True


def setup_logging(level: str = "INFO") -> None:
    """Configure the ``oncobase`` logger once (idempotent)."""
    logger = logging.getLogger("oncobase")
    logger.setLevel(level)
    if not any(isinstance(h, RichHandler) for h in logger.handlers):
        handler = RichHandler(show_path=False, rich_tracebacks=False, markup=False)
        handler.addFilter(RedactIdentifiers())
        logger.addHandler(handler)
        logger.propagate = False


def get_logger(name: str) -> logging.Logger:
    """Return a child of the ``oncobase`` logger."""
    return logging.getLogger(name if name.startswith("oncobase") else f"oncobase.{name}")
