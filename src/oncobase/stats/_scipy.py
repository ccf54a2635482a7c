"""The few distribution functions the statistics need, from ``scipy.special``.

``scipy.stats`` takes seconds to import; these special functions are what it computes
with underneath, and import in a fraction of that.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import special


def norm_ppf(q: float) -> float:
    """Standard normal quantile."""
    return float(special.ndtri(q))


def norm_sf(x: float) -> float:
    """Standard normal survival function."""
    return float(special.ndtr(-x))


def gamma_ppf(q: float, shape: float, *, scale: float) -> float:
    """Gamma quantile."""
    return float(special.gammaincinv(shape, q) * scale)


def chi2_ppf(q: float, df: Any) -> Any:
    """Chi-square quantile (scalar or array ``df``)."""
    return np.asarray(2.0 * special.gammaincinv(np.asarray(df, dtype=np.float64) / 2.0, q))
