"""The data catalogue: every shareable dataset described in HealthDCAT-AP (DCAT-AP 3.0) JSON-LD.

The shareable datasets are the OMOP clinical tables, each national cohort and the registry
statistics. Their descriptions come from the live store: record counts, persons, temporal and
spatial coverage, the last load or build, the variables with their standards and the quality
indicators of the latest quality run. Person-level datasets are ``NON_PUBLIC`` (an extract under
a permit, requested on ``/share``); the statistics are ``PUBLIC`` (the open statistics API).

Counts between 1 and 10 are not published (``MIN_CELL`` of the disclosure control), and date
coverage is rounded out to whole months, so the public catalogue discloses no small cell.

:func:`build_catalogue` writes the JSON-LD document (a ``dcat:Catalog`` with an inline
``@context``); :mod:`oncobase.share.catalogue_check` validates it (derived JSON Schema plus the
JSON-LD rules) and :mod:`oncobase.share.catalogue_views` reads it for the pages and the API.
See ``docs/share_catalogue.md``.
"""

from __future__ import annotations

import calendar
import csv
import datetime as dt
import json
import os
import re
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, fields
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from oncobase.logging import get_logger
from oncobase.share.catalogue_check import (
    CatalogueError,
    is_absolute_iri,
)
from oncobase.share.disclosure import MIN_CELL
from oncobase.share.variables import VARIABLES, Variable
from oncobase.store import Backend, quote_ident
from oncobase.store.spec import ColumnSpec, TableSpec, omop_tables, table_spec

log = get_logger(__name__)

CATALOGUE_FILE = Path("share") / "catalogue.jsonld"
OPTIONS_FILE = Path("share") / "catalogue.yaml"
MEDIA_TYPE = "application/ld+json"

CONTEXT: dict[str, str] = {
    "adms": "http://www.w3.org/ns/adms#",
    "csvw": "http://www.w3.org/ns/csvw#",
    "dcat": "http://www.w3.org/ns/dcat#",
    "dcatap": "http://data.europa.eu/r5r/",
    "dct": "http://purl.org/dc/terms/",
    "dpv": "https://w3id.org/dpv#",
    "dqv": "http://www.w3.org/ns/dqv#",
    "foaf": "http://xmlns.com/foaf/0.1/",
    "healthdcatap": "http://healthdataportal.eu/ns/health#",
    "prov": "http://www.w3.org/ns/prov#",
    "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
    "skos": "http://www.w3.org/2004/02/skos/core#",
    "vcard": "http://www.w3.org/2006/vcard/ns#",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
}

_EU = "http://publications.europa.eu/resource/authority/"
ACCESS_RIGHTS = {k: f"{_EU}access-right/{k}" for k in ("PUBLIC", "RESTRICTED", "NON_PUBLIC")}
THEME_HEALTH = f"{_EU}data-theme/HEAL"
THEME_TAXONOMY = f"{_EU}data-theme"
COUNTRY_FRANCE = f"{_EU}country/FRA"
LANGUAGES = (f"{_EU}language/ENG", f"{_EU}language/FRA")
FREQUENCY_IRREGULAR = f"{_EU}frequency/IRREG"
FILE_TYPE = f"{_EU}file-type/"
IANA = "https://www.iana.org/assignments/media-types/"
GDPR = "http://data.europa.eu/eli/reg/2016/679/oj"
EHDS = "http://data.europa.eu/eli/reg/2025/327/oj"
GDPR_LEGAL_BASES = (
    "https://w3id.org/dpv/legal/eu/gdpr#A6-1-e",
    "https://w3id.org/dpv/legal/eu/gdpr#A9-2-j",
)
OMOP_CDM = "https://ohdsi.github.io/CommonDataModel/cdm54.html"
DCMI_DATASET = "http://purl.org/dc/dcmitype/Dataset"
STATISTICAL = f"{_EU}dataset-type/STATISTICAL"
INSEE_DEPARTEMENT = "http://id.insee.fr/geo/departement/"
# The HealthDCAT-AP health-category vocabulary could not be fetched offline: these IRIs are
# placeholders in the HealthDCAT-AP namespace, replaceable in <home>/share/catalogue.yaml.
HEALTH_CATEGORY = "http://healthdataportal.eu/ns/health-category#"

ACCESS_LABELS = {
    ACCESS_RIGHTS["PUBLIC"]: "Public",
    ACCESS_RIGHTS["RESTRICTED"]: "Restricted",
    ACCESS_RIGHTS["NON_PUBLIC"]: "Non-public: access under a permit",
}
THEME_LABELS = {THEME_HEALTH: "Health"}
LEGAL_LABELS = {
    GDPR_LEGAL_BASES[0]: "GDPR art. 6(1)(e): public interest",
    GDPR_LEGAL_BASES[1]: "GDPR art. 9(2)(j): scientific research and statistics",
}

# OMOP tables that are not datasets of their own (technical metadata of the CDM instance).
_NOT_DATASETS = frozenset({"metadata", "cdm_source"})
# Tables whose only date is when a process ran, not when care happened (no temporal coverage).
_PROCESSING_DATES = frozenset({"note_nlp"})


@dataclass(frozen=True, kw_only=True)
class CatalogueOptions:
    """What the operator says about the platform; read from ``<home>/share/catalogue.yaml``."""

    title: str = "OncoBase national cancer data catalogue"
    description: str = (
        "The datasets of the national cancer data platform: the OMOP CDM tables of the "
        "pseudonymous clinical store, the national cohorts of poor-prognosis cancers and the "
        "registry statistics, with their coverage, variables, quality and access conditions."
    )
    publisher_name: str = "OncoBase"
    contact_email: str = "data-access@oncobase.example"
    hdab_name: str = "Health Data Hub (Plateforme des données de santé)"
    hdab_email: str = "hdab@oncobase.example"
    hdab_homepage: str = "https://www.health-data-hub.fr/"
    legal_basis: str = (
        "GDPR (RGPD) art. 6(1)(e), task carried out in the public interest, and art. 9(2)(j), "
        "processing necessary for scientific research and statistics; French public health "
        "code (Code de la santé publique), art. L1461-1 and following (health data of public "
        "interest) and the cancer registries' authorisations."
    )
    legal_basis_iris: tuple[str, ...] = GDPR_LEGAL_BASES
    applicable_legislation: tuple[str, ...] = (GDPR, EHDS)
    person_level_categories: tuple[str, ...] = (
        f"{HEALTH_CATEGORY}EHR",
        f"{HEALTH_CATEGORY}DISEASE_REGISTRY",
    )
    statistics_categories: tuple[str, ...] = (f"{HEALTH_CATEGORY}DISEASE_REGISTRY",)


def read_catalogue_options(path: Path) -> CatalogueOptions:
    """The options in a YAML file (defaults when it is absent); CatalogueError names bad keys."""
    if not path.is_file():
        return CatalogueOptions()
    try:
        data = yaml.safe_load(path.read_text("utf-8")) or {}
    except yaml.YAMLError as exc:
        raise CatalogueError(f"{path}: not valid YAML ({exc})") from None
    if not isinstance(data, dict):
        raise CatalogueError(f"{path}: the catalogue options must be a YAML mapping")
    known = {f.name: f for f in fields(CatalogueOptions)}
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise CatalogueError(
            f"{path}: unknown option(s) {', '.join(unknown)}; known: {', '.join(known)}"
        )
    values: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(known[key].default, tuple):
            items = value if isinstance(value, list) else [value]
            if not all(isinstance(v, str) and is_absolute_iri(v) for v in items):
                raise CatalogueError(f"{path}: {key} must be a list of absolute IRIs")
            values[key] = tuple(items)
        elif not isinstance(value, str) or not value.strip():
            raise CatalogueError(f"{path}: {key} must be a non-empty text")
        else:
            values[key] = value.strip()
    for key in ("contact_email", "hdab_email"):
        if key in values and not re.fullmatch(r"[^\s@]+@[^\s@]+", values[key]):
            raise CatalogueError(f"{path}: {key} must be an e-mail address")
    return CatalogueOptions(**values)


# -- small JSON-LD builders -------------------------------------------------------------------
def _iri(value: str) -> dict[str, str]:
    return {"@id": value}


def _en(text: str) -> dict[str, str]:
    return {"@value": text, "@language": "en"}


def _date(value: dt.date) -> dict[str, str]:
    return {"@value": value.isoformat(), "@type": "xsd:date"}


def _datetime(value: dt.datetime) -> dict[str, str]:
    stamp = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    return {"@value": stamp.isoformat(timespec="seconds"), "@type": "xsd:dateTime"}


def _count(value: int) -> dict[str, str] | None:
    """A published count, or None for 1..10 (a small cell the public catalogue withholds)."""
    if 0 < value < MIN_CELL:
        return None
    return {"@value": str(int(value)), "@type": "xsd:nonNegativeInteger"}


def catalogue_iri(base_url: str) -> str:
    return f"{base_url.rstrip('/')}/catalogue"


def dataset_iri(base_url: str, dataset_id: str) -> str:
    return f"{catalogue_iri(base_url)}/datasets/{dataset_id}"


def _month_span(first: dt.date | None, last: dt.date | None) -> dict[str, Any] | None:
    """The coverage rounded out to whole months (first day of the first, last of the last)."""
    if first is None or last is None:
        return None
    end_day = calendar.monthrange(last.year, last.month)[1]
    return {
        "@type": "dct:PeriodOfTime",
        "dcat:startDate": _date(first.replace(day=1)),
        "dcat:endDate": _date(last.replace(day=end_day)),
    }


@cache
def _departement_names() -> dict[str, str]:
    text = resources.files("oncobase.vocab").joinpath("data", "departements.csv").read_text("utf-8")
    rows = csv.DictReader(line for line in text.splitlines() if not line.startswith("#"))
    return {r["code"]: r["label"] for r in rows}


def _spatial(codes: list[str]) -> list[dict[str, Any]]:
    names = _departement_names()
    places: list[dict[str, Any]] = [_iri(COUNTRY_FRANCE)]
    for code in sorted({c for c in codes if c in names}):
        places.append(
            {
                "@id": f"{INSEE_DEPARTEMENT}{code}",
                "@type": "dct:Location",
                "skos:prefLabel": {"@value": names[code], "@language": "fr"},
                "skos:notation": code,
            }
        )
    return places


@cache
def _omop_texts() -> tuple[dict[str, str], dict[tuple[str, str], tuple[str, str]]]:
    """OHDSI table descriptions, and (table, column) → (concept domain, description)."""
    folder = resources.files("oncobase.share").joinpath("schema")

    def rows(name: str) -> Iterator[dict[str, str]]:
        text = folder.joinpath(name).read_text("utf-8")
        lines = [line for line in text.splitlines() if line and not line.startswith("#")]
        yield from csv.DictReader(lines, delimiter="\t", quoting=csv.QUOTE_NONE)

    tables = {r["table"]: r["description"] for r in rows("omop_tables.tsv")}
    columns = {(r["table"], r["column"]): (r["domain"], r["description"]) for r in rows(
        "omop_columns.tsv")}  # fmt: skip
    return tables, columns


_CSVW_TYPES = {"integer": "integer", "float": "number", "text": "string", "date": "date",
               "datetime": "datetime"}  # fmt: skip


def _column(
    name: str, *, title: str, description: str, datatype: str, standard: str | None
) -> dict[str, Any]:
    node: dict[str, Any] = {
        "@type": "csvw:Column",
        "csvw:name": name,
        "csvw:titles": title,
        "dct:description": _en(description),
        "csvw:datatype": datatype,
    }
    if standard:
        node["dct:conformsTo"] = {"@type": "dct:Standard", "dct:title": standard}
    return node


def _omop_column(table: str, col: ColumnSpec) -> dict[str, Any]:
    domain, text = _omop_texts()[1].get((table, col.name), ("", ""))
    if col.fk_table and col.fk_table.lower() == "concept":
        kind = "source concept" if "source_concept" in col.name else "standard concept"
        standard = f"OMOP {kind}, domain {domain}" if domain else f"OMOP {kind}"
    else:
        standard = None
    return _column(
        col.name,
        title=col.name,
        description=text or f"Column {col.name} of the OMOP table {table}.",
        datatype=_CSVW_TYPES[col.type_class],
        standard=standard,
    )


def _variable_column(v: Variable) -> dict[str, Any]:
    datatype = {"date": "date", "number": "integer"}.get(v.kind, "string")
    note = " Quasi-identifier: checked by the k-anonymity report." if v.quasi_identifier else ""
    return _column(
        v.name,
        title=v.label,
        description=f"{v.label}, from OMOP {v.table}.{v.column}.{note}",
        datatype=datatype,
        standard=v.standard,
    )


# -- what the store says ----------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class _Facts:
    """Store-wide facts every dataset description uses."""

    base: str
    options: CatalogueOptions
    departements: list[str]
    stats_departements: list[str]
    quality: list[dict[str, Any]] = field(default_factory=list)


def _departements(backend: Backend, sql: str, tables: tuple[str, ...]) -> list[str]:
    """Département codes a query returns (empty when a table it reads is missing)."""
    if not all(backend.table_exists(t) for t in tables):
        return []
    return [str(r["c"]) for r in backend.query_arrow(sql, (MIN_CELL,)).to_pylist()]


# Where persons live, and where the statistics count cases: only départements with at least
# MIN_CELL of them are named (a département with 3 persons would be a small cell).
_PERSON_DEPARTEMENTS = (
    "SELECT l.county AS c FROM person AS p JOIN location AS l ON l.location_id = p.location_id "
    "WHERE l.county IS NOT NULL GROUP BY l.county HAVING count(*) >= $1"
)
_STATS_DEPARTEMENTS = (
    "SELECT departement AS c FROM stats__incidence WHERE departement IS NOT NULL "
    "GROUP BY departement HAVING sum(cases) >= $1"
)


def _latest_quality(backend: Backend, base: str) -> list[dict[str, Any]]:
    """dqv:QualityMeasurement nodes of the latest store quality run (national values)."""
    if not (backend.table_exists("quality__runs") and backend.table_exists("quality__indicators")):
        return []
    runs = backend.query_arrow(
        "SELECT run_id, ended_at, started_at, label FROM quality__runs WHERE scope = 'store' "
        "ORDER BY started_at DESC LIMIT 1"
    ).to_pylist()
    if not runs:
        return []
    run = runs[0]
    when = run["ended_at"] or run["started_at"]
    from oncobase.quality import INDICATORS

    labels = {i.id: i.label for i in INDICATORS}
    rows = backend.query_arrow(
        "SELECT indicator, sum(numerator) AS num, sum(denominator) AS den, max(threshold) AS thr "
        "FROM quality__indicators WHERE run_id = $1 AND site_group = 'ALL' "
        "GROUP BY indicator ORDER BY indicator",
        (run["run_id"],),
    ).to_pylist()
    measures: list[dict[str, Any]] = []

    def measure(metric: str, label: str, value: dict[str, str] | str, note: str) -> None:
        node: dict[str, Any] = {
            "@type": "dqv:QualityMeasurement",
            "dqv:isMeasurementOf": {
                "@id": f"{catalogue_iri(base)}#metric-{metric}",
                "@type": "dqv:Metric",
                "skos:prefLabel": _en(label),
            },
            "dqv:value": value,
            "rdfs:comment": _en(note),
        }
        if isinstance(when, dt.datetime):
            node["prov:generatedAtTime"] = _datetime(when)
        measures.append(node)

    if run["label"]:
        measure(
            "QUALITY_LABEL",
            "quality label of the store (A best, D worst)",
            str(run["label"]),
            "Label of the latest quality run over every source (docs/quality.md).",
        )
    for row in rows:
        num, den = row["num"], row["den"]
        if num is None or not den:
            continue
        value = round(100.0 * float(num) / float(den), 2)
        threshold = row["thr"]
        note = (
            f"National value over {int(den):,} tumours"
            if den >= MIN_CELL
            else "National value over fewer than 11 tumours"
        )
        if threshold is not None:
            note += f"; acceptable up to {threshold:g}%"
        measure(
            str(row["indicator"]),
            labels.get(str(row["indicator"]), str(row["indicator"])),
            {"@value": f"{value:.2f}", "@type": "xsd:decimal"},
            note + ".",
        )
    return measures


def _last_loads(backend: Backend) -> dict[str, dt.datetime]:
    if not backend.table_exists("platform__loads"):
        return {}
    rows = backend.query_arrow(
        "SELECT target_table, max(ended_at) AS ended FROM platform__loads "
        "WHERE status = 'success' AND target_table IS NOT NULL GROUP BY target_table"
    ).to_pylist()
    return {r["target_table"]: r["ended"] for r in rows if isinstance(r["ended"], dt.datetime)}


# -- the datasets -----------------------------------------------------------------------------
def _agent(name: str, email: str, homepage: str | None = None) -> dict[str, Any]:
    node: dict[str, Any] = {
        "@type": "foaf:Agent",
        "foaf:name": name,
        "dcat:contactPoint": {
            "@type": "vcard:Kind",
            "vcard:fn": name,
            "vcard:hasEmail": _iri(f"mailto:{email}"),
        },
    }
    if homepage:
        node["foaf:homepage"] = _iri(homepage)
    return node


def _common(facts: _Facts, dataset_id: str, *, public: bool) -> dict[str, Any]:
    o = facts.options
    iri = dataset_iri(facts.base, dataset_id)
    legal: list[dict[str, Any]] = [_iri(x) for x in o.legal_basis_iris]
    legal.append({"@type": "dpv:LegalBasis", "dct:description": _en(o.legal_basis)})
    return {
        "@id": iri,
        "@type": "dcat:Dataset",
        "dct:identifier": iri,
        "dcat:landingPage": _iri(iri),
        "dct:accessRights": _iri(ACCESS_RIGHTS["PUBLIC" if public else "NON_PUBLIC"]),
        "dcatap:applicableLegislation": [_iri(x) for x in o.applicable_legislation],
        "dcat:theme": [_iri(THEME_HEALTH)],
        "healthdcatap:healthCategory": [
            _iri(x) for x in (o.statistics_categories if public else o.person_level_categories)
        ],
        "dct:publisher": _agent(o.publisher_name, o.contact_email, facts.base),
        "dcat:contactPoint": _agent(o.publisher_name, o.contact_email)["dcat:contactPoint"],
        "healthdcatap:hdab": _agent(o.hdab_name, o.hdab_email, o.hdab_homepage),
        "dct:language": [_iri(x) for x in LANGUAGES],
        "dct:accrualPeriodicity": _iri(FREQUENCY_IRREGULAR),
        "dpv:hasLegalBasis": legal,
        "dct:type": _iri(STATISTICAL if public else DCMI_DATASET),
    }


def _permit_distribution(
    facts: _Facts, dataset_id: str, columns: list[dict[str, Any]]
) -> dict[str, Any]:
    return {
        "@id": f"{dataset_iri(facts.base, dataset_id)}#extract",
        "@type": "dcat:Distribution",
        "dct:title": _en("Extract under a permit"),
        "dct:description": _en(
            "A minimised extract, re-pseudonymised for the project, delivered in the secure "
            "shared zone to the holders of a data permit. Request access on the data access "
            "page (/share)."
        ),
        "dcat:accessURL": _iri(f"{facts.base}/share"),
        "dcatap:applicableLegislation": [_iri(x) for x in facts.options.applicable_legislation],
        "csvw:tableSchema": {"@type": "csvw:Schema", "csvw:column": columns},
    }


def _with_counts(node: dict[str, Any], records: int, persons: int | None) -> list[str]:
    """Add the published counts; the words that say what was withheld."""
    notes: list[str] = []
    for key, value in (("healthdcatap:numberOfRecords", records),
                       ("healthdcatap:numberOfUniqueIndividuals", persons)):  # fmt: skip
        if value is None:
            continue
        literal = _count(value)
        if literal is None:
            notes.append("fewer than 11 " + ("records" if "Records" in key else "persons"))
        else:
            node[key] = literal
    return notes


def _clinical_tables() -> list[TableSpec]:
    return [t for t in omop_tables() if t.group == "CDM" and t.name not in _NOT_DATASETS]


def catalogue_tables() -> tuple[str, ...]:
    """Every store table the catalogue reads (the pipeline step's inputs)."""
    return (
        *(t.name for t in _clinical_tables()),
        "cohort",
        "cohort_definition",
        "stats__incidence",
        "stats__survival",
        "quality__runs",
        "quality__indicators",
    )


def _date_columns(spec: TableSpec) -> tuple[str, str] | None:
    dates = [c.name for c in spec.columns if c.type_class == "date"]
    if not dates:
        return None
    start = next((c for c in dates if c.endswith("start_date")), dates[0])
    end = next((c for c in dates if c.endswith("end_date")), start)
    return start, end


def _omop_datasets(backend: Backend, facts: _Facts) -> list[dict[str, Any]]:
    descriptions = _omop_texts()[0]
    loads = _last_loads(backend)
    existing = set(backend.list_tables())
    out: list[dict[str, Any]] = []
    for spec in _clinical_tables():
        if spec.name not in existing:
            continue
        table = quote_ident(spec.name)
        has_person = "person_id" in spec.column_names
        span = _date_columns(spec)
        parts = [
            "count(*) AS n",
            "count(DISTINCT person_id) AS persons" if has_person else "NULL AS persons",
        ]
        if span:
            parts += [
                f"min({quote_ident(span[0])}) AS first",
                f"greatest(max({quote_ident(span[0])}), max({quote_ident(span[1])})) AS last",
            ]
        row = backend.query_arrow(f"SELECT {', '.join(parts)} FROM {table}").to_pylist()[0]
        records, persons = int(row["n"]), row["persons"]
        dataset_id = f"omop-{spec.name}"
        node = _common(facts, dataset_id, public=False)
        title = f"OMOP CDM table {spec.name}"
        text = descriptions.get(spec.name, f"The OMOP CDM v5.4 table {spec.name}.")
        node["dct:title"] = _en(title)
        node["dct:conformsTo"] = [_iri(OMOP_CDM)]
        node["dcat:keyword"] = [_en("OMOP CDM"), _en(spec.name.replace("_", " ")), _en("cancer")]
        node["healthdcatap:populationCoverage"] = _en(
            "Persons with cancer in France known to hospitals, pathology laboratories, cancer "
            "registries or the INSEE death records, linked into one pseudonymous national index "
            "(birth year and month, département of residence; no direct identifier)."
        )
        node["dct:provenance"] = {
            "@type": "dct:ProvenanceStatement",
            "rdfs:label": _en(
                "Loaded by the OncoBase pipeline from hospital FHIR exports, pathology reports, "
                "registry extracts and INSEE death files after validation (rejects kept in "
                "quarantine) and probabilistic linkage in the identity vault."
            ),
        }
        notes = _with_counts(node, records, int(persons) if persons is not None else None)
        if span and records >= MIN_CELL and spec.name not in _PROCESSING_DATES:
            period = _month_span(row.get("first"), row.get("last"))
            if period:
                node["dct:temporal"] = period
        node["dct:spatial"] = _spatial(facts.departements)
        if spec.name in loads:
            node["dct:modified"] = _datetime(loads[spec.name])
        columns = [_omop_column(spec.name, c) for c in spec.columns]
        node["dcat:distribution"] = [_permit_distribution(facts, dataset_id, columns)]
        if facts.quality:
            node["dqv:hasQualityMeasurement"] = facts.quality
        node["dct:description"] = _en(text + (f" Withheld: {', '.join(notes)}." if notes else ""))
        out.append(node)
    return out


def _cohort_datasets(backend: Backend, facts: _Facts) -> list[dict[str, Any]]:
    from oncobase.cohorts import list_cohorts, read_build_record

    stats: dict[str, dict[str, Any]] = {}
    if backend.table_exists("cohort") and backend.table_exists("cohort_definition"):
        rows = backend.query_arrow(
            "SELECT d.cohort_definition_name AS name, count(c.subject_id) AS n, "
            "count(DISTINCT c.subject_id) AS persons, min(c.cohort_start_date) AS first, "
            "max(c.cohort_start_date) AS last FROM cohort_definition AS d "
            "LEFT JOIN cohort AS c ON c.cohort_definition_id = d.cohort_definition_id "
            "GROUP BY d.cohort_definition_name"
        ).to_pylist()
        stats = {r["name"]: r for r in rows}
    columns = [_variable_column(v) for v in VARIABLES]
    out: list[dict[str, Any]] = []
    for definition in list_cohorts():
        dataset_id = f"cohort-{definition.name}"
        node = _common(facts, dataset_id, public=False)
        node["dct:title"] = _en(f"National cohort: {definition.title}")
        node["dcat:keyword"] = [_en("cohort"), _en("poor-prognosis cancer"),
                                *(_en(s) for s in definition.reference_sites)]  # fmt: skip
        node["healthdcatap:populationCoverage"] = _en(definition.description)
        node["dct:provenance"] = {
            "@type": "dct:ProvenanceStatement",
            "rdfs:label": _en(
                f"Built by the OncoBase cohort compiler from the OMOP store with the built-in "
                f"definition {definition.name} v{definition.version} (hash "
                f"{definition.content_hash()[:12]}); attrition and build record kept in "
                "cohort_definition."
            ),
        }
        row = stats.get(definition.name)
        text = definition.description
        if row is None:
            text += " Not built yet: run the pipeline's cohorts step."
        else:
            notes = _with_counts(node, int(row["n"]), int(row["persons"]))
            if int(row["n"]) >= MIN_CELL:
                period = _month_span(row["first"], row["last"])
                if period:
                    node["dct:temporal"] = period
            if notes:
                text += f" Withheld: {', '.join(notes)}."
            record = read_build_record(backend, definition.name) or {}
            built = (record.get("build") or {}).get("built_at")
            if isinstance(built, str):
                try:
                    node["dct:modified"] = _datetime(dt.datetime.fromisoformat(built))
                except ValueError:
                    log.warning("cohort %s: unreadable built_at %r", definition.name, built)
        node["dct:description"] = _en(text)
        node["dct:spatial"] = _spatial(facts.departements)
        node["dcat:distribution"] = [_permit_distribution(facts, dataset_id, columns)]
        if facts.quality:
            node["dqv:hasQualityMeasurement"] = facts.quality
        out.append(node)
    return out


_STATS_TEXT = {
    "site_group": "Cancer site group (OncoBase site groups of ICD-10 codes).",
    "sex": "Sex: M or F.",
    "age_group": "Five-year age group at diagnosis (0-4 … 85+).",
    "year": "Year of diagnosis.",
    "departement": "Département of residence (INSEE code).",
    "cases": "Number of incident cases (cells under 11 suppressed when published).",
    "deaths": "Number of deaths in the group.",
    "time": "Time since diagnosis, in days.",
    "estimate": "Observed survival (Kaplan-Meier) at that time.",
    "std_err": "Standard error of the estimate.",
    "ci_lower": "Lower bound of the 95% confidence interval.",
    "ci_upper": "Upper bound of the 95% confidence interval.",
    "n_at_risk": "Persons still at risk at that time.",
}
# Where a column means something else in one table (the year of death, of the index date).
_STATS_TEXT_IN: dict[str, dict[str, str]] = {
    "stats__mortality": {
        "year": "Year of death.",
        "age_group": "Five-year age group at death (0-4 … 85+).",
        "deaths": "Deaths of registered cases (any cause; cells under 11 suppressed when "
        "published).",
    },
    "stats__prevalence": {
        "year": "Index year: persons alive on 31 December of that year are counted.",
        "duration": "Prevalence duration: diagnosed within the last 1, 5 or 10 years, or complete.",
        "age_group": "Five-year age group on the index date (0-4 … 85+).",
        "cases": "Prevalent cases (cells under 11 suppressed when published).",
    },
}
_STATS_STANDARDS = {
    "departement": "INSEE code officiel géographique",
    "sex": "ISO/IEC 5218-like M/F",
}


def _stats_datasets(backend: Backend, facts: _Facts) -> list[dict[str, Any]]:
    specs = (
        ("stats-incidence", "stats__incidence", "Registry statistics: incident cancer cases",
         "Incident cancer cases by site group, sex, five-year age group, year of diagnosis and "
         "département, computed from the store by the pipeline's stats step.",
         "/api/v1/open/incidence"),
        ("stats-survival", "stats__survival", "Registry statistics: observed survival",
         "Observed 1- and 5-year survival (Kaplan-Meier, 95% CI) by site group and sex, "
         "computed from the store by the pipeline's stats step.",
         "/api/v1/open/survival"),
        ("stats-mortality", "stats__mortality",
         "Registry statistics: deaths among registered cases",
         "Deaths of registered cancer cases (any cause: the INSEE death file has none) by "
         "site group, sex, five-year age group at death, year of death and département, "
         "computed from the store by the pipeline's stats step.",
         "/api/v1/open/mortality"),
        ("stats-prevalence", "stats__prevalence", "Registry statistics: prevalent cases",
         "Cancer cases alive on 31 December of each year, diagnosed within 1, 5 or 10 years "
         "or ever, by site group, sex, five-year age group, year and département, computed "
         "from the store by the pipeline's stats step.",
         "/api/v1/open/prevalence"),
    )  # fmt: skip
    loads = _last_loads(backend)
    out: list[dict[str, Any]] = []
    for dataset_id, table, title, text, path in specs:
        if not backend.table_exists(table):
            continue
        spec = table_spec(table)
        node = _common(facts, dataset_id, public=True)
        node["dct:title"] = _en(title)
        node["dct:description"] = _en(
            text + " Published through the open statistics API: counts under 11 are suppressed, "
            "with secondary suppression."
        )
        node["dcat:keyword"] = [_en("cancer statistics"), _en("registry"), _en(table)]
        node["healthdcatap:populationCoverage"] = _en(
            "Registered cancer cases of the persons in the store, France."
        )
        node["dct:provenance"] = {
            "@type": "dct:ProvenanceStatement",
            "rdfs:label": _en("Computed from the OMOP store by the OncoBase stats step."),
        }
        rows = backend.count_rows(table)
        node["healthdcatap:numberOfRecords"] = {
            "@value": str(rows), "@type": "xsd:nonNegativeInteger"}  # fmt: skip
        if "year" in spec.column_names:
            years = backend.query_arrow(
                f"SELECT min(year) AS first, max(year) AS last FROM {quote_ident(table)}"
            ).to_pylist()[0]
            if years["first"] is not None:
                node["dct:temporal"] = _month_span(
                    dt.date(int(years["first"]), 1, 1), dt.date(int(years["last"]), 12, 1)
                )
        codes = facts.stats_departements if "departement" in spec.column_names else []
        node["dct:spatial"] = _spatial(codes)
        if table in loads:
            node["dct:modified"] = _datetime(loads[table])
        columns = [
            _column(c.name, title=c.name,
                    description=_STATS_TEXT_IN.get(table, {}).get(
                        c.name, _STATS_TEXT.get(c.name, c.name)),
                    datatype=_CSVW_TYPES[c.type_class], standard=_STATS_STANDARDS.get(c.name))
            for c in spec.columns
        ]  # fmt: skip
        legislation = [_iri(x) for x in facts.options.applicable_legislation]
        api = f"{facts.base}{path}"
        node["dcat:distribution"] = [
            {
                "@id": f"{dataset_iri(facts.base, dataset_id)}#json",
                "@type": "dcat:Distribution",
                "dct:title": _en("Open statistics API (JSON)"),
                "dcat:accessURL": _iri(api),
                "dct:format": _iri(f"{FILE_TYPE}JSON"),
                "dcat:mediaType": _iri(f"{IANA}application/json"),
                "dcatap:applicableLegislation": legislation,
                "csvw:tableSchema": {"@type": "csvw:Schema", "csvw:column": columns},
            }
        ]
        if table == "stats__incidence":
            node["dcat:distribution"].append(
                {
                    "@id": f"{dataset_iri(facts.base, dataset_id)}#csv",
                    "@type": "dcat:Distribution",
                    "dct:title": _en("Open statistics API (CSV)"),
                    "dcat:accessURL": _iri(api),
                    "dcat:downloadURL": _iri(f"{api}?format=csv"),
                    "dct:format": _iri(f"{FILE_TYPE}CSV"),
                    "dcat:mediaType": _iri(f"{IANA}text/csv"),
                    "dcatap:applicableLegislation": legislation,
                }
            )
        if facts.quality:
            node["dqv:hasQualityMeasurement"] = facts.quality
        out.append(node)
    return out


def build_catalogue(
    backend: Backend,
    *,
    base_url: str,
    options: CatalogueOptions | None = None,
    now: dt.datetime | None = None,
) -> dict[str, Any]:
    """The catalogue of the store's shareable datasets, as a JSON-LD document (a dict)."""
    base = base_url.rstrip("/")
    if not is_absolute_iri(base) or not base.startswith(("http://", "https://")):
        raise CatalogueError(f"the public URL must be an absolute http(s) URL, not {base_url!r}")
    options = options or CatalogueOptions()
    now = now or dt.datetime.now(dt.UTC)
    facts = _Facts(
        base=base,
        options=options,
        departements=_departements(backend, _PERSON_DEPARTEMENTS, ("person", "location")),
        stats_departements=_departements(backend, _STATS_DEPARTEMENTS, ("stats__incidence",)),
        quality=_latest_quality(backend, base),
    )
    datasets = [
        *_omop_datasets(backend, facts),
        *_cohort_datasets(backend, facts),
        *_stats_datasets(backend, facts),
    ]
    if not datasets:
        raise CatalogueError("the store holds no table to describe: run `oncobase init` first")
    return {
        "@context": dict(CONTEXT),
        "@id": catalogue_iri(base),
        "@type": "dcat:Catalog",
        "dct:title": _en(options.title),
        "dct:description": _en(options.description),
        "dct:publisher": _agent(options.publisher_name, options.contact_email, base),
        "foaf:homepage": _iri(catalogue_iri(base)),
        "dct:language": [_iri(x) for x in LANGUAGES],
        "dct:spatial": [_iri(COUNTRY_FRANCE)],
        "dcat:themeTaxonomy": [_iri(THEME_TAXONOMY)],
        "dcatap:applicableLegislation": [_iri(x) for x in options.applicable_legislation],
        "dct:modified": _datetime(now),
        "dcat:dataset": datasets,
    }


# -- files ------------------------------------------------------------------------------------
def write_catalogue(doc: Mapping[str, Any], path: Path) -> Path:
    """Write the JSON-LD atomically (a reader never sees half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(doc, ensure_ascii=False, indent=1)
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=".catalogue-", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text + "\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def read_catalogue(path: Path) -> dict[str, Any] | None:
    """The JSON-LD the pipeline wrote, or None when absent or unreadable (logged)."""
    if not path.is_file():
        return None
    try:
        doc = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError) as exc:
        log.warning("catalogue file %s unreadable (%s): building it from the store", path, exc)
        return None
    return doc if isinstance(doc, dict) else None


def read_published_catalogue(home: Path, base_url: str) -> dict[str, Any] | None:
    """The file the pipeline wrote in ``<home>/share/catalogue.jsonld``, when it exists and was
    written for this public URL (its IRIs would be wrong otherwise); else None."""
    doc = read_catalogue(home / CATALOGUE_FILE)
    if doc is not None and doc.get("@id") == catalogue_iri(base_url):
        return doc
    return None


def load_catalogue(backend: Backend, *, home: Path, base_url: str) -> dict[str, Any]:
    """The published file (:func:`read_published_catalogue`), or the catalogue built now from
    the store (not written) when there is none for this public URL."""
    doc = read_published_catalogue(home, base_url)
    if doc is not None:
        return doc
    return build_catalogue(
        backend, base_url=base_url, options=read_catalogue_options(home / OPTIONS_FILE)
    )
