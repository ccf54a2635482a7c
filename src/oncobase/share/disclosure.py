"""Small-cell and secondary suppression of a count table with its margins.

A table is a 2-D array of non-negative counts (rows × columns; a 1-D table is one column)
published with its row totals, column totals and grand total. Primary suppression hides every
count from 1 to ``min_cell - 1`` (cells and margins alike). Secondary suppression then hides
more cells until no hidden value is determined by the published ones: the hidden values are
the unknowns of the linear system "each row, each column, the totals add up", and a hidden
value is recoverable exactly when its unit vector lies in the row space of that system. Every
hidden value is positive, so a value not fixed by the equations has a whole interval of
feasible values (non-negativity cannot pin it either).

Pure numpy: no I/O, no engine.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

MIN_CELL = 11
_TOL = 1e-9

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True, kw_only=True)
class SuppressedTable:
    """Counts with their margins; ``None`` where a value is suppressed."""

    cells: list[list[int | None]]
    row_totals: list[int | None]
    column_totals: list[int | None]
    total: int | None

    @property
    def suppressed_cells(self) -> int:
        return sum(v is None for row in self.cells for v in row)


def _items(counts: IntArray) -> tuple[IntArray, npt.NDArray[np.float64]]:
    """All published items (cells, row totals, column totals, grand total) and the system.

    Items are numbered: cells row-major, then rows, then columns, then the total. Each row of
    the returned matrix is one equation ``sum(members) - margin = 0``.
    """
    n_rows, n_cols = counts.shape
    n_cells = n_rows * n_cols
    rows0, cols0 = n_cells, n_cells + n_rows
    total0 = cols0 + n_cols
    values = np.concatenate(
        [counts.ravel(), counts.sum(axis=1), counts.sum(axis=0), [counts.sum()]]
    ).astype(np.int64)
    equations = np.zeros((n_rows + n_cols + 2, total0 + 1))
    for r in range(n_rows):
        equations[r, r * n_cols : (r + 1) * n_cols] = 1.0
        equations[r, rows0 + r] = -1.0
    for c in range(n_cols):
        equations[n_rows + c, [r * n_cols + c for r in range(n_rows)]] = 1.0
        equations[n_rows + c, cols0 + c] = -1.0
    equations[n_rows + n_cols, rows0:cols0] = 1.0
    equations[n_rows + n_cols, total0] = -1.0
    equations[n_rows + n_cols + 1, cols0:total0] = 1.0
    equations[n_rows + n_cols + 1, total0] = -1.0
    return values, equations


def _determined(equations: npt.NDArray[np.float64], hidden: BoolArray) -> BoolArray:
    """For each hidden item, whether the equations fix its value given the published ones."""
    out = np.zeros(hidden.shape, dtype=bool)
    unknown = np.flatnonzero(hidden)
    if unknown.size == 0:
        return out
    sub = equations[:, unknown]
    _, s, vt = np.linalg.svd(sub, full_matrices=False)
    rank = int(np.sum(s > _TOL * max(1.0, float(s.max(initial=0.0)))))
    basis = vt[:rank]
    # e_i lies in the row space iff its projection on the orthonormal basis has length 1.
    norms = np.sum(basis**2, axis=0) if rank else np.zeros(unknown.size)
    out[unknown] = norms > 1.0 - 1e-7
    return out


def is_determined(counts: npt.ArrayLike, hidden: npt.ArrayLike) -> npt.NDArray[np.bool_]:
    """Which hidden items (in the order of :func:`suppress_table`'s numbering) are recoverable.

    ``hidden`` flags cells row-major, then row totals, column totals and the grand total.
    """
    table = _as_table(counts)
    _, equations = _items(table)
    return _determined(equations, np.asarray(hidden, dtype=bool))


def _as_table(counts: npt.ArrayLike) -> IntArray:
    table = np.asarray(counts)
    if table.ndim == 1:
        table = table.reshape(-1, 1)
    if table.ndim != 2:
        raise ValueError("a count table has one or two dimensions")
    if table.size and (np.any(table < 0) or not np.all(np.equal(np.mod(table, 1), 0))):
        raise ValueError("counts must be non-negative integers")
    return table.astype(np.int64)


def suppress_table(counts: npt.ArrayLike, *, min_cell: int = MIN_CELL) -> SuppressedTable:
    """Suppress small counts (1 … ``min_cell - 1``) and enough others to protect them.

    Zeros are published (they disclose nobody). Secondary suppression hides, next to each
    recoverable hidden value, the smallest positive published cell of the same row or column
    (any positive cell when none shares a line; the margins when no positive cell is left),
    until no hidden value is recoverable.
    """
    table = _as_table(counts)
    n_rows, n_cols = table.shape
    n_cells = n_rows * n_cols
    values, equations = _items(table)
    hidden = _mirror((values > 0) & (values < min_cell), n_rows=n_rows, n_cols=n_cols)
    lines = [np.flatnonzero(row) for row in equations != 0]
    while True:  # fast path: a line with one hidden member gives it away
        lonely = next(
            (int(line[hidden[line]][0]) for line in lines if int(hidden[line].sum()) == 1), None
        )
        if lonely is None:
            break
        choice = _companion(values, hidden, lonely, n_rows=n_rows, n_cols=n_cols)
        if choice is None:
            break
        hidden[choice] = True
        hidden = _mirror(hidden, n_rows=n_rows, n_cols=n_cols)
    while True:
        determined = _determined(equations, hidden)
        if not determined.any():
            break
        item = int(np.flatnonzero(determined)[0])
        choice = _companion(values, hidden, item, n_rows=n_rows, n_cols=n_cols)
        if choice is None:
            hidden[n_cells:] = values[n_cells:] > 0
            if _determined(equations, hidden).any():  # only the cells are left to hide
                hidden[:] = values > 0
            break
        hidden[choice] = True
        hidden = _mirror(hidden, n_rows=n_rows, n_cols=n_cols)
    published = [None if h else int(v) for v, h in zip(values, hidden, strict=True)]
    cells = [published[r * n_cols : (r + 1) * n_cols] for r in range(n_rows)]
    rows0, cols0 = n_cells, n_cells + n_rows
    return SuppressedTable(
        cells=cells,
        row_totals=published[rows0:cols0],
        column_totals=published[cols0 : cols0 + n_cols],
        total=published[-1],
    )


def _mirror(hidden: BoolArray, *, n_rows: int, n_cols: int) -> BoolArray:
    """In a one-column (one-row) table the row (column) totals are the cells themselves."""
    n_cells = n_rows * n_cols
    out = hidden.copy()
    if n_cols == 1:
        out[n_cells : n_cells + n_rows] |= out[:n_cells]
        out[:n_cells] |= out[n_cells : n_cells + n_rows]
    if n_rows == 1:
        cols0 = n_cells + n_rows
        out[cols0 : cols0 + n_cols] |= out[:n_cells]
        out[:n_cells] |= out[cols0 : cols0 + n_cols]
    if n_rows == 1 and n_cols == 1:
        out[:] = out.any()
    return out


def _companion(
    values: IntArray, hidden: BoolArray, item: int, *, n_rows: int, n_cols: int
) -> int | None:
    """The published positive cell to hide next to a recoverable hidden item."""
    n_cells = n_rows * n_cols
    candidates = np.flatnonzero(~hidden[:n_cells] & (values[:n_cells] > 0))
    if candidates.size == 0:
        return None
    if item < n_cells:
        row, col = divmod(item, n_cols)
        near = [c for c in candidates if c // n_cols == row or c % n_cols == col]
    elif item < n_cells + n_rows:
        row = item - n_cells
        near = [c for c in candidates if c // n_cols == row]
    elif item < n_cells + n_rows + n_cols:
        col = item - n_cells - n_rows
        near = [c for c in candidates if c % n_cols == col]
    else:
        near = []
    pool = np.asarray(near if near else candidates, dtype=np.int64)
    return int(pool[np.argmin(values[pool])])
