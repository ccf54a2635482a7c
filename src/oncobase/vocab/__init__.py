"""Terminologies: the built-in subset, the OHDSI Athena loader and code mapping."""

from __future__ import annotations

from oncobase.vocab.builtin import LOCAL_CONCEPT_ID_START, builtin_vocabulary, read_source_file
from oncobase.vocab.icdo3_to_icd10 import (
    convert_icdo3_to_icd10,
    convert_icdo3_to_icd10_arrays,
)
from oncobase.vocab.loader import VocabLoadReport, load_athena, load_builtin, read_athena_file
from oncobase.vocab.mapping import (
    CodeMap,
    load_code_map,
    map_code,
    map_to_standard,
    normalise_codes,
)

__all__ = [
    "LOCAL_CONCEPT_ID_START",
    "CodeMap",
    "VocabLoadReport",
    "builtin_vocabulary",
    "convert_icdo3_to_icd10",
    "convert_icdo3_to_icd10_arrays",
    "load_athena",
    "load_builtin",
    "load_code_map",
    "map_code",
    "map_to_standard",
    "normalise_codes",
    "read_athena_file",
    "read_source_file",
]
