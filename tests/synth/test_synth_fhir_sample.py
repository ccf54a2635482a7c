"""A sample of 10,000 resources written by the full generator validates against the FHIR
R4-family models (fhir.resources R4B), and every reference resolves inside its hospital."""

from __future__ import annotations

import random
from pathlib import Path

import orjson
import pytest
from tests.synth.test_synth_fhir import references, validate

from oncobase.synth import generate_nation


@pytest.fixture(scope="module")
def nation(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("nation")
    generate_nation(out, patients=500, seed=3)
    return out


def test_a_sample_of_10000_resources_validates(nation: Path) -> None:
    lines = [
        (path.stem, line)
        for path in sorted((nation / "feeds" / "hospitals").glob("*/*.ndjson"))
        for line in path.read_bytes().splitlines()
    ]
    assert len(lines) >= 10_000
    sample = random.Random(2026).sample(lines, 10_000)
    assert len({resource_type for resource_type, _ in sample}) >= 10
    for resource_type, line in sample:
        validate(resource_type, line)


def test_every_reference_resolves_inside_its_hospital(nation: Path) -> None:
    checked = 0
    for hospital in sorted((nation / "feeds" / "hospitals").iterdir()):
        resources = [
            (path.stem, orjson.loads(line))
            for path in hospital.glob("*.ndjson")
            for line in path.read_bytes().splitlines()
        ]
        ids = {f"{rtype}/{r['id']}" for rtype, r in resources}
        for _, resource in resources:
            for ref in references(resource):
                assert ref in ids, f"{hospital.name}: {ref} unresolved"
                checked += 1
    assert checked > 10_000
