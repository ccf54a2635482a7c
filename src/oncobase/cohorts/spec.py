"""Cohort definitions as data: the pydantic model behind the YAML files and the JSON Schema.

A definition has three parts:

* ``entry``: the first diagnosis, per person, of a condition matching ``any_of`` code sets
  and none of the ``none_of`` code sets. A code set is a conjunction: every field it gives
  (ICD-10, ICD-O-3 topography, morphology, behaviour) must match. Codes match their
  descendants (``C25`` matches ``C25.0``; ``8140`` matches ``8140/3``), and ``A-B`` is an
  inclusive range on the code's leading characters (``C18-C20``, ``9840-9931``).
* ``inclusion``: rules applied in order (the attrition table counts persons left after each).
* ``exit``: the cohort end date is the earliest of death, end of observation and a fixed
  horizon after entry, as enabled.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from oncobase.cohorts import _vocab

SCHEMA_VERSION = "1.0"
_NAME_RE = r"^[a-z][a-z0-9_]*$"
_STAGE_RE = re.compile(r"^(0|IS|I|II|III|IV)[A-C]?[0-9]?$")


def _split_range(value: str) -> tuple[str, str]:
    low, _, high = value.partition("-")
    return low.strip(), high.strip()


def _check_codes(
    value: str, *, kind: str, pattern: re.Pattern[str], known: frozenset[str], strip_dot: bool
) -> str:
    text = value.strip().upper()
    parts = _split_range(text) if "-" in text else (text,)
    for part in parts:
        if not pattern.match(part):
            raise ValueError(f"{value!r} is not an {kind} code or range (e.g. see the docs)")
    if len(parts) == 2 and parts[0] > parts[1]:
        raise ValueError(f"empty {kind} range {value!r}: its start is after its end")
    if len(parts) == 1:
        key = parts[0].replace(".", "") if strip_dot else parts[0]
        if key not in known:
            raise ValueError(f"unknown {kind} code {value!r} (not in the vocabulary)")
    return text


def _icd10(value: str) -> str:
    return _check_codes(
        value, kind="ICD-10", pattern=_vocab.ICD10_RE, known=_vocab.icd10_codes(), strip_dot=True
    )


def _topography(value: str) -> str:
    return _check_codes(
        value,
        kind="ICD-O-3 topography",
        pattern=_vocab.TOPOGRAPHY_RE,
        known=_vocab.topography_codes(),
        strip_dot=True,
    )


def _morphology(value: str) -> str:
    # The shipped ICD-O-3 subset is small: a morphology is checked for its form and its
    # range (8000-9993, the ICD-O-3 neoplasm codes), not for its presence in the subset.
    return _check_codes(
        value,
        kind="ICD-O-3 morphology",
        pattern=_vocab.MORPHOLOGY_RE,
        known=_vocab.morphology_codes() | _vocab.morphology_range(),
        strip_dot=False,
    )


def _behaviour(value: str) -> str:
    if not _vocab.BEHAVIOUR_RE.match(value.strip()):
        raise ValueError(f"{value!r} is not an ICD-O-3 behaviour code (one digit, 3 = malignant)")
    return value.strip()


def _departement(value: str) -> str:
    if value not in _vocab.departement_codes():
        raise ValueError(f"unknown département code {value!r}")
    return value


def _region(value: str) -> str:
    if value not in _vocab.region_codes():
        raise ValueError(f"unknown region code {value!r} (INSEE region codes, e.g. '11')")
    return value


def _stage(value: str) -> str:
    text = value.strip().upper()
    if not _STAGE_RE.match(text):
        raise ValueError(f"{value!r} is not a TNM stage group (0, I … IV with A-C suffix)")
    return text


def _biomarker(value: str) -> str:
    if value.strip().upper() not in _vocab.biomarker_aliases():
        raise ValueError(f"unknown biomarker {value!r} (a code or LOINC of vocab biomarkers.csv)")
    return value.strip().upper()


Icd10 = Annotated[str, AfterValidator(_icd10)]
Topography = Annotated[str, AfterValidator(_topography)]
Morphology = Annotated[str, AfterValidator(_morphology)]
Behaviour = Annotated[str, AfterValidator(_behaviour)]
Departement = Annotated[str, AfterValidator(_departement)]
Region = Annotated[str, AfterValidator(_region)]
Stage = Annotated[str, AfterValidator(_stage)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CodeSet(_Model):
    """Diagnosis codes that must all match (fields left empty match anything)."""

    icd10: list[Icd10] = Field(default_factory=list, description="ICD-10 codes or ranges")
    topography: list[Topography] = Field(default_factory=list, description="ICD-O-3 sites")
    morphology: list[Morphology] = Field(default_factory=list, description="ICD-O-3 histology")
    behaviour: list[Behaviour] = Field(default_factory=list, description="ICD-O-3 behaviour")

    @model_validator(mode="after")
    def _not_empty(self) -> CodeSet:
        if not (self.icd10 or self.topography or self.morphology or self.behaviour):
            raise ValueError("a code set needs at least one of icd10, topography, morphology")
        return self


class Entry(_Model):
    """The entry event: the first diagnosis matching ``any_of`` and none of ``none_of``."""

    any_of: list[CodeSet] = Field(min_length=1)
    none_of: list[CodeSet] = Field(default_factory=list)


class Window(_Model):
    """Days relative to the entry date (negative = before), both ends included."""

    start_days: int
    end_days: int

    @model_validator(mode="after")
    def _ordered(self) -> Window:
        if self.start_days > self.end_days:
            raise ValueError(
                f"impossible window: start_days {self.start_days} is after end_days {self.end_days}"
            )
        return self


class _Rule(_Model):
    name: str | None = Field(default=None, description="label in the attrition table")


class AgeRule(_Rule):
    type: Literal["age"]
    min: int | None = Field(default=None, ge=0, le=120)
    max: int | None = Field(default=None, ge=0, le=120)

    @model_validator(mode="after")
    def _ordered(self) -> AgeRule:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"impossible age range: min {self.min} > max {self.max}")
        return self


class SexRule(_Rule):
    type: Literal["sex"]
    values: list[Literal["M", "F"]] = Field(min_length=1)


class DiagnosisPeriodRule(_Rule):
    type: Literal["diagnosis_period"]
    start: dt.date | None = None
    end: dt.date | None = None

    @model_validator(mode="after")
    def _ordered(self) -> DiagnosisPeriodRule:
        if self.start is not None and self.end is not None and self.start > self.end:
            raise ValueError(f"impossible period: start {self.start} is after end {self.end}")
        return self


class GeographyRule(_Rule):
    type: Literal["geography"]
    departements: list[Departement] = Field(default_factory=list)
    regions: list[Region] = Field(default_factory=list)

    @model_validator(mode="after")
    def _not_empty(self) -> GeographyRule:
        if not (self.departements or self.regions):
            raise ValueError("a geography rule needs departements or regions")
        return self


class StageRule(_Rule):
    """Stage group recorded around diagnosis; ``III`` matches IIIA/IIIB/IIIC."""

    type: Literal["stage"]
    values: list[Stage] = Field(min_length=1)
    window: Window = Window(start_days=-90, end_days=180)


class GradeRule(_Rule):
    type: Literal["grade"]
    values: list[str] = Field(min_length=1, description='e.g. "G3", "G4", "high"')
    window: Window = Window(start_days=-90, end_days=180)


class BiomarkerRule(_Rule):
    """A biomarker result in the window: a value among ``values`` or a number in [min, max]."""

    type: Literal["biomarker"]
    code: Annotated[str, AfterValidator(_biomarker)]
    values: list[str] = Field(default_factory=list)
    min: float | None = None
    max: float | None = None
    window: Window = Window(start_days=-90, end_days=180)

    @model_validator(mode="after")
    def _some_test(self) -> BiomarkerRule:
        if not self.values and self.min is None and self.max is None:
            raise ValueError("a biomarker rule needs values or min/max")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"impossible range: min {self.min} > max {self.max}")
        return self


class TreatmentRule(_Rule):
    """A drug (ATC prefix) or procedure (code prefix) started within the window."""

    type: Literal["treatment"]
    domain: Literal["drug", "procedure", "any"] = "any"
    codes: list[str] = Field(default_factory=list, description="code prefixes; empty = any")
    window: Window = Window(start_days=0, end_days=90)


class NoPriorCancerRule(_Rule):
    """No other cancer diagnosis (C00-C97 except C44, or behaviour /3) in the N years before."""

    type: Literal["no_prior_cancer"]
    years: int = Field(gt=0, le=100)


class MinObservationRule(_Rule):
    """An observation period covering ``days_before`` entry and ``days_after`` it."""

    type: Literal["min_observation"]
    days_before: int = Field(default=0, ge=0)
    days_after: int = Field(default=0, ge=0)


Rule = Annotated[
    AgeRule
    | SexRule
    | DiagnosisPeriodRule
    | GeographyRule
    | StageRule
    | GradeRule
    | BiomarkerRule
    | TreatmentRule
    | NoPriorCancerRule
    | MinObservationRule,
    Field(discriminator="type"),
]


class Exit(_Model):
    """When follow-up ends: the earliest of the enabled events."""

    at_death: bool = True
    at_end_of_observation: bool = True
    horizon_days: int | None = Field(default=None, gt=0)


class CohortDefinition(_Model):
    """One cohort, as written in its YAML file."""

    schema_version: Literal["1.0"] = "1.0"
    name: str = Field(pattern=_NAME_RE, max_length=60)
    title: str
    version: str = Field(pattern=r"^[0-9]+\.[0-9]+(\.[0-9]+)?$")
    description: str = ""
    reference_sites: list[str] = Field(
        default_factory=list,
        description="sites of shared/reference/french_net_survival.csv this cohort answers",
    )
    entry: Entry
    inclusion: list[Rule] = Field(default_factory=list)
    exit: Exit = Exit()

    def rule_names(self) -> list[str]:
        """The attrition labels of the inclusion rules (``name`` or ``type``, made unique)."""
        names: list[str] = []
        for rule in self.inclusion:
            base = rule.name or rule.type
            name, i = base, 2
            while name in names:
                name, i = f"{base}_{i}", i + 1
            names.append(name)
        return names

    def content_hash(self) -> str:
        """SHA-256 of the canonical JSON of the definition (defaults included)."""
        payload = json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def build_json_schema() -> dict[str, Any]:
    """The published JSON Schema of a cohort definition (``schema/cohort.schema.json``)."""
    schema = CohortDefinition.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://oncobase.example/schemas/cohort.schema.json"
    return schema
