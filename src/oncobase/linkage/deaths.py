"""Vital status from the INSEE death records linked to the person index."""

from __future__ import annotations

import datetime as dt

import duckdb
import pyarrow as pa

VITAL_STATUS_SCHEMA = pa.schema(
    [
        ("person_id", pa.int64()),
        ("vital_status", pa.string()),  # "deceased" or "alive"
        ("death_date", pa.date32()),
        ("censor_date", pa.date32()),  # death date, or the death file's closing date
    ]
)


def vital_status(index: pa.Table, records: pa.Table, *, closing_date: dt.date) -> pa.Table:
    """One row per person with at least one non-death record.

    ``index``: (source, local_id, person_id); ``records``: (source, record_id, source_kind,
    death_date) — death records have ``source_kind = 'deaths'``. A person linked to a death
    record is deceased at the earliest linked death date (on or before ``closing_date``);
    the others are alive, censored at ``closing_date``.
    """
    con = duckdb.connect()
    try:
        con.register("i", index.select(["source", "local_id", "person_id"]))
        con.register("r", records.select(["source", "record_id", "source_kind", "death_date"]))
        query = """
            WITH j AS (
              SELECT i.person_id, r.source_kind, TRY_CAST(r.death_date AS DATE) AS death_date
              FROM i JOIN r ON r.source = i.source AND r.record_id = i.local_id
            ), persons AS (
              SELECT person_id,
                     bool_or(coalesce(source_kind, '') <> 'deaths') AS patient,
                     min(death_date) FILTER (WHERE source_kind = 'deaths'
                                             AND death_date <= $1) AS death_date
              FROM j GROUP BY person_id
            )
            SELECT person_id,
                   CASE WHEN death_date IS NULL THEN 'alive' ELSE 'deceased' END
                     AS vital_status,
                   death_date,
                   coalesce(death_date, $1) AS censor_date
            FROM persons WHERE patient ORDER BY person_id
            """
        result: pa.Table = con.sql(query, params=[closing_date]).to_arrow_table()
        return result.cast(VITAL_STATUS_SCHEMA)
    finally:
        con.close()
