from __future__ import annotations

import random
import sys
from pathlib import Path

import pyarrow as pa
import pytest

from oncobase.config import Settings, load_settings

sys.path.insert(0, str(Path(__file__).parent))
from identity_gen import generate


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(home=tmp_path / "home")


@pytest.fixture(scope="session")
def noisy_records() -> pa.Table:
    """Records of 3,000 persons with the test generator's own noise model."""
    return generate(3000, seed=11)


def seeded() -> random.Random:
    return random.Random(5)
