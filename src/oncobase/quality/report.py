"""The quality report (JSON-able dict and HTML) and the summary the web pages read.

One builder serves a run held in memory (a registry file) and a run read back from the
store's ``quality__*`` tables, so both reports have the same shape. No report carries an
identifier: issues are sampled as (check, level, source, year, site, message).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import jinja2
import pyarrow as pa
import pyarrow.compute as pc

from oncobase.quality._rules import load_rules
from oncobase.quality.label import LABEL_THRESHOLDS
from oncobase.quality.run import QualityRun
from oncobase.quality.tables import QUALITY_TABLES, ensure_quality_tables
from oncobase.store import Backend

SAMPLE_SIZE = 20


def _rows(table: pa.Table) -> list[dict[str, Any]]:
    return [
        {k: (v.isoformat() if isinstance(v, dt.date | dt.datetime) else v) for k, v in r.items()}
        for r in table.to_pylist()
    ]


def _count_by(table: pa.Table, keys: list[str]) -> list[dict[str, Any]]:
    if table.num_rows == 0:
        return []
    grouped = table.group_by(keys).aggregate([("check_id", "count")])
    out = _rows(grouped)
    for row in out:
        row["count"] = row.pop("check_id_count")
    return sorted(out, key=lambda r: tuple("" if r[k] is None else str(r[k]) for k in keys))


def assemble_report(tables: dict[str, pa.Table]) -> dict[str, Any]:
    """The report of one run from its ``quality__*`` rows."""
    messages = {r.id: r.message for r in load_rules().rules}
    run = _rows(tables["quality__runs"])[0] if tables["quality__runs"].num_rows else {}
    results = tables["quality__results"]
    issues = tables["quality__issues"]
    tumour = results.filter(pc.not_equal(results["family"], "dqd"))
    store = results.filter(pc.equal(results["family"], "dqd"))
    by_rule = []
    if tumour.num_rows:
        agg = tumour.group_by(["check_id", "family", "level"]).aggregate(
            [("records_failed", "sum"), ("records_checked", "sum")]
        )
        order = {r.id: i for i, r in enumerate(load_rules().rules)}
        for row in agg.to_pylist():
            by_rule.append(
                {
                    "check_id": row["check_id"],
                    "family": row["family"],
                    "level": row["level"],
                    "count": row["records_failed_sum"],
                    "checked": row["records_checked_sum"],
                    "message": messages.get(row["check_id"], ""),
                }
            )
        by_rule.sort(key=lambda r: order.get(r["check_id"], 999))
    sample = issues.slice(0, SAMPLE_SIZE)
    sample_rows = [
        {
            "check_id": r["check_id"],
            "level": r["level"],
            "source": r["source"],
            "year": r["year"],
            "site": r["site"],
            "message": messages.get(r["check_id"], ""),
        }
        for r in sample.to_pylist()
    ]
    indicators = tables["quality__indicators"]
    return {
        "run": run,
        "labels": _rows(tables["quality__labels"]),
        "label_thresholds": {
            k: {"max_error_pct": e, "max_warning_pct": w} for k, (e, w) in LABEL_THRESHOLDS.items()
        },
        "by_rule": by_rule,
        "by_level": _count_by(issues.select(["level", "check_id"]), ["level"]),
        "by_source": _count_by(issues.select(["source", "level", "check_id"]), ["source", "level"]),
        "by_site": _count_by(issues.select(["site", "level", "check_id"]), ["site", "level"]),
        "by_year": _count_by(issues.select(["year", "level", "check_id"]), ["year", "level"]),
        "store_checks": _rows(store.drop_columns(["run_id", "source", "year"])),
        "indicators": _rows(indicators.drop_columns(["run_id"])),
        "sample_issues": sample_rows,
    }


def build_run_report(run: QualityRun) -> dict[str, Any]:
    """The report of a run held in memory."""
    return assemble_report(run.tables)


def read_run_tables(backend: Backend, run_id: str | None = None) -> dict[str, pa.Table] | None:
    """The rows of one run (the latest when ``run_id`` is None), or None without any run."""
    ensure_quality_tables(backend)
    if run_id is None:
        value = backend.scalar(
            "SELECT run_id FROM quality__runs ORDER BY started_at DESC, ended_at DESC LIMIT 1"
        )
        if value is None:
            return None
        run_id = str(value)
    out = {}
    for spec in QUALITY_TABLES:
        table = backend.query_arrow(f"SELECT * FROM {spec.name} WHERE run_id = $1", (run_id,))
        out[spec.name] = table.select(list(spec.column_names))
    if out["quality__runs"].num_rows == 0:
        return None
    return out


def build_store_report(backend: Backend, run_id: str | None = None) -> dict[str, Any] | None:
    """The report of a saved run (the latest by default), or None when no run was saved."""
    tables = read_run_tables(backend, run_id)
    return None if tables is None else assemble_report(tables)


_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("oncobase.quality", "templates"),
    autoescape=jinja2.select_autoescape(["html", "j2"]),
    undefined=jinja2.StrictUndefined,
)


def render_html_report(report: dict[str, Any]) -> str:
    """The report as one self-contained HTML page."""
    return _ENV.get_template("report.html.j2").render(report=report)


def write_report(report: dict[str, Any], path: Path) -> Path:
    """Write the report as HTML (``.html``) or JSON (any other suffix)."""
    import json

    if path.suffix.lower() in (".html", ".htm"):
        path.write_text(render_html_report(report), encoding="utf-8")
    else:
        path.write_text(json.dumps(report, indent=2, default=str), encoding="utf-8")
    return path


def quality_summary(backend: Backend) -> dict[str, Any]:
    """What the web pages show: the last run, counts by rule and level, the label per source
    and a sample of issues, all plain JSON-able values and no identifiers."""
    report = build_store_report(backend)
    if report is None:
        return {"last_run": None, "by_rule": [], "by_level": [], "labels": [], "sample_issues": []}
    return {
        "last_run": report["run"],
        "by_rule": [r for r in report["by_rule"] if r["count"]],
        "by_level": report["by_level"],
        "labels": [{k: v for k, v in x.items() if k != "run_id"} for x in report["labels"]],
        "store_checks_failed": sum(1 for c in report["store_checks"] if c["status"] == "failed"),
        "sample_issues": report["sample_issues"],
    }
