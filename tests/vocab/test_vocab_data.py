"""The built-in vocabulary source files in ``src/oncobase/vocab/data/`` are well-formed."""

from __future__ import annotations

import csv
import io
import itertools
import re
from functools import cache
from importlib import resources
from pathlib import Path

import pytest

SHARED_REFERENCE = Path("/work/shared/reference")

# file name → (id block base, columns after concept_id, code regex)
FILES: dict[str, tuple[int, tuple[str, ...], str]] = {
    "icd10.csv": (2_000_000_000, ("code", "label", "parent_code"), r"[CD]\d{2}(\.\d)?"),
    "icdo3_topography.csv": (2_000_100_000, ("code", "label", "parent_code"), r"C\d{2}(\.\d)?"),
    "icdo3_morphology.csv": (2_000_200_000, ("code", "label", "morph_group"), r"\d{4}/[012369]"),
    "tnm8.csv": (
        2_000_300_000,
        ("code", "label", "axis"),
        r"T(X|0|is|a|[1-4](mi|[a-d])?)|N(X|[0-3](mi|[a-c])?)|M(0|1[a-d]?)|0(a|is)?|IS|IV[A-C]?"
        r"|I{1,3}[A-D]?|IA[1-3]",
    ),
    "biomarkers.csv": (
        2_000_400_000,
        ("code", "label", "loinc_code", "value_type", "sites"),
        r"[A-Z][A-Z0-9_]*",
    ),
    "atc_l01_l02.csv": (
        2_000_500_000,
        ("code", "label", "level", "parent_code"),
        r"L0[12]([A-Z]([A-Z](\d{2})?)?)?",
    ),
    "departements.csv": (
        2_000_600_000,
        ("code", "label", "region_code", "region_label"),
        r"\d{2}|2[AB]|97[1-6]",
    ),
}
BLOCK_SIZE = 100_000


@cache
def read_rows(filename: str) -> tuple[dict[str, str], ...]:
    raw = (resources.files("oncobase.vocab") / "data" / filename).read_bytes()
    text = raw.decode("utf-8")  # strict: the files are UTF-8
    reader = csv.DictReader(io.StringIO(text, newline=""))
    rows = tuple(reader)
    assert reader.fieldnames is not None
    return rows


def codes(filename: str) -> set[str]:
    return {row["code"] for row in read_rows(filename)}


@pytest.mark.parametrize("filename", sorted(FILES))
def test_file_parses_with_expected_header_and_clean_cells(filename: str) -> None:
    _, columns, _ = FILES[filename]
    raw = (resources.files("oncobase.vocab") / "data" / filename).read_text(encoding="utf-8")
    header = next(csv.reader(io.StringIO(raw, newline="")))
    assert tuple(header) == ("concept_id", *columns)
    rows = read_rows(filename)
    assert rows, f"{filename} is empty"
    for row in rows:
        assert None not in row, f"{filename}: a row has more cells than the header: {row}"
        assert all(value is not None for value in row.values()), f"{filename}: short row {row}"
        for column, value in row.items():
            assert value == value.strip(), f"{filename}: {column} has stray spaces in {row}"
        assert row["code"], f"{filename}: empty code in {row}"
        assert row["label"], f"{filename}: empty label in {row}"


@pytest.mark.parametrize("filename", sorted(FILES))
def test_concept_ids_unique_in_block_and_in_row_order(filename: str) -> None:
    base, _, _ = FILES[filename]
    ids = [int(row["concept_id"]) for row in read_rows(filename)]
    assert ids[0] == base
    assert all(later > earlier for earlier, later in itertools.pairwise(ids)), (
        f"{filename}: concept ids must increase with the row order"
    )
    assert all(base <= concept_id < base + BLOCK_SIZE for concept_id in ids)


@pytest.mark.parametrize("filename", sorted(FILES))
def test_codes_unique_and_well_formed(filename: str) -> None:
    _, _, pattern = FILES[filename]
    rows = read_rows(filename)
    seen = [row["code"] for row in rows]
    duplicates = sorted({code for code in seen if seen.count(code) > 1})
    assert not duplicates, f"{filename}: duplicate codes {duplicates}"
    bad = [code for code in seen if not re.fullmatch(pattern, code)]
    assert not bad, f"{filename}: malformed codes {bad}"


@pytest.mark.parametrize("filename", ["icd10.csv", "icdo3_topography.csv"])
def test_icd_hierarchy_is_category_then_subcategories(filename: str) -> None:
    known = codes(filename)
    for row in read_rows(filename):
        code, parent = row["code"], row["parent_code"]
        if len(code) == 3:
            assert parent == "", f"{filename}: category {code} must have no parent"
        else:
            assert parent == code[:3], f"{filename}: {code} must have parent {code[:3]}"
            assert parent in known, f"{filename}: parent {parent} of {code} is missing"


def test_icd10_covers_chapter_ii_and_only_it() -> None:
    categories = [row["code"] for row in read_rows("icd10.csv") if not row["parent_code"]]
    assert categories[0] == "C00"
    assert categories[-1] == "D48"
    assert all("C00" <= code <= "D48" for code in categories)
    assert categories == sorted(categories)
    for expected in ("C34.1", "C50.9", "C18.7", "C43.5", "C45.0", "C61", "C90.0", "D05.1", "D46.9"):
        assert expected in codes("icd10.csv")
    # Codes that do not exist in WHO ICD-10 (or only in ICD-10-CM).
    for absent in ("C14.1", "C42", "C7A", "D08", "D3A", "C91.2", "C94.1", "D46.3"):
        assert absent not in codes("icd10.csv")


def test_icdo3_topography_has_its_own_gaps_and_sites() -> None:
    known = codes("icdo3_topography.csv")
    assert {"C42.1", "C77.0", "C80.9", "C50.4", "C61.9", "C44.5"} <= known
    # ICD-O-3 has no spleen under C26 (it is C42.2), no C43/C45/C46 and no C78/C79.
    assert not {"C26.1", "C43", "C45", "C46", "C78", "C79", "C81"} & known
    subsites = {code for code in known if len(code) == 5}
    assert all(code[:3] in known for code in subsites)


def test_morphology_groups_and_behaviours() -> None:
    groups = {
        "carcinoma", "adenocarcinoma", "squamous", "melanoma", "sarcoma", "lymphoma",
        "leukaemia", "myeloma", "mesothelioma", "glioma", "germ_cell", "neuroendocrine", "other",
    }  # fmt: skip
    rows = read_rows("icdo3_morphology.csv")
    assert {row["morph_group"] for row in rows} <= groups
    by_code = {row["code"]: row["morph_group"] for row in rows}
    assert by_code["8140/3"] == "adenocarcinoma"
    assert by_code["8720/3"] == "melanoma"
    assert by_code["9732/3"] == "myeloma"
    assert by_code["9050/3"] == "mesothelioma"


def test_tnm_axes_match_codes() -> None:
    prefixes = {"T": "T", "N": "N", "M": "M"}
    rows = read_rows("tnm8.csv")
    assert {row["axis"] for row in rows} == {"T", "N", "M", "stage"}
    for row in rows:
        if row["axis"] == "stage":
            assert re.fullmatch(r"0(a|is)?|IS|I{1,3}[A-D]?|IA[1-3]|IV[A-C]?", row["code"]), row
        else:
            assert row["code"].startswith(prefixes[row["axis"]]), row
    assert {"T1mi", "Tis", "N1mi", "M1c", "IIIA", "IVB"} <= codes("tnm8.csv")


def _loinc_check_digit(body: str) -> int:
    """The LOINC mod-10 check digit of the part of a LOINC code before the hyphen."""
    total = 0
    for position, char in enumerate(reversed(body)):
        digit = int(char)
        if position % 2 == 0:
            digit *= 2
        total += digit // 10 + digit % 10
    return (10 - total % 10) % 10


def test_biomarkers_value_types_loinc_and_sites() -> None:
    icd10 = codes("icd10.csv")
    rows = read_rows("biomarkers.csv")
    assert {row["value_type"] for row in rows} <= {"percent", "category", "numeric", "score"}
    for row in rows:
        loinc = row["loinc_code"]
        if loinc:
            match = re.fullmatch(r"(\d{1,7})-(\d)", loinc)
            assert match, f"malformed LOINC code {loinc}"
            assert _loinc_check_digit(match.group(1)) == int(match.group(2)), (
                f"LOINC {loinc} of {row['code']} fails its check digit"
            )
        sites = row["sites"].split(";")
        assert sites, row
        assert all(re.fullmatch(r"C\d{2}", site) and site in icd10 for site in sites), row
    assert {"ER", "PR", "HER2_IHC", "PDL1_TPS", "PSA", "MGMT"} <= codes("biomarkers.csv")


def test_atc_levels_and_parents() -> None:
    known = codes("atc_l01_l02.csv")
    level_of_length = {3: "2", 4: "3", 5: "4", 7: "5"}
    parent_length = {4: 3, 5: 4, 7: 5}
    for row in read_rows("atc_l01_l02.csv"):
        code = row["code"]
        assert row["level"] == level_of_length[len(code)], row
        if len(code) == 3:
            assert row["parent_code"] == ""
        else:
            assert row["parent_code"] == code[: parent_length[len(code)]], row
            assert row["parent_code"] in known, row
    # Current (2022+) ATC: protein kinase inhibitors in L01E, monoclonal antibodies in L01F.
    assert {"L01EA01", "L01FF02", "L01FD01", "L01XA01", "L02BG04"} <= known
    assert not any(code.startswith(("L01XE", "L01XC")) for code in known)


def test_all_101_departements_with_current_regions() -> None:
    rows = read_rows("departements.csv")
    expected = (
        [f"{n:02d}" for n in range(1, 20)]
        + ["2A", "2B"]
        + [f"{n:02d}" for n in range(21, 96)]
        + ["971", "972", "973", "974", "976"]
    )
    assert [row["code"] for row in rows] == expected
    assert len(rows) == 101
    regions: dict[str, str] = {}
    for row in rows:
        assert regions.setdefault(row["region_code"], row["region_label"]) == row["region_label"]
    assert len(regions) == 18
    assert set(regions) == {
        "11", "24", "27", "28", "32", "44", "52", "53", "75", "76", "84", "93", "94",
        "01", "02", "03", "04", "06",
    }  # fmt: skip
    by_code = {row["code"]: row for row in rows}
    assert by_code["75"]["region_label"] == "Île-de-France"
    assert by_code["2A"]["region_code"] == "94"
    assert by_code["69"]["region_code"] == "84"
    assert by_code["976"]["label"] == "Mayotte"


def test_icd10_codes_cited_in_shared_reference_tables_exist() -> None:
    if not SHARED_REFERENCE.is_dir():
        pytest.skip(f"{SHARED_REFERENCE} is absent: no shared reference tables to check against")
    known = codes("icd10.csv")
    cited: set[str] = set()
    for path in sorted(SHARED_REFERENCE.glob("*.csv")):
        with path.open(encoding="utf-8", newline="") as handle:
            for row in csv.DictReader(handle):
                for column, value in row.items():
                    if column and column.startswith("icd10") and value:
                        for first, last in re.findall(r"\b([CD]\d{2})(?:-C?(\d{2}))?", value):
                            cited.add(first)
                            if last:
                                cited.add(f"{first[0]}{last}")
    assert cited, f"no ICD-10 codes found in {SHARED_REFERENCE}"
    missing = sorted(code for code in cited if code not in known)
    assert not missing, f"ICD-10 codes cited in {SHARED_REFERENCE} but absent: {missing}"
