"""Registry quality indicators (ECIS / ENCR-JRC): MV %, DCO %, PSU %, UM %, a mortality to
incidence proxy and the completeness of stage, grade, morphology and basis of diagnosis, by
source, year and site (ICD-10 3-character category), on the normalised view ``t``."""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import pyarrow as pa


@dataclass(frozen=True, kw_only=True)
class Indicator:
    """One indicator: its numerator as SQL (a boolean over ``t``), a threshold and a source."""

    id: str
    label: str
    numerator: str
    denominator: str
    threshold: float | None  # the highest acceptable value (%), None = descriptive
    source: str


_ECIS = "ECIS data-quality indicators (NOTES_QUALITY.md §1; Giusti 2023)"
INDICATORS: tuple[Indicator, ...] = (
    Indicator(
        id="MV_PCT",
        label="microscopically verified (%)",
        numerator="basis IN (5, 6, 7)",
        denominator="TRUE",
        threshold=None,
        source=_ECIS,
    ),
    Indicator(
        id="DCO_PCT",
        label="death certificate only (%)",
        numerator="basis = 0",
        denominator="TRUE",
        threshold=5.0,
        source=_ECIS,
    ),
    Indicator(
        id="PSU_PCT",
        label="primary site unknown (%)",
        numerator="topo3 = 'C80' OR icd10 LIKE 'C80%'",
        denominator="TRUE",
        threshold=5.0,
        source=_ECIS,
    ),
    Indicator(
        id="UM_PCT",
        label="unspecified morphology 8000-8005 (%)",
        numerator="morph BETWEEN 8000 AND 8005",
        denominator="TRUE",
        threshold=10.0,
        source=_ECIS,
    ),
    Indicator(
        id="MI_RATIO",
        label="deaths among the cases in the year / incident cases (M:I proxy, %)",
        numerator="vital_status = 2 AND year(last_date) = year",
        denominator="TRUE",
        threshold=None,
        source=_ECIS + "; proxy without national mortality counts (docs/quality.md)",
    ),
    Indicator(
        id="MISSING_STAGE_PCT",
        label="stage missing (%)",
        numerator="stage_raw IS NULL",
        denominator="TRUE",
        threshold=30.0,
        source="Issue 11 completeness; DQD measureValueCompleteness (NOTES_QUALITY.md §4)",
    ),
    Indicator(
        id="MISSING_GRADE_PCT",
        label="grade missing or unknown (%)",
        numerator="grade IS NULL OR grade = 9",
        denominator="morph < 9590 OR morph IS NULL",
        threshold=40.0,
        source="Issue 11 completeness; DQD measureValueCompleteness (NOTES_QUALITY.md §4)",
    ),
    Indicator(
        id="MISSING_MORPHOLOGY_PCT",
        label="morphology missing (%)",
        numerator="morph IS NULL",
        denominator="TRUE",
        threshold=1.0,
        source="Issue 11 completeness; DQD measureValueCompleteness (NOTES_QUALITY.md §4)",
    ),
    Indicator(
        id="MISSING_BASIS_PCT",
        label="basis of diagnosis missing or unknown (%)",
        numerator="basis IS NULL OR basis = 9",
        denominator="TRUE",
        threshold=5.0,
        source="Issue 11 completeness; ECIS MV% needs the basis (NOTES_QUALITY.md §1)",
    ),
)

INDICATOR_SCHEMA = pa.schema(
    [
        pa.field("source", pa.string()),
        pa.field("year", pa.int32()),
        pa.field("site_group", pa.string()),
        pa.field("indicator", pa.string()),
        pa.field("numerator", pa.int64()),
        pa.field("denominator", pa.int64()),
        pa.field("value", pa.float64()),
        pa.field("threshold", pa.float64()),
    ]
)


def compute_indicators_sql(*, unavailable: tuple[str, ...] = ()) -> str:
    """One query: every indicator by (source, year, site) and by source alone (site 'ALL').

    ``unavailable`` names indicators whose field the input does not carry (their value is null).
    """
    parts = []
    for ind in INDICATORS:
        if ind.id in unavailable:
            num = "CAST(NULL AS BIGINT)"
        else:
            both = f"({ind.denominator}) AND ({ind.numerator})"
            num = f"count(*) FILTER (WHERE coalesce({both}, false))"
        den = f"count(*) FILTER (WHERE coalesce({ind.denominator}, false))"
        threshold = "NULL" if ind.threshold is None else repr(ind.threshold)
        parts.append(
            f"SELECT source, year, site_group, '{ind.id}' AS indicator, {num} AS numerator, "
            f"{den} AS denominator, CAST({threshold} AS DOUBLE) AS threshold, "
            "GROUPING(year, site_group) AS g "
            "FROM (SELECT *, coalesce(substr(icd10, 1, 3), topo3, 'unknown') AS site_group "
            "FROM t WHERE incidence_date IS NOT NULL) "
            "GROUP BY GROUPING SETS ((source, year, site_group), (source))"
        )
    union = "\nUNION ALL\n".join(parts)
    return (
        "SELECT source, CAST(year AS INTEGER) AS year, "
        "CASE WHEN g = 3 THEN 'ALL' ELSE site_group END AS site_group, indicator, "
        "CAST(numerator AS BIGINT) AS numerator, CAST(denominator AS BIGINT) AS denominator, "
        "CASE WHEN denominator > 0 THEN 100.0 * numerator / denominator END AS value, threshold "
        f"FROM ({union}) ORDER BY source, indicator, year NULLS FIRST, site_group"
    )


def compute_indicators(
    con: duckdb.DuckDBPyConnection, *, unavailable: tuple[str, ...] = ()
) -> pa.Table:
    """The indicator table (``INDICATOR_SCHEMA``) of the normalised view ``t``."""
    result = con.sql(compute_indicators_sql(unavailable=unavailable)).to_arrow_table()
    return result.select(INDICATOR_SCHEMA.names).cast(INDICATOR_SCHEMA)
