"""Quality runs: tumour checks and DQD-style checks on the store, results saved as data
(``quality__*`` tables), and checks of a registry file."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from oncobase.quality._normalise import INPUT_FIELDS
from oncobase.quality._rules import load_rules
from oncobase.quality.errors import QualityError
from oncobase.quality.label import QualityLabel, assign_labels
from oncobase.quality.store_checks import DQD_FAMILY, StoreCheckResult, run_store_checks
from oncobase.quality.tables import ensure_quality_tables
from oncobase.quality.tumours import TumourCheckResult, check_tumours
from oncobase.store import Backend, bulk_load, table_spec

RULE_THRESHOLDS = {"error": 0.0, "warning": 5.0}  # % of records a tumour rule may flag
STORE_UNAVAILABLE = ("MV_PCT", "DCO_PCT", "MISSING_BASIS_PCT", "MISSING_GRADE_PCT")

# The registry-file layout of `oncobase quality check-registry` (issue 11): canonical names.
CHECK_COLUMNS = (*INPUT_FIELDS, "registry", "tumour_number")

_STORE_TUMOURS_SQL = """
SELECT co.condition_occurrence_id AS record_id,
  CAST(co.person_id AS VARCHAR(40)) AS patient_id,
  CAST(co.condition_occurrence_id AS VARCHAR(40)) AS tumour_id,
  {source} AS source,
  p.gender_concept_id, p.year_of_birth, p.month_of_birth,
  co.condition_start_date AS incidence_date,
  co.condition_status_source_value AS icdo3,
  d.death_date, op.end_date,
  CASE WHEN st.event_id IS NULL THEN 0 ELSE 1 END AS staged
FROM condition_occurrence co
JOIN person p ON p.person_id = co.person_id
LEFT JOIN (SELECT person_id, min(death_date) AS death_date FROM death GROUP BY person_id) d
  ON d.person_id = co.person_id
LEFT JOIN (SELECT person_id, max(observation_period_end_date) AS end_date
           FROM observation_period GROUP BY person_id) op ON op.person_id = co.person_id
LEFT JOIN (SELECT DISTINCT measurement_event_id AS event_id FROM measurement
           WHERE meas_event_field_concept_id = 1147127) st
  ON st.event_id = co.condition_occurrence_id
{source_join}
WHERE co.condition_status_source_value LIKE '____/_-C%'
ORDER BY co.condition_occurrence_id
"""


@dataclass(frozen=True, kw_only=True)
class QualityRun:
    """One run: the tumour-check result, the store checks, the labels and the tables saved."""

    run_id: str
    scope: str
    started_at: dt.datetime
    tumours: TumourCheckResult
    store_checks: tuple[StoreCheckResult, ...]
    labels: tuple[QualityLabel, ...]
    tables: dict[str, pa.Table]


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)


def read_store_tumours(backend: Backend) -> pa.Table:
    """Tumours of the store (registry-coded conditions) as canonical text fields, plus
    ``record_id`` (the condition_occurrence_id). Birth day is unknown in the store: the 1st
    of the birth month (July when the month is unknown) stands in for it."""
    tables = set(backend.list_tables())
    if "ingest__record_keys" in tables:
        source = "coalesce(k.source, 'store')"
        join = (
            "LEFT JOIN (SELECT id, min(source) AS source FROM ingest__record_keys "
            "WHERE table_name = 'condition_occurrence' GROUP BY id) k "
            "ON k.id = co.condition_occurrence_id"
        )
    else:
        source, join = "'store'", ""
    raw = backend.query_arrow(_STORE_TUMOURS_SQL.format(source=source, source_join=join))
    icdo3 = raw["icdo3"]
    morph = pc.utf8_slice_codeunits(icdo3, 0, 4)
    behaviour = pc.utf8_slice_codeunits(icdo3, 5, 6)
    topo = pc.utf8_slice_codeunits(icdo3, 7, 20)
    gender = raw["gender_concept_id"]
    sex = pc.if_else(
        pc.equal(gender, 8507), "1", pc.if_else(pc.equal(gender, 8532), "2", pa.scalar("9"))
    )
    year = pc.cast(raw["year_of_birth"], pa.string())
    month = pc.utf8_lpad(pc.cast(pc.fill_null(raw["month_of_birth"], 7), pa.string()), 2, "0")
    birth = pc.binary_join_element_wise(year, month, "01", "-")
    dead = pc.is_valid(raw["death_date"])
    last = pc.coalesce(raw["death_date"], raw["end_date"])
    stage = pc.if_else(pc.equal(raw["staged"], 1), "staged", pa.scalar(None, pa.string()))
    return pa.table(
        {
            "record_id": raw["record_id"],
            "patient_id": raw["patient_id"],
            "tumour_id": raw["tumour_id"],
            "source": raw["source"],
            "sex": sex,
            "birth_date": birth,
            "incidence_date": pc.cast(raw["incidence_date"], pa.string()),
            "topography": topo,
            "morphology": morph,
            "behaviour": behaviour,
            "vital_status": pc.if_else(dead, "2", "1"),
            "last_contact_or_death_date": pc.cast(last, pa.string()),
            "stage": stage,
        }
    )


def tabulate_tumour_result(
    result: TumourCheckResult, *, run_id: str, record_ids: pa.Array | None = None
) -> dict[str, pa.Table]:
    """The quality__results / issues / indicators rows of a tumour check (no identifiers:
    ``record_id`` is the store's own id, or the 1-based row number of a file)."""
    rules = load_rules()
    flags = result.flags
    sources = sorted(set(flags["source"].to_pylist()))
    per_source = {s: int(pc.sum(pc.equal(flags["source"], s)).as_py() or 0) for s in sources}
    counts: dict[tuple[str, str], int] = {}
    if result.findings.num_rows:
        grouped = result.findings.group_by(["check_id", "source"]).aggregate([("rec", "count")])
        for check, source, n in zip(
            grouped["check_id"].to_pylist(),
            grouped["source"].to_pylist(),
            grouped["rec_count"].to_pylist(),
            strict=True,
        ):
            counts[(check, source)] = n
    rows = []
    for source in sources:
        for rule in rules.rules:
            failed = counts.get((rule.id, source), 0)
            checked = per_source[source]
            pct = 100.0 * failed / checked if checked else 0.0
            threshold = RULE_THRESHOLDS[rule.level]
            rows.append(
                {
                    "run_id": run_id,
                    "check_id": rule.id,
                    "family": rule.family,
                    "level": rule.level,
                    "category": "Plausibility/Atemporal",
                    "table_name": "tumour",
                    "field_name": ",".join(rule.fields),
                    "source": source,
                    "year": None,
                    "records_checked": checked,
                    "records_failed": failed,
                    "pct_failed": pct,
                    "threshold": threshold,
                    "status": "failed" if pct > threshold else "passed",
                }
            )
    rec = result.findings["rec"]
    ids = (
        pc.take(record_ids, rec)
        if record_ids is not None
        else pc.add(rec, pa.scalar(1, pa.int64()))
    )
    n = result.findings.num_rows
    issues = pa.table(
        {
            "run_id": pa.array([run_id] * n, pa.string()),
            "check_id": result.findings["check_id"],
            "level": result.findings["level"],
            "source": result.findings["source"],
            "table_name": pa.array(
                ["condition_occurrence" if record_ids is not None else "file"] * n, pa.string()
            ),
            "record_id": pc.cast(ids, pa.int64()),
            "year": result.findings["year"],
            "site": result.findings["site"],
        }
    )
    ind = result.indicators
    indicators = ind.add_column(0, "run_id", pa.array([run_id] * ind.num_rows, pa.string()))
    return {
        "quality__results": _conform("quality__results", pa.Table.from_pylist(rows)),
        "quality__issues": _conform("quality__issues", issues),
        "quality__indicators": _conform("quality__indicators", indicators),
    }


def _conform(name: str, data: pa.Table) -> pa.Table:
    schema = table_spec(name).arrow_schema
    if data.num_rows == 0:
        return schema.empty_table()
    return pa.table({f.name: pc.cast(data[f.name], f.type) for f in schema}, schema=schema)


def _store_result_rows(run_id: str, checks: tuple[StoreCheckResult, ...]) -> pa.Table:
    rows = [
        {
            "run_id": run_id,
            "check_id": c.check_id,
            "family": DQD_FAMILY,
            "level": c.level,
            "category": c.category,
            "table_name": c.table,
            "field_name": c.field,
            "source": None,
            "year": None,
            "records_checked": c.checked,
            "records_failed": c.failed,
            "pct_failed": c.pct_failed,
            "threshold": c.threshold,
            "status": c.status,
        }
        for c in checks
    ]
    return (
        _conform("quality__results", pa.Table.from_pylist(rows))
        if rows
        else _conform("quality__results", pa.table({}))
    )


def _flags_by_source(result: TumourCheckResult) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    if result.flags.num_rows == 0:
        return out
    grouped = result.flags.group_by(["source", "flag"]).aggregate([("rec", "count")])
    for source, flag, n in zip(
        grouped["source"].to_pylist(),
        grouped["flag"].to_pylist(),
        grouped["rec_count"].to_pylist(),
        strict=True,
    ):
        out.setdefault(source, {})[flag] = n
    return out


def _label_rows(run_id: str, labels: tuple[QualityLabel, ...]) -> pa.Table:
    rows = [
        {
            "run_id": run_id,
            "source": x.source,
            "label": x.label,
            "records": x.records,
            "error_pct": x.error_pct,
            "warning_pct": x.warning_pct,
            "checks_failed": x.checks_failed,
            "reason": x.reason,
        }
        for x in labels
    ]
    return (
        _conform("quality__labels", pa.Table.from_pylist(rows))
        if rows
        else _conform("quality__labels", pa.table({}))
    )


def assemble_run(
    result: TumourCheckResult,
    *,
    scope: str,
    started_at: dt.datetime,
    store_checks: tuple[StoreCheckResult, ...] = (),
    record_ids: pa.Array | None = None,
    run_id: str | None = None,
) -> QualityRun:
    """Labels and result tables of a finished check."""
    run_id = run_id or str(uuid.uuid4())
    failed = sum(1 for c in store_checks if c.status == "failed" and c.level == "error")
    labels = tuple(assign_labels(_flags_by_source(result), checks_failed=failed))
    tables = tabulate_tumour_result(result, run_id=run_id, record_ids=record_ids)
    tables["quality__results"] = pa.concat_tables(
        [tables["quality__results"], _store_result_rows(run_id, store_checks)]
    )
    tables["quality__labels"] = _label_rows(run_id, labels)
    overall = assign_labels(
        {"all": {k: result.count_records(k) for k in ("ok", "warning", "error")}},
        checks_failed=failed,
    )[0]
    run_row = {
        "run_id": run_id,
        "scope": scope,
        "started_at": started_at,
        "ended_at": _now(),
        "rules_version": result.rules_version,
        "records": result.records,
        "error_records": result.count_records("error"),
        "warning_records": result.count_records("warning"),
        "checks_failed": failed,
        "label": overall.label,
    }
    tables["quality__runs"] = _conform("quality__runs", pa.Table.from_pylist([run_row]))
    return QualityRun(
        run_id=run_id,
        scope=scope,
        started_at=started_at,
        tumours=result,
        store_checks=store_checks,
        labels=labels,
        tables=tables,
    )


def save_run(backend: Backend, run: QualityRun) -> None:
    """Append a run's rows to the quality tables, in one transaction."""
    ensure_quality_tables(backend)
    with backend.transaction():
        for name in ("quality__runs", "quality__results", "quality__issues",
                     "quality__indicators", "quality__labels"):  # fmt: skip
            bulk_load(backend, name, run.tables[name], step="quality", source="store")


def run_quality(backend: Backend, *, as_of: dt.date | None = None) -> QualityRun:
    """Check the store: tumour rules on its registry-coded tumours, DQD-style checks on the
    OMOP tables; save the results and return them."""
    started = _now()
    ensure_quality_tables(backend)
    needed = {"condition_occurrence", "person", "death", "observation_period", "measurement"}
    missing = needed - set(backend.list_tables())
    if missing:
        raise QualityError(
            f"The store lacks the table(s) {sorted(missing)}: run `oncobase init` first"
        )
    tumours = read_store_tumours(backend)
    result = check_tumours(
        tumours.drop_columns(["record_id"]), as_of=as_of, unavailable=STORE_UNAVAILABLE
    )
    store_checks = tuple(run_store_checks(backend))
    run = assemble_run(
        result,
        scope="store",
        started_at=started,
        store_checks=store_checks,
        record_ids=tumours["record_id"],
    )
    save_run(backend, run)
    return run


def read_check_file(path: Path, *, mapping_path: Path | None = None) -> pa.Table:
    """A registry CSV as canonical text fields: the issue-11 layout (``patient_id, tumour_id,
    sex, birth_date, …``) by default, or any layout through a registry mapping file."""
    from oncobase.ingest import Quarantine, read_mapping, read_registry_csv
    from oncobase.ingest.registry_csv import RegistryMapping

    if not path.exists():
        raise QualityError(f"input file {path} not found")
    if mapping_path is not None:
        mapping = read_mapping(mapping_path)
    else:
        header = path.read_bytes()[:4096].split(b"\n", 1)[0].decode("utf-8", "replace")
        if "id_patient" in header:
            mapping = read_mapping(None)
        else:
            mapping = RegistryMapping(columns={c: c for c in CHECK_COLUMNS})
    quarantine = Quarantine(source=path.stem)
    try:
        rows, _ = read_registry_csv(path, mapping=mapping, quarantine=quarantine)
    except Exception as exc:  # IngestError carries a clean message
        raise QualityError(str(exc)) from None
    if len(quarantine):
        raise QualityError(
            f"{path}: {len(quarantine)} line(s) have the wrong number of fields; fix them first"
        )
    return rows.drop_columns(["_line"])


def check_registry_file(
    path: Path, *, mapping_path: Path | None = None, as_of: dt.date | None = None
) -> QualityRun:
    """Check one registry CSV (not saved to the store)."""
    started = _now()
    rows = read_check_file(path, mapping_path=mapping_path)
    fallback = pa.array([path.stem] * rows.num_rows, pa.string())
    named = [rows[c] for c in ("source", "registry") if c in rows.column_names]
    source = pc.coalesce(
        *[pc.if_else(pc.equal(c, ""), pa.scalar(None, pa.string()), c) for c in named], fallback
    )
    rows = rows.drop_columns([c for c in ("source", "registry") if c in rows.column_names])
    rows = rows.append_column("source", source)
    result = check_tumours(rows, as_of=as_of)
    return assemble_run(result, scope="registry-file", started_at=started)


def describe_run(run: QualityRun) -> dict[str, Any]:
    """Run-level counts (JSON-able, no identifiers)."""
    return {
        "run_id": run.run_id,
        "scope": run.scope,
        **run.tumours.summary(),
        "labels": [x.__dict__ for x in run.labels],
        "store_checks_failed": sum(1 for c in run.store_checks if c.status == "failed"),
    }
