"""The national person index: clusters → stable integer ``person_id``, and pseudonyms.

Stability rules (:func:`assign_person_ids`):

* a record already indexed keeps its person's id when new records join the cluster;
* a cluster that holds records of several existing persons (a merge) takes the smallest id;
* if an existing person is split across clusters, the cluster with most of its records
  keeps the id, the others get new ids;
* a cluster with no indexed record gets a new id, above every id ever given.

Pseudonyms are keyed HMAC-SHA256 of the person id (key ``<home>/keys/pseudonym.key``, 0600);
a project pseudonym uses a key derived per project, so two projects' extracts cannot be
joined without the master key.
"""

from __future__ import annotations

import hashlib
import hmac

import duckdb
import pyarrow as pa

from oncobase.config import Settings
from oncobase.keys import ensure_key

INDEX_SCHEMA = pa.schema(
    [("source", pa.string()), ("local_id", pa.string()), ("person_id", pa.int64())]
)


def assign_person_ids(
    clusters: pa.Table,
    previous: pa.Table | None,
    *,
    next_id: int | None = None,
    ordered: bool = True,
) -> pa.Table:
    """``(source, local_id, person_id)`` for ``clusters`` (source, record_id, cluster).

    Records of ``previous`` absent from ``clusters`` keep their row. New ids start at
    ``next_id`` (default: one above the largest id of ``previous``); an incremental run
    passes only the index rows it touches, and the next free id of the whole index.
    ``ordered``: rows sorted by person id (a full index is written so); an increment, which
    writes only the changed rows, skips the sort.
    """
    prev = previous if previous is not None else INDEX_SCHEMA.empty_table()
    con = duckdb.connect()
    try:
        con.register("c", clusters.select(["source", "record_id", "cluster"]))
        con.register("p", prev.select(["source", "local_id", "person_id"]))
        return (
            con.sql(
                """
            WITH j AS (
              SELECT c.source, c.record_id AS local_id, c.cluster, p.person_id
              FROM c LEFT JOIN p ON p.source = c.source AND p.local_id = c.record_id
            ), claims AS (  -- each cluster claims the smallest existing id among its records
              SELECT cluster, min(person_id) AS claimed FROM j GROUP BY cluster
            ), support AS (
              SELECT j.cluster, count(*) AS n
              FROM j JOIN claims USING (cluster)
              WHERE j.person_id = claims.claimed GROUP BY j.cluster
            ), winners AS (  -- a split id stays with the cluster holding most of its records
              SELECT cl.cluster, cl.claimed,
                     row_number() OVER (PARTITION BY cl.claimed
                                        ORDER BY s.n DESC, cl.cluster) AS rank
              FROM claims cl JOIN support s USING (cluster)
              WHERE cl.claimed IS NOT NULL
            ), kept AS (
              SELECT cluster, claimed AS person_id FROM winners WHERE rank = 1
            ), fresh AS (
              SELECT cluster,
                     coalesce($next_id - 1, (SELECT coalesce(max(person_id), 0) FROM p))
                     + row_number() OVER (ORDER BY cluster) AS person_id
              FROM claims WHERE cluster NOT IN (SELECT cluster FROM kept)
            ), ids AS (SELECT * FROM kept UNION ALL SELECT * FROM fresh)
            SELECT j.source, j.local_id, ids.person_id
            FROM j JOIN ids USING (cluster)
            UNION ALL
            SELECT p.source, p.local_id, p.person_id FROM p
            WHERE NOT EXISTS (SELECT 1 FROM c WHERE c.source = p.source
                              AND c.record_id = p.local_id)
            """
                + ("ORDER BY person_id, source, local_id" if ordered else ""),
                params={"next_id": next_id},
            )
            .to_arrow_table()
            .cast(INDEX_SCHEMA)
        )
    finally:
        con.close()


def ensure_pseudonym_key(settings: Settings) -> bytes:
    """The pseudonym HMAC key (``<home>/keys/pseudonym.key``, 0600, created on first use)."""
    return ensure_key(settings, "pseudonym.key")


def _key(key: bytes | None) -> bytes:
    if key is not None:
        return key
    from oncobase.config import get_settings

    return ensure_pseudonym_key(get_settings())


def pseudonym(person_id: int, *, key: bytes | None = None) -> str:
    """The platform pseudonym of a person (64 hex characters)."""
    return hmac.new(_key(key), f"person:{person_id}".encode(), hashlib.sha256).hexdigest()


def project_pseudonym(person_id: int, project_id: str, *, key: bytes | None = None) -> str:
    """A pseudonym valid in one project only: HMAC under a key derived for the project."""
    key = _key(key)
    project_key = hmac.new(key, f"project:{project_id}".encode(), hashlib.sha256).digest()
    return hmac.new(project_key, f"person:{person_id}".encode(), hashlib.sha256).hexdigest()


def pseudonyms(person_ids: pa.Array, *, key: bytes, project_id: str | None = None) -> pa.Array:
    """Pseudonyms of many persons (one HMAC each, in C; no identifier involved)."""
    ids = person_ids.to_pylist()
    if project_id is None:
        return pa.array([pseudonym(i, key=key) for i in ids], pa.string())
    project_key = hmac.new(key, f"project:{project_id}".encode(), hashlib.sha256).digest()
    return pa.array(
        [hmac.new(project_key, f"person:{i}".encode(), hashlib.sha256).hexdigest() for i in ids],
        pa.string(),
    )
