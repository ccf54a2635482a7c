from __future__ import annotations

import duckdb
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from oncobase.linkage.nir import nir_is_valid, nir_key, nir_valid_sql

bodies = st.builds(
    lambda sex, yy, mm, dep, rest: f"{sex}{yy:02d}{mm:02d}{dep}{rest:06d}",
    st.sampled_from("12"),
    st.integers(0, 99),
    st.integers(1, 12),
    st.sampled_from(["75", "13", "2A", "2B", "99", "01"]),
    st.integers(0, 999_999),
)


def test_known_nir_key() -> None:
    # 1 55 08 75 108 123 → key 97 - (1550875108123 mod 97)
    assert nir_key("1550875108123") == 97 - 1550875108123 % 97
    assert nir_key("1550819108123") == nir_key("155082A108123")  # 2A counts as 19


@given(bodies)
def test_a_nir_with_its_key_is_valid(body: str) -> None:
    assert nir_is_valid(body + f"{nir_key(body):02d}")


@given(bodies, st.integers(7, 12), st.integers(1, 9))
def test_one_changed_digit_breaks_the_key(body: str, pos: int, delta: int) -> None:
    nir = body + f"{nir_key(body):02d}"
    changed = nir[:pos] + str((int(nir[pos]) + delta) % 10) + nir[pos + 1 :]
    assert not nir_is_valid(changed)


@settings(max_examples=50)
@given(st.lists(bodies, min_size=1, max_size=20), st.integers(0, 96))
def test_sql_rule_agrees_with_python(items: list[str], key: int) -> None:
    values = [b + f"{nir_key(b):02d}" for b in items] + [b + f"{key:02d}" for b in items]
    con = duckdb.connect()
    con.register("t", pa.table({"nir": values}))
    got = [row[0] for row in con.sql(f"SELECT {nir_valid_sql('nir')} FROM t").fetchall()]
    assert got == [nir_is_valid(v) for v in values]


def test_malformed_values_are_not_valid() -> None:
    assert not nir_is_valid(None)
    assert not nir_is_valid("")
    assert not nir_is_valid("12345")
    assert not nir_is_valid("X55087510812345")
