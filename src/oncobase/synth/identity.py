"""Identity as each source knows it: one SOURCE_RECORDS row per (source, person), with noise.

Each noise kind is applied, independently, with the rate of the source's kind, to the records
where it can apply ("applicable"): ``used_name`` only to persons with a used (married) name,
``first_only`` and ``first_reorder`` only to persons with two first names or more (and
``first_reorder`` only when ``first_only`` was not applied), ``nir_typo`` only when the NIR is
not missing, ``date_swap`` only when the birth day is 12 or less and differs from the month.
The applied kinds are listed in ``noise``, in the order of ``NOISE_KINDS``.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from oncobase.synth._dates import from_parts, split_days, to_arrow
from oncobase.synth._params import NOISE_KINDS, IntArray, StrArray, load_params
from oncobase.synth._text import apply_typos, format_ids, mix_ids, strip_accents
from oncobase.synth.population import draw_addresses, draw_communes
from oncobase.synth.schema import SOURCE_RECORDS

ID_WIDTH = {"hospital": 11, "lab": 10, "registry": 8, "deaths": 10}


def source_salt(seed: int, source_id: str) -> int:
    """A stable per-source secret, so local ids do not reveal person keys."""
    digest = hashlib.sha256(f"{seed}:{source_id}".encode()).digest()
    return int.from_bytes(digest[:8], "little")


def local_ids(seed: int, source_id: str, kind: str, person_keys: IntArray) -> pa.Array:
    numbers = mix_ids(person_keys, source_salt(seed, source_id))
    width = ID_WIDTH[kind]
    numbers = numbers % (10**width)
    return format_ids(f"{source_id}-", numbers, width)


def _strings(arr: pa.Array) -> StrArray:
    return np.asarray(arr.to_numpy(zero_copy_only=False).astype(str))


def build_source_records(
    rng: np.random.Generator,
    persons: dict[str, pa.Array | np.ndarray],
    *,
    source_ids: np.ndarray,
    kinds: np.ndarray,
    person_index: IntArray,
    rates: dict[str, dict[str, float]],
    seed: int,
) -> pa.Table:
    """SOURCE_RECORDS rows for the (source, person) pairs given, noise applied."""
    n = len(person_index)
    if n == 0:
        return SOURCE_RECORDS.empty_table()
    take = pa.array(person_index)
    birth_name = _strings(pa.array(persons["birth_family_name"]).take(take))
    used = pa.array(persons["used_family_name"]).take(take)
    has_used = np.asarray(pc.is_valid(used))
    used_np = np.where(has_used, _strings(pc.fill_null(used, "")), "")
    first_lists = pa.array(persons["first_names"]).take(take)
    birth_days = np.asarray(persons["birth_days"])[person_index]
    nir = np.asarray(persons["nir"])[person_index].astype("<U15")
    geo = load_params().geography
    residence = np.asarray(persons["residence"])[person_index]
    address = pa.array(persons["address_line"]).take(take)
    n_first = np.asarray(pc.list_value_length(first_lists)).astype(np.int64)

    kind_rates = {name: _per_kind(kinds, rates, name) for name in NOISE_KINDS}
    _, month, day = split_days(birth_days)
    applicable = {
        "typo": np.ones(n, bool),
        "accents": np.ones(n, bool),
        "used_name": has_used,
        "first_only": n_first >= 2,
        "first_reorder": n_first >= 2,
        "nir_missing": np.ones(n, bool),
        "nir_typo": np.ones(n, bool),
        "date_swap": (day <= 12) & (day != month),
        "moved": np.ones(n, bool),
    }
    applied: dict[str, np.ndarray] = {}
    for name in NOISE_KINDS:
        hit = applicable[name] & (rng.random(n) < kind_rates[name])
        if name == "first_reorder":
            hit &= ~applied["first_only"]
        if name == "nir_typo":
            hit &= ~applied["nir_missing"]
        applied[name] = hit
    # names
    family = np.where(applied["used_name"], used_np, birth_name)
    birth_field = pc.if_else(pa.array(applied["used_name"]), pa.nulls(n, pa.string()),
                             pa.array(birth_name))  # fmt: skip
    typo = applied["typo"]
    if typo.any():
        family = family.astype(f"<U{max(family.dtype.itemsize // 4, 1) + 1}")
        family[typo] = apply_typos(family[typo], rng)
    accents = applied["accents"]
    if accents.any():
        family[accents] = strip_accents(family[accents])
        birth_np = _strings(pc.fill_null(birth_field, ""))
        birth_np[accents] = strip_accents(birth_np[accents])
        birth_field = pc.if_else(pc.is_valid(birth_field), pa.array(birth_np), birth_field)
    first = _noisy_first_names(first_lists, applied, rng)
    # NIR
    nir_out = nir.copy()
    typo_nir = applied["nir_typo"]
    if typo_nir.any():
        codes = np.ascontiguousarray(nir_out[typo_nir]).view(np.uint32).reshape(-1, 15).copy()
        positions = np.array([1, 2, 3, 4, 7, 8, 9, 10, 11, 12])
        pos = positions[rng.integers(0, len(positions), size=len(codes))]
        rows = np.arange(len(codes))
        digit = codes[rows, pos] - ord("0")
        digit = (digit + rng.integers(1, 10, size=len(codes))) % 10
        codes[rows, pos] = (digit + ord("0")).astype(np.uint32)
        nir_out[typo_nir] = np.ascontiguousarray(codes).view("<U15").reshape(-1)
    nir_arr = pa.array(nir_out, mask=applied["nir_missing"], type=pa.string())
    # birth date
    swap = applied["date_swap"]
    year, month, day = split_days(birth_days)
    birth_out = np.where(swap, from_parts(year, day, month), birth_days)
    # address
    moved = applied["moved"]
    new_res = draw_communes(rng, n)
    residence = np.where(moved, new_res, residence)
    address = pc.if_else(pa.array(moved), draw_addresses(rng, n), address)
    # noise list
    flags = np.column_stack([applied[k] for k in NOISE_KINDS])
    counts = flags.sum(axis=1)
    offsets = np.zeros(n + 1, dtype=np.int32)
    np.cumsum(counts, out=offsets[1:])
    names = np.broadcast_to(np.array(NOISE_KINDS, dtype=object), flags.shape)[flags]
    noise = pa.ListArray.from_arrays(pa.array(offsets), pa.array(names, type=pa.string()))
    ids = _local_ids_by_source(
        seed, source_ids, kinds, np.asarray(persons["person_key"])[person_index]
    )
    columns = {
        "source_id": pa.array(source_ids.astype(object), type=pa.string()),
        "source_kind": pa.array(kinds.astype(object), type=pa.string()),
        "local_id": ids,
        "person_key": pa.array(np.asarray(persons["person_key"])[person_index], type=pa.int64()),
        "sex": pa.array(np.asarray(persons["sex"])[person_index].astype(object), type=pa.string()),
        "birth_date": to_arrow(birth_out),
        "birth_commune": pa.array(
            np.asarray(persons["birth_commune"])[person_index].astype(object), type=pa.string()
        ),
        "family_name": pa.array(family.astype(object), type=pa.string()),
        "birth_family_name": birth_field,
        "first_names": first,
        "nir": nir_arr,
        "address_line": address,
        "postcode": pa.array(geo.postcode[residence].astype(object), type=pa.string()),
        "commune": pa.array(geo.commune[residence].astype(object), type=pa.string()),
        "noise": noise,
    }
    return pa.Table.from_pydict(columns, schema=SOURCE_RECORDS)


def _per_kind(kinds: np.ndarray, rates: dict[str, dict[str, float]], name: str) -> np.ndarray:
    out = np.zeros(len(kinds))
    for kind, values in rates.items():
        out[kinds == kind] = values[name]
    return out


def _local_ids_by_source(
    seed: int, source_ids: np.ndarray, kinds: np.ndarray, person_keys: IntArray
) -> pa.Array:
    order = np.argsort(source_ids, kind="stable")
    parts = []
    for source in np.unique(source_ids):
        sel = order[source_ids[order] == source]
        parts.append(local_ids(seed, str(source), str(kinds[sel[0]]), person_keys[sel]))
    combined = pa.concat_arrays(parts) if parts else pa.array([], pa.string())
    inverse = np.empty(len(order), dtype=np.int64)
    inverse[order] = np.arange(len(order))
    return combined.take(pa.array(inverse))


def _noisy_first_names(
    lists: pa.Array, applied: dict[str, np.ndarray], rng: np.random.Generator
) -> pa.Array:
    """First-name lists with 'first_only', 'first_reorder' and 'accents' applied."""
    del rng
    lists = pa.array(lists)
    offsets = np.asarray(lists.offsets).astype(np.int64)
    values = _strings(lists.flatten())
    lengths = np.diff(offsets)
    owner = np.repeat(np.arange(len(lengths)), lengths)
    pos = np.arange(len(values)) - offsets[:-1][owner]
    only = applied["first_only"]
    reorder = applied["first_reorder"]
    keep = ~only[owner] | (pos == 0)
    # reorder: rotate by one (second name first, the first name last)
    ln = lengths[owner]
    src = np.where(
        reorder[owner], offsets[:-1][owner] + (pos + 1) % np.maximum(ln, 1), np.arange(len(values))
    )
    new_values = values[src][keep]
    acc = applied["accents"][owner][keep]
    if acc.any():
        new_values = new_values.copy()
        new_values[acc] = strip_accents(new_values[acc])
    new_lengths = np.where(only, np.minimum(lengths, 1), lengths)
    new_offsets = np.zeros(len(lengths) + 1, dtype=np.int32)
    np.cumsum(new_lengths, out=new_offsets[1:])
    return pa.ListArray.from_arrays(
        pa.array(new_offsets), pa.array(new_values.astype(object), type=pa.string())
    )
