"""Definition → Ibis expressions: entry events, one flag per inclusion rule, members, attrition.

Everything here is engine-neutral Ibis over the OMOP tables handed in (DuckDB, PostgreSQL,
PySpark); nothing is executed. Rules become boolean columns of the candidate table (one left
join per rule that reads another table), so that the attrition (persons left after each rule,
rules applied in order) is a single aggregate.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Mapping
from dataclasses import dataclass

import ibis
import ibis.expr.types as ir

from oncobase.cohorts.codes import cancer_match, codeset_match, diagnosis_columns
from oncobase.cohorts.spec import (
    AgeRule,
    BiomarkerRule,
    CohortDefinition,
    DiagnosisPeriodRule,
    Exit,
    GeographyRule,
    GradeRule,
    MinObservationRule,
    NoPriorCancerRule,
    SexRule,
    StageRule,
    TreatmentRule,
    Window,
)

MALE, FEMALE = 8507, 8532
DAYS_PER_YEAR = 365.25
GRADE_SOURCES = ("33732-9", "21858-6", "GRADE")  # LOINC histologic grade; registry label

REQUIRED_TABLES = ("condition_occurrence", "person", "location", "death", "observation_period")
OPTIONAL_TABLES = ("measurement", "drug_exposure", "procedure_occurrence")


@dataclass(frozen=True, kw_only=True)
class CompiledCohort:
    """The Ibis expressions of one definition (nothing run yet)."""

    definition: CohortDefinition
    candidates: ir.Table  # one row per person with an entry event, flag columns rule_0 …
    members: ir.Table  # person_id, cohort_start_date, cohort_end_date + entry details
    attrition: ir.Table  # one row: entry, rule_0 … (persons left after each rule)
    rule_names: tuple[str, ...]


def entry_events_expr(tables: Mapping[str, ir.Table], definition: CohortDefinition) -> ir.Table:
    """Per person, the first diagnosis matching the entry: person_id, entry_date, icd10,
    icdo3 (as written), morphology, topography."""
    dx = diagnosis_columns(tables["condition_occurrence"])
    entry = definition.entry
    matched = dx.filter(
        functools.reduce(operator.or_, [codeset_match(dx, c) for c in entry.any_of])
    )
    if entry.none_of:
        matched = matched.filter(
            ~functools.reduce(operator.or_, [codeset_match(matched, c) for c in entry.none_of])
        )
    ranked = matched.mutate(
        _rank=ibis.row_number().over(
            group_by=[matched.person_id],
            order_by=[matched.date, matched.icd, matched.icdo],
        )
    )
    first = ranked.filter(ranked._rank == 0)
    return first.select(
        person_id=first.person_id,
        entry_date=first.date,
        icd10=first.icd,
        icdo3=first.icdo,
        morphology=first.morph,
        topography=first.topo,
    )


def _days_from_entry(date: ir.DateValue, entry_date: ir.DateValue) -> ir.IntegerValue:
    return date.delta(entry_date, unit="day")


def _in_window(date: ir.DateValue, entry_date: ir.DateValue, window: Window) -> ir.BooleanValue:
    days = _days_from_entry(date, entry_date)
    return (days >= window.start_days) & (days <= window.end_days)


def _flag_from_hits(base: ir.Table, hits: ir.Table, column: str) -> ir.Table:
    """``base`` with a boolean ``column``: the person is among ``hits.person_id``."""
    found = hits.select(_hit_person=hits.person_id).distinct()
    joined = base.left_join(found, base.person_id == found._hit_person)
    return joined.mutate(**{column: joined._hit_person.notnull()}).drop("_hit_person")


def _events_near_entry(
    base: ir.Table, events: ir.Table, date_column: str, window: Window
) -> ir.Table:
    keys = base.select(_p=base.person_id, _entry=base.entry_date)
    joined = events.join(keys, events.person_id == keys._p)
    return joined.filter(_in_window(joined[date_column], joined._entry, window))


def _stage_pattern(value: str) -> str:
    """A stage group matches itself; a bare group ("III") matches its subgroups (IIIA …).
    A clinical/pathological prefix ("c", "p", "yp") is allowed."""
    suffix = "" if value[-1] in "ABC123456789" else "[A-C]?[0-9]?"
    return f"^(YP|YC|C|P)?{value}{suffix}$"


def _normalised_stage(value: ir.StringValue) -> ir.StringValue:
    return value.upper().replace("STAGE", "").strip()


def _measurement_flag(
    base: ir.Table,
    tables: Mapping[str, ir.Table],
    rule: StageRule | GradeRule | BiomarkerRule,
    column: str,
) -> ir.Table:
    if "measurement" not in tables:
        return base.mutate(**{column: ibis.literal(False)})
    m = tables["measurement"]
    near = _events_near_entry(base, m, "measurement_date", rule.window)
    value = near.value_source_value.upper().strip()
    if isinstance(rule, StageRule):
        stage = _normalised_stage(near.value_source_value)
        ok = functools.reduce(
            operator.or_, [stage.re_search(_stage_pattern(v)) for v in rule.values]
        )
    elif isinstance(rule, GradeRule):
        source = near.measurement_source_value.upper().strip()
        is_grade = source.isin(list(GRADE_SOURCES)) | source.contains("GRADE")
        ok = is_grade & value.isin([v.upper() for v in rule.values])
    else:
        from oncobase.cohorts._vocab import biomarker_aliases

        aliases = [a.upper() for a in biomarker_aliases()[rule.code]]
        source = near.measurement_source_value.upper().strip()
        tests: list[ir.BooleanValue] = []
        if rule.values:
            tests.append(value.isin([v.upper() for v in rule.values]))
        if rule.min is not None or rule.max is not None:
            number = near.value_as_number
            test = number.notnull()
            if rule.min is not None:
                test = test & (number >= rule.min)
            if rule.max is not None:
                test = test & (number <= rule.max)
            tests.append(test)
        ok = source.isin(aliases) & functools.reduce(operator.or_, tests)
    return _flag_from_hits(base, near.filter(ok.fill_null(False)), column)


def _treatment_flag(
    base: ir.Table, tables: Mapping[str, ir.Table], rule: TreatmentRule, column: str
) -> ir.Table:
    pieces: list[ir.Table] = []
    sources = {
        "drug": ("drug_exposure", "drug_exposure_start_date", "drug_source_value"),
        "procedure": ("procedure_occurrence", "procedure_date", "procedure_source_value"),
    }
    for domain, (name, date_col, code_col) in sources.items():
        if rule.domain not in (domain, "any") or name not in tables:
            continue
        t = tables[name]
        events = t.select(person_id=t.person_id, date=t[date_col], code=t[code_col].upper())
        near = _events_near_entry(base, events, "date", rule.window)
        if rule.codes:
            codes = [c.upper().replace(".", "") for c in rule.codes]
            near = near.filter(
                functools.reduce(operator.or_, [near.code.startswith(c) for c in codes])
            )
        pieces.append(near.select("person_id"))
    if not pieces:
        return base.mutate(**{column: ibis.literal(False)})
    hits = pieces[0] if len(pieces) == 1 else pieces[0].union(pieces[1])
    return _flag_from_hits(base, hits, column)


def _prior_cancer_flag(
    base: ir.Table, tables: Mapping[str, ir.Table], rule: NoPriorCancerRule, column: str
) -> ir.Table:
    dx = diagnosis_columns(tables["condition_occurrence"])
    cancers = dx.filter(cancer_match(dx))
    window = Window(start_days=-round(rule.years * DAYS_PER_YEAR), end_days=-1)
    prior = _events_near_entry(base, cancers, "date", window)
    flagged = _flag_from_hits(base, prior, "_prior")
    return flagged.mutate(**{column: ~flagged._prior}).drop("_prior")


def _observation(tables: Mapping[str, ir.Table]) -> ir.Table:
    op = tables["observation_period"]
    return op.group_by(op.person_id).aggregate(
        obs_start=op.observation_period_start_date.min(),
        obs_end=op.observation_period_end_date.max(),
    )


def _person_details(entries: ir.Table, tables: Mapping[str, ir.Table]) -> ir.Table:
    person, location = tables["person"], tables["location"]
    p = person.select(
        _pid=person.person_id,
        gender_concept_id=person.gender_concept_id,
        year_of_birth=person.year_of_birth,
        month_of_birth=person.month_of_birth,
        location_id=person.location_id,
    )
    loc = location.select(_lid=location.location_id, departement=location.county,
                          region=location.state)  # fmt: skip
    death = tables["death"]
    deaths = death.group_by(_did=death.person_id).aggregate(death_date=death.death_date.min())
    obs = _observation(tables).rename(_oid="person_id")
    joined = (
        entries.left_join(p, entries.person_id == p._pid)
        .left_join(loc, p.location_id == loc._lid)
        .left_join(deaths, entries.person_id == deaths._did)
        .left_join(obs, entries.person_id == obs._oid)
    )
    birth_month = joined.month_of_birth.fill_null(7)
    age = (
        joined.entry_date.year()
        - joined.year_of_birth
        - (joined.entry_date.month() < birth_month).cast("int64")
    ).cast("int64")
    sex = ibis.cases(
        (joined.gender_concept_id == MALE, ibis.literal("M")),
        (joined.gender_concept_id == FEMALE, ibis.literal("F")),
        else_=ibis.null(str),
    )
    return joined.select(
        *[joined[c] for c in entries.columns],
        sex=sex,
        age=age,
        departement=joined.departement,
        region=joined.region,
        death_date=joined.death_date,
        obs_start=joined.obs_start,
        obs_end=joined.obs_end,
    )


def _earliest(a: ir.DateValue, b: ir.DateValue) -> ir.DateValue:
    return ibis.ifelse(a.isnull(), b, ibis.ifelse(b.isnull() | (a <= b), a, b))


def _end_date(t: ir.Table, exit_: Exit) -> ir.DateValue:
    end: ir.DateValue = ibis.null("date")
    if exit_.horizon_days is not None:
        end = (t.entry_date + ibis.interval(days=exit_.horizon_days)).cast("date")
    if exit_.at_death:
        end = _earliest(t.death_date, end)
    if exit_.at_end_of_observation:
        end = _earliest(t.obs_end, end)
    # OMOP needs an end: fall back on the end of observation, then on the entry date.
    end = end.coalesce(t.obs_end) if not exit_.at_end_of_observation else end
    end = ibis.ifelse(end.isnull() | (end < t.entry_date), t.entry_date, end)
    return end


def _simple_rule_test(base: ir.Table, rule: object) -> ir.BooleanValue | None:
    """The test of a rule that reads only the candidate row (None for the others)."""
    test: ir.BooleanValue | None = None
    if isinstance(rule, AgeRule):
        test = base.age.notnull()
        if rule.min is not None:
            test = test & (base.age >= rule.min)
        if rule.max is not None:
            test = test & (base.age <= rule.max)
    elif isinstance(rule, SexRule):
        test = base.sex.isin(list(rule.values))
    elif isinstance(rule, DiagnosisPeriodRule):
        test = ibis.literal(True)
        if rule.start is not None:
            test = test & (base.entry_date >= ibis.literal(rule.start))
        if rule.end is not None:
            test = test & (base.entry_date <= ibis.literal(rule.end))
    elif isinstance(rule, GeographyRule):
        test = ibis.literal(False)
        if rule.departements:
            test = test | base.departement.isin(list(rule.departements)).fill_null(False)
        if rule.regions:
            test = test | base.region.isin(list(rule.regions)).fill_null(False)
    elif isinstance(rule, MinObservationRule):
        before = _days_from_entry(base.obs_start, base.entry_date)
        after = _days_from_entry(base.obs_end, base.entry_date)
        test = (before <= -rule.days_before) & (after >= rule.days_after)
    return None if test is None else test.fill_null(False)


def _add_rule_flag(
    base: ir.Table, tables: Mapping[str, ir.Table], rule: object, column: str
) -> ir.Table:
    test = _simple_rule_test(base, rule)
    if test is not None:
        return base.mutate(**{column: test})
    if isinstance(rule, StageRule | GradeRule | BiomarkerRule):
        return _measurement_flag(base, tables, rule, column)
    if isinstance(rule, TreatmentRule):
        return _treatment_flag(base, tables, rule, column)
    if isinstance(rule, NoPriorCancerRule):
        return _prior_cancer_flag(base, tables, rule, column)
    raise TypeError(f"no compiler for rule {rule!r}")  # pragma: no cover - union is closed


def compile_cohort(tables: Mapping[str, ir.Table], definition: CohortDefinition) -> CompiledCohort:
    """The Ibis expressions of a cohort over the OMOP tables of one engine."""
    entries = entry_events_expr(tables, definition)
    candidates = _person_details(entries, tables)
    flags: list[str] = []
    for i, rule in enumerate(definition.inclusion):
        column = f"rule_{i}"
        candidates = _add_rule_flag(candidates, tables, rule, column)
        flags.append(column)
    candidates = candidates.mutate(cohort_end_date=_end_date(candidates, definition.exit))
    keep = functools.reduce(operator.and_, [candidates[f] for f in flags], ibis.literal(True))
    kept = candidates.filter(keep)
    members = kept.select(
        person_id=kept.person_id,
        cohort_start_date=kept.entry_date,
        cohort_end_date=kept.cohort_end_date,
        icd10=kept.icd10,
        icdo3=kept.icdo3,
        morphology=kept.morphology,
        topography=kept.topography,
        sex=kept.sex,
        age=kept.age,
        departement=kept.departement,
        region=kept.region,
        death_date=kept.death_date,
    )
    counts: dict[str, ir.IntegerScalar] = {"entry": candidates.count()}
    running: ir.BooleanValue = ibis.literal(True)
    for f in flags:
        running = running & candidates[f]
        counts[f] = running.cast("int64").sum().fill_null(0)
    attrition = candidates.aggregate(**counts)
    return CompiledCohort(
        definition=definition,
        candidates=candidates,
        members=members,
        attrition=attrition,
        rule_names=tuple(definition.rule_names()),
    )
