"""The INSEE death file ("fichier des personnes décédées"), fixed width, column at a time.

Layout (1-based positions, each line ``LINE_LENGTH`` characters):

| positions | field |
| --- | --- |
| 1-80 | ``NOM*PRENOMS/`` (birth name, ``*``, first names, ``/``) |
| 81 | sex: 1 male, 2 female |
| 82-89 | birth date AAAAMMJJ (``00`` for an unknown month or day) |
| 90-94 | birth place code (INSEE commune, or 99 + country code) |
| 95-124 | birth commune name |
| 125-154 | birth country name (blank for France) |
| 155-162 | death date AAAAMMJJ |
| 163-167 | death place code |
| 168-176 | death certificate number |

Every death becomes an identity record (for linkage) and a staged ``death`` row. Lines of the
wrong length, not decodable, or with an impossible death date are quarantined.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from oncobase.config import Settings
from oncobase.ingest.quarantine import IngestError, Quarantine
from oncobase.ingest.staging import write_identity, write_load_summary, write_staged

LINE_LENGTH = 176
FIELDS: dict[str, tuple[int, int]] = {
    "name": (1, 80),
    "sex": (81, 81),
    "birth_date": (82, 89),
    "birth_place": (90, 94),
    "birth_commune_name": (95, 124),
    "birth_country": (125, 154),
    "death_date": (155, 162),
    "death_place": (163, 167),
    "certificate": (168, 176),
}
DEATH_CERTIFICATE_TYPE = 32815  # Type Concept "Death Certificate"
SOURCE = "INSEE"


@dataclass(kw_only=True)
class StageCounts:
    """What a reader read, accepted and rejected (read = accepted + quarantined)."""

    source: str
    files: dict[str, str] = field(default_factory=dict)  # path -> sha256
    read: int = 0
    accepted: int = 0
    quarantined: int = 0
    by_reason: dict[str, int] = field(default_factory=dict)
    staged: dict[str, int] = field(default_factory=dict)
    quarantine: Quarantine | None = None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _read_lines(path: Path, quarantine: Quarantine) -> tuple[pa.Array, pa.Array]:
    """Decoded lines and their 1-based line numbers; undecodable lines are quarantined.

    The whole file is decoded at once; only when that fails are lines checked one by one to
    find the bad ones (the rare path).
    """
    raw = path.read_bytes()
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError:
        text = None
    if text is not None:
        lines: list[str | None] = list(text.split("\n"))
    else:
        lines = []
        for index, line in enumerate(raw.split(b"\n")):
            try:
                lines.append(line.decode("ascii"))
            except UnicodeDecodeError:
                lines.append(None)
                quarantine.add(
                    file=path,
                    location=f"line {index + 1}",
                    reason="bad-encoding: not ASCII",
                    raw=line,
                )
    if lines and lines[-1] == "":
        lines.pop()
    array = pc.replace_substring_regex(pa.array(lines, pa.string()), "\r$", "")
    numbers = pa.array(range(1, len(lines) + 1), pa.int64())
    # Blank lines are not records: they are skipped, not counted.
    blank = pc.fill_null(pc.equal(pc.utf8_trim_whitespace(array), ""), False)
    keep = pc.invert(blank)
    return pc.filter(array, keep), pc.filter(numbers, keep)


def _field(lines: pa.Array, name: str) -> pa.Array:
    start, end = FIELDS[name]
    return pc.utf8_trim_whitespace(pc.utf8_slice_codeunits(lines, start - 1, end))


def _parse_date(text: pa.Array) -> pa.Array:
    """AAAAMMJJ → date (null when impossible)."""
    return pc.cast(pc.strptime(text, format="%Y%m%d", unit="s", error_is_null=True), pa.date32())


def read_death_file(path: Path, quarantine: Quarantine) -> pa.Table:
    """Parse one death file: one row per accepted line (rejects go to ``quarantine``)."""
    lines, numbers = _read_lines(path, quarantine)
    decoded = pc.is_valid(lines)
    lengths = pc.utf8_length(lines)
    right_length = pc.fill_null(pc.equal(lengths, LINE_LENGTH), False)
    death_date = _parse_date(_field(lines, "death_date"))
    name = _field(lines, "name")
    has_name = pc.fill_null(pc.match_substring_regex(name, r"^[^*]+\*[^/]*/$"), False)
    sex = _field(lines, "sex")
    good_sex = pc.fill_null(pc.is_in(sex, value_set=pa.array(["1", "2"])), False)
    checks = (
        (pc.and_(decoded, pc.invert(right_length)), "bad-length: line is not 176 characters"),
        (pc.and_(right_length, pc.is_null(death_date)), "bad-date: death date is not AAAAMMJJ"),
        (pc.and_(right_length, pc.invert(has_name)), "bad-name: expected NOM*PRENOMS/"),
        (pc.and_(right_length, pc.invert(good_sex)), "bad-sex: sex must be 1 or 2"),
    )
    rejected = pc.invert(decoded)
    for mask, reason in checks:
        new = pc.and_(mask, pc.invert(rejected))
        if pc.any(new).as_py():
            idx = pc.indices_nonzero(new)
            for line_no, raw in zip(
                pc.take(numbers, idx).to_pylist(), pc.take(lines, idx).to_pylist(), strict=True
            ):
                quarantine.add(file=path, location=f"line {line_no}", reason=reason, raw=raw)
            rejected = pc.or_(rejected, new)
    keep = pc.invert(rejected)
    lines = pc.filter(lines, keep)
    birth_raw = _field(lines, "birth_date")
    year = pc.utf8_slice_codeunits(birth_raw, 0, 4)
    month = pc.utf8_slice_codeunits(birth_raw, 4, 6)
    day = pc.utf8_slice_codeunits(birth_raw, 6, 8)
    iso = pc.binary_join_element_wise(year, month, day, "-")
    full = pc.fill_null(pc.is_valid(_parse_date(birth_raw)), False)
    name = _field(lines, "name")
    parts = pc.split_pattern(pc.utf8_rtrim(name, characters="/"), "*", max_splits=1)
    death_date = _parse_date(_field(lines, "death_date"))
    death_place = _field(lines, "death_place")
    certificate = _field(lines, "certificate")
    local_id = pc.binary_join_element_wise(
        pc.strftime(death_date, format="%Y%m%d"), death_place, certificate, "-"
    )
    return pa.table(
        {
            "local_id": local_id,
            "birth_name": pc.list_element(parts, 0),
            "first_names": pc.list_element(parts, 1),
            "sex": pc.if_else(pc.equal(_field(lines, "sex"), "1"), "M", "F"),
            # an unknown day or month (00) keeps the partial date as written
            "birth_date": pc.if_else(full, iso, pc.replace_substring(iso, "-00", "")),
            "birth_place_code": _field(lines, "birth_place"),
            "death_date": death_date,
            "death_place": death_place,
        }
    )


def stage_death_files(
    paths: list[Path], *, settings: Settings, source: str = SOURCE
) -> StageCounts:
    """Read INSEE death files into the staging area (identity + staged ``death`` rows)."""
    if not paths:
        raise IngestError("No death file given: pass deces-YYYY.txt files or their folder")
    quarantine = Quarantine(source=source)
    counts = StageCounts(source=source)
    tables: list[pa.Table] = []
    for path in sorted(paths):
        counts.files[str(path)] = _sha256(path)
        before = len(quarantine)
        table = read_death_file(path, quarantine)
        tables.append(table)
        counts.read += table.num_rows + len(quarantine) - before
    deaths = pa.concat_tables(tables)
    # The same death listed twice (e.g. in two yearly files) is kept once.
    unique = deaths.group_by("local_id").aggregate([]).column("local_id")
    first = pc.index_in(unique, value_set=deaths.column("local_id"))
    duplicates = deaths.num_rows - len(unique)
    deaths = deaths.take(first)
    counts.accepted = deaths.num_rows
    counts.quarantined = len(quarantine)
    counts.by_reason = quarantine.by_reason()
    counts.quarantine = quarantine
    if duplicates:
        counts.by_reason["duplicate-line (kept once)"] = duplicates
    n = deaths.num_rows
    identity = pa.table(
        {
            "record_id": pc.binary_join_element_wise(source, deaths.column("local_id"), ":"),
            "source": pa.array([source] * n),
            "source_kind": pa.array(["deaths"] * n),
            "local_id": deaths.column("local_id"),
            "birth_name": deaths.column("birth_name"),
            "last_name": deaths.column("birth_name"),
            "first_names": deaths.column("first_names"),
            "sex": deaths.column("sex"),
            "birth_date": deaths.column("birth_date"),
            "birth_place_code": deaths.column("birth_place_code"),
        }
    )
    write_identity(settings, source, identity)
    death_rows = pa.table(
        {
            "local_patient_id": deaths.column("local_id"),
            "record_key": deaths.column("local_id"),
            "death_date": deaths.column("death_date"),
            "death_type_concept_id": pa.array([DEATH_CERTIFICATE_TYPE] * n, pa.int64()),
        }
    )
    counts.staged = write_staged(settings, source, {"death": death_rows})
    write_load_summary(
        settings,
        source,
        {
            "source": source,
            "kind": "deaths",
            "files": counts.files,
            "read": counts.read,
            "accepted": counts.accepted,
            "quarantined": counts.quarantined,
            "by_reason": counts.by_reason,
            "staged": counts.staged,
            "closing_date": _closing(deaths),
        },
    )
    return counts


def _closing(deaths: pa.Table) -> str | None:
    """The file's closing date: its latest death date."""
    if deaths.num_rows == 0:
        return None
    latest = pc.max(deaths.column("death_date")).as_py()
    return latest.isoformat() if isinstance(latest, dt.date) else None
