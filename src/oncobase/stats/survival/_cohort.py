"""Validated cohort arrays shared by the relative and net survival estimators (internal)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from oncobase.errors import StatsError
from oncobase.stats._arrays import (
    BoolArray,
    FloatArray,
    IntArray,
    as_event_array,
    as_float_array,
    require_non_negative,
    same_length,
)
from oncobase.stats.lifetable import DAYS_PER_YEAR, LifeTable, to_epoch_days


@dataclass(frozen=True, kw_only=True)
class Cohort:
    """Follow-up (days), events, and what indexes each subject into the life table."""

    time: FloatArray
    event: BoolArray
    sex_index: IntArray
    age_days: FloatArray
    date_days: FloatArray


def make_cohort(
    time: npt.ArrayLike,
    event: npt.ArrayLike,
    *,
    age: npt.ArrayLike,
    sex: npt.ArrayLike,
    year: npt.ArrayLike,
    lifetable: LifeTable,
) -> Cohort:
    """Check the inputs (naming the bad row) and convert age (years) and year/date to days."""
    t = as_float_array(time, name="time")
    e = as_event_array(event)
    a = as_float_array(age, name="age")
    sex_arr = np.asarray(sex)
    year_arr = np.asarray(year)
    same_length(time=t, event=e, age=a, sex=sex_arr, year=year_arr)
    if t.size == 0:
        raise StatsError("empty group: no subjects to estimate a survival curve")
    require_non_negative(t, name="time")
    require_non_negative(a, name="age")
    return Cohort(
        time=t,
        event=e,
        sex_index=lifetable.sex_index(sex_arr).astype(np.int64),
        age_days=a * DAYS_PER_YEAR,
        date_days=to_epoch_days(year_arr),
    )
