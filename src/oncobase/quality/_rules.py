"""Rules as data: the tumour-record rules (``rules/tumour_rules.yaml``) and their lookup tables.

The lookup CSV files name morphologies and topographies as ranges (``8170-8175 8970``,
``C51-C58 C69.2 any !C56``); :func:`build_lookup_tables` expands morphologies into one row per
4-digit code and keeps topographies as ``[topo_low, topo_high]`` ranges of 4-character codes
(``C692``), so every rule is an equality join on morphology plus a range test on topography.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import pyarrow as pa
import yaml

from oncobase.quality.errors import QualityError

LEVELS = ("error", "warning")
MORPH_MIN, MORPH_MAX = 8000, 9993
_ANY_TOPO = ("C000", "C809")


@dataclass(frozen=True, kw_only=True)
class Rule:
    """One tumour-record check."""

    id: str
    family: str
    level: str
    fields: tuple[str, ...]
    message: str
    source: str
    when: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "family": self.family,
            "level": self.level,
            "fields": list(self.fields),
            "message": self.message,
            "source": self.source,
        }


@dataclass(frozen=True, kw_only=True)
class RuleSet:
    """The versioned rule file."""

    version: str
    rules: tuple[Rule, ...]

    def rule(self, rule_id: str) -> Rule:
        for rule in self.rules:
            if rule.id == rule_id:
                return rule
        raise KeyError(rule_id)


def read_rule_text(name: str) -> str:
    """The text of one shipped rule file."""
    try:
        return resources.files("oncobase.quality").joinpath("rules", name).read_text("utf-8")
    except FileNotFoundError:
        raise QualityError(f"The rule file {name} is missing from the package") from None


def read_rule_csv(name: str) -> list[dict[str, str]]:
    """Rows of one shipped lookup CSV."""
    lines = [line for line in read_rule_text(name).splitlines() if not line.startswith("#")]
    return list(csv.DictReader(io.StringIO("\n".join(lines))))


@cache
def load_rules() -> RuleSet:
    """The tumour-record rules, validated (unique ids, known levels, E-/W- prefixes)."""
    data = yaml.safe_load(read_rule_text("tumour_rules.yaml"))
    rules = []
    for raw in data["rules"]:
        rule = Rule(
            id=str(raw["id"]),
            family=str(raw["family"]),
            level=str(raw["level"]),
            fields=tuple(str(f) for f in raw.get("fields", ())),
            message=str(raw["message"]),
            source=str(raw["source"]),
            when=None if raw.get("when") is None else str(raw["when"]),
        )
        if rule.level not in LEVELS:
            raise QualityError(f"rule {rule.id}: level must be error or warning")
        if rule.id[:2] != ("E-" if rule.level == "error" else "W-"):
            raise QualityError(f"rule {rule.id}: an error id starts E-, a warning id W-")
        rules.append(rule)
    ids = [r.id for r in rules]
    if len(ids) != len(set(ids)):
        raise QualityError("tumour_rules.yaml: duplicate rule ids")
    return RuleSet(version=str(data["version"]), rules=tuple(rules))


def parse_morphologies(cell: str) -> list[int]:
    """``8170-8175 8970 any !9590-9993`` → sorted 4-digit codes."""
    include: set[int] = set()
    exclude: set[int] = set()
    for raw in cell.split():
        target = exclude if raw.startswith("!") else include
        item = raw.lstrip("!")
        if item == "any":
            target.update(range(MORPH_MIN, MORPH_MAX + 1))
            continue
        low, _, high = item.partition("-")
        target.update(range(int(low), int(high or low) + 1))
    return sorted(include - exclude)


def _topo_bounds(token: str) -> tuple[str, str]:
    low, _, high = token.partition("-")
    high = high or low

    def bound(code: str, *, upper: bool) -> str:
        code = code.replace(".", "")
        return code if len(code) == 4 else code + ("9" if upper else "0")

    return bound(low, upper=False), bound(high, upper=True)


def parse_topographies(cell: str) -> list[tuple[str, str]]:
    """``C51-C58 C69.2 any !C56`` → disjoint ``(low, high)`` ranges of 4-character codes."""
    include: list[tuple[str, str]] = []
    exclude: list[tuple[str, str]] = []
    for raw in cell.split():
        target = exclude if raw.startswith("!") else include
        item = raw.lstrip("!")
        target.append(_ANY_TOPO if item == "any" else _topo_bounds(item))
    if not exclude:
        return include
    # Subtract the exclusions over the (small) set of 3-character sites C00-C80.
    sites = [f"C{n:02d}{d}" for n in range(81) for d in range(10)]
    kept = [
        s
        for s in sites
        if any(lo <= s <= hi for lo, hi in include) and not any(lo <= s <= hi for lo, hi in exclude)
    ]
    ranges: list[tuple[str, str]] = []
    for code in kept:
        if ranges and sites.index(code) == sites.index(ranges[-1][1]) + 1:
            ranges[-1] = (ranges[-1][0], code)
        else:
            ranges.append((code, code))
    return ranges


def _expand(rows: list[dict[str, str]], **extra: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for row in rows:
        morphs = parse_morphologies(row["morphology"])
        topos = parse_topographies(row.get("topography") or "any")
        base = {k: row[v] for k, v in extra.items()}
        for morph in morphs:
            for low, high in topos:
                out.append({**base, "morph": morph, "topo_low": low, "topo_high": high})
    return out


def _table(rows: list[dict[str, Any]], schema: pa.Schema) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=schema)


_TOPO_FIELDS = [pa.field("topo_low", pa.string()), pa.field("topo_high", pa.string())]


@cache
def build_lookup_tables() -> dict[str, pa.Table]:
    """The ``lk_*`` tables the rule predicates and the multiple-primary engine join to."""
    site = read_rule_csv("site_histology.csv")
    morph_topo = pa.schema([pa.field("morph", pa.int32()), *_TOPO_FIELDS])
    tables = {
        "lk_site_must": _table(_expand([r for r in site if r["profile"] == "must"]), morph_topo),
        "lk_site_must_not": _table(
            _expand([r for r in site if r["profile"] == "must_not"]), morph_topo
        ),
    }
    sex_rows = [
        {"sex": int(r["sex"]), "morph": m}
        for r in read_rule_csv("sex_histology.csv")
        for m in parse_morphologies(r["morphology"])
    ]
    tables["lk_sex_histology"] = _table(
        sex_rows, pa.schema([pa.field("sex", pa.int32()), pa.field("morph", pa.int32())])
    )
    age_rows = []
    for row in read_rule_csv("age_site_histology.csv"):
        for item in _expand([row], check_id="check"):
            age_rows.append(
                {**item, "age_min": int(row["age_min"]), "age_max": int(row["age_max"])}
            )
    tables["lk_age"] = _table(
        age_rows,
        pa.schema(
            [
                pa.field("check_id", pa.string()),
                pa.field("morph", pa.int32()),
                *_TOPO_FIELDS,
                pa.field("age_min", pa.int32()),
                pa.field("age_max", pa.int32()),
            ]
        ),
    )
    basis_rows = []
    for row in read_rule_csv("basis_histology.csv"):
        for item in _expand([row]):
            basis_rows.append(
                {**item, "behaviour": int(row["behaviour"]) if row["behaviour"] else None}
            )
    tables["lk_basis"] = _table(
        basis_rows, pa.schema([*morph_topo, pa.field("behaviour", pa.int32())])
    )
    tables["lk_grade"] = _table(
        [
            {"grade": int(r["grade"]), "morph": m}
            for r in read_rule_csv("grade_histology.csv")
            for m in parse_morphologies(r["morphology"])
        ],
        pa.schema([pa.field("grade", pa.int32()), pa.field("morph", pa.int32())]),
    )
    tables["lk_behaviour_histology"] = _table(
        [
            {"morph": m, "behaviour": int(b)}
            for r in read_rule_csv("behaviour_histology.csv")
            for m in parse_morphologies(r["morphology"])
            for b in r["behaviour"].split()
        ],
        pa.schema([pa.field("morph", pa.int32()), pa.field("behaviour", pa.int32())]),
    )
    tables.update(build_mp_tables())
    return tables


def build_mp_tables() -> dict[str, pa.Table]:
    """Multiple-primary lookups: site group per 3-character site, histology group per code,
    and the pairs of histology groups that count as the same tumour."""
    site_rows: dict[str, str] = {f"C{n:02d}": f"C{n:02d}" for n in range(81)}
    for row in read_rule_csv("mp_site_groups.csv"):
        for low, high in parse_topographies(row["topography"]):
            for site in list(site_rows):
                if low[:3] <= site <= high[:3]:
                    site_rows[site] = row["site_group"]
    groups = read_rule_csv("mp_histology_groups.csv")
    hist: dict[int, int] = {}
    systemic: dict[int, bool] = {}
    same: set[tuple[int, int]] = set()
    for row in groups:
        group = int(row["group"])
        systemic[group] = row["systemic"] == "Y"
        same.add((group, group))
        for code in parse_morphologies(row["morphology"]):
            hist.setdefault(code, group)
        if row["nonspecific_for"]:
            low, _, high = row["nonspecific_for"].partition("-")
            for other in range(int(low), int(high or low) + 1):
                same.update({(group, other), (other, group)})
    residual = 16  # codes outside Table 2's ranges: "other specified"
    morph_rows = [
        {
            "morph": m,
            "hist_group": hist.get(m, residual),
            "systemic": systemic[hist.get(m, residual)],
        }
        for m in range(MORPH_MIN, MORPH_MAX + 1)
    ]
    return {
        "lk_mp_site": pa.table({"topo3": list(site_rows), "site_group": list(site_rows.values())}),
        "lk_mp_hist": pa.Table.from_pylist(
            morph_rows,
            schema=pa.schema(
                [
                    pa.field("morph", pa.int32()),
                    pa.field("hist_group", pa.int32()),
                    pa.field("systemic", pa.bool_()),
                ]
            ),
        ),
        "lk_mp_same": pa.table(
            {
                "group_a": pa.array([a for a, _ in sorted(same)], pa.int32()),
                "group_b": pa.array([b for _, b in sorted(same)], pa.int32()),
            }
        ),
    }
