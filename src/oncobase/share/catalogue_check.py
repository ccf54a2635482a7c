"""Validation of the catalogue's JSON-LD: the JSON Schema derived from DCAT-AP 3.0 and
HealthDCAT-AP (``schema/healthdcat_ap.schema.json``, whose ``$comment`` cites the sections each
constraint comes from; it is derived, not the official SHACL), plus the JSON-LD rules a schema
cannot express: an inline ``@context``, every property a known compact IRI, every ``@id`` an
absolute IRI, every ``xsd:date`` / ``xsd:dateTime`` literal a real date."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping
from functools import cache
from importlib import resources
from typing import Any
from urllib.parse import urlsplit

from jsonschema import Draft202012Validator  # type: ignore[import-untyped]

from oncobase.errors import OncobaseError

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
_KEYWORDS = frozenset({"@context", "@id", "@type", "@value", "@language", "@list", "@graph"})


class CatalogueError(OncobaseError, ValueError):
    """The catalogue cannot be built, read or validated (the message says what to fix)."""


# -- the checks -------------------------------------------------------------------------------
@cache
def load_schema() -> dict[str, Any]:
    """The JSON Schema derived from DCAT-AP 3.0 and HealthDCAT-AP (see its ``$comment``)."""
    text = (
        resources.files("oncobase.share")
        .joinpath("schema", "healthdcat_ap.schema.json")
        .read_text("utf-8")
    )
    schema: dict[str, Any] = json.loads(text)
    Draft202012Validator.check_schema(schema)
    return schema


def is_absolute_iri(value: str) -> bool:
    if not value or any(c.isspace() for c in value) or value.startswith("_:"):
        return False
    parts = urlsplit(value)
    if parts.scheme in ("http", "https"):
        return bool(parts.netloc)
    if parts.scheme == "mailto":
        return "@" in parts.path
    return parts.scheme == "urn" and ":" in parts.path


def _where(path: list[str | int]) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path) or "(top level)"


def _check_value(node: Mapping[str, Any], path: list[str | int], errors: list[str]) -> None:
    value, kind = node.get("@value"), node.get("@type")
    if "@language" in node and kind is not None:
        errors.append(f"{_where(path)}: a literal cannot have both @language and @type")
    if not isinstance(value, str | int | float | bool):
        errors.append(f"{_where(path)}: @value must be a string, number or boolean")
        return
    text = str(value)
    if kind == "xsd:date":
        ok = bool(_DATE.fullmatch(text))
        if ok:
            try:
                dt.date.fromisoformat(text)
            except ValueError:
                ok = False
        if not ok:
            errors.append(f"{_where(path)}: {text!r} is not an xsd:date (YYYY-MM-DD)")
    elif kind == "xsd:dateTime":
        ok = bool(_DATETIME.fullmatch(text))
        if ok:
            try:
                dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
            except ValueError:
                ok = False
        if not ok:
            errors.append(
                f"{_where(path)}: {text!r} is not an xsd:dateTime with a time zone "
                "(YYYY-MM-DDThh:mm:ss+hh:mm)"
            )


def _check_jsonld(doc: Any) -> list[str]:
    """JSON-LD rules the schema cannot say: inline context, known prefixes, absolute IRIs,
    real dates."""
    errors: list[str] = []
    if not isinstance(doc, dict):
        return ["(top level): a JSON-LD document must be a JSON object"]
    context = doc.get("@context")
    if not isinstance(context, dict):
        return ["@context: must be an inline object (no remote context is fetched)"]
    for prefix, iri in context.items():
        if not isinstance(iri, str) or not is_absolute_iri(iri):
            errors.append(f"@context.{prefix}: must map to an absolute IRI")
    prefixes = set(context)

    def known_term(term: str) -> bool:
        prefix, sep, local = term.partition(":")
        return bool(sep and local and prefix in prefixes) or is_absolute_iri(term)

    def walk(item: Any, path: list[str | int]) -> None:
        if isinstance(item, list):
            for i, x in enumerate(item):
                walk(x, [*path, i])
            return
        if not isinstance(item, dict):
            return
        for key in item:
            here = [*path, key]
            if key.startswith("@"):
                if key not in _KEYWORDS:
                    errors.append(f"{_where(here)}: unknown JSON-LD keyword {key}")
                if key == "@context" and path:
                    errors.append(f"{_where(here)}: only the top level carries the @context")
            elif not known_term(key):
                errors.append(f"{_where(here)}: property {key!r} has no prefix in the @context")
        if "@id" in item and not (isinstance(item["@id"], str) and is_absolute_iri(item["@id"])):
            errors.append(f"{_where([*path, '@id'])}: {item['@id']!r} is not an absolute IRI")
        if "@value" in item:
            _check_value(item, path, errors)
        else:
            types = item.get("@type", [])
            for t in types if isinstance(types, list) else [types]:
                if not (isinstance(t, str) and known_term(t)):
                    errors.append(f"{_where([*path, '@type'])}: {t!r} is not a known type IRI")
        for key, value in item.items():
            if key != "@context":
                walk(value, [*path, key])

    walk(doc, [])
    return errors


def validate_catalogue(doc: Any) -> list[str]:
    """Every problem of the document (empty when valid): the derived JSON Schema, then the
    JSON-LD rules (inline context, absolute IRIs, xsd:date/xsd:dateTime literals)."""
    validator = Draft202012Validator(load_schema())
    errors = [
        f"{_where(list(e.absolute_path))}: {e.message}"
        for e in sorted(validator.iter_errors(doc), key=lambda e: [str(p) for p in e.absolute_path])
    ]
    return errors + _check_jsonld(doc)


def check_catalogue(doc: Any) -> None:
    """Raise CatalogueError listing the first problems when the document is not valid."""
    errors = validate_catalogue(doc)
    if errors:
        shown = "\n".join(errors[:20])
        more = f"\n… and {len(errors) - 20} more" if len(errors) > 20 else ""
        raise CatalogueError(f"the catalogue is not valid HealthDCAT-AP JSON-LD:\n{shown}{more}")
