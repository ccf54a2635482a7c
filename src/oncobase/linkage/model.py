"""The Fellegi-Sunter model of OncoBase, as Splink 5 settings (plain data, JSON-serialisable).

Comparisons work on the features of :mod:`oncobase.linkage.normalise`:

* ``nir``: same valid NIR / bodies one edit apart (a typo that broke the key) / two valid
  but different NIRs (strong evidence *against*: twins) / else;
* ``family_name``: same birth name / same name across birth and used names (married name,
  one part of a compound name) / Jaro-Winkler ≥ 0.92 on the best pairing / same phonetic
  code / else;
* ``first_names``: same given names / same first given name / overlapping given names
  (only the first, or reordered) / Jaro-Winkler ≥ 0.90 / same phonetic code / else;
* ``birth_date``: exact / day-month swap / one typo (Damerau-Levenshtein 1) / two typos /
  same year (namesakes born the same year land here, with a low weight) / else;
* ``sex``, ``birth_place`` (commune, then département) and ``postcode`` (then département).

Parameters are estimated without labels: u by random sampling, m by EM on two blocking
rules (same birth date; same valid NIR, or same names when too few records carry one), λ
from deterministic rules.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from typing import Any

UNIQUE_ID = "uid"


@dataclass(frozen=True, kw_only=True)
class Thresholds:
    """Match probabilities: ``match`` and above link; ``[review, match)`` go to review."""

    match: float = 0.95
    review: float = 0.5

    def to_dict(self) -> dict[str, float]:
        return {"match": self.match, "review": self.review}


def _level(sql: str, label: str, *, null: bool = False) -> dict[str, Any]:
    level: dict[str, Any] = {"sql_condition": sql, "label_for_charts": label}
    if null:
        level["is_null_level"] = True
    return level


def _else() -> dict[str, Any]:
    return {"sql_condition": "ELSE", "label_for_charts": "All other comparisons"}


def _best(fn: str, pairs: list[tuple[str, str]]) -> str:
    return "greatest(" + ", ".join(f"{fn}({a}, {b})" for a, b in pairs) + ")"


_NIR = "coalesce(nir_id_{s}, nir_weak_{s})"
_NAME_PAIRS = [
    ("ln_birth_l", "ln_birth_r"),
    ("ln_used_l", "ln_used_r"),
    ("ln_used_l", "ln_birth_r"),
    ("ln_birth_l", "ln_used_r"),
]


def _nir_comparison() -> dict[str, Any]:
    left, right = _NIR.format(s="l"), _NIR.format(s="r")
    return {
        "output_column_name": "nir",
        "comparison_description": "NIR/INS",
        "comparison_levels": [
            _level(f"{left} IS NULL OR {right} IS NULL", "null", null=True),
            _level("nir_id_l = nir_id_r", "same valid NIR"),
            _level(
                f"damerau_levenshtein(substr({left}, 1, 13), substr({right}, 1, 13)) <= 1",
                "one edit apart",
            ),
            {
                **_level("nir_id_l IS NOT NULL AND nir_id_r IS NOT NULL", "two valid NIRs differ"),
                "m_probability": 1e-5,
                "fix_m_probability": True,
            },
            _else(),
        ],
    }


def _family_comparison() -> dict[str, Any]:
    cross = " OR ".join(f"{a} = {b}" for a, b in _NAME_PAIRS[1:])
    part = (
        "ln_part1_l = ln_birth_r OR ln_part1_l = ln_used_r OR "
        "ln_part1_r = ln_birth_l OR ln_part1_r = ln_used_l"
    )
    phon = (
        "ln_birth_ph_l = ln_birth_ph_r OR ln_used_ph_l = ln_used_ph_r OR "
        "ln_used_ph_l = ln_birth_ph_r OR ln_birth_ph_l = ln_used_ph_r"
    )
    return {
        "output_column_name": "family_name",
        "comparison_description": "Family names, birth and used, cross-compared",
        "comparison_levels": [
            _level("ln_used_l IS NULL OR ln_used_r IS NULL", "null", null=True),
            _level("ln_birth_l = ln_birth_r", "same birth name"),
            _level(f"{cross} OR {part}", "same name across birth/used names"),
            _level(f"{_best('jaro_winkler_similarity', _NAME_PAIRS)} >= 0.92", "JW >= 0.92"),
            _level(phon, "same phonetic code"),
            _else(),
        ],
    }


def _first_comparison() -> dict[str, Any]:
    return {
        "output_column_name": "first_names",
        "comparison_description": "Given names",
        "comparison_levels": [
            _level("fn1_l IS NULL OR fn1_r IS NULL", "null", null=True),
            _level("fn_all_l = fn_all_r", "same given names"),
            _level("fn1_l = fn1_r", "same first given name"),
            _level(
                "list_has_any(fn_list_l, fn_list_r) OR "
                "starts_with(fn_cat_l, fn1_r) OR starts_with(fn_cat_r, fn1_l)",
                "given names overlap",
            ),
            _level("jaro_winkler_similarity(fn1_l, fn1_r) >= 0.9", "JW >= 0.9"),
            _level("fn1_ph_l = fn1_ph_r", "same phonetic code"),
            _else(),
        ],
    }


def _birth_date_comparison() -> dict[str, Any]:
    return {
        "output_column_name": "birth_date",
        "comparison_description": "Birth date with typo and day/month swap levels",
        "comparison_levels": [
            _level("bd_str_l IS NULL OR bd_str_r IS NULL", "null", null=True),
            _level("bd_str_l = bd_str_r", "exact"),
            _level("bd_swapkey_l = bd_swapkey_r", "day/month swapped"),
            _level("damerau_levenshtein(bd_str_l, bd_str_r) <= 1", "one typo"),
            _level("damerau_levenshtein(bd_str_l, bd_str_r) <= 2", "two typos"),
            _level("birth_year_l = birth_year_r", "same year"),
            _else(),
        ],
    }


def _exact_then_prefix(column: str, prefix_column: str, label: str) -> dict[str, Any]:
    return {
        "output_column_name": column,
        "comparison_description": label,
        "comparison_levels": [
            _level(f"{column}_l IS NULL OR {column}_r IS NULL", "null", null=True),
            _level(f"{column}_l = {column}_r", "exact"),
            _level(f"{prefix_column}_l = {prefix_column}_r", "same département"),
            _else(),
        ],
    }


def _sex_comparison() -> dict[str, Any]:
    return {
        "output_column_name": "sex",
        "comparison_description": "Sex",
        "comparison_levels": [
            _level("sex_l IS NULL OR sex_r IS NULL", "null", null=True),
            _level("sex_l = sex_r", "exact"),
            _else(),
        ],
    }


BLOCKING_RULES: tuple[str, ...] = (
    "l.nir_id = r.nir_id",
    "l.bd_str = r.bd_str AND l.fn1_ph = r.fn1_ph",
    "l.bd_str = r.bd_str AND l.ln_birth_ph = r.ln_birth_ph",
    "l.bd_swapkey = r.bd_swapkey AND l.ln_used_ph = r.ln_used_ph",
    "l.ln_birth = r.ln_birth AND l.fn1 = r.fn1 AND l.birth_dep = r.birth_dep",
    "l.ln_used = r.ln_used AND l.fn1 = r.fn1 AND l.birth_year = r.birth_year",
    "l.bd_str = r.bd_str AND l.birth_place = r.birth_place",
    "l.bd_str = r.bd_str AND l.postcode = r.postcode",
    "l.ln_birth = r.ln_birth AND l.fn1 = r.fn1 AND l.post_dep = r.post_dep",
    "l.ln_used = r.ln_used AND l.fn1 = r.fn1 AND l.post_dep = r.post_dep",
    "l.ln_birth_ph = r.ln_birth_ph AND l.fn1_ph = r.fn1_ph AND l.birth_place = r.birth_place",
    "l.ln_used_ph = r.ln_used_ph AND l.fn1_ph = r.fn1_ph AND l.postcode = r.postcode",
    "l.fn1 = r.fn1 AND l.bd_swapkey = r.bd_swapkey AND l.birth_dep = r.birth_dep",
    "substr(l.nir_weak, 1, 13) = substr(r.nir_id, 1, 13)",
    "substr(l.nir_id, 1, 13) = substr(r.nir_weak, 1, 13)",
)

# EM sessions. The second estimates the m of every comparison but the NIR's on the pairs that
# share a valid NIR: near-certain matches, so namesakes (same names and places, another birth
# date) cannot pass for matches there, as they did when it blocked on names (at 1M records,
# m("birth dates differ") came out at 4 % and 10,000 namesake pairs were linked). Files with
# too few such pairs (no NIR column filled) block on names instead.
TRAINING_RULES: tuple[str, ...] = (
    "l.bd_str = r.bd_str",
    "l.nir_id = r.nir_id",
)
FALLBACK_TRAINING_RULE = "l.ln_birth = r.ln_birth AND l.fn1 = r.fn1"
MIN_IDENTIFIED_PAIRS = 1000  # pairs sharing a valid NIR needed for the NIR session

DETERMINISTIC_RULES: tuple[str, ...] = (
    "l.nir_id = r.nir_id",
    "l.bd_str = r.bd_str AND l.fn1 = r.fn1 AND l.ln_birth = r.ln_birth",
)


# Domain vetoes applied to scored pairs (features of records ``a`` and ``b``) before
# clustering: two valid NIRs that differ, and given names that fully disagree (twins), keep
# two records apart whatever the rest says. A same valid NIR (deterministic pass) still links.
VETO_SQL = """(
  (a.nir_id IS NOT NULL AND b.nir_id IS NOT NULL AND a.nir_id <> b.nir_id)
  OR (a.fn1 IS NOT NULL AND b.fn1 IS NOT NULL AND NOT (
        list_has_any(a.fn_list, b.fn_list) OR starts_with(a.fn_cat, b.fn1)
        OR starts_with(b.fn_cat, a.fn1) OR jaro_winkler_similarity(a.fn1, b.fn1) >= 0.9
        OR a.fn1_ph = b.fn1_ph))
)"""


# Birth dates that disagree, for a pair without a shared valid NIR: both known, years more
# than one apart and not a day/month swap (a year off by one, 1969 → 1970, is an error a
# true match can carry). Fellegi-Sunter adds up agreements as if independent, but namesakes
# of one town share names, birth place and postcode together, and those outweigh one
# disagreeing birth date in a small file.
_BIRTH_DATES_DISAGREE = """a.bd_str IS NOT NULL AND b.bd_str IS NOT NULL
  AND abs(a.birth_year - b.birth_year) > 1 AND a.bd_swapkey <> b.bd_swapkey
  AND NOT coalesce(a.nir_id = b.nir_id, false)"""

# Held pairs go to clerical review whatever their probability and are never linked
# automatically: birth dates that disagree in more than one character (one typo or
# transposition, 1969 → 1996, can be a true match's). A same valid NIR or a clerical "match"
# still links.
HOLD_SQL = f"""(
  {_BIRTH_DATES_DISAGREE} AND damerau_levenshtein(a.bd_str, b.bd_str) > 1
)"""

# Conflicting pairs, a stricter subset (more than two characters apart: two typos in one
# date are rare), are cannot-links for the automatic clustering, so that a record without a
# birth date cannot chain two namesakes into one person.
CONFLICT_SQL = f"""(
  {_BIRTH_DATES_DISAGREE} AND damerau_levenshtein(a.bd_str, b.bd_str) > 2
)"""


def build_settings() -> dict[str, Any]:
    """The untrained Splink settings of OncoBase's model."""
    return {
        "link_type": "dedupe_only",
        "unique_id_column_name": UNIQUE_ID,
        "probability_two_random_records_match": 1e-6,
        "blocking_rules_to_generate_predictions": list(BLOCKING_RULES),
        "comparisons": [
            _nir_comparison(),
            _family_comparison(),
            _first_comparison(),
            _birth_date_comparison(),
            _sex_comparison(),
            _exact_then_prefix("birth_place", "birth_dep", "Birth place (INSEE commune)"),
            _exact_then_prefix("postcode", "post_dep", "Postcode"),
        ],
        "retain_matching_columns": False,
        "retain_intermediate_calculation_columns": False,
        "additional_columns_to_retain": [],
        "max_iterations": 20,
        "em_convergence": 0.0001,
    }


def settings_to_json(settings: dict[str, Any]) -> str:
    return json.dumps(settings, sort_keys=True)


def settings_from_json(text: str) -> dict[str, Any]:
    value = json.loads(text)
    if not isinstance(value, dict):
        raise ValueError("linkage model JSON is not an object")
    return value


def copy_settings(settings: dict[str, Any]) -> dict[str, Any]:
    return copy.deepcopy(settings)
