"""Hand-made tumour records: for every tumour rule, records that break it and records that
do not, each with the exact set of checks expected (shared by the rule tests and the
60+-tumour golden file test)."""

from __future__ import annotations

import datetime as dt
from typing import Any

AS_OF = dt.date(2025, 1, 1)

BASE: dict[str, str] = {
    "patient_id": "P",
    "tumour_id": "T",
    "sex": "2",
    "birth_date": "1960-03-15",
    "incidence_date": "2020-06-01",
    "topography": "C50.4",
    "morphology": "8500",
    "behaviour": "3",
    "grade": "2",
    "basis_of_diagnosis": "7",
    "vital_status": "1",
    "last_contact_or_death_date": "2023-01-01",
}
COLUMNS = (*BASE, "age")

# (rule, bad records, expected checks per bad record, good records)
Patch = dict[str, str]
CASES: list[tuple[str, list[Patch], list[set[str]], list[Patch]]] = [
    ("E-SEX", [{"sex": "7"}], [{"E-SEX"}], [{"sex": "F"}]),
    ("E-TOPO", [{"topography": "C99.9"}], [{"E-TOPO"}], [{"topography": "C504"}]),
    ("E-MORPH", [{"morphology": "9999"}], [{"E-MORPH"}], [{"morphology": "8500/3"}]),
    ("E-BEH", [{"behaviour": "5"}], [{"E-BEH"}], [{"behaviour": "", "morphology": "8500/3"}]),
    ("W-BEH-METASTATIC", [{"behaviour": "6"}], [{"W-BEH-METASTATIC"}], [{"behaviour": "3"}]),
    ("E-GRADE", [{"grade": "X"}], [{"E-GRADE"}], [{"grade": "G2"}, {"grade": ""}]),
    ("E-BASIS", [{"basis_of_diagnosis": "3"}], [{"E-BASIS"}], [{"basis_of_diagnosis": "6"}]),
    ("E-VITAL", [{"vital_status": "4"}], [{"E-VITAL"}], [{"vital_status": "9"}]),
    ("E-PATIENT-ID", [{"patient_id": ""}], [{"E-PATIENT-ID"}], [{"patient_id": "Q1"}]),
    (
        "E-TUMOUR-ID-DUP",
        [
            {"tumour_id": "DUP"},
            {"tumour_id": "DUP", "patient_id": "Q2", "topography": "C18.7", "morphology": "8140"},
        ],
        [{"E-TUMOUR-ID-DUP"}, {"E-TUMOUR-ID-DUP"}],
        [{"tumour_id": "UNIQUE1"}],
    ),
    (
        "E-PATIENT-INCONSISTENT",
        [
            {"patient_id": "Q3"},
            {
                "patient_id": "Q3",
                "birth_date": "1961-03-15",
                "topography": "C18.7",
                "morphology": "8140",
            },
        ],
        [{"E-PATIENT-INCONSISTENT"}, {"E-PATIENT-INCONSISTENT"}],
        [
            {"patient_id": "Q4"},
            {"patient_id": "Q4", "topography": "C18.7", "morphology": "8140"},
        ],
    ),
    (
        "E-INC-DATE",
        [{"incidence_date": "2020-02-30"}],
        [{"E-INC-DATE"}],
        [{"incidence_date": "01/06/2020"}],
    ),
    (
        "E-BIRTH-DATE",
        [{"birth_date": "1960-13-01"}],
        [{"E-BIRTH-DATE"}],
        [{"birth_date": "19600315"}],
    ),
    ("W-AGE-UNKNOWN", [{"birth_date": ""}], [{"W-AGE-UNKNOWN"}], [{}]),
    (
        "E-INC-BEFORE-BIRTH",
        [{"birth_date": "2021-01-01"}],
        [{"E-INC-BEFORE-BIRTH"}],
        [{"birth_date": "1960-06-01"}],
    ),
    (
        "E-AGE-120",
        [{"birth_date": "1890-01-01"}],
        [{"E-AGE-120"}],
        [{"birth_date": "1900-06-02"}],
    ),
    ("E-AGE-MISMATCH", [{"age": "50"}], [{"E-AGE-MISMATCH"}], [{"age": "61"}]),
    (
        "E-INC-FUTURE",
        [{"incidence_date": "2026-01-01", "last_contact_or_death_date": ""}],
        [{"E-INC-FUTURE"}],
        [{"incidence_date": "2022-01-01"}],
    ),
    (
        "E-LAST-BEFORE-INC",
        [{"last_contact_or_death_date": "2019-01-01"}],
        [{"E-LAST-BEFORE-INC"}],
        [{"last_contact_or_death_date": "2020-06-01"}],
    ),
    (
        "E-LAST-FUTURE",
        [{"last_contact_or_death_date": "2999-01-01"}],
        [{"E-LAST-FUTURE"}],
        [{"last_contact_or_death_date": "2024-01-01"}],
    ),
    (
        "W-DEAD-NO-DATE",
        [{"vital_status": "2", "last_contact_or_death_date": ""}],
        [{"W-DEAD-NO-DATE"}],
        [{"vital_status": "2"}],
    ),
    (
        "E-SEX-SITE",
        [{"sex": "1", "topography": "C53.9", "morphology": "8070"}],
        [{"E-SEX-SITE"}],
        [{"sex": "2", "topography": "C53.9", "morphology": "8070"}],
    ),
    (
        "W-SEX-HIST",
        [{"sex": "1", "topography": "C34.1", "morphology": "8441"}],
        [{"W-SEX-HIST"}],
        [{"sex": "2", "topography": "C34.1", "morphology": "8441"}],
    ),
    (
        "W-SITE-HIST",
        [{"topography": "C34.1", "morphology": "8170"}],
        [{"W-SITE-HIST"}],
        [{"topography": "C22.0", "morphology": "8170"}],
    ),
    (
        "W-SITE-HIST-NOT",
        [{"topography": "C71.9", "morphology": "8140"}],
        [{"W-SITE-HIST-NOT"}],
        [{"topography": "C18.7", "morphology": "8140"}],
    ),
    (
        "W-AGE-CHILD",
        [{"topography": "C69.2", "morphology": "9510", "birth_date": "2012-01-01", "grade": "9"}],
        [{"W-AGE-CHILD"}],
        [{"topography": "C69.2", "morphology": "9510", "birth_date": "2017-01-01", "grade": "9"}],
    ),
    (
        "W-AGE-CHILD-ADULT",
        [{"topography": "C64.9", "morphology": "8960"}],
        [{"W-AGE-CHILD-ADULT"}],
        [{"topography": "C64.9", "morphology": "8960", "birth_date": "2015-01-01"}],
    ),
    (
        "W-AGE-ADULT-YOUNG",
        [{"birth_date": "2005-01-01"}],
        [{"W-AGE-ADULT-YOUNG"}],
        [{"birth_date": "1999-01-01"}],
    ),
    (
        "W-BEH-SITE",
        [{"topography": "C71.9", "morphology": "8000", "behaviour": "2"}],
        [{"W-BEH-SITE", "W-ICD10"}],
        [{"topography": "C50.4", "morphology": "8500", "behaviour": "2"}],
    ),
    (
        "W-BEH-HIST",
        [{"topography": "C42.1", "morphology": "9732", "behaviour": "0", "grade": "9"}],
        [{"W-BEH-HIST", "W-ICD10"}],
        [{"topography": "C42.1", "morphology": "9732", "behaviour": "3", "grade": "9"}],
    ),
    ("W-GRADE-LINEAGE", [{"grade": "5"}], [{"W-GRADE-LINEAGE"}], [{"grade": "3"}]),
    (
        "W-GRADE-DIFF-HAEM",
        [{"topography": "C42.1", "morphology": "9732", "grade": "2"}],
        [{"W-GRADE-DIFF-HAEM"}],
        [{"topography": "C42.1", "morphology": "9732", "grade": "9"}],
    ),
    (
        "W-GRADE-IMPLIED",
        [{"topography": "C34.1", "morphology": "8020", "grade": "2"}],
        [{"W-GRADE-IMPLIED"}],
        [{"topography": "C34.1", "morphology": "8020", "grade": "4"}],
    ),
    (
        "W-GRADE-BEH",
        [{"topography": "C70.0", "morphology": "9530", "behaviour": "0", "grade": "1"}],
        [{"W-GRADE-BEH"}],
        [{"topography": "C70.0", "morphology": "9530", "behaviour": "0", "grade": "9"}],
    ),
    (
        "W-DCO-MORPH",
        [{"basis_of_diagnosis": "0"}],
        [{"W-DCO-MORPH"}],
        [{"basis_of_diagnosis": "0", "morphology": "8000"}],
    ),
    (
        "W-BASIS-MORPH",
        [{"basis_of_diagnosis": "1"}],
        [{"W-BASIS-MORPH"}],
        [{"basis_of_diagnosis": "1", "morphology": "8000"}],
    ),
    (
        "W-ICD10",
        [{"topography": "C18.7", "morphology": "8140", "behaviour": "0", "grade": "9"}],
        [{"W-ICD10"}],
        [{"topography": "C18.7", "morphology": "8140", "grade": "9"}],
    ),
    (
        "W-MP-DUP",
        [
            {
                "patient_id": "Q5",
                "topography": "C18.7",
                "morphology": "8140",
                "incidence_date": "2019-01-01",
            },
            {"patient_id": "Q5", "topography": "C18.2", "morphology": "8140"},
        ],
        [set(), {"W-MP-DUP"}],
        [
            {
                "patient_id": "Q6",
                "topography": "C18.7",
                "morphology": "8140",
                "incidence_date": "2019-01-01",
            },
            {"patient_id": "Q6", "topography": "C20.9", "morphology": "8140"},
        ],
    ),
]


def make_record(patch: Patch, *, case: int, index: int) -> dict[str, Any]:
    """BASE with ``patch``; a patient of its own per case unless the patch names one."""
    record: dict[str, Any] = {
        **BASE,
        "patient_id": f"P{case}-{index}",
        "tumour_id": f"T{case}-{index}",
    }
    record["age"] = ""
    record.update(patch)
    return record


def build_golden() -> tuple[list[dict[str, Any]], list[set[str]], list[str]]:
    """Every case's bad and good records, the exact checks expected for each, and the rule
    whose case each record belongs to (``bad:<rule>`` / ``good:<rule>``)."""
    records: list[dict[str, Any]] = []
    expected: list[set[str]] = []
    owner: list[str] = []
    for case, (rule, bad, bad_expected, good) in enumerate(CASES):
        for i, patch in enumerate(bad):
            records.append(make_record(patch, case=case, index=i))
            expected.append(bad_expected[i])
            owner.append(f"bad:{rule}")
        for j, patch in enumerate(good):
            records.append(make_record(patch, case=case, index=100 + j))
            expected.append(set())
            owner.append(f"good:{rule}")
    return records, expected, owner
