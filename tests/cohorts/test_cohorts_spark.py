"""The same cohorts on DuckDB and on PySpark: identical members and attrition."""

from __future__ import annotations

import pyarrow as pa
import pytest

from oncobase.cohorts import load_cohort, parse_cohort_yaml, run_cohort
from oncobase.cohorts.build import read_store_tables
from oncobase.store import Backend
from oncobase.store.ibis import spark_connection

RULES = """\
name: lung_rules
title: Lung with every kind of rule
version: "1.0"
entry:
  any_of:
    - icd10: [C34]
inclusion:
  - {type: age, min: 40, max: 95}
  - {type: sex, values: [M, F]}
  - {type: diagnosis_period, start: 2015-01-01, end: 2024-12-31}
  - {type: stage, values: [III, IV]}
  - {type: biomarker, code: EGFR, values: [mutated, wild-type]}
  - {type: treatment, domain: any, window: {start_days: -30, end_days: 365}}
  - {type: no_prior_cancer, years: 5}
  - {type: min_observation, days_before: 365}
exit: {horizon_days: 1826}
"""


@pytest.fixture(scope="module")
def spark_tables(spark: object, truth_rows: dict[str, pa.Table]) -> dict[str, object]:
    for name, table in truth_rows.items():
        spark.createDataFrame(table.to_pandas()).createOrReplaceTempView(name)  # type: ignore[attr-defined]
    con = spark_connection(spark)
    return {name: con.table(name) for name in truth_rows}


@pytest.mark.spark
@pytest.mark.slow  # about 2 min on 2 shared cores (Spark plans for 8 rules)
@pytest.mark.parametrize("name", ["rules"])
def test_duckdb_and_spark_agree(name: str, truth_store: Backend, spark_tables: dict) -> None:
    definition = parse_cohort_yaml(RULES) if name == "rules" else load_cohort(name)
    on_duckdb = run_cohort(read_store_tables(truth_store), definition)
    on_spark = run_cohort(spark_tables, definition)
    columns = ["person_id", "cohort_start_date", "cohort_end_date"]
    assert on_duckdb.members.num_rows > 0
    assert (
        on_spark.members.select(columns).to_pylist()
        == on_duckdb.members.select(columns).to_pylist()
    )
    assert on_spark.attrition.to_pylist() == on_duckdb.attrition.to_pylist()
