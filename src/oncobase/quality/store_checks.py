"""OMOP store checks in the style of the OHDSI Data Quality Dashboard.

Check types, thresholds and sources are data (``rules/store_checks.yaml``); the concrete
checks are generated from the store's table spec (required, primary-key and foreign-key
columns) and from the DQD table-level file (``rules/dqd_tables.csv``). Each check is one
portable SQL query returning the rows checked and the rows failing; nothing is read per row.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import cache
from typing import Any

import yaml

from oncobase.quality._rules import read_rule_csv, read_rule_text
from oncobase.store import Backend, omop_tables, quote_ident

DQD_FAMILY = "dqd"


@dataclass(frozen=True, kw_only=True)
class StoreCheck:
    """One generated check: its type (DQD name), table, field and SQL."""

    check_id: str
    category: str
    level: str
    threshold: float
    table: str
    field: str | None
    sql: str  # returns one row: checked, failed


@dataclass(frozen=True, kw_only=True)
class StoreCheckResult:
    check_id: str
    category: str
    level: str
    table: str
    field: str | None
    checked: int
    failed: int
    threshold: float
    status: str  # passed, failed, not_applicable

    @property
    def pct_failed(self) -> float | None:
        return 100.0 * self.failed / self.checked if self.checked else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "check_id": self.check_id,
            "category": self.category,
            "level": self.level,
            "table": self.table,
            "field": self.field,
            "checked": self.checked,
            "failed": self.failed,
            "pct_failed": self.pct_failed,
            "threshold": self.threshold,
            "status": self.status,
        }


@cache
def load_store_check_types() -> dict[str, dict[str, Any]]:
    """The check types of ``rules/store_checks.yaml``."""
    data: dict[str, Any] = yaml.safe_load(read_rule_text("store_checks.yaml"))
    return dict(data["checks"])


def _q(name: str) -> str:
    return quote_ident(name)


def _check(kind: str, table: str, field: str | None, sql: str, **override: Any) -> StoreCheck:
    meta = load_store_check_types()[kind]
    return StoreCheck(
        check_id=kind,
        category=str(meta["category"]),
        level=str(override.get("level", meta["level"])),
        threshold=float(override.get("threshold", meta["threshold"])),
        table=table,
        field=field,
        sql=sql,
    )


def build_store_checks(present: set[str], *, nonempty: set[str]) -> list[StoreCheck]:
    """Every applicable check for the tables ``present`` in the store (``nonempty``: those
    with rows; a foreign key to an empty table is not checked)."""
    types = load_store_check_types()
    checks: list[StoreCheck] = []
    dqd_tables = read_rule_csv("dqd_tables.csv")
    for row in dqd_tables:
        if row["required"] == "Y":
            failed = 0 if row["table"] in present else 1
            checks.append(
                _check("cdmTable", row["table"], None, f"SELECT 1 AS checked, {failed} AS failed")
            )
    for spec in omop_tables():
        if spec.group != "CDM" or spec.name not in nonempty:
            continue
        t = _q(spec.name)
        for col in spec.columns:
            c = _q(col.name)
            if col.required:
                checks.append(
                    _check(
                        "isRequired",
                        spec.name,
                        col.name,
                        f"SELECT count(*), count(*) - count({c}) FROM {t}",
                    )
                )
            if col.fk_table and col.fk_column and col.fk_table in nonempty:
                ref, refc = _q(col.fk_table), _q(col.fk_column)
                zero_ok = f" AND x.{c} <> 0" if col.fk_table == "concept" else ""
                checks.append(
                    _check(
                        "isForeignKey",
                        spec.name,
                        col.name,
                        f"SELECT count(x.{c}), count(x.{c}) FILTER (WHERE r.{refc} IS NULL"
                        f"{zero_ok}) FROM {t} x LEFT JOIN {ref} r ON r.{refc} = x.{c}",
                    )
                )
        if spec.primary_key:
            keys = ", ".join(_q(k) for k in spec.primary_key)
            checks.append(
                _check(
                    "isPrimaryKey",
                    spec.name,
                    ",".join(spec.primary_key),
                    f"SELECT count(*), count(*) - (SELECT count(*) FROM "
                    f"(SELECT DISTINCT {keys} FROM {t}) d) FROM {t}",
                )
            )
    if "concept" in nonempty:
        for table, field in types["isStandardValidConcept"]["fields"]:
            if table in nonempty:
                checks.append(
                    _check(
                        "isStandardValidConcept",
                        table,
                        field,
                        f"SELECT count(*), count(*) FILTER (WHERE c.concept_id IS NULL OR "
                        f"c.standard_concept IS NULL OR c.standard_concept <> 'S' OR "
                        f"c.invalid_reason IS NOT NULL) FROM {_q(table)} x LEFT JOIN concept c "
                        f"ON c.concept_id = x.{_q(field)} WHERE x.{_q(field)} <> 0",
                    )
                )
    if "person" in nonempty:
        for kind, op in (("plausibleValueLow", "<"), ("plausibleValueHigh", ">")):
            for table, field, bound in types[kind]["fields"]:
                value = str(bound).replace("{current_year}", str(dt.date.today().year))
                checks.append(
                    _check(
                        kind,
                        table,
                        field,
                        f"SELECT count({_q(field)}), count(*) FILTER (WHERE {_q(field)} {op} "
                        f"{int(value)}) FROM {_q(table)}",
                    )
                )
        for table, field in types["plausibleAfterBirth"]["fields"]:
            if table in nonempty:
                checks.append(
                    _check(
                        "plausibleAfterBirth",
                        table,
                        field,
                        f"SELECT count(x.{_q(field)}), count(*) FILTER (WHERE "
                        f"EXTRACT(YEAR FROM x.{_q(field)}) < p.year_of_birth) FROM {_q(table)} x "
                        "JOIN person p ON p.person_id = x.person_id",
                    )
                )
    if "death" in nonempty:
        for table, field in types["plausibleBeforeDeath"]["fields"]:
            if table in nonempty:
                checks.append(
                    _check(
                        "plausibleBeforeDeath",
                        table,
                        field,
                        f"SELECT count(x.{_q(field)}), count(*) FILTER (WHERE x.{_q(field)} > "
                        f"d.death_date + INTERVAL '60 days') FROM {_q(table)} x "
                        "LEFT JOIN (SELECT person_id, min(death_date) AS death_date FROM death "
                        "GROUP BY person_id) d ON d.person_id = x.person_id",
                    )
                )
    for table, start, end in types["plausibleStartBeforeEnd"]["fields"]:
        if table in nonempty:
            checks.append(
                _check(
                    "plausibleStartBeforeEnd",
                    table,
                    end,
                    f"SELECT count({_q(end)}), count(*) FILTER (WHERE {_q(end)} < {_q(start)}) "
                    f"FROM {_q(table)}",
                )
            )
    if {"condition_occurrence", "person"} <= nonempty:
        checks.append(
            _check(
                "plausibleGender",
                "condition_occurrence",
                "condition_source_value",
                "SELECT count(*), count(*) FILTER (WHERE (p.gender_concept_id = 8507 AND "
                "substr(x.condition_source_value, 1, 3) BETWEEN 'C51' AND 'C58') OR "
                "(p.gender_concept_id = 8532 AND substr(x.condition_source_value, 1, 3) "
                "BETWEEN 'C60' AND 'C63')) FROM condition_occurrence x "
                "JOIN person p ON p.person_id = x.person_id "
                "WHERE x.condition_source_value LIKE 'C%'",
            )
        )
    if "person" in nonempty:
        counted = set(types["measurePersonCompleteness"].get("counted", ()))
        for row in dqd_tables:
            if row["measure_person_completeness"] == "Y" and row["table"] in present:
                table = row["table"]
                checks.append(
                    _check(
                        "measurePersonCompleteness",
                        table,
                        None,
                        f"SELECT count(*), count(*) FILTER (WHERE NOT EXISTS (SELECT 1 FROM "
                        f"{_q(table)} x WHERE x.person_id = p.person_id)) FROM person p",
                        level="warning" if table in counted else "info",
                        threshold=float(row["threshold"] or 0),
                    )
                )
    return checks


def run_store_checks(backend: Backend) -> list[StoreCheckResult]:
    """Run every applicable DQD-style check on the store."""
    present = set(backend.list_tables())
    cdm = {s.name for s in omop_tables()}
    nonempty = {name for name in present & cdm if backend.count_rows(name) > 0}
    results = []
    for check in build_store_checks(present, nonempty=nonempty):
        answer = backend.query_arrow(check.sql)
        checked = int(answer.column(0)[0].as_py() or 0)
        failed = int(answer.column(1)[0].as_py() or 0)
        pct = 100.0 * failed / checked if checked else 0.0
        if checked == 0:
            status = "not_applicable"
        elif check.level == "info":
            status = "passed"
        else:
            status = "failed" if pct > check.threshold else "passed"
        results.append(
            StoreCheckResult(
                check_id=check.check_id,
                category=check.category,
                level=check.level,
                table=check.table,
                field=check.field,
                checked=checked,
                failed=failed,
                threshold=check.threshold,
                status=status,
            )
        )
    return results
