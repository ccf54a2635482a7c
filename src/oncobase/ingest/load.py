"""Staging → OMOP: resolve persons, give records stable ids, replace a source atomically.

* persons: ``(source, local_patient_id)`` is resolved through the person index handed in
  (the linkage step's) — without one, each source patient gets a provisional person (a
  death record never creates a person: it only completes a known one);
* ids: each ``(table, source, record_key)`` keeps the same integer id from load to load
  (``ingest__record_keys``), so re-loading the same staging changes nothing;
* replacement: a source's previous rows are deleted and its new rows inserted in one
  transaction; a failure leaves the store as it was;
* shared tables (``person``, ``location``, ``death``, ``observation_period``) are rebuilt
  from every staged source, one row per person.
"""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc

from oncobase.config import Settings
from oncobase.ingest.staging import (
    REFERENCE_COLUMNS,
    clinical_dir,
    read_staged,
    staged_sources,
)
from oncobase.store import Backend, bulk_load, quote_ident, table_spec
from oncobase.store.metadata import utcnow
from oncobase.vocab import load_code_map, read_source_file

FIELD_CONDITION_OCCURRENCE_ID = 1147127  # CDM field concept condition_occurrence_id
SHARED_TABLES = ("person", "death", "observation_period", "location")
_ORDER = (
    "visit_occurrence",
    "condition_occurrence",
    "procedure_occurrence",
    "drug_exposure",
    "specimen",
    "note",
    "note_nlp",
    "measurement",
    "observation",
    "episode",
    "episode_event",
)
_CODED = {  # table: (source value column, concept column, source concept column, vocabulary)
    "condition_occurrence": (
        "condition_source_value",
        "condition_concept_id",
        "condition_source_concept_id",
        "ICD10",
    ),
    "drug_exposure": ("drug_source_value", "drug_concept_id", "drug_source_concept_id", "ATC"),
}


@dataclass(kw_only=True)
class LoadReport:
    """What a load wrote, per source and table; sources skipped as unchanged."""

    loaded: dict[str, dict[str, int]] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    unlinked: dict[str, int] = field(default_factory=dict)

    @property
    def rows(self) -> int:
        return sum(sum(t.values()) for t in self.loaded.values())


def _as_int(value: object) -> int:
    return int(value) if isinstance(value, int | float) else 0


def _source_hash(settings: Settings, source: str, person_index: pa.Table | None) -> str:
    """Staging files and the source's person mapping: either changing means a reload."""
    digest = hashlib.sha256()
    if person_index is None:
        digest.update(b"provisional persons")
    else:
        mine = person_index.filter(pc.equal(person_index["source"], source))
        mine = mine.select(["local_id", "person_id"]).sort_by("local_id").combine_chunks()
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, mine.schema) as writer:
            writer.write_table(mine)
        digest.update(sink.getvalue().to_pybytes())
    for path in sorted(clinical_dir(settings, source).iterdir()):
        digest.update(path.name.encode())
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def _source_kind(settings: Settings, source: str) -> str:
    summary = clinical_dir(settings, source) / "_load.json"
    if summary.exists():
        return str(json.loads(summary.read_text()).get("kind", "hospital"))
    return "hospital"


def resolve_persons(
    backend: Backend,
    *,
    source: str,
    local_ids: pa.Array | pa.ChunkedArray,
    person_index: pa.Table | None,
    create: bool,
) -> pa.Array:
    """person_id for each local id (null when unknown and ``create`` is false)."""
    if person_index is not None:
        index = person_index.filter(pc.equal(person_index["source"], source))
        positions = pc.index_in(local_ids, value_set=index["local_id"])
        return pc.take(index["person_id"].combine_chunks(), positions)
    known = backend.query_arrow(
        "SELECT local_id, person_id FROM ingest__persons WHERE source = $1", (source,)
    )
    positions = pc.index_in(local_ids, value_set=known["local_id"])
    ids = pc.take(known["person_id"].combine_chunks(), positions)
    if not create:
        return ids
    missing = pc.unique(pc.filter(local_ids, pc.is_null(ids)))
    if len(missing):
        start = _as_int(backend.scalar("SELECT coalesce(max(person_id), 0) FROM ingest__persons"))
        new = pa.table(
            {
                "source": pa.array([source] * len(missing)),
                "local_id": missing,
                "person_id": pa.array(range(start + 1, start + 1 + len(missing)), pa.int64()),
                "provisional": pa.array(["Y"] * len(missing)),
            }
        )
        bulk_load(backend, "ingest__persons", new, step="ingest.load", source=source)
        return resolve_persons(
            backend, source=source, local_ids=local_ids, person_index=None, create=False
        )
    return ids


def assign_ids(backend: Backend, *, table: str, source: str, keys: pa.Array) -> pa.Array:
    """The stable integer id of each record key (new keys get new ids)."""
    existing = backend.query_arrow(
        "SELECT record_key, id FROM ingest__record_keys WHERE table_name = $1 AND source = $2",
        (table, source),
    )
    positions = pc.index_in(keys, value_set=existing["record_key"])
    ids = pc.take(existing["id"].combine_chunks(), positions)
    missing = pc.filter(keys, pc.is_null(ids))
    if len(missing):
        start = _as_int(
            backend.scalar(
                "SELECT coalesce(max(id), 0) FROM ingest__record_keys WHERE table_name = $1",
                (table,),
            )
        )
        new = pa.table(
            {
                "table_name": pa.array([table] * len(missing)),
                "source": pa.array([source] * len(missing)),
                "record_key": missing,
                "id": pa.array(range(start + 1, start + 1 + len(missing)), pa.int64()),
            }
        )
        bulk_load(backend, "ingest__record_keys", new, step="ingest.load", source=source)
        return assign_ids(backend, table=table, source=source, keys=keys)
    return ids


def _lookup_ids(backend: Backend, *, table: str, source: str, keys: pa.Array) -> pa.Array:
    existing = backend.query_arrow(
        "SELECT record_key, id FROM ingest__record_keys WHERE table_name = $1 AND source = $2",
        (table, source),
    )
    return pc.take(
        existing["id"].combine_chunks(), pc.index_in(keys, value_set=existing["record_key"])
    )


def _unique_keys(data: pa.Table) -> pa.Table:
    keys = data["record_key"]
    first = pc.index_in(pc.unique(keys), value_set=keys)
    return data.take(pc.sort_indices(first)) if len(first) != data.num_rows else data


def _map_codes(backend: Backend, table: str, data: pa.Table) -> pa.Table:
    if table not in _CODED:
        return data
    value_col, concept_col, source_concept_col, vocabulary = _CODED[table]
    if value_col not in data.column_names or data.num_rows == 0:
        return data
    mapped = load_code_map(backend, vocabulary).apply(data[value_col])
    for column, new in (
        (concept_col, mapped["concept_id"]),
        (source_concept_col, mapped["source_concept_id"]),
    ):
        current = (
            data[column] if column in data.column_names else pa.nulls(data.num_rows, pa.int64())
        )
        unset = pc.or_(pc.is_null(current), pc.equal(pc.fill_null(current, 0), 0))
        value = pc.if_else(unset, new, current)
        if column in data.column_names:
            data = data.set_column(data.column_names.index(column), column, value)
        else:
            data = data.append_column(column, value)
    return data


def _to_omop(
    backend: Backend, *, table: str, source: str, data: pa.Table, person_ids: pa.Array
) -> pa.Table:
    spec = table_spec(table)
    out = data
    keep = pc.is_valid(person_ids) if table != "episode_event" else pa.array([True] * data.num_rows)
    out = out.filter(keep)
    columns: dict[str, pa.Array | pa.ChunkedArray] = {}
    if "person_id" in spec.column_names:
        columns["person_id"] = pc.filter(person_ids, keep)
    if spec.primary_key:
        columns[spec.primary_key[0]] = assign_ids(
            backend, table=table, source=source, keys=out["record_key"].combine_chunks()
        )
    for staged, (omop, target) in REFERENCE_COLUMNS[table].items():
        if staged not in out.column_names:
            continue
        keys = out[staged].combine_chunks()
        if table == "episode_event" and staged == "event_record_key":
            ids = pa.nulls(out.num_rows, pa.int64())
            for name in pc.unique(out["event_table"]).to_pylist():
                if name is None:
                    continue
                mask = pc.equal(out["event_table"], name)
                found = _lookup_ids(backend, table=name, source=source, keys=keys)
                ids = pc.if_else(mask, found, ids)
            columns[omop] = ids
        else:
            columns[omop] = _lookup_ids(backend, table=target, source=source, keys=keys)
        if table == "measurement" and staged == "event_record_key":
            columns["meas_event_field_concept_id"] = pc.if_else(
                pc.is_valid(columns[omop]),
                FIELD_CONDITION_OCCURRENCE_ID,
                pa.scalar(None, pa.int64()),
            )
    for column in spec.column_names:
        if column not in columns and column in out.column_names:
            columns[column] = out[column]
    result = pa.table(columns)
    # A required concept id that the source could not give is 0 ("no matching concept").
    for col_spec in spec.columns:
        name = col_spec.name
        if col_spec.required and name.endswith("_concept_id") and name in result.column_names:
            position = result.column_names.index(name)
            result = result.set_column(
                position, name, pc.fill_null(result[name].cast(pa.int64()), 0)
            )
    # Records still missing a value OMOP requires (e.g. an undated FHIR resource) cannot be
    # loaded: they stay in staging and are counted, never half-loaded.
    required = [c.name for c in spec.columns if c.required and c.name in result.column_names]
    if required and result.num_rows:
        complete = functools.reduce(pc.and_, [pc.is_valid(result[c]) for c in required])
        if not pc.all(complete).as_py():
            result = result.filter(complete)
    if table == "episode_event":
        result = result.filter(
            pc.and_(pc.is_valid(result["episode_id"]), pc.is_valid(result["event_id"]))
        )
    return result


def _delete_source_rows(backend: Backend, *, table: str, source: str) -> None:
    spec = table_spec(table)
    if table == "episode_event":
        backend.execute(
            "DELETE FROM episode_event WHERE episode_id IN (SELECT id FROM ingest__record_keys "
            "WHERE table_name = 'episode' AND source = $1)",
            (source,),
        )
        return
    key = quote_ident(spec.primary_key[0])
    backend.execute(
        f"DELETE FROM {quote_ident(table)} WHERE {key} IN (SELECT id FROM ingest__record_keys "
        "WHERE table_name = $1 AND source = $2)",
        (table, source),
    )


def load_source(
    backend: Backend,
    settings: Settings,
    source: str,
    *,
    person_index: pa.Table | None = None,
    run_id: str | None = None,
) -> dict[str, int] | None:
    """Load one staged source into OMOP (None when its staging did not change)."""
    input_hash = _source_hash(settings, source, person_index)
    if (
        backend.scalar("SELECT input_hash FROM ingest__sources WHERE source = $1", (source,))
        == input_hash
    ):
        return None
    staged = read_staged(settings, source)
    kind = _source_kind(settings, source)
    counts: dict[str, int] = {}
    with backend.transaction():
        for table in _ORDER:
            _delete_source_rows(backend, table=table, source=source)
            if table not in staged:
                continue
            data = _map_codes(backend, table, _unique_keys(staged[table]))
            person_ids = resolve_persons(
                backend,
                source=source,
                local_ids=data["local_patient_id"].combine_chunks(),
                person_index=person_index,
                create=kind != "deaths",
            )
            rows = _to_omop(backend, table=table, source=source, data=data, person_ids=person_ids)
            counts[table] = bulk_load(
                backend, table, rows, step="ingest.load", source=source, run_id=run_id
            ).rows_accepted
        if "person" in staged:  # make sure every source patient has a person id
            resolve_persons(
                backend,
                source=source,
                local_ids=staged["person"]["local_patient_id"].combine_chunks(),
                person_index=person_index,
                create=kind != "deaths",
            )
        backend.execute("DELETE FROM ingest__sources WHERE source = $1", (source,))
        bulk_load(
            backend,
            "ingest__sources",
            pa.table(
                {
                    "source": [source],
                    "load_id": [run_id or ""],
                    "input_hash": [input_hash],
                    "loaded_at": pa.array([utcnow()], pa.timestamp("us")),
                }
            ),
            step="ingest.load",
            source=source,
        )
    return counts


def rebuild_shared_tables(
    backend: Backend, settings: Settings, *, person_index: pa.Table | None = None
) -> dict[str, int]:
    """person, location, death and observation_period from every staged source."""
    persons: list[pa.Table] = []
    deaths: list[pa.Table] = []
    for source in staged_sources(settings):
        staged = read_staged(settings, source)
        kind = _source_kind(settings, source)
        for name, bucket in (("person", persons), ("death", deaths)):
            if name not in staged:
                continue
            data = staged[name]
            ids = resolve_persons(
                backend,
                source=source,
                local_ids=data["local_patient_id"].combine_chunks(),
                person_index=person_index,
                create=kind != "deaths",
            )
            bucket.append(data.append_column("person_id", ids).filter(pc.is_valid(ids)))
    departements = read_source_file("departements.csv")
    location = pa.table(
        {
            "location_id": pa.array(range(1, departements.num_rows + 1), pa.int64()),
            "county": departements["code"],
            "state": departements["region_code"],
            "country_concept_id": pa.array([0] * departements.num_rows, pa.int64()),
            "country_source_value": pa.array(["FR"] * departements.num_rows),
            "location_source_value": departements["code"],
        }
    )
    counts: dict[str, int] = {}
    with backend.transaction():
        for table in SHARED_TABLES:
            backend.execute(f"DELETE FROM {table}")
        counts["location"] = bulk_load(
            backend, "location", location, step="ingest.load", source="départements"
        ).rows_accepted
        if persons:
            person = _one_per_person(pa.concat_tables(persons, promote_options="permissive"))
            dept_index = pc.index_in(person["departement"], value_set=departements["code"])
            person_rows = pa.table(
                {
                    "person_id": person["person_id"],
                    "gender_concept_id": pc.fill_null(person["gender_concept_id"], 0),
                    "year_of_birth": person["year_of_birth"],
                    "month_of_birth": person["month_of_birth"],
                    "race_concept_id": pa.array([0] * person.num_rows, pa.int64()),
                    "ethnicity_concept_id": pa.array([0] * person.num_rows, pa.int64()),
                    "location_id": pc.add(pc.cast(dept_index, pa.int64()), 1),
                    "gender_source_value": person["gender_source_value"],
                }
            ).filter(pc.is_valid(person["year_of_birth"]))
            counts["person"] = bulk_load(
                backend, "person", person_rows, step="ingest.load", source="all sources"
            ).rows_accepted
            known = person_rows["person_id"]
            if deaths:
                death = pa.concat_tables(deaths, promote_options="permissive")
                death = death.filter(pc.is_in(death["person_id"], value_set=known))
                death = death.sort_by([("person_id", "ascending"), ("death_date", "ascending")])
                first = pc.index_in(pc.unique(death["person_id"]), value_set=death["person_id"])
                death = death.take(first)
                death_rows = pa.table(
                    {
                        "person_id": death["person_id"],
                        "death_date": death["death_date"],
                        "death_type_concept_id": pc.fill_null(death["death_type_concept_id"], 0),
                    }
                )
                counts["death"] = bulk_load(
                    backend, "death", death_rows, step="ingest.load", source="all sources"
                ).rows_accepted
            counts["observation_period"] = _observation_periods(backend)
    return counts


def _one_per_person(person: pa.Table) -> pa.Table:
    """The most complete record of each person (first by completeness, then source order)."""
    completeness = pc.add(
        pc.cast(pc.is_valid(person["month_of_birth"]), pa.int64()),
        pc.cast(pc.is_valid(person["departement"]), pa.int64()),
    )
    ranked = person.append_column("_score", completeness).sort_by(
        [("person_id", "ascending"), ("_score", "descending")]
    )
    first = pc.index_in(pc.unique(ranked["person_id"]), value_set=ranked["person_id"])
    return ranked.take(first)


def _observation_periods(backend: Backend) -> int:
    """One period per person: first to last recorded date (or death)."""
    backend.execute(
        "INSERT INTO observation_period (observation_period_id, person_id, "
        "observation_period_start_date, observation_period_end_date, period_type_concept_id) "
        "SELECT row_number() OVER (ORDER BY person_id), person_id, min(d), max(d), 32817 FROM ("
        "SELECT person_id, condition_start_date AS d FROM condition_occurrence UNION ALL "
        "SELECT person_id, visit_start_date FROM visit_occurrence UNION ALL "
        "SELECT person_id, visit_end_date FROM visit_occurrence UNION ALL "
        "SELECT person_id, death_date FROM death) AS t "
        "WHERE person_id IN (SELECT person_id FROM person) GROUP BY person_id"
    )
    return backend.count_rows("observation_period")


def load_staging(
    backend: Backend,
    settings: Settings,
    *,
    person_index: pa.Table | None = None,
    run_id: str | None = None,
) -> LoadReport:
    """Load every staged source that changed, then rebuild the shared tables."""
    report = LoadReport()
    for source in staged_sources(settings):
        counts = load_source(backend, settings, source, person_index=person_index, run_id=run_id)
        if counts is None:
            report.skipped.append(source)
        else:
            report.loaded[source] = counts
    if report.loaded or not backend.count_rows("person"):
        report.loaded["(shared)"] = rebuild_shared_tables(
            backend, settings, person_index=person_index
        )
    return report
