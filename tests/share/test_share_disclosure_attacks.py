"""Disclosure attacks on what the platform releases: each standard attack is written here,
independently of oncobase.share.disclosure, and must recover nothing from a protected release,
while it does recover the small counts of a naive (primary-only) release.

Attacks: subtraction from the margins (repeated until nothing new comes out), the rank test on
the linear system of everything published, an explicit least-squares solve of that system,
exact integer bounds (MILP: smallest and largest value a hidden count can take given
everything published, counts non-negative, hidden counts positive), and differencing two
overlapping queries.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import Bounds, LinearConstraint, milp

from oncobase.share.disclosure import (
    MIN_CELL,
    SuppressedTable,
    marginal_items,
    protect_release,
    protect_tables,
    suppress_table,
)

Matrix = npt.NDArray[np.float64]


# -- the attacks ----------------------------------------------------------------------------
def margin_subtraction(release: SuppressedTable) -> dict[tuple[str, int, int], int]:
    """Recover hidden cells and margins by subtracting published values along each line."""
    cells = [list(r) for r in release.cells]
    rows, cols = list(release.row_totals), list(release.column_totals)
    total = release.total
    found: dict[tuple[str, int, int], int] = {}
    changed = True
    while changed:
        changed = False
        for r, line in enumerate(cells):  # rows: cells + row total
            known = [v for v in line if v is not None]
            missing = [c for c, v in enumerate(line) if v is None]
            if rows[r] is not None and len(missing) == 1:
                c = missing[0]
                line[c] = rows[r] - sum(known)
                found[("cell", r, c)] = line[c]
                changed = True
            elif rows[r] is None and not missing:
                rows[r] = sum(known)
                found[("row", r, 0)] = rows[r]
                changed = True
        for c in range(len(cols)):
            line = [cells[r][c] for r in range(len(cells))]
            known = [v for v in line if v is not None]
            missing = [r for r, v in enumerate(line) if v is None]
            if cols[c] is not None and len(missing) == 1:
                r = missing[0]
                cells[r][c] = cols[c] - sum(known)
                found[("cell", r, c)] = cells[r][c]
                changed = True
            elif cols[c] is None and not missing:
                cols[c] = sum(known)
                found[("col", c, 0)] = cols[c]
                changed = True
        for margins in (rows, cols):
            missing = [i for i, v in enumerate(margins) if v is None]
            if total is not None and len(missing) == 1:
                i = missing[0]
                margins[i] = total - sum(v for v in margins if v is not None)
                found[("row" if margins is rows else "col", i, 0)] = margins[i]
                changed = True
    return found


def rank_attack(items: Matrix, published: npt.NDArray[np.bool_], target: Matrix) -> bool:
    """True when ``target`` is a linear combination of the published rows (recoverable)."""
    shown = items[published]
    base = np.linalg.matrix_rank(shown) if shown.size else 0
    return bool(np.linalg.matrix_rank(np.vstack([shown, target])) == base)


def least_squares_guess(items: Matrix, values: npt.NDArray[np.float64],
                        published: npt.NDArray[np.bool_], target: Matrix) -> float:  # fmt: skip
    """The attacker's explicit solve: the minimum-norm solution of the published system."""
    solution, *_ = np.linalg.lstsq(items[published], values[published], rcond=None)
    return float(target @ solution)


def integer_bounds(items: Matrix, values: npt.NDArray[np.float64],
                   published: npt.NDArray[np.bool_], target: Matrix) -> tuple[float, float]:  # fmt: skip
    """Smallest and largest integer value of ``target`` over all non-negative integer finest
    counts that reproduce every published value and keep every hidden value positive."""
    n = items.shape[1]
    constraints = [LinearConstraint(items[published], values[published], values[published])]
    if (~published).any():
        constraints.append(LinearConstraint(items[~published], 1, np.inf))
    bounds = Bounds(0, values.max(initial=0) + 1)
    low = milp(target, constraints=constraints, integrality=np.ones(n), bounds=bounds)
    high = milp(-target, constraints=constraints, integrality=np.ones(n), bounds=bounds)
    assert low.status == 0 and high.status == 0, "the true counts are a solution"
    return float(low.fun), float(-high.fun)


def assert_nothing_recoverable(
    finest: npt.NDArray[np.int64], items: Matrix, values: list[int | None]
) -> None:
    """Every hidden value and every small finest cell resists every linear attack."""
    x = finest.ravel().astype(float)
    true = items @ x
    published = np.array([v is not None for v in values])
    hidden = np.flatnonzero(~published)
    small_cells = np.flatnonzero((x > 0) & (x < MIN_CELL))
    targets = [items[i] for i in hidden] + [np.eye(x.size)[c] for c in small_cells]
    truths = [true[i] for i in hidden] + [x[c] for c in small_cells]
    for target, value in zip(targets, truths, strict=True):
        assert not rank_attack(items, published, target[None, :])
        low, high = integer_bounds(items, true, published, target)
        assert low <= value <= high and high - low >= 1, (value, low, high)


def flat(release: SuppressedTable) -> list[int | None]:
    return [
        *(v for row in release.cells for v in row),
        *release.row_totals,
        *release.column_totals,
        release.total,
    ]


def naive(values: npt.NDArray[np.float64]) -> list[int | None]:
    """Primary suppression only: what a careless release publishes."""
    return [None if 0 < v < MIN_CELL else int(v) for v in values]


# -- one table and its margins ---------------------------------------------------------------
TABLE = np.array([[5, 40, 50], [30, 60, 70], [12, 3, 44]])


def test_naive_table_is_broken_by_the_margins_and_the_linear_system() -> None:
    items = marginal_items(TABLE.shape, (0, 1))
    true = items @ TABLE.ravel().astype(float)
    values = naive(true)
    n_rows, n_cols = TABLE.shape
    release = SuppressedTable(
        cells=[values[r * n_cols : (r + 1) * n_cols] for r in range(n_rows)],
        row_totals=values[9:12], column_totals=values[12:15], total=values[15],
    )  # fmt: skip
    recovered = margin_subtraction(release)
    assert recovered[("cell", 0, 0)] == 5 and recovered[("cell", 2, 1)] == 3
    published = np.array([v is not None for v in values])
    for cell, value in ((0, 5), (7, 3)):
        assert rank_attack(items, published, items[cell][None, :])
        assert least_squares_guess(items, true, published, items[cell]) == pytest.approx(value)
        assert integer_bounds(items, true, published, items[cell]) == (value, value)


@pytest.mark.parametrize("method", ["suppress_table", "protect_tables"])
def test_protected_table_resists_every_attack(method: str) -> None:
    release = (
        suppress_table(TABLE) if method == "suppress_table" else protect_tables(TABLE, [(0, 1)])[0]
    )
    assert release.cells[0][0] is None and release.cells[2][1] is None
    assert margin_subtraction(release) == {}
    items = marginal_items(TABLE.shape, (0, 1))
    values = flat(release)
    assert_nothing_recoverable(TABLE, items, values)
    published = np.array([v is not None for v in values])
    true = items @ TABLE.ravel().astype(float)
    # the explicit solve gives numbers, but not the true small counts
    guesses = [least_squares_guess(items, true, published, items[c]) for c in (0, 7)]
    assert guesses[0] != pytest.approx(5) or guesses[1] != pytest.approx(3)


# -- two tables of one request sharing a margin ----------------------------------------------
# finest: site (4) × sex (2) × age group (3)
JOINT = np.array(
    [
        [[3, 25, 40], [0, 30, 28]],
        [[20, 18, 44], [15, 2, 31]],
        [[60, 70, 80], [55, 65, 75]],
        [[0, 12, 9], [14, 0, 16]],
    ]
)
JOINT_TABLES = [(0, 1), (0, 2)]  # site × sex and site × age group (both carry site totals)


def _joint_items() -> Matrix:
    return np.vstack([marginal_items(JOINT.shape, t) for t in JOINT_TABLES])


def test_naive_joint_release_is_broken() -> None:
    items = _joint_items()
    true = items @ JOINT.ravel().astype(float)
    values = naive(true)
    published = np.array([v is not None for v in values])
    hidden = np.flatnonzero(~published)
    broken = [i for i in hidden if rank_attack(items, published, items[i][None, :])]
    assert broken, "the naive release should give some small count away"
    for i in broken:
        low, high = integer_bounds(items, true, published, items[i])
        assert low == high == true[i]


def test_joint_release_resists_every_attack() -> None:
    tables = protect_tables(JOINT, JOINT_TABLES)
    values = [v for t in tables for v in flat(t)]
    assert_nothing_recoverable(JOINT, _joint_items(), values)
    for table in tables:
        assert margin_subtraction(table) == {}
    # the shared margin (site totals) is published identically in both tables, or hidden in both
    assert tables[0].row_totals == tables[1].row_totals


# -- two overlapping queries -----------------------------------------------------------------
AGES = np.array([40, 3, 30])  # finest: ages 0-64, 65-69, 70+
QUERIES = np.array([[1, 0, 0], [1, 1, 0], [1, 1, 1]], dtype=float)  # 0-64, 0-69, all ages


def test_naive_overlapping_queries_give_the_difference_away() -> None:
    true = QUERIES @ AGES
    values = naive(true)
    assert all(v is not None for v in values)  # each query alone is large
    assert values[1] - values[0] == 3  # 65-69 by differencing
    published = np.ones(3, dtype=bool)
    assert rank_attack(QUERIES, published, np.array([[0.0, 1.0, 0.0]]))


def test_overlapping_queries_protected_jointly() -> None:
    release = protect_release(AGES, QUERIES)
    assert release.suppressed >= 1
    assert release.values[2] == 73 or release.values[2] is None
    published = [v for v in release.values if v is not None]
    # no difference of published answers is the small band
    assert all(abs(a - b) != 3 for a in published for b in published)
    assert_nothing_recoverable(AGES, QUERIES, release.values)


def test_threshold_and_rounding_are_parameters() -> None:
    assert protect_release(AGES, QUERIES, min_cell=3).values == [40, 43, 73]
    rounded = protect_release(np.array([40, 12, 31]), QUERIES, rounding=5)
    assert rounded.values == [40, 50, 85]
    assert suppress_table([[12, 23]], rounding=5).cells == [[10, 25]]


# -- property: random small releases never give a hidden count away ---------------------------
finest_arrays = st.tuples(st.integers(2, 3), st.integers(2, 2), st.integers(2, 3)).flatmap(
    lambda shape: st.lists(
        st.one_of(st.integers(0, 12), st.integers(0, 60)),
        min_size=shape[0] * shape[1] * shape[2],
        max_size=shape[0] * shape[1] * shape[2],
    ).map(lambda v: np.array(v).reshape(shape))
)


@settings(max_examples=40, deadline=None)
@given(finest_arrays)
def test_no_joint_release_determines_a_hidden_count(finest: npt.NDArray[np.int64]) -> None:
    tables = protect_tables(finest, JOINT_TABLES)
    items = np.vstack([marginal_items(finest.shape, t) for t in JOINT_TABLES])
    values = [v for t in tables for v in flat(t)]
    true = items @ finest.ravel()
    for shown, value in zip(values, true, strict=True):
        assert shown is None or (shown == value and (shown == 0 or shown >= MIN_CELL))
    published = np.array([v is not None for v in values])
    x = finest.ravel()
    for i in np.flatnonzero(~published):
        assert not rank_attack(items, published, items[i][None, :])
    for c in np.flatnonzero((x > 0) & (x < MIN_CELL)):
        assert not rank_attack(items, published, np.eye(x.size)[c][None, :])


@settings(max_examples=10, deadline=None)
@given(finest_arrays)
def test_no_joint_release_pins_a_hidden_count_to_one_integer(
    finest: npt.NDArray[np.int64],
) -> None:
    tables = protect_tables(finest, JOINT_TABLES)
    items = np.vstack([marginal_items(finest.shape, t) for t in JOINT_TABLES])
    assert_nothing_recoverable(finest, items, [v for t in tables for v in flat(t)])


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(0, 40), min_size=3, max_size=6))
def test_no_overlapping_queries_give_a_band_away(bands: list[int]) -> None:
    finest = np.array(bands)
    n = finest.size
    cumulative = np.tril(np.ones((n, n)))  # ages 0-a for every cut-off a
    release = protect_release(finest, cumulative)
    assert_nothing_recoverable(finest, cumulative, release.values)
