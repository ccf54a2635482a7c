"""The INSEE death-file reader: layout, bad lines quarantined, counts add up."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from oncobase.config import Settings, load_settings
from oncobase.ingest import Quarantine, read_death_file, stage_death_files
from oncobase.ingest.deaths import FIELDS, LINE_LENGTH


def death_line(
    name: str = "MARTIN*JEANNE MARIE/",
    sex: str = "2",
    birth: str = "19400315",
    birth_place: str = "75056",
    commune: str = "PARIS",
    country: str = "",
    death: str = "20200102",
    death_place: str = "35238",
    certificate: str = "123",
) -> str:
    parts = [
        name.ljust(80),
        sex,
        birth,
        birth_place.ljust(5),
        commune.ljust(30),
        country.ljust(30),
        death,
        death_place.ljust(5),
        certificate.ljust(9),
    ]
    line = "".join(parts)
    assert len(line) == LINE_LENGTH
    return line


def test_layout_positions_match_the_documented_fields() -> None:
    line = death_line()
    for name, (start, end) in FIELDS.items():
        assert end >= start
        assert (
            line[start - 1 : end].strip()
            == {
                "name": "MARTIN*JEANNE MARIE/",
                "sex": "2",
                "birth_date": "19400315",
                "birth_place": "75056",
                "birth_commune_name": "PARIS",
                "birth_country": "",
                "death_date": "20200102",
                "death_place": "35238",
                "certificate": "123",
            }[name]
        )


def test_parses_fields(tmp_path: Path) -> None:
    path = tmp_path / "deces-2020.txt"
    path.write_text(
        death_line() + "\n" + death_line(name="DUPONT*PAUL/", sex="1", birth="19500000") + "\n"
    )
    quarantine = Quarantine(source="INSEE")
    table = read_death_file(path, quarantine)
    rows = table.to_pylist()
    assert len(quarantine) == 0
    assert rows[0]["birth_name"] == "MARTIN"
    assert rows[0]["first_names"] == "JEANNE MARIE"
    assert rows[0]["sex"] == "F"
    assert rows[0]["birth_date"] == "1940-03-15"
    assert rows[0]["death_date"] == dt.date(2020, 1, 2)
    assert rows[1]["birth_date"] == "1950"  # unknown month and day kept partial


def test_bad_lines_are_quarantined_and_counts_add_up(tmp_path: Path) -> None:
    home = load_settings(home=tmp_path / "home")
    path = tmp_path / "deces-2021.txt"
    good = death_line()
    lines = [
        good,
        good[:100],  # truncated
        death_line(death="20211345"),  # impossible date
        death_line(name="NO SEPARATOR"),
        death_line(sex="3"),
        death_line(certificate="456"),
    ]
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode("ascii") + b"\xe9" * 176 + b"\n")
    counts = stage_death_files([path], settings=home)
    assert counts.read == 7
    assert counts.accepted == 2
    assert counts.quarantined == 5
    assert counts.read == counts.accepted + counts.quarantined
    assert counts.by_reason == {
        "bad-length": 1,
        "bad-date": 1,
        "bad-name": 1,
        "bad-sex": 1,
        "bad-encoding": 1,
    }
    assert counts.quarantine is not None
    locations = sorted(r.location for r in counts.quarantine.rejects)
    assert locations == ["line 2", "line 3", "line 4", "line 5", "line 7"]
    staged = pq.read_table(home.home_path / "staging/clinical/INSEE/death.parquet")
    assert staged.num_rows == 2
    assert "MARTIN" not in str(staged.to_pylist())  # identity stays out of the clinical part
    identity = pq.read_table(home.home_path / "staging/identity/INSEE.parquet")
    assert identity["birth_name"].to_pylist() == ["MARTIN", "MARTIN"]


def test_same_death_in_two_files_is_kept_once(tmp_path: Path) -> None:
    home = load_settings(home=tmp_path / "home")
    for year in (2020, 2021):
        (tmp_path / f"deces-{year}.txt").write_text(death_line() + "\n")
    counts = stage_death_files(sorted(tmp_path.glob("*.txt")), settings=home)
    assert counts.accepted == 1
    assert counts.by_reason["duplicate-line (kept once)"] == 1


def test_empty_file(tmp_path: Path) -> None:
    home = load_settings(home=tmp_path / "home")
    (tmp_path / "deces-2022.txt").write_bytes(b"")
    counts = stage_death_files([tmp_path / "deces-2022.txt"], settings=home)
    assert (counts.read, counts.accepted, counts.quarantined) == (0, 0, 0)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@example(data=[b"\xef\xbb\xbf"])  # a file holding only a byte-order mark has no record
@given(data=st.lists(st.binary(min_size=0, max_size=200), max_size=20))
def test_any_bytes_never_crash_and_counts_add_up(tmp_path: Path, data: list[bytes]) -> None:
    path = tmp_path / "deces-x.txt"
    path.write_bytes(b"\n".join(d.replace(b"\n", b" ") for d in data) + b"\n")
    quarantine = Quarantine(source="INSEE")
    table = read_death_file(path, quarantine)

    def is_record(line: bytes) -> bool:  # blank ASCII lines are skipped, anything else counts
        try:
            return bool(line.decode("ascii").strip())
        except UnicodeDecodeError:
            return True

    lines = [d.replace(b"\n", b" ") for d in data]
    if lines and lines[0].startswith(b"\xef\xbb\xbf"):  # a byte-order mark is not content
        lines[0] = lines[0][3:]
    expected = sum(1 for line in lines if is_record(line))
    assert table.num_rows + len(quarantine) == expected


@pytest.fixture
def settings_home(tmp_path: Path) -> Settings:
    return load_settings(home=tmp_path / "home")
