"""Adapters from other identity layouts to the linkage input columns."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc


def from_source_records(records: pa.Table) -> pa.Table:
    """Linkage input (``normalise.INPUT_COLUMNS`` + ``source_kind``) from rows shaped like the
    synthetic nation's ``SOURCE_RECORDS`` (``source_id``, ``local_id``, ``family_name`` …)."""

    def col(name: str) -> pa.ChunkedArray:
        return records[name]

    first = col("first_names")
    if pa.types.is_list(first.type):
        first = pc.binary_join(first, " ")
    return pa.table(
        {
            "record_id": col("local_id"),
            "source": col("source_id"),
            "source_kind": col("source_kind"),
            "nir": col("nir"),
            "last_name": col("family_name"),
            "birth_name": col("birth_family_name"),
            "first_names": first,
            "sex": col("sex"),
            "birth_date": col("birth_date").cast(pa.string()),
            "birth_place_code": col("birth_commune"),
            "postcode": col("postcode"),
        }
    )
