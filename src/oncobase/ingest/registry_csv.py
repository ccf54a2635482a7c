"""Cancer-registry CSV extracts: one row per tumour, any registry's layout.

Delimiter (``,`` ``;`` tab ``|``) and encoding (UTF-8, else Latin-1) are sniffed; columns
are named through a mapping file (``data/registry_mapping_fr.toml`` is the default and the
documentation of the canonical fields). Rows with the wrong number of fields, no patient id,
an impossible incidence date or malformed ICD-O-3 codes are quarantined; the rest is staged:
identity for linkage, ``person``, ``condition_occurrence`` (one per tumour) and the stage as
a cancer-modifier ``measurement`` pointing at its diagnosis.
"""

from __future__ import annotations

import csv
import hashlib
import io
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from oncobase.config import Settings
from oncobase.ingest.deaths import StageCounts
from oncobase.ingest.quarantine import IngestError, Quarantine
from oncobase.ingest.staging import write_identity, write_load_summary, write_staged
from oncobase.vocab import convert_icdo3_to_icd10_arrays

REGISTRY_TYPE = 32879  # Type Concept "Registry"
MALE, FEMALE = 8507, 8532
REQUIRED = ("patient_id", "incidence_date", "topography", "morphology")
CANONICAL_FIELDS = (
    "registry",
    "patient_id",
    "tumour_number",
    "family_name",
    "birth_name",
    "first_names",
    "sex",
    "birth_date",
    "birth_place_code",
    "postcode",
    "commune",
    "nir",
    "incidence_date",
    "topography",
    "morphology",
    "behaviour",
    "grade",
    "basis_of_diagnosis",
    "stage",
    "tnm",
    "icd10",
)
_TOPOGRAPHY = r"^C[0-9]{2}\.?[0-9]$"
_MORPHOLOGY = r"^[0-9]{4}(/[0-9])?$"


@dataclass(frozen=True, kw_only=True)
class RegistryMapping:
    """Canonical field → column of the extract, and optional dialect settings."""

    columns: dict[str, str]
    delimiter: str | None = None
    encoding: str | None = None
    date_formats: tuple[str, ...] = ("%Y-%m-%d", "%d/%m/%Y", "%Y%m%d")


def read_mapping(path: Path | None = None) -> RegistryMapping:
    """The mapping file at ``path``, or the default French layout."""
    try:
        if path is None:
            text = resources.files("oncobase.ingest").joinpath("data", "registry_mapping_fr.toml")
            data: dict[str, Any] = tomllib.loads(text.read_text("utf-8"))
        else:
            data = tomllib.loads(Path(path).read_text("utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise IngestError(f"Cannot read the registry mapping file {path}: {exc}") from None
    columns = {str(k): str(v) for k, v in data.get("columns", {}).items()}
    missing = [f for f in REQUIRED if f not in columns]
    if missing:
        raise IngestError(f"The mapping file {path} does not name the column(s) {missing}")
    return RegistryMapping(
        columns=columns,
        delimiter=data.get("delimiter"),
        encoding=data.get("encoding"),
        date_formats=tuple(data.get("date_formats", RegistryMapping.date_formats)),
    )


def _sniff(raw: bytes, mapping: RegistryMapping) -> tuple[str, str]:
    encoding = mapping.encoding
    if encoding is None:
        try:
            raw.decode("utf-8")
            encoding = "utf-8"
        except UnicodeDecodeError:
            encoding = "latin-1"
    head = raw[:65536].decode(encoding, errors="replace")
    delimiter = mapping.delimiter
    if delimiter is None:
        try:
            delimiter = csv.Sniffer().sniff(head.split("\n", 1)[0], delimiters=",;\t|").delimiter
        except csv.Error:
            delimiter = ","
    return encoding, delimiter


def _parse_dates(values: pa.ChunkedArray | pa.Array, formats: tuple[str, ...]) -> pa.Array:
    """Dates in any of ``formats``; impossible dates (30 February) are null, not rolled over."""
    text = pc.utf8_trim_whitespace(pc.cast(values, pa.string()))
    result = pa.nulls(len(text), pa.date32())
    for fmt in formats:
        parsed = pc.cast(pc.strptime(text, format=fmt, unit="s", error_is_null=True), pa.date32())
        exact = pc.equal(pc.strftime(parsed, format=fmt), text)
        result = pc.coalesce(result, pc.if_else(exact, parsed, pa.scalar(None, pa.date32())))
    return result


def read_registry_csv(
    path: Path, *, mapping: RegistryMapping, quarantine: Quarantine
) -> tuple[pa.Table, int]:
    """Rows of one extract with canonical column names (text), and the number of rows read."""
    raw = path.read_bytes()
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    if not raw.strip():
        empty = {name: pa.array([], pa.string()) for name in CANONICAL_FIELDS}
        return pa.table({**empty, "_line": pa.array([], pa.int64())}), 0
    encoding, delimiter = _sniff(raw, mapping)
    text = raw.decode(encoding, errors="replace").replace("\r\n", "\n").encode("utf-8")
    bad_rows: list[tuple[int, str]] = []

    def on_invalid(row: pacsv.InvalidRow) -> str:
        bad_rows.append((row.number or 0, row.text))
        return "skip"

    try:
        table = pacsv.read_csv(
            io.BytesIO(text),
            read_options=pacsv.ReadOptions(use_threads=False, block_size=16 << 20),
            parse_options=pacsv.ParseOptions(delimiter=delimiter, invalid_row_handler=on_invalid),
            convert_options=pacsv.ConvertOptions(
                column_types={},
                strings_can_be_null=False,
                auto_dict_encode=False,
                include_missing_columns=True,
                include_columns=None,
            ),
        )
    except pa.ArrowInvalid as exc:
        raise IngestError(f"{path}: not a readable CSV file ({str(exc).splitlines()[0]})") from None
    for number, row_text in bad_rows:
        quarantine.add(
            file=path,
            location=f"line {number}",
            reason="bad-row: wrong number of fields",
            raw=row_text,
        )
    absent = [
        c for f, c in mapping.columns.items() if f in REQUIRED and c not in table.column_names
    ]
    if absent:
        raise IngestError(
            f"{path}: column(s) {absent} not found (header has {table.column_names[:30]}); "
            "give a mapping file with --mapping"
        )
    canonical = {
        name: pc.cast(table.column(column), pa.string())
        if column in table.column_names
        else pa.nulls(table.num_rows, pa.string())
        for name, column in mapping.columns.items()
    }
    for name in CANONICAL_FIELDS:  # fields the mapping does not name are unknown
        canonical.setdefault(name, pa.nulls(table.num_rows, pa.string()))
    # Line numbers of the accepted rows: the header is line 1; skipped rows shift the rest.
    skipped = sorted(n for n, _ in bad_rows)
    numbers = []
    next_line, k = 2, 0
    for _ in range(table.num_rows):
        while k < len(skipped) and skipped[k] == next_line:
            next_line += 1
            k += 1
        numbers.append(next_line)
        next_line += 1
    canonical["_line"] = pa.array(numbers, pa.int64())
    return pa.table(canonical), table.num_rows + len(bad_rows)


def _validate(
    rows: pa.Table, *, path: Path, mapping: RegistryMapping, quarantine: Quarantine
) -> pa.Table:
    def blank(name: str) -> pa.Array:
        return pc.or_(pc.is_null(rows[name]), pc.equal(pc.utf8_trim_whitespace(rows[name]), ""))

    incidence = _parse_dates(rows["incidence_date"], mapping.date_formats)
    topo = pc.utf8_upper(pc.utf8_trim_whitespace(rows["topography"]))
    morph = pc.utf8_trim_whitespace(rows["morphology"])
    checks = (
        (blank("patient_id"), "missing-element: no patient id"),
        (pc.is_null(incidence), "bad-date: incidence date is missing or not a date"),
        (
            pc.invert(pc.fill_null(pc.match_substring_regex(topo, _TOPOGRAPHY), False)),
            "bad-code: topography is not ICD-O-3 (Cxx.x)",
        ),
        (
            pc.invert(pc.fill_null(pc.match_substring_regex(morph, _MORPHOLOGY), False)),
            "bad-code: morphology is not ICD-O-3 (dddd)",
        ),
    )
    rejected = pa.array([False] * rows.num_rows, pa.bool_())
    for mask, reason in checks:
        new = pc.and_(pc.fill_null(mask, True), pc.invert(rejected))
        if pc.any(new).as_py():
            for line in pc.filter(rows["_line"], new).to_pylist():
                quarantine.add(
                    file=path, location=f"line {line}", reason=reason, raw=f"line {line}"
                )
            rejected = pc.or_(rejected, new)
    keep = pc.invert(rejected)
    return rows.filter(keep).append_column("incidence", pc.filter(incidence, keep))


def _first_of_each(keys: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Indices of the first row of each distinct key."""
    unique = pc.unique(keys)
    return pc.index_in(unique, value_set=keys)


def _departement(postcode: pa.Array | pa.ChunkedArray) -> pa.Array:
    code = pc.utf8_trim_whitespace(postcode)
    two = pc.utf8_slice_codeunits(code, 0, 2)
    three = pc.utf8_slice_codeunits(code, 0, 3)
    corsica = pc.if_else(pc.is_in(three, value_set=pa.array(["200", "201"])), "2A", "2B")
    overseas = pc.equal(two, "97")
    dept = pc.if_else(pc.equal(two, "20"), corsica, pc.if_else(overseas, three, two))
    return pc.if_else(
        pc.match_substring_regex(code, r"^[0-9]{5}$"), dept, pa.scalar(None, pa.string())
    )


def stage_registry_csv(
    paths: list[Path],
    *,
    settings: Settings,
    source: str | None = None,
    mapping_path: Path | None = None,
) -> StageCounts:
    """Read one registry's extract(s) into the staging area."""
    if not paths:
        raise IngestError("No registry extract given")
    mapping = read_mapping(mapping_path)
    name = source or paths[0].parent.name
    quarantine = Quarantine(source=name)
    counts = StageCounts(source=name)
    parts = []
    for path in sorted(paths):
        counts.files[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
        rows, read = read_registry_csv(path, mapping=mapping, quarantine=quarantine)
        counts.read += read
        parts.append(_validate(rows, path=path, mapping=mapping, quarantine=quarantine))
    rows = pa.concat_tables(parts)
    counts.accepted = rows.num_rows
    counts.quarantined = len(quarantine)
    counts.by_reason = quarantine.by_reason()
    counts.quarantine = quarantine
    counts.staged = write_staged(settings, name, stage_registry_rows(rows, source=name))
    write_identity(settings, name, registry_identity(rows, source=name))
    write_load_summary(
        settings,
        name,
        {
            "source": name,
            "kind": "registry",
            "files": counts.files,
            "read": counts.read,
            "accepted": counts.accepted,
            "quarantined": counts.quarantined,
            "by_reason": counts.by_reason,
            "staged": counts.staged,
        },
    )
    return counts


def registry_identity(rows: pa.Table, *, source: str) -> pa.Table:
    """One identity record per registry patient."""
    first = rows.take(_first_of_each(rows["patient_id"]))
    sex = pc.utf8_upper(pc.utf8_trim_whitespace(first["sex"]))
    n = first.num_rows
    birth = _parse_dates(first["birth_date"], ("%Y-%m-%d", "%d/%m/%Y", "%Y%m%d"))
    return pa.table(
        {
            "record_id": pc.binary_join_element_wise(source, first["patient_id"], ":"),
            "source": pa.array([source] * n),
            "source_kind": pa.array(["registry"] * n),
            "local_id": first["patient_id"],
            "nir": first["nir"],
            "last_name": first["family_name"],
            "birth_name": first["birth_name"],
            "first_names": first["first_names"],
            "sex": pc.if_else(
                pc.is_in(sex, value_set=pa.array(["1", "M"])),
                "M",
                pc.if_else(
                    pc.is_in(sex, value_set=pa.array(["2", "F"])), "F", pa.scalar(None, pa.string())
                ),
            ),
            "birth_date": pc.coalesce(pc.strftime(birth, format="%Y-%m-%d"), first["birth_date"]),
            "birth_place_code": first["birth_place_code"],
            "postcode": first["postcode"],
            "commune_code": first["commune"],
        }
    )


def stage_registry_rows(rows: pa.Table, *, source: str) -> dict[str, pa.Table]:
    """Staged person, condition_occurrence and stage measurements of accepted rows."""
    first = rows.take(_first_of_each(rows["patient_id"]))
    sex = pc.utf8_upper(pc.utf8_trim_whitespace(first["sex"]))
    birth = _parse_dates(first["birth_date"], ("%Y-%m-%d", "%d/%m/%Y", "%Y%m%d"))
    person = pa.table(
        {
            "local_patient_id": first["patient_id"],
            "record_key": first["patient_id"],
            "gender_concept_id": pc.if_else(
                pc.is_in(sex, value_set=pa.array(["1", "M"])),
                MALE,
                pc.if_else(pc.is_in(sex, value_set=pa.array(["2", "F"])), FEMALE, 0),
            ),
            "gender_source_value": sex,
            "year_of_birth": pc.year(birth),
            "month_of_birth": pc.month(birth),
            "race_concept_id": pa.array([0] * first.num_rows, pa.int64()),
            "ethnicity_concept_id": pa.array([0] * first.num_rows, pa.int64()),
            "departement": _departement(first["postcode"]),
        }
    ).filter(pc.is_valid(pc.year(birth)))
    topo = pc.utf8_upper(pc.utf8_trim_whitespace(rows["topography"]))
    topo = pc.replace_substring_regex(topo, r"^(C[0-9]{2})([0-9])$", r"\1.\2")
    morph = pc.utf8_trim_whitespace(rows["morphology"])
    behaviour = pc.coalesce(
        pc.if_else(
            pc.equal(pc.utf8_trim_whitespace(rows["behaviour"]), ""),
            pa.scalar(None, pa.string()),
            pc.utf8_trim_whitespace(rows["behaviour"]),
        ),
        pa.scalar("3"),
    )
    morph = pc.if_else(
        pc.match_substring(morph, "/"), morph, pc.binary_join_element_wise(morph, behaviour, "/")
    )
    icd10 = pc.utf8_upper(pc.utf8_trim_whitespace(rows["icd10"]))
    icd10 = pc.if_else(pc.equal(icd10, ""), pa.scalar(None, pa.string()), icd10)
    icd10 = pc.coalesce(icd10, convert_icdo3_to_icd10_arrays(topo, morph))
    tumour = pc.coalesce(
        pc.if_else(
            pc.equal(rows["tumour_number"], ""), pa.scalar(None, pa.string()), rows["tumour_number"]
        ),
        pa.scalar("1"),
    )
    record_key = pc.binary_join_element_wise("tumour", rows["patient_id"], tumour, "/")
    n = rows.num_rows
    condition = pa.table(
        {
            "local_patient_id": rows["patient_id"],
            "record_key": record_key,
            "condition_concept_id": pa.array([0] * n, pa.int64()),
            "condition_start_date": rows["incidence"],
            "condition_type_concept_id": pa.array([REGISTRY_TYPE] * n, pa.int64()),
            "condition_source_value": icd10,
            # ICD-O-3 histology and topography as the registry coded them
            "condition_status_source_value": pc.binary_join_element_wise(morph, topo, "-"),
        }
    )
    staged = pc.and_(pc.is_valid(rows["stage"]), pc.not_equal(rows["stage"], ""))
    staged_rows = rows.filter(staged)
    m = staged_rows.num_rows
    measurement = pa.table(
        {
            "local_patient_id": staged_rows["patient_id"],
            "record_key": pc.binary_join_element_wise(pc.filter(record_key, staged), "stage", "/"),
            "measurement_concept_id": pa.array([0] * m, pa.int64()),
            "measurement_date": staged_rows["incidence"],
            "measurement_type_concept_id": pa.array([REGISTRY_TYPE] * m, pa.int64()),
            "measurement_source_value": pa.array(["TNM stage group"] * m),
            "value_source_value": staged_rows["stage"],
            "event_record_key": pc.filter(record_key, staged),
        }
    )
    return {"person": person, "condition_occurrence": condition, "measurement": measurement}
