"""Hospital feeds: FHIR R4 Bulk Data exports with mCODE STU4 oncology profiles.

For each hospital of :data:`~oncobase.synth.schema.FACILITIES`, :class:`HospitalFeedWriter`
appends one NDJSON file per resource type (``feeds/hospitals/<HOSPxx>/<Type>.ndjson``, the
FHIR Bulk Data layout, one resource a line), chunk by chunk. A hospital writes only what it
sees: the persons it has a ``source_records`` row for (its own local id and its own identity
errors, written verbatim), the visits, treatments and specimens that carry its id, and the
tumours those rows point to.

The JSON is built column at a time with polars string expressions (no per-row Python): each
resource is a fixed template whose pieces are literals, escaped columns (strings are escaped by
polars' own JSON encoder) or optional fragments that vanish when their value is null. Key order
is fixed by the template, so the same chunk always gives the same bytes; there are no
timestamps other than the data's dates and no random ids. Resource ids are a bijective 64-bit
mix of the hospital, the kind of resource and a truth key (or, for patients, of the hospital's
local id), so they are unique within a hospital, differ between hospitals and never show a
``person_key``.

The files are FHIR R4 JSON. The tests validate them with the ``fhir.resources.R4B`` models: the
package has no separate R4 models, and R4B's Patient, Encounter, Condition, Observation,
Procedure, MedicationRequest, MedicationAdministration, Specimen, DiagnosticReport and
DocumentReference are the R4 ones for the elements written here.

Code systems: ICD-10 (``http://hl7.org/fhir/sid/icd-10``), ICD-O-3 topography and morphology
(``http://terminology.hl7.org/CodeSystem/icd-o-3``), LOINC, SNOMED CT (a handful of fixed
codes), ATC (``http://www.whocc.no/atc``), INS-NIR (``urn:oid:1.2.250.1.213.1.4.8``). TNM
categories and stage groups are UICC TNM 8th edition codes without prefix (as in the built-in
``TNM8`` vocabulary) under an OncoBase code system; the c/p/yp prefix is in the text and in the
LOINC code (clinical or pathological). Biomarkers carry their LOINC code where
``vocab/data/biomarkers.csv`` has one, and always the OncoBase biomarker code.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from functools import cache
from importlib import resources
from pathlib import Path
from typing import BinaryIO

import numpy as np
import orjson
import polars as pl
import pyarrow as pa

from oncobase.synth.schema import FACILITIES, LAYOUT, TruthChunk

__all__ = [
    "CODE_SYSTEMS",
    "EXTENSIONS",
    "MCODE_PROFILES",
    "RESOURCE_TYPES",
    "HospitalFeedWriter",
    "build_resources",
]

_MCODE = "http://hl7.org/fhir/us/mcode/StructureDefinition/"

#: mCODE STU4 (4.0.0) profiles written in ``meta.profile``, by role.
MCODE_PROFILES: dict[str, str] = {
    "patient": _MCODE + "mcode-cancer-patient",
    "primary_condition": _MCODE + "mcode-primary-cancer-condition",
    "secondary_condition": _MCODE + "mcode-secondary-cancer-condition",
    "stage_group": _MCODE + "mcode-tnm-stage-group",
    "t_category": _MCODE + "mcode-tnm-primary-tumor-category",
    "n_category": _MCODE + "mcode-tnm-regional-nodes-category",
    "m_category": _MCODE + "mcode-tnm-distant-metastases-category",
    "tumor_marker": _MCODE + "mcode-tumor-marker-test",
    "tumor_size": _MCODE + "mcode-tumor-size",
    "histologic_grade": _MCODE + "mcode-histologic-grade",
    "surgical_procedure": _MCODE + "mcode-cancer-related-surgical-procedure",
    "radiotherapy_course": _MCODE + "mcode-radiotherapy-course-summary",
    "medication_request": _MCODE + "mcode-cancer-related-medication-request",
    "medication_administration": _MCODE + "mcode-cancer-related-medication-administration",
    "specimen": _MCODE + "mcode-human-specimen",
}

#: Extensions used (mCODE STU4, FHIR core, FR Core).
EXTENSIONS: dict[str, str] = {
    "histology": _MCODE + "mcode-histology-morphology-behavior",
    "related_primary": _MCODE + "mcode-related-primary-cancer-condition",
    "rt_sessions": _MCODE + "mcode-radiotherapy-sessions",
    "rt_dose": _MCODE + "mcode-radiotherapy-dose-delivered-to-volume",
    "birth_place": "http://hl7.org/fhir/StructureDefinition/patient-birthPlace",
    "insee_code": "https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-address-insee-code",
}

_LOCAL = "https://oncobase.invalid/fhir/"

#: Code and identifier systems.
CODE_SYSTEMS: dict[str, str] = {
    "icd10": "http://hl7.org/fhir/sid/icd-10",
    "icdo3": "http://terminology.hl7.org/CodeSystem/icd-o-3",
    "loinc": "http://loinc.org",
    "snomed": "http://snomed.info/sct",
    "ucum": "http://unitsofmeasure.org",
    "atc": "http://www.whocc.no/atc",
    "ins_nir": "urn:oid:1.2.250.1.213.1.4.8",
    "v2_0203": "http://terminology.hl7.org/CodeSystem/v2-0203",
    "v2_0074": "http://terminology.hl7.org/CodeSystem/v2-0074",
    "v2_0487": "http://terminology.hl7.org/CodeSystem/v2-0487",
    "act_code": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
    "condition_clinical": "http://terminology.hl7.org/CodeSystem/condition-clinical",
    "condition_ver": "http://terminology.hl7.org/CodeSystem/condition-ver-status",
    "condition_category": "http://terminology.hl7.org/CodeSystem/condition-category",
    "obs_category": "http://terminology.hl7.org/CodeSystem/observation-category",
    # OncoBase local systems (the synthetic nation's own code lists).
    "tnm8": _LOCAL + "CodeSystem/tnm8",
    "grade": _LOCAL + "CodeSystem/histologic-grade",
    "biomarker": _LOCAL + "CodeSystem/biomarker",
    "biomarker_result": _LOCAL + "CodeSystem/biomarker-result",
    "ccam": _LOCAL + "CodeSystem/ccam",
    "radiotherapy": _LOCAL + "CodeSystem/radiotherapy",
    "treatment": _LOCAL + "CodeSystem/treatment",
    "insee_cog": _LOCAL + "CodeSystem/insee-cog",
    # Per hospital: f"{_LOCAL}sid/{hospital}/ipp" (local patient id, "IPP" in France).
    "mrn_prefix": _LOCAL + "sid/",
}

#: Resource types, in the order they are built and counted.
RESOURCE_TYPES: tuple[str, ...] = (
    "Patient",
    "Encounter",
    "Condition",
    "Observation",
    "Procedure",
    "MedicationRequest",
    "MedicationAdministration",
    "Specimen",
    "DiagnosticReport",
    "DocumentReference",
)

HOSPITALS: tuple[str, ...] = tuple(f.id for f in FACILITIES if f.kind == "hospital")
_HOSPITAL_NAMES: dict[str, str] = {f.id: f.name for f in FACILITIES if f.kind == "hospital"}

# Metastatic sites: (ICD-10, ICD-O-3 topography, label).
_MET_SITES: dict[str, tuple[str, str, str]] = {
    "liver": ("C78.7", "C22.0", "Secondary malignant neoplasm of liver"),
    "lung": ("C78.0", "C34.9", "Secondary malignant neoplasm of lung"),
    "bone": ("C79.5", "C41.9", "Secondary malignant neoplasm of bone and bone marrow"),
    "brain": ("C79.3", "C71.9", "Secondary malignant neoplasm of brain and cerebral meninges"),
    "pleura": ("C78.2", "C38.4", "Secondary malignant neoplasm of pleura"),
    "peritoneum": ("C78.6", "C48.2", "Secondary malignant neoplasm of peritoneum"),
    "adrenal": ("C79.7", "C74.9", "Secondary malignant neoplasm of adrenal gland"),
    "nodes": ("C77.9", "C77.9", "Secondary malignant neoplasm of lymph node, unspecified"),
}  # fmt: skip
_MET_BY_SITE: dict[str, tuple[str, str, str]] = {
    "breast": ("bone", "liver", "lung"),
    "lung": ("brain", "bone", "adrenal"),
    "colon_rectum": ("liver", "lung", "peritoneum"),
    "colorectal": ("liver", "lung", "peritoneum"),
    "colon": ("liver", "lung", "peritoneum"),
    "rectum": ("liver", "lung", "peritoneum"),
    "prostate": ("bone", "bone", "nodes"),
    "pancreas": ("liver", "peritoneum", "lung"),
    "stomach": ("liver", "peritoneum", "nodes"),
    "skin_melanoma": ("lung", "brain", "liver"),
    "melanoma": ("lung", "brain", "liver"),
    "oesophagus": ("liver", "lung", "nodes"),
    "liver": ("lung", "bone", "peritoneum"),
    "corpus_uteri": ("lung", "peritoneum", "liver"),
    "cervix_uteri": ("lung", "nodes", "bone"),
    "thyroid": ("lung", "bone", "nodes"),
    "mesothelioma": ("pleura", "peritoneum", "lung"),
    "kidney": ("lung", "bone", "brain"),
    "ovary": ("peritoneum", "liver", "pleura"),
    "bladder": ("bone", "lung", "liver"),
}
_MET_DEFAULT = ("liver", "lung", "bone")

_SNOMED_POS = ("10828004", "Positive")
_SNOMED_NEG = ("260385009", "Negative")
_SNOMED_EQUIVOCAL = ("42425007", "Equivocal")

# Observation slots within a tumour (the low 6 bits of the observation key).
_K_STAGE, _K_T, _K_N, _K_M, _K_SIZE, _K_GRADE = 0, 1, 2, 3, 4, 5
_K_MARKER0 = 8

# ---------------------------------------------------------------------------------------------
# Deterministic ids.

_U64 = np.uint64
_FNV_OFFSET = _U64(0xCBF29CE484222325)
_FNV_PRIME = _U64(0x100000001B3)


def _fnv64(text: str) -> int:
    h = 0xCBF29CE484222325
    for b in text.encode():
        h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def _mix(x: np.ndarray) -> np.ndarray:
    """SplitMix64's finaliser: a bijection of uint64, so distinct keys give distinct ids."""
    z = x.astype(np.uint64, copy=True)
    z ^= z >> _U64(30)
    z *= _U64(0xBF58476D1CE4E5B9)
    z ^= z >> _U64(27)
    z *= _U64(0x94D049BB133111EB)
    z ^= z >> _U64(31)
    return z


_HOSPITAL_INDEX = {h: i for i, h in enumerate(HOSPITALS)}


@cache
def _salt_table(kind: str) -> np.ndarray:
    return np.array([_fnv64(f"{h}/{kind}") for h in HOSPITALS], dtype=np.uint64)


def _salts(hospital_index: pl.Series, kind: str) -> np.ndarray:
    salts: np.ndarray = _salt_table(kind)[hospital_index.to_numpy()]
    return salts


def _str_hash(values: pl.Series) -> np.ndarray:
    """FNV-1a 64 of each UTF-8 string, vectorised over the rows (the strings are short ids)."""
    arr = values.cast(pl.String).fill_null("").rechunk().to_arrow()
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    arr = arr.cast(pa.large_string())
    n = len(arr)
    bufs = arr.buffers()
    offsets = np.frombuffer(bufs[1], dtype=np.int64)[arr.offset : arr.offset + n + 1]
    data = np.frombuffer(bufs[2], dtype=np.uint8) if bufs[2] is not None else np.zeros(0, np.uint8)
    if data.size == 0:
        data = np.zeros(1, np.uint8)
    starts = offsets[:-1]
    lengths = offsets[1:] - starts
    h = np.full(n, _FNV_OFFSET, dtype=np.uint64)
    for j in range(int(lengths.max()) if n else 0):
        stepped = (h ^ data[np.minimum(starts + j, data.size - 1)].astype(np.uint64)) * _FNV_PRIME
        h = np.where(lengths > j, stepped, h)
    return h


def _ids(hospital_index: pl.Series, keys: np.ndarray, kind: str, prefix: str) -> pl.Series:
    mixed = _mix(keys.astype(np.uint64) ^ _salts(hospital_index, kind))
    digits = pl.Series("id", mixed, dtype=pl.UInt64).cast(pl.String)
    return digits.to_frame().select(pl.lit(prefix) + pl.col("id")).to_series()


def _with_id(df: pl.DataFrame, name: str, kind: str, prefix: str, key: pl.Expr) -> pl.DataFrame:
    keys = df.select(key.cast(pl.Int64)).to_series().to_numpy().view(np.uint64)
    return df.with_columns(_ids(df["h_idx"], keys, kind, prefix).alias(name))


# ---------------------------------------------------------------------------------------------
# JSON building blocks. A template is a flat list of literal strings and string expressions;
# adjacent literals are merged so that each resource is a single concat_str of few pieces.

Piece = str | pl.Expr
Frag = list[Piece]


def _q(value: object) -> str:
    """JSON text of a Python constant."""
    return orjson.dumps(value).decode()


def _flat(parts: tuple[Piece | Frag, ...]) -> list[pl.Expr]:
    merged: list[Piece] = []
    for part in parts:
        for item in part if isinstance(part, list) else [part]:
            if isinstance(item, str):
                if not item:
                    continue
                if merged and isinstance(merged[-1], str):
                    merged[-1] += item
                    continue
            merged.append(item)
    return [pl.lit(m) if isinstance(m, str) else m for m in merged]


def _cat(*parts: Piece | Frag) -> pl.Expr:
    """An optional fragment: null when any of its pieces is null."""
    return pl.concat_str(_flat(parts))


def _obj(*parts: Piece | Frag) -> pl.Expr:
    """A template: null pieces (absent optional fragments) are left out."""
    return pl.concat_str(_flat(parts), ignore_nulls=True)


def _items(*items: pl.Expr) -> pl.Expr:
    """Comma-joined non-null items, null when there are none."""
    joined = pl.concat_str(list(items), separator=",", ignore_nulls=True)
    return pl.when(joined != "").then(joined)


def _js(col: str | pl.Expr) -> pl.Expr:
    """JSON literal of a string or list-of-strings column (escaped by polars), null if null."""
    e = pl.col(col) if isinstance(col, str) else col
    enc = pl.struct(e.alias("v")).struct.json_encode()
    return pl.when(e.is_not_null()).then(enc.str.slice(5, enc.str.len_chars() - 6))


def _qdate(col: str) -> pl.Expr:
    """A date column as a quoted JSON string, null if null."""
    return pl.concat_str([pl.lit('"'), pl.col(col).dt.to_string("%Y-%m-%d"), pl.lit('"')])


def _c(col: str) -> pl.Expr:
    return pl.col(col)


def _ref(kind: str, col: str) -> Frag:
    return ['{"reference":"' + kind + "/", pl.col(col), '"}']


def _coding(system: str, code: Piece, display: Piece | None = None) -> pl.Expr:
    """A Coding whose code and display are JSON literal columns (display optional)."""
    if display is None:
        return _cat('{"system":"' + system + '","code":', code, "}")
    return _obj(_cat('{"system":"' + system + '","code":', code), _cat(',"display":', display), "}")


def _const_cc(system: str, code: str, display: str | None = None, text: str | None = None) -> str:
    coding: dict[str, str] = {"system": system, "code": code}
    if display is not None:
        coding["display"] = display
    cc: dict[str, object] = {"coding": [coding]}
    if text is not None:
        cc["text"] = text
    return _q(cc)


def _meta(profile: str) -> str:
    return ',"meta":{"profile":["' + profile + '"]}'


def _frame(df: pl.DataFrame, rid: str, json: pl.Expr, *order: str | pl.Expr) -> pl.LazyFrame:
    """One resource type's output: hospital, resource id, sort keys and the NDJSON line."""
    keys = [pl.col(o) if isinstance(o, str) else o for o in order]
    return df.lazy().select(
        pl.col("hospital_id"),
        pl.col(rid).alias("rid"),
        *[k.cast(pl.Int64).alias(f"_o{i}") for i, k in enumerate(keys)],
        pl.concat_str([json, pl.lit("\n")]).alias("json"),
    )


# ---------------------------------------------------------------------------------------------
# Vocabulary labels.


@cache
def _vocab(filename: str) -> pl.DataFrame:
    data = resources.files("oncobase.vocab").joinpath("data", filename).read_bytes()
    return pl.read_csv(io.BytesIO(data), infer_schema=False)


@cache
def _biomarkers() -> dict[str, tuple[str | None, str]]:
    df = _vocab("biomarkers.csv")
    return {
        row["code"]: (row["loinc_code"] or None, row["label"])
        for row in df.select("code", "loinc_code", "label").iter_rows(named=True)
    }


@cache
def _labels(filename: str, name: str) -> pl.DataFrame:
    """Code and JSON-escaped label (``<name>_lj``) of a built-in code list."""
    df = _vocab(filename)
    return pl.DataFrame(
        {
            name: df["code"],
            f"{name}_lj": [_q(label) for label in df["label"].to_list()],
            f"{name}_label": df["label"],
        }
    )


# ---------------------------------------------------------------------------------------------
# Patients.

_HOSPITAL_NAME_J = {h: _q(n) for h, n in _HOSPITAL_NAMES.items()}


def _patients(sr: pl.DataFrame) -> pl.LazyFrame:
    def clean(col: str) -> pl.Expr:
        c = pl.col(col)
        return pl.when(c.str.strip_chars().str.len_chars() > 0).then(c).alias(col)

    nonblank = pl.element().str.strip_chars().str.len_chars() > 0
    df = sr.with_columns(
        *[
            clean(c)
            for c in (
                "family_name",
                "birth_family_name",
                "nir",
                "address_line",
                "postcode",
                "commune",
                "birth_commune",
            )
        ],
        pl.col("first_names").list.filter(nonblank).alias("given"),
    ).with_columns(pl.when(pl.col("given").list.len() > 0).then(pl.col("given")).alias("given"))
    official_family = pl.coalesce("birth_family_name", "family_name")
    usual = (
        pl.col("family_name").is_not_null()
        & pl.col("birth_family_name").is_not_null()
        & (pl.col("family_name") != pl.col("birth_family_name"))
    )
    given = _cat(',"given":', _js("given"))
    official_name = pl.when(official_family.is_not_null() | pl.col("given").is_not_null()).then(
        _obj('{"use":"official"', _cat(',"family":', _js(official_family)), given, "}")
    )
    usual_name = pl.when(usual).then(
        _obj('{"use":"usual"', _cat(',"family":', _js("family_name")), given, "}")
    )
    insee = (
        '{"url":"'
        + EXTENSIONS["insee_code"]
        + '","valueCoding":{"system":"'
        + CODE_SYSTEMS["insee_cog"]
        + '","code":'
    )
    birth_place = _cat(
        ',"extension":[{"url":"' + EXTENSIONS["birth_place"] + '","valueAddress":{"extension":[',
        insee,
        _js("birth_commune"),
        "}}]}}]",
    )
    mrn: Frag = [
        '{"use":"usual","type":{"coding":[{"system":"'
        + CODE_SYSTEMS["v2_0203"]
        + '","code":"MR"}]},"system":"'
        + CODE_SYSTEMS["mrn_prefix"],
        pl.col("hospital_id"),
        '/ipp","value":',
        _js("local_id"),
        "}",
    ]
    nir = _cat(
        ',{"use":"official","type":{"text":"INS-NIR"},"system":"'
        + CODE_SYSTEMS["ins_nir"]
        + '","value":',
        _js("nir"),
        "}",
    )
    gender = pl.col("sex").replace_strict({"M": "male", "F": "female"}, default=None)
    address_body = _items(
        _cat('"line":[', _js("address_line"), "]"),
        _cat('"postalCode":', _js("postcode")),
    )
    has_address = (
        pl.col("address_line").is_not_null()
        | pl.col("postcode").is_not_null()
        | pl.col("commune").is_not_null()
    )
    address = pl.when(has_address).then(
        _obj(
            ',"address":[{"use":"home"',
            _cat(',"extension":[', insee, _js("commune"), "}}]"),
            _cat(",", address_body),
            ',"country":"FR"}]',
        )
    )
    json = _obj(
        '{"resourceType":"Patient","id":"',
        pl.col("patient_id"),
        '"' + _meta(MCODE_PROFILES["patient"]),
        birth_place,
        ',"identifier":[',
        *mrn,
        nir,
        "]",
        _cat(',"name":[', _items(official_name, usual_name), "]"),
        _cat(',"gender":"', gender, '"'),
        _cat(',"birthDate":', _qdate("birth_date")),
        address,
        ',"managingOrganization":{"display":',
        pl.col("hospital_id").replace_strict(_HOSPITAL_NAME_J),
        "}}",
    )
    return _frame(df, "patient_id", json, "_i")


# ---------------------------------------------------------------------------------------------
# Tumours: every fragment that depends on the tumour alone is built once per tumour here, then
# joined to the (hospital, tumour) rows.

_TNM_AXES = ("stage_group", "t", "n", "m")
_TNM_LOINC = {  # (clinical, pathological)
    "stage_group": ("21908-9", "21902-2"),
    "t": ("21905-5", "21899-0"),
    "n": ("21906-3", "21900-6"),
    "m": ("21907-1", "21901-4"),
}
_TNM_PROFILE = {
    "stage_group": "stage_group",
    "t": "t_category",
    "n": "n_category",
    "m": "m_category",
}
_TNM_SLOT = {"stage_group": _K_STAGE, "t": _K_T, "n": _K_N, "m": _K_M}


def _present(col: str) -> pl.Expr:
    return pl.col(col).is_not_null() & (pl.col(col).str.strip_chars() != "")


def _finite(col: str) -> pl.Expr:
    return pl.col(col).is_not_null() & pl.col(col).is_finite()


def _num(col: str | pl.Expr) -> pl.Expr:
    e = pl.col(col) if isinstance(col, str) else col
    return e.cast(pl.String)


def _snomed_value(pairs: Iterable[tuple[pl.Expr, tuple[str, str]]]) -> pl.Expr:
    """The first matching SNOMED CT value, null when none matches."""
    expr = pl.lit(None, dtype=pl.String)
    for cond, (code, display) in reversed(list(pairs)):
        lit = ',"valueCodeableConcept":' + _const_cc(CODE_SYSTEMS["snomed"], code, display)
        expr = pl.when(cond).then(pl.lit(lit)).otherwise(expr)
    return expr


def _quantity(value: pl.Expr, unit: str | None) -> pl.Expr:
    if unit is None:
        return _cat(',"valueQuantity":{"value":', _num(value), "}")
    tail = f',"unit":"{unit}","system":"{CODE_SYSTEMS["ucum"]}","code":"{unit}"}}'
    return _cat(',"valueQuantity":{"value":', _num(value), tail)


def _result_cc(code: pl.Expr, text: pl.Expr | None = None) -> pl.Expr:
    return _cat(
        ',"valueCodeableConcept":{"coding":[',
        _coding(CODE_SYSTEMS["biomarker_result"], _js(code)),
        '],"text":',
        _js(text if text is not None else code),
        "}",
    )


def _marker_code(code: str) -> str:
    loinc, label = _biomarkers().get(code, (None, code))
    codings: list[dict[str, str]] = []
    if loinc:
        codings.append({"system": CODE_SYSTEMS["loinc"], "code": loinc})
    codings.append({"system": CODE_SYSTEMS["biomarker"], "code": code, "display": label})
    return _q({"coding": codings, "text": label})


def _gene_text(status: str, variant: str) -> pl.Expr:
    return (
        pl.when(pl.col(variant).is_not_null())
        .then(pl.concat_str([pl.col(status), pl.lit(" ("), pl.col(variant), pl.lit(")")]))
        .otherwise(pl.col(status))
    )


def _marker_specs() -> list[tuple[str, pl.Expr, pl.Expr, bool]]:
    """(biomarker code, row filter, value fragment, taken on the specimen) per tumour marker."""
    specs: list[tuple[str, pl.Expr, pl.Expr, bool]] = []
    for col, code in (("er_pct", "ER"), ("pr_pct", "PR")):
        positive = [(pl.col(col) >= 1, _SNOMED_POS), (pl.col(col) < 1, _SNOMED_NEG)]
        specs.append((code, _finite(col), _snomed_value(positive), True))
        specs.append((f"{code}_PCT", _finite(col), _quantity(pl.col(col), "%"), True))
    ihc = pl.col("her2_ihc").fill_null("").str.strip_chars()
    ish = pl.col("her2_ish").fill_null("").str.to_lowercase().str.strip_chars()
    her2 = [
        ((ihc == "3+") | (ish == "amplified"), _SNOMED_POS),
        ((ihc == "0") | (ihc == "1+") | (ish == "not amplified"), _SNOMED_NEG),
        (pl.lit(value=True), _SNOMED_EQUIVOCAL),
    ]
    specs += [
        ("HER2", _present("her2_ihc") | _present("her2_ish"), _snomed_value(her2), True),
        ("HER2_IHC", _present("her2_ihc"), _result_cc(pl.col("her2_ihc")), True),
        ("HER2_ISH", _present("her2_ish"), _result_cc(pl.col("her2_ish")), True),
        ("KI67", _finite("ki67_pct"), _quantity(pl.col("ki67_pct"), "%"), True),
    ]
    for col, code in (
        ("mmr", "MMR"),
        ("msi", "MSI"),
        ("alk_status", "ALK"),
        ("ros1_status", "ROS1"),
    ):
        specs.append((code, _present(col), _result_cc(pl.col(col)), True))
    specs += [
        ("PDL1_TPS", _finite("pdl1_tps_pct"), _quantity(pl.col("pdl1_tps_pct"), "%"), True),
        ("PDL1_CPS", _finite("pdl1_cps"), _quantity(pl.col("pdl1_cps"), None), True),
    ]
    for gene in ("egfr", "kras", "nras", "braf"):
        status, variant = f"{gene}_status", f"{gene}_variant"
        value = _result_cc(pl.col(status), _gene_text(status, variant))
        specs.append((gene.upper(), _present(status), value, True))
    gleason = _cat(
        ',"valueInteger":',
        _num(pl.col("gleason_primary").cast(pl.Int32) + pl.col("gleason_secondary")),
        ',"component":[{"code":'
        + _q({"coding": [{"system": CODE_SYSTEMS["biomarker"], "code": "GLEASON_PRIMARY"}]})
        + ',"valueInteger":',
        _num("gleason_primary"),
        '},{"code":'
        + _q({"coding": [{"system": CODE_SYSTEMS["biomarker"], "code": "GLEASON_SECONDARY"}]})
        + ',"valueInteger":',
        _num("gleason_secondary"),
        "}]",
    )
    both = pl.col("gleason_primary").is_not_null() & pl.col("gleason_secondary").is_not_null()
    specs += [
        ("GLEASON", both, gleason, True),
        (
            "ISUP",
            pl.col("isup_group").is_not_null(),
            _cat(',"valueInteger":', _num("isup_group")),
            True,
        ),
        ("PSA", _finite("psa_ng_ml"), _quantity(pl.col("psa_ng_ml"), "ng/mL"), False),
    ]
    return specs


def _histology_ext(morph: pl.Expr, label: pl.Expr | None) -> pl.Expr:
    return _cat(
        '{"url":"' + EXTENSIONS["histology"] + '","valueCodeableConcept":{"coding":[',
        _coding(CODE_SYSTEMS["icdo3"], morph, label),
        "]}}",
    )


def _prepare_tumours(tumours: pl.DataFrame) -> pl.DataFrame:
    """Tumour attributes plus the JSON fragments that depend on the tumour alone."""
    tum = (
        tumours.drop("person_key")
        .join(_labels("icd10.csv", "icd10"), on="icd10", how="left")
        .join(_labels("icdo3_topography.csv", "topography"), on="topography", how="left")
        .join(_labels("icdo3_morphology.csv", "morphology"), on="morphology", how="left")
    )
    clinical = pl.col("tnm_prefix").fill_null("c").str.to_lowercase() == "c"
    frags: list[pl.Expr] = [
        _qdate("diagnosis_date").alias("diag_d"),
        _cat(
            ',"bodySite":[{"coding":[',
            _coding(CODE_SYSTEMS["icdo3"], _js("topography"), pl.col("topography_lj")),
            "]}]",
        ).alias("body_site"),
        _coding(CODE_SYSTEMS["icdo3"], _js("topography"), pl.col("topography_lj")).alias(
            "topo_coding"
        ),
        _coding(CODE_SYSTEMS["icdo3"], _js("morphology"), pl.col("morphology_lj")).alias(
            "morph_coding"
        ),
        _obj(
            ',"extension":[',
            _histology_ext(_js("morphology"), pl.col("morphology_lj")),
            "]" + "".join(_COND_STATUS) + ',"code":{"coding":[',
            _coding(CODE_SYSTEMS["icd10"], _js("icd10"), pl.col("icd10_lj")),
            ']},"bodySite":[{"coding":[',
            _coding(CODE_SYSTEMS["icdo3"], _js("topography"), pl.col("topography_lj")),
            ']}],"subject":{"reference":"Patient/',
        ).alias("cond_body"),
        _js(
            pl.concat_str(
                [pl.lit("Volume cible : "), pl.coalesce("topography_label", "topography")]
            )
        ).alias("rt_volume"),
        _js(pl.coalesce("morphology_label", "morphology")).alias("morph_text"),
        _letter_text().str.encode("base64").alias("letter_b64"),
        _present("stage_group").alias("has_stage_group"),
    ]
    for axis in _TNM_AXES:
        c_code, p_code = _TNM_LOINC[axis]
        code = (
            pl.when(clinical)
            .then(pl.lit(_const_cc(CODE_SYSTEMS["loinc"], c_code)))
            .otherwise(pl.lit(_const_cc(CODE_SYSTEMS["loinc"], p_code)))
        )
        text = (
            _js(axis)
            if axis == "stage_group"
            else _js(pl.concat_str([pl.col("tnm_prefix").fill_null(""), pl.col(axis)]))
        )
        frags.append(
            _cat(
                code,
                ',"subject":{"reference":"Patient/',
            ).alias(f"{axis}_code")
        )
        frags.append(
            _cat(
                ',"effectiveDateTime":',
                _qdate("diagnosis_date"),
                ',"valueCodeableConcept":{"coding":[',
                _coding(CODE_SYSTEMS["tnm8"], _js(axis)),
                '],"text":',
                text,
                '},"method":{"text":"UICC TNM 8th edition"}',
            ).alias(f"{axis}_value")
        )
        if axis != "stage_group":
            frags.append(_present(axis).alias(f"has_{axis}"))
    for i, (_code, keep, value, _on_specimen) in enumerate(_marker_specs()):
        frags.append(pl.when(keep).then(value).alias(f"mk{i}"))
    frags += [
        pl.when(_finite("tumour_size_mm") & (pl.col("tumour_size_mm") >= 0))
        .then(_cat(_SIZE_VALUE))
        .alias("size_value"),
        pl.when(_present("grade")).then(_cat(_grade_value())).alias("grade_value"),
        _coding(CODE_SYSTEMS["tnm8"], _js("stage_group")).alias("stage_coding"),
        pl.col("m").str.strip_chars().str.starts_with("1").fill_null(value=False).alias("is_m1"),
    ]
    keep_cols = ["tumour_key", "site_group", "morphology"]
    return tum.with_columns(frags).select(*keep_cols, *[f.meta.output_name() for f in frags])


_SIZE_VALUE: Frag = [
    ',"component":[{"code":'
    + _const_cc(CODE_SYSTEMS["loinc"], "33728-7", "Size.maximum dimension in Tumor")
    + ',"valueQuantity":{"value":',
    _num("tumour_size_mm"),
    ',"unit":"mm","system":"' + CODE_SYSTEMS["ucum"] + '","code":"mm"}}]',
]


def _grade_value() -> Frag:
    return [
        ',"valueCodeableConcept":{"coding":[',
        _coding(CODE_SYSTEMS["grade"], _js("grade")),
        '],"text":',
        _js("grade"),
        "}",
    ]


_COND_STATUS = (
    ',"clinicalStatus":',
    _const_cc(CODE_SYSTEMS["condition_clinical"], "active"),
    ',"verificationStatus":',
    _const_cc(CODE_SYSTEMS["condition_ver"], "confirmed"),
    ',"category":[',
    _const_cc(CODE_SYSTEMS["condition_category"], "problem-list-item"),
    "]",
)


def _letter_text() -> pl.Expr:
    return pl.concat_str(
        [
            pl.lit("Compte rendu de consultation d'oncologie.\nDiagnostic : "),
            pl.col("icd10"),
            pl.lit(" "),
            pl.coalesce("icd10_label", pl.lit("")),
            pl.lit(".\nHistologie : "),
            pl.col("morphology"),
            pl.lit(" "),
            pl.coalesce("morphology_label", pl.lit("")),
            pl.lit(".\nDate du diagnostic : "),
            pl.col("diagnosis_date").dt.to_string("%d/%m/%Y"),
            pl.lit(".\nStade : "),
            pl.coalesce("stage_group", pl.lit("non précisé")),
            pl.lit(".\nDossier présenté en réunion de concertation pluridisciplinaire.\n"),
        ]
    )


# ---------------------------------------------------------------------------------------------
# Conditions and observations.


def _primary_conditions(cond: pl.DataFrame) -> pl.LazyFrame:
    stage = _cat(
        ',"stage":[{"summary":{"coding":[',
        _c("stage_coding"),
        ']},"assessment":[',
        *_ref("Observation", "stage_group_obs_id"),
        "]}]",
    )
    json = _obj(
        '{"resourceType":"Condition","id":"',
        _c("condition_id"),
        '"' + _meta(MCODE_PROFILES["primary_condition"]),
        _c("cond_body"),
        _c("patient_id"),
        '"},"onsetDateTime":',
        _c("diag_d"),
        ',"recordedDate":',
        _c("diag_d"),
        pl.when(_c("has_stage_group")).then(stage),
        "}",
    )
    return _frame(cond, "condition_id", json, "tumour_key", pl.lit(0))


def _secondary_conditions(cond: pl.DataFrame) -> pl.LazyFrame:
    met = cond.filter(_c("is_m1")).select(
        "hospital_id",
        "h_idx",
        "tumour_key",
        "site_group",
        "morphology",
        "patient_id",
        "condition_id",
        "diag_d",
    )
    keys = met["tumour_key"].to_numpy().view(np.uint64)
    pick = (_mix(keys ^ _U64(_fnv64("metastatic-site"))) % _U64(3)).astype(np.int64)
    rows = [
        (g, i, *_MET_SITES[s]) for g, sites in _MET_BY_SITE.items() for i, s in enumerate(sites)
    ]
    default = [(i, *_MET_SITES[s]) for i, s in enumerate(_MET_DEFAULT)]
    table = pl.DataFrame(
        rows, schema=["site_group", "_pick", "met_icd10", "met_topo", "met_label"], orient="row"
    )
    dflt = pl.DataFrame(default, schema=["_pick", "d_icd10", "d_topo", "d_label"], orient="row")
    met = (
        met.with_columns(pl.Series("_pick", pick, dtype=pl.Int64))
        .join(table, on=["site_group", "_pick"], how="left")
        .join(dflt, on="_pick", how="left")
        .with_columns(
            pl.coalesce("met_icd10", "d_icd10").alias("met_icd10"),
            pl.coalesce("met_topo", "d_topo").alias("met_topo"),
            pl.coalesce("met_label", "d_label").alias("met_label"),
            (pl.col("morphology").str.slice(0, 4) + "/6").alias("met_morph"),
        )
    )
    met = _with_id(met, "met_id", "Condition/secondary", "met-", pl.col("tumour_key"))
    json = _obj(
        '{"resourceType":"Condition","id":"',
        _c("met_id"),
        '"' + _meta(MCODE_PROFILES["secondary_condition"]),
        ',"extension":[{"url":"' + EXTENSIONS["related_primary"] + '","valueReference":',
        *_ref("Condition", "condition_id"),
        "},",
        _histology_ext(_js("met_morph"), None),
        "]",
        *_COND_STATUS,
        ',"code":{"coding":[',
        _coding(CODE_SYSTEMS["icd10"], _js("met_icd10"), _js("met_label")),
        ']},"bodySite":[{"coding":[',
        _coding(CODE_SYSTEMS["icdo3"], _js("met_topo")),
        ']}],"subject":',
        *_ref("Patient", "patient_id"),
        ',"onsetDateTime":',
        _c("diag_d"),
        ',"recordedDate":',
        _c("diag_d"),
        "}",
    )
    return _frame(met, "met_id", json, "tumour_key", pl.lit(1))


def _obs_head(profile: str, category: str) -> str:
    return (
        '","meta":{"profile":["'
        + profile
        + '"]},"status":"final","category":['
        + _const_cc(CODE_SYSTEMS["obs_category"], category)
        + '],"code":'
    )


def _obs_key(slot: int) -> pl.Expr:
    return pl.col("tumour_key") * 64 + slot


_OBS_FOCUS = '"},"focus":[{"reference":"Condition/'


def _tnm_observations(cond: pl.DataFrame) -> tuple[list[pl.LazyFrame], list[pl.DataFrame]]:
    frames: list[pl.LazyFrame] = []
    ids: list[pl.DataFrame] = []
    for axis in _TNM_AXES:
        slot = _TNM_SLOT[axis]
        cols = [
            "hospital_id",
            "tumour_key",
            "patient_id",
            "condition_id",
            f"{axis}_obs_id",
            f"{axis}_code",
            f"{axis}_value",
        ]
        if axis == "stage_group":
            cols += [f"{a}_obs_id" for a in ("t", "n", "m")] + ["has_t", "has_n", "has_m"]
        flag = f"has_{axis}" if axis != "stage_group" else "has_stage_group"
        df = cond.select(*cols, flag).filter(_c(flag))
        tail: Piece = "}"
        if axis == "stage_group":
            members = _items(
                *[
                    pl.when(_c(f"has_{a}")).then(_cat(*_ref("Observation", f"{a}_obs_id")))
                    for a in ("t", "n", "m")
                ]
            )
            tail = _obj(_cat(',"hasMember":[', members, "]"), "}")
        json = _obj(
            '{"resourceType":"Observation","id":"',
            _c(f"{axis}_obs_id"),
            _obs_head(MCODE_PROFILES[_TNM_PROFILE[axis]], "survey"),
            _c(f"{axis}_code"),
            _c("patient_id"),
            _OBS_FOCUS,
            _c("condition_id"),
            '"}]',
            _c(f"{axis}_value"),
            tail,
        )
        frames.append(_frame(df, f"{axis}_obs_id", json, "tumour_key", pl.lit(slot)))
        ids.append(
            df.select(
                "hospital_id",
                "tumour_key",
                pl.lit(slot).alias("_slot"),
                pl.col(f"{axis}_obs_id").alias("obs_id"),
            )
        )
    return frames, ids


def _path_observations(condm: pl.DataFrame) -> tuple[list[pl.LazyFrame], list[pl.DataFrame]]:
    """Tumour size, grade and tumour markers, on the hospital's main specimen of the tumour."""
    frames: list[pl.LazyFrame] = []
    ids: list[pl.DataFrame] = []
    specimen = [',"specimen":', *_ref("Specimen", "specimen_id")]

    def add(df: pl.DataFrame, slot: int, head: str, value: Frag, on_specimen: bool) -> None:
        df = _with_id(df, "obs_id", "Observation", "obs-", _obs_key(slot))
        json = _obj(
            '{"resourceType":"Observation","id":"',
            _c("obs_id"),
            head,
            ',"subject":{"reference":"Patient/',
            _c("patient_id"),
            _OBS_FOCUS,
            _c("condition_id"),
            '"}],"effectiveDateTime":',
            _c("collected_d") if on_specimen else _c("diag_d"),
            value,
            specimen if on_specimen else [],
            "}",
        )
        frames.append(_frame(df, "obs_id", json, "tumour_key", pl.lit(slot)))
        ids.append(df.select("hospital_id", "tumour_key", pl.lit(slot).alias("_slot"), "obs_id"))

    base = [
        "hospital_id",
        "h_idx",
        "tumour_key",
        "patient_id",
        "condition_id",
        "specimen_id",
        "collected_d",
        "diag_d",
    ]

    def rows(col: str) -> pl.DataFrame:
        return condm.select(*base, col).filter(pl.col(col).is_not_null())

    head = _obs_head(MCODE_PROFILES["tumor_size"], "laboratory")
    head += _const_cc(CODE_SYSTEMS["loinc"], "21889-1", "Size Tumor")
    add(rows("size_value"), _K_SIZE, head, [_c("size_value")], True)
    head = _obs_head(MCODE_PROFILES["histologic_grade"], "laboratory")
    head += _const_cc(CODE_SYSTEMS["loinc"], "33732-9", "Histology grade Ca spec")
    add(rows("grade_value"), _K_GRADE, head, [_c("grade_value")], True)
    for i, (code, _keep, _value, on_specimen) in enumerate(_MARKER_CODES):
        head = _obs_head(MCODE_PROFILES["tumor_marker"], "laboratory") + _marker_code(code)
        add(rows(f"mk{i}"), _K_MARKER0 + i, head, [_c(f"mk{i}")], on_specimen)
    return frames, ids


_MARKER_CODES = [(code, None, None, on_specimen) for code, _k, _v, on_specimen in _marker_specs()]

# ---------------------------------------------------------------------------------------------
# Treatments, specimens, reports, letters, encounters.


def _treatment_code() -> pl.Expr:
    systems = {
        "ATC": CODE_SYSTEMS["atc"],
        "CCAM": CODE_SYSTEMS["ccam"],
        "RT": CODE_SYSTEMS["radiotherapy"],
    }
    system = (
        pl.col("code_system")
        .replace_strict(systems, default=CODE_SYSTEMS["treatment"])
        .fill_null(CODE_SYSTEMS["treatment"])
    )
    coding = _cat('"coding":[{"system":"', system, '","code":', _js("code"), "}],")
    return _obj("{", coding, '"text":', _js("description"), "}")


def _performed(prefix: str) -> pl.Expr:
    period = _cat(
        f',"{prefix}Period":{{"start":', _qdate("start_date"), ',"end":', _qdate("end_date"), "}"
    )
    return (
        pl.when(pl.col("end_date").is_not_null())
        .then(period)
        .otherwise(_cat(f',"{prefix}DateTime":', _qdate("start_date")))
    )


def _procedure(profile: str, extension: Frag, category: str, code: pl.Expr) -> pl.Expr:
    return _obj(
        '{"resourceType":"Procedure","id":"',
        _c("treatment_id"),
        '"' + _meta(profile),
        extension,
        ',"status":"completed","category":' + category + ',"code":',
        code,
        ',"subject":',
        *_ref("Patient", "patient_id"),
        _performed("performed"),
        ',"reasonReference":[',
        *_ref("Condition", "condition_id"),
        "]",
        _c("body_site"),
        "}",
    )


def _surgeries(df: pl.DataFrame) -> pl.LazyFrame:
    category = _const_cc(CODE_SYSTEMS["snomed"], "387713003", "Surgical procedure")
    json = _procedure(MCODE_PROFILES["surgical_procedure"], [], category, _treatment_code())
    return _frame(df, "treatment_id", json, "treatment_key")


def _radiotherapies(df: pl.DataFrame) -> pl.LazyFrame:
    df = df.with_columns(
        pl.when(pl.col("fractions") >= 0).then(pl.col("fractions")).alias("fractions"),
        pl.when(_finite("dose_gy") & (pl.col("dose_gy") >= 0))
        .then((pl.col("dose_gy") * 100).round(1))
        .alias("dose_cgy"),
    )
    sessions = _cat(
        '{"url":"' + EXTENSIONS["rt_sessions"] + '","valueUnsignedInt":', _num("fractions"), "},"
    )
    dose = _cat(
        ',{"url":"totalDoseDelivered","valueQuantity":{"value":',
        _num("dose_cgy"),
        ',"unit":"cGy","system":"' + CODE_SYSTEMS["ucum"] + '","code":"cGy"}}',
    )
    fractions = _cat(',{"url":"fractionsDelivered","valueUnsignedInt":', _num("fractions"), "}")
    extension: Frag = [
        ',"extension":[',
        sessions,
        '{"url":"'
        + EXTENSIONS["rt_dose"]
        + '","extension":[{"url":"volume","valueReference":{"display":',
        _c("rt_volume"),
        "}}",
        dose,
        fractions,
        "]}]",
    ]
    category = _const_cc(
        CODE_SYSTEMS["snomed"], "108290001", "Radiation oncology AND/OR radiotherapy"
    )
    code = _obj(
        '{"coding":[{"system":"'
        + CODE_SYSTEMS["snomed"]
        + '","code":"1217123003","display":"Radiotherapy course of treatment"}',
        _cat(',{"system":"' + CODE_SYSTEMS["radiotherapy"] + '","code":', _js("code"), "}"),
        '],"text":',
        _js("description"),
        "}",
    )
    json = _procedure(MCODE_PROFILES["radiotherapy_course"], extension, category, code)
    return _frame(df, "treatment_id", json, "treatment_key")


def _medication_requests(df: pl.DataFrame) -> pl.LazyFrame:
    json = _obj(
        '{"resourceType":"MedicationRequest","id":"',
        _c("treatment_id"),
        '"'
        + _meta(MCODE_PROFILES["medication_request"])
        + ',"status":"completed","intent":"order","medicationCodeableConcept":',
        _c("medication"),
        ',"subject":',
        *_ref("Patient", "patient_id"),
        ',"authoredOn":',
        _qdate("start_date"),
        ',"reasonReference":[',
        *_ref("Condition", "condition_id"),
        "]",
        _cat(',"dosageInstruction":[{"text":"', _num("cycles"), ' cycle(s)"}]'),
        "}",
    )
    return _frame(df, "treatment_id", json, "treatment_key")


def _medication_administrations(df: pl.DataFrame) -> pl.LazyFrame:
    json = _obj(
        '{"resourceType":"MedicationAdministration","id":"',
        _c("administration_id"),
        '"'
        + _meta(MCODE_PROFILES["medication_administration"])
        + ',"status":"completed","medicationCodeableConcept":',
        _c("medication"),
        ',"subject":',
        *_ref("Patient", "patient_id"),
        ',"effectivePeriod":{"start":',
        _qdate("start_date"),
        _cat(',"end":', _qdate("end_date")),
        '},"reasonReference":[',
        *_ref("Condition", "condition_id"),
        '],"request":',
        *_ref("MedicationRequest", "treatment_id"),
        "}",
    )
    return _frame(df, "administration_id", json, "treatment_key")


_SPECIMEN_TYPE = {
    "biopsy": _const_cc(CODE_SYSTEMS["v2_0487"], "TISS", "Tissue", "biopsy"),
    "resection": _const_cc(CODE_SYSTEMS["v2_0487"], "TISS", "Tissue", "resection"),
}


def _specimens(df: pl.DataFrame) -> pl.LazyFrame:
    stype = (
        pl.col("procedure")
        .replace_strict(_SPECIMEN_TYPE, default=None)
        .fill_null(_cat('{"text":', _js("procedure"), "}"))
    )
    json = _obj(
        '{"resourceType":"Specimen","id":"',
        _c("specimen_id"),
        '"' + _meta(MCODE_PROFILES["specimen"]) + ',"status":"available","type":',
        stype,
        ',"subject":',
        *_ref("Patient", "patient_id"),
        ',"collection":{"collectedDateTime":',
        _c("collected_d"),
        ',"method":{"text":',
        _js("procedure"),
        '},"bodySite":{"coding":[',
        _c("topo_coding"),
        "]}}}",
    )
    return _frame(df, "specimen_id", json, "specimen_key")


def _diagnostic_reports(df: pl.DataFrame) -> pl.LazyFrame:
    category = _const_cc(CODE_SYSTEMS["v2_0074"], "SP", "Surgical Pathology")
    code = _const_cc(CODE_SYSTEMS["loinc"], "11526-1", "Pathology study")
    json = _obj(
        '{"resourceType":"DiagnosticReport","id":"',
        _c("report_id"),
        '","status":"final","category":[' + category + '],"code":' + code + ',"subject":',
        *_ref("Patient", "patient_id"),
        ',"effectiveDateTime":',
        _c("collected_d"),
        ',"specimen":[',
        *_ref("Specimen", "specimen_id"),
        "]",
        _cat(',"result":[', _c("results"), "]"),
        ',"conclusion":',
        _c("morph_text"),
        ',"conclusionCode":[{"coding":[',
        _c("morph_coding"),
        "]}]}",
    )
    return _frame(df, "report_id", json, "specimen_key")


def _letters(df: pl.DataFrame) -> pl.LazyFrame:
    doc_type = _const_cc(CODE_SYSTEMS["loinc"], "11488-4", "Consult note")
    json = _obj(
        '{"resourceType":"DocumentReference","id":"',
        _c("letter_id"),
        '","status":"current","docStatus":"final","type":' + doc_type + ',"subject":',
        *_ref("Patient", "patient_id"),
        ',"description":"Courrier de consultation d\'oncologie","content":[{"attachment":'
        '{"contentType":"text/plain; charset=utf-8","language":"fr","data":"',
        _c("letter_b64"),
        '","title":"Courrier de consultation"}}],"context":{',
        _cat('"encounter":[', *_ref("Encounter", "letter_encounter_id"), "],"),
        '"period":{"start":',
        _c("diag_d"),
        '},"related":[',
        *_ref("Condition", "condition_id"),
        "]}}",
    )
    return _frame(df, "letter_id", json, "tumour_key")


_ENCOUNTER_CLASS = {
    "inpatient": ("IMP", "inpatient encounter"),
    "outpatient": ("AMB", "ambulatory"),
    "day-hospital": ("SS", "short stay"),
}


def _coding_const(system: str, code: str, display: str) -> str:
    return _q({"system": system, "code": code, "display": display})


def _encounters(vis: pl.DataFrame) -> pl.LazyFrame:
    classes = {
        k: _coding_const(CODE_SYSTEMS["act_code"], c, d) for k, (c, d) in _ENCOUNTER_CLASS.items()
    }
    cls = pl.col("kind").replace_strict(classes, default=classes["outpatient"])
    json = _obj(
        '{"resourceType":"Encounter","id":"',
        _c("encounter_id"),
        '","status":"finished","class":',
        cls,
        _cat(',"type":[{"text":', _js("reason"), "}]"),
        ',"subject":',
        *_ref("Patient", "patient_id"),
        ',"period":{"start":',
        _qdate("start_date"),
        ',"end":',
        _qdate("end_date"),
        "}",
        _cat(',"reasonReference":[', *_ref("Condition", "condition_id"), "]"),
        ',"serviceProvider":{"display":',
        pl.col("hospital_id").replace_strict(_HOSPITAL_NAME_J),
        "}}",
    )
    return _frame(vis, "encounter_id", json, "visit_key")


# ---------------------------------------------------------------------------------------------
# Assembly.

_HKEYS = ["hospital_id", "person_key"]
_HT = ["hospital_id", "tumour_key"]


def _table(table: object) -> pl.DataFrame:
    df = pl.from_arrow(table)
    assert isinstance(df, pl.DataFrame)
    return df


def build_resources(chunk: TruthChunk) -> dict[str, pl.DataFrame]:
    """Every hospital's resources of one chunk, by type: a frame of ``hospital_id``, ``rid``
    (the resource id) and ``json`` (one NDJSON line, newline included), sorted by hospital and
    then by truth keys, so the order is fixed."""
    in_hospitals = pl.col("hospital_id").is_in(pl.Series(HOSPITALS).implode())
    sr = (
        _table(chunk.source_records)
        .rename({"source_id": "hospital_id"})
        .filter(in_hospitals & (pl.col("source_kind") == "hospital"))
        .with_row_index("_i")
    )
    sr = sr.with_columns(
        pl.col("hospital_id").replace_strict(_HOSPITAL_INDEX, return_dtype=pl.Int64).alias("h_idx")
    )
    sr = sr.with_columns(
        _ids(sr["h_idx"], _str_hash(sr["local_id"]), "Patient", "pat-").alias("patient_id")
    )
    pats = sr.select(*_HKEYS, "h_idx", "patient_id").unique(
        _HKEYS, keep="first", maintain_order=True
    )

    vis = _table(chunk.visits).filter(in_hospitals).join(pats, on=_HKEYS, how="inner")
    trt = _table(chunk.treatments).filter(in_hospitals).join(pats, on=_HKEYS, how="inner")
    spc = _table(chunk.specimens).filter(in_hospitals).join(pats, on=_HKEYS, how="inner")
    tum = _prepare_tumours(_table(chunk.tumours))

    seen = pl.concat(
        [
            vis.select(*_HT, "h_idx", "patient_id").drop_nulls("tumour_key"),
            trt.select(*_HT, "h_idx", "patient_id"),
            spc.select(*_HT, "h_idx", "patient_id"),
        ]
    ).unique(_HT, keep="first", maintain_order=True)
    cond = seen.join(tum, on="tumour_key", how="inner")
    cond = _with_id(cond, "condition_id", "Condition", "cond-", pl.col("tumour_key"))
    for axis in _TNM_AXES:
        key = _obs_key(_TNM_SLOT[axis])
        cond = _with_id(cond, f"{axis}_obs_id", "Observation", "obs-", key)
    cond_ids = cond.select(*_HT, "condition_id")

    vis = vis.join(cond_ids, on=_HT, how="left")
    vis = _with_id(vis, "encounter_id", "Encounter", "enc-", pl.col("visit_key"))

    trt = trt.join(cond_ids, on=_HT, how="inner").join(
        tum.select("tumour_key", "body_site", "rt_volume"), on="tumour_key"
    )
    trt = _with_id(trt, "treatment_id", "Treatment", "trt-", pl.col("treatment_key"))
    kind = pl.col("kind").str.to_lowercase()
    surgery = trt.filter(kind == "surgery")
    radio = trt.filter(kind == "radiotherapy")
    systemic = trt.filter((kind != "surgery") & (kind != "radiotherapy"))
    systemic = _with_id(
        systemic, "administration_id", "MedicationAdministration", "adm-", pl.col("treatment_key")
    ).with_columns(_treatment_code().alias("medication"))

    # Specimens, and each tumour's main specimen in each hospital (a resection first, latest).
    spc = spc.join(cond_ids, on=_HT, how="inner").join(
        tum.select("tumour_key", "topo_coding", "morph_coding", "morph_text"), on="tumour_key"
    )
    spc = _with_id(spc, "specimen_id", "Specimen", "spc-", pl.col("specimen_key"))
    spc = _with_id(spc, "report_id", "DiagnosticReport", "rep-", pl.col("specimen_key"))
    spc = spc.with_columns(_qdate("collected_date").alias("collected_d"))
    main = (
        spc.sort(*_HT, pl.col("procedure") == "resection", "collected_date", "specimen_key")
        .group_by(*_HT, maintain_order=True)
        .last()
        .select(*_HT, "specimen_id", "collected_d")
    )
    condm = cond.join(main, on=_HT, how="inner")

    tnm_frames, tnm_ids = _tnm_observations(cond)
    path_frames, path_ids = _path_observations(condm)
    results = (
        pl.concat(tnm_ids + path_ids)
        .join(main.select(*_HT, "specimen_id"), on=_HT)
        .sort("hospital_id", "specimen_id", "_slot")
        .group_by("hospital_id", "specimen_id", maintain_order=True)
        .agg(
            pl.concat_str([pl.lit('{"reference":"Observation/'), pl.col("obs_id"), pl.lit('"}')])
            .str.join(",")
            .alias("results")
        )
    )
    reports = spc.join(results, on=["hospital_id", "specimen_id"], how="left")

    # Letters: one per tumour and hospital, tied to the tumour's first visit there.
    first_visit = (
        vis.filter(pl.col("condition_id").is_not_null())
        .sort(*_HT, "start_date", "visit_key")
        .group_by(*_HT, maintain_order=True)
        .first()
        .select(*_HT, pl.col("encounter_id").alias("letter_encounter_id"))
    )
    letters = cond.join(first_visit, on=_HT, how="left")
    letters = _with_id(letters, "letter_id", "DocumentReference", "doc-", pl.col("tumour_key"))

    def ordered(frames: list[pl.LazyFrame]) -> pl.LazyFrame:
        lazy = pl.concat(frames, how="vertical") if len(frames) > 1 else frames[0]
        keys = [c for c in lazy.collect_schema().names() if c.startswith("_o")]
        return lazy.sort("hospital_id", *keys).select("hospital_id", "rid", "json")

    plans = {
        "Patient": ordered([_patients(sr)]),
        "Encounter": ordered([_encounters(vis)]),
        "Condition": ordered([_primary_conditions(cond), _secondary_conditions(cond)]),
        "Observation": ordered(tnm_frames + path_frames),
        "Procedure": ordered([_surgeries(surgery), _radiotherapies(radio)]),
        "MedicationRequest": ordered([_medication_requests(systemic)]),
        "MedicationAdministration": ordered([_medication_administrations(systemic)]),
        "Specimen": ordered([_specimens(spc)]),
        "DiagnosticReport": ordered([_diagnostic_reports(reports)]),
        "DocumentReference": ordered([_letters(letters)]),
    }
    frames = pl.collect_all(list(plans.values()))
    return dict(zip(plans, frames, strict=True))


class HospitalFeedWriter:
    """Writes every hospital's FHIR Bulk Data files under ``out``, chunk after chunk.

    A file is truncated the first time this writer opens it and appended to afterwards, so
    writing the same chunks into the same folder again gives the same bytes. Bytes go from the
    Arrow buffers of the JSON column straight to the files.
    """

    def __init__(self, out: Path) -> None:
        self._out = Path(out)
        self._files: dict[tuple[str, str], BinaryIO] = {}
        self.totals: dict[str, int] = dict.fromkeys(RESOURCE_TYPES, 0)

    def path(self, hospital: str, resource: str) -> Path:
        return self._out / LAYOUT["hospitals"].format(facility=hospital, resource=resource)

    def _file(self, hospital: str, resource: str) -> BinaryIO:
        key = (hospital, resource)
        fh = self._files.get(key)
        if fh is None:
            path = self.path(hospital, resource)
            path.parent.mkdir(parents=True, exist_ok=True)
            fh = path.open("wb")
            self._files[key] = fh
        return fh

    def write(self, chunk: TruthChunk) -> dict[str, int]:
        """Append the chunk's resources; returns how many were written, by resource type."""
        counts: dict[str, int] = {}
        for resource, df in build_resources(chunk).items():
            counts[resource] = df.height
            self.totals[resource] += df.height
            if df.height:
                self._append(resource, df)
        return counts

    def _append(self, resource: str, df: pl.DataFrame) -> None:
        arr = df["json"].to_arrow(compat_level=pl.CompatLevel.oldest())
        if isinstance(arr, pa.ChunkedArray):
            arr = arr.combine_chunks()
        arr = arr.cast(pa.large_string())
        offsets = np.frombuffer(arr.buffers()[1], dtype=np.int64)[arr.offset :]
        data = memoryview(arr.buffers()[2])
        runs = df.group_by("hospital_id", maintain_order=True).len()
        start = 0
        for hospital, n in runs.iter_rows():
            end = start + n
            self._file(hospital, resource).write(data[offsets[start] : offsets[end]])
            start = end

    def close(self) -> None:
        for fh in self._files.values():
            fh.close()
        self._files.clear()
