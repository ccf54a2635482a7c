"""The contract between the parts of the synthetic-data generator.

The generator works chunk by chunk (a few tens of thousands of persons at a time, so that
memory stays flat): the population model (``population``, ``tumours``, ``identity``)
produces a :class:`TruthChunk` of Arrow tables with the schemas below, and each feed writer
(hospital FHIR, pathology reports, registry CSV, INSEE death file) turns a chunk into its
files. The truth tables themselves are written to ``<out>/truth/*.parquet``, apart from the
feeds, as the ground truth.

Conventions:

* ``person_key`` is the true person (never appears in a feed); ``tumour_key``,
  ``treatment_key``, ``visit_key``, ``specimen_key`` are globally unique int64 keys.
* codes follow the built-in vocabulary: ICD-10 "C50.4", ICD-O-3 topography "C50.4",
  morphology "8500/3", ATC "L01XA01", INSEE commune codes "75056", départements "75", "2A".
* tumour attributes follow ``PATHOLOGY_SCHEMA`` of the design docs (grade "G1"…"G4",
  "low"/"high"; T/N/M without prefix; HER2 IHC "0","1+","2+","3+"; gene status
  "mutated"/"wild-type"/"rearranged"/"not rearranged"; variants without "p.").
* a null means "not applicable or not done".
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

PERSONS = pa.schema(
    [
        pa.field("person_key", pa.int64(), nullable=False),
        pa.field("sex", pa.string(), nullable=False),  # "M" or "F"
        pa.field("birth_date", pa.date32(), nullable=False),
        pa.field("birth_commune", pa.string(), nullable=False),  # INSEE code, "99xxx" abroad
        pa.field("birth_family_name", pa.string(), nullable=False),  # nom de naissance
        pa.field("used_family_name", pa.string()),  # nom d'usage (married name) or null
        pa.field("first_names", pa.list_(pa.string()), nullable=False),  # in civil order
        pa.field("nir", pa.string(), nullable=False),  # 13 digits + 2-digit key
        pa.field(
            "ins", pa.string(), nullable=False
        ),  # INS (matricule = NIR for those born in France)
        pa.field("address_line", pa.string(), nullable=False),
        pa.field("postcode", pa.string(), nullable=False),
        pa.field("residence_commune", pa.string(), nullable=False),  # INSEE code
        pa.field("departement", pa.string(), nullable=False),
        pa.field("region", pa.string(), nullable=False),  # INSEE region code
        pa.field("is_cancer_patient", pa.bool_(), nullable=False),
        pa.field("death_date", pa.date32()),
        pa.field("death_commune", pa.string()),
        pa.field("death_certificate", pa.string()),  # numéro d'acte de décès
        pa.field("death_from_cancer", pa.bool_()),
        pa.field("vital_status_date", pa.date32(), nullable=False),  # closing date or death
    ]
)

TUMOURS = pa.schema(
    [
        pa.field("tumour_key", pa.int64(), nullable=False),
        pa.field("person_key", pa.int64(), nullable=False),
        pa.field("tumour_number", pa.int8(), nullable=False),  # 1 = first primary
        pa.field("site_group", pa.string(), nullable=False),  # e.g. "breast", "lung"
        pa.field("diagnosis_date", pa.date32(), nullable=False),
        pa.field("age_at_diagnosis", pa.int16(), nullable=False),
        pa.field("icd10", pa.string(), nullable=False),
        pa.field("topography", pa.string(), nullable=False),
        pa.field("morphology", pa.string(), nullable=False),  # with behaviour, "8500/3"
        pa.field("basis_of_diagnosis", pa.int8(), nullable=False),  # IARC 0-9 (7 = histology)
        pa.field("grade", pa.string()),
        pa.field("stage_group", pa.string()),  # "I", "IIA", … "IV"
        pa.field("tnm_prefix", pa.string()),  # "p", "yp", "c"
        pa.field("t", pa.string()),
        pa.field("n", pa.string()),
        pa.field("m", pa.string()),
        pa.field("tumour_size_mm", pa.float64()),
        pa.field("nodes_positive", pa.int16()),
        pa.field("nodes_examined", pa.int16()),
        pa.field("margin_status", pa.string()),
        pa.field("er_pct", pa.float64()),
        pa.field("pr_pct", pa.float64()),
        pa.field("her2_ihc", pa.string()),
        pa.field("her2_ish", pa.string()),
        pa.field("ki67_pct", pa.float64()),
        pa.field("mmr", pa.string()),
        pa.field("msi", pa.string()),
        pa.field("pdl1_tps_pct", pa.float64()),
        pa.field("pdl1_cps", pa.float64()),
        pa.field("egfr_status", pa.string()),
        pa.field("egfr_variant", pa.string()),
        pa.field("kras_status", pa.string()),
        pa.field("kras_variant", pa.string()),
        pa.field("nras_status", pa.string()),
        pa.field("nras_variant", pa.string()),
        pa.field("braf_status", pa.string()),
        pa.field("braf_variant", pa.string()),
        pa.field("alk_status", pa.string()),
        pa.field("ros1_status", pa.string()),
        pa.field("gleason_primary", pa.int8()),
        pa.field("gleason_secondary", pa.int8()),
        pa.field("isup_group", pa.int8()),
        pa.field("psa_ng_ml", pa.float64()),
        pa.field("neoadjuvant", pa.bool_(), nullable=False),  # treated before surgery
        # which feeds capture the tumour (synth/capture.py): a participating hospital sees it;
        # a participating lab reads a specimen of it; a registry has its person
        pa.field("captured_hospital", pa.bool_(), nullable=False),
        pa.field("captured_pathology", pa.bool_(), nullable=False),
        pa.field("captured_registry", pa.bool_(), nullable=False),
    ]
)

TREATMENTS = pa.schema(
    [
        pa.field("treatment_key", pa.int64(), nullable=False),
        pa.field("tumour_key", pa.int64(), nullable=False),
        pa.field("person_key", pa.int64(), nullable=False),
        pa.field("hospital_id", pa.string(), nullable=False),  # HOSPxx, or EXT_HOSP: outside
        pa.field("kind", pa.string(), nullable=False),  # surgery, systemic, radiotherapy
        pa.field("start_date", pa.date32(), nullable=False),
        pa.field("end_date", pa.date32()),
        pa.field("code", pa.string()),  # ATC for systemic drugs; CCAM-like code for surgery
        pa.field("code_system", pa.string()),  # "ATC", "CCAM", "RT"
        pa.field("description", pa.string(), nullable=False),  # e.g. "FOLFIRINOX", "mastectomie"
        pa.field("cycles", pa.int16()),  # systemic: number of cycles
        pa.field("dose_gy", pa.float64()),  # radiotherapy total dose
        pa.field("fractions", pa.int16()),  # radiotherapy
    ]
)

# One row per (source, person): the identity as that source knows it, with its noise.
SOURCE_RECORDS = pa.schema(
    [
        pa.field("source_id", pa.string(), nullable=False),  # "HOSP01", "LAB03", "REG_35", "INSEE"
        pa.field("source_kind", pa.string(), nullable=False),  # hospital, lab, registry, deaths
        pa.field("local_id", pa.string(), nullable=False),  # the source's own patient id
        pa.field("person_key", pa.int64(), nullable=False),
        pa.field("sex", pa.string()),
        pa.field("birth_date", pa.date32()),  # may carry a typo or a day/month swap
        pa.field("birth_commune", pa.string()),
        pa.field("family_name", pa.string()),  # as the source writes it (may be used name)
        pa.field("birth_family_name", pa.string()),
        pa.field("first_names", pa.list_(pa.string())),
        pa.field("nir", pa.string()),  # null when missing; may carry a typo (invalid key)
        pa.field("address_line", pa.string()),
        pa.field("postcode", pa.string()),
        pa.field("commune", pa.string()),
        pa.field("noise", pa.list_(pa.string())),  # applied noise kinds, e.g. ["typo", "swap"]
    ]
)

# Hospital encounters (stays, consultations, day-hospital sessions).
VISITS = pa.schema(
    [
        pa.field("visit_key", pa.int64(), nullable=False),
        pa.field("person_key", pa.int64(), nullable=False),
        pa.field("tumour_key", pa.int64()),
        pa.field("hospital_id", pa.string(), nullable=False),  # HOSPxx, or EXT_HOSP: outside
        pa.field("kind", pa.string(), nullable=False),  # inpatient, outpatient, day-hospital
        pa.field("start_date", pa.date32(), nullable=False),
        pa.field("end_date", pa.date32(), nullable=False),
        pa.field(
            "reason", pa.string()
        ),  # diagnosis, surgery, chemotherapy, radiotherapy, follow-up
    ]
)

# Pathology specimens: one report each.
SPECIMENS = pa.schema(
    [
        pa.field("specimen_key", pa.int64(), nullable=False),
        pa.field("tumour_key", pa.int64(), nullable=False),
        pa.field("person_key", pa.int64(), nullable=False),
        pa.field("lab_id", pa.string(), nullable=False),  # LABxx, or EXT_LAB: outside
        pa.field("hospital_id", pa.string(), nullable=False),  # where it was taken (or EXT_HOSP)
        pa.field("collected_date", pa.date32(), nullable=False),
        pa.field("procedure", pa.string(), nullable=False),  # biopsy, resection, cytology
        pa.field("post_neoadjuvant", pa.bool_(), nullable=False),  # resection after treatment
    ]
)


@dataclass(frozen=True, kw_only=True)
class TruthChunk:
    """The truth of one chunk of persons, in the schemas above."""

    index: int
    persons: pa.Table
    tumours: pa.Table
    treatments: pa.Table
    source_records: pa.Table
    visits: pa.Table
    specimens: pa.Table


TRUTH_TABLES = {
    "persons": PERSONS,
    "tumours": TUMOURS,
    "treatments": TREATMENTS,
    "source_records": SOURCE_RECORDS,
    "visits": VISITS,
    "specimens": SPECIMENS,
}


@dataclass(frozen=True, kw_only=True)
class Facility:
    """A data provider of the synthetic nation (names are fictional)."""

    id: str
    kind: str  # hospital, lab, registry, deaths
    name: str
    departement: str  # main département ("" for national providers)
    region: str  # INSEE region code ("" for national providers)
    covers: tuple[str, ...] = ()  # registries: the départements they cover


FACILITIES: tuple[Facility, ...] = (
    Facility(id="HOSP01", kind="hospital", name="CHU Paris-Nord (synthétique)", departement="75", region="11"),
    Facility(id="HOSP02", kind="hospital", name="Centre de lutte contre le cancer Île-de-France (synthétique)", departement="94", region="11"),
    Facility(id="HOSP03", kind="hospital", name="CHU Lyon (synthétique)", departement="69", region="84"),
    Facility(id="HOSP04", kind="hospital", name="CHU Grenoble-Alpes (synthétique)", departement="38", region="84"),
    Facility(id="HOSP05", kind="hospital", name="CHU Marseille (synthétique)", departement="13", region="93"),
    Facility(id="HOSP06", kind="hospital", name="CHU Montpellier (synthétique)", departement="34", region="76"),
    Facility(id="HOSP07", kind="hospital", name="CHU Toulouse (synthétique)", departement="31", region="76"),
    Facility(id="HOSP08", kind="hospital", name="CHU Bordeaux (synthétique)", departement="33", region="75"),
    Facility(id="HOSP09", kind="hospital", name="CHU Nantes (synthétique)", departement="44", region="52"),
    Facility(id="HOSP10", kind="hospital", name="CHU Rennes (synthétique)", departement="35", region="53"),
    Facility(id="HOSP11", kind="hospital", name="CHU Caen (synthétique)", departement="14", region="28"),
    Facility(id="HOSP12", kind="hospital", name="CHU Lille (synthétique)", departement="59", region="32"),
    Facility(id="HOSP13", kind="hospital", name="CHU Strasbourg (synthétique)", departement="67", region="44"),
    Facility(id="HOSP14", kind="hospital", name="CHU Dijon (synthétique)", departement="21", region="27"),
    Facility(id="HOSP15", kind="hospital", name="CH Orléans (synthétique)", departement="45", region="24"),
    Facility(id="HOSP16", kind="hospital", name="CH Ajaccio (synthétique)", departement="2A", region="94"),
    Facility(id="LAB01", kind="lab", name="Cabinet d'anatomie pathologique Paris (synthétique)", departement="75", region="11"),
    Facility(id="LAB02", kind="lab", name="Laboratoire ACP Rhône-Alpes (synthétique)", departement="69", region="84"),
    Facility(id="LAB03", kind="lab", name="Laboratoire ACP Méditerranée (synthétique)", departement="13", region="93"),
    Facility(id="LAB04", kind="lab", name="Laboratoire ACP Atlantique (synthétique)", departement="44", region="52"),
    Facility(id="LAB05", kind="lab", name="Laboratoire ACP Nord-Est (synthétique)", departement="67", region="44"),
    Facility(id="LAB06", kind="lab", name="Laboratoire ACP Sud-Ouest (synthétique)", departement="33", region="75"),
    Facility(id="REG_14", kind="registry", name="Registre des cancers du Calvados (synthétique)", departement="14", region="28", covers=("14",)),
    Facility(id="REG_38", kind="registry", name="Registre des cancers de l'Isère (synthétique)", departement="38", region="84", covers=("38",)),
    Facility(id="REG_67", kind="registry", name="Registre des cancers du Bas-Rhin (synthétique)", departement="67", region="44", covers=("67",)),
    Facility(id="REG_34", kind="registry", name="Registre des tumeurs de l'Hérault (synthétique)", departement="34", region="76", covers=("34",)),
    Facility(id="REG_44", kind="registry", name="Registre des cancers de Loire-Atlantique et Vendée (synthétique)", departement="44", region="52", covers=("44", "85")),
    Facility(id="REG_68", kind="registry", name="Registre des cancers du Haut-Rhin (synthétique)", departement="68", region="44", covers=("68",)),
    Facility(id="REG_25", kind="registry", name="Registre des tumeurs du Doubs et du Territoire de Belfort (synthétique)", departement="25", region="27", covers=("25", "90")),
    Facility(id="REG_50", kind="registry", name="Registre des cancers de la Manche (synthétique)", departement="50", region="28", covers=("50",)),
    Facility(id="REG_80", kind="registry", name="Registre des cancers de la Somme (synthétique)", departement="80", region="32", covers=("80",)),
    Facility(id="REG_81", kind="registry", name="Registre des cancers du Tarn (synthétique)", departement="81", region="76", covers=("81",)),
    Facility(id="REG_33", kind="registry", name="Registre des cancers de la Gironde (synthétique)", departement="33", region="75", covers=("33",)),
    Facility(id="REG_86", kind="registry", name="Registre des cancers de Poitou-Charentes (synthétique)", departement="86", region="75", covers=("16", "17", "79", "86")),
    Facility(id="REG_87", kind="registry", name="Registre des cancers de la Haute-Vienne (synthétique)", departement="87", region="75", covers=("87",)),
    Facility(id="INSEE", kind="deaths", name="INSEE, fichier des personnes décédées (synthétique)", departement="", region=""),
)  # fmt: skip

# Where each feed lives under the output folder.
LAYOUT = {
    "hospitals": "feeds/hospitals/{facility}/{resource}.ndjson",  # FHIR R4 Bulk Data, one file per type
    "pathology": "feeds/pathology/{facility}/reports.ndjson",  # one JSON object per report
    "registries": "feeds/registries/{facility}/tumours.csv",  # one row per tumour
    "deaths": "feeds/deaths/deces-{year}.txt",  # INSEE fixed width, one file per death year
    "truth": "truth/{table}.parquet",  # ground truth, never read by the platform's steps
    "pathology_gold": "truth/pathology_gold.ndjson",  # gold JSON per report (report_id + keys)
    "manifest": "manifest.json",  # seed, sizes, noise rates, counts per feed
}  # fmt: skip
