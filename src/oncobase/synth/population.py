"""Persons of the synthetic nation: identity, birth, residence, NIR/INS (vectorised)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from oncobase.synth._dates import DAYS_PER_YEAR, split_days, to_days
from oncobase.synth._names import draw_family_names, draw_first_names
from oncobase.synth._params import IntArray, StrArray, load_params
from oncobase.synth._text import compute_nir_key
from oncobase.synth.config import SynthConfig


@dataclass(frozen=True, kw_only=True)
class Residence:
    commune_index: IntArray
    address_line: pa.Array


def draw_communes(rng: np.random.Generator, n: int) -> IntArray:
    """Indices into the geography table, weighted by population."""
    geo = load_params().geography
    return rng.choice(len(geo.commune), size=n, p=geo.weight).astype(np.int64)


def draw_addresses(rng: np.random.Generator, n: int) -> pa.Array:
    """'12 rue de la République'-like address lines."""
    params = load_params()
    number = pa.array(1 + rng.geometric(0.04, size=n).clip(max=250)).cast(pa.string())
    types = np.array(params.street_types)[rng.integers(0, len(params.street_types), size=n)]
    names = np.array(params.street_names)[rng.integers(0, len(params.street_names), size=n)]
    return pc.binary_join_element_wise(number, pa.array(types), pa.array(names), " ")


def draw_birth_places(
    rng: np.random.Generator, residence: IntArray, *, born_abroad: float
) -> tuple[StrArray, StrArray, StrArray, StrArray]:
    """Birth commune code, NIR département part, NIR commune part, country name ('' = France)."""
    params = load_params()
    geo = params.geography
    n = len(residence)
    same = rng.random(n) < 0.6
    other = draw_communes(rng, n)
    idx = np.where(same, residence, other)
    commune = geo.commune[idx].astype("<U5")
    abroad = rng.random(n) < born_abroad
    countries = rng.choice(len(params.countries.values), size=n, p=params.countries.probs)
    country_code = np.array(params.countries.values)[countries]
    country_name = np.array([e[0] for e in params.countries.extra])[countries]
    commune = np.where(abroad, country_code, commune)
    dept_part = np.where(abroad, "99", geo.departement[idx].astype("<U2"))
    com_part = _last3(commune)  # the last 3 characters of the INSEE code (or country code)
    return (
        commune,
        dept_part.astype("<U2"),
        com_part.astype("<U3"),
        np.where(abroad, country_name, ""),
    )


def _last3(codes: StrArray) -> StrArray:
    fixed = np.ascontiguousarray(codes.astype("<U5")).view(np.uint32).reshape(len(codes), 5)
    return np.ascontiguousarray(fixed[:, 2:]).view("<U3").reshape(-1)


def build_nir(
    rng: np.random.Generator,
    *,
    is_female: np.ndarray,
    birth_days: IntArray,
    dept_part: StrArray,
    com_part: StrArray,
) -> StrArray:
    """15-character NIRs: sex, yy, mm, département, commune, order, key."""
    year, month, _ = split_days(birth_days)
    order = rng.integers(1, 1000, size=len(birth_days))
    body = np.char.add(np.where(is_female, "2", "1"), np.char.zfill((year % 100).astype(str), 2))
    body = np.char.add(body, np.char.zfill(month.astype(str), 2))
    body = np.char.add(np.char.add(body, dept_part), com_part)
    body = np.char.add(body, np.char.zfill(order.astype(str), 3))
    key = compute_nir_key(body)
    return np.char.add(body, np.char.zfill(key.astype(str), 2))


def build_persons(
    rng: np.random.Generator,
    config: SynthConfig,
    *,
    person_keys: IntArray,
    is_female: np.ndarray,
    birth_days: IntArray,
    is_cancer: np.ndarray,
) -> dict[str, pa.Array | np.ndarray]:
    """Identity columns of PERSONS (without the death columns)."""
    geo = load_params().geography
    n = len(person_keys)
    residence = draw_communes(rng, n)
    birth_commune, dept_part, com_part, _ = draw_birth_places(
        rng, residence, born_abroad=config.born_abroad
    )
    nir = build_nir(
        rng, is_female=is_female, birth_days=birth_days, dept_part=dept_part, com_part=com_part
    )
    family = draw_family_names(rng, n)
    age_2025 = (to_days(config.closing_date) - birth_days) / DAYS_PER_YEAR
    married = is_female & (age_2025 >= 25) & (rng.random(n) < config.used_name_share)
    spouse = draw_family_names(rng, n)
    used = pc.if_else(pa.array(married), spouse, pa.nulls(n, pa.string()))
    return {
        "person_key": person_keys,
        "sex": np.where(is_female, "F", "M"),
        "birth_days": birth_days,
        "birth_commune": birth_commune,
        "birth_family_name": family,
        "used_family_name": used,
        "first_names": draw_first_names(rng, is_female),
        "nir": nir,
        "address_line": draw_addresses(rng, n),
        "residence": residence,
        "postcode": geo.postcode[residence],
        "residence_commune": geo.commune[residence],
        "departement": geo.departement[residence],
        "region": geo.region[residence],
        "is_cancer_patient": is_cancer,
    }
