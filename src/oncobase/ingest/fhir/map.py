"""FHIR resources → staged OMOP rows (see ``docs/mapping.md``, field by field).

:class:`SourceMapper` holds what one source needs across batches (ids seen, the cancer
Conditions, Medications, patients' identifiers for references by identifier) and turns a batch
of validated resources into Arrow tables shaped by :func:`oncobase.ingest.staging.staged_schema`.
Each resource is visited once to pull its fields into row tuples; dates, concept ids and
vocabulary mapping are then done a column at a time.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from oncobase.ingest.fhir._codes import (
    NIR_SYSTEMS,
    first_coding,
    is_cancer_condition,
    profile_of,
    tnm_axis,
    tnm_code,
)
from oncobase.store import Backend
from oncobase.vocab import CodeMap, load_code_map

TYPE_EHR: Final = 32817
EPISODE_TREATMENT_REGIMEN: Final = 32531  # CDM v5.4 etlConventions (verified)
EPISODE_DISEASE_FIRST_OCCURRENCE: Final = 32528  # OMOP Episode domain; see docs/mapping.md
FIELD_CONDITION_OCCURRENCE_ID: Final = 1147127  # see docs/mapping.md
GENDER: Final = {"male": 8507, "female": 8532}
VISIT_CLASS: Final = {
    "IMP": 9201,
    "ACUTE": 9201,
    "NONAC": 9201,
    "AMB": 9202,
    "SS": 9202,  # short stay (day hospital): outpatient, class code kept as source value
    "VR": 9202,
    "EMER": 9203,
    "inpatient": 9201,
    "outpatient": 9202,
    "ambulatory": 9202,
    "emergency": 9203,
}
_MORPHOLOGY_EXT: Final = "mcode-histology-morphology-behavior"
_RELATED_PRIMARY_EXT: Final = "mcode-related-primary-cancer-condition"
_CANCER_ATC: Final = ("L01", "L02")

# Staged columns each table's row tuples fill, in order.
COLUMNS: Final[dict[str, tuple[str, ...]]] = {
    "person": (
        "local_patient_id",
        "record_key",
        "gender_source_value",
        "birth",
        "departement",
    ),
    "death": ("local_patient_id", "record_key", "death"),
    "visit_occurrence": (
        "local_patient_id",
        "record_key",
        "visit_source_value",
        "start",
        "end",
    ),
    "condition_occurrence": (
        "local_patient_id",
        "record_key",
        "vocabulary",
        "condition_source_value",
        "start",
        "end",
        "condition_status_source_value",
        "morphology",
        "topography",
        "visit_record_key",
    ),
    "measurement": (
        "local_patient_id",
        "record_key",
        "vocabulary",
        "measurement_source_value",
        "start",
        "value_as_number",
        "value_source_value",
        "unit_source_value",
        "visit_record_key",
        "event_record_key",
    ),
    "observation": (
        "local_patient_id",
        "record_key",
        "vocabulary",
        "observation_source_value",
        "start",
        "value_as_number",
        "value_as_string",
        "value_source_value",
        "unit_source_value",
        "visit_record_key",
    ),
    "procedure_occurrence": (
        "local_patient_id",
        "record_key",
        "vocabulary",
        "procedure_source_value",
        "start",
        "end",
        "modifier_source_value",
        "visit_record_key",
    ),
    "drug_exposure": (
        "local_patient_id",
        "record_key",
        "vocabulary",
        "drug_source_value",
        "start",
        "end",
        "sig",
        "route_source_value",
        "stop_reason",
        "visit_record_key",
    ),
    "specimen": (
        "local_patient_id",
        "record_key",
        "specimen_source_id",
        "specimen_source_value",
        "start",
        "anatomic_site_source_value",
    ),
    "note": (
        "local_patient_id",
        "record_key",
        "note_source_value",
        "start",
        "note_title",
        "note_text",
        "visit_record_key",
    ),
    "episode": (
        "local_patient_id",
        "record_key",
        "episode_kind",
        "start",
        "end",
        "object_table",
        "object_key",
        "episode_source_value",
        "parent_record_key",
    ),
    "episode_event": (
        "local_patient_id",
        "record_key",
        "episode_record_key",
        "event_record_key",
        "event_table",
    ),
}


class MappingError(Exception):
    """A resource passed validation but cannot be mapped; the message is a reason."""


@dataclass(frozen=True, kw_only=True)
class CancerCondition:
    secondary: bool
    primary_key: str | None  # the related primary's record key, for secondary cancers


@dataclass(kw_only=True)
class SourceMapper:
    """Maps the resources of one source, batch after batch."""

    source: str
    backend: Backend | None = None
    cancers: dict[str, CancerCondition] = field(default_factory=dict)
    medications: dict[str, dict[str, Any]] = field(default_factory=dict)
    patient_identifiers: dict[tuple[str, str], str] = field(default_factory=dict)
    treatment_episodes: set[str] = field(default_factory=set)
    references: set[str] = field(default_factory=set)
    identity: list[tuple[Any, ...]] = field(default_factory=list)
    ignored: Counter[str] = field(default_factory=Counter)
    undated: Counter[str] = field(default_factory=Counter)
    _maps: dict[str, CodeMap] = field(default_factory=dict)
    _rows: dict[str, list[tuple[Any, ...]]] = field(default_factory=dict)

    # -- references -------------------------------------------------------------------------

    def reference(
        self, value: Any, full_urls: dict[str, str] | None, *, contained: bool = False
    ) -> str | None:
        """``"Type/id"`` of a Reference (relative, absolute, urn:uuid or by identifier)."""
        if not isinstance(value, dict):
            return None
        ref = value.get("reference")
        if isinstance(ref, str) and ref:
            if ref.startswith("#"):
                return ref if contained else None
            if full_urls is not None and ref in full_urls:
                key = full_urls[ref]
            elif ref.startswith("urn:"):
                kind = value.get("type") if isinstance(value.get("type"), str) else "Unknown"
                key = f"{kind}/{ref.rsplit(':', 1)[-1]}"
            else:
                parts = ref.split("/_history/")[0].rstrip("/").split("/")
                key = "/".join(parts[-2:]) if len(parts) >= 2 else f"Unknown/{ref}"
            self.references.add(key)
            return key
        identifier = value.get("identifier")
        if isinstance(identifier, dict):
            system, ident = identifier.get("system"), identifier.get("value")
            if isinstance(ident, str):
                found = self.patient_identifiers.get((str(system), ident))
                if found is not None:
                    return f"Patient/{found}"
                # Never keep the identifier itself: it may be a NIR.
                digest = hashlib.sha256(f"{system}|{ident}".encode()).hexdigest()[:20]
                kind = value.get("type") if isinstance(value.get("type"), str) else "Unknown"
                key = f"{kind}/identifier-{digest}"
                self.references.add(key)
                return key
        return None

    def patient(self, resource: dict[str, Any], full_urls: dict[str, str] | None) -> str:
        key = self.reference(resource.get("subject") or resource.get("patient"), full_urls)
        if key is None:
            raise MappingError(
                f"missing-element: {resource.get('resourceType')}.subject has no usable reference"
            )
        return key.split("/", 1)[1] if "/" in key else key

    def _ref_key(self, value: Any, full_urls: dict[str, str] | None) -> str | None:
        return self.reference(value, full_urls)

    def _visit(self, resource: dict[str, Any], full_urls: dict[str, str] | None) -> str | None:
        enc = resource.get("encounter") or resource.get("context")
        if isinstance(enc, dict) and "encounter" in enc:  # DocumentReference.context
            found = enc.get("encounter")
            enc = found[0] if isinstance(found, list) and found else None
        return self._ref_key(enc, full_urls) if isinstance(enc, dict) else None

    def _reasons(self, resource: dict[str, Any], full_urls: dict[str, str] | None) -> list[str]:
        found = resource.get("reasonReference")
        out: list[str] = []
        if isinstance(found, list):
            for item in found:
                key = self._ref_key(item, full_urls)
                if key is not None and key.startswith("Condition/"):
                    out.append(key)
        return out

    def _undated(self, r: dict[str, Any]) -> str | None:
        """A record without its own date: ``meta.lastUpdated`` or null, counted in ``undated``
        (the row is staged; the load step decides, as OMOP requires the date)."""
        self.undated[str(r.get("resourceType"))] += 1
        meta = r.get("meta")
        if isinstance(meta, dict) and isinstance(meta.get("lastUpdated"), str):
            return str(meta["lastUpdated"])
        return None

    # -- rows ---------------------------------------------------------------------------------

    def _add(self, table: str, row: tuple[Any, ...]) -> None:
        self._rows.setdefault(table, []).append(row)

    def map_resource(
        self, resource: dict[str, Any], *, key: str, full_urls: dict[str, str] | None
    ) -> None:
        """Add the staged rows of one validated resource (``key`` is ``"Type/id"``)."""
        rtype = resource["resourceType"]
        handler = _HANDLERS.get(rtype)
        if handler is None:
            self.ignored[rtype] += 1
            return
        handler(self, resource, key, full_urls)

    # Patient ------------------------------------------------------------------------------

    def _patient(self, r: dict[str, Any], key: str, urls: dict[str, str] | None) -> None:
        local = key.split("/", 1)[1]
        nir = None
        for ident in r.get("identifier") or ():
            if not isinstance(ident, dict) or not isinstance(ident.get("value"), str):
                continue
            system = str(ident.get("system"))
            self.patient_identifiers[(system, ident["value"])] = local
            if system in NIR_SYSTEMS and nir is None:
                nir = ident["value"]
        official: dict[str, Any] | None = None
        usual: dict[str, Any] | None = None
        for name in r.get("name") or ():
            if not isinstance(name, dict):
                continue
            use = name.get("use")
            if use in ("official", "maiden") and official is None:
                official = name
            elif use == "usual" and usual is None:
                usual = name
            elif official is None and usual is None and use is None:
                official = name
        chosen = official or usual or {}
        found_given = chosen.get("given")
        given: list[Any] = found_given if isinstance(found_given, list) else []
        first_names = " ".join(g for g in given if isinstance(g, str)) or None
        birth_name = official.get("family") if official else None
        last_name = (usual or official or {}).get("family")
        gender = r.get("gender") if isinstance(r.get("gender"), str) else None
        birth = r.get("birthDate") if isinstance(r.get("birthDate"), str) else None
        postcode = line = commune = None
        addresses = [a for a in r.get("address") or () if isinstance(a, dict)]
        home = next((a for a in addresses if a.get("use") == "home"), None) or (
            addresses[0] if addresses else None
        )
        if home is not None:
            postcode = home.get("postalCode") if isinstance(home.get("postalCode"), str) else None
            lines = home.get("line")
            if isinstance(lines, list):
                line = ", ".join(x for x in lines if isinstance(x, str)) or None
            commune = _insee_code(home)
        birth_place = None
        for ext in r.get("extension") or ():
            if isinstance(ext, dict) and str(ext.get("url", "")).endswith("patient-birthPlace"):
                birth_place = _insee_code(ext.get("valueAddress"))
        sex = {"male": "M", "female": "F"}.get(gender or "")
        self.identity.append(
            (
                f"{self.source}:{local}",
                local,
                nir,
                last_name if isinstance(last_name, str) else None,
                birth_name if isinstance(birth_name, str) else None,
                first_names,
                sex,
                birth,
                birth_place,
                postcode,
                line,
                commune,
            )
        )
        self._add("person", (local, key, gender, birth, departement_of(postcode)))
        deceased = r.get("deceasedDateTime")
        if isinstance(deceased, str):
            self._add("death", (local, f"{key}#death", deceased))

    # Encounter ----------------------------------------------------------------------------

    def _encounter(self, r: dict[str, Any], key: str, urls: dict[str, str] | None) -> None:
        local = self.patient(r, urls)
        klass = r.get("class")
        code = klass.get("code") if isinstance(klass, dict) else None
        period = _dict(r.get("period"))
        start = period.get("start")
        if not isinstance(start, str):
            raise MappingError("missing-element: Encounter.period.start (a date is needed)")
        end = period.get("end") if isinstance(period.get("end"), str) else start
        self._add("visit_occurrence", (local, key, code, start, end))

    # Condition ----------------------------------------------------------------------------

    def _condition(self, r: dict[str, Any], key: str, urls: dict[str, str] | None) -> None:
        local = self.patient(r, urls)
        profile = profile_of(r)
        _, vocabulary, code, text = first_coding(
            r.get("code"), prefer=("ICD10", "ICD10CM", "ICDO3", "SNOMED")
        )
        morphology = None
        related: str | None = None
        for ext in r.get("extension") or ():
            if not isinstance(ext, dict):
                continue
            url = str(ext.get("url", ""))
            if url.endswith(_MORPHOLOGY_EXT):
                _, _, morphology, _ = first_coding(ext.get("valueCodeableConcept"))
            elif url.endswith(_RELATED_PRIMARY_EXT):
                related = self._ref_key(ext.get("valueReference"), urls)
        topography = None
        sites = r.get("bodySite")
        if isinstance(sites, list) and sites:
            _, site_vocab, site_code, _ = first_coding(sites[0], prefer=("ICDO3",))
            topography = site_code if site_vocab == "ICDO3" else None
        start = _first_date(r, ("onsetDateTime", "recordedDate"), ("onsetPeriod",))
        if start is None:
            start = _asserted_date(r)
        if start is None:
            start = self._undated(r)
        end = _first_date(r, ("abatementDateTime",), ("abatementPeriod",))
        cancer, secondary = is_cancer_condition(
            profile=profile, vocabulary=vocabulary, code=code, text=text, morphology=morphology
        )
        combination = f"{morphology}-{topography}" if morphology and topography else morphology
        self._add(
            "condition_occurrence",
            (
                local,
                key,
                vocabulary,
                code,
                start,
                end,
                combination,
                morphology,
                topography,
                self._visit(r, urls),
            ),
        )
        if cancer:
            self.cancers[key] = CancerCondition(secondary=secondary, primary_key=related)
            if not secondary:
                episode = disease_episode_key(key)
                self._add(
                    "episode",
                    (
                        local,
                        episode,
                        "disease",
                        start,
                        end,
                        "condition_occurrence",
                        key,
                        code,
                        None,
                    ),
                )
                self._event(local, episode, key, "condition_occurrence")
        # Stages written on the Condition without an assessment Observation.
        stages = r.get("stage")
        if isinstance(stages, list):
            for index, stage in enumerate(stages, start=1):
                if not isinstance(stage, dict) or stage.get("assessment"):
                    continue
                _, _, value, value_text = first_coding(stage.get("summary"))
                value = value or value_text
                if not value:
                    continue
                self._modifier(
                    local,
                    f"{key}#stage{index}",
                    vocabulary="TNM8",
                    code=tnm_code("stage", value) or value,
                    start=start,
                    number=None,
                    value=value,
                    unit=None,
                    visit=None,
                    condition=key,
                )

    def _modifier(
        self,
        local: str,
        record_key: str,
        *,
        vocabulary: str | None,
        code: str | None,
        start: str | None,
        number: float | None,
        value: str | None,
        unit: str | None,
        visit: str | None,
        condition: str | None,
    ) -> None:
        self._add(
            "measurement",
            (local, record_key, vocabulary, code, start, number, value, unit, visit, condition),
        )
        if condition is not None:
            cancer = self.cancers.get(condition)
            primary = condition
            if cancer is not None and cancer.secondary:
                primary = cancer.primary_key or condition
            if cancer is None or not cancer.secondary or cancer.primary_key:
                self._event(local, disease_episode_key(primary), record_key, "measurement")

    def _event(self, local: str, episode: str, event: str, table: str) -> None:
        self._add("episode_event", (local, f"{episode}|{event}", episode, event, table))

    # Observation --------------------------------------------------------------------------

    def _observation(self, r: dict[str, Any], key: str, urls: dict[str, str] | None) -> None:
        local = self.patient(r, urls)
        profile = profile_of(r)
        start = _first_date(
            r, ("effectiveDateTime", "effectiveInstant", "issued"), ("effectivePeriod",)
        )
        if start is None:
            start = self._undated(r)
        condition = None
        focus = r.get("focus")
        if isinstance(focus, list):
            for item in focus:
                found = self._ref_key(item, urls)
                if found is not None and found.startswith("Condition/"):
                    condition = found
                    break
        visit = self._visit(r, urls)
        axis = tnm_axis(r, profile)
        if axis is not None:
            _, _, value, text = first_coding(r.get("valueCodeableConcept"))
            raw_value = value or text or _string_value(r)
            shown = text if text and value and text != value else raw_value
            self._modifier(
                local,
                key,
                vocabulary="TNM8",
                code=tnm_code(axis, raw_value) if raw_value else None,
                start=start,
                number=None,
                value=shown,
                unit=None,
                visit=visit,
                condition=condition,
            )
            return
        _, vocabulary, code, _ = first_coding(r.get("code"), prefer=("LOINC",))
        number, value, unit = _value(r)
        if number is None and value is None:
            components = r.get("component")
            if isinstance(components, list) and components and isinstance(components[0], dict):
                component = components[0]
                c_vocab, c_code = first_coding(component.get("code"), prefer=("LOINC",))[1:3]
                if c_code is not None:
                    vocabulary, code = c_vocab, c_code
                number, value, unit = _value(component)
        categories = {
            c.get("code")
            for cat in r.get("category") or ()
            if isinstance(cat, dict)
            for c in cat.get("coding") or ()
            if isinstance(c, dict)
        }
        if condition is None and categories & {"social-history", "survey"}:
            text_value = value[:60] if value else None
            self._add(
                "observation",
                (local, key, vocabulary, code, start, number, text_value, value, unit, visit),
            )
            return
        self._modifier(
            local,
            key,
            vocabulary=vocabulary,
            code=code,
            start=start,
            number=number,
            value=value,
            unit=unit,
            visit=visit,
            condition=condition,
        )

    # Procedure ----------------------------------------------------------------------------

    def _procedure(self, r: dict[str, Any], key: str, urls: dict[str, str] | None) -> None:
        local = self.patient(r, urls)
        profile = profile_of(r)
        _, vocabulary, code, text = first_coding(r.get("code"), prefer=("SNOMED", "CCAM", "CPT4"))
        start = _first_date(r, ("performedDateTime",), ("performedPeriod",))
        if start is None:
            start = self._undated(r)
        end = _period_end(r.get("performedPeriod"))
        site = None
        sites = r.get("bodySite")
        if isinstance(sites, list) and sites:
            site = first_coding(sites[0], prefer=("ICDO3", "SNOMED"))[2]
        self._add(
            "procedure_occurrence",
            (local, key, vocabulary, code or text, start, end, site, self._visit(r, urls)),
        )
        reasons = self._reasons(r, urls)
        related = "cancer-related" in profile or "radiotherapy" in profile or "radiation" in profile
        if related or any(reason in self.cancers for reason in reasons):
            self._treatment(
                local, key, "procedure_occurrence", start=start, end=end, code=code, reasons=reasons
            )

    def _treatment(
        self,
        local: str,
        key: str,
        table: str,
        *,
        start: str | None,
        end: str | None,
        code: str | None,
        reasons: list[str],
    ) -> None:
        episode = f"Episode/treatment/{key}"
        parent = None
        for reason in reasons:
            target = reason
            cancer = self.cancers.get(reason)
            if cancer is not None and cancer.secondary:
                if cancer.primary_key is None:
                    continue
                target = cancer.primary_key
            parent = disease_episode_key(target)
            break
        self.treatment_episodes.add(episode)
        self._add("episode", (local, episode, "treatment", start, end, table, key, code, parent))
        self._event(local, episode, key, table)

    # Medications --------------------------------------------------------------------------

    def _medication(self, r: dict[str, Any], key: str, urls: dict[str, str] | None) -> None:
        self.medications[key] = r

    def _drug_code(
        self, r: dict[str, Any], urls: dict[str, str] | None
    ) -> tuple[str | None, str | None, str | None]:
        concept = r.get("medicationCodeableConcept")
        if not isinstance(concept, dict):
            ref = r.get("medicationReference")
            found = self.reference(ref, urls, contained=True)
            medication: Any = None
            if found is not None and found.startswith("#"):
                for item in r.get("contained") or ():
                    if isinstance(item, dict) and item.get("id") == found[1:]:
                        medication = item
            elif found is not None:
                medication = self.medications.get(found)
            concept = medication.get("code") if isinstance(medication, dict) else None
        _, vocabulary, code, text = first_coding(concept, prefer=("ATC", "RxNorm", "SNOMED"))
        return vocabulary, code, text

    def _drug(
        self,
        r: dict[str, Any],
        key: str,
        urls: dict[str, str] | None,
        *,
        start: str | None,
        end: str | None,
    ) -> None:
        local = self.patient(r, urls)
        if start is None:
            start = self._undated(r)
        vocabulary, code, text = self._drug_code(r, urls)
        sig = route = None
        dosage = r.get("dosageInstruction") or r.get("dosage")
        if isinstance(dosage, list) and dosage and isinstance(dosage[0], dict):
            sig = dosage[0].get("text") if isinstance(dosage[0].get("text"), str) else None
            route = first_coding(dosage[0].get("route"))[2]
        elif isinstance(dosage, dict):
            route = first_coding(dosage.get("route"))[2]
        stop = first_coding(r.get("statusReason"))[2]
        self._add(
            "drug_exposure",
            (
                local,
                key,
                vocabulary,
                code or text,
                start,
                end or start,
                sig,
                route,
                stop[:20] if stop else None,
                self._visit(r, urls),
            ),
        )
        reasons = self._reasons(r, urls)
        request = self._ref_key(r.get("request"), urls)
        if request is not None and f"Episode/treatment/{request}" in self.treatment_episodes:
            self._event(local, f"Episode/treatment/{request}", key, "drug_exposure")
            return
        related = "cancer-related" in profile_of(r) or (
            vocabulary == "ATC" and bool(code) and str(code).startswith(_CANCER_ATC)
        )
        if related or any(reason in self.cancers for reason in reasons):
            self._treatment(
                local, key, "drug_exposure", start=start, end=end, code=code, reasons=reasons
            )

    def _medication_request(self, r: dict[str, Any], key: str, urls: dict[str, str] | None) -> None:
        start = r.get("authoredOn") if isinstance(r.get("authoredOn"), str) else None
        period = r.get("dispenseRequest")
        end = None
        if isinstance(period, dict):
            end = _period_end(period.get("validityPeriod"))
        self._drug(r, key, urls, start=start, end=end)

    def _medication_event(self, r: dict[str, Any], key: str, urls: dict[str, str] | None) -> None:
        start = _first_date(r, ("effectiveDateTime", "dateAsserted"), ("effectivePeriod",))
        self._drug(r, key, urls, start=start, end=_period_end(r.get("effectivePeriod")))

    # Specimen, reports, documents ---------------------------------------------------------

    def _specimen(self, r: dict[str, Any], key: str, urls: dict[str, str] | None) -> None:
        local = self.patient(r, urls)
        collection = _dict(r.get("collection"))
        start = _first_date(collection, ("collectedDateTime",), ("collectedPeriod",))
        if start is None:
            start = r.get("receivedTime") if isinstance(r.get("receivedTime"), str) else None
        if start is None:
            start = self._undated(r)
        _, _, code, text = first_coding(r.get("type"))
        site = first_coding(collection.get("bodySite"), prefer=("ICDO3", "SNOMED"))[2]
        self._add("specimen", (local, key, key.split("/", 1)[1][:50], code or text, start, site))

    def _report(self, r: dict[str, Any], key: str, urls: dict[str, str] | None) -> None:
        local = self.patient(r, urls)
        start = _first_date(r, ("effectiveDateTime", "issued"), ("effectivePeriod",))
        if start is None:
            start = self._undated(r)
        texts = [_attachment_text(a) for a in r.get("presentedForm") or ()]
        body = "\n\n".join(t for t in texts if t)
        conclusion = r.get("conclusion") if isinstance(r.get("conclusion"), str) else None
        if conclusion:
            body = f"{body}\n\n{conclusion}" if body else conclusion
        if not body:
            return  # a panel of results without text: its Observations carry the data
        _, _, code, title = first_coding(r.get("code"), prefer=("LOINC",))
        self._add("note", (local, key, code, start, title, body, self._visit(r, urls)))

    def _document(self, r: dict[str, Any], key: str, urls: dict[str, str] | None) -> None:
        local = self.patient(r, urls)
        context = _dict(r.get("context"))
        start = _first_date(context, (), ("period",)) or (
            r.get("date") if isinstance(r.get("date"), str) else None
        )
        texts: list[str] = []
        title = r.get("description") if isinstance(r.get("description"), str) else None
        for content in r.get("content") or ():
            if isinstance(content, dict) and isinstance(content.get("attachment"), dict):
                attachment = content["attachment"]
                text = _attachment_text(attachment)
                if text:
                    texts.append(text)
                if title is None and isinstance(attachment.get("title"), str):
                    title = attachment["title"]
                if start is None and isinstance(attachment.get("creation"), str):
                    start = attachment["creation"]
        if start is None:
            start = self._undated(r)
        _, _, code, type_text = first_coding(r.get("type"), prefer=("LOINC",))
        self._add(
            "note",
            (
                local,
                key,
                code,
                start,
                (title or type_text or "")[:250] or None,
                "\n\n".join(texts) or None,
                self._visit(r, urls),
            ),
        )

    # -- batch output -----------------------------------------------------------------------

    def take_tables(self) -> dict[str, pa.Table]:
        """The rows added since the last call, as staged Arrow tables (columns to conform)."""
        rows, self._rows = self._rows, {}
        out: dict[str, pa.Table] = {}
        for table, data in rows.items():
            columns = dict(zip(COLUMNS[table], zip(*data, strict=True), strict=True))
            out[table] = _BUILDERS[table](self, columns, len(data))
        return out

    def take_identity(self) -> list[tuple[Any, ...]]:
        rows, self.identity = self.identity, []
        return rows

    def code_map(self, vocabulary: str) -> CodeMap | None:
        if self.backend is None:
            return None
        if vocabulary not in self._maps:
            self._maps[vocabulary] = load_code_map(self.backend, vocabulary)
        return self._maps[vocabulary]

    def concepts(
        self, vocabularies: tuple[Any, ...], codes: tuple[Any, ...]
    ) -> tuple[pa.Array, pa.Array]:
        """Source and standard concept ids of ``codes`` (0 when unknown or no backend)."""
        n = len(codes)
        source = np.zeros(n, dtype=np.int64)
        standard = np.zeros(n, dtype=np.int64)
        if self.backend is not None and n:
            vocab_array = np.array(vocabularies, dtype=object)
            code_array = np.array(codes, dtype=object)
            for vocabulary in {v for v in vocabularies if v}:
                mapping = self.code_map(str(vocabulary))
                if mapping is None or len(mapping.codes) == 0:
                    continue
                where = np.nonzero(vocab_array == vocabulary)[0]
                mapped = mapping.apply(pa.array(code_array[where].tolist(), pa.string()))
                source[where] = mapped.column("source_concept_id").to_numpy()
                standard[where] = mapped.column("concept_id").to_numpy()
        return pa.array(source), pa.array(standard)


_HANDLERS: Final = {
    "Patient": SourceMapper._patient,
    "Encounter": SourceMapper._encounter,
    "Condition": SourceMapper._condition,
    "Observation": SourceMapper._observation,
    "Procedure": SourceMapper._procedure,
    "MedicationRequest": SourceMapper._medication_request,
    "MedicationAdministration": SourceMapper._medication_event,
    "MedicationStatement": SourceMapper._medication_event,
    "Medication": SourceMapper._medication,
    "Specimen": SourceMapper._specimen,
    "DiagnosticReport": SourceMapper._report,
    "DocumentReference": SourceMapper._document,
}

#: The order in which resource types are mapped (what later types refer to comes first).
TYPE_ORDER: Final = (
    "Patient",
    "Medication",
    "Encounter",
    "Condition",
    "Specimen",
    "Observation",
    "Procedure",
    "MedicationRequest",
    "MedicationAdministration",
    "MedicationStatement",
    "DiagnosticReport",
    "DocumentReference",
)


def disease_episode_key(condition_key: str) -> str:
    return f"Episode/disease/{condition_key}"


def departement_of(postcode: str | None) -> str | None:
    """The département of a French postal code (20xxx → 2A/2B, 97xxx → three digits)."""
    if not postcode:
        return None
    code = postcode.strip()
    if len(code) != 5 or not code.isdigit():
        return None
    if code.startswith("20"):
        return "2A" if code[:3] in ("200", "201") else "2B"
    if code.startswith("97") or code.startswith("98"):
        return code[:3]
    return code[:2]


# -- field helpers -------------------------------------------------------------------------


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _insee_code(address: Any) -> str | None:
    if not isinstance(address, dict):
        return None
    for ext in address.get("extension") or ():
        if isinstance(ext, dict) and "insee" in str(ext.get("url", "")):
            coding = ext.get("valueCoding")
            if isinstance(coding, dict) and isinstance(coding.get("code"), str):
                return str(coding["code"])
            if isinstance(ext.get("valueString"), str):
                return str(ext["valueString"])
    return None


def _period_end(period: Any) -> str | None:
    if isinstance(period, dict) and isinstance(period.get("end"), str):
        return str(period["end"])
    return None


def _first_date(r: dict[str, Any], fields: tuple[str, ...], periods: tuple[str, ...]) -> str | None:
    for name in fields:
        value = r.get(name)
        if isinstance(value, str):
            return value
    for name in periods:
        period = r.get(name)
        if isinstance(period, dict):
            for bound in ("start", "end"):
                if isinstance(period.get(bound), str):
                    return str(period[bound])
    return None


def _asserted_date(r: dict[str, Any]) -> str | None:
    for ext in r.get("extension") or ():
        if isinstance(ext, dict) and str(ext.get("url", "")).endswith("condition-assertedDate"):
            value = ext.get("valueDateTime")
            return value if isinstance(value, str) else None
    return None


def _string_value(r: dict[str, Any]) -> str | None:
    value = r.get("valueString")
    return value if isinstance(value, str) else None


def _value(r: dict[str, Any]) -> tuple[float | None, str | None, str | None]:
    """``(value_as_number, value_source_value, unit)`` of an Observation or component."""
    quantity = r.get("valueQuantity")
    if isinstance(quantity, dict):
        number = quantity.get("value")
        unit = quantity.get("code") or quantity.get("unit")
        comparator = quantity.get("comparator")
        shown = f"{comparator or ''}{number}" if number is not None else None
        return (
            float(number) if isinstance(number, int | float) else None,
            shown,
            unit if isinstance(unit, str) else None,
        )
    for name in ("valueInteger", "valueDecimal"):
        number = r.get(name)
        if isinstance(number, int | float) and not isinstance(number, bool):
            return float(number), str(number), None
    concept = r.get("valueCodeableConcept")
    if isinstance(concept, dict):
        _, _, code, text = first_coding(concept)
        return None, code or text, None
    for name in ("valueString", "valueBoolean", "valueDateTime"):
        if name in r and r[name] is not None:
            return None, str(r[name]), None
    return None, None, None


def _attachment_text(attachment: Any) -> str | None:
    if not isinstance(attachment, dict):
        return None
    data = attachment.get("data")
    if not isinstance(data, str):
        return None
    content_type = str(attachment.get("contentType", "text/plain"))
    if not content_type.startswith("text/"):
        return None
    try:
        raw = base64.b64decode(data, validate=False)
    except (binascii.Error, ValueError):
        return None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


# -- column builders -----------------------------------------------------------------------


def _pad(value: str | None) -> str | None:
    """A FHIR date's day as ``YYYY-MM-DD`` (partial dates take the first month/day)."""
    if value is None:
        return None
    n = len(value)
    if n >= 10:
        return value[:10]
    if n == 7:
        return value + "-01"
    if n == 4:
        return value + "-01-01"
    return None


def dates(values: tuple[Any, ...]) -> pa.Array:
    return pa.array([_pad(v) for v in values], pa.string()).cast(pa.date32())


def datetimes(values: tuple[Any, ...]) -> pa.Array:
    """Timestamps (UTC, naive) of dateTime values that carry a time; null otherwise."""
    out: list[dt.datetime | None] = []
    for value in values:
        if value is None or len(value) <= 10:
            out.append(None)
            continue
        try:
            parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            out.append(None)
            continue
        if parsed.tzinfo is not None:
            parsed = parsed.astimezone(dt.UTC).replace(tzinfo=None)
        out.append(parsed)
    return pa.array(out, pa.timestamp("us"))


def _strings(values: tuple[Any, ...], limit: int | None = 50) -> pa.Array:
    if limit is None:
        return pa.array(values, pa.string())
    return pa.array([v[:limit] if isinstance(v, str) else v for v in values], pa.string())


def _const(value: int, n: int) -> pa.Array:
    return pa.array(np.full(n, value, dtype=np.int64))


def _build_person(m: SourceMapper, c: dict[str, tuple[Any, ...]], n: int) -> pa.Table:
    gender = c["gender_source_value"]
    births = c["birth"]
    return pa.table(
        {
            "local_patient_id": _strings(c["local_patient_id"], None),
            "record_key": _strings(c["record_key"], None),
            "gender_concept_id": pa.array([GENDER.get(g or "", 0) for g in gender], pa.int64()),
            "year_of_birth": pa.array([int(b[:4]) if b else None for b in births], pa.int64()),
            "month_of_birth": pa.array(
                [int(b[5:7]) if b and len(b) >= 7 else None for b in births], pa.int64()
            ),
            "race_concept_id": _const(0, n),
            "ethnicity_concept_id": _const(0, n),
            "gender_source_value": _strings(gender),
            "gender_source_concept_id": _const(0, n),
            "departement": _strings(c["departement"]),
        }
    )


def _build_death(m: SourceMapper, c: dict[str, tuple[Any, ...]], n: int) -> pa.Table:
    return pa.table(
        {
            "local_patient_id": _strings(c["local_patient_id"], None),
            "record_key": _strings(c["record_key"], None),
            "death_date": dates(c["death"]),
            "death_datetime": datetimes(c["death"]),
            "death_type_concept_id": _const(TYPE_EHR, n),
        }
    )


def _build_visit(m: SourceMapper, c: dict[str, tuple[Any, ...]], n: int) -> pa.Table:
    classes = c["visit_source_value"]
    return pa.table(
        {
            "local_patient_id": _strings(c["local_patient_id"], None),
            "record_key": _strings(c["record_key"], None),
            "visit_concept_id": pa.array(
                [VISIT_CLASS.get(k or "", 0) for k in classes], pa.int64()
            ),
            "visit_start_date": dates(c["start"]),
            "visit_start_datetime": datetimes(c["start"]),
            "visit_end_date": dates(c["end"]),
            "visit_end_datetime": datetimes(c["end"]),
            "visit_type_concept_id": _const(TYPE_EHR, n),
            "visit_source_value": _strings(classes),
            "visit_source_concept_id": _const(0, n),
        }
    )


def _build_condition(m: SourceMapper, c: dict[str, tuple[Any, ...]], n: int) -> pa.Table:
    source_ids, standard_ids = m.concepts(c["vocabulary"], c["condition_source_value"])
    combos = c["condition_status_source_value"]
    icdo_vocab = tuple("ICDO3" if x else None for x in combos)
    _, icdo_ids = m.concepts(icdo_vocab, combos)
    concept = pc.if_else(pc.greater(icdo_ids, 0), icdo_ids, standard_ids)
    return pa.table(
        {
            "local_patient_id": _strings(c["local_patient_id"], None),
            "record_key": _strings(c["record_key"], None),
            "condition_concept_id": concept,
            "condition_start_date": dates(c["start"]),
            "condition_start_datetime": datetimes(c["start"]),
            "condition_end_date": dates(c["end"]),
            "condition_end_datetime": datetimes(c["end"]),
            "condition_type_concept_id": _const(TYPE_EHR, n),
            "condition_status_concept_id": _const(0, n),
            "condition_source_value": _strings(c["condition_source_value"]),
            "condition_source_concept_id": source_ids,
            "condition_status_source_value": _strings(combos),
            "visit_record_key": _strings(c["visit_record_key"], None),
        }
    )


def _build_measurement(m: SourceMapper, c: dict[str, tuple[Any, ...]], n: int) -> pa.Table:
    source_ids, standard_ids = m.concepts(c["vocabulary"], c["measurement_source_value"])
    events = c["event_record_key"]
    return pa.table(
        {
            "local_patient_id": _strings(c["local_patient_id"], None),
            "record_key": _strings(c["record_key"], None),
            "measurement_concept_id": standard_ids,
            "measurement_date": dates(c["start"]),
            "measurement_datetime": datetimes(c["start"]),
            "measurement_type_concept_id": _const(TYPE_EHR, n),
            "value_as_number": pa.array(c["value_as_number"], pa.float64()),
            "value_as_concept_id": _const(0, n),
            "unit_concept_id": _const(0, n),
            "measurement_source_value": _strings(c["measurement_source_value"]),
            "measurement_source_concept_id": source_ids,
            "unit_source_value": _strings(c["unit_source_value"]),
            "value_source_value": _strings(c["value_source_value"]),
            "meas_event_field_concept_id": pa.array(
                [FIELD_CONDITION_OCCURRENCE_ID if e else None for e in events], pa.int64()
            ),
            "visit_record_key": _strings(c["visit_record_key"], None),
            "event_record_key": _strings(events, None),
        }
    )


def _build_observation(m: SourceMapper, c: dict[str, tuple[Any, ...]], n: int) -> pa.Table:
    source_ids, standard_ids = m.concepts(c["vocabulary"], c["observation_source_value"])
    return pa.table(
        {
            "local_patient_id": _strings(c["local_patient_id"], None),
            "record_key": _strings(c["record_key"], None),
            "observation_concept_id": standard_ids,
            "observation_date": dates(c["start"]),
            "observation_datetime": datetimes(c["start"]),
            "observation_type_concept_id": _const(TYPE_EHR, n),
            "value_as_number": pa.array(c["value_as_number"], pa.float64()),
            "value_as_string": _strings(c["value_as_string"], 60),
            "observation_source_value": _strings(c["observation_source_value"]),
            "observation_source_concept_id": source_ids,
            "unit_source_value": _strings(c["unit_source_value"]),
            "value_source_value": _strings(c["value_source_value"]),
            "visit_record_key": _strings(c["visit_record_key"], None),
        }
    )


def _build_procedure(m: SourceMapper, c: dict[str, tuple[Any, ...]], n: int) -> pa.Table:
    source_ids, standard_ids = m.concepts(c["vocabulary"], c["procedure_source_value"])
    return pa.table(
        {
            "local_patient_id": _strings(c["local_patient_id"], None),
            "record_key": _strings(c["record_key"], None),
            "procedure_concept_id": standard_ids,
            "procedure_date": dates(c["start"]),
            "procedure_datetime": datetimes(c["start"]),
            "procedure_end_date": dates(c["end"]),
            "procedure_end_datetime": datetimes(c["end"]),
            "procedure_type_concept_id": _const(TYPE_EHR, n),
            "modifier_concept_id": _const(0, n),
            "procedure_source_value": _strings(c["procedure_source_value"]),
            "procedure_source_concept_id": source_ids,
            "modifier_source_value": _strings(c["modifier_source_value"]),
            "visit_record_key": _strings(c["visit_record_key"], None),
        }
    )


def _build_drug(m: SourceMapper, c: dict[str, tuple[Any, ...]], n: int) -> pa.Table:
    source_ids, standard_ids = m.concepts(c["vocabulary"], c["drug_source_value"])
    return pa.table(
        {
            "local_patient_id": _strings(c["local_patient_id"], None),
            "record_key": _strings(c["record_key"], None),
            "drug_concept_id": standard_ids,
            "drug_exposure_start_date": dates(c["start"]),
            "drug_exposure_start_datetime": datetimes(c["start"]),
            "drug_exposure_end_date": dates(c["end"]),
            "drug_exposure_end_datetime": datetimes(c["end"]),
            "drug_type_concept_id": _const(TYPE_EHR, n),
            "stop_reason": _strings(c["stop_reason"], 20),
            "sig": _strings(c["sig"], None),
            "route_concept_id": _const(0, n),
            "drug_source_value": _strings(c["drug_source_value"]),
            "drug_source_concept_id": source_ids,
            "route_source_value": _strings(c["route_source_value"]),
            "visit_record_key": _strings(c["visit_record_key"], None),
        }
    )


def _build_specimen(m: SourceMapper, c: dict[str, tuple[Any, ...]], n: int) -> pa.Table:
    return pa.table(
        {
            "local_patient_id": _strings(c["local_patient_id"], None),
            "record_key": _strings(c["record_key"], None),
            "specimen_concept_id": _const(0, n),
            "specimen_type_concept_id": _const(TYPE_EHR, n),
            "specimen_date": dates(c["start"]),
            "specimen_datetime": datetimes(c["start"]),
            "anatomic_site_concept_id": _const(0, n),
            "disease_status_concept_id": _const(0, n),
            "specimen_source_id": _strings(c["specimen_source_id"]),
            "specimen_source_value": _strings(c["specimen_source_value"]),
            "anatomic_site_source_value": _strings(c["anatomic_site_source_value"]),
        }
    )


def _build_note(m: SourceMapper, c: dict[str, tuple[Any, ...]], n: int) -> pa.Table:
    return pa.table(
        {
            "local_patient_id": _strings(c["local_patient_id"], None),
            "record_key": _strings(c["record_key"], None),
            "note_date": dates(c["start"]),
            "note_datetime": datetimes(c["start"]),
            "note_type_concept_id": _const(TYPE_EHR, n),
            "note_class_concept_id": _const(0, n),
            "note_title": _strings(c["note_title"], 250),
            "note_text": _strings(c["note_text"], None),
            "encoding_concept_id": _const(0, n),
            "language_concept_id": _const(0, n),
            "note_source_value": _strings(c["note_source_value"]),
            "visit_record_key": _strings(c["visit_record_key"], None),
        }
    )


def _build_episode(m: SourceMapper, c: dict[str, tuple[Any, ...]], n: int) -> pa.Table:
    kinds = c["episode_kind"]
    concept = pa.array(
        [
            EPISODE_DISEASE_FIRST_OCCURRENCE if k == "disease" else EPISODE_TREATMENT_REGIMEN
            for k in kinds
        ],
        pa.int64(),
    )
    return pa.table(
        {
            "local_patient_id": _strings(c["local_patient_id"], None),
            "record_key": _strings(c["record_key"], None),
            "episode_concept_id": concept,
            "episode_start_date": dates(c["start"]),
            "episode_start_datetime": datetimes(c["start"]),
            "episode_end_date": dates(c["end"]),
            "episode_end_datetime": datetimes(c["end"]),
            # Filled by the stage step from the object's mapped concept (see stage_batch).
            "episode_object_concept_id": _const(0, n),
            "episode_type_concept_id": _const(TYPE_EHR, n),
            "episode_source_value": _strings(c["episode_source_value"]),
            "episode_source_concept_id": _const(0, n),
            "parent_record_key": _strings(c["parent_record_key"], None),
            "object_table": _strings(c["object_table"], None),
            "object_key": _strings(c["object_key"], None),
        }
    )


def _build_episode_event(m: SourceMapper, c: dict[str, tuple[Any, ...]], n: int) -> pa.Table:
    return pa.table(
        {
            "local_patient_id": _strings(c["local_patient_id"], None),
            "record_key": _strings(c["record_key"], None),
            "episode_record_key": _strings(c["episode_record_key"], None),
            "event_record_key": _strings(c["event_record_key"], None),
            "event_table": _strings(c["event_table"], None),
        }
    )


_BUILDERS: Final = {
    "person": _build_person,
    "death": _build_death,
    "visit_occurrence": _build_visit,
    "condition_occurrence": _build_condition,
    "measurement": _build_measurement,
    "observation": _build_observation,
    "procedure_occurrence": _build_procedure,
    "drug_exposure": _build_drug,
    "specimen": _build_specimen,
    "note": _build_note,
    "episode": _build_episode,
    "episode_event": _build_episode_event,
}

_CONCEPT_COLUMN: Final = {
    "condition_occurrence": "condition_concept_id",
    "procedure_occurrence": "procedure_concept_id",
    "drug_exposure": "drug_concept_id",
}


def fill_episode_objects(tables: dict[str, pa.Table]) -> None:
    """Set ``episode_object_concept_id`` from the concept of each episode's object row when
    that row is in the same batch (it is: an episode is made with its object), in place."""
    episode = tables.get("episode")
    if episode is None:
        return
    objects = episode.column("episode_object_concept_id")
    for table, column in _CONCEPT_COLUMN.items():
        data = tables.get(table)
        if data is None:
            continue
        index = pc.index_in(episode.column("object_key"), value_set=data.column("record_key"))
        found = pc.take(data.column(column), index)
        objects = pc.if_else(pc.is_valid(found), found, objects)
    position = episode.column_names.index("episode_object_concept_id")
    episode = episode.set_column(position, "episode_object_concept_id", objects)
    tables["episode"] = episode.drop_columns(["object_table", "object_key"])
