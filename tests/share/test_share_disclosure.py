"""Disclosure control: no small count is published and no hidden count can be recovered."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

from oncobase.share.disclosure import (
    MIN_CELL,
    SuppressedTable,
    protect_release,
    protect_tables,
    suppress_table,
)


def _flat(result: SuppressedTable) -> list[int | None]:
    cells = [v for row in result.cells for v in row]
    return [*cells, *result.row_totals, *result.column_totals, result.total]


def _feasible_range(counts: np.ndarray, result: SuppressedTable, item: int) -> tuple[float, float]:
    """Min and max of one hidden item over every non-negative table that matches the release."""
    n_rows, n_cols = counts.shape
    published = _flat(result)
    n_items = len(published)
    n_cells = n_rows * n_cols
    rows0, cols0, total = n_cells, n_cells + n_rows, n_items - 1
    eq: list[np.ndarray] = []
    rhs: list[float] = []

    def add(row: np.ndarray, value: float) -> None:
        eq.append(row)
        rhs.append(value)

    for i, value in enumerate(published):  # published values are fixed
        if value is not None:
            row = np.zeros(n_items)
            row[i] = 1
            add(row, value)
    for r in range(n_rows):
        row = np.zeros(n_items)
        row[r * n_cols : (r + 1) * n_cols] = 1
        row[rows0 + r] = -1
        add(row, 0)
    for c in range(n_cols):
        row = np.zeros(n_items)
        row[[r * n_cols + c for r in range(n_rows)]] = 1
        row[cols0 + c] = -1
        add(row, 0)
    row = np.zeros(n_items)
    row[rows0:cols0] = 1
    row[total] = -1
    add(row, 0)
    objective = np.zeros(n_items)
    objective[item] = 1
    bounds = [(0, None)] * n_items
    low = linprog(objective, A_eq=np.array(eq), b_eq=rhs, bounds=bounds, method="highs")
    high = linprog(-objective, A_eq=np.array(eq), b_eq=rhs, bounds=bounds, method="highs")
    assert low.status == 0
    assert high.status in (0, 3)  # 3: unbounded above (a whole margin is hidden)
    return float(low.fun), (float("inf") if high.status == 3 else float(-high.fun))


small_tables = st.tuples(st.integers(1, 5), st.integers(1, 4)).flatmap(
    lambda shape: st.lists(
        st.one_of(st.integers(0, 12), st.integers(0, 200)),
        min_size=shape[0] * shape[1],
        max_size=shape[0] * shape[1],
    ).map(lambda values: np.array(values).reshape(shape))
)


@settings(max_examples=150, deadline=None)
@given(small_tables)
def test_no_small_count_published(counts: np.ndarray) -> None:
    result = suppress_table(counts)
    original = [
        *counts.ravel().tolist(),
        *counts.sum(axis=1).tolist(),
        *counts.sum(axis=0).tolist(),
        int(counts.sum()),
    ]
    for shown, true in zip(_flat(result), original, strict=True):
        if shown is not None:
            assert shown == true  # published values are never altered
            assert shown == 0 or shown >= MIN_CELL


@settings(max_examples=120, deadline=None)
@given(small_tables)
def test_no_hidden_count_recoverable_from_margins(counts: np.ndarray) -> None:
    result = suppress_table(counts)
    for item, value in enumerate(_flat(result)):
        if value is None:
            low, high = _feasible_range(counts, result, item)
            assert high - low > 0.5, f"item {item} is pinned to {low} by the release"


def test_single_small_cell_gets_a_partner_in_its_row_and_column() -> None:
    result = suppress_table([[5, 40, 50], [30, 60, 70]])
    assert result.cells[0][0] is None
    assert result.suppressed_cells >= 4  # a rectangle: two rows × two columns
    assert result.total == 255


def test_one_dimensional_table_hides_two_cells() -> None:
    result = suppress_table([3, 100, 200])
    hidden = [row[0] is None for row in result.cells]
    assert sum(hidden) >= 2
    assert result.total == 303


def test_all_large_counts_published_untouched() -> None:
    result = suppress_table([[11, 20], [30, 40]])
    assert result.suppressed_cells == 0
    assert result.row_totals == [31, 70]


def test_negative_counts_rejected() -> None:
    with pytest.raises(ValueError, match="non-negative"):
        suppress_table([[-1, 2]])


def test_joint_release_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="non-negative"):
        protect_release([3, -1], [[1, 1]])
    with pytest.raises(ValueError, match="2 finest cells"):
        protect_release([3, 4], [[1, 1, 0]])
    with pytest.raises(ValueError, match="0/1"):
        protect_release([3, 4], [[2, 1]])
    with pytest.raises(ValueError, match="one or two distinct dimensions"):
        protect_tables(np.ones((2, 2, 2), dtype=int), [(0, 1, 2)])
    with pytest.raises(ValueError, match="outside"):
        protect_tables(np.ones((2, 2), dtype=int), [(0, 3)])


def test_one_dimensional_table_in_a_joint_release() -> None:
    finest = np.array([[3, 40], [100, 200], [50, 60]])  # site × sex
    by_site, by_sex = protect_tables(finest, [(0,), (1,)])
    assert by_site.total == by_sex.total == 453
    assert by_sex.cells == [[153], [300]]  # nothing small by sex: published whole
    assert by_site.cells == [[43], [300], [110]]  # site totals are all large
    # a small site: it and a partner are hidden, the grand total stays
    small = protect_tables(np.array([[3, 4], [100, 200], [50, 60]]), [(0,), (1,)])[0]
    assert small.cells[0] == [None] and sum(c[0] is None for c in small.cells) >= 2
    assert small.total == 417
