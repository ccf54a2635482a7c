"""The INSEE death file ("fichier des personnes décédées"), fixed width, one file per year.

Layout used (positions 1-based, inclusive; every line is exactly ``LINE_LENGTH`` characters,
ASCII, followed by ``\\n``), as in INSEE's public file:

| positions | length | field |
| --- | --- | --- |
| 1-80 | 80 | ``NOM*PRENOMS/``: birth name, ``*``, first names, ``/`` (upper case, no accents) |
| 81 | 1 | sex: 1 male, 2 female |
| 82-89 | 8 | birth date AAAAMMJJ |
| 90-94 | 5 | birth place code: INSEE commune code, or 99 + country code for births abroad |
| 95-124 | 30 | birth commune name (blank for births abroad) |
| 125-154 | 30 | birth country name (blank for France) |
| 155-162 | 8 | death date AAAAMMJJ |
| 163-167 | 5 | death place code (INSEE commune code) |
| 168-176 | 9 | death certificate number (numéro d'acte), left-aligned |
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from oncobase.synth._dates import format_compact, split_days
from oncobase.synth._params import load_params
from oncobase.synth._text import match_keys, upper_ascii
from oncobase.synth.schema import LAYOUT, TruthChunk

FIELDS: tuple[tuple[str, int, int], ...] = (
    ("name", 1, 80),
    ("sex", 81, 81),
    ("birth_date", 82, 89),
    ("birth_place", 90, 94),
    ("birth_commune_name", 95, 124),
    ("birth_country", 125, 154),
    ("death_date", 155, 162),
    ("death_place", 163, 167),
    ("certificate", 168, 176),
)
LINE_LENGTH = 176


def _fit(values: np.ndarray, width: int) -> np.ndarray:
    """Truncated or space-padded to exactly ``width`` characters."""
    return np.char.ljust(values.astype(f"<U{width}"), width)


def death_lines(chunk: TruthChunk) -> tuple[np.ndarray, np.ndarray]:
    """(death year, line) of each death of the chunk, sorted by death date then local id."""
    records = chunk.source_records.filter(pc.equal(chunk.source_records["source_kind"], "deaths"))
    if records.num_rows == 0:
        return np.zeros(0, np.int64), np.zeros(0, "<U176")
    persons = chunk.persons.select(
        ["person_key", "death_date", "death_commune", "death_certificate"]
    )
    idx, _ = match_keys(records["person_key"].to_numpy(), persons["person_key"].to_numpy())
    right = persons.take(pa.array(idx)).drop_columns(["person_key"])
    joined = pa.Table.from_arrays(
        records.columns + right.columns, names=records.column_names + right.column_names
    )
    joined = joined.take(
        pc.sort_indices(joined, [("death_date", "ascending"), ("local_id", "ascending")])
    )
    params = load_params()
    geo = params.geography
    family = upper_ascii(
        np.asarray(joined["family_name"].to_numpy(zero_copy_only=False), dtype=str)
    )
    first = upper_ascii(
        np.asarray(
            pc.binary_join(joined["first_names"], " ").to_numpy(zero_copy_only=False), dtype=str
        )
    )
    name = np.char.add(np.char.add(np.char.add(family, "*"), first), "/")
    sex = np.where(np.asarray(joined["sex"].to_numpy(zero_copy_only=False)) == "M", "1", "2")
    birth = joined["birth_date"].cast(pa.int32()).to_numpy().astype(np.int64)
    death = joined["death_date"].cast(pa.int32()).to_numpy().astype(np.int64)
    place = np.asarray(joined["birth_commune"].to_numpy(zero_copy_only=False), dtype=str)
    code_to_name = dict(zip(geo.commune.tolist(), geo.name.tolist(), strict=True))
    names_sorted = np.array(sorted(code_to_name))
    name_values = np.array([code_to_name[c] for c in names_sorted])
    pos = np.clip(np.searchsorted(names_sorted, place), 0, len(names_sorted) - 1)
    known = names_sorted[pos] == place
    commune_name = np.where(known, upper_ascii(name_values[pos]), "")
    countries = dict(
        zip(params.countries.values, (e[0] for e in params.countries.extra), strict=True)
    )
    c_codes = np.array(sorted(countries))
    c_names = np.array([countries[c] for c in c_codes])
    cpos = np.clip(np.searchsorted(c_codes, place), 0, len(c_codes) - 1)
    country = np.where(c_codes[cpos] == place, c_names[cpos], "")
    death_place = np.asarray(joined["death_commune"].to_numpy(zero_copy_only=False), dtype=str)
    certificate = np.asarray(joined["death_certificate"].to_numpy(zero_copy_only=False), dtype=str)
    parts = (
        _fit(name, 80),
        _fit(sex, 1),
        _fit(format_compact(birth), 8),
        _fit(place, 5),
        _fit(commune_name, 30),
        _fit(country, 30),
        _fit(format_compact(death), 8),
        _fit(death_place, 5),
        _fit(certificate, 9),
    )
    line = parts[0]
    for part in parts[1:]:
        line = np.char.add(line, part)
    year, _, _ = split_days(death)
    return year, line


def _to_ascii(lines: np.ndarray) -> bytes:
    codes = np.ascontiguousarray(lines.astype(f"<U{LINE_LENGTH}")).view(np.uint32)
    codes = codes.reshape(len(lines), LINE_LENGTH).copy()
    codes[codes > 127] = ord("?")
    out = np.empty((len(lines), LINE_LENGTH + 1), dtype=np.uint8)
    out[:, :LINE_LENGTH] = codes
    out[:, LINE_LENGTH] = ord("\n")
    return out.tobytes()


class DeathFileWriter:
    """Appends each chunk's deaths to ``feeds/deaths/deces-<year>.txt``."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.rows: dict[int, int] = {}
        self.folder = (out / LAYOUT["deaths"].format(year=0)).parent
        self.folder.mkdir(parents=True, exist_ok=True)
        for old in self.folder.glob("deces-*.txt"):
            old.unlink()

    def path(self, year: int) -> Path:
        return self.out / LAYOUT["deaths"].format(year=year)

    def write(self, chunk: TruthChunk) -> int:
        years, lines = death_lines(chunk)
        for year in np.unique(years):
            sel = years == year
            with self.path(int(year)).open("ab") as handle:
                handle.write(_to_ascii(lines[sel]))
            self.rows[int(year)] = self.rows.get(int(year), 0) + int(sel.sum())
        return len(lines)

    def close(self) -> None:
        """Nothing stays open between chunks."""


def parse_death_line(line: str) -> dict[str, str]:
    """One line of the file back into its fields (trailing spaces removed)."""
    return {name: line[start - 1 : stop].rstrip() for name, start, stop in FIELDS}
