"""Generalisation of rare categories and the k-anonymity report, on Arrow columns."""

from __future__ import annotations

import collections

import pyarrow as pa
import pytest

from oncobase.share import kanon


def _persons(counts: dict[str, int]) -> tuple[pa.Array, pa.Array]:
    """One row per person holding each value ``counts[value]`` times."""
    values = [v for v, n in counts.items() for _ in range(n)]
    return pa.array(values, pa.string()), pa.array(range(len(values)), pa.int64())


def test_icd10_moves_to_its_category_then_to_other() -> None:
    values, persons = _persons({"C34.1": 12, "C34.8": 2, "C34.9": 9, "C25.0": 3, "C50.9": 20})
    out, moved = kanon.generalise(values, persons, (kanon.to_prefix(3), kanon.to_other), k=11)
    counts = collections.Counter(out.to_pylist())
    # C34.8 and C34.9 (11 persons together) become C34; C25.0 alone stays rare → other
    assert counts == {"C34.1": 12, "C34": 11, "other": 3, "C50.9": 20}
    assert moved == [14, 3]


def test_the_same_person_counts_once() -> None:
    values = pa.array(["C71.0"] * 15 + ["C34.1"] * 11)
    persons = pa.array([1] * 15 + list(range(100, 111)))  # one person, fifteen rows
    out, _ = kanon.generalise(values, persons, (kanon.to_other,), k=11)
    assert set(out.to_pylist()) == {"other", "C34.1"}


def test_departement_to_region() -> None:
    region = kanon.departement_region(pa.array(["48", "75", "2A", "zz", None]))
    assert region.to_pylist() == ["R76", "R11", "R94", "other", None]


def test_year_of_birth_in_bands_only_when_needed() -> None:
    persons = pa.array(range(30), pa.int64())
    common = pa.array([1950] * 15 + [1960] * 15, pa.int64())
    same, info = kanon.generalise_year_of_birth(common, persons, k=11)
    assert same.to_pylist() == common.to_pylist() and info["level"] == "year"
    mixed = pa.array([1950 + i % 5 for i in range(15)] + [1971] * 14 + [1990], pa.int64())
    banded, info = kanon.generalise_year_of_birth(mixed, persons, k=11)
    assert banded.to_pylist() == [1950] * 15 + [1970] * 14 + [None]
    assert info["suppressed_rows"] == 1


def test_a_rare_sex_becomes_unknown() -> None:
    sex = pa.array([8532] * 20 + [8507] * 2, pa.int64())
    out, moved = kanon.generalise_sex(sex, pa.array(range(22), pa.int64()), k=11)
    assert out.to_pylist() == [8532] * 20 + [0] * 2 and moved == 2


def test_report_counts_equivalence_classes() -> None:
    records = pa.table(
        {
            "sex": [1, 1, 1, 2, 2, 2, 2, 1],
            "departement": ["75", "75", "75", "75", "75", "13", "13", "13"],
        }
    )
    report = kanon.kanonymity_report(records, ["sex", "departement"], k=3)
    assert report["k_min"] == 1 and report["classes"] == 4
    assert report["class_sizes"] == {"1": 1, "2": 2, "3": 1}
    assert report["persons_in_classes_below_threshold"] == 5
    assert report["share_below_threshold"] == pytest.approx(5 / 8)
    alone = kanon.kanonymity_report(records, [], k=3)
    assert alone["k_min"] == 8 and alone["classes"] == 1
    empty = kanon.kanonymity_report(records.slice(0, 0), ["sex"], k=3)
    assert (empty["k_min"], empty["persons"], empty["class_sizes"]) == (0, 0, {})
