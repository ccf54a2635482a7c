"""Identity vault, pseudonyms and probabilistic record linkage: the national person index.

See ``docs/linkage.md``. Other domains use only what ``__all__`` lists.
"""

from __future__ import annotations

from oncobase.linkage.deaths import VITAL_STATUS_SCHEMA, vital_status
from oncobase.linkage.errors import LinkageError
from oncobase.linkage.evaluate import PairwiseScores, pairwise_scores
from oncobase.linkage.index import (
    assign_person_ids,
    ensure_pseudonym_key,
    project_pseudonym,
    pseudonym,
    pseudonyms,
)
from oncobase.linkage.link import LinkResult, link_features, link_identities
from oncobase.linkage.model import Thresholds, build_settings
from oncobase.linkage.nir import nir_is_valid, nir_key
from oncobase.linkage.normalise import INPUT_COLUMNS, normalise_identities
from oncobase.linkage.run import (
    RunSummary,
    decide,
    ensure_linkage_keys,
    link_into_vault,
    person_index_table,
    review_pairs,
)
from oncobase.linkage.sources import from_source_records
from oncobase.linkage.vault import Vault, ensure_vault_key, rotate_vault_key

__all__ = [
    "INPUT_COLUMNS",
    "VITAL_STATUS_SCHEMA",
    "LinkResult",
    "LinkageError",
    "PairwiseScores",
    "RunSummary",
    "Thresholds",
    "Vault",
    "assign_person_ids",
    "build_settings",
    "decide",
    "ensure_linkage_keys",
    "ensure_pseudonym_key",
    "ensure_vault_key",
    "from_source_records",
    "link_features",
    "link_identities",
    "link_into_vault",
    "nir_is_valid",
    "nir_key",
    "normalise_identities",
    "pairwise_scores",
    "person_index_table",
    "project_pseudonym",
    "pseudonym",
    "pseudonyms",
    "review_pairs",
    "rotate_vault_key",
    "vital_status",
]
