"""Reading cohort definitions: built-in names or YAML files, errors naming field and line."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from oncobase.cohorts.errors import CohortError
from oncobase.cohorts.spec import CohortDefinition


def _node_at(node: yaml.Node, loc: tuple[int | str, ...]) -> yaml.Node:
    """The deepest YAML node along a pydantic error location (discriminator tags skipped)."""
    current = node
    for key in loc:
        if isinstance(current, yaml.MappingNode) and isinstance(key, str):
            found = next(
                (v for k, v in current.value if isinstance(k, yaml.ScalarNode) and k.value == key),
                None,
            )
            if found is None:
                continue  # a union tag ("age") or a missing field: stay on the parent
            current = found
        elif isinstance(current, yaml.SequenceNode) and isinstance(key, int):
            if key >= len(current.value):
                break
            current = current.value[key]
    return current


def _field_path(loc: tuple[int | str, ...], data: Any) -> str:
    """``inclusion[2].window`` from a pydantic location, without the union tags."""
    parts: list[str] = []
    current = data
    for key in loc:
        if isinstance(key, int):
            parts.append(f"[{key}]")
            current = current[key] if isinstance(current, list) and key < len(current) else None
        elif isinstance(current, dict) and key in current:
            parts.append(f".{key}" if parts else key)
            current = current[key]
        elif isinstance(current, dict) and current.get("type") == key:
            continue
        else:
            parts.append(f".{key}" if parts else key)
            current = None
    return "".join(parts) or "(top level)"


def parse_cohort_yaml(text: str, *, origin: str = "<string>") -> CohortDefinition:
    """A definition from YAML text; :class:`CohortError` names the field and the line."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else "?"
        raise CohortError(f"{origin}, line {line}: bad YAML: {exc.problem or exc}") from None
    if root is None or not isinstance(data, dict):
        raise CohortError(f"{origin}, line 1: a cohort definition must be a YAML mapping")
    try:
        return CohortDefinition.model_validate(data)
    except ValidationError as exc:
        messages = []
        for error in exc.errors():
            loc = tuple(error["loc"])
            node = _node_at(root, loc)
            field = _field_path(loc, data)
            msg = str(error["msg"]).removeprefix("Value error, ")
            messages.append(f"{origin}, line {node.start_mark.line + 1}: field '{field}': {msg}")
        raise CohortError("invalid cohort definition:\n" + "\n".join(messages)) from None


def _library_dir() -> Any:
    return resources.files("oncobase.cohorts").joinpath("library")


def builtin_names() -> list[str]:
    """Names of the built-in cohorts (``library/<name>.yaml``), sorted."""
    return sorted(
        p.name.removesuffix(".yaml")
        for p in _library_dir().iterdir()
        if p.name.endswith(".yaml") and not p.name.startswith("_")
    )


def list_cohorts() -> list[CohortDefinition]:
    """Every built-in cohort definition, by name."""
    return [load_cohort(name) for name in builtin_names()]


def load_cohort(name_or_path: str | Path) -> CohortDefinition:
    """A built-in cohort by name, or a user's YAML file by path."""
    text_name = str(name_or_path)
    path = Path(text_name)
    if text_name.endswith((".yaml", ".yml")) or path.is_file():
        if not path.is_file():
            raise CohortError(f"cohort definition file {path} not found")
        return parse_cohort_yaml(path.read_text("utf-8"), origin=str(path))
    resource = _library_dir().joinpath(f"{text_name}.yaml")
    if not resource.is_file():
        known = ", ".join(builtin_names())
        raise CohortError(f"no built-in cohort named {text_name!r}; built-in: {known}")
    return parse_cohort_yaml(resource.read_text("utf-8"), origin=f"library/{text_name}.yaml")
