"""Registry-grade cancer statistics: pure numpy/Arrow cores.

Rates and standardisation (:mod:`.incidence`, :mod:`.standardise`), survival (Kaplan-Meier,
Ederer I/II, Pohar-Perme net survival), life tables, prevalence and trends.
"""

from __future__ import annotations

from oncobase.stats.incidence import CrudeRate, compute_age_specific_rates, compute_crude_rate
from oncobase.stats.lifetable import LifeTable, build_lifetable, normalise_sex, read_lifetable
from oncobase.stats.prevalence import compute_prevalence
from oncobase.stats.standardise import (
    STANDARDS,
    AsrResult,
    CumulativeRisk,
    SirResult,
    StandardPopulation,
    compute_asr,
    compute_cumulative_risk,
    compute_sir,
    compute_truncated_asr,
    load_standard_population,
)
from oncobase.stats.survival import (
    CONF_TYPES,
    SurvivalCurve,
    SurvivalQuantile,
    estimate_age_standardised_net_survival,
    estimate_ederer1,
    estimate_ederer2,
    estimate_km,
    estimate_pohar_perme,
    estimate_pohar_perme_period,
    estimate_survival_quantile,
)
from oncobase.stats.trend import ApcResult, estimate_apc

__all__ = [
    "CONF_TYPES",
    "STANDARDS",
    "ApcResult",
    "AsrResult",
    "CrudeRate",
    "CumulativeRisk",
    "LifeTable",
    "SirResult",
    "StandardPopulation",
    "SurvivalCurve",
    "SurvivalQuantile",
    "build_lifetable",
    "compute_age_specific_rates",
    "compute_asr",
    "compute_crude_rate",
    "compute_cumulative_risk",
    "compute_prevalence",
    "compute_sir",
    "compute_truncated_asr",
    "estimate_age_standardised_net_survival",
    "estimate_apc",
    "estimate_ederer1",
    "estimate_ederer2",
    "estimate_km",
    "estimate_pohar_perme",
    "estimate_pohar_perme_period",
    "estimate_survival_quantile",
    "load_standard_population",
    "normalise_sex",
    "read_lifetable",
]
