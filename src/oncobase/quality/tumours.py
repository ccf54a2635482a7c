"""Tumour-record checks: every rule of ``rules/tumour_rules.yaml`` evaluated as SQL over all
records at once, plus the multiple-primary engine and the registry indicators."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from oncobase.quality._normalise import normalise
from oncobase.quality._rules import RuleSet, build_lookup_tables, load_rules
from oncobase.quality.indicators import compute_indicators
from oncobase.quality.multiple_primaries import MP_CHECK, find_duplicate_tumours

FLAG_ORDER = {"ok": 0, "warning": 1, "error": 2}

FINDING_SCHEMA = pa.schema(
    [
        pa.field("rec", pa.int64()),
        pa.field("tumour_id", pa.string()),
        pa.field("source", pa.string()),
        pa.field("year", pa.int32()),
        pa.field("site", pa.string()),
        pa.field("check_id", pa.string()),
        pa.field("family", pa.string()),
        pa.field("level", pa.string()),
        pa.field("message", pa.string()),
    ]
)


@dataclass(frozen=True, kw_only=True)
class TumourCheckResult:
    """Findings of one check of tumour records.

    ``findings``: one row per (record, rule) that fired (``FINDING_SCHEMA``; ``rec`` is the
    0-based row number of the input). ``flags``: one row per record with its worst level
    (``ok``, ``warning``, ``error``). ``merges``: duplicate tumours and the record kept.
    """

    rules_version: str
    records: int
    findings: pa.Table
    flags: pa.Table
    merges: pa.Table
    indicators: pa.Table
    unavailable: tuple[str, ...] = field(default=())

    def count_records(self, flag: str) -> int:
        """Records whose worst finding is ``flag`` (ok, warning or error)."""
        return int(pc.sum(pc.equal(self.flags["flag"], flag)).as_py() or 0)

    def count_by_rule(self) -> dict[str, int]:
        """Findings per rule id (rules that never fired are absent)."""
        if self.findings.num_rows == 0:
            return {}
        counts = self.findings.group_by("check_id").aggregate([("rec", "count")])
        return dict(
            zip(counts["check_id"].to_pylist(), counts["rec_count"].to_pylist(), strict=True)
        )

    def summary(self) -> dict[str, Any]:
        """Plain JSON-able counts, no identifiers."""
        return {
            "rules_version": self.rules_version,
            "records": self.records,
            "ok": self.count_records("ok"),
            "warning": self.count_records("warning"),
            "error": self.count_records("error"),
            "findings": self.findings.num_rows,
            "by_rule": self.count_by_rule(),
            "duplicates_merged": self.merges.num_rows,
        }

    def to_records(self) -> list[dict[str, Any]]:
        """One object per tumour: ``tumour_id``, ``flag`` and ``findings`` (check, level,
        message), in input order (the CLI's JSON)."""
        by_rec: dict[int, list[dict[str, str]]] = {}
        for rec, check, level, message in zip(
            self.findings["rec"].to_pylist(),
            self.findings["check_id"].to_pylist(),
            self.findings["level"].to_pylist(),
            self.findings["message"].to_pylist(),
            strict=True,
        ):
            by_rec.setdefault(rec, []).append({"check": check, "level": level, "message": message})
        return [
            {"tumour_id": tid, "flag": flag, "findings": by_rec.get(rec, [])}
            for rec, tid, flag in zip(
                self.flags["rec"].to_pylist(),
                self.flags["tumour_id"].to_pylist(),
                self.flags["flag"].to_pylist(),
                strict=True,
            )
        ]


def connect_checker() -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection holding the lookup tables."""
    con = duckdb.connect()
    for name, table in build_lookup_tables().items():
        con.register(name, table)
    return con


def _rules_sql(rules: RuleSet, *, as_of: dt.date) -> str:
    parts = [
        f"SELECT rec, '{rule.id}' AS check_id FROM t "
        f"WHERE coalesce(({rule.when.format(as_of=repr(as_of.isoformat()))}), false)"
        for rule in rules.rules
        if rule.when is not None
    ]
    return "\nUNION ALL\n".join(parts)


def check_tumours(
    records: pa.Table,
    *,
    as_of: dt.date | None = None,
    rules: RuleSet | None = None,
    unavailable: tuple[str, ...] = (),
) -> TumourCheckResult:
    """Check tumour records (canonical registry fields as text; see docs/quality.md).

    ``unavailable`` names indicators whose field the input cannot carry (e.g. the basis of
    diagnosis of tumours read back from the OMOP store).
    """
    rules = rules or load_rules()
    as_of = as_of or dt.date.today()
    con = connect_checker()
    try:
        normalise(con, records)
        fired = con.sql(_rules_sql(rules, as_of=as_of)).to_arrow_table()
        merges = find_duplicate_tumours(con)
        mp = pa.table(
            {"rec": merges["rec"], "check_id": pa.array([MP_CHECK] * merges.num_rows, pa.string())}
        )
        fired = pa.concat_tables([fired.cast(mp.schema), mp])
        meta = pa.table(
            {
                "check_id": [r.id for r in rules.rules],
                "family": [r.family for r in rules.rules],
                "level": [r.level for r in rules.rules],
                "message": [r.message for r in rules.rules],
                "rule_order": list(range(len(rules.rules))),
            }
        )
        con.register("fired", fired)
        con.register("meta", meta)
        con.register("merges", merges)
        findings = con.sql(
            "SELECT f.rec, t.tumour_id, t.source, CAST(t.year AS INTEGER) AS year, "
            "t.topo3 AS site, f.check_id, m.family, m.level, m.message "
            "FROM fired f JOIN meta m USING (check_id) JOIN t USING (rec) "
            "ORDER BY f.rec, m.rule_order"
        ).to_arrow_table()
        flags = con.sql(
            "SELECT t.rec, t.tumour_id, t.source, CAST(t.year AS INTEGER) AS year, "
            "t.topo3 AS site, CASE max(CASE m.level WHEN 'error' THEN 2 WHEN 'warning' THEN 1 "
            "ELSE 0 END) WHEN 2 THEN 'error' WHEN 1 THEN 'warning' ELSE 'ok' END AS flag "
            "FROM t LEFT JOIN fired f USING (rec) LEFT JOIN meta m USING (check_id) "
            "GROUP BY ALL ORDER BY t.rec"
        ).to_arrow_table()
        merge_table = con.sql(
            "SELECT d.rec AS duplicate_rec, d.tumour_id AS duplicate_tumour_id, "
            "k.rec AS kept_rec, k.tumour_id AS kept_tumour_id "
            "FROM merges g JOIN t d ON d.rec = g.rec JOIN t k ON k.rec = g.kept_rec ORDER BY d.rec"
        ).to_arrow_table()
        indicators = compute_indicators(con, unavailable=unavailable)
    finally:
        con.close()
    return TumourCheckResult(
        rules_version=rules.version,
        records=records.num_rows,
        findings=findings.cast(FINDING_SCHEMA),
        flags=flags,
        merges=merge_table,
        indicators=indicators,
        unavailable=unavailable,
    )
