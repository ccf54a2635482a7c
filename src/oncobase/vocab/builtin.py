"""The built-in vocabulary shipped in ``vocab/data/``, as OMOP vocabulary rows.

Concept ids are in OMOP's local range (2,000,000,000 and up), one block per source file,
written in the files themselves so they never change (see ``data/README.md``). The rows of
the VOCABULARY, DOMAIN, CONCEPT_CLASS and RELATIONSHIP tables that the subset needs get
ids from the fixed list below (block 2,000,900,000).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import cache
from importlib import resources

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from oncobase.errors import VocabError

LOCAL_CONCEPT_ID_START = 2_000_000_000
VALID_START = dt.date(1970, 1, 1)
VALID_END = dt.date(2099, 12, 31)
VOCABULARY_VERSION = "OncoBase built-in 2026-11"

# (vocabulary_id, name) — ids match OMOP's where OMOP has the vocabulary.
VOCABULARIES: tuple[tuple[str, str], ...] = (
    ("ICD10", "International Classification of Diseases, 10th revision (WHO), chapter II"),
    ("ICDO3", "International Classification of Diseases for Oncology, 3rd edition"),
    ("TNM8", "UICC TNM classification of malignant tumours, 8th edition (OncoBase subset)"),
    ("OncoBase Biomarker", "Biomarker tests used by OncoBase"),
    ("LOINC", "Logical Observation Identifiers Names and Codes (subset)"),
    ("ATC", "WHO Anatomical Therapeutic Chemical classification, L01-L02"),
    ("FR Departement", "French départements (INSEE codes)"),
    ("OncoBase Metadata", "Concepts of OncoBase's own vocabulary metadata rows"),
)
DOMAINS: tuple[str, ...] = (
    "Condition",
    "Spec Anatomic Site",
    "Observation",
    "Measurement",
    "Drug",
    "Geography",
    "Metadata",
)
CONCEPT_CLASSES: tuple[str, ...] = (
    "ICD10 Hierarchy",
    "ICD10 code",
    "ICDO Topography",
    "ICDO Histology",
    "Staging/Grading",
    "Lab Test",
    "ATC 2nd",
    "ATC 3rd",
    "ATC 4th",
    "ATC 5th",
    "Departement",
    "Vocabulary",
    "Domain",
    "Concept Class",
    "Relationship",
)
# (relationship_id, name, is_hierarchical, defines_ancestry, reverse_relationship_id)
RELATIONSHIPS: tuple[tuple[str, str, str, str, str], ...] = (
    ("Maps to", "Non-standard to Standard map (OMOP)", "0", "0", "Mapped from"),
    ("Mapped from", "Standard to Non-standard map (OMOP)", "0", "0", "Maps to"),
    ("Is a", "Is a", "1", "0", "Subsumes"),
    ("Subsumes", "Subsumes", "1", "1", "Is a"),
)
_META_BASE = 2_000_900_000


@dataclass(frozen=True, kw_only=True)
class _SourceFile:
    filename: str
    vocabulary_id: str
    domain_id: str
    block: int


_FILES = (
    _SourceFile(filename="icd10.csv", vocabulary_id="ICD10", domain_id="Condition", block=0),
    _SourceFile(
        filename="icdo3_topography.csv",
        vocabulary_id="ICDO3",
        domain_id="Spec Anatomic Site",
        block=100_000,
    ),
    _SourceFile(
        filename="icdo3_morphology.csv",
        vocabulary_id="ICDO3",
        domain_id="Observation",
        block=200_000,
    ),
    _SourceFile(filename="tnm8.csv", vocabulary_id="TNM8", domain_id="Measurement", block=300_000),
    _SourceFile(
        filename="biomarkers.csv",
        vocabulary_id="OncoBase Biomarker",
        domain_id="Measurement",
        block=400_000,
    ),
    _SourceFile(filename="atc_l01_l02.csv", vocabulary_id="ATC", domain_id="Drug", block=500_000),
    _SourceFile(
        filename="departements.csv",
        vocabulary_id="FR Departement",
        domain_id="Geography",
        block=600_000,
    ),
)
# LOINC concepts derived from biomarkers.csv take the biomarker id plus this offset.
_LOINC_OFFSET = 50_000


def read_source_file(filename: str) -> pa.Table:
    """One of the shipped source files, every column as text (empty cells as null)."""
    path = resources.files("oncobase.vocab").joinpath("data", filename)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise VocabError(
            f"The built-in vocabulary file {filename} is missing from the package"
        ) from None
    header = raw.split(b"\n", 1)[0].decode("utf-8").strip().split(",")
    # Every column as text: codes such as département "01" must keep their leading zero.
    types = {name: pa.int64() if name == "concept_id" else pa.string() for name in header}
    return pacsv.read_csv(
        pa.BufferReader(raw),
        convert_options=pacsv.ConvertOptions(
            column_types=types, strings_can_be_null=True, auto_dict_encode=False
        ),
    )


def _concepts(
    *,
    ids: pa.Array | pa.ChunkedArray,
    names: pa.Array | pa.ChunkedArray,
    codes: pa.Array | pa.ChunkedArray,
    vocabulary_id: str,
    domain_id: str,
    concept_class: pa.Array | pa.ChunkedArray | str,
    standard: pa.Array | pa.ChunkedArray | str | None,
) -> pa.Table:
    n = len(ids)

    def fill(value: pa.Array | pa.ChunkedArray | str | None) -> pa.Array | pa.ChunkedArray:
        if value is None or isinstance(value, str):
            return pa.array([value] * n, pa.string())
        return value

    return pa.table(
        {
            "concept_id": ids,
            "concept_name": pc.utf8_slice_codeunits(names, 0, 255),
            "domain_id": fill(domain_id),
            "vocabulary_id": fill(vocabulary_id),
            "concept_class_id": fill(concept_class),
            "standard_concept": fill(standard),
            "concept_code": codes,
            "valid_start_date": pa.array([VALID_START] * n, pa.date32()),
            "valid_end_date": pa.array([VALID_END] * n, pa.date32()),
            "invalid_reason": pa.nulls(n, pa.string()),
        }
    )


def _relationships(
    first: pa.Array | pa.ChunkedArray, second: pa.Array | pa.ChunkedArray, relationship: str
) -> pa.Table:
    n = len(first)
    return pa.table(
        {
            "concept_id_1": first,
            "concept_id_2": second,
            "relationship_id": pa.array([relationship] * n, pa.string()),
            "valid_start_date": pa.array([VALID_START] * n, pa.date32()),
            "valid_end_date": pa.array([VALID_END] * n, pa.date32()),
            "invalid_reason": pa.nulls(n, pa.string()),
        }
    )


def _hierarchy(table: pa.Table) -> tuple[pa.Table, pa.Table]:
    """'Is a'/'Subsumes' rows and ancestor pairs from a file with ``code`` and ``parent_code``."""
    has_parent = pc.is_valid(table.column("parent_code"))
    children = table.filter(has_parent)
    lookup = pc.index_in(children.column("parent_code"), value_set=table.column("code"))
    if lookup.null_count:
        first = int(pc.index(pc.is_null(lookup), True).as_py())
        raise VocabError(
            f"Built-in code {children.column('code')[first].as_py()} names a parent "
            f"{children.column('parent_code')[first].as_py()} that is not in its file"
        )
    parent_ids = pc.take(table.column("concept_id"), lookup)
    child_ids = children.column("concept_id")
    rels = pa.concat_tables(
        [
            _relationships(child_ids, parent_ids, "Is a"),
            _relationships(parent_ids, child_ids, "Subsumes"),
        ]
    )
    ids = table.column("concept_id")
    n = len(ids)
    ancestors = pa.concat_tables(
        [
            pa.table(
                {
                    "ancestor_concept_id": ids,
                    "descendant_concept_id": ids,
                    "min_levels_of_separation": pa.array([0] * n, pa.int64()),
                    "max_levels_of_separation": pa.array([0] * n, pa.int64()),
                }
            ),
            pa.table(
                {
                    "ancestor_concept_id": parent_ids,
                    "descendant_concept_id": child_ids,
                    "min_levels_of_separation": pa.array([1] * len(child_ids), pa.int64()),
                    "max_levels_of_separation": pa.array([1] * len(child_ids), pa.int64()),
                }
            ),
        ]
    )
    return rels, ancestors


def _meta_tables() -> dict[str, pa.Table]:
    """VOCABULARY, DOMAIN, CONCEPT_CLASS, RELATIONSHIP rows and their concepts."""
    ids: list[int] = []
    names: list[str] = []
    codes: list[str] = []
    classes: list[str] = []
    next_id = _META_BASE

    def add(name: str, code: str, concept_class: str) -> int:
        nonlocal next_id
        ids.append(next_id)
        names.append(name)
        codes.append(code)
        classes.append(concept_class)
        next_id += 1
        return ids[-1]

    vocabulary: dict[str, list[object]] = {
        "vocabulary_id": [],
        "vocabulary_name": [],
        "vocabulary_reference": [],
        "vocabulary_version": [],
        "vocabulary_concept_id": [],
    }
    for vocab_id, name in VOCABULARIES:
        concept = add(name, vocab_id, "Vocabulary")
        for key, value in zip(
            vocabulary,
            (vocab_id, name, "OncoBase built-in subset", VOCABULARY_VERSION, concept),
            strict=True,
        ):
            vocabulary[key].append(value)
    domain = {
        "domain_id": list(DOMAINS),
        "domain_name": list(DOMAINS),
        "domain_concept_id": [add(d, d, "Domain") for d in DOMAINS],
    }
    concept_class = {
        "concept_class_id": list(CONCEPT_CLASSES),
        "concept_class_name": list(CONCEPT_CLASSES),
        "concept_class_concept_id": [add(c, c, "Concept Class") for c in CONCEPT_CLASSES],
    }
    relationship = {
        "relationship_id": [r[0] for r in RELATIONSHIPS],
        "relationship_name": [r[1] for r in RELATIONSHIPS],
        "is_hierarchical": [r[2] for r in RELATIONSHIPS],
        "defines_ancestry": [r[3] for r in RELATIONSHIPS],
        "reverse_relationship_id": [r[4] for r in RELATIONSHIPS],
        "relationship_concept_id": [add(r[1], r[0], "Relationship") for r in RELATIONSHIPS],
    }
    concepts = _concepts(
        ids=pa.array(ids, pa.int64()),
        names=pa.array(names, pa.string()),
        codes=pa.array(codes, pa.string()),
        vocabulary_id="OncoBase Metadata",
        domain_id="Metadata",
        concept_class=pa.array(classes, pa.string()),
        standard=None,
    )
    return {
        "concept": concepts,
        "vocabulary": pa.table(vocabulary),
        "domain": pa.table(domain),
        "concept_class": pa.table(concept_class),
        "relationship": pa.table(relationship),
    }


@cache
def builtin_vocabulary() -> dict[str, pa.Table]:
    """Every built-in vocabulary row, by OMOP table name (concept, concept_relationship …)."""
    concepts: list[pa.Table] = []
    relationships: list[pa.Table] = []
    ancestors: list[pa.Table] = []
    for source in _FILES:
        table = read_source_file(source.filename)
        ids = table.column("concept_id")
        expected_first = LOCAL_CONCEPT_ID_START + source.block
        if len(ids) and pc.min(ids).as_py() < expected_first:
            raise VocabError(f"{source.filename}: concept ids must start at {expected_first}")
        std: str | None = "S"
        if source.filename == "icd10.csv":
            concept_class: pa.Array | pa.ChunkedArray | str = pc.if_else(
                pc.is_valid(table.column("parent_code")), "ICD10 code", "ICD10 Hierarchy"
            )
        elif source.filename == "icdo3_topography.csv":
            concept_class = "ICDO Topography"
        elif source.filename == "icdo3_morphology.csv":
            concept_class = "ICDO Histology"
        elif source.filename == "tnm8.csv":
            concept_class = "Staging/Grading"
        elif source.filename == "biomarkers.csv":
            concept_class = "Lab Test"
        elif source.filename == "atc_l01_l02.csv":
            concept_class = _atc_classes(table.column("level"))
        else:
            concept_class = "Departement"
            std = None
        standard: pa.Array | pa.ChunkedArray | str | None = std
        if source.filename == "biomarkers.csv":
            with_loinc = table.filter(pc.is_valid(table.column("loinc_code")))
            loinc_ids = pc.add(with_loinc.column("concept_id"), _LOINC_OFFSET)
            concepts.append(
                _concepts(
                    ids=loinc_ids,
                    names=with_loinc.column("label"),
                    codes=with_loinc.column("loinc_code"),
                    vocabulary_id="LOINC",
                    domain_id="Measurement",
                    concept_class="Lab Test",
                    standard="S",
                )
            )
            relationships.append(
                _relationships(with_loinc.column("concept_id"), loinc_ids, "Maps to")
            )
            relationships.append(
                _relationships(loinc_ids, with_loinc.column("concept_id"), "Mapped from")
            )
            standard = pc.if_else(pc.is_valid(table.column("loinc_code")), None, "S")
        concepts.append(
            _concepts(
                ids=ids,
                names=table.column("label"),
                codes=table.column("code"),
                vocabulary_id=source.vocabulary_id,
                domain_id=source.domain_id,
                concept_class=concept_class,
                standard=standard,
            )
        )
        if "parent_code" in table.column_names:
            rels, anc = _hierarchy(table)
            relationships.append(rels)
            ancestors.append(anc)
    meta = _meta_tables()
    concepts.append(meta.pop("concept"))
    return {
        "concept": pa.concat_tables(concepts),
        "concept_relationship": pa.concat_tables(relationships),
        "concept_ancestor": pa.concat_tables(ancestors),
        **meta,
    }


def _atc_classes(levels: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    names = {"2": "ATC 2nd", "3": "ATC 3rd", "4": "ATC 4th", "5": "ATC 5th"}
    unknown = pc.invert(pc.is_in(levels, value_set=pa.array(list(names))))
    if pc.any(unknown).as_py():
        raise VocabError("atc_l01_l02.csv: level must be 2, 3, 4 or 5")
    keys = pa.array(list(names))
    values = pa.array(list(names.values()))
    return pc.take(values, pc.index_in(levels, value_set=keys))
