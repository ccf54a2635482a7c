"""The code lists a definition is checked against (the built-in vocabulary subset)."""

from __future__ import annotations

import re
from functools import cache

from oncobase.vocab import read_source_file

ICD10_RE = re.compile(r"^[A-Z][0-9]{2}(\.?[0-9]{1,2})?$")
TOPOGRAPHY_RE = re.compile(r"^C[0-9]{2}(\.?[0-9])?$")
MORPHOLOGY_RE = re.compile(r"^[0-9]{3,4}(/[0-9])?$")
BEHAVIOUR_RE = re.compile(r"^[0-9]$")


def _codes(filename: str, column: str = "code") -> frozenset[str]:
    values = read_source_file(filename).column(column).to_pylist()
    return frozenset(str(v) for v in values if v)


@cache
def icd10_codes() -> frozenset[str]:
    return frozenset(c.replace(".", "") for c in _codes("icd10.csv"))


@cache
def topography_codes() -> frozenset[str]:
    return frozenset(c.replace(".", "") for c in _codes("icdo3_topography.csv"))


@cache
def morphology_codes() -> frozenset[str]:
    """Morphology with behaviour ("8140/3") and the bare 4-digit codes."""
    full = _codes("icdo3_morphology.csv")
    return full | frozenset(c.split("/")[0] for c in full)


@cache
def morphology_range() -> frozenset[str]:
    """Every ICD-O-3 morphology code form (8000-9993, with behaviour 0-3, 6, 9)."""
    bare = [str(code) for code in range(8000, 9994)]
    return frozenset(bare) | frozenset(f"{c}/{b}" for c in bare for b in "012369")


@cache
def departement_codes() -> frozenset[str]:
    return _codes("departements.csv")


@cache
def region_codes() -> frozenset[str]:
    return _codes("departements.csv", "region_code")


@cache
def biomarker_aliases() -> dict[str, tuple[str, ...]]:
    """Biomarker code (upper case) → the source values it may appear under (code, LOINC)."""
    table = read_source_file("biomarkers.csv")
    result: dict[str, tuple[str, ...]] = {}
    for code, loinc in zip(
        table.column("code").to_pylist(), table.column("loinc_code").to_pylist(), strict=True
    ):
        names = tuple(v for v in (code, loinc) if v)
        result[str(code).upper()] = names
        if loinc:
            result[str(loinc).upper()] = names
    return result
