"""Definitions: errors name the field and the line; the JSON Schema is in sync; the library
answers the poor-prognosis sites of the reference file."""

from __future__ import annotations

import csv
import json
from importlib import resources
from pathlib import Path

import jsonschema
import pytest
import yaml

from oncobase.cohorts import (
    CohortError,
    build_json_schema,
    list_cohorts,
    load_cohort,
    parse_cohort_yaml,
)

SHARED = Path(__file__).resolve().parents[2].parent / "shared"

GOOD = """\
name: my_cohort
title: Mine
version: "1.0"
entry:
  any_of:
    - icd10: [C25]
inclusion:
  - type: age
    min: 18
  - type: treatment
    window: {start_days: 0, end_days: 90}
"""


def _error(text: str) -> str:
    with pytest.raises(CohortError) as info:
        parse_cohort_yaml(text, origin="mine.yaml")
    return str(info.value)


def test_good_definition_parses() -> None:
    d = parse_cohort_yaml(GOOD)
    assert d.rule_names() == ["age", "treatment"]
    assert len(d.content_hash()) == 64


def test_unknown_code_names_field_and_line() -> None:
    message = _error(GOOD.replace("[C25]", "[C25, X99.9]"))
    assert "line 6" in message and "entry.any_of[0].icd10[1]" in message
    assert "X99.9" in message


def test_impossible_window_names_field_and_line() -> None:
    message = _error(GOOD.replace("start_days: 0, end_days: 90", "start_days: 90, end_days: 0"))
    assert "line 11" in message and "inclusion[1].window" in message
    assert "impossible window" in message


def test_bad_yaml_names_line() -> None:
    message = _error(GOOD.replace("  - type: age", "  - type: [age"))
    assert "bad YAML" in message and "line" in message


def test_unknown_rule_field() -> None:
    message = _error(GOOD.replace("min: 18", "minimum: 18"))
    assert "line 9" in message and "inclusion[0].minimum" in message


def test_json_schema_in_sync_and_validates_library() -> None:
    shipped = json.loads(
        resources.files("oncobase.cohorts").joinpath("schema", "cohort.schema.json").read_text()
    )
    assert shipped == build_json_schema(), "regenerate schema/cohort.schema.json (docs/cohorts.md)"
    for name in [c.name for c in list_cohorts()]:
        text = resources.files("oncobase.cohorts").joinpath("library", f"{name}.yaml").read_text()
        jsonschema.validate(yaml.safe_load(text), shipped)


def test_user_yaml_path_accepted(tmp_path: Path) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text(GOOD)
    assert load_cohort(path).name == "my_cohort"
    assert load_cohort(str(path)).name == "my_cohort"
    with pytest.raises(CohortError, match="no built-in cohort"):
        load_cohort("no_such_cohort")


def test_library_covers_poor_prognosis_sites() -> None:
    reference = SHARED / "reference" / "french_net_survival.csv"
    if not reference.exists():
        pytest.skip(f"{reference} is absent (the shared folder ships beside the repo)")
    with reference.open(encoding="utf-8") as handle:
        rows = [
            r for r in csv.DictReader(handle)
            if r["horizon_years"] == "5" and r["net_survival_pct"]
            and float(r["net_survival_pct"]) < 33
        ]  # fmt: skip
    listed = yaml.safe_load(
        resources.files("oncobase.cohorts").joinpath("library", "_poor_prognosis.yaml").read_text()
    )
    shipped = {(s["site"], s["sex"]): s for s in listed["sites"]}
    assert set(shipped) == {(r["site"], r["sex"]) for r in rows}
    names = {c.name: c for c in list_cohorts()}
    for r in rows:
        entry = shipped[(r["site"], r["sex"])]
        assert entry["net_survival_pct"] == float(r["net_survival_pct"])
        assert entry["cohorts"] and all(n in names for n in entry["cohorts"])
        assert any(r["site"] in names[n].reference_sites for n in entry["cohorts"]), r["site"]
    required = {"pancreatic_adenocarcinoma", "lung_nsclc", "lung_sclc", "hepatocellular_carcinoma",
                "oesophagus", "stomach", "glioblastoma", "acute_myeloid_leukaemia", "mesothelioma"}  # fmt: skip
    assert required <= set(names)
