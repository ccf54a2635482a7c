"""Clustering over record pairs: connected components, and components that respect
cannot-link constraints (clerical non-match decisions).

:func:`components` is vectorised with scipy.sparse. :func:`constrained_components` first
computes the plain components; only the few components that would hold both ends of a
cannot-link pair are rebuilt edge by edge (strongest edge first, an edge that would join a
cannot-link pair skipped), so the per-edge work is bounded by the size of those components,
not by the national volume.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


def components(n: int, left: IntArray, right: IntArray) -> IntArray:
    """For ``n`` nodes and undirected edges, the smallest node of each node's component."""
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    data = np.ones(len(left), dtype=np.int8)
    graph = coo_matrix((data, (left, right)), shape=(n, n)).tocsr()
    _, labels = connected_components(graph, directed=False)
    smallest = np.full(labels.max() + 1, n, dtype=np.int64)
    np.minimum.at(smallest, labels, np.arange(n, dtype=np.int64))
    return np.asarray(smallest[labels], dtype=np.int64)


@dataclass(frozen=True, kw_only=True)
class Clustering:
    """Component of each node (its smallest node) and what the constraints changed."""

    labels: IntArray
    skipped_edges: int = 0  # edges not applied because they would join a cannot-link pair
    constrained_components: int = 0  # plain components that had to be rebuilt


def constrained_components(
    n: int,
    left: IntArray,
    right: IntArray,
    weight: FloatArray,
    *,
    cannot_left: IntArray,
    cannot_right: IntArray,
) -> Clustering:
    """Components of ``n`` nodes where no component holds both ends of a cannot-link pair.

    Edges are merged in decreasing ``weight`` (ties: input order); an edge that would put a
    cannot-link pair in one cluster is skipped. Without conflicts the result is the plain
    connected components.
    """
    labels = components(n, left, right)
    if n == 0 or len(cannot_left) == 0 or len(left) == 0:
        return Clustering(labels=labels)
    cl = np.asarray(cannot_left, dtype=np.int64)
    cr = np.asarray(cannot_right, dtype=np.int64)
    conflict = (labels[cl] == labels[cr]) & (cl != cr)
    if not conflict.any():
        return Clustering(labels=labels)
    bad = np.unique(labels[cl[conflict]])
    in_bad = np.isin(labels, bad)
    edge_mask = in_bad[left]  # an edge lies inside one component: both ends share its label
    order = np.flatnonzero(edge_mask)
    order = order[np.argsort(-weight[order], kind="stable")]
    nodes = np.flatnonzero(in_bad)
    # Union-find over the nodes of the conflicting components only (a few records each).
    parent = {int(v): int(v) for v in nodes}
    members = {int(v): {int(v)} for v in nodes}
    forbidden: dict[int, set[int]] = {int(v): set() for v in nodes}
    keep = np.isin(cl, nodes) & np.isin(cr, nodes) & (cl != cr)
    for a, b in zip(cl[keep].tolist(), cr[keep].tolist(), strict=True):
        forbidden[a].add(b)
        forbidden[b].add(a)

    def find(v: int) -> int:
        root = v
        while parent[root] != root:
            root = parent[root]
        while parent[v] != root:
            parent[v], v = root, parent[v]
        return root

    skipped = 0
    for u, v in zip(left[order].tolist(), right[order].tolist(), strict=True):
        ru, rv = find(u), find(v)
        if ru == rv:
            continue
        if len(members[ru]) < len(members[rv]):
            ru, rv = rv, ru
        if not forbidden[ru].isdisjoint(members[rv]):
            skipped += 1
            continue
        parent[rv] = ru
        members[ru] |= members.pop(rv)
        forbidden[ru] |= forbidden.pop(rv)
    out = labels.copy()
    for group in members.values():
        smallest = min(group)
        out[np.fromiter(group, dtype=np.int64, count=len(group))] = smallest
    return Clustering(labels=out, skipped_edges=skipped, constrained_components=len(bad))
