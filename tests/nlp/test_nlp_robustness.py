"""Any text: no crash, exactly the schema keys, valid formats."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from oncobase.nlp import SCHEMA_KEYS, extract_report, extract_reports

Extract = Callable[[str], dict[str, Any]]

_FRAGMENTS = st.sampled_from(
    [
        "Conclusion : ", "carcinome canalaire infiltrant", " du sein", " pT2N1a", " R0", " RO 90 %",
        " HER2 3+", " Ki67 20 %", " 2N+/14", " taille 2,5 cm", " Gleason 4+3", " KRAS muté G12C",
        " absence de", " antécédent de", "\n", " ; ", " grade SBR III", " ypT0", " cT3 N1 M0",
    ]
)  # fmt: skip


def _check(result: dict[str, Any]) -> None:
    assert tuple(result) == (*SCHEMA_KEYS, "evidence")
    for key, span in result["evidence"].items():
        assert result[key] not in (None, False) and span["start"] <= span["end"]
    assert isinstance(result["cancer"], bool)
    if not result["cancer"]:
        assert all(v is None for k, v in result.items() if k not in ("cancer", "evidence"))
    topo, morph = result["topography_icdo3"], result["morphology_icdo3"]
    assert topo is None or re.fullmatch(r"C\d\d\.\d", topo)
    assert morph is None or re.fullmatch(r"\d{4}/\d", morph)
    assert result["grade"] in (None, "G1", "G2", "G3", "G4", "low", "high")
    assert result["prefix"] in (None, "p", "yp", "c")
    assert result["margin_status"] in (None, "R0", "R1", "R2")
    for key in ("tumor_size_mm", "er_pct", "pr_pct", "ki67_pct", "pdl1_tps_pct", "pdl1_cps"):
        assert result[key] is None or isinstance(result[key], float)
    for key in ("nodes_positive", "nodes_examined", "gleason_primary", "isup_group"):
        assert result[key] is None or isinstance(result[key], int)
    if result["her2"] is not None:
        assert set(result["her2"]) == {"ihc", "ish"}
    for gene in ("egfr", "kras", "nras", "braf", "alk", "ros1"):
        value = result[gene]
        assert value is None or value["status"] in (
            "mutated", "wild-type", "rearranged", "not rearranged"
        )  # fmt: skip


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.text(max_size=300))
def test_any_text(extract: Extract, text: str) -> None:
    _check(extract(text))


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(_FRAGMENTS, max_size=25).map("".join))
def test_report_like_text(extract: Extract, text: str) -> None:
    _check(extract(text))


def test_empty_text(extract: Extract) -> None:
    for text in ("", "   \n\t ", "\x00"):
        result = extract(text)
        _check(result)
        assert result["cancer"] is False and result["evidence"] == {}


def test_one_megabyte_report(extract: Extract) -> None:
    big = "Microscopie : carcinome canalaire infiltrant du sein, pT2. " * 20_000  # ~1.2 MB
    assert len(big.encode()) > 1_000_000
    result = extract(big)
    _check(result)
    assert result["cancer"] is True and result["T"] == "2"  # the head is read (MAX_CHARS)
    for span in result["evidence"].values():
        assert big[span["start"] : span["end"]] == span["text"]


def test_non_french_text(extract: Extract) -> None:
    for text in (
        "The patient is fine. No tumour was found.",
        "Final diagnosis: invasive ductal carcinoma of the breast, pT2 N1, ER 90%.",
        "Zusammenfassung: kein Anhalt für Malignität.",
        "病理诊断：乳腺浸润性导管癌",
        "Заключение: аденокарцинома",
    ):
        _check(extract(text))


def test_invalid_utf8(extract: Extract) -> None:
    result = extract_report(b"Conclusion : carcinome canalaire infiltrant \xff\xfe du sein, pT2.")
    _check(result)
    assert result["cancer"] is True and result["T"] == "2"
    _check(extract_report(b"\xc3\x28\xa0\xa1"))


def test_batch_matches_single(extract: Extract) -> None:
    texts = ["Conclusion : adénocarcinome du côlon, pT3N0.", "", "Conclusion : bénin."]
    assert extract_reports(texts) == [extract(t) for t in texts]
