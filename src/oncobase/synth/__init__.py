"""The synthetic French cancer population and the raw feeds a national platform receives.

``generate_nation`` writes, chunk by chunk, the hospital FHIR feeds, the pathology reports,
the cancer-registry extracts, the INSEE death file and the ground truth (``schema.LAYOUT``).
See ``docs/synth.md``.
"""

from __future__ import annotations

from oncobase.synth._params import SynthError
from oncobase.synth.config import SynthConfig
from oncobase.synth.generate import FEEDS, SynthReport, generate_nation, read_manifest
from oncobase.synth.schema import FACILITIES, LAYOUT, TruthChunk

__all__ = [
    "FACILITIES",
    "FEEDS",
    "LAYOUT",
    "SynthConfig",
    "SynthError",
    "SynthReport",
    "TruthChunk",
    "generate_nation",
    "read_manifest",
]
