"""Membership of every built-in cohort against the ground truth (truth-derived store)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from oncobase.cohorts import build_cohort, list_cohorts, load_cohort, run_cohort
from oncobase.cohorts.build import read_store_tables
from oncobase.store import Backend


@pytest.mark.parametrize("name", [c.name for c in list_cohorts()])
def test_builtin_cohort_equals_truth(
    name: str, truth_store: Backend, expected_members: Callable[[str], dict[int, object]]
) -> None:
    definition = load_cohort(name)
    result = run_cohort(read_store_tables(truth_store), definition)
    got = dict(
        zip(
            result.members["person_id"].to_pylist(),
            result.members["cohort_start_date"].to_pylist(),
            strict=True,
        )
    )
    expected = expected_members(name)
    assert expected, f"the synthetic nation has no {name} case: enlarge it"
    true_pos = set(got) & set(expected)
    precision = len(true_pos) / len(got)
    recall = len(true_pos) / len(expected)
    print(f"{name}: {len(expected)} true, {len(got)} found, P={precision:.3f} R={recall:.3f}")
    assert (precision, recall) == (1.0, 1.0)
    assert all(got[p] == expected[p] for p in true_pos)


def test_build_writes_omop_cohort_tables(truth_store: Backend) -> None:
    definition = load_cohort("pancreatic_adenocarcinoma")
    first = build_cohort(truth_store, definition)
    again = build_cohort(truth_store, definition)
    assert again.cohort_definition_id == first.cohort_definition_id
    assert first.members > 0
    n = truth_store.scalar(
        "SELECT count(*) FROM cohort WHERE cohort_definition_id = $1", (first.cohort_definition_id,)
    )
    assert n == first.members
    assert first.definition_hash == definition.content_hash()
    assert first.attrition.column("persons").to_pylist()[0] == first.members
    bad = truth_store.scalar(
        "SELECT count(*) FROM cohort WHERE cohort_end_date < cohort_start_date"
    )
    assert bad == 0
