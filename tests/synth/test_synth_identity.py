"""NIR keys, local ids and the identity noise of each source kind."""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from oncobase.synth._params import NOISE_KINDS
from oncobase.synth._text import apply_typos, check_nir, compute_nir_key, mix_ids, strip_accents
from oncobase.synth.chunk import build_chunk
from oncobase.synth.config import SynthConfig


def _key(body: str) -> int:
    n = int(body.replace("2A", "19").replace("2B", "18"))
    return 97 - n % 97


def _has(noise: pa.ChunkedArray, name: str) -> np.ndarray:
    """Whether each record's noise list holds ``name``."""
    arr = noise.combine_chunks()
    out = np.zeros(len(arr), dtype=bool)
    flat = np.asarray(arr.flatten().to_numpy(zero_copy_only=False))
    parents = pc.list_parent_indices(arr).to_numpy()
    out[parents[flat == name]] = True
    return out


@pytest.fixture(scope="module")
def chunk():  # type: ignore[no-untyped-def]
    return build_chunk(SynthConfig(patients=20_000, seed=7, chunk_size=20_000), 0)


def test_nir_key_formula_including_corsica() -> None:
    bodies = ["1850275056123", "2690299350012", "155022A004010", "16011" + "2B033" + "123"]
    keys = compute_nir_key(np.array(bodies))
    assert keys.tolist() == [_key(b) for b in bodies]
    # the classic worked example "2 55 08 14 168 025 / 38"; Corsica: 2A counts as 19
    assert compute_nir_key(np.array(["2550814168025"])).tolist() == [38]
    assert compute_nir_key(np.array(["155022A004010"])).tolist() == [97 - 1550219004010 % 97]


def test_generated_nirs_are_valid(chunk) -> None:  # type: ignore[no-untyped-def]
    nir = np.asarray(chunk.persons["nir"].to_numpy(zero_copy_only=False), dtype=str)
    assert (np.char.str_len(nir) == 15).all()
    assert check_nir(nir).all()
    corsica = np.array([n[5:7] in ("2A", "2B") for n in nir])
    assert corsica.any()
    assert check_nir(nir[corsica]).all()
    ins = np.asarray(chunk.persons["ins"].to_numpy(zero_copy_only=False), dtype=str)
    assert (ins == nir).all()
    sex = np.asarray(chunk.persons["sex"].to_numpy(zero_copy_only=False))
    assert ((np.char.startswith(nir, "1")) == (sex == "M")).all()


def test_nir_typos_break_the_key(chunk) -> None:  # type: ignore[no-untyped-def]
    rec = chunk.source_records
    typo = _has(rec["noise"], "nir_typo")
    nir = np.asarray(rec["nir"].to_numpy(zero_copy_only=False))
    assert typo.any()
    assert not check_nir(nir[typo].astype(str)).any()
    clean = ~typo & pc.is_valid(rec["nir"]).to_numpy(zero_copy_only=False)
    assert check_nir(nir[clean].astype(str)).all()


def test_local_ids_unique_and_opaque(chunk) -> None:  # type: ignore[no-untyped-def]
    rec = chunk.source_records
    pairs = pc.binary_join_element_wise(rec["source_id"], rec["local_id"], "|")
    assert len(pc.unique(pairs)) == rec.num_rows
    keys = np.arange(1, 100_000, dtype=np.int64)
    mixed = mix_ids(keys, 12345)
    assert len(np.unique(mixed)) == len(keys)
    assert not np.array_equal(np.sort(mixed), keys)
    ids = rec.filter(pc.equal(rec["source_id"], "HOSP01"))["local_id"].to_pylist()
    assert all(i.startswith("HOSP01-") and len(i) == 18 for i in ids)


def test_text_helpers() -> None:
    assert strip_accents(np.array(["Hélène", "François", "Noël"])).tolist() == [
        "Helene", "Francois", "Noel",
    ]  # fmt: skip
    names = np.array(["Dupont", "Martin", "Le Goff", "Aa"] * 50)
    typos = apply_typos(names, np.random.default_rng(1))
    assert (typos != names).all()


@pytest.mark.parametrize("kind", ["hospital", "lab", "registry", "deaths"])
def test_noise_rates_match_configuration(chunk, kind: str) -> None:  # type: ignore[no-untyped-def]
    """Applied rate among applicable records within 4 binomial standard errors of the rate."""
    rates = SynthConfig(patients=1, seed=1).noise_rates()[kind]
    rec = chunk.source_records.filter(pc.equal(chunk.source_records["source_kind"], kind))
    persons = chunk.persons
    order = np.argsort(persons["person_key"].to_numpy())
    pos = order[
        np.searchsorted(persons["person_key"].to_numpy()[order], rec["person_key"].to_numpy())
    ]
    n_first = pc.list_value_length(persons["first_names"]).to_numpy()[pos]
    has_used = pc.is_valid(persons["used_family_name"]).to_numpy(zero_copy_only=False)[pos]
    birth = pa.compute.cast(persons["birth_date"], pa.int32()).to_numpy()[pos]
    day = np.array(birth, dtype="datetime64[D]")
    month_no = day.astype("datetime64[M]").astype(int) % 12 + 1
    day_no = (day - day.astype("datetime64[M]")).astype(int) + 1
    applied = {name: _has(rec["noise"], name) for name in NOISE_KINDS}
    applicable = {
        "used_name": has_used,
        "first_only": n_first >= 2,
        "first_reorder": (n_first >= 2) & ~applied["first_only"],
        "nir_typo": ~applied["nir_missing"],
        "date_swap": (day_no <= 12) & (day_no != month_no),
    }
    assert rec.num_rows > 300
    for name in NOISE_KINDS:
        base = applicable.get(name, np.ones(rec.num_rows, bool))
        n = int(base.sum())
        if n == 0:
            continue
        observed = float(applied[name][base].mean())
        p = rates[name]
        if name == "first_reorder":  # drawn before first_only is excluded
            p = rates[name]
        se = math.sqrt(max(p * (1 - p), 1e-9) / n)
        assert abs(observed - p) <= 4 * se + 1e-9, f"{kind} {name}: {observed:.4f} vs {p} (n={n})"
        assert not applied[name][~base].any(), f"{kind} {name} applied where not applicable"
