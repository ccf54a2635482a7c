"""The survival curve every estimator returns, its confidence bands and its read-out at times."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from oncobase.errors import StatsError
from oncobase.stats._arrays import FloatArray, as_float_array
from oncobase.stats._scipy import norm_ppf

ConfType = Literal["log", "log-log", "plain"]
CONF_TYPES: tuple[str, ...] = ("log", "log-log", "plain")


@dataclass(frozen=True, kw_only=True)
class SurvivalCurve:
    """A step function S(t) at the distinct follow-up times, with R's ``survfit`` fields.

    ``std_err_log`` is the standard error of the cumulative hazard (R's ``fit$std.err``);
    :attr:`std_err` is that of S(t) itself (R's ``summary(fit)$std.err``).
    """

    method: str
    time: FloatArray
    n_risk: FloatArray
    n_event: FloatArray
    n_censor: FloatArray
    surv: FloatArray
    std_err_log: FloatArray
    lower: FloatArray
    upper: FloatArray
    conf_type: str
    conf_level: float

    @property
    def std_err(self) -> FloatArray:
        """Standard error of the survival estimate."""
        return self.surv * self.std_err_log

    def at(self, times: npt.ArrayLike) -> pa.Table:
        """Read the curve at ``times`` (R's ``summary(fit, times=)``): the last step at or
        before each time; the number at risk at that time. After the last follow-up time the
        estimate is unknown (NaN) and nobody is at risk."""
        t = as_float_array(times, name="times")
        if np.any(t < 0):
            raise StatsError("times: a requested time is negative")
        pos = np.searchsorted(self.time, t, side="right") - 1
        before = pos < 0
        beyond = t > (self.time[-1] if self.time.size else -np.inf)
        p = np.clip(pos, 0, max(self.time.size - 1, 0))

        def pick(values: FloatArray, first: float) -> FloatArray:
            if values.size == 0:
                return np.full(t.size, np.nan)
            out = np.where(before, first, values[p])
            return np.where(beyond, np.nan, out)

        risk_pos = np.searchsorted(self.time, t, side="left")
        n_risk = np.where(
            risk_pos < self.time.size,
            self.n_risk[np.clip(risk_pos, 0, max(self.time.size - 1, 0))]
            if self.time.size
            else 0.0,
            0.0,
        )
        surv = pick(self.surv, 1.0)
        return pa.table(
            {
                "time": pa.array(t),
                "estimate": pa.array(surv),
                "std_err": pa.array(pick(self.std_err, 0.0)),
                "ci_lower": pa.array(pick(self.lower, 1.0)),
                "ci_upper": pa.array(pick(self.upper, 1.0)),
                "n_at_risk": pa.array(n_risk.astype(np.int64)),
            }
        )

    def to_arrow(self) -> pa.Table:
        """The whole curve as an Arrow table."""
        return pa.table(
            {
                "time": pa.array(self.time),
                "n_risk": pa.array(self.n_risk),
                "n_event": pa.array(self.n_event),
                "n_censor": pa.array(self.n_censor),
                "estimate": pa.array(self.surv),
                "std_err": pa.array(self.std_err),
                "ci_lower": pa.array(self.lower),
                "ci_upper": pa.array(self.upper),
            }
        )


def z_value(conf_level: float) -> float:
    """Two-sided normal quantile for ``conf_level``."""
    if not 0 < conf_level < 1:
        raise StatsError(f"conf_level must lie in (0, 1), got {conf_level}")
    return norm_ppf(1 - (1 - conf_level) / 2)


def confidence_band(
    surv: FloatArray,
    se_log: FloatArray,
    *,
    conf_type: str,
    conf_level: float,
    clip: bool,
) -> tuple[FloatArray, FloatArray]:
    """Pointwise CI of S from the standard error of the cumulative hazard.

    ``clip`` bounds the band to [0, 1] as ``survival::survfit`` does (``relsurv::rs.surv`` does
    not). Undefined bounds (log at S = 0, log-log at S in {0, 1}) are NaN, as R's NA.
    """
    if conf_type not in CONF_TYPES:
        raise StatsError(f"conf_type must be one of {', '.join(CONF_TYPES)}, got {conf_type!r}")
    z = z_value(conf_level)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if conf_type == "plain":
            half = z * se_log * surv
            lower, upper = surv - half, surv + half
            if clip:
                lower, upper = np.maximum(lower, 0.0), np.minimum(upper, 1.0)
        elif conf_type == "log":
            s = np.where(surv == 0, np.nan, surv)
            lower = np.exp(np.log(s) - z * se_log)
            upper = np.exp(np.log(s) + z * se_log)
            if clip:
                upper = np.minimum(upper, 1.0)
        else:
            s = np.where((surv == 0) | (surv == 1), np.nan, surv) if clip else surv
            shift = z * se_log / np.log(s)
            lower = np.exp(-np.exp(np.log(-np.log(s)) - shift))
            upper = np.exp(-np.exp(np.log(-np.log(s)) + shift))
    return lower, upper


def build_curve(
    method: str,
    *,
    time: FloatArray,
    n_risk: FloatArray,
    n_event: FloatArray,
    n_exit: FloatArray,
    surv: FloatArray,
    se_log: FloatArray,
    conf_type: str,
    conf_level: float,
    clip: bool,
) -> SurvivalCurve:
    """A :class:`SurvivalCurve` with its confidence band (see :func:`confidence_band`)."""
    lower, upper = confidence_band(
        surv, se_log, conf_type=conf_type, conf_level=conf_level, clip=clip
    )
    return SurvivalCurve(
        method=method,
        time=time,
        n_risk=n_risk,
        n_event=n_event,
        n_censor=n_exit - n_event,
        surv=surv,
        std_err_log=se_log,
        lower=lower,
        upper=upper,
        conf_type=conf_type,
        conf_level=conf_level,
    )


def count_on_grid(
    slot: npt.NDArray[np.intp], event: FloatArray, size: int
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Exits, events and numbers at risk at each grid time (``slot``: each subject's time)."""
    n_exit = np.bincount(slot, minlength=size).astype(np.float64)
    n_event = np.bincount(slot, weights=event, minlength=size)
    n_risk = np.cumsum(n_exit[::-1])[::-1]
    return n_exit, n_event, n_risk
