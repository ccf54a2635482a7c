"""Hospital FHIR R4 feeds → staging: read, validate, split identity, map to OMOP rows.

``stage_fhir(path, settings=..., source=...)`` stages one source: a folder of NDJSON files
(a Bulk Data export; the source is named after the folder) or one file (a Bundle, a single
resource, NDJSON; plain or gzip). Bad records go to the returned quarantine with a reason and
their location; the counts always add up: ``read == accepted + ignored + quarantined``.
"""

from __future__ import annotations

from oncobase.ingest.fhir.stage import FhirStageResult, list_fhir_files, stage_fhir

__all__ = ["FhirStageResult", "list_fhir_files", "stage_fhir"]
