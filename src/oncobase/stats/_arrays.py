"""Small validation helpers shared by the statistics cores (internal)."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from oncobase.errors import StatsError

# Arrays are float64/int64/bool by convention; the aliases stay loose because numpy's stubs
# type many ufunc and bincount results less precisely than they are.
FloatArray = npt.NDArray[Any]
IntArray = npt.NDArray[Any]
BoolArray = npt.NDArray[Any]


def as_float_array(values: npt.ArrayLike, *, name: str) -> FloatArray:
    """Return ``values`` as a 1-d float64 array, or raise naming the first bad row."""
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise StatsError(f"{name}: values must be numbers ({exc})") from exc
    if arr.ndim != 1:
        arr = arr.reshape(-1)
    bad = np.flatnonzero(~np.isfinite(arr))
    if bad.size:
        raise StatsError(f"{name}: row {int(bad[0])} is missing or not finite ({arr[bad[0]]!r})")
    return arr


def require_non_negative(arr: FloatArray, *, name: str) -> None:
    """Raise naming the first row where ``arr`` is negative."""
    bad = np.flatnonzero(arr < 0)
    if bad.size:
        raise StatsError(f"{name}: row {int(bad[0])} is negative ({arr[bad[0]]:g})")


def as_event_array(values: npt.ArrayLike, *, name: str = "event") -> BoolArray:
    """Event indicators: 0/1, booleans, or R's 1/2 coding (1 censored, 2 dead)."""
    arr = as_float_array(values, name=name)
    uniq = np.unique(arr)
    if np.all(np.isin(uniq, (0.0, 1.0))):
        return np.asarray(arr == 1.0, dtype=bool)
    if np.all(np.isin(uniq, (1.0, 2.0))):
        return np.asarray(arr == 2.0, dtype=bool)
    bad = np.flatnonzero(~np.isin(arr, (0.0, 1.0)))
    raise StatsError(
        f"{name}: row {int(bad[0])} has value {arr[bad[0]]:g}; use 0/1 (censored/event) or 1/2"
    )


def same_length(**arrays: Any) -> int:
    """Check every array has the same length and return it."""
    lengths = {k: len(v) for k, v in arrays.items()}
    values = set(lengths.values())
    if len(values) > 1:
        detail = ", ".join(f"{k}={n}" for k, n in lengths.items())
        raise StatsError(f"inputs differ in length: {detail}")
    return next(iter(values)) if values else 0
