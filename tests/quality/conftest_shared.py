"""Access to ../shared reference files, skipping with a reason when they are absent."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[3] / "shared"


def shared_csv() -> list[dict[str, str]]:
    path = SHARED / "standards" / "omop" / "OMOP_CDMv5.4_Table_Level.csv"
    if not path.exists():
        pytest.skip(f"{path} is absent (the shared reference folder ships beside the repo)")
    with path.open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))
