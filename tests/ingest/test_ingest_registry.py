"""Registry CSV extracts: dialects sniffed, mapping files, bad rows quarantined."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from oncobase.config import load_settings
from oncobase.ingest import (
    IngestError,
    Quarantine,
    read_mapping,
    read_registry_csv,
    stage_registry_csv,
)

HEADER = [
    "registre",
    "id_patient",
    "num_tumeur",
    "nom",
    "nom_naissance",
    "prenoms",
    "sexe",
    "date_naissance",
    "commune_naissance",
    "code_postal",
    "commune_residence",
    "nir",
    "date_incidence",
    "topographie",
    "morphologie",
    "comportement",
    "grade",
    "base_diagnostic",
    "stade",
    "tnm",
    "cim10",
]


def row(**overrides: str) -> list[str]:
    values = {
        "registre": "REG_38",
        "id_patient": "P1",
        "num_tumeur": "1",
        "nom": "Lefèvre",
        "nom_naissance": "Lefèvre",
        "prenoms": "Hélène Marie",
        "sexe": "2",
        "date_naissance": "1950-04-02",
        "commune_naissance": "38185",
        "code_postal": "38000",
        "commune_residence": "38185",
        "nir": "",
        "date_incidence": "2020-03-01",
        "topographie": "C50.4",
        "morphologie": "8500",
        "comportement": "3",
        "grade": "2",
        "base_diagnostic": "7",
        "stade": "IIA",
        "tnm": "pT2 N0 M0",
        "cim10": "C50.4",
    }
    values.update(overrides)
    return [values[h] for h in HEADER]


def write_csv(
    path: Path, rows: list[list[str]], *, delimiter: str = ",", encoding: str = "utf-8"
) -> Path:
    lines = [delimiter.join(HEADER)] + [delimiter.join(f'"{v}"' for v in r) for r in rows]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode(encoding))
    return path


@pytest.mark.parametrize(
    ("delimiter", "encoding"), [(",", "utf-8"), (";", "latin-1"), ("\t", "utf-8")]
)
def test_dialects_are_sniffed(tmp_path: Path, delimiter: str, encoding: str) -> None:
    path = write_csv(
        tmp_path / "REG_38" / "t.csv",
        [row(), row(id_patient="P2", date_incidence="02/03/2021")],
        delimiter=delimiter,
        encoding=encoding,
    )
    quarantine = Quarantine(source="REG_38")
    table, read = read_registry_csv(path, mapping=read_mapping(), quarantine=quarantine)
    assert read == 2 and len(quarantine) == 0
    assert table["family_name"].to_pylist() == ["Lefèvre", "Lefèvre"]
    assert table["first_names"][0].as_py() == "Hélène Marie"


def test_staging_and_quarantine(tmp_path: Path) -> None:
    home = load_settings(home=tmp_path / "home")
    rows = [
        row(),
        row(id_patient="P2", num_tumeur="1", topographie="C504", morphologie="8140/3", cim10=""),
        row(id_patient="", nom="X"),  # no patient id
        row(id_patient="P4", date_incidence="2020-02-30"),  # impossible date
        row(id_patient="P5", topographie="CC50"),  # bad code
        row(id_patient="P6", morphologie="85X0"),
    ]
    path = write_csv(tmp_path / "REG_38" / "tumours.csv", rows)
    with path.open("a") as handle:
        handle.write('"REG_38","P7","1"\r\n')  # too few fields
    counts = stage_registry_csv([path], settings=home)
    assert counts.read == 7
    assert counts.accepted == 2
    assert counts.quarantined == 5
    assert counts.by_reason == {"missing-element": 1, "bad-date": 1, "bad-code": 2, "bad-row": 1}
    assert counts.quarantine is not None
    assert sorted(r.location for r in counts.quarantine.rejects) == [
        "line 4",
        "line 5",
        "line 6",
        "line 7",
        "line 8",
    ]
    folder = home.home_path / "staging" / "clinical" / "REG_38"
    conditions = pq.read_table(folder / "condition_occurrence.parquet").to_pylist()
    assert [c["condition_source_value"] for c in conditions] == ["C50.4", "C50.4"]
    assert conditions[1]["condition_status_source_value"] == "8140/3-C50.4"
    measurement = pq.read_table(folder / "measurement.parquet").to_pylist()
    assert measurement[0]["event_record_key"] == conditions[0]["record_key"]
    assert measurement[0]["value_source_value"] == "IIA"
    person = pq.read_table(folder / "person.parquet").to_pylist()
    assert (person[0]["year_of_birth"], person[0]["month_of_birth"], person[0]["departement"]) == (
        1950,
        4,
        "38",
    )
    clinical = " ".join(str(pq.read_table(p).to_pylist()) for p in folder.glob("*.parquet"))
    assert "Lefèvre" not in clinical and "Hélène" not in clinical and "1950-04-02" not in clinical
    identity = pq.read_table(home.home_path / "staging/identity/REG_38.parquet").to_pylist()
    assert identity[0]["last_name"] == "Lefèvre" and identity[0]["birth_date"] == "1950-04-02"


def test_mapping_file_for_another_layout(tmp_path: Path) -> None:
    mapping = tmp_path / "mapping.toml"
    mapping.write_text(
        '[columns]\npatient_id = "PID"\nincidence_date = "DIAG"\ntopography = "TOPO"\n'
        'morphology = "MORPH"\nsex = "SEX"\nbirth_date = "DOB"\n'
    )
    path = tmp_path / "OTHER" / "x.csv"
    path.parent.mkdir()
    path.write_text("PID|DIAG|TOPO|MORPH|SEX|DOB\nA1|20200101|C18.7|8140/3|M|19600101\n")
    counts = stage_registry_csv(
        [path], settings=load_settings(home=tmp_path / "h"), mapping_path=mapping
    )
    assert (counts.read, counts.accepted) == (1, 1)
    missing = tmp_path / "bad.toml"
    missing.write_text('[columns]\npatient_id = "PID"\n')
    with pytest.raises(IngestError, match="does not name the column"):
        read_mapping(missing)


def test_missing_required_column_says_what_to_do(tmp_path: Path) -> None:
    path = tmp_path / "R" / "x.csv"
    path.parent.mkdir()
    path.write_text("a,b\n1,2\n")
    with pytest.raises(IngestError, match="give a mapping file with --mapping"):
        stage_registry_csv([path], settings=load_settings(home=tmp_path / "h"))


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    cells=st.lists(
        st.lists(
            st.text(
                alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters='"\r\n,'),
                max_size=12,
            ),
            min_size=len(HEADER),
            max_size=len(HEADER),
        ),
        max_size=10,
    )
)
def test_any_cells_never_crash_and_counts_add_up(tmp_path: Path, cells: list[list[str]]) -> None:
    path = write_csv(tmp_path / "H" / "x.csv", cells)
    counts = stage_registry_csv([path], settings=load_settings(home=tmp_path / "home"))
    assert counts.read == len(cells)
    assert counts.accepted + counts.quarantined == counts.read
