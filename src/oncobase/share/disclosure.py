"""Disclosure control: small-cell and secondary suppression of everything that is released.

Two entry points, one criterion (a hidden value must not be recomputable from what is
published):

* :func:`suppress_table` — one count table with its margins (fast path, used by the open
  statistics API). A table is a 2-D array of non-negative counts (rows × columns; a 1-D table
  is one column) published with its row totals, column totals and grand total. Primary
  suppression hides every count from 1 to ``min_cell - 1`` (cells and margins alike).
  Secondary suppression then hides more cells until no hidden value is determined by the
  published ones: the hidden values are the unknowns of the linear system "each row, each
  column, the totals add up", and a hidden value is recoverable exactly when its unit vector
  lies in the row space of that system.
* :func:`protect_release` / :func:`protect_tables` — several values released together (tables
  sharing a margin, overlapping queries), each written as a sum of cells of a common finest
  partition; small values and small finest cells are protected jointly.

Every hidden value is positive, so a value not fixed by the equations has a whole interval of
feasible values. Optional rounding of the published values; threshold ``min_cell`` (11).

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


def suppress_table(
    counts: npt.ArrayLike, *, min_cell: int = MIN_CELL, rounding: int | None = None
) -> SuppressedTable:
    """Suppress small counts (1 … ``min_cell - 1``) and enough others to protect them.

    Zeros are published (they disclose nobody). Secondary suppression hides, next to each
    recoverable hidden value, the smallest positive published cell of the same row or column
    (any positive cell when none shares a line; the margins when no positive cell is left),
    until no hidden value is recoverable. ``rounding`` (e.g. 5) rounds the published values.

    This is the single-table path (fast on large tables); values released together with
    others of the same request go through :func:`protect_tables` / :func:`protect_release`.
    """
    if min_cell < 1:
        raise ValueError("the threshold min_cell must be at least 1")
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
    shown = _round(values, rounding)
    published = [None if h else int(v) for v, h in zip(shown, hidden, strict=True)]
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


# -- several released values protected jointly ----------------------------------------------
@dataclass(frozen=True, kw_only=True)
class ProtectedRelease:
    """Released values after joint disclosure control; ``None`` where suppressed.

    ``values`` are rounded to ``rounding`` when asked (suppression is decided on the true
    values); ``primary`` flags the small values, ``secondary`` those hidden to protect them.
    """

    values: list[int | None]
    primary: list[bool]
    secondary: list[bool]
    min_cell: int
    rounding: int | None

    @property
    def suppressed(self) -> int:
        return sum(v is None for v in self.values)


@dataclass(frozen=True)
class _Published:
    """The published rows' SVD: what they determine and how (one decomposition per round)."""

    u: npt.NDArray[np.float64]  # published × rank
    s: npt.NDArray[np.float64]
    vt: npt.NDArray[np.float64]  # rank × cells: an orthonormal basis of the row space
    free: BoolArray  # published rows in no linear dependency with the others

    @classmethod
    def of(cls, matrix: npt.NDArray[np.float64]) -> _Published:
        if matrix.shape[0] == 0:
            empty = np.zeros((0, 0))
            return cls(u=empty, s=np.zeros(0), vt=np.zeros((0, matrix.shape[1])),
                       free=np.zeros(0, dtype=bool))  # fmt: skip
        u, s, vt = np.linalg.svd(matrix, full_matrices=False)
        rank = int(np.sum(s > _TOL * max(1.0, float(s.max(initial=0.0)))))
        u, s, vt = u[:, :rank], s[:rank], vt[:rank]
        # a row is in no dependency when its unit vector lies in the column space of u
        free = np.abs(np.sum(u**2, axis=1) - 1.0) < 1e-7
        return cls(u=u, s=s, vt=vt, free=free)

    def determines(self, vectors: npt.NDArray[np.float64]) -> BoolArray:
        """Which rows of ``vectors`` lie in the span of the published rows."""
        if vectors.shape[0] == 0:
            return np.zeros(0, dtype=bool)
        residual = vectors - (vectors @ self.vt.T) @ self.vt if self.vt.shape[0] else vectors
        scale = np.maximum(1.0, np.linalg.norm(vectors, axis=1))
        return np.asarray(np.linalg.norm(residual, axis=1) < 1e-7 * scale)

    def coefficients(self, vector: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """The minimum-norm combination of published rows giving ``vector`` (in their span)."""
        if self.vt.shape[0] == 0:
            return np.zeros(self.u.shape[0])
        return np.asarray(self.u @ ((self.vt @ vector) / self.s))


def determined_values(
    items: npt.ArrayLike, published: npt.ArrayLike, targets: npt.ArrayLike
) -> npt.NDArray[np.bool_]:
    """Which ``targets`` (rows: linear combinations of the finest cells) the published items
    fix exactly: a target is determined when it lies in the span of the published rows."""
    matrix = np.atleast_2d(np.asarray(items, dtype=np.float64))
    shown = np.asarray(published, dtype=bool)
    wanted = np.atleast_2d(np.asarray(targets, dtype=np.float64))
    return _Published.of(matrix[shown]).determines(wanted)


def _round(values: IntArray, base: int | None) -> IntArray:
    if base is None or base <= 1:
        return values
    return np.asarray((values + base // 2) // base * base, dtype=np.int64)


def protect_release(
    finest: npt.ArrayLike,
    items: npt.ArrayLike,
    *,
    min_cell: int = MIN_CELL,
    rounding: int | None = None,
) -> ProtectedRelease:
    """Disclosure control of several values released together (tables, margins, queries).

    ``finest`` are the counts of the common finest partition (flattened); each row of ``items``
    says which finest cells a released value adds up (0/1), so every released value is
    ``items @ finest``. Primary suppression hides every value from 1 to ``min_cell - 1``; a
    finest cell from 1 to ``min_cell - 1`` is sensitive too, although not released (the
    difference of two overlapping queries). Secondary suppression then hides published values
    until neither a hidden value nor a sensitive cell lies in the span of the published rows
    (nothing small can be recomputed by adding and subtracting what was released).

    Each round takes one SVD of the published rows. For every exposed value it hides one
    published value of its minimum-norm expression, preferring one in no other dependency
    (hiding it breaks the recomputation), then one sharing a published sub-total with the
    exposed value, then one adding fewer cells, then the smallest. Zeros are published.
    ``rounding`` (e.g. 5) rounds the published values.
    """
    cells = np.asarray(finest).ravel()
    if cells.size and (np.any(cells < 0) or not np.all(np.equal(np.mod(cells, 1), 0))):
        raise ValueError("counts must be non-negative integers")
    x = cells.astype(np.int64)
    matrix = np.atleast_2d(np.asarray(items, dtype=np.float64))
    if matrix.shape[1] != x.size:
        raise ValueError(
            f"each released value must list the {x.size} finest cells (got {matrix.shape[1]})"
        )
    if np.any((matrix != 0) & (matrix != 1)):
        raise ValueError("a released value adds finest cells: items are 0/1")
    if min_cell < 1:
        raise ValueError("the threshold min_cell must be at least 1")
    values = np.rint(matrix @ x).astype(np.int64)
    _, group = np.unique(matrix, axis=0, return_inverse=True)
    group = np.asarray(group).ravel()
    primary = (values > 0) & (values < min_cell)
    hidden = np.isin(group, group[primary])
    sensitive = np.eye(x.size)[(x > 0) & (x < min_cell)]
    binary = matrix > 0
    support = binary.sum(axis=1)
    # contains[j, h]: every cell of value j is in value h
    contains = (binary.astype(np.int64) @ binary.T.astype(np.int64)) == support[:, None]
    for _ in range(len(values) + 1):
        shown = np.flatnonzero(~hidden)
        published = _Published.of(matrix[shown])
        targets = np.vstack([matrix[hidden], sensitive])
        exposed = targets[published.determines(targets)]
        if exposed.shape[0] == 0:
            break
        chosen: set[int] = set()
        for target in exposed:
            pick = _secondary_choice(
                target, shown, published, values=values, binary=binary,
                support=support, contains=contains,
            )  # fmt: skip
            if pick is not None:
                chosen.add(pick)
        if not chosen:  # cannot happen (a positive value is never a sum of zeros): be safe
            hidden |= values > 0
            break
        hidden |= np.isin(group, group[sorted(chosen)])
    published_values = _round(values, rounding)
    return ProtectedRelease(
        values=[None if h else int(v) for v, h in zip(published_values, hidden, strict=True)],
        primary=[bool(p) for p in primary],
        secondary=[bool(h and not p) for h, p in zip(hidden, primary, strict=True)],
        min_cell=min_cell,
        rounding=rounding,
    )


def _secondary_choice(
    target: npt.NDArray[np.float64],
    shown: IntArray,
    published: _Published,
    *,
    values: IntArray,
    binary: BoolArray,
    support: IntArray,
    contains: BoolArray,
) -> int | None:
    """The published value to hide so that ``target`` stops being recomputable."""
    lam = published.coefficients(target)
    involved = (np.abs(lam) > 1e-9) & (values[shown] > 0)
    if not involved.any():
        positive = shown[values[shown] > 0]
        return int(positive[np.argmin(values[positive])]) if positive.size else None
    inside = target > 0
    n_cells = binary.shape[1]
    # published sub-totals (not everything) holding the exposed value
    holders = shown[np.all(binary[shown][:, inside], axis=1) & (support[shown] < n_cells)]
    candidates = shown[involved]
    breaks = published.free[involved]
    if holders.size:
        inner = contains[np.ix_(candidates, holders)] & (candidates[:, None] != holders[None, :])
        near = inner.any(axis=1)
    else:
        near = np.zeros(candidates.size, dtype=bool)
    order = np.lexsort((values[candidates], support[candidates], ~near, ~breaks))
    return int(candidates[order[0]])


def marginal_items(shape: tuple[int, ...], axes: tuple[int, ...]) -> npt.NDArray[np.float64]:
    """The rows of a table over ``axes`` of a finest array of ``shape``, with its margins.

    Rows are numbered as :func:`suppress_table` numbers its items: the cells row-major, then
    the row totals, the column totals and the grand total (for a 1-D table: the cells, then
    the total).
    """
    if not 1 <= len(axes) <= 2 or len(set(axes)) != len(axes):
        raise ValueError("a released table has one or two distinct dimensions")
    if any(a < 0 or a >= len(shape) for a in axes):
        raise ValueError(f"table axes {axes} outside the finest array's {len(shape)} dimensions")
    index = np.indices(shape).reshape(len(shape), -1)

    def rows_over(kept: tuple[int, ...]) -> list[npt.NDArray[np.float64]]:
        if not kept:
            return [np.ones(index.shape[1])]
        sizes = [shape[a] for a in kept]
        out = []
        for combo in np.ndindex(*sizes):
            mask = np.ones(index.shape[1], dtype=bool)
            for a, i in zip(kept, combo, strict=True):
                mask &= index[a] == i
            out.append(mask.astype(np.float64))
        return out

    if len(axes) == 1:
        parts = [rows_over(axes), rows_over(())]
    else:
        parts = [rows_over(axes), rows_over(axes[:1]), rows_over(axes[1:]), rows_over(())]
    return np.vstack([row for part in parts for row in part])


def protect_tables(
    finest: npt.ArrayLike,
    tables: list[tuple[int, ...]],
    *,
    min_cell: int = MIN_CELL,
    rounding: int | None = None,
) -> list[SuppressedTable]:
    """Several tables of one request released together, protected jointly.

    ``finest`` is the count array over every dimension (e.g. site × sex × age group);
    ``tables`` lists the dimensions of each released table (e.g. ``[(0, 1), (0, 2)]`` for
    site × sex and site × age group, which share the site margin). Each table comes back with
    its margins, as :func:`suppress_table` gives them; no suppressed value of any table can be
    recomputed from everything released.
    """
    array = np.asarray(finest)
    if array.ndim < 1:
        raise ValueError("the finest counts have at least one dimension")
    if not tables:
        raise ValueError("release at least one table")
    blocks = [marginal_items(array.shape, axes) for axes in tables]
    result = protect_release(array.ravel(), np.vstack(blocks), min_cell=min_cell, rounding=rounding)
    out: list[SuppressedTable] = []
    start = 0
    for axes, block in zip(tables, blocks, strict=True):
        part = result.values[start : start + block.shape[0]]
        start += block.shape[0]
        n_rows = array.shape[axes[0]]
        n_cols = array.shape[axes[1]] if len(axes) == 2 else 1
        n_cells = n_rows * n_cols
        cells = [part[r * n_cols : (r + 1) * n_cols] for r in range(n_rows)]
        if len(axes) == 1:
            out.append(SuppressedTable(cells=cells, row_totals=part[:n_cells],
                                       column_totals=[part[-1]], total=part[-1]))  # fmt: skip
        else:
            out.append(SuppressedTable(
                cells=cells, row_totals=part[n_cells : n_cells + n_rows],
                column_totals=part[n_cells + n_rows : n_cells + n_rows + n_cols],
                total=part[-1],
            ))  # fmt: skip
    return out
