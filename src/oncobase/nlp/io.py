"""Reading report inputs and gold files for the CLI and tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from oncobase.errors import OncobaseError

__all__ = ["NlpError", "read_gold", "read_inputs"]


class NlpError(OncobaseError):
    """A pathology-extraction input that cannot be read."""


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _json_line(path: Path, number: int, line: bytes) -> Any:
    """One JSON Lines record; invalid UTF-8 is replaced (U+FFFD) rather than refused."""
    try:
        return orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        try:
            return orjson.loads(line.decode("utf-8", errors="replace"))
        except orjson.JSONDecodeError:
            raise NlpError(f"{path}:{number}: not JSON ({exc})") from None


def read_inputs(path: Path) -> list[tuple[str, str]]:
    """``(id, text)`` pairs from a ``.txt`` file, a folder of ``.txt`` or a JSON Lines file
    (objects with ``text`` and ``report_id`` or ``id``)."""
    if path.is_dir():
        files = sorted(path.glob("*.txt"))
        if not files:
            raise NlpError(f"No .txt report in {path}")
        return [(f.stem, _decode(f.read_bytes())) for f in files]
    if not path.exists():
        raise NlpError(f"No such file: {path}")
    if path.suffix in (".ndjson", ".jsonl", ".json"):
        out: list[tuple[str, str]] = []
        for number, line in enumerate(path.read_bytes().splitlines(), start=1):
            if not line.strip():
                continue
            row = _json_line(path, number, line)
            if not isinstance(row, dict) or not isinstance(row.get("text"), str):
                raise NlpError(f"{path}:{number}: an object with a 'text' string is expected")
            out.append((str(row.get("report_id") or row.get("id") or number), row["text"]))
        return out
    return [(path.stem, _decode(path.read_bytes()))]


def read_gold(path: Path) -> dict[str, dict[str, Any]]:
    """Gold objects by id from JSON Lines (``report_id``/``id`` and the keys, or ``gold``)."""
    out: dict[str, dict[str, Any]] = {}
    for number, line in enumerate(path.read_bytes().splitlines(), start=1):
        if not line.strip():
            continue
        row = _json_line(path, number, line)
        if not isinstance(row, dict):
            raise NlpError(f"{path}:{number}: a JSON object is expected")
        key = str(row.get("report_id") or row.get("id") or number)
        out[key] = dict(row["gold"]) if isinstance(row.get("gold"), dict) else row
    return out
