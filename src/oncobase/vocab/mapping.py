"""Source code + vocabulary → standard concept id, a column at a time.

OMOP's rule: a source code is looked up in CONCEPT by (vocabulary_id, concept_code); a
standard concept is its own target, a non-standard one follows its valid 'Maps to'
relationship to a standard concept; a code that resolves to nothing maps to 0 and its
source value is kept by the caller. Athena concepts (ids below 2,000,000,000) win over the
built-in subset when both carry the code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from oncobase.store import Backend
from oncobase.vocab.builtin import LOCAL_CONCEPT_ID_START

# Vocabularies whose codes are written with a dot after the third character.
_DOTTED = frozenset({"ICD10", "ICD10CM", "CIM10", "ICDO3", "ICD10GM", "ICD10CN"})
_UNDOTTED = re.compile(r"^([A-Z][0-9]{2})([0-9A-Z]{1,2})$")


def normalise_codes(codes: pa.Array | pa.ChunkedArray, vocabulary_id: str) -> pa.ChunkedArray:
    """Trim, upper-case and, for ICD-style vocabularies, restore the dot (``C509`` → ``C50.9``)."""
    text = pc.utf8_upper(pc.utf8_trim_whitespace(pc.cast(codes, pa.string())))
    if vocabulary_id in _DOTTED:
        text = pc.replace_substring_regex(text, _UNDOTTED.pattern, r"\1.\2")
    return text if isinstance(text, pa.ChunkedArray) else pa.chunked_array([text])


@dataclass(frozen=True, kw_only=True)
class CodeMap:
    """The resolved codes of one vocabulary: code → source concept id, standard concept id."""

    vocabulary_id: str
    codes: pa.Array
    source_concept_ids: pa.Array
    standard_concept_ids: pa.Array

    def apply(self, codes: pa.Array | pa.ChunkedArray) -> pa.Table:
        """Map a column of codes; unknown codes (and nulls) get concept id 0."""
        normalised = normalise_codes(codes, self.vocabulary_id)
        index = pc.index_in(normalised, value_set=self.codes)
        source = pc.fill_null(pc.take(self.source_concept_ids, index), 0)
        standard = pc.fill_null(pc.take(self.standard_concept_ids, index), 0)
        return pa.table(
            {
                "source_value": pc.cast(codes, pa.string()),
                "source_concept_id": source,
                "concept_id": standard,
            }
        )


def load_code_map(backend: Backend, vocabulary_id: str) -> CodeMap:
    """Resolve every code of a vocabulary once (two queries), for repeated column mapping."""
    concepts = backend.query_arrow(
        "SELECT concept_id, concept_code, standard_concept FROM concept "
        "WHERE vocabulary_id = $1 AND invalid_reason IS NULL",
        (vocabulary_id,),
    )
    maps_to = backend.query_arrow(
        "SELECT r.concept_id_1 AS source_id, min(r.concept_id_2) AS target_id "
        "FROM concept_relationship r "
        "JOIN concept s ON s.concept_id = r.concept_id_1 "
        "JOIN concept t ON t.concept_id = r.concept_id_2 "
        "WHERE s.vocabulary_id = $1 AND r.relationship_id = 'Maps to' "
        "AND r.invalid_reason IS NULL AND t.standard_concept = 'S' "
        "AND t.invalid_reason IS NULL GROUP BY r.concept_id_1",
        (vocabulary_id,),
    )
    if concepts.num_rows == 0:
        empty_ids = pa.array([], pa.int64())
        return CodeMap(
            vocabulary_id=vocabulary_id,
            codes=pa.array([], pa.string()),
            source_concept_ids=empty_ids,
            standard_concept_ids=empty_ids,
        )
    ids = pc.cast(concepts.column("concept_id"), pa.int64())
    # Athena first (local flag 0), then the lowest id: the first row per code wins.
    ordered = pa.table(
        {
            "code": normalise_codes(concepts.column("concept_code"), vocabulary_id),
            "concept_id": ids,
            "is_local": pc.cast(pc.greater_equal(ids, LOCAL_CONCEPT_ID_START), pa.int8()),
            "standard": concepts.column("standard_concept"),
        }
    ).sort_by([("code", "ascending"), ("is_local", "ascending"), ("concept_id", "ascending")])
    codes = ordered.column("code").combine_chunks()
    first = pc.not_equal(codes[1:], codes[:-1]) if len(codes) > 1 else pa.array([], pa.bool_())
    keep = pa.concat_arrays([pa.array([True]), pc.fill_null(first, True)])
    chosen = ordered.filter(keep)
    target_lookup = pc.index_in(
        chosen.column("concept_id"), value_set=pc.cast(maps_to.column("source_id"), pa.int64())
    )
    mapped = pc.take(pc.cast(maps_to.column("target_id"), pa.int64()), target_lookup)
    is_standard = pc.fill_null(pc.equal(chosen.column("standard"), "S"), False)
    standard_ids = pc.if_else(is_standard, chosen.column("concept_id"), pc.fill_null(mapped, 0))
    return CodeMap(
        vocabulary_id=vocabulary_id,
        codes=chosen.column("code").combine_chunks(),
        source_concept_ids=chosen.column("concept_id").combine_chunks(),
        standard_concept_ids=pc.cast(standard_ids, pa.int64()).combine_chunks(),
    )


def map_to_standard(
    backend: Backend, codes: pa.Array | pa.ChunkedArray | list[str | None], vocabulary_id: str
) -> pa.Table:
    """Map source codes of one vocabulary to standard concept ids (0 when unknown).

    Returns a table with ``source_value``, ``source_concept_id`` and ``concept_id``, one row
    per input code, in input order.
    """
    column = (
        codes if isinstance(codes, pa.Array | pa.ChunkedArray) else pa.array(codes, pa.string())
    )
    return load_code_map(backend, vocabulary_id).apply(column)


def map_code(backend: Backend, code: str, vocabulary_id: str) -> int:
    """One code → its standard concept id, or 0."""
    return int(map_to_standard(backend, [code], vocabulary_id).column("concept_id")[0].as_py())
