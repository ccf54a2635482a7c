"""Rare categories generalised, and the k-anonymity report of an extract.

Both work on Arrow columns, one vectorised pass per generalisation level (no per-row Python).

Generalisation: a category held by fewer than ``k`` distinct persons of the extract is replaced
by its next coarser level (ICD-10 code → 3-character category → ``other``; département →
region ``R<code>`` → ``other`` …); the counts are taken again at each level, so a category that
becomes common enough by merging stays at that level.

The k-anonymity report looks at one record per person built from the released
quasi-identifiers (age group at diagnosis, sex, département, diagnosis year, site): persons who
share every quasi-identifier form an equivalence class; ``k_min`` is the size of the smallest.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cache

import pyarrow as pa
import pyarrow.compute as pc

from oncobase.share.disclosure import MIN_CELL
from oncobase.vocab import read_source_file

OTHER = "other"
Level = Callable[[pa.Array], pa.Array]


def _as_array(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    if isinstance(values, pa.ChunkedArray):
        return values.combine_chunks()
    return values


def rare_values(values: pa.Array, persons: pa.Array, *, k: int) -> pa.Array:
    """The distinct non-null values held by fewer than ``k`` distinct persons."""
    table = pa.table({"v": values, "p": persons}).filter(pc.is_valid(values))
    if table.num_rows == 0:
        return pa.array([], values.type)
    counts = table.group_by("v").aggregate([("p", "count_distinct")])
    return counts.filter(pc.less(counts["p_count_distinct"], k))["v"].combine_chunks()


def generalise(
    values: pa.Array | pa.ChunkedArray,
    persons: pa.Array | pa.ChunkedArray,
    levels: Sequence[Level],
    *,
    k: int = MIN_CELL,
) -> tuple[pa.Array, list[int]]:
    """Values with every rare category moved up the ``levels`` until it is not rare.

    Returns the generalised values and, per level, how many rows were moved to it. The last
    level should be a catch-all (``other``); a catch-all still rare is left as it is (the
    k-anonymity report shows it).
    """
    current, owners = _as_array(values), _as_array(persons)
    moved: list[int] = []
    for level in levels:
        rare = rare_values(current, owners, k=k)
        if len(rare) == 0:
            moved.append(0)
            continue
        mask = pc.fill_null(pc.is_in(current, value_set=rare), False)
        coarser = level(current)
        after = pc.if_else(mask, coarser, current)
        # rows whose value does not change (a code already at this level) are not "moved"
        moved.append(int(pc.sum(pc.and_(mask, pc.not_equal(after, current))).as_py() or 0))
        current = after
    return current, moved


# -- the levels of each kind of category ----------------------------------------------------
def to_other(values: pa.Array) -> pa.Array:
    return pc.if_else(pc.is_valid(values), pa.scalar(OTHER), pa.scalar(None, pa.string()))


def to_prefix(width: int) -> Level:
    """The first ``width`` characters (ICD-10 3-character category, ATC level …), dots dropped."""

    def level(values: pa.Array) -> pa.Array:
        text = pc.replace_substring(pc.utf8_upper(values), ".", "")
        keep = pc.equal(values, OTHER)
        return pc.if_else(keep, values, pc.utf8_slice_codeunits(text, 0, width))

    return level


def icdo3_morphology(values: pa.Array) -> pa.Array:
    """``8140/3-C34.1`` → ``8140/3`` (histology alone)."""
    parts = pc.split_pattern(values, "-", max_splits=1)
    return pc.list_element(parts, 0)


@cache
def _regions() -> tuple[pa.Array, pa.Array]:
    table = read_source_file("departements.csv")
    codes = table["code"].combine_chunks()
    regions = pc.binary_join_element_wise(pa.scalar("R"), table["region_code"], "")
    return codes, _as_array(regions)


def departement_region(values: pa.Array) -> pa.Array:
    """INSEE département code → ``R<region code>`` (``other`` when the code is unknown)."""
    codes, regions = _regions()
    index = pc.index_in(values, value_set=codes)
    region = pc.take(regions, index)
    return pc.if_else(pc.is_valid(values), pc.fill_null(region, OTHER), region)


def generalise_sex(
    values: pa.Array | pa.ChunkedArray, persons: pa.Array | pa.ChunkedArray, *, k: int = MIN_CELL
) -> tuple[pa.Array, int]:
    """A sex held by fewer than ``k`` persons becomes 0 (OMOP "no matching concept")."""
    current, owners = _as_array(values), _as_array(persons)
    rare = rare_values(current, owners, k=k)
    mask = pc.fill_null(pc.is_in(current, value_set=rare), False)
    moved = int(pc.sum(pc.and_(mask, pc.not_equal(current, 0))).as_py() or 0)
    return pc.if_else(mask, pa.scalar(0, current.type), current), moved


def generalise_year_of_birth(
    values: pa.Array | pa.ChunkedArray, persons: pa.Array | pa.ChunkedArray, *, k: int = MIN_CELL
) -> tuple[pa.Array, dict[str, object]]:
    """Years of birth; when any year is rare, the whole column becomes 5-year bands.

    A band is released as its first year (1950 means 1950-1954); a band still rare is
    suppressed (null).
    """
    current, owners = _as_array(values), _as_array(persons)
    if len(rare_values(current, owners, k=k)) == 0:
        return current, {"level": "year", "suppressed_rows": 0}
    banded = pc.multiply(pc.divide(current, 5), 5).cast(current.type)  # integer division
    rare = rare_values(banded, owners, k=k)
    mask = pc.fill_null(pc.is_in(banded, value_set=rare), False)
    out = pc.if_else(mask, pa.scalar(None, current.type), banded)
    return out, {"level": "5-year band (first year)", "suppressed_rows": int(pc.sum(mask).as_py())}


# -- the k-anonymity report ------------------------------------------------------------------
def kanonymity_report(
    records: pa.Table, quasi_identifiers: Sequence[str], *, k: int = MIN_CELL
) -> dict[str, object]:
    """Equivalence classes of ``records`` (one row per person) over ``quasi_identifiers``.

    Returns the quasi-identifiers used, the number of persons and classes, ``k_min`` (0 when
    there is nobody), the distribution of class sizes (size → number of classes), and the
    number and share of persons in classes smaller than ``k``.
    """
    persons = records.num_rows
    if persons == 0:
        sizes = pa.array([], pa.int64())
    elif not quasi_identifiers:
        sizes = pa.array([persons], pa.int64())
    else:
        keys = list(quasi_identifiers)
        grouped = records.select(keys).group_by(keys).aggregate([([], "count_all")])
        sizes = grouped["count_all"].combine_chunks().cast(pa.int64())
    distribution: dict[str, int] = {}
    if len(sizes):
        counted = pa.table({"size": sizes}).group_by("size").aggregate([([], "count_all")])
        counted = counted.sort_by("size")
        distribution = {
            str(s): int(n)
            for s, n in zip(
                counted["size"].to_pylist(), counted["count_all"].to_pylist(), strict=True
            )
        }
    below = int(pc.sum(pc.if_else(pc.less(sizes, k), sizes, 0)).as_py() or 0) if len(sizes) else 0
    return {
        "quasi_identifiers": list(quasi_identifiers),
        "k_threshold": k,
        "persons": persons,
        "classes": len(sizes),
        "k_min": int(pc.min(sizes).as_py()) if len(sizes) else 0,
        "class_sizes": distribution,
        "persons_in_classes_below_threshold": below,
        "share_below_threshold": round(below / persons, 6) if persons else 0.0,
    }
