"""Fingerprints of step inputs, so that a step whose inputs did not change is skipped."""

from __future__ import annotations

import hashlib
from importlib import resources
from pathlib import Path

from oncobase.store import Backend, quote_ident

# Files above this size are fingerprinted by size and modification time, not content.
_CONTENT_HASH_LIMIT = 256 << 20


def _hash_file(path: Path) -> str:
    stat = path.stat()
    if stat.st_size > _CONTENT_HASH_LIMIT:
        return f"{stat.st_size}:{stat.st_mtime_ns}"
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _hash_tree(root: Path) -> str:
    if not root.exists():
        return "absent"
    if root.is_file():
        return _hash_file(root)
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(f"{path.relative_to(root)}={_hash_file(path)}\n".encode())
    return digest.hexdigest()


def _package_path(spec: str) -> Path:
    module, _, folder = spec.partition("/")
    return Path(str(resources.files(module).joinpath(folder)))


def resolve_file(spec: str, home: Path) -> Path:
    path = Path(spec)
    return path if path.is_absolute() else home / path


def _hash_operational_table(table: str, url: str | None) -> str:
    """Every row of a small operational-store table (e.g. the research opt-outs), hashed."""
    if not url:
        return "absent"
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
        return "absent"
    from sqlalchemy import create_engine, inspect, text

    engine = create_engine(url)
    try:
        if not inspect(engine).has_table(table):
            return "absent"
        with engine.connect() as connection:
            rows = connection.execute(text(f"SELECT * FROM {quote_ident(table)}"))
            lines = sorted(repr(tuple(r)) for r in rows)
        if not lines:
            return "absent"  # an empty table reads as no table
        return hashlib.sha256("\n".join(lines).encode()).hexdigest()
    finally:
        engine.dispose()


def fingerprint_resource(
    name: str, *, backend: Backend, home: Path, operational_url: str | None = None
) -> str:
    """A string that changes when the resource changes."""
    kind, _, value = name.partition(":")
    if kind == "operational":
        return _hash_operational_table(value, operational_url)
    if kind == "file":
        return _hash_tree(resolve_file(value, home))
    if kind == "package":
        return _hash_tree(_package_path(value))
    if not backend.table_exists(value):
        return "absent"
    rows = backend.count_rows(value)
    last = backend.scalar(
        "SELECT max(ended_at) FROM platform__loads WHERE target_table = $1 AND status = 'success'",
        (value,),
    )
    return f"{rows}:{last}:{quote_ident(value)}"


def resource_exists(name: str, *, backend: Backend, home: Path) -> bool:
    kind, _, value = name.partition(":")
    if kind == "operational":
        return True  # an operational table is optional: absent reads as empty
    if kind == "file":
        return resolve_file(value, home).exists()
    if kind == "package":
        return _package_path(value).exists()
    return backend.table_exists(value)


def fingerprint_inputs(
    inputs: tuple[str, ...],
    *,
    backend: Backend,
    home: Path,
    salt: str,
    operational_url: str | None = None,
) -> str:
    """One hash over every input's fingerprint and the step's code version (``salt``)."""
    digest = hashlib.sha256(salt.encode())
    for name in sorted(inputs):
        value = fingerprint_resource(
            name, backend=backend, home=home, operational_url=operational_url
        )
        digest.update(f"{name}={value}\n".encode())
    return digest.hexdigest()
