"""Vectorised string helpers: NIR keys, accent stripping, typos, opaque local ids."""

from __future__ import annotations

import unicodedata

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from oncobase.synth._params import IntArray, StrArray

_LETTERS = np.frombuffer("abcdefghijklmnopqrstuvwxyz".encode("utf-32-le"), dtype=np.uint32)


def compute_nir_key(body: StrArray) -> IntArray:
    """The 2-digit key 97 - (n mod 97) of 13-character NIR bodies (2A -> 19, 2B -> 18)."""
    text = np.char.replace(np.char.replace(body.astype("<U13"), "2A", "19"), "2B", "18")
    digits = text.view(np.uint32).reshape(-1, 13).astype(np.int64) - ord("0")
    if digits.size and (digits.min() < 0 or digits.max() > 9):
        raise ValueError("NIR body must hold 13 digits (2A/2B allowed in the département)")
    n = digits @ (10 ** np.arange(12, -1, -1, dtype=np.int64))
    return np.asarray(97 - n % 97, dtype=np.int64)


def check_nir(nir: StrArray) -> npt.NDArray[np.bool_]:
    """Whether each 15-character NIR carries a valid key."""
    nir = nir.astype("<U15")
    key = np.char.str_len(nir) == 15
    out = np.zeros(len(nir), dtype=bool)
    if key.any():
        body = _slice(nir[key], 0, 13)
        given = _slice(nir[key], 13, 15).astype(np.int64)
        out[key] = compute_nir_key(body) == given
    return out


def _slice(arr: StrArray, start: int, stop: int) -> StrArray:
    width = stop - start
    codes = arr.astype(f"<U{arr.dtype.itemsize // 4}").view(np.uint32)
    codes = codes.reshape(len(arr), -1)[:, start:stop]
    return np.ascontiguousarray(codes).view(f"<U{width}").reshape(-1)


def to_codes(values: StrArray, width: int) -> npt.NDArray[np.uint32]:
    """Strings as an (n, width) array of code points (0-padded)."""
    fixed = values.astype(f"<U{width}")
    return np.ascontiguousarray(fixed).view(np.uint32).reshape(len(values), width).copy()


def from_codes(codes: npt.NDArray[np.uint32]) -> StrArray:
    width = codes.shape[1]
    return np.ascontiguousarray(codes).view(f"<U{width}").reshape(-1)


def _accent_table() -> npt.NDArray[np.uint32]:
    table = np.arange(0x250, dtype=np.uint32)
    for cp in range(0xC0, 0x250):
        base = unicodedata.normalize("NFKD", chr(cp))[0]
        if base.isascii():
            table[cp] = ord(base)
    return table


_ACCENTS = _accent_table()


def strip_accents(values: StrArray) -> StrArray:
    """Accented Latin letters replaced by their base letter (ç -> c, É -> E, œ kept)."""
    if len(values) == 0:
        return values
    width = max(int(np.char.str_len(values).max()), 1)
    codes = to_codes(values, width)
    low = codes < len(_ACCENTS)
    codes[low] = _ACCENTS[codes[low]]
    return from_codes(codes)


def apply_typos(values: StrArray, rng: np.random.Generator) -> StrArray:
    """One typo per string: a substituted, deleted, doubled or swapped letter."""
    n = len(values)
    if n == 0:
        return values
    lengths = np.char.str_len(values).astype(np.int64)
    width = int(lengths.max()) + 1
    codes = to_codes(values, width)
    pos = (rng.random(n) * np.maximum(lengths - 1, 1)).astype(np.int64)
    pos = np.minimum(pos, np.maximum(lengths - 1, 0))
    kind = rng.integers(0, 4, size=n)
    rows = np.arange(n)
    cols = np.arange(width)[None, :]
    # substitution
    sub = (kind == 0) & (lengths > 0)
    letter = _LETTERS[rng.integers(0, 26, size=n)]
    upper = codes[rows, pos] < ord("a")
    letter = np.where(upper, letter - 32, letter).astype(np.uint32)
    same = codes[rows, pos] == letter
    letter = np.where(same, np.where(upper, ord("E"), ord("e")), letter).astype(np.uint32)
    codes[rows[sub], pos[sub]] = letter[sub]
    # deletion: shift left from pos (only when the name keeps at least 2 letters)
    dele = (kind == 1) & (lengths > 2)
    src = cols + (cols >= pos[:, None])
    src = np.minimum(src, width - 1)
    shifted = np.take_along_axis(codes, src, axis=1)
    shifted[:, -1] = 0
    codes[dele] = shifted[dele]
    # doubling: repeat the letter at pos
    dbl = kind == 2
    src = cols - (cols > pos[:, None])
    doubled = np.take_along_axis(codes, np.maximum(src, 0), axis=1)
    codes[dbl] = doubled[dbl]
    # transposition of pos and pos + 1
    swp = (kind == 3) & (lengths > 1)
    nxt = np.minimum(pos + 1, width - 1)
    a = codes[rows, pos].copy()
    b = codes[rows, nxt].copy()
    codes[rows[swp], pos[swp]] = b[swp]
    codes[rows[swp], nxt[swp]] = a[swp]
    out = from_codes(codes)
    # a swap of two equal letters changes nothing: substitute instead
    unchanged = out == values
    if unchanged.any():
        fix = to_codes(values[unchanged], width)
        idx = np.arange(int(unchanged.sum()))
        p = pos[unchanged]
        fix[idx, p] = np.where(fix[idx, p] == ord("x"), ord("s"), ord("x")).astype(np.uint32)
        out[unchanged] = from_codes(fix)
    return out


def mix_ids(keys: IntArray, salt: int) -> IntArray:
    """A keyed bijection of 36-bit integers: opaque, stable, collision-free local ids."""
    mask = np.uint64((1 << 36) - 1)
    x = (keys.astype(np.uint64) ^ np.uint64(salt & ((1 << 36) - 1))) & mask
    with np.errstate(over="ignore"):
        for mult, shift in ((0x9E3779B1, 17), (0x85EBCA77, 13), (0xC2B2AE3D, 16)):
            x = (x * np.uint64(mult)) & mask
            x = x ^ (x >> np.uint64(shift))
    return x.astype(np.int64)


def format_ids(prefix: str, numbers: IntArray, width: int) -> pa.Array:
    """``prefix`` + zero-padded numbers, as an Arrow string array."""
    text = pc.utf8_lpad(pa.array(numbers).cast(pa.string()), width=width, padding="0")
    return pc.binary_join_element_wise(prefix, text, "")


def upper_ascii(values: StrArray) -> StrArray:
    """Upper case without accents (as the INSEE death file writes names)."""
    return np.char.upper(strip_accents(values))


def match_keys(left: IntArray, right: IntArray) -> tuple[IntArray, npt.NDArray[np.bool_]]:
    """For each left key, the index of the (unique) equal right key, and whether there is one."""
    if len(right) == 0:
        return np.zeros(len(left), np.int64), np.zeros(len(left), bool)
    order = np.argsort(right, kind="stable")
    pos = np.clip(np.searchsorted(right[order], left), 0, len(right) - 1)
    idx = order[pos]
    return idx.astype(np.int64), right[idx] == left
