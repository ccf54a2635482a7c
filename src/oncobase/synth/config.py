"""Settings of one generation run."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from oncobase.synth._params import NOISE_KINDS, SOURCE_KINDS, SynthError, load_params

DEFAULT_CLOSING_DATE = dt.date(2025, 6, 30)
MAX_CHUNK = 1_000_000


@dataclass(frozen=True, kw_only=True)
class SynthConfig:
    """What to generate. Same config and seed → same bytes."""

    patients: int
    seed: int
    chunk_size: int = 20_000
    years: tuple[int, int] = (2015, 2024)
    closing_date: dt.date = DEFAULT_CLOSING_DATE
    decedents_per_patient: float = 1.2  # non-cancer deaths over the span, per cancer patient
    second_primary_rate: float = 0.012  # per year after a first cancer
    born_abroad: float = 0.08
    used_name_share: float = 0.55  # women aged 25+ who use a married name
    noise: dict[str, dict[str, float]] = field(default_factory=dict)  # overrides noise.csv

    def __post_init__(self) -> None:
        if self.patients < 1:
            raise SynthError("patients must be at least 1")
        if not 1 <= self.chunk_size <= MAX_CHUNK:
            raise SynthError(f"chunk_size must be between 1 and {MAX_CHUNK:,}")
        first, last = self.years
        if first > last or first < 1950:
            raise SynthError(f"years {self.years} must be (first, last) with 1950 <= first <= last")
        if self.closing_date < dt.date(last, 12, 31):
            raise SynthError("closing_date must be on or after the end of the last diagnosis year")
        for kind, rates in self.noise.items():
            if kind not in SOURCE_KINDS:
                raise SynthError(f"Unknown source kind {kind!r}; one of {SOURCE_KINDS}")
            for name, rate in rates.items():
                if name not in NOISE_KINDS or not 0.0 <= rate <= 1.0:
                    raise SynthError(
                        f"Noise {kind}.{name}={rate}: unknown kind or rate not in [0,1]"
                    )

    @property
    def chunks(self) -> int:
        return -(-self.patients // self.chunk_size)

    def noise_rates(self) -> dict[str, dict[str, float]]:
        """Noise rates per source kind: noise.csv, then the overrides."""
        rates = {kind: dict(values) for kind, values in load_params().noise.items()}
        for kind, values in self.noise.items():
            rates[kind].update(values)
        return rates
