"""Capture-recapture: log-linear models over the sources that found each case.

As the R package Rcapture (``closedp``) does for closed populations: the 2^k - 1 observed
capture histories are counts of a Poisson log-linear model with the main effects of the k
sources and a chosen set of two-way interactions (source dependence); the unobserved cell
(cases no source found) is ``exp(intercept)``. Every model with any subset of the two-way
interactions is fitted (IRLS, numpy), models leaving fewer than ``min_df`` residual degrees
of freedom are skipped, and the one with the lowest AIC (or BIC) is kept. The 95 % interval
is log-normal on n0 (Chao 1987: asymmetric, never below the observed count), with the
variance of the fitted n0 plus the Poisson variance of the unobserved cell.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
from scipy.special import gammaln

from oncobase.cohorts.errors import CohortError

FloatArray = npt.NDArray[np.float64]
Z95 = 1.959963984540054


@dataclass(frozen=True, kw_only=True)
class LogLinearFit:
    """One fitted log-linear model."""

    interactions: tuple[tuple[str, str], ...]
    n0: float
    se_log_n0: float
    deviance: float
    df: int
    aic: float
    bic: float
    converged: bool


@dataclass(frozen=True, kw_only=True)
class CaptureEstimate:
    """The capture-recapture estimate of the total number of cases."""

    sources: tuple[str, ...]
    observed: int
    estimate: float
    ci_lower: float
    ci_upper: float
    model: str  # e.g. "[hospital*pathology, registry]" or "independence"
    criterion: str
    fits: tuple[LogLinearFit, ...]

    def as_dict(self) -> dict[str, object]:
        return {
            "sources": list(self.sources),
            "observed": self.observed,
            "estimate": round(self.estimate, 1),
            "ci_lower": round(self.ci_lower, 1),
            "ci_upper": round(self.ci_upper, 1),
            "completeness_pct": round(100.0 * self.observed / self.estimate, 2)
            if self.estimate > 0
            else None,
            "model": self.model,
            "criterion": self.criterion,
        }


def fit_poisson_glm(
    y: FloatArray, x: FloatArray, *, max_iter: int = 100, tol: float = 1e-10
) -> tuple[FloatArray, FloatArray, bool]:
    """Poisson GLM with log link by IRLS: coefficients, their covariance, converged."""
    mu: FloatArray = y + 0.5
    eta: FloatArray = np.log(mu).astype(np.float64)
    beta: FloatArray = np.zeros(x.shape[1])
    converged = False
    for _ in range(max_iter):
        z = eta + (y - mu) / mu
        xw = x * mu[:, None]
        info = x.T @ xw
        new_beta: FloatArray = np.asarray(
            np.linalg.lstsq(info, xw.T @ z, rcond=None)[0], dtype=np.float64
        )
        eta = np.clip(x @ new_beta, -700.0, 700.0)
        mu = np.exp(eta)
        if np.max(np.abs(new_beta - beta)) < tol * (1.0 + np.max(np.abs(new_beta))):
            beta = new_beta
            converged = True
            break
        beta = new_beta
    info = x.T @ (x * mu[:, None])
    cov: FloatArray = np.asarray(np.linalg.pinv(info), dtype=np.float64)
    return beta, cov, converged


def capture_histories(k: int) -> npt.NDArray[np.int64]:
    """The 2^k - 1 observed histories as 0/1 rows, in binary order (first source = high bit)."""
    codes = np.arange(1, 2**k)
    return ((codes[:, None] >> np.arange(k - 1, -1, -1)) & 1).astype(np.int64)


def _design(histories: npt.NDArray[np.int64], pairs: tuple[tuple[int, int], ...]) -> FloatArray:
    cols = [np.ones(len(histories)), *histories.T.astype(np.float64)]
    cols.extend((histories[:, a] * histories[:, b]).astype(np.float64) for a, b in pairs)
    return np.column_stack(cols)


def fit_loglinear(
    counts: FloatArray, sources: tuple[str, ...], pairs: tuple[tuple[int, int], ...]
) -> LogLinearFit:
    """Fit one model to the observed history counts (order of :func:`capture_histories`)."""
    histories = capture_histories(len(sources))
    x = _design(histories, pairs)
    beta, cov, converged = fit_poisson_glm(counts, x)
    mu = np.exp(x @ beta)
    with np.errstate(divide="ignore", invalid="ignore"):
        term = np.where(counts > 0, counts * np.log(counts / mu), 0.0)
    deviance = float(2.0 * np.sum(term - (counts - mu)))
    loglik = float(np.sum(counts * np.log(mu) - mu - gammaln(counts + 1.0)))
    p = x.shape[1]
    n = float(counts.sum())
    return LogLinearFit(
        interactions=tuple((sources[a], sources[b]) for a, b in pairs),
        n0=float(math.exp(min(beta[0], 700.0))),
        se_log_n0=float(math.sqrt(max(cov[0, 0], 0.0))),
        deviance=deviance,
        df=len(counts) - p,
        aic=-2.0 * loglik + 2.0 * p,
        bic=-2.0 * loglik + p * math.log(max(n, 1.0)),
        converged=converged,
    )


def estimate_capture_recapture(
    counts: FloatArray | list[float],
    sources: tuple[str, ...] | list[str],
    *,
    criterion: Literal["aic", "bic"] = "aic",
    min_df: int = 1,
) -> CaptureEstimate:
    """Estimate the total from the observed history counts (see :func:`capture_histories`).

    ``counts[i]`` is the number of cases with history ``capture_histories(k)[i]``.
    """
    names = tuple(sources)
    y = np.asarray(counts, dtype=np.float64)
    k = len(names)
    if k < 2:
        raise CohortError("capture-recapture needs at least two sources")
    if y.shape != (2**k - 1,):
        raise CohortError(f"expected {2**k - 1} history counts for {k} sources, got {y.shape}")
    if np.any(y < 0) or not np.all(np.isfinite(y)):
        raise CohortError("history counts must be finite and non-negative")
    observed = int(y.sum())
    all_pairs = list(itertools.combinations(range(k), 2))
    fits: list[LogLinearFit] = []
    for size in range(len(all_pairs) + 1):
        for pairs in itertools.combinations(all_pairs, size):
            if len(y) - (1 + k + len(pairs)) < min_df:
                continue
            fits.append(fit_loglinear(y, names, pairs))
    usable = [f for f in fits if f.converged and math.isfinite(f.se_log_n0)] or fits
    best = min(usable, key=lambda f: f.aic if criterion == "aic" else f.bic)
    low, high = _interval_n0(best)
    model = (
        "[" + ", ".join(f"{a}*{b}" for a, b in best.interactions) + "]"
        if best.interactions
        else "independence"
    )
    return CaptureEstimate(
        sources=names,
        observed=observed,
        estimate=observed + best.n0,
        ci_lower=observed + low,
        ci_upper=observed + high,
        model=model,
        criterion=criterion,
        fits=tuple(fits),
    )


def _interval_n0(fit: LogLinearFit) -> tuple[float, float]:
    """Log-normal interval for the unobserved count (Chao 1987): Var(n0_hat - n0) is the
    model's n0^2 Var(log n0) plus the Poisson variance n0 of the unobserved cell itself."""
    n0 = fit.n0
    if n0 <= 0:
        return 0.0, 0.0
    variance = n0 * n0 * fit.se_log_n0**2 + n0
    c = math.exp(Z95 * math.sqrt(math.log1p(variance / (n0 * n0))))
    return n0 / c, n0 * c


def count_histories(flags: npt.NDArray[np.bool_]) -> FloatArray:
    """History counts (order of :func:`capture_histories`) from a cases × sources 0/1 matrix;
    cases no source found are ignored."""
    k = flags.shape[1]
    code = (flags.astype(np.int64) << np.arange(k - 1, -1, -1)).sum(axis=1)
    counts = np.bincount(code, minlength=2**k)[1:]
    return counts.astype(np.float64)
