"""Multiple primaries: the IARC/IACR/ENCR 2004 examples of NOTES_QUALITY.md §3."""

from __future__ import annotations

import pyarrow as pa
import pytest

from oncobase.quality import check_tumours

Tumour = tuple[str, str, str, str]  # topography, morphology, behaviour, incidence date


def _duplicates(tumours: list[Tumour], *, patient: str = "P") -> dict[str, str]:
    """{duplicate tumour id: kept tumour id} for tumours of one patient (ids T0, T1 …)."""
    n = len(tumours)
    table = pa.table(
        {
            "patient_id": [patient] * n,
            "tumour_id": [f"T{i}" for i in range(n)],
            "sex": ["2"] * n,
            "birth_date": ["1950-01-01"] * n,
            "topography": [t[0] for t in tumours],
            "morphology": [t[1] for t in tumours],
            "behaviour": [t[2] for t in tumours],
            "incidence_date": [t[3] for t in tumours],
        }
    )
    merges = check_tumours(table).merges
    return dict(
        zip(
            merges["duplicate_tumour_id"].to_pylist(),
            merges["kept_tumour_id"].to_pylist(),
            strict=True,
        )
    )


@pytest.mark.parametrize(
    ("tumours", "expected"),
    [
        # colon and rectum are two primaries (C18 vs C19-C20)
        ([("C18.7", "8140", "3", "2019-01-01"), ("C20.9", "8140", "3", "2020-01-01")], {}),
        # two colon adenocarcinomas (any subsite) are one tumour; the later is the duplicate
        ([("C18.7", "8140", "3", "2019-01-01"), ("C18.2", "8480", "3", "2020-01-01")],
         {"T1": "T0"}),
        # bilateral breast adenocarcinomas are one tumour under the international rules
        ([("C50.4", "8500", "3", "2019-01-01"), ("C50.4", "8520", "3", "2021-05-01")],
         {"T1": "T0"}),
        # different histology groups at the same site are two primaries (3 vs 1)
        ([("C34.1", "8140", "3", "2019-01-01"), ("C34.3", "8070", "3", "2020-01-01")], {}),
        # C33 and C34 are one site group
        ([("C33.9", "8070", "3", "2019-01-01"), ("C34.1", "8071", "3", "2020-01-01")],
         {"T1": "T0"}),
        # carcinoma NOS (group 5) beside a specific carcinoma is not a new primary
        ([("C16.2", "8140", "3", "2019-01-01"), ("C16.0", "8010", "3", "2020-01-01")],
         {"T1": "T0"}),
        # unspecified tumour (group 17) beside anything at the same site is not a new primary
        ([("C22.0", "8000", "3", "2019-01-01"), ("C22.0", "8170", "3", "2020-01-01")],
         {"T1": "T0"}),
        # systemic: the same haematolymphoid group at different sites counts once
        ([("C77.2", "9680", "3", "2019-01-01"), ("C16.2", "9680", "3", "2021-01-01")],
         {"T1": "T0"}),
        # different haematolymphoid groups (B-cell vs Hodgkin) are two primaries
        ([("C77.2", "9680", "3", "2019-01-01"), ("C77.0", "9650", "3", "2021-01-01")], {}),
        # Kaposi sarcoma counts once per person
        ([("C44.7", "9140", "3", "2019-01-01"), ("C16.9", "9140", "3", "2021-01-01")],
         {"T1": "T0"}),
        # time does not matter (rule 1): 15 years apart is still a duplicate
        ([("C61.9", "8140", "3", "2000-01-01"), ("C61.9", "8140", "3", "2015-01-01")],
         {"T1": "T0"}),
        # the earliest incidence date is kept, whatever the file order
        ([("C18.7", "8140", "3", "2021-01-01"), ("C18.2", "8140", "3", "2019-01-01")],
         {"T0": "T1"}),
        # in situ tumours outside the urothelial tract do not take part
        ([("C50.4", "8500", "2", "2019-01-01"), ("C50.4", "8500", "3", "2020-01-01")], {}),
        # ENCR 2022 urothelial: an in situ bladder tumour then an invasive ureter tumour
        ([("C67.2", "8120", "2", "2019-01-01"), ("C66.9", "8120", "3", "2020-01-01")],
         {"T1": "T0"}),
    ],
)  # fmt: skip
def test_multiple_primary_rules(tumours: list[Tumour], expected: dict[str, str]) -> None:
    assert _duplicates(tumours) == expected


def test_other_patients_never_merge() -> None:
    table = pa.table(
        {
            "patient_id": ["A", "B"],
            "tumour_id": ["1", "2"],
            "topography": ["C18.7", "C18.7"],
            "morphology": ["8140", "8140"],
            "behaviour": ["3", "3"],
            "incidence_date": ["2019-01-01", "2020-01-01"],
        }
    )
    assert check_tumours(table).merges.num_rows == 0
