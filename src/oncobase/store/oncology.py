"""Conventions of the OMOP oncology model used by OncoBase.

The OMOP CDM v5.4 carries the oncology extension in its core tables:

* ``episode`` — an abstraction over clinical events: a *disease episode* (the cancer, from
  first occurrence through recurrence, progression or remission) and *treatment episodes*
  (a regimen, a surgery, a radiotherapy course). ``episode_object_concept_id`` is the
  cancer diagnosis (disease episodes) or the regimen/procedure (treatment episodes);
  ``episode_parent_id`` links a treatment episode to its disease episode.
* ``episode_event`` — links an episode to the rows (condition, drug, procedure,
  measurement …) that make it up: ``event_id`` + ``episode_event_field_concept_id``
  (the concept of the field that ``event_id`` points to, e.g. condition_occurrence_id).
* cancer modifiers — stage, TNM categories, grade, tumour size, nodes, biomarkers are
  ``measurement`` rows whose ``measurement_event_id`` points to the diagnosis row and
  ``meas_event_field_concept_id`` names that row's table field.

Only concept ids checked against the specification or a public OMOP data profile are
given here; the other Episode-domain concepts (first occurrence, recurrence, progression …)
are resolved by name from the vocabulary once an Athena export is loaded.
"""

from __future__ import annotations

from typing import Final

# Episode concept "Treatment Regimen" (named in the CDM v5.4 etlConventions of episode).
EPISODE_TREATMENT_REGIMEN: Final = 32531

# Type concept "EHR" (vocabulary 'Type Concept').
TYPE_EHR: Final = 32817
