"""Key files of the home folder (``<home>/keys/``): created once, 0600, never logged.

One place for every secret key: the identity vault's, the pseudonym HMAC key, the
quarantine's. Back the folder up: losing a key loses what it protects.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from oncobase.config import Settings
from oncobase.errors import ConfigError

KEY_BYTES = 32


def key_path(settings: Settings, name: str = "vault.key") -> Path:
    return settings.home_path / "keys" / name


def _write_key(path: Path) -> bytes:
    key = secrets.token_bytes(KEY_BYTES)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.parent.chmod(0o700)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(key)
    return key


def _read_key(path: Path) -> bytes:
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        raise ConfigError(
            f"The key file {path.name} is readable by other users (mode {mode:o}); "
            "run `chmod 600` on it"
        )
    key = path.read_bytes()
    if len(key) != KEY_BYTES:
        raise ConfigError(f"The key file {path.name} is damaged (wrong length); restore it")
    return key


def ensure_key(settings: Settings, name: str) -> bytes:
    """The key ``<home>/keys/<name>``, created (0600) on first use."""
    settings.ensure_home()
    path = key_path(settings, name)
    if path.exists():
        return _read_key(path)
    try:
        return _write_key(path)
    except FileExistsError:  # created meanwhile by another process
        return _read_key(path)


def read_or_create_hex_key(path: Path) -> bytes:
    """A 32-byte secret kept as hex text in ``path``, created (mode 0600) on first use."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return bytes.fromhex(path.read_text().strip())
        with os.fdopen(descriptor, "w") as handle:
            handle.write(secrets.token_hex(KEY_BYTES))
    return bytes.fromhex(path.read_text().strip())
