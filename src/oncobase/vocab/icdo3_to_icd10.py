"""Convert an ICD-O-3 tumour (topography + morphology/behaviour) to an ICD-10 (WHO) code.

The rules follow the standard IARC/SEER conversion logic for the common cases, written out
here from the public ICD-O-3 and ICD-10 (2010+ revision) rules rather than copied from a table:

- malignant (/3) solid tumours keep their topography code, except skin melanoma (C44 → C43),
  Kaposi sarcoma (→ C46), mesothelioma (→ C45), liver (C22, whose ICD-10 subcategories depend
  on the morphology) and the single-subsite sites (C61.9 → C61);
- malignant lymphoid and haematopoietic morphologies (9590-9989) are classified by morphology
  (C81-C96, and D45-D47 for the myeloproliferative and myelodysplastic neoplasms that ICD-O-3
  codes /3 but ICD-10 keeps in chapter II's uncertain-behaviour block); C42 (blood, marrow,
  spleen) and C77 (lymph nodes) are only accepted with such morphologies;
- in situ (/2) tumours go to D00-D09 by site (D03 for melanoma in situ of skin, D04 for other
  skin, D05 by morphology for breast);
- benign (/0) and uncertain (/1) tumours are converted only for meninges, brain and other
  central nervous system (D32/D33, D42/D43) and the endocrine glands (D34/D35, D44);
- metastatic (/6) and "uncertain whether primary or metastatic" (/9) give None.

Any other combination returns None rather than a guess. Malformed codes raise
:class:`~oncobase.errors.VocabError` in the scalar function and give null in the array function.
"""

from __future__ import annotations

import csv
import io
import re
from functools import cache
from importlib import resources
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from oncobase.errors import VocabError

__all__ = ["convert_icdo3_to_icd10", "convert_icdo3_to_icd10_arrays"]

_TOPOGRAPHY_RE = re.compile(r"(C\d{2})\.?(\d)")
_MORPHOLOGY_RE = re.compile(r"(\d{4})/(\d)")
_BEHAVIOURS = frozenset({0, 1, 2, 3, 6, 9})

# ICD-O-3 sites with a single subsite (".9") whose ICD-10 code is the 3-character category.
_THREE_CHARACTER_ONLY = frozenset(
    {
        "C01", "C07", "C12", "C19", "C20", "C23", "C33", "C37", "C52",
        "C55", "C56", "C58", "C61", "C64", "C65", "C66", "C73",
    }
)  # fmt: skip

# Malignant (/3) lymphoid and haematopoietic morphologies classified by morphology alone.
_HAEMATOLOGICAL: dict[int, str] = {
    9590: "C85.9", 9591: "C85.9",
    9650: "C81.9", 9651: "C81.4", 9652: "C81.2", 9653: "C81.3", 9654: "C81.3", 9655: "C81.3",
    9659: "C81.0", 9663: "C81.1", 9664: "C81.1", 9665: "C81.1", 9667: "C81.1",
    9670: "C83.0", 9671: "C83.0", 9673: "C83.1", 9678: "C83.8", 9679: "C85.2", 9680: "C83.3",
    9684: "C83.3", 9687: "C83.7", 9689: "C83.0",
    9690: "C82.9", 9691: "C82.1", 9695: "C82.0", 9698: "C82.2",
    9700: "C84.0", 9701: "C84.1", 9702: "C84.4", 9705: "C86.5", 9708: "C86.3", 9709: "C84.8",
    9716: "C86.1", 9717: "C86.2", 9718: "C86.6", 9719: "C86.0",
    9727: "C83.5", 9728: "C83.5", 9729: "C83.5",
    9731: "C90.3", 9732: "C90.0", 9733: "C90.1", 9734: "C90.2",
    9740: "C96.2", 9741: "C96.2", 9742: "C94.3", 9755: "C96.8", 9756: "C96.4", 9757: "C96.4",
    9758: "C96.4",
    9761: "C88.0", 9762: "C88.2", 9764: "C88.3",
    9800: "C95.9", 9801: "C95.0", 9820: "C91.9", 9826: "C91.8", 9827: "C91.5", 9833: "C91.3",
    9834: "C91.6",
    9840: "C94.0", 9860: "C92.9", 9861: "C92.0", 9863: "C92.1", 9866: "C92.4", 9867: "C92.5",
    9871: "C92.5", 9872: "C92.0", 9873: "C92.0", 9874: "C92.0", 9875: "C92.1", 9876: "C92.2",
    9891: "C93.0", 9895: "C92.8", 9896: "C92.0", 9897: "C92.6", 9910: "C94.2", 9930: "C92.3",
    9931: "C94.4", 9940: "C91.4", 9945: "C93.1", 9946: "C93.3", 9948: "C94.7",
    9950: "D45", 9960: "D47.1", 9961: "D47.4", 9962: "D47.3", 9963: "D47.1", 9964: "D47.5",
    9980: "D46.4", 9982: "D46.1", 9983: "D46.2", 9985: "D46.5", 9986: "D46.6", 9989: "D46.9",
}  # fmt: skip

# Lymphoblastic leukaemia/lymphoma and CLL/SLL are leukaemias in blood, bone marrow or the
# haematopoietic system NOS (C42.0, C42.1, C42.4) and lymphomas elsewhere (spleen included).
_LYMPHOBLASTIC = frozenset({*range(9811, 9819), 9835, 9836, 9837})
_BLOOD_AND_MARROW = frozenset({"C42.0", "C42.1", "C42.4"})

_IN_SITU_BY_SITE: dict[str, str] = {
    **{f"C{n:02d}": "D00.0" for n in range(15)},
    "C15": "D00.1", "C16": "D00.2", "C17": "D01.4", "C18": "D01.0", "C19": "D01.1",
    "C20": "D01.2", "C22": "D01.5", "C23": "D01.5", "C24": "D01.5", "C25": "D01.7",
    "C30": "D02.3", "C31": "D02.3", "C32": "D02.0", "C33": "D02.1", "C34": "D02.2",
    "C51": "D07.1", "C52": "D07.2", "C54": "D07.0", "C55": "D07.0", "C56": "D07.3",
    "C57": "D07.3", "C58": "D07.3", "C60": "D07.4", "C61": "D07.5", "C62": "D07.6",
    "C63": "D07.6", "C64": "D09.1", "C65": "D09.1", "C66": "D09.1", "C67": "D09.0",
    "C68": "D09.1", "C69": "D09.2", "C73": "D09.3", "C74": "D09.3", "C75": "D09.3",
}  # fmt: skip
_IN_SITU_BY_SUBSITE: dict[str, str | None] = {
    "C21.0": "D01.3", "C21.1": "D01.3", "C21.2": "D01.3", "C21.8": None,
    "C26.0": "D01.4", "C26.8": None, "C26.9": "D01.9",
    "C53.0": "D06.0", "C53.1": "D06.1", "C53.8": "D06.7", "C53.9": "D06.9",
}  # fmt: skip

# Subdivision digit of D33/D43 (brain and other CNS) for each ICD-O-3 subsite of C71/C72.
_CNS_DIGIT: dict[str, str] = {
    "C71.0": "0", "C71.1": "0", "C71.2": "0", "C71.3": "0", "C71.4": "0", "C71.5": "0",
    "C71.6": "1", "C71.7": "1", "C71.8": "2", "C71.9": "2",
    "C72.0": "4", "C72.2": "3", "C72.3": "3", "C72.4": "3", "C72.5": "3", "C72.9": "9",
}  # fmt: skip
_ENDOCRINE_BENIGN: dict[str, str] = {
    "C73.9": "D34", "C74.0": "D35.0", "C74.1": "D35.0", "C74.9": "D35.0",
    "C75.0": "D35.1", "C75.1": "D35.2", "C75.2": "D35.3", "C75.3": "D35.4", "C75.4": "D35.5",
    "C75.5": "D35.6", "C75.8": "D35.8", "C75.9": "D35.9",
}  # fmt: skip
_ENDOCRINE_UNCERTAIN: dict[str, str] = {
    "C73.9": "D44.0", "C74.0": "D44.1", "C74.1": "D44.1", "C74.9": "D44.1",
    "C75.0": "D44.2", "C75.1": "D44.3", "C75.2": "D44.4", "C75.3": "D44.5", "C75.4": "D44.6",
    "C75.5": "D44.7", "C75.8": "D44.8", "C75.9": "D44.9",
}  # fmt: skip


@cache
def _topography_codes() -> frozenset[str]:
    """The ICD-O-3 topography codes shipped in ``data/icdo3_topography.csv``."""
    source = resources.files("oncobase.vocab").joinpath("data", "icdo3_topography.csv")
    text = source.read_text(encoding="utf-8")
    return frozenset(row["code"] for row in csv.DictReader(io.StringIO(text, newline="")))


def _parse_topography(topography: str) -> tuple[str, str]:
    if not isinstance(topography, str):
        raise VocabError(
            f"ICD-O-3 topography must be a string like 'C50.4', got {type(topography).__name__}"
        )
    match = _TOPOGRAPHY_RE.fullmatch(topography.strip().upper())
    if match is None:
        raise VocabError(
            f"malformed ICD-O-3 topography {topography!r}: expected 'C' + 2 digits + '.' + 1 digit,"
            " e.g. 'C50.4'"
        )
    site, subsite = match.group(1), match.group(2)
    if f"{site}.{subsite}" not in _topography_codes():
        raise VocabError(
            f"{site}.{subsite} is not an ICD-O-3 topography code; check the site against"
            " vocab/data/icdo3_topography.csv"
        )
    return site, subsite


def _parse_morphology(morphology: str) -> tuple[int, int]:
    if not isinstance(morphology, str):
        raise VocabError(
            f"ICD-O-3 morphology must be a string like '8500/3', got {type(morphology).__name__}"
        )
    match = _MORPHOLOGY_RE.fullmatch(morphology.strip())
    if match is None:
        raise VocabError(
            f"malformed ICD-O-3 morphology {morphology!r}: expected 4 digits, '/', behaviour digit,"
            " e.g. '8500/3'"
        )
    histology, behaviour = int(match.group(1)), int(match.group(2))
    if histology < 8000:
        raise VocabError(
            f"malformed ICD-O-3 morphology {morphology!r}: histology codes run from 8000 to 9999"
        )
    if behaviour not in _BEHAVIOURS:
        raise VocabError(
            f"malformed ICD-O-3 morphology {morphology!r}: behaviour must be 0, 1, 2, 3, 6 or 9"
        )
    return histology, behaviour


def _is_melanoma(histology: int) -> bool:
    return 8720 <= histology <= 8790


def _is_haematological(histology: int) -> bool:
    return histology >= 9590


def _is_sarcoma(histology: int) -> bool:
    return (
        8800 <= histology <= 8921
        or 8990 <= histology <= 8991
        or 9040 <= histology <= 9044
        or 9120 <= histology <= 9133
        or histology == 9170
        or 9180 <= histology <= 9251
        or histology == 9260
    )


def _has_own_icd10_category(histology: int) -> bool:
    """Lipomas (D17) and haemangiomas/lymphangiomas (D18) are classified by morphology."""
    return 8850 <= histology <= 8881 or 9120 <= histology <= 9175


def _convert_haematological(site: str, subsite: str, histology: int) -> str | None:
    in_blood_or_marrow = f"{site}.{subsite}" in _BLOOD_AND_MARROW
    if histology == 9823:
        return "C91.1" if in_blood_or_marrow else "C83.0"
    if histology in _LYMPHOBLASTIC:
        return "C91.0" if in_blood_or_marrow else "C83.5"
    if histology == 9699:
        if site == "C42":
            return None
        return "C83.0" if site == "C77" else "C88.4"
    return _HAEMATOLOGICAL.get(histology)


def _convert_kaposi(site: str) -> str | None:
    if site == "C42":
        return None
    return {"C44": "C46.0", "C49": "C46.1", "C05": "C46.2", "C77": "C46.3", "C80": "C46.9"}.get(
        site, "C46.7"
    )


def _convert_mesothelioma(site: str, subsite: str) -> str | None:
    code = f"{site}.{subsite}"
    if site in ("C42", "C77"):
        return None
    if code == "C38.4":
        return "C45.0"
    if code in ("C48.1", "C48.2"):
        return "C45.1"
    if code == "C38.0":  # ICD-O-3 codes the pericardium to C38.0 (heart)
        return "C45.2"
    if site == "C80":
        return "C45.9"
    return "C45.7"


def _convert_liver(subsite: str, histology: int) -> str | None:  # noqa: PLR0911 (one return per rule)
    if 8170 <= histology <= 8175 or histology == 8180:
        return "C22.0"
    if histology in (8160, 8161):
        return "C22.1"
    if histology == 8970:
        return "C22.2"
    if histology == 9120:
        return "C22.3"
    if _is_sarcoma(histology):
        return "C22.4"
    if 8000 <= histology <= 8005:
        return "C22.9"
    if 8010 <= histology <= 8589:
        return "C22.1" if subsite == "1" else "C22.7"
    return None


def _convert_malignant(site: str, subsite: str, histology: int) -> str | None:  # noqa: PLR0911 (one return per rule)
    if _is_haematological(histology):
        return _convert_haematological(site, subsite, histology)
    if histology == 9140:
        return _convert_kaposi(site)
    if 9050 <= histology <= 9053:
        return _convert_mesothelioma(site, subsite)
    if site in ("C42", "C77"):
        return None
    if site == "C44":
        return f"C43.{subsite}" if _is_melanoma(histology) else f"C44.{subsite}"
    if site == "C22":
        return _convert_liver(subsite, histology)
    if site in _THREE_CHARACTER_ONLY:
        return site
    return f"{site}.{subsite}"


def _convert_in_situ(site: str, subsite: str, histology: int) -> str | None:  # noqa: PLR0911 (one return per rule)
    if _is_haematological(histology) or site in ("C42", "C77"):
        return None
    if _is_melanoma(histology):
        return f"D03.{subsite}" if site == "C44" else None
    if site == "C44":
        return f"D04.{subsite}"
    if site == "C50":
        if 8500 <= histology <= 8507:
            return "D05.1"
        if histology == 8520:
            return "D05.0"
        if histology in (8000, 8001, 8010, 8140):
            return "D05.9"
        return "D05.7"
    code = f"{site}.{subsite}"
    if code in _IN_SITU_BY_SUBSITE:
        return _IN_SITU_BY_SUBSITE[code]
    return _IN_SITU_BY_SITE.get(site)


def _convert_benign_or_uncertain(  # noqa: PLR0911 (one return per rule)
    site: str, subsite: str, histology: int, behaviour: int
) -> str | None:
    if _is_haematological(histology):
        return None
    is_meningioma = 9530 <= histology <= 9539
    code = f"{site}.{subsite}"
    if site == "C70":
        if behaviour == 1:
            return f"D42.{subsite}"
        return f"D32.{subsite}" if is_meningioma else None
    if behaviour == 0 and _has_own_icd10_category(histology):
        return None
    if site in ("C71", "C72"):
        digit = _CNS_DIGIT.get(code)
        if digit is None or is_meningioma:
            return None
        return f"D33.{digit}" if behaviour == 0 else f"D43.{digit}"
    if behaviour == 0:
        return _ENDOCRINE_BENIGN.get(code)
    return _ENDOCRINE_UNCERTAIN.get(code)


def _convert_parsed(site: str, subsite: str, histology: int, behaviour: int) -> str | None:
    if behaviour == 3:
        return _convert_malignant(site, subsite, histology)
    if behaviour == 2:
        return _convert_in_situ(site, subsite, histology)
    if behaviour in (0, 1):
        return _convert_benign_or_uncertain(site, subsite, histology, behaviour)
    return None  # /6 metastatic, /9 uncertain whether primary or metastatic


def convert_icdo3_to_icd10(topography: str, morphology: str) -> str | None:
    """Return the ICD-10 (WHO) code of an ICD-O-3 tumour, or None when no rule applies.

    ``topography`` is an ICD-O-3 topography code such as ``"C50.4"`` (``"C504"`` is accepted)
    and ``morphology`` a morphology code with its behaviour, such as ``"8500/3"``.

    >>> convert_icdo3_to_icd10("C44.5", "8720/3")
    'C43.5'

    Raises:
        VocabError: a code is malformed or the topography is not an ICD-O-3 code.
    """
    site, subsite = _parse_topography(topography)
    histology, behaviour = _parse_morphology(morphology)
    return _convert_parsed(site, subsite, histology, behaviour)


def _convert_or_none(topography: str, morphology: str) -> str | None:
    try:
        return convert_icdo3_to_icd10(topography, morphology)
    except VocabError:
        return None


def _as_string_array(values: pa.Array[Any] | pa.ChunkedArray[Any], name: str) -> pa.Array[Any]:
    array = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
    if not (
        pa.types.is_string(array.type)
        or pa.types.is_large_string(array.type)
        or pa.types.is_null(array.type)
    ):
        raise VocabError(f"{name} must be a string array, got Arrow type {array.type}")
    return array.cast(pa.string())


def convert_icdo3_to_icd10_arrays(
    topography: pa.Array[Any] | pa.ChunkedArray[Any],
    morphology: pa.Array[Any] | pa.ChunkedArray[Any],
) -> pa.Array[Any]:
    """Vectorised :func:`convert_icdo3_to_icd10` over two aligned string arrays.

    Each distinct (topography, morphology) pair is converted once: each row is keyed by
    the positions of its two codes among the distinct codes, the unique keys are
    converted and the results are mapped back with ``index_in`` + ``take``. A null in either
    input, a malformed code or a combination without a rule gives null.

    Raises:
        VocabError: the arrays differ in length or are not string arrays.
    """
    topo = _as_string_array(topography, "topography")
    morph = _as_string_array(morphology, "morphology")
    if len(topo) != len(morph):
        raise VocabError(
            f"topography and morphology must have the same length ({len(topo)} != {len(morph)})"
        )
    # Key each row by the pair of positions of its two codes among the distinct codes.
    topo_values = pc.drop_null(pc.unique(topo))
    morph_values = pc.drop_null(pc.unique(morph))
    width = max(len(morph_values), 1)
    keys = pc.add(
        pc.multiply(pc.index_in(topo, value_set=topo_values).cast(pa.int64()), width),
        pc.index_in(morph, value_set=morph_values).cast(pa.int64()),
    )
    unique_keys = pc.drop_null(pc.unique(keys))
    topo_list = [str(value) for value in topo_values.to_pylist()]
    morph_list = [str(value) for value in morph_values.to_pylist()]
    converted = [
        _convert_or_none(topo_list[int(key) // width], morph_list[int(key) % width])
        for key in unique_keys.to_pylist()
        if key is not None
    ]
    positions = pc.index_in(keys, value_set=unique_keys)
    return pa.array(converted, type=pa.string()).take(positions)
