"""ICD-O-3 → ICD-10 conversion: known cases, malformed input, array version, file consistency."""

from __future__ import annotations

import csv
import io
from functools import cache
from importlib import resources

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from oncobase.errors import VocabError
from oncobase.vocab.icdo3_to_icd10 import convert_icdo3_to_icd10, convert_icdo3_to_icd10_arrays


@cache
def data_codes(filename: str) -> tuple[str, ...]:
    text = (resources.files("oncobase.vocab") / "data" / filename).read_text(encoding="utf-8")
    return tuple(row["code"] for row in csv.DictReader(io.StringIO(text, newline="")))


TOPOGRAPHIES = data_codes("icdo3_topography.csv")
SUBSITES = tuple(code for code in TOPOGRAPHIES if len(code) == 5)
MORPHOLOGIES = data_codes("icdo3_morphology.csv")

KNOWN: list[tuple[str, str, str | None]] = [
    # solid malignant tumours keep their site
    ("C50.4", "8500/3", "C50.4"),
    ("C50.9", "8520/3", "C50.9"),
    ("C34.1", "8140/3", "C34.1"),
    ("C34.9", "8041/3", "C34.9"),
    ("C34.3", "8070/3", "C34.3"),
    ("C18.7", "8140/3", "C18.7"),
    ("C18.1", "8240/3", "C18.1"),
    ("C20.9", "8140/3", "C20"),
    ("C19.9", "8140/3", "C19"),
    ("C61.9", "8140/3", "C61"),
    ("C64.9", "8312/3", "C64"),
    ("C67.2", "8120/3", "C67.2"),
    ("C73.9", "8260/3", "C73"),
    ("C56.9", "8441/3", "C56"),
    ("C54.1", "8380/3", "C54.1"),
    ("C53.9", "8070/3", "C53.9"),
    ("C25.0", "8500/3", "C25.0"),
    ("C16.3", "8144/3", "C16.3"),
    ("C15.5", "8140/3", "C15.5"),
    ("C71.1", "9440/3", "C71.1"),
    ("C62.1", "9061/3", "C62.1"),
    ("C49.2", "8890/3", "C49.2"),
    ("C40.2", "9180/3", "C40.2"),
    ("C80.9", "8000/3", "C80.9"),
    ("C38.4", "8140/3", "C38.4"),
    # liver: ICD-10 subcategories follow the morphology
    ("C22.0", "8170/3", "C22.0"),
    ("C22.1", "8160/3", "C22.1"),
    ("C22.0", "8970/3", "C22.2"),
    ("C22.0", "9120/3", "C22.3"),
    ("C22.0", "8890/3", "C22.4"),
    # skin: melanoma → C43, other → C44
    ("C44.5", "8720/3", "C43.5"),
    ("C44.7", "8743/3", "C43.7"),
    ("C44.3", "8742/3", "C43.3"),
    ("C44.3", "8090/3", "C44.3"),
    ("C44.4", "8070/3", "C44.4"),
    ("C69.3", "8720/3", "C69.3"),
    ("C51.9", "8720/3", "C51.9"),
    # Kaposi sarcoma and mesothelioma
    ("C44.7", "9140/3", "C46.0"),
    ("C49.9", "9140/3", "C46.1"),
    ("C38.4", "9050/3", "C45.0"),
    ("C38.4", "9052/3", "C45.0"),
    ("C48.2", "9053/3", "C45.1"),
    ("C38.0", "9050/3", "C45.2"),
    ("C80.9", "9050/3", "C45.9"),
    # lymphomas, myeloma, leukaemias: by morphology
    ("C77.0", "9650/3", "C81.9"),
    ("C77.1", "9663/3", "C81.1"),
    ("C77.2", "9680/3", "C83.3"),
    ("C16.2", "9680/3", "C83.3"),
    ("C71.9", "9680/3", "C83.3"),
    ("C77.9", "9690/3", "C82.9"),
    ("C77.3", "9673/3", "C83.1"),
    ("C16.9", "9699/3", "C88.4"),
    ("C77.0", "9699/3", "C83.0"),
    ("C44.5", "9700/3", "C84.0"),
    ("C42.1", "9732/3", "C90.0"),
    ("C41.2", "9731/3", "C90.3"),
    ("C42.1", "9861/3", "C92.0"),
    ("C42.1", "9866/3", "C92.4"),
    ("C42.1", "9875/3", "C92.1"),
    ("C42.1", "9823/3", "C91.1"),
    ("C77.0", "9823/3", "C83.0"),
    ("C42.1", "9836/3", "C91.0"),
    ("C42.1", "9811/3", "C91.0"),
    ("C42.2", "9823/3", "C83.0"),
    ("C77.2", "9837/3", "C83.5"),
    ("C42.1", "9945/3", "C93.1"),
    ("C42.1", "9989/3", "D46.9"),
    ("C42.1", "9950/3", "D45"),
    # in situ
    ("C50.4", "8500/2", "D05.1"),
    ("C50.9", "8520/2", "D05.0"),
    ("C53.1", "8077/2", "D06.1"),
    ("C53.9", "8070/2", "D06.9"),
    ("C44.5", "8720/2", "D03.5"),
    ("C44.3", "8742/2", "D03.3"),
    ("C44.6", "8081/2", "D04.6"),
    ("C18.7", "8140/2", "D01.0"),
    ("C20.9", "8140/2", "D01.2"),
    ("C67.9", "8120/2", "D09.0"),
    ("C61.9", "8140/2", "D07.5"),
    ("C34.1", "8070/2", "D02.2"),
    ("C16.9", "8140/2", "D00.2"),
    # benign and uncertain behaviour, only where the rule is certain
    ("C70.0", "9530/0", "D32.0"),
    ("C70.1", "9530/0", "D32.1"),
    ("C70.0", "9539/1", "D42.0"),
    ("C71.6", "9421/1", "D43.1"),
    ("C71.1", "8000/1", "D43.0"),
    ("C72.4", "9560/0", "D33.3"),
    ("C75.1", "8000/1", "D44.3"),
    # no rule: None, never a guess
    ("C50.4", "8000/6", None),
    ("C50.4", "8500/9", None),
    ("C18.7", "8000/0", None),
    ("C16.9", "8936/1", None),
    ("C42.1", "8140/3", None),
    ("C77.0", "8140/3", None),
    ("C71.1", "9530/0", None),
    ("C70.0", "8850/0", None),
    ("C69.0", "8720/2", None),
    ("C77.0", "9714/3", None),
]


@pytest.mark.parametrize(("topography", "morphology", "expected"), KNOWN)
def test_known_conversions(topography: str, morphology: str, expected: str | None) -> None:
    assert convert_icdo3_to_icd10(topography, morphology) == expected


def test_known_conversions_are_many_and_varied() -> None:
    converted = [expected for _, _, expected in KNOWN if expected]
    assert len(converted) >= 40
    assert {code[:3] for code in converted} >= {"C43", "C45", "C81", "C83", "C90", "C92", "D05"}


def test_lenient_spellings_are_accepted() -> None:
    assert convert_icdo3_to_icd10(" c50.4 ", "8500/3 ") == "C50.4"
    assert convert_icdo3_to_icd10("C504", "8500/3") == "C50.4"


@pytest.mark.parametrize(
    ("topography", "morphology", "message"),
    [
        ("C5O.4", "8500/3", "malformed ICD-O-3 topography"),
        ("50.4", "8500/3", "malformed ICD-O-3 topography"),
        ("C50.44", "8500/3", "malformed ICD-O-3 topography"),
        ("", "8500/3", "malformed ICD-O-3 topography"),
        ("C26.1", "8140/3", "not an ICD-O-3 topography code"),
        ("C43.5", "8720/3", "not an ICD-O-3 topography code"),
        ("C50.4", "8500-3", "malformed ICD-O-3 morphology"),
        ("C50.4", "8500", "malformed ICD-O-3 morphology"),
        ("C50.4", "850/3", "malformed ICD-O-3 morphology"),
        ("C50.4", "8500/5", "behaviour must be"),
        ("C50.4", "7500/3", "histology codes run from 8000"),
    ],
)
def test_malformed_codes_raise(topography: str, morphology: str, message: str) -> None:
    with pytest.raises(VocabError, match=message):
        convert_icdo3_to_icd10(topography, morphology)


def test_non_string_input_raises() -> None:
    with pytest.raises(VocabError, match="must be a string"):
        convert_icdo3_to_icd10(None, "8500/3")  # type: ignore[arg-type]
    with pytest.raises(VocabError, match="must be a string"):
        convert_icdo3_to_icd10("C50.4", 85003)  # type: ignore[arg-type]


def scalar_or_none(topography: str | None, morphology: str | None) -> str | None:
    if topography is None or morphology is None:
        return None
    try:
        return convert_icdo3_to_icd10(topography, morphology)
    except VocabError:
        return None


def test_array_version_maps_nulls_and_malformed_to_null() -> None:
    topography = pa.array(["C50.4", None, "C44.5", "C5O.4", "C50.4", "C42.1", "C50.4"])
    morphology = pa.array(["8500/3", "8500/3", "8720/3", "8500/3", None, "9861/3", "8500-3"])
    result = convert_icdo3_to_icd10_arrays(topography, morphology)
    assert result.type == pa.string()
    assert result.to_pylist() == ["C50.4", None, "C43.5", None, None, "C92.0", None]


def test_array_version_accepts_chunked_and_large_string() -> None:
    topography = pa.chunked_array([["C50.4", "C34.1"], ["C50.4"]], type=pa.large_string())
    morphology = pa.chunked_array([["8500/3"], ["8140/3", "8500/2"]])
    result = convert_icdo3_to_icd10_arrays(topography, morphology)
    assert result.to_pylist() == ["C50.4", "C34.1", "D05.1"]


def test_array_version_empty_and_all_null() -> None:
    empty = convert_icdo3_to_icd10_arrays(pa.array([], pa.string()), pa.array([], pa.string()))
    assert empty.to_pylist() == []
    nulls = convert_icdo3_to_icd10_arrays(pa.nulls(3), pa.array(["8500/3"] * 3))
    assert nulls.to_pylist() == [None, None, None]


def test_array_version_rejects_bad_arrays() -> None:
    with pytest.raises(VocabError, match="same length"):
        convert_icdo3_to_icd10_arrays(pa.array(["C50.4"]), pa.array(["8500/3", "8140/3"]))
    with pytest.raises(VocabError, match="string array"):
        convert_icdo3_to_icd10_arrays(pa.array([1]), pa.array(["8500/3"]))


morphology_codes = st.one_of(
    st.sampled_from(MORPHOLOGIES),
    st.builds(
        "{}/{}".format,
        st.integers(min_value=8000, max_value=9999),
        st.sampled_from("012369"),
    ),
)
pairs = st.tuples(
    st.one_of(st.sampled_from(TOPOGRAPHIES), st.none(), st.sampled_from(["C5O.4", "C26.1"])),
    st.one_of(morphology_codes, st.none(), st.just("8500-3")),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(pairs, max_size=60))
def test_array_version_equals_scalar(rows: list[tuple[str | None, str | None]]) -> None:
    topography = pa.array([t for t, _ in rows], pa.string())
    morphology = pa.array([m for _, m in rows], pa.string())
    result = convert_icdo3_to_icd10_arrays(topography, morphology)
    assert result.to_pylist() == [scalar_or_none(t, m) for t, m in rows]


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(SUBSITES), morphology_codes)
def test_valid_pairs_never_raise(topography: str, morphology: str) -> None:
    result = convert_icdo3_to_icd10(topography, morphology)
    assert result is None or isinstance(result, str)


def test_every_returned_code_exists_in_icd10_csv() -> None:
    icd10 = set(data_codes("icd10.csv"))
    morphologies = set(MORPHOLOGIES)
    morphologies |= {f"{histology}/3" for histology in range(9590, 10000)}
    morphologies |= {f"{histology}/{b}" for histology in (8000, 9530, 9539, 8850) for b in "012"}
    returned: dict[str, tuple[str, str]] = {}
    for topography in SUBSITES:
        for morphology in sorted(morphologies):
            code = convert_icdo3_to_icd10(topography, morphology)
            if code is not None:
                returned.setdefault(code, (topography, morphology))
    missing = {code: pair for code, pair in returned.items() if code not in icd10}
    assert not missing, f"converter returns codes absent from icd10.csv: {missing}"
    assert len(returned) > 300
