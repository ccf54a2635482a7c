"""Source capture of the synthetic nation: realistic, dependent, and what the feeds hold."""

from __future__ import annotations

import numpy as np
import pyarrow.compute as pc
import pytest

from oncobase.synth._params import (
    HOSPITAL_CAPTURE_BY_AGE,
    PATHOLOGY_CAPTURE_IN_NETWORK,
    PATHOLOGY_CAPTURE_OUT_OF_NETWORK,
    REGISTRY_CAPTURE,
)
from oncobase.synth.capture import OUTSIDE_HOSPITAL, OUTSIDE_LAB, REGISTRY_DEPARTEMENTS
from oncobase.synth.chunk import build_chunk
from oncobase.synth.config import SynthConfig
from oncobase.synth.schema import TruthChunk


@pytest.fixture(scope="module")
def chunk() -> TruthChunk:
    return build_chunk(SynthConfig(patients=30_000, seed=41, chunk_size=30_000), 0)


def _np(chunk: TruthChunk, column: str) -> np.ndarray:
    return np.asarray(chunk.tumours[column].to_numpy(zero_copy_only=False))


def _within(p_hat: float, p: float, n: int) -> bool:
    return abs(p_hat - p) <= 4 * np.sqrt(p * (1 - p) / n)


def _odds_ratio(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """Odds ratio of two 0/1 columns and the standard error of its log."""
    n11, n10 = float(np.sum(a & b)), float(np.sum(a & ~b))
    n01, n00 = float(np.sum(~a & b)), float(np.sum(~a & ~b))
    return n11 * n00 / (n10 * n01), float(np.sqrt(1 / n11 + 1 / n10 + 1 / n01 + 1 / n00))


def test_hospital_capture_is_high_but_incomplete_and_falls_with_age(chunk: TruthChunk) -> None:
    hospital = _np(chunk, "captured_hospital")
    age = _np(chunk, "age_at_diagnosis")
    assert 0.80 < hospital.mean() < 0.95
    young, old = age < HOSPITAL_CAPTURE_BY_AGE[1][0], age >= HOSPITAL_CAPTURE_BY_AGE[2][0]
    assert hospital[old].mean() < hospital[young].mean() - 0.10


def test_pathology_needs_tissue_and_depends_on_the_hospital(chunk: TruthChunk) -> None:
    hospital = _np(chunk, "captured_hospital")
    pathology = _np(chunk, "captured_pathology")
    tissue = _np(chunk, "basis_of_diagnosis") == 7
    assert not pathology[~tissue].any()
    in_net, out_net = tissue & hospital, tissue & ~hospital
    assert _within(pathology[in_net].mean(), PATHOLOGY_CAPTURE_IN_NETWORK, int(in_net.sum()))
    assert _within(pathology[out_net].mean(), PATHOLOGY_CAPTURE_OUT_OF_NETWORK, int(out_net.sum()))
    # positive dependence over all tumours: odds ratio far above 1
    ratio, se = _odds_ratio(hospital, pathology)
    assert np.log(ratio) - 3 * se > np.log(5.0)
    # a tissue diagnosis is rarer at 80+, for every site with room for it
    age = _np(chunk, "age_at_diagnosis")
    site = _np(chunk, "site_group")
    for name in ("liver", "pancreas", "central_nervous_system", "lung"):
        here = site == name
        assert tissue[here & (age >= 80)].mean() < tissue[here & (age < 80)].mean(), name


def test_registry_only_in_its_area_near_complete_and_independent(chunk: TruthChunk) -> None:
    persons = chunk.persons
    dept = dict(
        zip(persons["person_key"].to_pylist(), persons["departement"].to_pylist(), strict=True)
    )
    person = _np(chunk, "person_key")
    area = np.isin(np.array([dept[int(k)] for k in person]), list(REGISTRY_DEPARTEMENTS))
    registry = _np(chunk, "captured_registry")
    assert not registry[~area].any()
    assert _within(registry[area].mean(), REGISTRY_CAPTURE, int(area.sum()))
    hospital = _np(chunk, "captured_hospital")[area]
    ratio, se = _odds_ratio(hospital, registry[area])
    assert abs(np.log(ratio)) < 3 * se  # independent of the hospital feed
    assert 0.15 < area.mean() < 0.25  # the registries cover about a fifth of the country


def test_the_feeds_hold_only_what_they_capture(chunk: TruthChunk) -> None:
    tumours = chunk.tumours
    hospital = set(pc.filter(tumours["tumour_key"], tumours["captured_hospital"]).to_pylist())
    visits = chunk.visits
    inside = pc.not_equal(visits["hospital_id"], OUTSIDE_HOSPITAL)
    assert set(pc.filter(visits["tumour_key"], inside).to_pylist()) == hospital
    specimens = chunk.specimens
    read = pc.not_equal(specimens["lab_id"], OUTSIDE_LAB)
    pathology = set(pc.filter(tumours["tumour_key"], tumours["captured_pathology"]).to_pylist())
    assert set(pc.filter(specimens["tumour_key"], read).to_pylist()) == pathology
    records = chunk.source_records
    kinds = records["source_kind"].to_pylist()
    sources = records["source_id"].to_pylist()
    assert OUTSIDE_HOSPITAL not in sources and OUTSIDE_LAB not in sources
    registered = {
        k for k, s in zip(records["person_key"].to_pylist(), kinds, strict=True) if s == "registry"
    }
    expected = set(pc.filter(tumours["person_key"], tumours["captured_registry"]).to_pylist())
    assert registered == expected
    # nobody is lost: every tumour is in the truth, captured or not
    captured = (
        _np(chunk, "captured_hospital")
        | _np(chunk, "captured_pathology")
        | _np(chunk, "captured_registry")
    )
    assert 0.02 < 1 - captured.mean() < 0.10
