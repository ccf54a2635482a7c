"""Pipeline step of the statistics domain: registry figures from the store."""

from __future__ import annotations

import datetime as dt

from oncobase.pipeline import StepContext, StepOutcome, pipeline_step
from oncobase.stats.cases import store_tables
from oncobase.stats.store_views import compute_store_incidence, compute_store_survival
from oncobase.store import Backend, bulk_load
from oncobase.store.ibis import ibis_connection


def latest_date_in_store(backend: Backend) -> dt.date:
    """The date vital status is known at: the latest death or diagnosis date in the store."""
    value = backend.scalar(
        "SELECT max(d) FROM (SELECT max(death_date) AS d FROM death UNION ALL "
        "SELECT max(condition_start_date) FROM condition_occurrence) AS t"
    )
    return value if isinstance(value, dt.date) else dt.date.today()


@pipeline_step(
    "stats",
    stage="stats",
    inputs=("table:condition_occurrence", "table:person", "table:death", "table:location"),
    outputs=("table:stats__incidence", "table:stats__survival"),
    description="Incident cases by site, sex, age, year and département; 1- and 5-year "
    "observed survival by site and sex.",
)
def compute_registry_figures(ctx: StepContext) -> StepOutcome:
    tables = store_tables(ibis_connection(ctx.backend))
    ctx.progress(0, 2, "incidence")
    incidence = compute_store_incidence(
        tables, by=("site_group", "sex", "age_group", "year", "departement")
    )
    ctx.progress(1, 2, "survival")
    survival = compute_store_survival(tables, closing_date=latest_date_in_store(ctx.backend))
    for table, data in (("stats__incidence", incidence), ("stats__survival", survival)):
        ctx.backend.execute(f"DELETE FROM {table}")
        bulk_load(ctx.backend, table, data, step="stats", source="store", run_id=ctx.run_id)
    ctx.progress(2, 2)
    cases = int(incidence.column("cases").to_numpy().sum()) if incidence.num_rows else 0
    return StepOutcome(
        rows=incidence.num_rows + survival.num_rows,
        summary=f"{cases:,} incident cases; survival for {survival.num_rows // 2} groups",
    )
