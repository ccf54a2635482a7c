"""Clustering with cannot-link constraints (clerical non-match decisions)."""

from __future__ import annotations

import numpy as np

from oncobase.linkage._graph import components, constrained_components


def _ints(*values: int) -> np.ndarray:
    return np.array(values, dtype=np.int64)


def test_chaining_cannot_bypass_a_non_match() -> None:
    # A=0, C=1, B=2: A–C and C–B link, A–B was declared a non-match.
    plain = components(3, _ints(0, 1), _ints(1, 2))
    assert plain.tolist() == [0, 0, 0]  # what plain connected components do
    result = constrained_components(
        3, _ints(0, 1), _ints(1, 2), np.array([0.99, 0.97]),
        cannot_left=_ints(0), cannot_right=_ints(2),
    )  # fmt: skip
    assert result.labels.tolist() == [0, 0, 2]  # the stronger link A–C wins
    assert result.skipped_edges == 1 and result.constrained_components == 1


def test_strongest_link_is_kept() -> None:
    result = constrained_components(
        3, _ints(0, 1), _ints(1, 2), np.array([0.96, 0.99]),
        cannot_left=_ints(2), cannot_right=_ints(0),
    )  # fmt: skip
    assert result.labels.tolist() == [0, 1, 1]


def test_constraints_hold_on_a_random_graph() -> None:
    rng = np.random.default_rng(7)
    n = 20_000
    # sparse, short-range edges: many small components, as linkage clusters are
    left = rng.integers(0, n, 14_000)
    right = np.minimum(left + rng.integers(1, 6, 14_000), n - 1)
    weight = rng.random(14_000)
    plain = components(n, left, right)
    # cannot-link pairs drawn inside the larger components, and a few across them
    sizes = np.bincount(plain, minlength=n)
    big = np.flatnonzero(sizes[plain] >= 5)
    cl = rng.choice(big, 300)
    cr = np.array([rng.choice(np.flatnonzero(plain == plain[v])) for v in cl], dtype=np.int64)
    result = constrained_components(n, left, right, weight, cannot_left=cl, cannot_right=cr)
    labels = result.labels
    distinct = cl != cr
    assert not np.any(labels[cl[distinct]] == labels[cr[distinct]])
    assert result.skipped_edges > 0
    # components without a conflict are exactly the plain ones
    touched = np.isin(plain, plain[cl[distinct]])
    assert np.array_equal(labels[~touched], plain[~touched])
    # a constrained cluster never spans two plain components, and is labelled by its
    # smallest node
    assert np.all(plain[labels] == plain)
    assert np.all(labels <= np.arange(n))
    # maximality: each skipped-or-unused edge inside a touched component either joins one
    # cluster or would join a cannot-link pair
    forbidden = {(int(a), int(b)) for a, b in zip(cl, cr, strict=True)}
    forbidden |= {(b, a) for a, b in forbidden}
    members: dict[int, set[int]] = {}
    for v in np.flatnonzero(touched):
        members.setdefault(int(labels[v]), set()).add(int(v))
    for u, v in zip(left, right, strict=True):
        lu, lv = int(labels[u]), int(labels[v])
        if lu == lv or not touched[u]:
            continue
        assert any((a, b) in forbidden for a in members[lu] for b in members[lv])


def test_no_constraints_is_plain_components() -> None:
    left, right = _ints(0, 2, 4), _ints(1, 3, 5)
    result = constrained_components(
        6, left, right, np.ones(3), cannot_left=_ints(), cannot_right=_ints()
    )
    assert result.labels.tolist() == components(6, left, right).tolist()
    assert result.skipped_edges == 0
