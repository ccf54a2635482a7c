"""Extracts built from a permit: minimised, re-pseudonymised per project, k-anonymity reported.

:func:`build_extract` reads the permit's cohort from the OMOP store (``cohort`` joined to
``cohort_definition`` by name), drops the excluded persons (opt-outs), and writes, for the
permitted variables only:

* ``parquet/<table>.parquet`` and ``omop_csv/<table>.csv`` with OMOP v5.4 column names
  (``person`` with the location's ``county`` folded in, ``condition_occurrence``,
  ``measurement``, ``drug_exposure``, ``procedure_occurrence``, ``death``);
* ``fhir/<Resource>.ndjson`` (FHIR R4 Bulk Data: Patient, Condition, Observation,
  MedicationStatement, Procedure) with only the permitted elements;
* ``kanonymity.json``: the k-anonymity report on the quasi-identifiers;

and a zip of the folder beside it. Every row carries ``person_pseudonym`` (the per-project HMAC
of :func:`oncobase.linkage.pseudonyms`, so two projects cannot be joined); no store id
(``person_id``, row ids) leaves: event rows get fresh ids numbered in pseudonym order. Dates
follow the permit (``day``, ``month``, ``year``, or ``shift``: every date of one person moved
by the same secret offset). Rare categories are generalised (:mod:`oncobase.share.kanon`).
See ``docs/share_extracts.md``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import shutil
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from oncobase.linkage import pseudonyms
from oncobase.share import kanon
from oncobase.share._fhir import write_fhir
from oncobase.share.disclosure import MIN_CELL
from oncobase.share.errors import ShareError
from oncobase.share.variables import BY_NAME, DATE_PRECISIONS, check_variables
from oncobase.store import Backend

PSEUDONYM = "person_pseudonym"
SHIFT_MAX_DAYS = 182  # "shift": each person's dates move by ±1 … 182 days
TABLE_ORDER = (
    "person",
    "condition_occurrence",
    "measurement",
    "drug_exposure",
    "procedure_occurrence",
    "death",
)
ROW_IDS = {  # fresh per-extract row ids (the format's primary key), never the store's
    "condition_occurrence": "condition_occurrence_id",
    "measurement": "measurement_id",
    "drug_exposure": "drug_exposure_id",
    "procedure_occurrence": "procedure_occurrence_id",
}
# Rows of a table that an extract reads (SQL over the alias ``t``).
_ROW_FILTERS = {
    "condition_occurrence": (
        "(upper(t.condition_source_value) LIKE 'C%' OR upper(t.condition_source_value) LIKE 'D0%'"
        " OR t.condition_status_source_value IS NOT NULL)"
    ),
    "measurement": "t.measurement_source_value IS NOT NULL",
}
# Stage rows: the registry's stage group, or a TNM8 category / stage group code.
_STAGE_PATTERN = (
    r"(?i)^(TNM stage group|(Y?[CP])?[TNM][0-4XIS].*|(STAGE )?(0|I{1,3}|IV)[A-C]?[0-9]?)$"
)
# Generalisation levels of each categorical column (the last one is the catch-all).
_LEVELS: dict[str, tuple[kanon.Level, ...]] = {
    "county": (kanon.departement_region, kanon.to_other),
    "condition_source_value": (kanon.to_prefix(3), kanon.to_other),
    "condition_status_source_value": (kanon.icdo3_morphology, kanon.to_other),
    "measurement_source_value": (kanon.to_other,),
    "value_source_value": (kanon.to_other,),
    "drug_source_value": (kanon.to_prefix(5), kanon.to_prefix(3), kanon.to_other),
    "procedure_source_value": (kanon.to_prefix(4), kanon.to_other),
}


@dataclass(frozen=True, kw_only=True)
class PermitSpec:
    """What a permit allows: the cohort, the variables and the date precision."""

    permit_id: int
    project_id: str  # unique per permit; the pseudonym's project key
    cohort: str  # built-in cohort name (OMOP cohort_definition name)
    variables: tuple[str, ...]  # names from oncobase.share.variables
    date_precision: str  # "day", "month", "year" or "shift"


@dataclass(frozen=True, kw_only=True)
class ExtractResult:
    """An extract on disk: the folder, its zip, sizes and the k-anonymity report."""

    folder: Path  # <out_dir>: parquet/, omop_csv/, fhir/ and kanonymity.json
    archive: Path  # one .zip of the whole folder, what a researcher downloads
    persons: int
    rows: int
    k_min: int  # smallest equivalence class over the quasi-identifiers
    report: dict[str, object]  # the k-anonymity report (also written as kanonymity.json)


def extract_columns(variables: Sequence[str]) -> dict[str, tuple[str, ...]]:
    """The columns each released table holds for these variables (Parquet and OMOP CSV).

    ``person`` is always released (the roster of pseudonyms); other tables only when a
    variable reads them. Technical columns: ``person_pseudonym`` everywhere and the fresh row
    id of event tables.
    """
    names = check_variables(tuple(variables))
    columns: dict[str, list[str]] = {"person": [PSEUDONYM]}
    for name in names:
        variable = BY_NAME[name]
        table = "person" if variable.table == "location" else variable.table
        if table not in columns:
            columns[table] = [*([ROW_IDS[table]] if table in ROW_IDS else []), PSEUDONYM]
        for column in (variable.column, *variable.extra_columns):
            if column not in columns[table]:
                columns[table].append(column)
    return {t: tuple(columns[t]) for t in TABLE_ORDER if t in columns}


def _check_permit(permit: PermitSpec) -> tuple[str, ...]:
    try:
        names = check_variables(permit.variables)
    except ValueError as exc:
        raise ShareError(f"permit {permit.permit_id}: {exc}") from None
    if permit.date_precision not in DATE_PRECISIONS:
        raise ShareError(
            f"permit {permit.permit_id}: unknown date precision {permit.date_precision!r}; "
            f"use one of {', '.join(DATE_PRECISIONS)}"
        )
    if not permit.project_id.strip():
        raise ShareError(f"permit {permit.permit_id} has no project id (the pseudonym key)")
    return names


def _members(backend: Backend, cohort: str, excluded: Sequence[int]) -> pa.Array:
    """Person ids of the built cohort, minus the excluded ones (sorted)."""
    if not backend.table_exists("cohort_definition") or not backend.table_exists("cohort"):
        raise ShareError("the store has no cohort tables: run `oncobase store init`")
    found = backend.scalar(
        "SELECT count(*) FROM cohort_definition WHERE cohort_definition_name = $1", (cohort,)
    )
    if not found:
        raise ShareError(
            f"cohort {cohort!r} has not been built: run `oncobase cohorts build {cohort}` first"
        )
    ids = (
        backend.query_arrow(
            "SELECT DISTINCT c.subject_id AS person_id FROM cohort c JOIN cohort_definition d "
            "ON d.cohort_definition_id = c.cohort_definition_id "
            "WHERE d.cohort_definition_name = $1 ORDER BY 1",
            (cohort,),
        )["person_id"]
        .combine_chunks()
        .cast(pa.int64())
    )
    if excluded:
        drop = pa.array(list(excluded), pa.int64())
        ids = ids.filter(pc.invert(pc.is_in(ids, value_set=drop)))
    return ids


_MEMBERS_SQL = (
    "SELECT c.subject_id FROM cohort c JOIN cohort_definition d "
    "ON d.cohort_definition_id = c.cohort_definition_id WHERE d.cohort_definition_name = $1"
)


def _member_sql(table: str, columns: Sequence[str]) -> str:
    """SQL reading the cohort members' rows of one table (``person`` joined to ``location``)."""
    if table == "person":
        picked = ["t.person_id", *(("l." if c == "county" else "t.") + c for c in columns)]
        return (
            f"SELECT {', '.join(picked)} FROM person t "
            "LEFT JOIN location l ON l.location_id = t.location_id "
            f"WHERE t.person_id IN ({_MEMBERS_SQL})"
        )
    picked = ["t.person_id", *(f"t.{c}" for c in columns)]
    where = f"t.person_id IN ({_MEMBERS_SQL})"
    if table in _ROW_FILTERS:
        where += f" AND {_ROW_FILTERS[table]}"
    return f"SELECT {', '.join(picked)} FROM {table} t WHERE {where}"


def _read_table(
    backend: Backend, table: str, columns: Sequence[str], *, cohort: str, members: pa.Array
) -> pa.Table:
    """The member rows of one OMOP table with the source columns the extract releases."""
    source = [c for c in columns if c not in (PSEUDONYM, ROW_IDS.get(table))]
    if not backend.table_exists(table):
        raise ShareError(f"the store has no {table} table: run `oncobase store init`")
    data = backend.query_arrow(_member_sql(table, source), (cohort,))
    data = data.set_column(0, "person_id", data["person_id"].cast(pa.int64()))
    data = data.filter(pc.is_in(data["person_id"], value_set=members))
    if table == "measurement":  # only the stage (TNM) rows
        stage = pc.match_substring_regex(
            pc.utf8_trim_whitespace(data["measurement_source_value"]), _STAGE_PATTERN
        )
        data = data.filter(pc.fill_null(stage, False))
        data = data.select(["person_id", *source])
    return data


def _shift_days(person_ids: pa.Array, *, key: bytes, project_id: str) -> pa.Array:
    """The secret per-person offset (±1 … SHIFT_MAX_DAYS days) of the ``shift`` precision.

    HMAC under a key derived from the pseudonym key and the project (a derivation distinct from
    the pseudonym's, so a published pseudonym tells nothing about the offset).
    """
    shift_key = hmac.new(key, f"date-shift:{project_id}".encode(), hashlib.sha256).digest()
    offsets = [
        int.from_bytes(hmac.new(shift_key, f"person:{i}".encode(), hashlib.sha256).digest()[:4])
        for i in person_ids.to_pylist()
    ]  # one HMAC per person, as pseudonyms() does
    return pa.array(
        [
            (v >> 1) % SHIFT_MAX_DAYS + 1 if v & 1 else -((v >> 1) % SHIFT_MAX_DAYS + 1)
            for v in offsets
        ],
        pa.int32(),
    )


def _apply_precision(dates: pa.Array, offsets: pa.Array | None, precision: str) -> pa.Array:
    if precision == "day":
        return dates
    if precision == "month":
        return pc.floor_temporal(dates, unit="month")
    if precision == "year":
        return pc.floor_temporal(dates, unit="year")
    assert offsets is not None
    days = pc.add(dates.cast(pa.int32()), offsets)
    return days.cast(pa.date32())


def build_extract(
    backend: Backend,
    permit: PermitSpec,
    *,
    out_dir: Path,
    pseudonym_key: bytes,
    excluded_person_ids: Sequence[int] = (),
    k: int = MIN_CELL,
) -> ExtractResult:
    """Build the permit's extract in ``out_dir`` (replaced) and its zip beside it.

    The caller audits the build (it reads person-level data) and passes the opt-outs in
    force as ``excluded_person_ids`` (:func:`oncobase.share.optout.apply_optouts`).
    """
    names = _check_permit(permit)
    if k < 1:
        raise ShareError(f"the generalisation threshold k must be at least 1, got {k}")
    layout = extract_columns(names)
    members = _members(backend, permit.cohort, excluded_person_ids)
    persons_table = _read_table(
        backend, "person", layout["person"], cohort=permit.cohort, members=members
    )
    person_ids = persons_table["person_id"].combine_chunks()
    order = pc.sort_indices(person_ids)
    person_ids = pc.take(person_ids, order)
    persons_table = persons_table.take(order)
    codes = pseudonyms(person_ids, key=pseudonym_key, project_id=permit.project_id)
    offsets = (
        _shift_days(person_ids, key=pseudonym_key, project_id=permit.project_id)
        if permit.date_precision == "shift"
        else None
    )
    generalised: dict[str, object] = {}
    tables: dict[str, pa.Table] = {}
    for table, columns in layout.items():
        raw = (
            persons_table
            if table == "person"
            else _read_table(backend, table, columns, cohort=permit.cohort, members=person_ids)
        )
        position = pc.index_in(raw["person_id"], value_set=person_ids)
        raw = raw.filter(pc.is_valid(position))  # rows of persons absent from `person`
        position = position.filter(pc.is_valid(position)) if len(position) else position
        out: dict[str, pa.Array] = {PSEUDONYM: pc.take(codes, position)}
        owners = raw["person_id"].combine_chunks()
        for column in columns:
            if column in (PSEUDONYM, ROW_IDS.get(table)):
                continue
            values = raw[column].combine_chunks()
            if pa.types.is_date(values.type) or pa.types.is_timestamp(values.type):
                values = values.cast(pa.date32())
                shift = pc.take(offsets, position) if offsets is not None else None
                out[column] = _apply_precision(values, shift, permit.date_precision)
            elif column == "year_of_birth":
                out[column], generalised[column] = kanon.generalise_year_of_birth(
                    values, owners, k=k
                )
            elif column == "gender_concept_id":
                out[column], moved = kanon.generalise_sex(values, owners, k=k)
                generalised[column] = {"to_unknown_rows": moved}
            elif column in _LEVELS:
                text = pc.utf8_trim_whitespace(values.cast(pa.string()))
                out[column], moved_rows = kanon.generalise(text, owners, _LEVELS[column], k=k)
                generalised[column] = {"rows_moved_per_level": moved_rows}
            else:
                out[column] = values
        result = pa.table(out)
        # Rows in pseudonym order (never the store's order, which follows person_id and would
        # let two projects' extracts be matched row by row); then fresh row ids.
        result = result.sort_by([(c, "ascending") for c in result.column_names])
        if table in ROW_IDS:
            ids = pa.array(range(1, result.num_rows + 1), pa.int64())
            result = result.add_column(0, ROW_IDS[table], ids)
        tables[table] = result.select(list(columns))
    report = _report(tables, permit, names, k=k, generalised=generalised)
    return _write(tables, report, out_dir=out_dir, precision=permit.date_precision)


def _report(
    tables: dict[str, pa.Table],
    permit: PermitSpec,
    names: tuple[str, ...],
    *,
    k: int,
    generalised: dict[str, object],
) -> dict[str, object]:
    """The k-anonymity report on one record per person of the released quasi-identifiers."""
    person = tables["person"]
    records = person.select([PSEUDONYM])
    quasi: list[str] = []
    if "gender_concept_id" in person.column_names:
        records = records.append_column("sex", person["gender_concept_id"])
        quasi.append("sex")
    if "county" in person.column_names:
        records = records.append_column("departement", person["county"])
        quasi.append("departement")
    first: pa.Table | None = None
    conditions = tables.get("condition_occurrence")
    if conditions is not None and conditions.num_rows:
        cols: dict[str, pa.Array | pa.ChunkedArray] = {PSEUDONYM: conditions[PSEUDONYM]}
        if "condition_start_date" in conditions.column_names:
            cols["diagnosis_year"] = pc.year(conditions["condition_start_date"])
        if "condition_source_value" in conditions.column_names:
            site = conditions["condition_source_value"]
            cols["site"] = pc.if_else(
                pc.equal(site, kanon.OTHER), site, pc.utf8_slice_codeunits(site, 0, 3)
            )
        part = pa.table(cols)
        order = [(PSEUDONYM, "ascending")]
        if "diagnosis_year" in part.column_names:
            order.append(("diagnosis_year", "ascending"))
        part = part.sort_by(order)
        aggregates = [(c, "first") for c in part.column_names if c != PSEUDONYM]
        if aggregates:
            first = part.group_by(PSEUDONYM, use_threads=False).aggregate(aggregates)
            first = first.rename_columns([c.removesuffix("_first") for c in first.column_names])
    if first is not None:
        records = records.join(first, PSEUDONYM, join_type="left outer")
    if "year_of_birth" in person.column_names:
        births = pa.table({PSEUDONYM: person[PSEUDONYM], "_yob": person["year_of_birth"]})
        records = records.join(births, PSEUDONYM, join_type="left outer")
        if "diagnosis_year" in records.column_names:
            age = pc.subtract(records["diagnosis_year"].cast(pa.int64()), records["_yob"])
            group = pc.multiply(pc.divide(age, 5), 5)
            records = records.append_column("age_group", group)
        else:
            records = records.append_column("age_group", records["_yob"])  # birth band
        records = records.drop_columns(["_yob"])
        quasi.insert(0, "age_group")
    for column in ("diagnosis_year", "site"):
        if column in records.column_names:
            quasi.append(column)
    report = kanon.kanonymity_report(records, quasi, k=k)
    report.update(
        {
            "permit_id": permit.permit_id,
            "cohort": permit.cohort,
            "variables": list(names),
            "date_precision": permit.date_precision,
            "generalised": generalised,
            "rows": {t: data.num_rows for t, data in tables.items()},
        }
    )
    return report


def _write(
    tables: dict[str, pa.Table], report: dict[str, object], *, out_dir: Path, precision: str
) -> ExtractResult:
    """Write the folder beside ``out_dir`` first, then swap it in and zip it (a failed build
    leaves no half-written extract)."""
    if out_dir.exists() and any(out_dir.iterdir()) and not (out_dir / "kanonymity.json").exists():
        raise ShareError(f"{out_dir} exists and is not an extract: choose an empty folder")
    work = out_dir.with_name(f"{out_dir.name}.partial")
    if work.exists():
        shutil.rmtree(work)
    try:
        for sub in ("parquet", "omop_csv", "fhir"):
            (work / sub).mkdir(parents=True)
        for table, data in tables.items():
            pq.write_table(data, work / "parquet" / f"{table}.parquet")
            pacsv.write_csv(data, work / "omop_csv" / f"{table}.csv")
        write_fhir(tables, work / "fhir", precision=precision)
        (work / "kanonymity.json").write_text(
            json.dumps(report, indent=2, ensure_ascii=False, default=str), encoding="utf-8"
        )
        if out_dir.exists():
            shutil.rmtree(out_dir)
        work.rename(out_dir)
    finally:
        if work.exists():
            shutil.rmtree(work)
    archive = out_dir.parent / f"{out_dir.name}.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as handle:
        for path in sorted(p for p in out_dir.rglob("*") if p.is_file()):
            handle.write(path, path.relative_to(out_dir.parent).as_posix())
    k_min = report["k_min"]
    return ExtractResult(
        folder=out_dir,
        archive=archive,
        persons=tables["person"].num_rows,
        rows=sum(t.num_rows for t in tables.values()),
        k_min=k_min if isinstance(k_min, int) else 0,
        report=report,
    )
