"""Diagnosis code matching as Ibis boolean expressions (prefix and range semantics).

Store conventions read here (set by ingestion, see docs/mapping.md): ICD-10 in
``condition_source_value`` ("C25.0" or "C250"); ICD-O-3 in ``condition_status_source_value``
as "morphology/behaviour-topography" ("8500/3-C25.0") or the morphology alone ("8500/3").
"""

from __future__ import annotations

import functools
import operator

import ibis
import ibis.expr.types as ir

from oncobase.cohorts.spec import CodeSet


def diagnosis_columns(condition: ir.Table) -> ir.Table:
    """Condition rows with normalised codes: person_id, date, icd (no dot), morph, behaviour,
    topo (no dot), icdo (as written)."""
    icd = condition.condition_source_value.upper().strip().replace(".", "")
    icdo = condition.condition_status_source_value.upper().strip()
    has_morph = icdo.re_search(r"^[0-9]{4}")
    has_behaviour = icdo.re_search(r"^[0-9]{4}/[0-9]")
    topo = icdo.re_extract(r"-(C[0-9]{2}\.?[0-9]?)", 1).replace(".", "")
    return condition.select(
        condition_occurrence_id=condition.condition_occurrence_id,
        person_id=condition.person_id,
        date=condition.condition_start_date,
        icd=icd,
        morph=ibis.ifelse(has_morph, icdo.substr(0, 4), ibis.null(str)),
        behaviour=ibis.ifelse(has_behaviour, icdo.substr(5, 1), ibis.null(str)),
        topo=ibis.ifelse(topo.length() > 0, topo, ibis.null(str)),
        icdo=condition.condition_status_source_value,
    )


def _match_one(column: ir.StringValue, code: str) -> ir.BooleanValue:
    """``column`` (normalised) matches one code (prefix) or range ``A-B`` (on A's length)."""
    text = code.replace(".", "").upper()
    if "-" in text:
        low, high = (part.strip() for part in text.split("-", 1))
        head = column.substr(0, len(low))
        return (head >= low) & (head <= high)
    return column.startswith(text)


def _match_any(column: ir.StringValue, codes: list[str]) -> ir.BooleanValue:
    exact = [c.replace(".", "").upper() for c in codes if "-" not in c]
    parts: list[ir.BooleanValue] = []
    by_length: dict[int, list[str]] = {}
    for code in exact:
        by_length.setdefault(len(code), []).append(code)
    for length, group in by_length.items():
        parts.append(column.substr(0, length).isin(group))
    parts.extend(_match_one(column, c) for c in codes if "-" in c)
    return functools.reduce(operator.or_, parts).fill_null(False)


def _morphology_match(t: ir.Table, codes: list[str]) -> ir.BooleanValue:
    """Morphology codes: "8140", "8140/3" (with behaviour) or ranges "8140-8147"."""
    parts: list[ir.BooleanValue] = []
    plain = [c for c in codes if "/" not in c]
    if plain:
        parts.append(_match_any(t.morph, plain))
    for code in (c for c in codes if "/" in c):
        morph, behaviour = code.split("/", 1)
        parts.append((t.morph == morph) & (t.behaviour == behaviour))
    return functools.reduce(operator.or_, parts).fill_null(False)


def codeset_match(t: ir.Table, codes: CodeSet) -> ir.BooleanValue:
    """Every field the code set gives matches the row (over :func:`diagnosis_columns`)."""
    parts: list[ir.BooleanValue] = []
    if codes.icd10:
        parts.append(_match_any(t.icd, codes.icd10))
    if codes.topography:
        parts.append(_match_any(t.topo, codes.topography))
    if codes.morphology:
        parts.append(_morphology_match(t, codes.morphology))
    if codes.behaviour:
        parts.append(t.behaviour.isin(codes.behaviour).fill_null(False))
    return functools.reduce(operator.and_, parts)


def cancer_match(t: ir.Table) -> ir.BooleanValue:
    """Any malignant primary: ICD-10 C00-C97 except C44 (skin, non-melanoma) and C77-C79
    (secondaries), or ICD-O-3 behaviour /3."""
    icd3 = t.icd.substr(0, 3)
    secondary = (icd3 >= "C77") & (icd3 <= "C79")
    by_icd = icd3.re_search(r"^C[0-9][0-9]$") & (icd3 <= "C97") & (icd3 != "C44") & ~secondary
    return (by_icd.fill_null(False)) | (t.behaviour == "3").fill_null(False)
