"""The French NIR (numéro d'inscription au répertoire) and its control key.

A NIR is 13 characters (sex, birth year, month, département — ``2A``/``2B`` for Corsica —,
commune, order number) followed by a two-digit key ``97 - (n mod 97)``, where ``n`` is the
13 characters read as a number with ``2A`` replaced by ``19`` and ``2B`` by ``18``.

:func:`nir_key` and :func:`nir_is_valid` serve single values (tests, the CLI);
:func:`nir_valid_sql` is the same rule as a vectorised SQL expression.
"""

from __future__ import annotations

import re

_SHAPE = re.compile(r"^[12378][0-9]{4}(?:[0-9]{2}|2A|2B)[0-9]{6}$")


def _numeric(body: str) -> int:
    return int(body[:5] + body[5:7].replace("2A", "19").replace("2B", "18") + body[7:])


def nir_key(body: str) -> int:
    """The control key of a 13-character NIR body (ValueError if it is not one)."""
    body = body.upper()
    if not _SHAPE.match(body):
        raise ValueError("not a 13-character NIR body")
    return 97 - _numeric(body) % 97


def nir_is_valid(nir: str | None) -> bool:
    """True when ``nir`` is 15 characters whose last two are the key of the first 13."""
    if nir is None:
        return False
    nir = nir.replace(" ", "").upper()
    if len(nir) != 15 or not nir[13:].isdigit() or not _SHAPE.match(nir[:13]):
        return False
    return nir_key(nir[:13]) == int(nir[13:])


def nir_valid_sql(column: str) -> str:
    """SQL (DuckDB) boolean: ``column`` (already cleaned to [0-9AB]) is a NIR with a good key."""
    body = f"substr({column}, 1, 13)"
    numeric = (
        f"TRY_CAST(substr({column}, 1, 5) || "
        f"replace(replace(substr({column}, 6, 2), '2A', '19'), '2B', '18') || "
        f"substr({column}, 8, 6) AS BIGINT)"
    )
    return (
        f"(coalesce(length({column}) = 15 AND regexp_full_match({body}, "
        f"'[12378][0-9]{{4}}([0-9]{{2}}|2A|2B)[0-9]{{6}}') "
        f"AND TRY_CAST(substr({column}, 14, 2) AS INTEGER) = 97 - ({numeric} % 97), false))"
    )
