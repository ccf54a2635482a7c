"""Cancer-registry CSV extracts: one row per tumour of the residents of the covered départements.

Each registry has its own dialect (as real extracts do):

| registry | delimiter | encoding | dates |
| --- | --- | --- | --- |
| REG_14 | ``;`` | Latin-1 (ISO-8859-1) | ``JJ/MM/AAAA`` |
| others | ``,`` | UTF-8 | ``AAAA-MM-JJ`` |

Columns (header row, in this order): see ``COLUMNS``.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from oncobase.synth._text import match_keys
from oncobase.synth.schema import FACILITIES, LAYOUT, TruthChunk

COLUMNS: tuple[tuple[str, str], ...] = (
    ("registre", "registry id (REG_xx)"),
    ("id_patient", "the registry's own patient id"),
    ("num_tumeur", "1 for the first primary, 2 for the second"),
    ("nom", "family name as the registry writes it (may be the used name)"),
    ("nom_naissance", "birth family name, empty when unknown"),
    ("prenoms", "first names, space-separated"),
    ("sexe", "1 male, 2 female"),
    ("date_naissance", "birth date"),
    ("commune_naissance", "INSEE code of the birth commune (99xxx abroad)"),
    ("code_postal", "postcode of residence at diagnosis"),
    ("commune_residence", "INSEE code of the commune of residence"),
    ("nir", "NIR (15 characters), empty when unknown"),
    ("date_incidence", "incidence date (date of diagnosis)"),
    ("topographie", "ICD-O-3 topography, e.g. C50.4"),
    ("morphologie", "ICD-O-3 morphology code, 4 digits, e.g. 8500"),
    ("comportement", "ICD-O-3 behaviour digit (3 = malignant)"),
    ("grade", "ICD-O-3 grade digit 1-4; L/H for two-tier systems; 9 unknown"),
    ("base_diagnostic", "IARC basis of diagnosis (7 = histology of primary, 5 cytology, …)"),
    ("stade", "TNM stage group (or Ann Arbor for lymphomas), empty when not staged"),
    ("tnm", "TNM with prefix, e.g. pT2 N1 M0, empty when not staged"),
    ("cim10", "ICD-10 code"),
)
LATIN1_REGISTRIES = frozenset({"REG_14"})
REGISTRIES = tuple(f for f in FACILITIES if f.kind == "registry")
_GRADE_CODES = {"G1": "1", "G2": "2", "G3": "3", "G4": "4", "low": "L", "high": "H"}


@dataclass(frozen=True, kw_only=True)
class Dialect:
    delimiter: str
    encoding: str
    date_format: str  # strftime-like for pyarrow.compute.strftime


def dialect_of(registry_id: str) -> Dialect:
    if registry_id in LATIN1_REGISTRIES:
        return Dialect(delimiter=";", encoding="latin-1", date_format="%d/%m/%Y")
    return Dialect(delimiter=",", encoding="utf-8", date_format="%Y-%m-%d")


def registry_rows(chunk: TruthChunk, registry_id: str) -> pa.Table:
    """The extract rows of one registry for one chunk (strings, in ``COLUMNS`` order)."""
    dialect = dialect_of(registry_id)
    records = chunk.source_records.filter(pc.equal(chunk.source_records["source_id"], registry_id))
    if records.num_rows == 0:
        return pa.table({name: pa.array([], pa.string()) for name, _ in COLUMNS})
    tumours = chunk.tumours.select(
        [
            "tumour_key", "person_key", "tumour_number", "diagnosis_date", "topography",
            "morphology", "grade", "basis_of_diagnosis", "stage_group", "tnm_prefix", "t", "n",
            "m", "icd10",
        ]
    )  # fmt: skip
    idx, found = match_keys(tumours["person_key"].to_numpy(), records["person_key"].to_numpy())
    rows = np.flatnonzero(found)  # tumours are in tumour_key order
    left = tumours.take(pa.array(rows))
    right = records.take(pa.array(idx[rows])).drop_columns(["person_key"])
    joined = pa.Table.from_arrays(
        left.columns + right.columns, names=left.column_names + right.column_names
    )

    def date(col: str) -> pa.Array:
        return pc.strftime(joined[col], format=dialect.date_format)

    morph = joined["morphology"]
    index = pc.index_in(joined["grade"], value_set=pa.array(list(_GRADE_CODES)))
    codes = pa.array([*_GRADE_CODES.values(), "9"])
    grade = codes.take(pc.fill_null(index, len(_GRADE_CODES)))
    tnm = pc.binary_join_element_wise(
        pc.binary_join_element_wise(pc.fill_null(joined["tnm_prefix"], ""), "T", joined["t"], ""),
        pc.binary_join_element_wise("N", joined["n"], ""),
        pc.binary_join_element_wise("M", pc.fill_null(joined["m"], "x"), ""),
        " ",
    )
    columns = {
        "registre": joined["source_id"],
        "id_patient": joined["local_id"],
        "num_tumeur": joined["tumour_number"].cast(pa.string()),
        "nom": joined["family_name"],
        "nom_naissance": pc.fill_null(joined["birth_family_name"], ""),
        "prenoms": pc.binary_join(joined["first_names"], " "),
        "sexe": pc.if_else(pc.equal(joined["sex"], "M"), "1", "2"),
        "date_naissance": date("birth_date"),
        "commune_naissance": joined["birth_commune"],
        "code_postal": joined["postcode"],
        "commune_residence": joined["commune"],
        "nir": pc.fill_null(joined["nir"], ""),
        "date_incidence": date("diagnosis_date"),
        "topographie": joined["topography"],
        "morphologie": pc.utf8_slice_codeunits(morph, 0, 4),
        "comportement": pc.utf8_slice_codeunits(morph, 5, 6),
        "grade": grade,
        "base_diagnostic": joined["basis_of_diagnosis"].cast(pa.string()),
        "stade": pc.fill_null(joined["stage_group"], ""),
        "tnm": pc.fill_null(tnm, ""),
        "cim10": joined["icd10"],
    }
    return pa.table(columns)


class RegistryFeedWriter:
    """Appends each chunk's rows to ``feeds/registries/<REG>/tumours.csv``."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.rows: dict[str, int] = {r.id: 0 for r in REGISTRIES}
        for registry in REGISTRIES:
            path = self.path(registry.id)
            path.parent.mkdir(parents=True, exist_ok=True)
            header = dialect_of(registry.id).delimiter.join(name for name, _ in COLUMNS) + "\n"
            path.write_bytes(header.encode(dialect_of(registry.id).encoding))

    def path(self, registry_id: str) -> Path:
        return self.out / LAYOUT["registries"].format(facility=registry_id)

    def write(self, chunk: TruthChunk) -> int:
        total = 0
        for registry in REGISTRIES:
            table = registry_rows(chunk, registry.id)
            if table.num_rows == 0:
                continue
            dialect = dialect_of(registry.id)
            buffer = io.BytesIO()
            pacsv.write_csv(
                table,
                buffer,
                write_options=pacsv.WriteOptions(
                    include_header=False, delimiter=dialect.delimiter, quoting_style="needed"
                ),
            )
            data = buffer.getvalue()
            if dialect.encoding != "utf-8":
                data = data.decode("utf-8").encode(dialect.encoding, errors="replace")
            with self.path(registry.id).open("ab") as handle:
                handle.write(data)
            self.rows[registry.id] += table.num_rows
            total += table.num_rows
        return total

    def close(self) -> None:
        """Nothing stays open between chunks."""
