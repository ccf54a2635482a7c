"""Survival estimators: Kaplan-Meier, relative (Ederer I/II) and net (Pohar-Perme) survival."""

from __future__ import annotations

from oncobase.stats.survival._curve import CONF_TYPES, SurvivalCurve
from oncobase.stats.survival.kaplan_meier import (
    SurvivalQuantile,
    estimate_km,
    estimate_survival_quantile,
)
from oncobase.stats.survival.net import (
    estimate_age_standardised_net_survival,
    estimate_pohar_perme,
    estimate_pohar_perme_period,
)
from oncobase.stats.survival.relative import estimate_ederer1, estimate_ederer2

__all__ = [
    "CONF_TYPES",
    "SurvivalCurve",
    "SurvivalQuantile",
    "estimate_age_standardised_net_survival",
    "estimate_ederer1",
    "estimate_ederer2",
    "estimate_km",
    "estimate_pohar_perme",
    "estimate_pohar_perme_period",
    "estimate_survival_quantile",
]
