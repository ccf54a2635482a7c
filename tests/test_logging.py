"""The logging set-up keeps national identifiers out of log lines."""

from __future__ import annotations

import logging

import pytest
from hypothesis import given
from hypothesis import strategies as st

from oncobase.logging import RedactIdentifiers, get_logger, setup_logging


def _filtered(message: str, *args: object) -> str:
    record = logging.LogRecord("oncobase.t", logging.INFO, __file__, 1, message, args, None)
    RedactIdentifiers().filter(record)
    return record.getMessage()


def test_nir_in_message_or_args_is_redacted() -> None:
    assert _filtered("patient 1 85 05 78 006 084 36") == "patient 1 85 05 78 006 084 36"
    assert _filtered("patient 185057800608436 linked") == "patient [redacted] linked"
    assert _filtered("patient %s linked", "2850578006084") == "patient [redacted] linked"
    assert _filtered("loaded %d rows", 1234567) == "loaded 1234567 rows"


@given(
    sex=st.sampled_from("12"),
    year=st.integers(0, 99),
    month=st.integers(1, 12),
    dept=st.sampled_from(["75", "2A", "2B", "13", "97"]),
    rest=st.integers(0, 999_999),
    key=st.integers(1, 97),
)
def test_any_nir_shape_is_redacted(
    sex: str, year: int, month: int, dept: str, rest: int, key: int
) -> None:
    nir = f"{sex}{year:02d}{month:02d}{dept}{rest:06d}{key:02d}"
    assert nir not in _filtered(f"record {nir} rejected")


def test_setup_is_idempotent(caplog: pytest.LogCaptureFixture) -> None:
    setup_logging("INFO")
    setup_logging("INFO")
    logger = logging.getLogger("oncobase")
    assert sum(type(h).__name__ == "RichHandler" for h in logger.handlers) == 1
    assert get_logger("store").name == "oncobase.store"
