"""The data catalogue on a real DuckDB store: HealthDCAT-AP JSON-LD built from the live data,
validated against the derived schema (which must also reject broken documents), searchable,
and kept current by its pipeline step."""

from __future__ import annotations

import copy
import datetime as dt
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from tests.api._web import build_small_store

from oncobase.cohorts import build_cohort, load_cohort
from oncobase.config import Settings, load_settings
from oncobase.errors import PipelineError
from oncobase.share.catalogue import (
    ACCESS_RIGHTS,
    CATALOGUE_FILE,
    build_catalogue,
    load_catalogue,
    read_catalogue_options,
)
from oncobase.share.catalogue_check import (
    CatalogueError,
    check_catalogue,
    load_schema,
    validate_catalogue,
)
from oncobase.share.catalogue_views import find_dataset, search_catalogue
from oncobase.share.variables import VARIABLES
from oncobase.store import Backend, bulk_load, connect

BASE = "https://oncobase.example.fr"
NOW = dt.datetime(2026, 1, 15, 12, 0, tzinfo=dt.UTC)


def _load(backend: Backend, table: str, columns: dict[str, list[Any]]) -> None:
    bulk_load(backend, table, pa.table(columns), step="test", source="catalogue-test")


def _add_tumours(
    backend: Backend, first_id: int, code: str, dates: list[dt.date], location: int | None = None
) -> None:
    ids = list(range(first_id, first_id + len(dates)))
    n = len(ids)
    _load(backend, "person", {
        "person_id": ids, "gender_concept_id": [8507] * n, "year_of_birth": [1950] * n,
        "race_concept_id": [0] * n, "ethnicity_concept_id": [0] * n,
        "location_id": [location or 1 + i % 2 for i in range(n)],
    })  # fmt: skip
    _load(backend, "condition_occurrence", {
        "condition_occurrence_id": ids, "person_id": ids, "condition_concept_id": [0] * n,
        "condition_start_date": dates, "condition_type_concept_id": [32817] * n,
        "condition_source_value": [code] * n,
    })  # fmt: skip


def _quality_run(backend: Backend, run_id: str, started: dt.datetime, num: int) -> None:
    _load(backend, "quality__runs", {
        "run_id": [run_id], "scope": ["store"], "started_at": [started],
        "ended_at": [started + dt.timedelta(minutes=1)], "rules_version": ["2024.1"],
        "records": [200], "error_records": [3], "warning_records": [9], "checks_failed": [0],
        "label": ["B"],
    })  # fmt: skip
    _load(backend, "quality__indicators", {
        "run_id": [run_id] * 3, "source": ["REG_14", "REG_35", "REG_14"],
        "year": [None, None, 2020], "site_group": ["ALL", "ALL", "C34"],
        "indicator": ["DCO_PCT"] * 3, "numerator": [num, 2, 99], "denominator": [100, 100, 100],
        "value": [float(num), 2.0, 99.0], "threshold": [5.0] * 3,
    })  # fmt: skip


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The small real store of the web tests, plus départements, a lung cohort of 30, a
    mesothelioma cohort of 3 and two quality runs."""
    path = build_small_store(tmp_path_factory.mktemp("catalogue") / "store.duckdb")
    with connect(f"duckdb:///{path}") as backend:
        _load(backend, "location", {"location_id": [1, 2, 3], "county": ["75", "2A", "13"]})
        _add_tumours(
            backend, 1000, "C34.1", [dt.date(2019, 1 + i % 12, 1 + i % 28) for i in range(30)]
        )
        _add_tumours(backend, 2000, "C45.0", [dt.date(2021, 5, 1)] * 3, location=3)
        build_cohort(backend, load_cohort("lung"))
        build_cohort(backend, load_cohort("mesothelioma"))
        _quality_run(backend, "run-old", dt.datetime(2025, 1, 1), num=50)
        _quality_run(backend, "run-new", dt.datetime(2025, 6, 1), num=8)
    return path


@pytest.fixture(scope="module")
def backend(store: Path) -> Iterator[Backend]:
    with connect(f"duckdb:///{store}") as b:
        yield b


@pytest.fixture(scope="module")
def catalogue(backend: Backend) -> dict[str, Any]:
    """Built once; tests that break it work on a deep copy."""
    return build_catalogue(backend, base_url=BASE, now=NOW)


def _dataset(doc: dict[str, Any], dataset_id: str) -> dict[str, Any]:
    node = find_dataset(doc, dataset_id)
    assert node is not None, f"{dataset_id} missing from the catalogue"
    return node


def _int(node: dict[str, Any], key: str) -> int:
    literal = node[key]
    assert literal["@type"] == "xsd:nonNegativeInteger"
    return int(literal["@value"])


# -- valid, and described from the store ------------------------------------------------------
def test_the_catalogue_validates_against_the_derived_schema(catalogue: dict[str, Any]) -> None:
    assert validate_catalogue(catalogue) == []
    check_catalogue(catalogue)  # raises when invalid
    schema = load_schema()
    assert "DERIVED SCHEMA, NOT THE OFFICIAL SHACL" in schema["$comment"]
    assert "HealthDCAT-AP release 5" in schema["$comment"]
    assert isinstance(catalogue["@context"], dict)  # inline, nothing fetched
    json.loads(json.dumps(catalogue))  # plain JSON
    ids = {node["@id"].rsplit("/", 1)[-1] for node in catalogue["dcat:dataset"]}
    assert {"omop-person", "omop-condition_occurrence", "omop-death", "cohort-lung",
            "cohort-mesothelioma", "stats-incidence", "stats-survival", "stats-mortality",
            "stats-prevalence"} <= ids  # fmt: skip
    assert "omop-concept" not in ids  # vocabulary tables are not shareable datasets
    # a column is described for its table: the year of death, the index year
    for dataset_id, wanted in (("stats-mortality", "Year of death."),
                               ("stats-prevalence", "Index year")):  # fmt: skip
        columns = _dataset(catalogue, dataset_id)["dcat:distribution"][0]["csvw:tableSchema"]
        year = next(c for c in columns["csvw:column"] if c["csvw:name"] == "year")
        assert str(year["dct:description"]).find(wanted) >= 0, year


def test_every_dataset_has_a_stable_iri_under_the_public_url(catalogue: dict[str, Any]) -> None:
    assert catalogue["@id"] == f"{BASE}/catalogue"
    for node in catalogue["dcat:dataset"]:
        dataset_id = node["@id"].rsplit("/", 1)[-1]
        assert node["@id"] == f"{BASE}/catalogue/datasets/{dataset_id}"
        assert node["dct:identifier"] == node["@id"]


def test_counts_and_coverage_come_from_the_store(
    backend: Backend, catalogue: dict[str, Any]
) -> None:
    conditions = _dataset(catalogue, "omop-condition_occurrence")
    assert _int(conditions, "healthdcatap:numberOfRecords") == backend.count_rows(
        "condition_occurrence"
    )
    persons = backend.scalar("SELECT count(DISTINCT person_id) FROM condition_occurrence")
    assert _int(conditions, "healthdcatap:numberOfUniqueIndividuals") == persons
    first, last = (
        backend.query_arrow(
            "SELECT min(condition_start_date) AS a, max(condition_start_date) AS b "
            "FROM condition_occurrence"
        )
        .to_pylist()[0]
        .values()
    )
    period = conditions["dct:temporal"]
    assert period["dcat:startDate"] == {"@value": first.replace(day=1).isoformat(),
                                        "@type": "xsd:date"}  # fmt: skip
    assert period["dcat:endDate"]["@value"][:7] == last.isoformat()[:7]
    places = {p["@id"] for p in conditions["dct:spatial"]}
    assert places == {  # 15 persons each in 75 and 2A; 13 has 3 persons, a small cell
        "http://publications.europa.eu/resource/authority/country/FRA",
        "http://id.insee.fr/geo/departement/75",
        "http://id.insee.fr/geo/departement/2A",
    }
    stats_places = {p["@id"] for p in _dataset(catalogue, "stats-incidence")["dct:spatial"]}
    assert "http://id.insee.fr/geo/departement/69" in stats_places

    lung = _dataset(catalogue, "cohort-lung")
    members = backend.scalar(
        "SELECT count(*) FROM cohort JOIN cohort_definition USING (cohort_definition_id) "
        "WHERE cohort_definition_name = 'lung'"
    )
    assert members == 30
    assert _int(lung, "healthdcatap:numberOfRecords") == members
    assert lung["dct:temporal"]["dcat:startDate"]["@value"] == "2019-01-01"
    assert lung["dct:temporal"]["dcat:endDate"]["@value"] == "2019-12-31"
    assert lung["dct:modified"]["@type"] == "xsd:dateTime"

    incidence = _dataset(catalogue, "stats-incidence")
    assert _int(incidence, "healthdcatap:numberOfRecords") == backend.count_rows("stats__incidence")
    low, high = (
        backend.query_arrow("SELECT min(year) AS a, max(year) AS b FROM stats__incidence")
        .to_pylist()[0]
        .values()
    )
    assert incidence["dct:temporal"]["dcat:startDate"]["@value"] == f"{low}-01-01"
    assert incidence["dct:temporal"]["dcat:endDate"]["@value"] == f"{high}-12-31"


def test_counts_under_eleven_are_withheld(catalogue: dict[str, Any]) -> None:
    small = _dataset(catalogue, "cohort-mesothelioma")
    assert "healthdcatap:numberOfRecords" not in small
    assert "healthdcatap:numberOfUniqueIndividuals" not in small
    assert "dct:temporal" not in small  # a 3-person date range is a small cell too
    assert "fewer than 11 records" in small["dct:description"]["@value"]
    never_built = _dataset(catalogue, "cohort-glioblastoma")
    assert "Not built yet" in never_built["dct:description"]["@value"]


def test_variables_carry_their_standards(catalogue: dict[str, Any]) -> None:
    lung = _dataset(catalogue, "cohort-lung")
    columns = lung["dcat:distribution"][0]["csvw:tableSchema"]["csvw:column"]
    assert [c["csvw:name"] for c in columns] == [v.name for v in VARIABLES]
    standards = {c["csvw:name"]: c["dct:conformsTo"]["dct:title"] for c in columns}
    assert standards == {v.name: v.standard for v in VARIABLES}

    conditions = _dataset(catalogue, "omop-condition_occurrence")
    omop = {c["csvw:name"]: c for c in
            conditions["dcat:distribution"][0]["csvw:tableSchema"]["csvw:column"]}  # fmt: skip
    assert omop["condition_concept_id"]["dct:conformsTo"]["dct:title"] == (
        "OMOP standard concept, domain Condition"
    )
    assert omop["condition_source_concept_id"]["dct:conformsTo"]["dct:title"].startswith(
        "OMOP source concept"
    )
    assert omop["condition_start_date"]["csvw:datatype"] == "date"
    assert "dct:conformsTo" not in omop["condition_source_value"]


def test_quality_measurements_come_from_the_latest_run(catalogue: dict[str, Any]) -> None:
    measures = _dataset(catalogue, "omop-condition_occurrence")["dqv:hasQualityMeasurement"]
    by_metric = {m["dqv:isMeasurementOf"]["@id"].rsplit("-", 1)[-1]: m for m in measures}
    # run-new: (8 + 2) / (100 + 100) over the national 'ALL' rows only
    assert by_metric["DCO_PCT"]["dqv:value"] == {"@value": "5.00", "@type": "xsd:decimal"}
    assert by_metric["QUALITY_LABEL"]["dqv:value"] == "B"
    assert by_metric["DCO_PCT"]["prov:generatedAtTime"]["@value"].startswith("2025-06-01")


def test_access_rights_legal_basis_and_distributions(catalogue: dict[str, Any]) -> None:
    for dataset_id in ("omop-person", "cohort-lung"):
        node = _dataset(catalogue, dataset_id)
        assert node["dct:accessRights"]["@id"] == ACCESS_RIGHTS["NON_PUBLIC"]
        assert node["dcat:distribution"][0]["dcat:accessURL"]["@id"] == f"{BASE}/share"
        legal = node["dpv:hasLegalBasis"]
        assert {"@id": "https://w3id.org/dpv/legal/eu/gdpr#A9-2-j"} in legal
        assert "Code de la santé publique" in legal[-1]["dct:description"]["@value"]
    stats = _dataset(catalogue, "stats-incidence")
    assert stats["dct:accessRights"]["@id"] == ACCESS_RIGHTS["PUBLIC"]
    urls = {d["dcat:accessURL"]["@id"] for d in stats["dcat:distribution"]}
    assert urls == {f"{BASE}/api/v1/open/incidence"}


# -- the validator rejects what it must --------------------------------------------------------
def _drop(doc: dict[str, Any], path: tuple[Any, ...]) -> None:
    node: Any = doc
    for key in path[:-1]:
        node = node[key]
    del node[path[-1]]


def _first(doc: dict[str, Any], dataset_id: str) -> int:
    return next(i for i, n in enumerate(doc["dcat:dataset"]) if n["@id"].endswith(dataset_id))


@pytest.mark.parametrize(
    ("path", "needle"),
    [
        (("dct:title",), "'dct:title' is a required property"),
        (("dct:publisher",), "'dct:publisher' is a required property"),
        (("dcat:dataset",), "'dcat:dataset' is a required property"),
        (("dcat:dataset", "cohort-lung", "dct:description"), "'dct:description' is a required"),
        (("dcat:dataset", "omop-person", "healthdcatap:hdab"), "'healthdcatap:hdab' is a"),
        (("dcat:dataset", "omop-person", "dcat:contactPoint"), "'dcat:contactPoint' is a"),
        (("dcat:dataset", "stats-incidence", "dcat:distribution", 0, "dcat:accessURL"),
         "'dcat:accessURL' is a required property"),
    ],
)  # fmt: skip
def test_a_missing_mandatory_property_fails(
    catalogue: dict[str, Any], path: tuple[Any, ...], needle: str
) -> None:
    broken = copy.deepcopy(catalogue)
    resolved = tuple(_first(broken, p) if isinstance(p, str) and "-" in p else p for p in path)
    _drop(broken, resolved)
    errors = validate_catalogue(broken)
    assert any(needle in e for e in errors), errors
    with pytest.raises(CatalogueError, match="not valid HealthDCAT-AP"):
        check_catalogue(broken)


def test_a_public_dataset_needs_no_contact_point_but_a_non_public_one_does(
    catalogue: dict[str, Any],
) -> None:
    broken = copy.deepcopy(catalogue)
    del broken["dcat:dataset"][_first(broken, "stats-survival")]["dcat:contactPoint"]
    assert validate_catalogue(broken) == []
    del broken["dcat:dataset"][_first(broken, "cohort-lung")]["dct:provenance"]
    assert any("'dct:provenance' is a required" in e for e in validate_catalogue(broken))


def test_relative_iris_bad_dates_and_remote_contexts_fail(catalogue: dict[str, Any]) -> None:
    lung = _first(catalogue, "cohort-lung")

    def errors_after(change: Any) -> list[str]:
        broken = copy.deepcopy(catalogue)
        change(broken, broken["dcat:dataset"][lung])
        return validate_catalogue(broken)

    relative = errors_after(lambda d, n: n["dcat:distribution"][0].update(
        {"dcat:accessURL": {"@id": "/share"}}))  # fmt: skip
    assert any("'/share' is not an absolute IRI" in e for e in relative)
    no_day = errors_after(lambda d, n: n["dct:temporal"]["dcat:startDate"].update(
        {"@value": "2019-02-30"}))  # fmt: skip
    assert any("'2019-02-30' is not an xsd:date" in e for e in no_day)
    naive = errors_after(lambda d, n: n["dct:modified"].update({"@value": "2025-01-01T10:00:00"}))
    assert any("is not an xsd:dateTime with a time zone" in e for e in naive)
    untyped = errors_after(lambda d, n: n.update({"dct:modified": "2025-01-01"}))
    assert any("dct:modified" in e for e in untyped)
    remote = errors_after(lambda d, n: d.update({"@context": "https://example.org/ctx.jsonld"}))
    assert any("@context" in e and "inline" in e for e in remote)
    unknown = errors_after(lambda d, n: n.update({"foo:bar": "x"}))
    assert any("'foo:bar' has no prefix in the @context" in e for e in unknown)
    theme = errors_after(lambda d, n: n.update({"dcat:theme": [{"@id": f"{BASE}/theme"}]}))
    assert any("dcat:theme" in e for e in theme)
    access = errors_after(lambda d, n: n.update({"dct:accessRights": {"@id": f"{BASE}/open"}}))
    assert any("dct:accessRights" in e for e in access)


# -- search ------------------------------------------------------------------------------------
def test_search_over_titles_descriptions_variables_and_themes(catalogue: dict[str, Any]) -> None:
    everything = search_catalogue(catalogue, "")
    assert len(everything) == len(catalogue["dcat:dataset"])
    lung = {v.id for v in search_catalogue(catalogue, "  LUNG icd-10 ")}
    assert "cohort-lung" in lung and "cohort-lung_nsclc" in lung
    assert all(i.startswith("cohort-lung") for i in lung)
    # accents and case ignored; a variable's standard is searchable
    assert {v.id for v in search_catalogue(catalogue, "géographique")} == {
        v.id for v in search_catalogue(catalogue, "GEOGRAPHIQUE")
    }
    assert "stats-incidence" in {v.id for v in search_catalogue(catalogue, "geographique")}
    assert {v.id for v in search_catalogue(catalogue, "condition_concept_id")} == {
        "omop-condition_occurrence",
        "omop-condition_era",
    }
    assert len(search_catalogue(catalogue, "health")) == len(everything)  # the HEAL theme
    assert search_catalogue(catalogue, "zzz-no-such-word") == []


# -- options, files, pipeline -------------------------------------------------------------------
def test_options_file_sets_the_legal_basis_and_names_bad_keys(
    tmp_path: Path, backend: Backend
) -> None:
    path = tmp_path / "catalogue.yaml"
    path.write_text("legal_basis: Autorisation CNIL n° 2099-001\npublisher_name: INCa\n", "utf-8")
    options = read_catalogue_options(path)
    doc = build_catalogue(backend, base_url=BASE, options=options, now=NOW)
    node = _dataset(doc, "omop-death")
    assert node["dpv:hasLegalBasis"][-1]["dct:description"]["@value"] == (
        "Autorisation CNIL n° 2099-001"
    )
    assert node["dct:publisher"]["foaf:name"] == "INCa"
    path.write_text("legal_basis: x\nlegal_bases: y\n", "utf-8")
    with pytest.raises(CatalogueError, match=r"unknown option.*legal_bases"):
        read_catalogue_options(path)
    path.write_text("hdab_email: not-an-address\n", "utf-8")
    with pytest.raises(CatalogueError, match="hdab_email must be an e-mail"):
        read_catalogue_options(path)


def test_public_url_setting_is_checked() -> None:
    assert load_settings(public_url="https://data.example.fr/").public_url == (
        "https://data.example.fr"
    )
    from oncobase.errors import ConfigError

    with pytest.raises(ConfigError, match="ONCOBASE_PUBLIC_URL must be an absolute"):
        load_settings(public_url="data.example.fr")


def test_pipeline_step_writes_the_file_and_reruns_when_tables_change(
    tmp_path: Path, store: Path, home: Settings
) -> None:
    import oncobase.share.steps  # noqa: F401  (registers the step)
    from oncobase.pipeline import get_step, run_pipeline

    copy_path = tmp_path / "store.duckdb"
    shutil.copy(store, copy_path)
    settings = home.model_copy(update={"public_url": BASE})
    step = get_step("catalogue")
    assert step.stage == "publish"
    assert "table:cohort" in step.inputs and "table:quality__indicators" in step.inputs
    target = settings.home_path / CATALOGUE_FILE
    with connect(f"duckdb:///{copy_path}") as backend:
        first = run_pipeline(backend, settings, steps=[step], show_progress=False)
        assert first.results[0].status == "success"
        written = json.loads(target.read_text("utf-8"))
        assert validate_catalogue(written) == []
        before = _int(_dataset(written, "omop-person"), "healthdcatap:numberOfRecords")

        again = run_pipeline(backend, settings, steps=[step], show_progress=False)
        assert again.results[0].status == "skipped"

        _add_tumours(backend, 5000, "C25.0", [dt.date(2022, 3, 1)] * 12)
        third = run_pipeline(backend, settings, steps=[step], show_progress=False)
        assert third.results[0].status == "success"
        after = json.loads(target.read_text("utf-8"))
        assert _int(_dataset(after, "omop-person"), "healthdcatap:numberOfRecords") == before + 12

        # the API's reader serves the file when it was written for this public URL …
        served = load_catalogue(backend, home=settings.home_path, base_url=BASE)
        assert served["dct:modified"] == after["dct:modified"]
        # … and builds afresh for another one (stable IRIs follow ONCOBASE_PUBLIC_URL)
        other = load_catalogue(backend, home=settings.home_path, base_url="https://x.example")
        assert other["@id"] == "https://x.example/catalogue"


def test_pipeline_step_refuses_an_invalid_options_file(
    tmp_path: Path, store: Path, home: Settings
) -> None:
    import oncobase.share.steps  # noqa: F401
    from oncobase.pipeline import get_step, run_pipeline

    copy_path = tmp_path / "store.duckdb"
    shutil.copy(store, copy_path)
    (home.home_path / "share").mkdir(parents=True)
    (home.home_path / "share" / "catalogue.yaml").write_text("colour: blue\n", "utf-8")
    with (
        connect(f"duckdb:///{copy_path}") as backend,
        pytest.raises(PipelineError, match="unknown option"),
    ):
        run_pipeline(backend, home, steps=[get_step("catalogue")], show_progress=False)
    assert not (home.home_path / CATALOGUE_FILE).exists()
