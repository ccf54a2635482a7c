"""French identity normalisation, vectorised in DuckDB SQL (no per-record Python).

Input: the identity columns of :data:`INPUT_COLUMNS` (strings; ``first_names`` may also be a
list of strings), one row per record. Output: one row per record with the comparison and
blocking features of :data:`FEATURE_COLUMNS` and a ``problems`` list naming what was wrong
with the row (``bad_birth_date``, ``nir_bad_key`` …) — never the value itself.

Rules:

* names: upper case, accents and punctuation removed, ``Œ``/``Æ`` expanded; a family name is
  compared as its letters run together (``DE LA FONTAINE`` = ``DELAFONTAINE`` = ``de
  Lafontaine``; ``MARTIN-DUPONT`` = ``MARTIN DUPONT``); its *core* drops leading particles
  (``FONTAINE``, ``GOFF``) and feeds the phonetic code; the first part of a compound name is
  kept too (``MARTIN``) for sources that write only one part;
* birth (``birth_name``) and used (``last_name``) family names are both kept; a missing birth
  name falls back to the used name;
* first names: the first given name and the sorted list of all given names (a compound
  ``Jean-Pierre`` is one name);
* NIR/INS: cleaned to digits, ``2A``/``2B``; with a good key it is an identifier (``nir_id``),
  with a bad key its 13-character body stays as a weak feature (``nir_weak``);
* birth date: ``YYYY-MM-DD`` (also ``DD/MM/YYYY``); an impossible date becomes null with the
  reason ``bad_birth_date``; ``bd_swapkey`` is equal for two dates that differ only by a
  day/month swap.
"""

from __future__ import annotations

from typing import Any

import duckdb
import pyarrow as pa

from oncobase.linkage.errors import LinkageError
from oncobase.linkage.nir import nir_valid_sql

INPUT_COLUMNS: tuple[str, ...] = (
    "record_id",
    "source",
    "nir",
    "last_name",
    "birth_name",
    "first_names",
    "sex",
    "birth_date",
    "birth_place_code",
    "postcode",
)
OPTIONAL_COLUMNS: tuple[str, ...] = ("source_kind", "death_date")

FEATURE_COLUMNS: tuple[str, ...] = (
    "record_id",
    "source",
    "source_kind",
    "nir_id",
    "nir_weak",
    "ln_used",
    "ln_birth",
    "ln_part1",
    "ln_used_ph",
    "ln_birth_ph",
    "fn1",
    "fn1_ph",
    "fn_all",
    "fn_list",
    "fn_cat",
    "sex",
    "birth_date",
    "bd_str",
    "birth_year",
    "bd_swapkey",
    "birth_place",
    "birth_dep",
    "postcode",
    "post_dep",
    "death_date",
    "problems",
)

PARTICLES = ("DE", "DU", "DES", "LA", "LE", "LES", "D", "L", "DEL", "DELLA", "VAN", "VON", "DER")

# French phonetic reduction (in the spirit of Soundex-FR / Phonex), applied to letters only.
_PHONETIC_STEPS: tuple[tuple[str, str], ...] = (
    ("PH", "F"),
    ("GH", "G"),
    ("G([EIY])", "J\\1"),
    ("GU([EIY])", "G\\1"),
    ("BV", "V"),
    ("QU", "K"),
    ("Q", "K"),
    ("C([EIY])", "S\\1"),
    ("SCH|SH|CH", "X"),
    ("CK|C", "K"),
    ("GN", "NI"),
    ("TH", "T"),
    ("W", "V"),
    ("Y", "I"),
    ("Z", "S"),
    ("EAU|AU", "O"),
    ("OU", "U"),
    ("AI|EI", "E"),
    ("[AE][NM]([^AEIOU]|$)", "A\\1"),
    ("[IEAO]N([^AEIOU]|$)", "N\\1"),
    ("H", ""),
    ("(ER|EZ|ET|ES|X|S|T|D|E)$", ""),
)


def _phonetic_macro_sql() -> str:
    expr = "s"
    for pattern, repl in _PHONETIC_STEPS:
        expr = f"regexp_replace({expr}, '{pattern}', '{repl}', 'g')"
    collapse = "t"
    for letter in "ABCDEFGIJKLMNOPRSTUVX":
        collapse = f"regexp_replace({collapse}, '{letter}{letter}+', '{letter}', 'g')"
    return (
        f"CREATE OR REPLACE TEMP MACRO _ob_collapse(t) AS {collapse};\n"
        f"CREATE OR REPLACE TEMP MACRO _ob_phon_raw(s) AS {expr};\n"
        "CREATE OR REPLACE TEMP MACRO _ob_phon(s) AS "
        "nullif(_ob_collapse(_ob_phon_raw(nullif(s, ''))), '');\n"
        "CREATE OR REPLACE TEMP MACRO _ob_letters(s) AS nullif(trim(regexp_replace("
        "regexp_replace(upper(strip_accents(replace(replace(replace(replace(s, 'œ', 'oe'), "
        "'Œ', 'OE'), 'æ', 'ae'), 'Æ', 'AE'))), '[^A-Z]+', ' ', 'g'), ' +', ' ', 'g')), '');"
    )


def _particles_regex() -> str:
    return "^((" + "|".join(PARTICLES) + ") )+"


def _to_string_columns(records: pa.Table) -> pa.Table:
    missing = [c for c in INPUT_COLUMNS if c not in records.column_names]
    if missing:
        raise LinkageError(
            f"Identity records lack the column(s) {', '.join(missing)}; expected "
            f"{', '.join(INPUT_COLUMNS)}"
        )
    columns: dict[str, Any] = {}
    for name in (*INPUT_COLUMNS, *OPTIONAL_COLUMNS):
        if name not in records.column_names:
            columns[name] = pa.nulls(records.num_rows, pa.string())
            continue
        column = records[name]
        if pa.types.is_list(column.type) or pa.types.is_large_list(column.type):
            import pyarrow.compute as pc

            column = pc.binary_join(column, " ")
        elif not pa.types.is_string(column.type):
            column = column.cast(pa.string())
        columns[name] = column
    return pa.table(columns)


def normalise_sql(source: str) -> str:
    """The SELECT that turns the identity table ``source`` into features."""
    fam = "_ob_letters(last_name)"
    birth = f"coalesce(_ob_letters(birth_name), {fam})"
    particles = _particles_regex()
    return f"""
WITH base AS (
  SELECT
    _ob_rn AS rn, record_id, source, source_kind,
    nullif(regexp_replace(upper(coalesce(nir, '')), '[^0-9AB]', '', 'g'), '') AS nir_clean,
    {fam} AS fam, {birth} AS bir,
    list_filter(
      list_transform(
        str_split_regex(upper(strip_accents(coalesce(first_names, ''))), '[ ,;/]+'),
        lambda t: regexp_replace(t, '[^A-Z]', '', 'g')),
      lambda t: t <> '') AS fns,
    CASE upper(trim(coalesce(sex, '')))
      WHEN 'M' THEN 'M' WHEN 'H' THEN 'M' WHEN '1' THEN 'M'
      WHEN 'F' THEN 'F' WHEN '2' THEN 'F' ELSE NULL END AS sex,
    nullif(trim(coalesce(sex, '')), '') AS sex_raw,
    nullif(trim(coalesce(birth_date, '')), '') AS bd_raw,
    coalesce(
      TRY_CAST(try_strptime(trim(birth_date), '%Y-%m-%d') AS DATE),
      TRY_CAST(try_strptime(trim(birth_date), '%d/%m/%Y') AS DATE)) AS bd,
    nullif(upper(trim(coalesce(birth_place_code, ''))), '') AS bp,
    nullif(regexp_replace(coalesce(postcode, ''), '[^0-9AB]', '', 'g'), '') AS pc,
    TRY_CAST(try_strptime(trim(death_date), '%Y-%m-%d') AS DATE) AS death_date
  FROM {source}
), named AS (
  SELECT *,
    replace(fam, ' ', '') AS ln_used,
    replace(bir, ' ', '') AS ln_birth,
    nullif(regexp_replace(bir, '{particles}', ''), '') AS bir_core,
    nullif(regexp_replace(fam, '{particles}', ''), '') AS fam_core,
    {nir_valid_sql("nir_clean")} AS nir_ok
  FROM base
), words AS (
  SELECT DISTINCT w FROM (
    SELECT replace(fam_core, ' ', '') AS w FROM named
    UNION ALL SELECT replace(bir_core, ' ', '') FROM named
    UNION ALL SELECT fns[1] FROM named WHERE len(fns) > 0
  ) WHERE w IS NOT NULL
), phon AS (
  SELECT w, _ob_phon(w) AS p FROM words
)
SELECT
  record_id, source, source_kind,
  CASE WHEN nir_ok THEN nir_clean END AS nir_id,
  CASE WHEN NOT nir_ok AND length(nir_clean) >= 13 THEN substr(nir_clean, 1, 13) END
    AS nir_weak,
  ln_used, ln_birth,
  CASE WHEN contains(coalesce(fam_core, ''), ' ') THEN split_part(fam_core, ' ', 1)
       WHEN contains(coalesce(bir_core, ''), ' ') THEN split_part(bir_core, ' ', 1)
  END AS ln_part1,
  pu.p AS ln_used_ph,
  pb.p AS ln_birth_ph,
  CASE WHEN len(fns) > 0 THEN fns[1] END AS fn1,
  pf.p AS fn1_ph,
  CASE WHEN len(fns) > 0 THEN array_to_string(list_sort(fns), ' ') END AS fn_all,
  CASE WHEN len(fns) > 0 THEN fns END AS fn_list,
  CASE WHEN len(fns) > 0 THEN array_to_string(fns, '') END AS fn_cat,
  sex,
  bd AS birth_date,
  strftime(bd, '%Y%m%d') AS bd_str,
  year(bd) AS birth_year,
  CASE WHEN bd IS NOT NULL THEN year(bd) * 10000
       + least(month(bd), day(bd)) * 100 + greatest(month(bd), day(bd)) END AS bd_swapkey,
  bp AS birth_place,
  CASE WHEN bp IS NOT NULL THEN substr(bp, 1, 2) END AS birth_dep,
  pc AS postcode,
  CASE WHEN pc IS NOT NULL THEN substr(pc, 1, 2) END AS post_dep,
  death_date,
  list_filter([
    CASE WHEN bd_raw IS NOT NULL AND bd IS NULL THEN 'bad_birth_date' END,
    CASE WHEN bd IS NOT NULL AND (bd > current_date OR year(bd) < 1880)
         THEN 'implausible_birth_date' END,
    CASE WHEN nir_clean IS NOT NULL AND NOT nir_ok AND length(nir_clean) >= 13
         THEN 'nir_bad_key' END,
    CASE WHEN nir_clean IS NOT NULL AND length(nir_clean) < 13 THEN 'nir_malformed' END,
    CASE WHEN ln_used IS NULL THEN 'no_family_name' END,
    CASE WHEN len(fns) = 0 THEN 'no_first_name' END,
    CASE WHEN sex_raw IS NOT NULL AND sex IS NULL THEN 'bad_sex' END
  ], lambda p: p IS NOT NULL) AS problems
FROM named
LEFT JOIN phon pu ON pu.w = replace(fam_core, ' ', '')
LEFT JOIN phon pb ON pb.w = replace(bir_core, ' ', '')
LEFT JOIN phon pf ON pf.w = fns[1]
ORDER BY named.rn
"""


def normalise_identities(
    records: pa.Table, *, con: duckdb.DuckDBPyConnection | None = None
) -> pa.Table:
    """Features of :data:`FEATURE_COLUMNS` for each identity record (same order)."""
    data = _to_string_columns(records)
    own = con is None
    connection = duckdb.connect() if con is None else con
    try:
        connection.execute(_phonetic_macro_sql())
        import numpy as np

        data = data.append_column("_ob_rn", pa.array(np.arange(data.num_rows, dtype=np.int64)))
        # Small record batches: DuckDB scans an Arrow table one thread per batch.
        data = pa.Table.from_batches(data.to_batches(max_chunksize=4096), schema=data.schema)
        connection.register("_ob_identity_input", data)
        result = connection.sql(normalise_sql("_ob_identity_input")).to_arrow_table()
        connection.unregister("_ob_identity_input")
    except duckdb.Error as exc:
        raise LinkageError(
            f"Identity normalisation failed ({type(exc).__name__}); check the input columns"
        ) from None
    finally:
        if own:
            connection.close()
    return result


def problem_counts(features: pa.Table) -> dict[str, int]:
    """How many records carry each problem (counts only, never values)."""
    import pyarrow.compute as pc

    flat = pc.list_flatten(features["problems"])
    if len(flat) == 0:
        return {}
    counts = pc.value_counts(flat).to_pylist()
    return {str(c["values"]): int(c["counts"]) for c in counts}


def phonetic(values: list[str | None]) -> list[str | None]:
    """The phonetic code of a few values (tests and docs; the pipeline uses the SQL)."""
    con = duckdb.connect()
    try:
        con.execute(_phonetic_macro_sql())
        table = pa.table({"v": pa.array(values, pa.string())})
        con.register("_v", table)
        out = con.sql("SELECT _ob_phon(replace(_ob_letters(v), ' ', '')) FROM _v").fetchall()
    finally:
        con.close()
    return [row[0] for row in out]
