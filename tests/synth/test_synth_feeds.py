"""The registry and death feeds, the truth files and the manifest of a small nation."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
from pathlib import Path

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from oncobase.synth import LAYOUT, generate_nation, read_manifest
from oncobase.synth.deaths import FIELDS, LINE_LENGTH, parse_death_line
from oncobase.synth.registry import COLUMNS, REGISTRIES, dialect_of
from oncobase.synth.schema import TRUTH_TABLES

OWN_FEEDS = ("registries", "deaths")


def _digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def nation(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("nation")
    generate_nation(out, patients=4_000, seed=99, chunk_size=1_500, feeds=OWN_FEEDS)
    return out


def test_same_seed_same_bytes(nation: Path, tmp_path: Path) -> None:
    generate_nation(tmp_path, patients=4_000, seed=99, chunk_size=1_500, feeds=OWN_FEEDS)
    assert _digest(tmp_path) == _digest(nation)


def test_another_seed_other_bytes(nation: Path, tmp_path: Path) -> None:
    generate_nation(tmp_path, patients=4_000, seed=100, chunk_size=1_500, feeds=OWN_FEEDS)
    assert _digest(tmp_path)["truth/persons.parquet"] != _digest(nation)["truth/persons.parquet"]


def test_truth_tables_follow_the_schemas(nation: Path) -> None:
    tables = {}
    for name, schema in TRUTH_TABLES.items():
        table = pq.read_table(nation / LAYOUT["truth"].format(table=name))
        assert table.schema.equals(schema), name
        tables[name] = table
    persons, tumours = tables["persons"], tables["tumours"]
    assert len(pc.unique(persons["person_key"])) == persons.num_rows
    cancer = persons.filter(persons["is_cancer_patient"])
    assert cancer.num_rows == 4_000
    assert set(tumours["person_key"].to_pylist()) == set(cancer["person_key"].to_pylist())
    for name in ("treatments", "visits", "specimens"):
        keys = set(tables[name]["tumour_key"].to_pylist())
        assert keys <= set(tumours["tumour_key"].to_pylist()), name
    # non-cancer persons all die over the span; vital status date is death or closing
    others = persons.filter(pc.invert(persons["is_cancer_patient"]))
    assert others.num_rows == round(4_000 * 1.2)
    assert others["death_date"].null_count == 0
    closing = dt.date(2025, 6, 30)
    dead = persons.filter(pc.is_valid(persons["death_date"]))
    assert max(dead["death_date"].to_pylist()) <= closing
    assert pc.all(pc.equal(dead["vital_status_date"], dead["death_date"])).as_py()
    # deaths after diagnosis, treatments after diagnosis
    dx = dict(
        zip(tumours["tumour_key"].to_pylist(), tumours["diagnosis_date"].to_pylist(), strict=True)
    )
    tr = tables["treatments"]
    assert all(
        s >= dx[k]
        for k, s in zip(tr["tumour_key"].to_pylist(), tr["start_date"].to_pylist(), strict=True)
    )


def test_codes_exist_in_the_builtin_vocabulary(nation: Path) -> None:
    vocab = Path(__file__).parents[2] / "src/oncobase/vocab/data"

    def codes(name: str) -> set[str]:
        with (vocab / name).open(encoding="utf-8") as handle:
            return {row["code"] for row in csv.DictReader(handle)}

    tumours = pq.read_table(nation / "truth/tumours.parquet")
    assert set(tumours["topography"].to_pylist()) <= codes("icdo3_topography.csv")
    assert set(tumours["morphology"].to_pylist()) <= codes("icdo3_morphology.csv")
    assert set(tumours["icd10"].to_pylist()) <= codes("icd10.csv")
    tr = pq.read_table(nation / "truth/treatments.parquet")
    atc = tr.filter(pc.equal(tr["code_system"], "ATC"))["code"].to_pylist()
    assert atc
    assert set(atc) <= codes("atc_l01_l02.csv")


def test_death_file_parses_back(nation: Path) -> None:
    persons = pq.read_table(nation / "truth/persons.parquet")
    dead = persons.filter(pc.is_valid(persons["death_date"]))
    files = sorted((nation / "feeds/deaths").glob("deces-*.txt"))
    assert [f.name for f in files] == [f"deces-{y}.txt" for y in range(2015, 2026)]
    assert FIELDS[-1][2] == LINE_LENGTH == 176
    by_cert = {}
    total = 0
    for path in files:
        raw = path.read_bytes()
        assert raw.isascii()
        lines = raw.decode("ascii").split("\n")
        assert lines[-1] == ""
        for line in lines[:-1]:
            assert len(line) == LINE_LENGTH
            row = parse_death_line(line)
            assert row["name"].count("*") == 1
            assert row["name"].endswith("/")
            assert row["sex"] in ("1", "2")
            assert row["death_date"][:4] == path.stem[-4:]
            dt.datetime.strptime(row["death_date"], "%Y%m%d")
            assert len(row["birth_place"]) == 5
            assert (row["birth_country"] == "") == (not row["birth_place"].startswith("99"))
            by_cert[(row["death_date"], row["death_place"], row["certificate"])] = row
            total += 1
    assert total == dead.num_rows
    # field positions: the truth's death date / place / certificate sit where the layout says
    first = dead.slice(0, 50).to_pylist()
    for person in first:
        key = (
            person["death_date"].strftime("%Y%m%d"),
            person["death_commune"],
            person["death_certificate"],
        )
        assert key in by_cert


@pytest.mark.parametrize("registry", [r.id for r in REGISTRIES])
def test_registry_csv_parses_in_its_dialect(nation: Path, registry: str) -> None:
    dialect = dialect_of(registry)
    path = nation / LAYOUT["registries"].format(facility=registry)
    with path.open(encoding=dialect.encoding, newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter=dialect.delimiter))
    header = [name for name, _ in COLUMNS]
    with path.open(encoding=dialect.encoding, newline="") as handle:
        assert next(csv.reader(handle, delimiter=dialect.delimiter)) == header
    persons = pq.read_table(nation / "truth/persons.parquet")
    tumours = pq.read_table(nation / "truth/tumours.parquet")
    covers = next(r.covers for r in REGISTRIES if r.id == registry)
    residents = persons.filter(pc.is_in(persons["departement"], pa.array(covers)))
    theirs = tumours.filter(pc.is_in(tumours["person_key"], residents["person_key"]))
    # near-complete, not complete: the tumours the registry captured (synth/capture.py)
    expected = theirs.filter(theirs["captured_registry"])
    assert len(rows) == expected.num_rows
    assert 0.9 * theirs.num_rows <= len(rows) <= theirs.num_rows
    date_format = "%d/%m/%Y" if registry == "REG_14" else "%Y-%m-%d"
    for row in rows:
        assert row["registre"] == registry
        assert row["id_patient"].startswith(f"{registry}-")
        dt.datetime.strptime(row["date_incidence"], date_format)
        assert row["comportement"] == "3"
        assert len(row["morphologie"]) == 4
        assert row["topographie"].startswith("C")
    if registry == "REG_14":
        assert dialect.delimiter == ";"
        assert dialect.encoding == "latin-1"


def test_manifest(nation: Path) -> None:
    manifest = read_manifest(nation)
    assert manifest is not None
    assert manifest["seed"] == 99
    assert manifest["patients"] == 4_000
    assert manifest["noise_rates"]["hospital"]["typo"] == pytest.approx(0.03)
    raw = (nation / "manifest.json").read_bytes()
    assert orjson.loads(raw)["counts"]["truth:persons"] == 4_000 + 4_800
    # how many tumours each feed captured, and how many none did (synth/capture.py)
    tumours = pq.read_table(nation / "truth/tumours.parquet")
    capture = manifest["capture"]
    assert capture["tumours"] == tumours.num_rows
    for kind in ("hospital", "pathology", "registry"):
        assert capture[kind] == pc.sum(tumours[f"captured_{kind}"]).as_py(), kind
    seen = pc.or_(
        pc.or_(tumours["captured_hospital"], tumours["captured_pathology"]),
        tumours["captured_registry"],
    )
    assert capture["none"] == tumours.num_rows - pc.sum(seen).as_py() > 0
    deaths = manifest["feeds"]["deaths"]["files"]
    assert sum(deaths.values()) == manifest["counts"]["feed:deaths"]
    assert np.isclose(sum(deaths.values()), manifest["counts"]["feed:deaths"])
