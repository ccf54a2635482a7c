from __future__ import annotations

import pyarrow as pa

from oncobase.linkage.normalise import normalise_identities, phonetic, problem_counts


def _one(**values: str | None) -> dict[str, object]:
    base: dict[str, str | None] = {
        "record_id": "r1", "source": "S", "nir": None, "last_name": "Martin",
        "birth_name": None, "first_names": "Jean", "sex": "M", "birth_date": "1950-01-02",
        "birth_place_code": "75056", "postcode": "75012",
    }  # fmt: skip
    base.update(values)
    table = pa.table({k: pa.array([v], pa.string()) for k, v in base.items()})
    row: dict[str, object] = normalise_identities(table).to_pylist()[0]
    return row


def test_particles_and_compound_names() -> None:
    a = _one(last_name="de La Fontaine")
    b = _one(last_name="DELAFONTAINE")
    assert a["ln_used"] == b["ln_used"] == "DELAFONTAINE"
    assert a["ln_used_ph"] == _one(last_name="Fontaine")["ln_used_ph"]
    c = _one(last_name="MARTIN-DUPONT")
    assert c["ln_used"] == "MARTINDUPONT" == _one(last_name="Martin Dupont")["ln_used"]
    assert c["ln_part1"] == "MARTIN"
    assert _one(last_name="Le Goff")["ln_used"] == "LEGOFF"


def test_accents_case_and_ligatures() -> None:
    assert _one(last_name="Lefèvre")["ln_used"] == "LEFEVRE"
    assert _one(last_name="  cœur ")["ln_used"] == "COEUR"
    assert _one(first_names="Élodie")["fn1"] == "ELODIE"


def test_birth_name_falls_back_to_used_name() -> None:
    assert _one(last_name="Dupont", birth_name=None)["ln_birth"] == "DUPONT"
    row = _one(last_name="Dupont", birth_name="Martin")
    assert (row["ln_used"], row["ln_birth"]) == ("DUPONT", "MARTIN")


def test_several_first_names() -> None:
    row = _one(first_names="Marie, Anne Jean-Pierre")
    assert row["fn1"] == "MARIE"
    assert row["fn_all"] == "ANNE JEANPIERRE MARIE"
    assert row["fn_list"] == ["MARIE", "ANNE", "JEANPIERRE"]


def test_nir_key_decides_identifier_or_weak_feature() -> None:
    good = "269054958815780"
    assert _one(nir="2 69 05 49 588 157 80")["nir_id"] == good
    bad = _one(nir="269054958815781")
    assert bad["nir_id"] is None and bad["nir_weak"] == good[:13]
    assert bad["problems"] == ["nir_bad_key"]


def test_bad_dates_become_null_with_a_reason() -> None:
    row = _one(birth_date="1980-02-30")
    assert row["birth_date"] is None and row["problems"] == ["bad_birth_date"]
    assert _one(birth_date="12/03/1980")["bd_str"] == "19800312"
    assert (
        _one(birth_date="1980-03-12")["bd_swapkey"] == _one(birth_date="1980-12-03")["bd_swapkey"]
    )


def test_problem_counts_never_carry_values() -> None:
    table = pa.table({
        "record_id": ["1", "2"], "source": ["S", "S"], "nir": ["123", None],
        "last_name": [None, "X"], "birth_name": [None, None], "first_names": [None, "A"],
        "sex": ["Z", "F"], "birth_date": ["oops", None], "birth_place_code": [None, None],
        "postcode": [None, None],
    })  # fmt: skip
    counts = problem_counts(normalise_identities(table))
    assert counts == {
        "bad_birth_date": 1, "nir_malformed": 1, "no_family_name": 1, "no_first_name": 1,
        "bad_sex": 1,
    }  # fmt: skip


def test_phonetic_codes_group_french_spellings() -> None:
    codes = phonetic(["Philippe", "Filipe", "Dupont", "Dupond", "Rousseau", "Roussot"])
    assert codes[0] == codes[1] and codes[2] == codes[3] and codes[4] == codes[5]
