"""Ingestion: one reader per source format → staging (identity apart) → OMOP load."""

from __future__ import annotations

from oncobase.ingest.deaths import StageCounts, read_death_file, stage_death_files
from oncobase.ingest.quarantine import (
    IngestError,
    Quarantine,
    decrypt_raw,
    list_quarantine,
    store_quarantine,
)
from oncobase.ingest.registry_csv import read_mapping, read_registry_csv, stage_registry_csv

__all__ = [
    "IngestError",
    "Quarantine",
    "StageCounts",
    "decrypt_raw",
    "list_quarantine",
    "read_death_file",
    "read_mapping",
    "read_registry_csv",
    "stage_death_files",
    "stage_registry_csv",
    "store_quarantine",
]
