from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from oncobase.nlp import extract_report
from oncobase.nlp._eds import get_pipeline


@pytest.fixture(scope="session")
def extract() -> Callable[[str], dict[str, Any]]:
    """``extract_report`` with the pipeline built once for the session."""
    get_pipeline()
    return extract_report
