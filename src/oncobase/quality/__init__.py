"""Data quality as cancer registries and OHDSI practise it.

Tumour-record checks (IARC/IACR CHECK and JRC-ENCR QCS rules, as data), multiple primaries
(IARC/IACR/ENCR 2004), DQD-style checks of the OMOP store, registry indicators, a report
(HTML, JSON) and a quality label per source. See docs/quality.md.
"""

from __future__ import annotations

from oncobase.quality._rules import Rule, RuleSet, load_rules
from oncobase.quality.errors import QualityError
from oncobase.quality.indicators import INDICATORS, Indicator
from oncobase.quality.label import LABEL_THRESHOLDS, QualityLabel, assign_label
from oncobase.quality.report import (
    build_run_report,
    build_store_report,
    quality_summary,
    render_html_report,
    write_report,
)
from oncobase.quality.run import (
    QualityRun,
    check_registry_file,
    describe_run,
    read_store_tumours,
    run_quality,
)
from oncobase.quality.store_checks import StoreCheckResult, run_store_checks
from oncobase.quality.tables import QUALITY_TABLES, ensure_quality_tables
from oncobase.quality.tumours import TumourCheckResult, check_tumours

__all__ = [
    "INDICATORS",
    "LABEL_THRESHOLDS",
    "QUALITY_TABLES",
    "Indicator",
    "QualityError",
    "QualityLabel",
    "QualityRun",
    "Rule",
    "RuleSet",
    "StoreCheckResult",
    "TumourCheckResult",
    "assign_label",
    "build_run_report",
    "build_store_report",
    "check_registry_file",
    "check_tumours",
    "describe_run",
    "ensure_quality_tables",
    "load_rules",
    "quality_summary",
    "read_store_tumours",
    "render_html_report",
    "run_quality",
    "run_store_checks",
    "write_report",
]
