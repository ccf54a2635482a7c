"""Cancer cases and follow-up from the OMOP store, as Ibis expressions.

Written once, run unchanged on DuckDB, PostgreSQL and Spark: the expressions here only read
the OMOP tables handed to them. The numbers themselves come from the numpy cores
(:mod:`oncobase.stats.survival`, :mod:`oncobase.stats.standardise` …).

Store conventions read here (set by ingestion):

* a cancer diagnosis is a ``condition_occurrence`` row whose ``condition_source_value`` is an
  ICD-10 code of chapter II (C00-C97; "C50.4" or "C504");
* sex is ``person.gender_concept_id`` (8507 male, 8532 female);
* the département of residence is ``location.county`` (INSEE code), the region
  ``location.state``;
* vital status: ``death.death_date``, otherwise alive at the closing date.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import ibis
import ibis.expr.types as ir

MALE_CONCEPT_ID = 8507
FEMALE_CONCEPT_ID = 8532
AGE_GROUPS: tuple[str, ...] = (*tuple(f"{a}-{a + 4}" for a in range(0, 85, 5)), "85+")


@dataclass(frozen=True, kw_only=True)
class SiteGroup:
    """A registry site group: ICD-10 three-character codes from ``first`` to ``last``."""

    key: str
    label: str
    first: str
    last: str


@cache
def site_groups() -> tuple[SiteGroup, ...]:
    """ICD-10 site groups as ECIS and GLOBOCAN group them, "other" last."""
    text = resources.files("oncobase.stats").joinpath("data", "site_groups.csv").read_text("utf-8")
    return tuple(
        SiteGroup(key=r["site_group"], label=r["label"], first=r["icd10_from"], last=r["icd10_to"])
        for r in csv.DictReader(text.splitlines())
    )


def _site_group_of(icd3: ir.StringValue) -> ir.StringValue:
    """The site group of a three-character ICD-10 code (null outside C00-C97)."""
    case = ibis.cases(
        *[
            (icd3.between(group.first, group.last), ibis.literal(group.key))
            for group in site_groups()
        ],
        else_=ibis.null(str),
    )
    return case


def _age_group(age: ir.IntegerValue) -> ir.StringValue:
    """The 5-year age group label ("0-4" … "85+"); portable (no array indexing)."""
    return ibis.cases(
        *[(age < 5 * (i + 1), ibis.literal(label)) for i, label in enumerate(AGE_GROUPS[:-1])],
        else_=ibis.literal(AGE_GROUPS[-1]),
    )


def cancer_cases_expr(tables: Mapping[str, ir.Table]) -> ir.Table:
    """One row per person and site group: the first diagnosis (the incident case).

    Columns: person_id, site_group, icd10 (three characters), diagnosis_date, year, sex
    ("M"/"F"), age (completed years at diagnosis), age_group, departement, region.
    """
    condition = tables["condition_occurrence"]
    person = tables["person"]
    location = tables["location"]
    code = condition.condition_source_value.upper().strip().replace(".", "")
    icd3 = code.substr(0, 3)
    diagnoses = condition.select(
        person_id=condition.person_id,
        diagnosis_date=condition.condition_start_date,
        icd10=icd3,
        site_group=_site_group_of(icd3),
    ).filter(
        lambda t: (
            t.site_group.notnull()
            & t.icd10.re_search(r"^C[0-9][0-9]$")
            # C77-C79 are secondary (metastatic) neoplasms: not incident cancers
            & ~t.icd10.isin(["C77", "C78", "C79"])
        )
    )
    first = diagnoses.mutate(
        rank=ibis.row_number().over(
            group_by=[diagnoses.person_id, diagnoses.site_group],
            order_by=[diagnoses.diagnosis_date, diagnoses.icd10],
        )
    ).filter(lambda t: t.rank == 0)
    joined = first.join(person, first.person_id == person.person_id).left_join(
        location, person.location_id == location.location_id
    )
    birth_month = joined.month_of_birth.fill_null(7)
    age = (
        joined.diagnosis_date.year()
        - joined.year_of_birth
        - (joined.diagnosis_date.month() < birth_month).cast("int64")
    ).cast("int64")
    sex = ibis.cases(
        (joined.gender_concept_id == MALE_CONCEPT_ID, ibis.literal("M")),
        (joined.gender_concept_id == FEMALE_CONCEPT_ID, ibis.literal("F")),
        else_=ibis.null(str),
    )
    return joined.select(
        person_id=joined.person_id,
        site_group=joined.site_group,
        icd10=joined.icd10,
        diagnosis_date=joined.diagnosis_date,
        year=joined.diagnosis_date.year().cast("int64"),
        sex=sex,
        age=age,
        age_group=_age_group(age),
        departement=joined.county,
        region=joined.state,
    )


def incidence_counts_expr(
    tables: Mapping[str, ir.Table],
    *,
    by: tuple[str, ...] = ("site_group", "sex", "age_group", "year"),
) -> ir.Table:
    """Incident cases counted by the given columns of :func:`cancer_cases_expr`."""
    cases = cancer_cases_expr(tables)
    return cases.group_by(list(by)).aggregate(cases=cases.count()).order_by(list(by))


def survival_input_expr(tables: Mapping[str, ir.Table], *, closing_date: dt.date) -> ir.Table:
    """Follow-up of each incident case: days from diagnosis to death or the closing date.

    Columns: those of :func:`cancer_cases_expr` plus time (days) and event (1 = died).
    Cases diagnosed after the closing date are left out, and so are cases whose death
    precedes their diagnosis (inconsistent records; the quality checks report them).
    """
    cases = cancer_cases_expr(tables)
    death = tables["death"].select(
        death_person_id=tables["death"].person_id, death_date=tables["death"].death_date
    )
    closing = ibis.literal(closing_date)
    followed = cases.left_join(death, cases.person_id == death.death_person_id).filter(
        lambda t: t.diagnosis_date <= closing
    )
    died = followed.death_date.notnull() & (followed.death_date <= closing)
    end = ibis.ifelse(died, followed.death_date, closing)
    result = followed.select(
        *[followed[c] for c in cases.columns],
        time=end.delta(followed.diagnosis_date, unit="day").cast("int64"),
        event=died.cast("int64"),
    )
    return result.filter(result.time >= 0)


def store_tables(con: Any, names: tuple[str, ...] = ("condition_occurrence", "person",
                 "location", "death")) -> dict[str, ir.Table]:  # fmt: skip
    """The OMOP tables of an Ibis connection, by name."""
    return {name: con.table(name) for name in names}
