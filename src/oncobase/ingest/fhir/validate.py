"""Validation at the boundary: what a FHIR resource must hold before it is mapped.

:func:`check_resource` returns ``None`` for an acceptable resource, or a reason that starts
with a short code (``unknown-resource-type``, ``missing-element``, ``invalid-element``,
``bad-date``, ``bad-id``) and names elements, never values.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any, Final

#: Resource types mapped to staged OMOP tables (Medication only feeds drug codes).
MAPPED_TYPES: Final = frozenset(
    {
        "Patient",
        "Encounter",
        "Condition",
        "Observation",
        "Procedure",
        "MedicationRequest",
        "MedicationAdministration",
        "MedicationStatement",
        "Specimen",
        "DiagnosticReport",
        "DocumentReference",
        "Medication",
    }
)

#: The other FHIR R4 resource types: tolerated, counted as "ignored", never rejected.
TOLERATED_TYPES: Final = frozenset(
    [
        "Account",
        "ActivityDefinition",
        "AdverseEvent",
        "AllergyIntolerance",
        "Appointment",
        "AppointmentResponse",
        "AuditEvent",
        "Basic",
        "Binary",
        "BiologicallyDerivedProduct",
        "BodyStructure",
        "CapabilityStatement",
        "CarePlan",
        "CareTeam",
        "CatalogEntry",
        "ChargeItem",
        "ChargeItemDefinition",
        "Claim",
        "ClaimResponse",
        "ClinicalImpression",
        "CodeSystem",
        "Communication",
        "CommunicationRequest",
        "CompartmentDefinition",
        "Composition",
        "ConceptMap",
        "Consent",
        "Contract",
        "Coverage",
        "CoverageEligibilityRequest",
        "CoverageEligibilityResponse",
        "DetectedIssue",
        "Device",
        "DeviceDefinition",
        "DeviceMetric",
        "DeviceRequest",
        "DeviceUseStatement",
        "DocumentManifest",
        "EffectEvidenceSynthesis",
        "Endpoint",
        "EnrollmentRequest",
        "EnrollmentResponse",
        "EpisodeOfCare",
        "EventDefinition",
        "Evidence",
        "EvidenceVariable",
        "ExampleScenario",
        "ExplanationOfBenefit",
        "FamilyMemberHistory",
        "Flag",
        "Goal",
        "GraphDefinition",
        "Group",
        "GuidanceResponse",
        "HealthcareService",
        "ImagingStudy",
        "Immunization",
        "ImmunizationEvaluation",
        "ImmunizationRecommendation",
        "ImplementationGuide",
        "InsurancePlan",
        "Invoice",
        "Library",
        "Linkage",
        "List",
        "Location",
        "Measure",
        "MeasureReport",
        "Media",
        "MedicationDispense",
        "MedicationKnowledge",
        "MedicinalProduct",
        "MedicinalProductAuthorization",
        "MedicinalProductContraindication",
        "MedicinalProductIndication",
        "MedicinalProductIngredient",
        "MedicinalProductInteraction",
        "MedicinalProductManufactured",
        "MedicinalProductPackaged",
        "MedicinalProductPharmaceutical",
        "MedicinalProductUndesirableEffect",
        "MessageDefinition",
        "MessageHeader",
        "MolecularSequence",
        "NamingSystem",
        "NutritionOrder",
        "ObservationDefinition",
        "OperationDefinition",
        "OperationOutcome",
        "Organization",
        "OrganizationAffiliation",
        "Parameters",
        "Person",
        "PlanDefinition",
        "Practitioner",
        "PractitionerRole",
        "Provenance",
        "Questionnaire",
        "QuestionnaireResponse",
        "RelatedPerson",
        "RequestGroup",
        "ResearchDefinition",
        "ResearchElementDefinition",
        "ResearchStudy",
        "ResearchSubject",
        "RiskAssessment",
        "RiskEvidenceSynthesis",
        "Schedule",
        "SearchParameter",
        "ServiceRequest",
        "Slot",
        "SpecimenDefinition",
        "StructureDefinition",
        "StructureMap",
        "Subscription",
        "Substance",
        "SubstanceNucleicAcid",
        "SubstancePolymer",
        "SubstanceProtein",
        "SubstanceReferenceInformation",
        "SubstanceSourceMaterial",
        "SubstanceSpecification",
        "SupplyDelivery",
        "SupplyRequest",
        "Task",
        "TerminologyCapabilities",
        "TestReport",
        "TestScript",
        "ValueSet",
        "VerificationResult",
        "VisionPrescription",
    ]
)

_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")
_DATE = re.compile(
    r"(\d{4})(?:-(0[1-9]|1[0-2])(?:-(0[1-9]|[12]\d|3[01])"
    r"(?:T([01]\d|2[0-3]):[0-5]\d(?::([0-5]\d|60)(?:\.\d{1,9})?)?"
    r"(?:Z|[+-](?:(?:0\d|1[0-3]):[0-5]\d|14:00))?)?)?)?"
)
# Date-valued keys in the raw JSON: every *Date, *DateTime, *Instant and the Period bounds.
# Date-valued elements checked (those the mapping reads, and date extensions).
_DATE_FIELDS: Final = (
    "birthDate",
    "deceasedDateTime",
    "onsetDateTime",
    "abatementDateTime",
    "recordedDate",
    "effectiveDateTime",
    "effectiveInstant",
    "issued",
    "performedDateTime",
    "authoredOn",
    "dateAsserted",
    "date",
    "occurrenceDateTime",
    "receivedTime",
)
_PERIOD_FIELDS: Final = (
    "period",
    "effectivePeriod",
    "performedPeriod",
    "onsetPeriod",
    "abatementPeriod",
)

# Required elements per mapped type (R4 cardinality, plus what the mapping needs).
_REQUIRED: Final[dict[str, tuple[str, ...]]] = {
    "Patient": (),
    "Encounter": ("status", "class", "subject"),
    "Condition": ("subject", "code"),
    "Observation": ("status", "code", "subject"),
    "Procedure": ("status", "subject", "code"),
    "MedicationRequest": ("status", "intent", "subject", "medication[x]"),
    "MedicationAdministration": ("status", "subject", "medication[x]", "effective[x]"),
    "MedicationStatement": ("status", "subject", "medication[x]"),
    "Specimen": ("subject",),
    "DiagnosticReport": ("status", "code", "subject"),
    "DocumentReference": ("status", "content", "subject"),
    "Medication": (),
}
_LIST_CATEGORY: Final = frozenset(
    {"Condition", "Observation", "DiagnosticReport", "MedicationRequest", "DocumentReference"}
)
_OBJECTS: Final = frozenset(
    {"class", "subject", "code", "clinicalStatus", "verificationStatus", "type", "period"}
)
_STATUS: Final[dict[str, frozenset[str]]] = {
    "Observation": frozenset(
        [
            "registered",
            "preliminary",
            "final",
            "amended",
            "corrected",
            "cancelled",
            "entered-in-error",
            "unknown",
        ]
    ),
    "Procedure": frozenset(
        [
            "preparation",
            "in-progress",
            "not-done",
            "on-hold",
            "stopped",
            "completed",
            "entered-in-error",
            "unknown",
        ]
    ),
    "MedicationRequest": frozenset(
        [
            "active",
            "on-hold",
            "cancelled",
            "completed",
            "entered-in-error",
            "stopped",
            "draft",
            "unknown",
        ]
    ),
    "MedicationAdministration": frozenset(
        [
            "in-progress",
            "not-done",
            "on-hold",
            "completed",
            "entered-in-error",
            "stopped",
            "unknown",
        ]
    ),
    "MedicationStatement": frozenset(
        [
            "active",
            "completed",
            "entered-in-error",
            "intended",
            "stopped",
            "on-hold",
            "unknown",
            "not-taken",
        ]
    ),
    "Encounter": frozenset(
        [
            "planned",
            "arrived",
            "triaged",
            "in-progress",
            "onleave",
            "finished",
            "cancelled",
            "entered-in-error",
            "unknown",
        ]
    ),
    "DiagnosticReport": frozenset(
        [
            "registered",
            "partial",
            "preliminary",
            "final",
            "amended",
            "corrected",
            "appended",
            "cancelled",
            "entered-in-error",
            "unknown",
        ]
    ),
    "DocumentReference": frozenset(["current", "superseded", "entered-in-error"]),
}


def is_valid_date(text: str) -> bool:
    """FHIR date, dateTime or instant (partial dates "2019", "2019-05" included)."""
    match = _DATE.fullmatch(text)
    if match is None:
        return False
    if match.group(3) is not None:
        try:
            dt.date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
        except ValueError:
            return False
    return True


def _has(resource: dict[str, Any], element: str) -> bool:
    if element.endswith("[x]"):
        stem = element[:-3]
        return any(k.startswith(stem) and resource[k] not in (None, "", [], {}) for k in resource)
    return resource.get(element) not in (None, "", [], {})


def _bad(key: str) -> str:
    return f"bad-date: {key} is not a FHIR date/dateTime (YYYY, YYYY-MM, YYYY-MM-DD…)"


def check_dates(resource: dict[str, Any]) -> str | None:  # noqa: PLR0911
    """The first date element whose value is not a FHIR date, named by its path."""
    for key in _DATE_FIELDS:
        value = resource.get(key)
        if value is not None and not (isinstance(value, str) and is_valid_date(value)):
            return _bad(key)
    for key in _PERIOD_FIELDS:
        period = resource.get(key)
        if period is None:
            continue
        if not isinstance(period, dict):
            return f"invalid-element: {key} must be a Period"
        for bound in ("start", "end"):
            value = period.get(bound)
            if value is not None and not (isinstance(value, str) and is_valid_date(value)):
                return _bad(f"{key}.{bound}")
    for nested, key in (("collection", "collectedDateTime"), ("context", "period")):
        holder = resource.get(nested)
        if isinstance(holder, dict) and key in holder:
            value = holder[key]
            values = [value.get("start"), value.get("end")] if isinstance(value, dict) else [value]
            for item in values:
                if item is not None and not (isinstance(item, str) and is_valid_date(item)):
                    return _bad(f"{nested}.{key}")
    extensions = resource.get("extension")
    if isinstance(extensions, list):
        for ext in extensions:
            if not isinstance(ext, dict):
                return "invalid-element: extension must be a list of objects"
            for key in ("valueDateTime", "valueDate"):
                value = ext.get(key)
                if value is not None and not (isinstance(value, str) and is_valid_date(value)):
                    return _bad(f"extension.{key}")
    return None


def check_resource(resource: dict[str, Any]) -> str | None:  # noqa: PLR0911
    """``None`` when ``resource`` may be mapped, else the reason (see the module docstring)."""
    rtype = resource.get("resourceType")
    if not isinstance(rtype, str) or not rtype:
        return "missing-element: resourceType"
    if rtype not in MAPPED_TYPES:
        if rtype in TOLERATED_TYPES:
            return None
        return "unknown-resource-type: not a FHIR R4 resource type"
    rid = resource.get("id")
    if rid is not None and (not isinstance(rid, str) or _ID.fullmatch(rid) is None):
        return f"bad-id: {rtype}.id is not a FHIR id"
    for element in _REQUIRED[rtype]:
        if not _has(resource, element):
            return f"missing-element: {rtype}.{element}"
        if element in _OBJECTS and not isinstance(resource.get(element), dict):
            return f"invalid-element: {rtype}.{element} must be an object"
    for element in ("clinicalStatus", "verificationStatus", "code", "category"):
        value = resource.get(element)
        if value is None:
            continue
        if element == "category" and rtype in _LIST_CATEGORY:
            if not isinstance(value, list):
                return f"invalid-element: {rtype}.category must be a list"
        elif not isinstance(value, dict):
            return f"invalid-element: {rtype}.{element} must be an object"
    allowed = _STATUS.get(rtype)
    if allowed is not None and resource.get("status") not in allowed:
        return f"invalid-element: {rtype}.status is not a code of its value set"
    return check_dates(resource)
