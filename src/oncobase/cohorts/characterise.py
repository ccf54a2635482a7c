"""Characterisation of a cohort: member features, Table 1 with standardised mean differences,
time to first treatment, treatment sequences (lines from episodes), survival by stage and by
first treatment (Kaplan-Meier through :mod:`oncobase.stats`).

Features are computed by Ibis on the store's engine (one row per member); the summaries are
small pyarrow/numpy computations over those rows.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from oncobase.stats import estimate_km

TREATMENT_EPISODE_CONCEPT_ID = 32531
STAGE_WINDOW_DAYS = (-90, 180)
TREATMENT_WINDOW_DAYS = (-30, 365)
SURVIVAL_TIMES_DAYS = (365, 1826)
MIN_GROUP_FOR_SURVIVAL = 10


def _first_stage(tables: Mapping[str, ir.Table], members: ir.Table) -> ir.Table:
    m = tables["measurement"]
    keys = members.select(_p=members.person_id, _entry=members.cohort_start_date)
    value = m.value_source_value.upper().replace("STAGE", "").strip()
    group = value.re_extract(r"^(?:YP|YC|C|P)?(IV|III|II|I|0)", 1)
    staged = m.select(person_id=m.person_id, date=m.measurement_date, stage=group).filter(
        lambda t: t.stage.length() > 0
    )
    joined = staged.join(keys, staged.person_id == keys._p)
    days = joined.date.delta(joined._entry, unit="day")
    near = joined.filter((days >= STAGE_WINDOW_DAYS[0]) & (days <= STAGE_WINDOW_DAYS[1]))
    ranked = near.mutate(
        _r=ibis.row_number().over(group_by=[near.person_id], order_by=[near.date, near.stage])
    )
    first = ranked.filter(ranked._r == 0)
    return first.select(_sp=first.person_id, stage=first.stage)


def _first_treatment(tables: Mapping[str, ir.Table], members: ir.Table) -> ir.Table:
    keys = members.select(_p=members.person_id, _entry=members.cohort_start_date)
    parts: list[ir.Table] = []
    if "drug_exposure" in tables:
        d = tables["drug_exposure"]
        parts.append(
            d.select(
                person_id=d.person_id,
                date=d.drug_exposure_start_date,
                kind=ibis.literal("systemic"),
            )
        )
    if "procedure_occurrence" in tables:
        p = tables["procedure_occurrence"]
        parts.append(
            p.select(person_id=p.person_id, date=p.procedure_date, kind=ibis.literal("procedure"))
        )
    events = parts[0] if len(parts) == 1 else parts[0].union(parts[1])
    joined = events.join(keys, events.person_id == keys._p)
    days = joined.date.delta(joined._entry, unit="day")
    near = joined.filter((days >= TREATMENT_WINDOW_DAYS[0]) & (days <= TREATMENT_WINDOW_DAYS[1]))
    ranked = near.mutate(
        _r=ibis.row_number().over(group_by=[near.person_id], order_by=[near.date, near.kind])
    )
    first = ranked.filter(ranked._r == 0)
    return first.select(_tp=first.person_id, first_treatment=first.kind,
                        first_treatment_date=first.date)  # fmt: skip


def member_features_expr(
    tables: Mapping[str, ir.Table], members: ir.Table, *, closing_date: dt.date
) -> ir.Table:
    """One row per member: the cohort columns plus stage group (I-IV), first treatment (kind,
    date, days from entry) and follow-up (time in days, event 1 = died) to the closing date."""
    result = members
    if "measurement" in tables:
        stage = _first_stage(tables, members)
        result = result.left_join(stage, result.person_id == stage._sp).drop("_sp")
    else:
        result = result.mutate(stage=ibis.null(str))
    if "drug_exposure" in tables or "procedure_occurrence" in tables:
        treat = _first_treatment(tables, members)
        result = result.left_join(treat, result.person_id == treat._tp).drop("_tp")
    else:
        result = result.mutate(
            first_treatment=ibis.null(str), first_treatment_date=ibis.null("date")
        )
    closing = ibis.literal(closing_date)
    died = result.death_date.notnull() & (result.death_date <= closing)
    end = ibis.ifelse(died, result.death_date, closing)
    return result.mutate(
        stage=result.stage.fill_null("unknown"),
        first_treatment=result.first_treatment.fill_null("none"),
        days_to_treatment=result.first_treatment_date.delta(result.cohort_start_date, unit="day"),
        time=end.delta(result.cohort_start_date, unit="day"),
        event=died.cast("int64"),
    )


# ---------------------------------------------------------------------------------- Table 1


def _categorical(values: pa.Array | pa.ChunkedArray) -> dict[str, int]:
    filled = pc.fill_null(pc.cast(values, pa.string()), "unknown")
    counts = pc.value_counts(filled).to_pylist()
    return {str(c["values"]): int(c["counts"]) for c in counts}


def _smd_binary(p1: float, p2: float) -> float:
    pooled = (p1 * (1 - p1) + p2 * (1 - p2)) / 2.0
    return (p1 - p2) / math.sqrt(pooled) if pooled > 0 else 0.0


def _smd_continuous(a: np.ndarray, b: np.ndarray) -> float:
    if len(a) < 2 or len(b) < 2:
        return float("nan")
    pooled = (np.var(a, ddof=1) + np.var(b, ddof=1)) / 2.0
    return float((a.mean() - b.mean()) / math.sqrt(pooled)) if pooled > 0 else 0.0


TABLE1_CATEGORICAL = ("sex", "stage", "morphology", "first_treatment", "region")


def build_table1(a: pa.Table, b: pa.Table | None = None, *, labels: tuple[str, str] = ("a", "b"),
                 ) -> list[dict[str, Any]]:  # fmt: skip
    """Table 1 rows: variable, level, n and % (or mean and SD) per group, and the SMD.

    With one group, the SMD is omitted. Categorical SMDs are per level (binary formula).
    """
    rows: list[dict[str, Any]] = []
    groups = [(labels[0], a)] + ([(labels[1], b)] if b is not None else [])
    n = {label: t.num_rows for label, t in groups}
    rows.append({"variable": "persons", "level": "", **{f"n_{g}": n[g] for g, _ in groups}})
    ages = {g: t.column("age").to_numpy(zero_copy_only=False).astype(float) for g, t in groups}
    ages = {g: v[~np.isnan(v)] for g, v in ages.items()}
    age_row: dict[str, Any] = {"variable": "age", "level": "mean (SD)"}
    for g, _t in groups:
        v = ages[g]
        age_row[f"mean_{g}"] = round(float(v.mean()), 2) if len(v) else None
        age_row[f"sd_{g}"] = round(float(v.std(ddof=1)), 2) if len(v) > 1 else None
    if b is not None:
        age_row["smd"] = round(_smd_continuous(ages[labels[0]], ages[labels[1]]), 4)
    rows.append(age_row)
    for variable in TABLE1_CATEGORICAL:
        counts = {
            g: _categorical(t.column(variable)) for g, t in groups if variable in t.schema.names
        }
        if not counts:
            continue
        levels = sorted(set().union(*[c.keys() for c in counts.values()]))
        for level in levels:
            row: dict[str, Any] = {"variable": variable, "level": level}
            for g, _t in groups:
                k = counts.get(g, {}).get(level, 0)
                row[f"n_{g}"] = k
                row[f"pct_{g}"] = round(100.0 * k / n[g], 2) if n[g] else 0.0
            if b is not None:
                p1 = row[f"pct_{labels[0]}"] / 100.0
                p2 = row[f"pct_{labels[1]}"] / 100.0
                row["smd"] = round(_smd_binary(p1, p2), 4)
            rows.append(row)
    return rows


def summarise_time_to_treatment(features: pa.Table) -> dict[str, Any]:
    """Days from diagnosis to the first treatment among the treated: n, median, quartiles."""
    days = features.column("days_to_treatment").drop_null().to_numpy().astype(float)
    if len(days) == 0:
        return {"treated": 0, "untreated": features.num_rows}
    q1, med, q3 = np.percentile(days, [25, 50, 75])
    return {
        "treated": len(days),
        "untreated": features.num_rows - len(days),
        "median_days": float(med),
        "q1_days": float(q1),
        "q3_days": float(q3),
    }


def treatment_sequences_expr(tables: Mapping[str, ir.Table], members: ir.Table) -> ir.Table:
    """Lines of therapy from the treatment episodes: person_id, line (1 …), regimen, start."""
    episode = tables["episode"]
    keys = members.select(_p=members.person_id, _entry=members.cohort_start_date)
    treat = episode.filter(episode.episode_concept_id == TREATMENT_EPISODE_CONCEPT_ID)
    joined = treat.join(keys, treat.person_id == keys._p)
    joined = joined.filter(joined.episode_start_date >= joined._entry)
    ranked = joined.mutate(
        line=ibis.row_number().over(
            group_by=[joined.person_id],
            order_by=[joined.episode_start_date, joined.episode_source_value],
        )
        + 1
    )
    return ranked.select(
        person_id=ranked.person_id,
        line=ranked.line,
        regimen=ranked.episode_source_value.fill_null("unspecified"),
        start_date=ranked.episode_start_date,
    )


def summarise_sequences(
    lines: pa.Table, *, max_lines: int = 3, top: int = 10
) -> list[dict[str, Any]]:
    """The most frequent sequences of the first ``max_lines`` lines ("A → B"), with counts."""
    if lines.num_rows == 0:
        return []
    kept = lines.filter(pc.less_equal(lines.column("line"), max_lines))
    kept = kept.sort_by([("person_id", "ascending"), ("line", "ascending")])
    grouped = kept.group_by("person_id", use_threads=False).aggregate([("regimen", "list")])
    sequences = [" → ".join(v) for v in grouped.column("regimen_list").to_pylist()]
    counted = pc.value_counts(pa.array(sequences, pa.string())).to_pylist()
    counted.sort(key=lambda r: (-r["counts"], r["values"]))
    return [{"sequence": r["values"], "persons": int(r["counts"])} for r in counted[:top]]


def estimate_survival_by(features: pa.Table, by: str) -> list[dict[str, Any]]:
    """Kaplan-Meier survival at 1 and 5 years for each level of ``by`` (groups of 10+)."""
    rows: list[dict[str, Any]] = []
    if features.num_rows == 0:
        return rows
    levels = pc.unique(pc.fill_null(features.column(by), "unknown")).to_pylist()
    values = pc.fill_null(features.column(by), "unknown")
    for level in sorted(str(v) for v in levels):
        part = features.filter(pc.equal(values, level))
        if part.num_rows < MIN_GROUP_FOR_SURVIVAL:
            continue
        curve = estimate_km(part.column("time").to_numpy(), part.column("event").to_numpy())
        at = curve.at(np.asarray(SURVIVAL_TIMES_DAYS, dtype=np.float64)).to_pylist()
        for t, r in zip(SURVIVAL_TIMES_DAYS, at, strict=True):
            rows.append(
                {
                    by: level,
                    "cases": part.num_rows,
                    "deaths": int(pc.sum(part.column("event")).as_py() or 0),
                    "years": round(t / 365.25),
                    "survival": _round(r.get("estimate")),
                    "ci_lower": _round(r.get("ci_lower")),
                    "ci_upper": _round(r.get("ci_upper")),
                }
            )
    return rows


def _round(value: object) -> float | None:
    if value is None:
        return None
    number = float(str(value))
    return None if math.isnan(number) else round(number, 4)
