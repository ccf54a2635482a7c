"""Pipeline step of the statistics domain: registry figures from the store."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa

from oncobase.pipeline import StepContext, StepOutcome, pipeline_step
from oncobase.stats.cases import store_tables
from oncobase.stats.measures import closing_date, last_complete_year
from oncobase.stats.store_views import (
    compute_store_deaths,
    compute_store_incidence,
    compute_store_prevalence,
    compute_store_survival,
)
from oncobase.store import bulk_load
from oncobase.store.ibis import ibis_connection

COUNT_KEYS = ("site_group", "sex", "age_group", "year", "departement")


@pipeline_step(
    "stats",
    stage="stats",
    inputs=("table:condition_occurrence", "table:person", "table:death", "table:location"),
    outputs=(
        "table:stats__incidence",
        "table:stats__survival",
        "table:stats__mortality",
        "table:stats__prevalence",
    ),
    description="Incident cases by site, sex, age, year and département; 1- and 5-year "
    "observed survival by site and sex; deaths among registered cases by site, sex, age, year "
    "of death and département; 1-, 5-, 10-year and complete prevalence at 31 December of each "
    "year by site, sex, age and département.",
)
def compute_registry_figures(ctx: StepContext) -> StepOutcome:
    tables = store_tables(ibis_connection(ctx.backend))
    ctx.progress(0, 4, "incidence")
    incidence = compute_store_incidence(tables, by=COUNT_KEYS)
    # The date vital status is known at: the latest death or diagnosis date in the store
    # (None: neither). Survival is censored there; deaths and prevalence stop at the last
    # year whose end it has reached.
    closing = closing_date(tables)
    ctx.progress(1, 4, "survival")
    survival = compute_store_survival(tables, closing_date=closing or dt.date.today())
    last_year = last_complete_year(closing) if closing is not None else None
    ctx.progress(2, 4, "deaths among cases")
    deaths = compute_store_deaths(tables, last_year=last_year)
    ctx.progress(3, 4, "prevalence")
    prevalence = compute_store_prevalence(tables, last_year=last_year)
    outputs: tuple[tuple[str, pa.Table], ...] = (
        ("stats__incidence", incidence),
        ("stats__survival", survival),
        ("stats__mortality", deaths),
        ("stats__prevalence", prevalence),
    )
    for table, data in outputs:
        ctx.backend.execute(f"DELETE FROM {table}")
        bulk_load(ctx.backend, table, data, step="stats", source="store", run_id=ctx.run_id)
    ctx.progress(4, 4)
    cases = int(incidence.column("cases").to_numpy().sum()) if incidence.num_rows else 0
    died = int(deaths.column("deaths").to_numpy().sum()) if deaths.num_rows else 0
    return StepOutcome(
        rows=sum(data.num_rows for _, data in outputs),
        summary=f"{cases:,} incident cases; survival for {survival.num_rows // 2} groups; "
        f"{died:,} deaths among cases; {prevalence.num_rows:,} prevalence cells",
    )
