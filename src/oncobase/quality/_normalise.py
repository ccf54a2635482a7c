"""Normalisation of tumour records (text fields as a registry sends them) into the typed view
``t`` that the rule predicates read. All in DuckDB SQL: no Python per record."""

from __future__ import annotations

from functools import cache
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from oncobase.vocab import convert_icdo3_to_icd10_arrays, read_source_file

# Canonical input fields (text); all optional. ``tumour_number`` stands in for ``tumour_id``,
# ``registry`` for ``source`` (the names of the registry CSV reader).
INPUT_FIELDS = (
    "patient_id",
    "tumour_id",
    "source",
    "sex",
    "birth_date",
    "incidence_date",
    "topography",
    "morphology",
    "behaviour",
    "grade",
    "basis_of_diagnosis",
    "vital_status",
    "last_contact_or_death_date",
    "age",
    "stage",
)
_ALIASES = {"source": ("registry",)}


def _date_sql(column: str) -> str:
    """ISO ``YYYY-MM-DD``, ``DD/MM/YYYY`` or ``YYYYMMDD``; impossible dates give NULL."""
    c = column
    return (
        f"CASE WHEN length({c}) = 10 AND substr({c}, 5, 1) = '-' THEN try_cast({c} AS DATE) "
        f"WHEN length({c}) = 10 AND substr({c}, 3, 1) = '/' THEN try_cast(substr({c}, 7, 4) "
        f"|| '-' || substr({c}, 4, 2) || '-' || substr({c}, 1, 2) AS DATE) "
        f"WHEN length({c}) = 8 AND regexp_full_match({c}, '[0-9]{{8}}') THEN try_cast("
        f"substr({c}, 1, 4) || '-' || substr({c}, 5, 2) || '-' || substr({c}, 7, 2) AS DATE) END"
    )


_NORMALISE_SQL = f"""
CREATE OR REPLACE TEMP TABLE t AS
WITH s AS (
  SELECT rec,
    nullif(trim(patient_id), '') AS patient_id,
    nullif(trim(tumour_id), '') AS tumour_id,
    coalesce(nullif(trim(source), ''), 'unknown') AS source,
    nullif(upper(trim(sex)), '') AS sex_raw,
    nullif(trim(birth_date), '') AS birth_raw,
    nullif(trim(incidence_date), '') AS incidence_raw,
    nullif(trim(last_contact_or_death_date), '') AS last_raw,
    nullif(upper(trim(topography)), '') AS topo_raw,
    nullif(trim(morphology), '') AS morph_raw,
    coalesce(nullif(trim(behaviour), ''),
             nullif(regexp_extract(trim(morphology), '^[0-9]{{4}}/([0-9])$', 1), ''))
      AS behaviour_raw,
    nullif(upper(trim(grade)), '') AS grade_raw,
    nullif(trim(basis_of_diagnosis), '') AS basis_raw,
    nullif(trim(vital_status), '') AS vital_raw,
    nullif(trim(age), '') AS age_raw,
    nullif(trim(stage), '') AS stage_raw
  FROM raw
), p AS (
  SELECT s.*,
    CASE WHEN sex_raw IN ('1', 'M') THEN 1 WHEN sex_raw IN ('2', 'F') THEN 2
         WHEN sex_raw = '9' THEN 9 END AS sex,
    {_date_sql("birth_raw")} AS birth_date,
    {_date_sql("incidence_raw")} AS incidence_date,
    {_date_sql("last_raw")} AS last_date,
    CASE WHEN regexp_full_match(coalesce(topo_raw, ''), 'C[0-9]{{2}}\\.?[0-9]')
         THEN replace(topo_raw, '.', '') END AS topo_candidate,
    CASE WHEN regexp_full_match(coalesce(morph_raw, ''), '[0-9]{{4}}(/[0-9])?')
         THEN CAST(substr(morph_raw, 1, 4) AS INTEGER) END AS morph_candidate,
    CASE WHEN regexp_full_match(coalesce(behaviour_raw, ''), '[0-9]')
         THEN CAST(behaviour_raw AS INTEGER) END AS behaviour,
    CASE WHEN regexp_full_match(coalesce(grade_raw, ''), '[1-9]') THEN CAST(grade_raw AS INTEGER)
         WHEN regexp_full_match(coalesce(grade_raw, ''), 'G[1-4]')
           THEN CAST(substr(grade_raw, 2, 1) AS INTEGER)
         WHEN grade_raw IN ('GX', 'G9') THEN 9 END AS grade,
    CASE WHEN regexp_full_match(coalesce(basis_raw, ''), '[01245679]')
         THEN CAST(basis_raw AS INTEGER) END AS basis,
    CASE WHEN regexp_full_match(coalesce(vital_raw, ''), '[129]')
         THEN CAST(vital_raw AS INTEGER) END AS vital_status,
    CASE WHEN regexp_full_match(coalesce(age_raw, ''), '[0-9]{{1,3}}')
         THEN CAST(age_raw AS INTEGER) END AS age_stated
  FROM s
)
SELECT p.* EXCLUDE (topo_candidate, morph_candidate),
  k.code AS topo,
  substr(k.code, 1, 3) AS topo3,
  CASE WHEN morph_candidate BETWEEN 8000 AND 9993 THEN morph_candidate END AS morph,
  CASE WHEN birth_date IS NOT NULL AND incidence_date IS NOT NULL THEN
    year(incidence_date) - year(birth_date)
    - CASE WHEN month(incidence_date) * 100 + day(incidence_date)
                < month(birth_date) * 100 + day(birth_date) THEN 1 ELSE 0 END
  END AS age,
  year(incidence_date) AS year
FROM p LEFT JOIN lk_topography k ON k.code = p.topo_candidate
"""

_ICD10_SQL = """
CREATE OR REPLACE TEMP TABLE t AS
SELECT t.*, c.icd10 FROM t LEFT JOIN lk_icd10 c
  ON c.topo = t.topo AND c.morph = t.morph AND c.behaviour = t.behaviour
"""


@cache
def topography_codes() -> pa.Table:
    """The ICD-O-3 subsite codes of the built-in vocabulary, without the dot (``C504``)."""
    codes = read_source_file("icdo3_topography.csv")["code"]
    subsites = pc.filter(codes, pc.match_substring(codes, "."))
    return pa.table({"code": pc.replace_substring(subsites, ".", "")})


def prepare_input(records: pa.Table) -> pa.Table:
    """The canonical text columns of ``records`` plus ``rec`` (row number); absent fields null."""
    n = records.num_rows
    columns: dict[str, Any] = {"rec": pa.array(range(n), pa.int64())}
    for name in INPUT_FIELDS:
        candidates = (name, *_ALIASES.get(name, ()))
        present = [c for c in candidates if c in records.column_names]
        found = next((c for c in present if records.column(c).null_count < n), None)
        found = found or (present[0] if present else None)
        if found is None:
            columns[name] = pa.nulls(n, pa.string())
            continue
        column = records.column(found)
        if pa.types.is_dictionary(column.type):
            column = column.cast(column.type.value_type)
        columns[name] = pc.cast(column, pa.string())
    if "tumour_id" not in records.column_names and "tumour_number" in records.column_names:
        # A tumour number counts the tumours of one patient: the id is patient/number.
        number = pc.cast(records.column("tumour_number"), pa.string())
        columns["tumour_id"] = pc.binary_join_element_wise(columns["patient_id"], number, "/")
    return pa.table(columns)


def normalise(con: duckdb.DuckDBPyConnection, records: pa.Table) -> None:
    """Create the temp table ``t`` (typed fields, age, ICD-10) from ``records``."""
    con.register("raw", prepare_input(records))
    con.register("lk_topography", topography_codes())
    con.execute(_NORMALISE_SQL)
    con.unregister("raw")
    combos = con.sql(
        "SELECT DISTINCT topo, morph, behaviour FROM t "
        "WHERE topo IS NOT NULL AND morph IS NOT NULL AND behaviour IS NOT NULL"
    ).to_arrow_table()
    topo = pc.binary_join_element_wise(
        pc.utf8_slice_codeunits(combos["topo"], 0, 3),
        pc.utf8_slice_codeunits(combos["topo"], 3, 4),
        ".",
    )
    morph = pc.binary_join_element_wise(
        pc.cast(combos["morph"], pa.string()), pc.cast(combos["behaviour"], pa.string()), "/"
    )
    icd10 = (
        convert_icdo3_to_icd10_arrays(topo, morph) if combos.num_rows else pa.array([], pa.string())
    )
    con.register("lk_icd10", combos.append_column("icd10", icd10))
    con.execute(_ICD10_SQL)
    con.unregister("lk_icd10")
