"""Pipeline steps: functions with declared inputs and outputs, registered by the domains.

A step is registered with :func:`pipeline_step`. Inputs and outputs are resource names:

* ``table:<name>`` — a table of the clinical store;
* ``file:<path>`` — a file or folder, relative to the home folder unless absolute;
* ``package:<module>/<folder>`` — data shipped inside the package (e.g. ``oncobase.vocab/data``);
* ``operational:<table>`` — a small table of the operational store (e.g. the research opt-outs,
  ``share__optouts``): every row is hashed, so a new opt-out makes the cohorts re-run.

Steps run in the order of their stage (below), then of registration.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from oncobase.errors import PipelineError

if TYPE_CHECKING:
    from oncobase.pipeline.runner import StepContext

# The platform's data flow, in order (ARCHITECTURE.md).
STAGES: tuple[str, ...] = (
    "setup",
    "synth",
    "ingest",
    "link",
    "load",
    "extract",
    "quality",
    "cohorts",
    "stats",
    "publish",
)

# Modules whose import registers steps. Each domain adds its own ``steps`` module here.
STEP_MODULES: tuple[str, ...] = (
    "oncobase.vocab.steps",
    "oncobase.synth.steps",
    "oncobase.ingest.steps",
    "oncobase.nlp.steps",
    "oncobase.linkage.steps",
    "oncobase.quality.steps",
    "oncobase.cohorts.steps",
    "oncobase.stats.steps",
    "oncobase.share.steps",
)

_RESOURCE_KINDS = ("table", "file", "package", "operational")


@dataclass(frozen=True, kw_only=True)
class StepOutcome:
    """What a step reports: rows written and a one-line summary for the run log."""

    rows: int = 0
    summary: str = ""
    details: dict[str, int] = field(default_factory=dict)


StepFunction = Callable[["StepContext"], StepOutcome]


@dataclass(frozen=True, kw_only=True)
class Step:
    """A registered pipeline step."""

    name: str
    stage: str
    func: StepFunction
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    description: str
    version: str = "1"


_REGISTRY: dict[str, Step] = {}


def _check_resources(step: str, names: tuple[str, ...]) -> None:
    for name in names:
        kind = name.split(":", 1)[0]
        if ":" not in name or kind not in _RESOURCE_KINDS:
            raise PipelineError(
                f"Step {step!r} declares resource {name!r}; use table:<name>, file:<path> "
                "or package:<module>/<folder>"
            )


def pipeline_step(
    name: str,
    *,
    stage: str,
    inputs: tuple[str, ...],
    outputs: tuple[str, ...],
    description: str,
    version: str = "1",
) -> Callable[[StepFunction], StepFunction]:
    """Register a function as a pipeline step (decorator). Bump ``version`` to force a re-run."""
    if stage not in STAGES:
        raise PipelineError(f"Step {name!r}: unknown stage {stage!r}; one of {', '.join(STAGES)}")
    _check_resources(name, inputs)
    _check_resources(name, outputs)

    def register(func: StepFunction) -> StepFunction:
        _REGISTRY[name] = Step(
            name=name,
            stage=stage,
            func=func,
            inputs=inputs,
            outputs=outputs,
            description=description,
            version=version,
        )
        return func

    return register


def registered_steps() -> list[Step]:
    """Every registered step in run order (importing the domains' step modules first)."""
    for module in STEP_MODULES:
        importlib.import_module(module)
    order = {stage: i for i, stage in enumerate(STAGES)}
    position = {name: i for i, name in enumerate(_REGISTRY)}
    return sorted(_REGISTRY.values(), key=lambda s: (order[s.stage], position[s.name]))


def get_step(name: str) -> Step:
    steps = {s.name: s for s in registered_steps()}
    if name not in steps:
        raise PipelineError(f"No pipeline step named {name!r}; known steps: {', '.join(steps)}")
    return steps[name]
