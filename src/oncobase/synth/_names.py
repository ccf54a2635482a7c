"""French names, drawn vectorised from Faker ``fr_FR``'s lists (read once, no per-person call)."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from oncobase.synth._params import FloatArray, StrArray

PARTICLES = ("de", "de la", "Le")


@dataclass(frozen=True, kw_only=True)
class NameLists:
    family: StrArray
    family_p: FloatArray  # Zipf-like: common names are common
    male: StrArray
    female: StrArray


@functools.cache
def load_names() -> NameLists:
    """Faker fr_FR's family and first names as numpy arrays."""
    from faker.providers.person.fr_FR import Provider

    family = np.array(sorted(set(Provider.last_names)))
    rank = np.arange(1, len(family) + 1, dtype=np.float64)
    # Faker's list is alphabetical once sorted; a seeded shuffle gives a stable rank order.
    order = np.random.default_rng(7).permutation(len(family))
    weights = 1.0 / (rank[order] + 20.0)
    return NameLists(
        family=family,
        family_p=weights / weights.sum(),
        male=np.array(sorted(set(Provider.first_names_male))),
        female=np.array(sorted(set(Provider.first_names_female))),
    )


def draw_family_names(rng: np.random.Generator, n: int) -> pa.Array:
    """Family names with hyphenated double names (3 %) and particles (2 %)."""
    names = load_names()
    first = names.family[rng.choice(len(names.family), size=n, p=names.family_p)]
    second = names.family[rng.choice(len(names.family), size=n, p=names.family_p)]
    kind = rng.random(n)
    out = first.astype(object)
    double = kind < 0.03
    out[double] = np.char.add(np.char.add(first[double], "-"), second[double])
    particle = (kind >= 0.03) & (kind < 0.05)
    chosen = np.array(PARTICLES)[rng.integers(0, len(PARTICLES), size=n)]
    out[particle] = np.char.add(np.char.add(chosen[particle], " "), first[particle])
    return pa.array(out, type=pa.string())


def draw_first_names(rng: np.random.Generator, is_female: np.ndarray) -> pa.Array:
    """One to three first names per person (civil order), the first one sometimes compound."""
    names = load_names()
    n = len(is_female)
    count = 1 + (rng.random(n) < 0.6).astype(np.int64) + (rng.random(n) < 0.2).astype(np.int64)
    total = int(count.sum())
    owner = np.repeat(np.arange(n), count)
    female = np.repeat(is_female, count)
    male_pick = names.male[rng.integers(0, len(names.male), size=total)]
    female_pick = names.female[rng.integers(0, len(names.female), size=total)]
    values = np.where(female, female_pick, male_pick).astype(object)
    offsets = np.zeros(n + 1, dtype=np.int32)
    np.cumsum(count, out=offsets[1:])
    first_pos = offsets[:-1]
    compound = rng.random(n) < 0.12
    prefix = np.where(is_female, "Marie", "Jean")
    other = np.where(
        is_female,
        names.female[rng.integers(0, len(names.female), size=n)],
        names.male[rng.integers(0, len(names.male), size=n)],
    )
    join = np.char.add(np.char.add(prefix, "-"), other)
    values[first_pos[compound]] = join[compound]
    del owner
    return pa.ListArray.from_arrays(pa.array(offsets), pa.array(values, type=pa.string()))


def join_first_names(first_names: pa.Array, sep: str = " ") -> pa.Array:
    """First names of each list joined into one string."""
    return pc.binary_join(first_names, sep)
