"""Reading a catalogue: one dataset as a JSON-LD document, the pages' view of a dataset, and
the server-side search over titles, descriptions, keywords, themes and variables."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from oncobase.share.catalogue import (
    ACCESS_LABELS,
    ACCESS_RIGHTS,
    CONTEXT,
    COUNTRY_FRANCE,
    LEGAL_LABELS,
    THEME_LABELS,
)

_ID = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


def dataset_id_of(node: Mapping[str, Any]) -> str:
    return str(node.get("@id", "")).rsplit("/catalogue/datasets/", 1)[-1]


def find_dataset(doc: Mapping[str, Any], dataset_id: str) -> dict[str, Any] | None:
    """One dataset with the catalogue's @context (a JSON-LD document of its own), or None."""
    if not _ID.fullmatch(dataset_id):
        return None
    for node in doc.get("dcat:dataset", []):
        if dataset_id_of(node) == dataset_id:
            return {"@context": doc.get("@context", CONTEXT), **node}
    return None


def _text(value: Any) -> str:
    if isinstance(value, list):
        return " ".join(_text(v) for v in value)
    if isinstance(value, dict):
        return str(value.get("@value", value.get("@id", "")))
    return "" if value is None else str(value)


def _list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


@dataclass(frozen=True, kw_only=True)
class DatasetView:
    """What the pages show of one dataset (plain values read from its JSON-LD)."""

    id: str
    iri: str
    title: str
    description: str
    kind: str
    access: str
    access_label: str
    public: bool
    records: int | None
    individuals: int | None
    start: str | None
    end: str | None
    places: list[str]
    modified: str | None
    themes: list[str]
    keywords: list[str]
    population: str
    legal_basis: list[str]
    variables: list[dict[str, str]]
    quality: list[dict[str, str]]
    distributions: list[dict[str, str]]


def _int(value: Any) -> int | None:
    text = _text(value)
    return int(text) if text.isdigit() else None


def dataset_view(node: Mapping[str, Any]) -> DatasetView:
    """The page's view of a dataset node."""
    dataset_id = dataset_id_of(node)
    access = _text(node.get("dct:accessRights"))
    temporal = node.get("dct:temporal") or {}
    places = []
    for place in _list(node.get("dct:spatial")):
        label = _text(place.get("skos:prefLabel")) if isinstance(place, dict) else ""
        if label:
            places.append(f"{place.get('skos:notation', '')} {label}".strip())
        elif _text(place) == COUNTRY_FRANCE:
            places.append("France")
    variables: list[dict[str, str]] = []
    distributions: list[dict[str, str]] = []
    for dist in _list(node.get("dcat:distribution")):
        distributions.append(
            {
                "title": _text(dist.get("dct:title")),
                "url": _text(dist.get("dcat:downloadURL") or dist.get("dcat:accessURL")),
                "format": _text(dist.get("dct:format")).rsplit("/", 1)[-1],
                "description": _text(dist.get("dct:description")),
            }
        )
        schema = dist.get("csvw:tableSchema") or {}
        for col in _list(schema.get("csvw:column")):
            if any(v["name"] == col.get("csvw:name") for v in variables):
                continue
            variables.append(
                {
                    "name": _text(col.get("csvw:name")),
                    "title": _text(col.get("csvw:titles")),
                    "description": _text(col.get("dct:description")),
                    "datatype": _text(col.get("csvw:datatype")),
                    "standard": _text((col.get("dct:conformsTo") or {}).get("dct:title")),
                }
            )
    quality = [
        {
            "metric": _text(m.get("dqv:isMeasurementOf", {}).get("skos:prefLabel")),
            "value": _text(m.get("dqv:value")),
            "note": _text(m.get("rdfs:comment")),
            "when": _text(m.get("prov:generatedAtTime")),
        }
        for m in _list(node.get("dqv:hasQualityMeasurement"))
    ]
    legal = []
    for basis in _list(node.get("dpv:hasLegalBasis")):
        text = _text(basis.get("dct:description")) if "@type" in basis else _text(basis)
        legal.append(LEGAL_LABELS.get(text, text))
    kind = {"omop": "OMOP table", "cohort": "National cohort", "stats": "Statistics"}.get(
        dataset_id.split("-", 1)[0], "Dataset"
    )
    return DatasetView(
        id=dataset_id,
        iri=str(node.get("@id", "")),
        title=_text(node.get("dct:title")),
        description=_text(node.get("dct:description")),
        kind=kind,
        access=access.rsplit("/", 1)[-1],
        access_label=ACCESS_LABELS.get(access, access),
        public=access == ACCESS_RIGHTS["PUBLIC"],
        records=_int(node.get("healthdcatap:numberOfRecords")),
        individuals=_int(node.get("healthdcatap:numberOfUniqueIndividuals")),
        start=_text(temporal.get("dcat:startDate")) or None,
        end=_text(temporal.get("dcat:endDate")) or None,
        places=places,
        modified=_text(node.get("dct:modified")) or None,
        themes=[THEME_LABELS.get(_text(t), _text(t)) for t in _list(node.get("dcat:theme"))],
        keywords=[_text(k) for k in _list(node.get("dcat:keyword"))],
        population=_text(node.get("healthdcatap:populationCoverage")),
        legal_basis=legal,
        variables=variables,
        quality=quality,
        distributions=distributions,
    )


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def search_catalogue(doc: Mapping[str, Any], query: str = "") -> list[DatasetView]:
    """The datasets whose title, description, keywords, themes or variables hold every word of
    ``query`` (case and accents ignored), in catalogue order; all of them for an empty query."""
    words = _fold(query[:200]).split()
    found: list[DatasetView] = []
    for node in doc.get("dcat:dataset", []):
        view = dataset_view(node)
        haystack = _fold(
            " ".join(
                [view.title, view.description, view.kind, view.population, *view.keywords,
                 *view.themes, *(" ".join(v.values()) for v in view.variables)]
            )
        )  # fmt: skip
        if all(w in haystack for w in words):
            found.append(view)
    return found
