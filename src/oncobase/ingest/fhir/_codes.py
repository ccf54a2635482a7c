"""Code systems, profiles and the oncology codes the FHIR mapping recognises."""

from __future__ import annotations

import re
from typing import Any, Final

_LOCAL = "https://oncobase.invalid/fhir/CodeSystem/"

#: FHIR code system URL → OMOP vocabulary_id.
SYSTEM_VOCABULARY: Final[dict[str, str]] = {
    "http://hl7.org/fhir/sid/icd-10": "ICD10",
    "http://hl7.org/fhir/sid/icd-10-fr": "ICD10",
    "http://hl7.org/fhir/sid/icd-10-cm": "ICD10CM",
    "http://snomed.info/sct": "SNOMED",
    "http://loinc.org": "LOINC",
    "http://www.whocc.no/atc": "ATC",
    "http://www.nlm.nih.gov/research/umls/rxnorm": "RxNorm",
    "http://terminology.hl7.org/CodeSystem/icd-o-3": "ICDO3",
    "urn:oid:2.16.840.1.113883.6.43.1": "ICDO3",
    "http://www.ama-assn.org/go/cpt": "CPT4",
    "http://hl7.org/fhir/sid/cvx": "CVX",
    "http://unitsofmeasure.org": "UCUM",
    _LOCAL + "tnm8": "TNM8",
    _LOCAL + "biomarker": "OncoBase Biomarker",
    _LOCAL + "ccam": "CCAM",
}
#: Systems whose codes are TNM categories or stage groups (AJCC/UICC).
STAGING_SYSTEMS: Final = frozenset(
    {_LOCAL + "tnm8", "https://cancerstaging.org", "http://cancerstaging.org"}
)

NIR_SYSTEMS: Final = frozenset(
    {
        "urn:oid:1.2.250.1.213.1.4.8",  # INS-NIR
        "urn:oid:1.2.250.1.213.1.4.9",  # INS-NIA
        "urn:oid:1.2.250.1.213.1.4.10",  # INS-NIR test
        "urn:oid:1.2.250.1.213.1.4.11",  # INS-NIA test
    }
)

# LOINC codes of TNM observations → axis.
TNM_LOINC: Final[dict[str, str]] = {
    "21908-9": "stage",  # Stage group.clinical
    "21902-8": "stage",  # Stage group.pathology
    "21914-7": "stage",  # Stage group.other
    "21905-5": "T",
    "21899-0": "T",
    "21906-3": "N",
    "21900-6": "N",
    "21907-1": "M",
    "21901-4": "M",
}
# SNOMED codes of TNM observation kinds (mCODE STU2+) → axis.
TNM_SNOMED: Final[dict[str, str]] = {
    "399537006": "stage",  # Clinical TNM stage grouping
    "399390009": "stage",  # Pathological TNM stage grouping
    "399566009": "stage",  # TNM tumour staging
    "78873005": "T",
    "399504009": "T",  # cT category
    "384625004": "T",  # pT category
    "277206009": "N",
    "399534004": "N",  # cN category
    "371494008": "N",  # pN category
    "277208005": "M",
    "399387003": "M",  # cM category
    "385424001": "M",  # pM category
}
_PROFILE_AXIS: Final = (
    ("primary-tumor", "T"),
    ("regional-nodes", "N"),
    ("distant-metastases", "M"),
    ("stage-group", "stage"),
)
_ROMAN: Final = {"0": "0", "1": "I", "2": "II", "3": "III", "4": "IV"}
_STAGE_ARABIC = re.compile(r"([0-4])([A-Ca-c]?[0-9]?)")
_PREFIX = re.compile(r"^(?:yp|yc|rp|rc|c|p|a|r|y)(?=[TNM0-9IVX])")
_CANCER_TEXT = re.compile(
    r"malignan|cancer|carcinom|neoplasm|lymphoma|leuka?emi|melanoma|sarcoma|myeloma|tumou?r"
    r"|blastoma|mesothelioma|glioma|seminoma",
    re.IGNORECASE,
)
_SECONDARY_TEXT = re.compile(r"secondary|metasta", re.IGNORECASE)
_ICD_SECONDARY = re.compile(r"^C7[789]")
_ICD_CANCER = re.compile(r"^(C\d|D0\d|D3[2-3]|D4[5-7])")


def first_coding(
    concept: Any, *, prefer: tuple[str, ...] = ()
) -> tuple[str | None, str | None, str | None, str | None]:
    """``(system, vocabulary_id, code, text)`` of a CodeableConcept's best coding.

    The first coding whose vocabulary is in ``prefer`` (in that order) wins, then the first
    coding of a known vocabulary, then the first coding; text is the display or the text.
    """
    if not isinstance(concept, dict):
        return None, None, None, None
    codings = concept.get("coding")
    text = concept.get("text") if isinstance(concept.get("text"), str) else None
    if not isinstance(codings, list) or not codings:
        return None, None, None, text
    best: dict[str, Any] | None = None
    best_rank = 10**6
    for position, coding in enumerate(codings):
        if not isinstance(coding, dict) or not isinstance(coding.get("code"), str):
            continue
        vocabulary = SYSTEM_VOCABULARY.get(str(coding.get("system")))
        if vocabulary in prefer:
            rank = prefer.index(vocabulary)
        elif vocabulary is not None:
            rank = 100 + position
        else:
            rank = 1000 + position
        if rank < best_rank:
            best, best_rank = coding, rank
    if best is None:
        return None, None, None, text
    system = best.get("system") if isinstance(best.get("system"), str) else None
    display = best.get("display") if isinstance(best.get("display"), str) else None
    return system, SYSTEM_VOCABULARY.get(str(system)), best["code"], text or display


def codings(concept: Any) -> list[dict[str, Any]]:
    if not isinstance(concept, dict):
        return []
    found = concept.get("coding")
    return [c for c in found if isinstance(c, dict)] if isinstance(found, list) else []


def profile_of(resource: dict[str, Any]) -> str:
    meta = resource.get("meta")
    if isinstance(meta, dict):
        profiles = meta.get("profile")
        if isinstance(profiles, list) and profiles and isinstance(profiles[0], str):
            return profiles[0].rsplit("/", 1)[-1].lower()
    return ""


def tnm_axis(resource: dict[str, Any], profile: str) -> str | None:
    """T, N, M or stage when the Observation is a TNM category or stage group."""
    for coding in codings(resource.get("code")):
        code = coding.get("code")
        system = coding.get("system")
        if system == "http://loinc.org" and code in TNM_LOINC:
            return TNM_LOINC[str(code)]
        if system == "http://snomed.info/sct" and code in TNM_SNOMED:
            return TNM_SNOMED[str(code)]
    for fragment, axis in _PROFILE_AXIS:
        if fragment in profile and "tnm" in profile:
            return axis
    value = resource.get("valueCodeableConcept")
    for coding in codings(value):
        if coding.get("system") in STAGING_SYSTEMS:
            return "stage"
    return None


def tnm_code(axis: str, value: str | None) -> str | None:
    """The built-in TNM8 vocabulary's code for an observed value (``c3b`` → ``T3b``, ``3C`` →
    ``IIIC``, ``cT3`` → ``T3``), or None when the value is empty."""
    if not value:
        return None
    text = value.strip()
    text = _PREFIX.sub("", text)
    if axis == "stage":
        match = _STAGE_ARABIC.fullmatch(text)
        if match:
            return _ROMAN[match.group(1)] + match.group(2).upper()
        return text.upper() if re.fullmatch(r"[0IVX]+[A-Ca-c]?\d?", text) else text
    if not text.upper().startswith(axis):
        text = axis + text
    return axis + text[1:]


def is_cancer_condition(
    *,
    profile: str,
    vocabulary: str | None,
    code: str | None,
    text: str | None,
    morphology: str | None,
) -> tuple[bool, bool]:
    """``(is cancer, is secondary)`` for a Condition, from profile, code, text or morphology."""
    secondary = "secondary-cancer" in profile
    cancer = secondary or "cancer" in profile or "tumor" in profile
    if vocabulary in ("ICD10", "ICD10CM") and code and _ICD_CANCER.match(code):
        cancer = True
        secondary = secondary or bool(_ICD_SECONDARY.match(code))
    if morphology and morphology[-2:] in ("/2", "/3", "/6"):
        cancer = True
        secondary = secondary or morphology.endswith("/6")
    if text and _CANCER_TEXT.search(text) and "benign" not in text.lower():
        cancer = True
        secondary = secondary or bool(_SECONDARY_TEXT.search(text))
    return cancer, secondary
