"""The variables a researcher can ask for, by stable name.

A permit lists variable names from :data:`VARIABLES`; an extract holds those and nothing else
(plus the per-project pseudonym, which every extract carries). Quasi-identifiers are the
variables the k-anonymity report looks at.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, kw_only=True)
class Variable:
    name: str
    label: str
    table: str  # OMOP table the values come from
    column: str  # OMOP column (or the derived column the extract builds)
    standard: str  # the standard the values follow
    kind: str = "category"  # category, date, number
    quasi_identifier: bool = False
    # Further columns of the same table that the variable needs to be read (released with it).
    extra_columns: tuple[str, ...] = ()


VARIABLES: tuple[Variable, ...] = (
    Variable(name="person.year_of_birth", label="Year of birth", table="person",
             column="year_of_birth", standard="OMOP CDM person.year_of_birth", kind="number",
             quasi_identifier=True),
    Variable(name="person.sex", label="Sex", table="person", column="gender_concept_id",
             standard="OMOP Gender (8507 male, 8532 female)", quasi_identifier=True),
    Variable(name="person.departement", label="Département of residence", table="location",
             column="county", standard="INSEE code officiel géographique",
             quasi_identifier=True),
    Variable(name="tumour.diagnosis_date", label="Date of diagnosis",
             table="condition_occurrence", column="condition_start_date",
             standard="ISO 8601 date", kind="date"),
    Variable(name="tumour.icd10", label="Cancer site (ICD-10)", table="condition_occurrence",
             column="condition_source_value", standard="ICD-10 (CIM-10)",
             quasi_identifier=True),
    Variable(name="tumour.icdo3", label="Topography and morphology (ICD-O-3)",
             table="condition_occurrence", column="condition_status_source_value",
             standard="ICD-O-3"),
    Variable(name="tumour.stage", label="TNM stage", table="measurement",
             column="value_source_value", standard="UICC TNM 8th edition",
             extra_columns=("measurement_source_value",)),
    Variable(name="treatment.drug", label="Systemic treatment", table="drug_exposure",
             column="drug_source_value", standard="ATC"),
    Variable(name="treatment.drug_date", label="Start of systemic treatment",
             table="drug_exposure", column="drug_exposure_start_date",
             standard="ISO 8601 date", kind="date"),
    Variable(name="treatment.procedure", label="Surgery and radiotherapy",
             table="procedure_occurrence", column="procedure_source_value",
             standard="CCAM"),
    Variable(name="treatment.procedure_date", label="Date of surgery or radiotherapy",
             table="procedure_occurrence", column="procedure_date",
             standard="ISO 8601 date", kind="date"),
    Variable(name="death.date", label="Date of death", table="death", column="death_date",
             standard="ISO 8601 date", kind="date"),
)  # fmt: skip

BY_NAME: dict[str, Variable] = {v.name: v for v in VARIABLES}

DATE_PRECISIONS: tuple[str, ...] = ("day", "month", "year", "shift")


def check_variables(names: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """The names, checked against :data:`VARIABLES` (ValueError naming the unknown ones)."""
    unknown = [n for n in names if n not in BY_NAME]
    if unknown:
        raise ValueError(
            f"unknown variable(s) {', '.join(map(repr, unknown))}; choose from {', '.join(BY_NAME)}"
        )
    if not names:
        raise ValueError("ask for at least one variable")
    return tuple(dict.fromkeys(names))
