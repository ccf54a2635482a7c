"""The checker never crashes on arbitrary field values, and its counts add up; labels."""

from __future__ import annotations

import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from oncobase.quality import assign_label, check_tumours, load_rules

FIELDS = ("patient_id", "tumour_id", "sex", "birth_date", "incidence_date", "topography",
          "morphology", "behaviour", "grade", "basis_of_diagnosis", "vital_status",
          "last_contact_or_death_date", "age")  # fmt: skip
PLAUSIBLE = st.sampled_from(["", "1", "2", "3", "9", "C50.4", "C18", "8500/3", "9732",
                             "2020-01-01", "31/12/1999", "19991231", "G2", "P1", "-1", "0"])  # fmt: skip
VALUE = st.one_of(PLAUSIBLE, st.text(max_size=12), st.none())


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.fixed_dictionaries(dict.fromkeys(FIELDS, VALUE)), min_size=0, max_size=12))
def test_never_crashes_and_counts_add_up(rows: list[dict[str, str | None]]) -> None:
    table = pa.table({f: pa.array([r[f] for r in rows], pa.string()) for f in FIELDS})
    result = check_tumours(table)
    summary = result.summary()
    assert summary["ok"] + summary["warning"] + summary["error"] == len(rows)
    assert sum(summary["by_rule"].values()) == result.findings.num_rows
    assert result.flags["rec"].to_pylist() == list(range(len(rows)))
    levels = {r.id: r.level for r in load_rules().rules}
    worst: dict[int, str] = {}
    for rec, check in zip(result.findings["rec"].to_pylist(),
                          result.findings["check_id"].to_pylist(), strict=True):  # fmt: skip
        if levels[check] == "error" or worst.get(rec) != "error":
            worst[rec] = levels[check]
    assert [worst.get(i, "ok") for i in range(len(rows))] == result.flags["flag"].to_pylist()
    assert len(result.to_records()) == len(rows)


def test_label_thresholds() -> None:
    assert assign_label("s", records=10_000, error_records=10, warning_records=500).label == "A"
    assert assign_label("s", records=10_000, error_records=11, warning_records=0).label == "B"
    assert assign_label("s", records=10_000, error_records=0, warning_records=501).label == "B"
    assert (
        assign_label("s", records=10_000, error_records=0, warning_records=0, checks_failed=1).label
        == "B"
    )
    assert assign_label("s", records=10_000, error_records=101, warning_records=0).label == "C"
    assert assign_label("s", records=10_000, error_records=0, warning_records=1001).label == "C"
    assert assign_label("s", records=0, error_records=0, warning_records=0).label == "C"


def test_dqd_table_level_file_matches_the_shared_standard() -> None:
    from conftest_shared import shared_csv

    from oncobase.quality._rules import read_rule_csv

    reference = {r["cdmTableName"]: r for r in shared_csv()}
    for row in read_rule_csv("dqd_tables.csv"):
        ref = reference[row["table"]]
        assert (row["required"] == "Y") == (ref["isRequired"] == "Yes")
        assert (row["measure_person_completeness"] == "Y") == (
            ref["measurePersonCompleteness"] == "Yes"
        )
