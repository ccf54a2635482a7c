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


def fingerprint_resource(name: str, *, backend: Backend, home: Path) -> str:
    """A string that changes when the resource changes."""
    kind, _, value = name.partition(":")
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
    if kind == "file":
        return resolve_file(value, home).exists()
    if kind == "package":
        return _package_path(value).exists()
    return backend.table_exists(value)


def fingerprint_inputs(inputs: tuple[str, ...], *, backend: Backend, home: Path, salt: str) -> str:
    """One hash over every input's fingerprint and the step's code version (``salt``)."""
    digest = hashlib.sha256(salt.encode())
    for name in sorted(inputs):
        digest.update(f"{name}={fingerprint_resource(name, backend=backend, home=home)}\n".encode())
    return digest.hexdigest()
