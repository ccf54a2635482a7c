"""Extracts from a permit: permitted variables only, per-project pseudonyms, dates as the
permit says, rare categories generalised, three formats and the k-anonymity report."""

from __future__ import annotations

import collections
import datetime as dt
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path

import orjson
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from fhir.resources.R4B import get_fhir_model_class
from tests.share._store import (
    COHORT,
    RARE_DEPT,
    RARE_ICD10,
    SECRET_SOURCE_VALUE,
    build_lung_store,
    fill_lung_store,
)

from oncobase.linkage import pseudonyms
from oncobase.share import ShareError
from oncobase.share.extract import (
    PSEUDONYM,
    SHIFT_MAX_DAYS,
    ExtractResult,
    PermitSpec,
    build_extract,
    extract_columns,
)
from oncobase.share.variables import BY_NAME
from oncobase.store import Backend, connect

KEY = bytes(range(32))
LUNG_PERSONS = 90


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_lung_store(tmp_path_factory.mktemp("extract") / "store.duckdb")


@pytest.fixture
def lung(store: Path) -> Iterator[Backend]:
    with connect(f"duckdb:///{store}") as con:
        yield con


def _permit(
    variables: tuple[str, ...], *, precision: str = "day", project: str = "proj-a", pid: int = 1
) -> PermitSpec:
    return PermitSpec(
        permit_id=pid,
        project_id=project,
        cohort=COHORT,
        variables=variables,
        date_precision=precision,
    )


def _build(backend: Backend, permit: PermitSpec, out: Path) -> ExtractResult:
    return build_extract(backend, permit, out_dir=out, pseudonym_key=KEY)


def _source(backend: Backend, sql: str) -> pa.Table:
    return backend.query_arrow(sql)


def _pseudonym_of(person_ids: list[int], project: str) -> dict[str, int]:
    codes = pseudonyms(pa.array(person_ids, pa.int64()), key=KEY, project_id=project)
    return dict(zip(codes.to_pylist(), person_ids, strict=True))


def test_extract_holds_only_the_permitted_variables(lung: Backend, tmp_path: Path) -> None:
    variables = ("person.sex", "tumour.icd10", "tumour.diagnosis_date")
    result = _build(lung, _permit(variables), tmp_path / "x")
    expected = extract_columns(variables)
    assert expected == {
        "person": (PSEUDONYM, "gender_concept_id"),
        "condition_occurrence": (
            "condition_occurrence_id",
            PSEUDONYM,
            "condition_source_value",
            "condition_start_date",
        ),
    }
    parquet = {p.stem: pq.read_table(p) for p in (result.folder / "parquet").glob("*.parquet")}
    csv = {p.stem: pacsv.read_csv(p) for p in (result.folder / "omop_csv").glob("*.csv")}
    assert set(parquet) == set(csv) == set(expected)
    for table, columns in expected.items():
        assert tuple(parquet[table].column_names) == columns
        assert tuple(csv[table].column_names) == columns
    # every lung patient, nobody else; no store id leaves (fresh row ids 1…n)
    assert result.persons == parquet["person"].num_rows == LUNG_PERSONS
    assert parquet["person"][PSEUDONYM].unique().to_pylist().__len__() == LUNG_PERSONS
    ids = parquet["condition_occurrence"]["condition_occurrence_id"].to_pylist()
    assert sorted(ids) == list(range(1, len(ids) + 1))
    assert not set(parquet["condition_occurrence"]["condition_source_value"].to_pylist()) & {
        "C50.9"
    }
    # FHIR: Patient has gender only; Conditions carry code and onset, nothing else
    patients = _ndjson(result.folder / "fhir" / "Patient.ndjson")
    assert len(patients) == LUNG_PERSONS
    assert all(set(p) == {"resourceType", "id", "gender"} for p in patients)
    conditions = _ndjson(result.folder / "fhir" / "Condition.ndjson")
    assert all(
        set(c) <= {"resourceType", "id", "subject", "code", "onsetDateTime"} for c in conditions
    )
    assert sorted(p.name for p in (result.folder / "fhir").iterdir()) == [
        "Condition.ndjson",
        "Patient.ndjson",
    ]
    assert result.rows == LUNG_PERSONS + parquet["condition_occurrence"].num_rows


def test_no_identifier_anywhere_in_the_archive(lung: Backend, tmp_path: Path) -> None:
    result = _build(lung, _permit(tuple(BY_NAME)), tmp_path / "all")
    store_ids = _source(lung, "SELECT person_id FROM person")["person_id"].to_pylist()
    with zipfile.ZipFile(result.archive) as archive:
        names = archive.namelist()
        blob = b"\n".join(archive.read(n) for n in names)
    assert {n.split("/", 1)[1] for n in names} == {
        p.relative_to(result.folder).as_posix() for p in result.folder.rglob("*") if p.is_file()
    }
    for secret in (SECRET_SOURCE_VALUE, "rue secrète", "person_id", "location_id", "75001"):
        assert secret.encode() not in blob, secret
    # store row ids (1001…, 2001…) never appear as ids
    for table, column in (("condition_occurrence", "condition_occurrence_id"),
                          ("measurement", "measurement_id")):  # fmt: skip
        values = pq.read_table(result.folder / "parquet" / f"{table}.parquet")[column]
        assert max(values.to_pylist()) <= values.length()
    persons = pq.read_table(result.folder / "parquet" / "person.parquet")
    assert not set(persons[PSEUDONYM].to_pylist()) & {str(i) for i in store_ids}


def _ndjson(path: Path) -> list[dict[str, object]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines() if line]


def test_fhir_resources_validate_and_reference_patients(lung: Backend, tmp_path: Path) -> None:
    result = _build(lung, _permit(tuple(BY_NAME), precision="month"), tmp_path / "fhir")
    folder = result.folder / "fhir"
    patients = {str(p["id"]) for p in _ndjson(folder / "Patient.ndjson")}
    seen = collections.Counter[str]()
    for path in sorted(folder.glob("*.ndjson")):
        lines = path.read_bytes().splitlines()
        assert lines, path.name
        for line in lines[:25] + lines[-5:]:  # a sample of each file
            get_fhir_model_class(path.stem).model_validate_json(line)
            resource = orjson.loads(line)
            assert resource["resourceType"] == path.stem
            if path.stem != "Patient":
                assert resource["subject"]["reference"].removeprefix("Patient/") in patients
            seen[path.stem] += 1
    assert set(seen) == {
        "Patient", "Condition", "Observation", "MedicationStatement", "Procedure",
    }  # fmt: skip
    # month precision: FHIR dates are YYYY-MM, the dead have a deceasedDateTime
    conditions = _ndjson(folder / "Condition.ndjson")
    assert all(len(str(c["onsetDateTime"])) == 7 for c in conditions)
    dead = [p for p in _ndjson(folder / "Patient.ndjson") if "deceasedDateTime" in p]
    deaths = pq.read_table(result.folder / "parquet" / "death.parquet")
    assert len(dead) == deaths.num_rows > 0


def test_two_permits_on_one_cohort_share_no_pseudonym(lung: Backend, tmp_path: Path) -> None:
    variables = ("person.sex", "tumour.icd10")
    a = _build(lung, _permit(variables, project="proj-a", pid=1), tmp_path / "a")
    b = _build(lung, _permit(variables, project="proj-b", pid=2), tmp_path / "b")
    again = _build(lung, _permit(variables, project="proj-a", pid=1), tmp_path / "a2")

    def codes(result: ExtractResult) -> set[str]:
        found: set[str] = set()
        for path in (result.folder / "parquet").glob("*.parquet"):
            found |= set(pq.read_table(path)[PSEUDONYM].to_pylist())
        return found

    for result in (a, b):  # rows in pseudonym order, never in the store's person order
        for path in (result.folder / "parquet").glob("*.parquet"):
            column = pq.read_table(path)[PSEUDONYM].to_pylist()
            assert column == sorted(column)
    codes_a, codes_b = codes(a), codes(b)
    assert len(codes_a) == len(codes_b) == LUNG_PERSONS
    assert not codes_a & codes_b  # the two projects cannot be joined
    assert codes(again) == codes_a  # one project: stable pseudonyms
    # and they are the linkage domain's per-project HMAC of the members
    members = _source(lung, "SELECT subject_id FROM cohort")["subject_id"].to_pylist()
    assert set(_pseudonym_of(members, "proj-b")) == codes_b


@pytest.mark.parametrize("precision", ["day", "month", "year", "shift"])
def test_dates_follow_the_permit(lung: Backend, tmp_path: Path, precision: str) -> None:
    variables = ("tumour.diagnosis_date", "treatment.drug_date", "death.date")
    result = _build(lung, _permit(variables, precision=precision), tmp_path / precision)
    owner = _pseudonym_of(list(range(1, LUNG_PERSONS + 1)), "proj-a")
    truth = {
        int(r["person_id"]): r["condition_start_date"]
        for r in _source(
            lung, "SELECT person_id, condition_start_date FROM condition_occurrence"
        ).to_pylist()
    }
    conditions = pq.read_table(result.folder / "parquet" / "condition_occurrence.parquet")
    drugs = pq.read_table(result.folder / "parquet" / "drug_exposure.parquet")
    released = dict(zip(conditions[PSEUDONYM].to_pylist(),
                        conditions["condition_start_date"].to_pylist(), strict=True))  # fmt: skip
    drug_dates = dict(zip(drugs[PSEUDONYM].to_pylist(),
                          drugs["drug_exposure_start_date"].to_pylist(), strict=True))  # fmt: skip
    offsets = set()
    for code, date in released.items():
        true = truth[owner[code]]
        if precision == "day":
            assert date == true
        elif precision == "month":
            assert date == true.replace(day=1)
        elif precision == "year":
            assert date == dt.date(true.year, 1, 1)
        else:
            offset = (date - true).days
            assert 1 <= abs(offset) <= SHIFT_MAX_DAYS
            offsets.add(offset)
            # one offset per person: the 30 days to treatment survive the shift
            assert (drug_dates[code] - date).days == 30
    if precision == "shift":
        assert len(offsets) > LUNG_PERSONS // 3  # offsets differ between persons


def test_rare_categories_are_generalised(lung: Backend, tmp_path: Path) -> None:
    variables = ("person.departement", "tumour.icd10", "tumour.icdo3", "person.year_of_birth")
    result = _build(lung, _permit(variables), tmp_path / "rare")
    person = pq.read_table(result.folder / "parquet" / "person.parquet")
    conditions = pq.read_table(result.folder / "parquet" / "condition_occurrence.parquet")
    counties = collections.Counter(person["county"].to_pylist())
    assert RARE_DEPT not in counties and counties["other"] == 1
    assert {c for c in counties if c != "other"} == {"75", "13", "69"}
    sites = collections.Counter(conditions["condition_source_value"].to_pylist())
    assert RARE_ICD10 not in sites and sites["other"] == 1
    assert all(n >= 11 for s, n in sites.items() if s != "other")
    icdo3 = conditions["condition_status_source_value"].to_pylist()
    assert not any(RARE_ICD10 in str(v) for v in icdo3)
    # years of birth drawn over 20 years for 90 persons: some are rare, so 5-year bands
    years = [y for y in person["year_of_birth"].to_pylist() if y is not None]
    assert all(y % 5 == 0 for y in years)
    counts = collections.Counter(years)
    assert all(n >= 11 for n in counts.values())
    generalised = result.report["generalised"]
    assert isinstance(generalised, dict)
    assert generalised["county"] == {"rows_moved_per_level": [1, 1]}


def test_kanonymity_report_matches_the_released_data(lung: Backend, tmp_path: Path) -> None:
    variables = ("person.sex", "person.departement", "person.year_of_birth",
                 "tumour.icd10", "tumour.diagnosis_date")  # fmt: skip
    result = _build(lung, _permit(variables), tmp_path / "k")
    report = json.loads((result.folder / "kanonymity.json").read_text())
    assert report["k_min"] == result.k_min == result.report["k_min"]
    assert report["quasi_identifiers"] == ["age_group", "sex", "departement",
                                           "diagnosis_year", "site"]  # fmt: skip
    person = pq.read_table(result.folder / "parquet" / "person.parquet").to_pylist()
    conditions = pq.read_table(result.folder / "parquet" / "condition_occurrence.parquet")
    first = {}
    for row in sorted(
        conditions.to_pylist(), key=lambda r: (r[PSEUDONYM], r["condition_start_date"])
    ):
        first.setdefault(row[PSEUDONYM], row)
    classes = collections.Counter()
    for p in person:
        c = first.get(p[PSEUDONYM])
        year = c["condition_start_date"].year if c else None
        site = c["condition_source_value"] if c else None
        site = site if site in (None, "other") else site[:3]
        age = (year - p["year_of_birth"]) // 5 * 5 if year and p["year_of_birth"] else None
        classes[(age, p["gender_concept_id"], p["county"], year, site)] += 1
    sizes = collections.Counter(classes.values())
    assert report["k_min"] == min(classes.values())
    assert report["class_sizes"] == {str(s): n for s, n in sorted(sizes.items())}
    below = sum(n for n in classes.values() if n < 11)
    assert report["persons_in_classes_below_threshold"] == below
    assert report["share_below_threshold"] == pytest.approx(below / LUNG_PERSONS, abs=1e-6)
    # a coarse extract (sex alone) is 11-anonymous
    coarse = _build(lung, _permit(("person.sex",)), tmp_path / "coarse")
    assert coarse.k_min >= 11 and coarse.report["quasi_identifiers"] == ["sex"]


def test_bad_permits_are_refused_with_a_reason(lung: Backend, tmp_path: Path) -> None:
    with pytest.raises(ShareError, match=r"unknown variable.*'person\.name'"):
        _build(lung, _permit(("person.name",)), tmp_path / "a")
    with pytest.raises(ShareError, match="date precision 'week'"):
        _build(lung, _permit(("person.sex",), precision="week"), tmp_path / "b")
    bad_cohort = PermitSpec(permit_id=3, project_id="p", cohort="stomach",
                            variables=("person.sex",), date_precision="day")  # fmt: skip
    with pytest.raises(ShareError, match="cohort 'stomach' has not been built"):
        _build(lung, bad_cohort, tmp_path / "c")
    assert not (tmp_path / "c").exists()
    precious = tmp_path / "home"
    precious.mkdir()
    (precious / "keep.txt").write_text("not an extract")
    with pytest.raises(ShareError, match="not an extract"):
        _build(lung, _permit(("person.sex",)), precious)
    assert (precious / "keep.txt").read_text() == "not an extract"


def test_extract_on_every_engine(backend: Backend, tmp_path: Path) -> None:
    """The extract's SQL is portable: the same permit gives the same extract on each engine."""
    fill_lung_store(backend, persons=30)
    variables = ("person.sex", "person.departement", "tumour.icd10", "tumour.stage",
                 "treatment.procedure_date", "death.date")  # fmt: skip
    result = _build(backend, _permit(variables, precision="year"), tmp_path / "x")
    assert result.persons == 30
    with connect(f"duckdb:///{tmp_path / 'ref.duckdb'}") as reference:
        fill_lung_store(reference, persons=30)
        expected = _build(reference, _permit(variables, precision="year"), tmp_path / "ref")
    for path in (expected.folder / "parquet").glob("*.parquet"):
        assert pq.read_table(result.folder / "parquet" / path.name).equals(pq.read_table(path))
    assert result.report["k_min"] == expected.report["k_min"]


def test_generalisation_threshold_and_an_empty_extract(lung: Backend, tmp_path: Path) -> None:
    variables = ("person.departement", "tumour.icd10")
    exact = build_extract(lung, _permit(variables), out_dir=tmp_path / "k1",
                          pseudonym_key=KEY, k=1)  # fmt: skip
    counties = pq.read_table(exact.folder / "parquet" / "person.parquet")["county"].to_pylist()
    sites = pq.read_table(exact.folder / "parquet" / "condition_occurrence.parquet")
    assert RARE_DEPT in counties and RARE_ICD10 in sites["condition_source_value"].to_pylist()
    everyone = list(range(1, LUNG_PERSONS + 1))
    empty = build_extract(lung, _permit(variables), out_dir=tmp_path / "none",
                          pseudonym_key=KEY, excluded_person_ids=everyone)  # fmt: skip
    assert (empty.persons, empty.rows, empty.k_min) == (0, 0, 0)
    assert pq.read_table(empty.folder / "parquet" / "person.parquet").num_rows == 0
    assert (empty.folder / "fhir" / "Patient.ndjson").read_bytes() == b""
