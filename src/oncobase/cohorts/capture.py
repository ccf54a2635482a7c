"""Capture-recapture: log-linear models over the sources that found each case.

As the R package Rcapture (``closedp``) does for closed populations: the 2^k - 1 observed
capture histories are counts of a Poisson log-linear model with the main effects of the k
sources and a chosen set of two-way interactions (source dependence); the unobserved cell
(cases no source found) is ``exp(intercept)``. Every model with any subset of the two-way
interactions is fitted (IRLS, numpy), models leaving fewer than ``min_df`` residual degrees
of freedom are skipped, and the one with the lowest AIC (or BIC) is kept. The 95 % interval
is log-normal on n0 (Chao 1987: asymmetric, never below the observed count), with the
variance of the fitted n0 plus the Poisson variance of the unobserved cell.

:func:`estimate_stratified` handles sources that do not cover the whole population (a
registry covers a few départements): each stratum (e.g. the registry area and the rest of the
country) has its own intercept and main effects over the sources operating there, and the
two-way interactions are shared by every stratum where both sources operate (Zwane, van der
Pal-de Bruin and van der Heijden 2004, "The multiple-record systems estimator when
registrations refer to different but overlapping populations", Stat Med 23:2267-2281). The
dependence of two national sources is then learnt where a third source exists and assumed
the same elsewhere, which makes a national estimate possible with two national sources only.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
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
    return _select(fits, names=names, observed=observed, criterion=criterion)


def _interval_n0(fit: LogLinearFit) -> tuple[float, float]:
    """Log-normal interval for the unobserved count (Chao 1987): Var(n0_hat - n0) is the
    model's n0^2 Var(log n0) plus the Poisson variance n0 of the unobserved cell itself."""
    n0 = fit.n0
    if n0 <= 0:
        return 0.0, 0.0
    variance = n0 * n0 * fit.se_log_n0**2 + n0
    c = math.exp(Z95 * math.sqrt(math.log1p(variance / (n0 * n0))))
    return n0 / c, n0 * c


@dataclass(frozen=True, kw_only=True)
class CaptureStratum:
    """The history counts of one stratum over the sources that operate in it."""

    name: str
    sources: tuple[str, ...]
    counts: FloatArray  # order of capture_histories(len(sources))


def _stratified_design(
    strata: Sequence[CaptureStratum], names: tuple[str, ...]
) -> tuple[FloatArray, FloatArray, list[int], FloatArray]:
    """Counts, base design (per-stratum intercepts and main effects), the intercept columns,
    and the full-width 0/1 history matrix of every observed cell (absent sources are 0)."""
    ys: list[FloatArray] = []
    rows: list[npt.NDArray[np.int64]] = []
    blocks: list[FloatArray] = []
    for stratum in strata:
        h = capture_histories(len(stratum.sources))
        full = np.zeros((len(h), len(names)), dtype=np.int64)
        for j, source in enumerate(stratum.sources):
            full[:, names.index(source)] = h[:, j]
        rows.append(full)
        ys.append(np.asarray(stratum.counts, dtype=np.float64))
        blocks.append(np.column_stack([np.ones(len(h)), h.astype(np.float64)]))
    width = sum(b.shape[1] for b in blocks)
    base = np.zeros((sum(len(y) for y in ys), width))
    intercepts: list[int] = []
    r = c = 0
    for block in blocks:
        base[r : r + len(block), c : c + block.shape[1]] = block
        intercepts.append(c)
        r += len(block)
        c += block.shape[1]
    return np.concatenate(ys), base, intercepts, np.vstack(rows).astype(np.float64)


def _fit_stratified(
    y: FloatArray,
    base: FloatArray,
    *,
    histories: FloatArray,
    intercepts: list[int],
    names: tuple[str, ...],
    pairs: tuple[tuple[int, int], ...],
) -> LogLinearFit | None:
    cols = [base, *[(histories[:, a] * histories[:, b])[:, None] for a, b in pairs]]
    x = np.hstack(cols)
    if np.linalg.matrix_rank(x) < x.shape[1]:
        return None  # an interaction no stratum can identify
    beta, cov, converged = fit_poisson_glm(y, x)
    mu = np.exp(x @ beta)
    with np.errstate(divide="ignore", invalid="ignore"):
        term = np.where(y > 0, y * np.log(y / mu), 0.0)
    deviance = float(2.0 * np.sum(term - (y - mu)))
    loglik = float(np.sum(y * np.log(mu) - mu - gammaln(y + 1.0)))
    p = x.shape[1]
    n = float(y.sum())
    n0_parts = np.exp(np.minimum(beta[intercepts], 700.0))
    n0 = float(n0_parts.sum())
    gradient = np.zeros(p)
    gradient[intercepts] = n0_parts
    variance = float(gradient @ cov @ gradient)
    return LogLinearFit(
        interactions=tuple((names[a], names[b]) for a, b in pairs),
        n0=n0,
        se_log_n0=math.sqrt(max(variance, 0.0)) / n0 if n0 > 0 else 0.0,
        deviance=deviance,
        df=len(y) - p,
        aic=-2.0 * loglik + 2.0 * p,
        bic=-2.0 * loglik + p * math.log(max(n, 1.0)),
        converged=converged,
    )


def estimate_stratified(
    strata: Sequence[CaptureStratum],
    *,
    criterion: Literal["aic", "bic"] = "aic",
    min_df: int = 1,
) -> CaptureEstimate:
    """Estimate the total over strata whose sources differ (see the module docstring).

    Every stratum keeps its own intercept and main effects; each subset of the two-way
    interactions (shared across strata) that the strata can identify and that leaves
    ``min_df`` residual degrees of freedom is fitted; the lowest AIC (or BIC) wins. With one
    stratum this is :func:`estimate_capture_recapture`."""
    if not strata:
        raise CohortError("capture-recapture needs at least one stratum")
    names: tuple[str, ...] = ()
    for stratum in strata:
        if len(stratum.sources) < 2:
            raise CohortError(f"stratum {stratum.name!r} needs at least two sources")
        if len(set(stratum.sources)) != len(stratum.sources):
            raise CohortError(f"stratum {stratum.name!r} names a source twice")
        counts = np.asarray(stratum.counts, dtype=np.float64)
        if counts.shape != (2 ** len(stratum.sources) - 1,):
            raise CohortError(
                f"stratum {stratum.name!r}: expected {2 ** len(stratum.sources) - 1} history "
                f"counts for {len(stratum.sources)} sources, got {counts.shape}"
            )
        if np.any(counts < 0) or not np.all(np.isfinite(counts)):
            raise CohortError("history counts must be finite and non-negative")
        names += tuple(s for s in stratum.sources if s not in names)
    y, base, intercepts, histories = _stratified_design(strata, names)
    candidates: list[tuple[int, int]] = sorted(
        {
            (min(names.index(a), names.index(b)), max(names.index(a), names.index(b)))
            for stratum in strata
            for a, b in itertools.combinations(stratum.sources, 2)
        }
    )
    fits: list[LogLinearFit] = []
    for size in range(len(candidates) + 1):
        for pairs in itertools.combinations(candidates, size):
            if len(y) - (base.shape[1] + len(pairs)) < min_df:
                continue
            fit = _fit_stratified(
                y, base, histories=histories, intercepts=intercepts, names=names, pairs=pairs
            )
            if fit is not None:
                fits.append(fit)
    if not fits:
        raise CohortError("no identifiable log-linear model for these strata")
    return _select(fits, names=names, observed=int(y.sum()), criterion=criterion)


def _select(
    fits: list[LogLinearFit],
    *,
    names: tuple[str, ...],
    observed: int,
    criterion: Literal["aic", "bic"],
) -> CaptureEstimate:
    usable = [f for f in fits if f.converged and math.isfinite(f.se_log_n0)] or fits
    best = min(usable, key=lambda f: f.aic if criterion == "aic" else f.bic)
    low, high = _interval_n0(best)
    return CaptureEstimate(
        sources=names,
        observed=observed,
        estimate=observed + best.n0,
        ci_lower=observed + low,
        ci_upper=observed + high,
        model=model_label(best),
        criterion=criterion,
        fits=tuple(fits),
    )


def model_label(fit: LogLinearFit) -> str:
    """``[a*b, c*d]`` for a model's interactions, ``independence`` without any."""
    if not fit.interactions:
        return "independence"
    return "[" + ", ".join(f"{a}*{b}" for a, b in fit.interactions) + "]"


def interval(fit: LogLinearFit, observed: int) -> tuple[float, float, float]:
    """(estimate, lower, upper) of the total under one fitted model."""
    low, high = _interval_n0(fit)
    return observed + fit.n0, observed + low, observed + high


def count_histories(flags: npt.NDArray[np.bool_]) -> FloatArray:
    """History counts (order of :func:`capture_histories`) from a cases × sources 0/1 matrix;
    cases no source found are ignored."""
    k = flags.shape[1]
    code = (flags.astype(np.int64) << np.arange(k - 1, -1, -1)).sum(axis=1)
    counts = np.bincount(code, minlength=2**k)[1:]
    return counts.astype(np.float64)
