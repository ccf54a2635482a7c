"""Generate the synthetic nation and its feeds, chunk by chunk (memory stays flat).

Outputs under ``out`` (``schema.LAYOUT``): the feeds (hospital FHIR, pathology reports,
registry CSV, INSEE death file), the ground truth (Parquet) and ``manifest.json``. Nothing
depends on the clock: the same arguments give the same bytes.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import orjson
import pyarrow.compute as pc
import pyarrow.parquet as pq

from oncobase.synth.chunk import build_chunk
from oncobase.synth.config import DEFAULT_CLOSING_DATE, SynthConfig
from oncobase.synth.deaths import LINE_LENGTH, DeathFileWriter
from oncobase.synth.denominators import write_population_csv
from oncobase.synth.registry import RegistryFeedWriter, dialect_of
from oncobase.synth.schema import LAYOUT, TRUTH_TABLES, TruthChunk

FEEDS = ("hospitals", "pathology", "registries", "deaths")
MANIFEST_VERSION = 1
ProgressCallback = Callable[[int, int], None]


class _Feed(Protocol):
    def write(self, chunk: TruthChunk) -> Any: ...

    def close(self) -> None: ...


@dataclass(frozen=True, kw_only=True)
class SynthReport:
    """What a generation wrote."""

    out: Path
    patients: int
    persons: int
    seed: int
    counts: dict[str, int] = field(default_factory=dict)  # rows per truth table and per feed
    skipped: tuple[str, ...] = ()  # feeds whose writer is not installed
    seconds: float = 0.0

    @property
    def resources(self) -> int:
        """Rows and resources written across the feeds."""
        return sum(v for k, v in self.counts.items() if k.startswith("feed:"))


class TruthWriter:
    """One Parquet writer per truth table, kept open across chunks."""

    def __init__(self, out: Path) -> None:
        self.writers: dict[str, pq.ParquetWriter] = {}
        self.rows = dict.fromkeys(TRUTH_TABLES, 0)
        for name, schema in TRUTH_TABLES.items():
            path = out / LAYOUT["truth"].format(table=name)
            path.parent.mkdir(parents=True, exist_ok=True)
            self.writers[name] = pq.ParquetWriter(path, schema, compression="zstd")

    def write(self, chunk: TruthChunk) -> int:
        total = 0
        for name, writer in self.writers.items():
            table = getattr(chunk, name)
            writer.write_table(table, row_group_size=256 * 1024)
            self.rows[name] += table.num_rows
            total += table.num_rows
        return total

    def close(self) -> None:
        for writer in self.writers.values():
            writer.close()


def _open_optional_feeds(
    out: Path, *, seed: int, feeds: tuple[str, ...]
) -> tuple[dict[str, _Feed], list[str]]:
    """The hospital and pathology writers, when their modules are installed."""
    opened: dict[str, _Feed] = {}
    skipped: list[str] = []
    if "hospitals" in feeds:
        try:
            from oncobase.synth.fhir import HospitalFeedWriter
        except ImportError:
            skipped.append("hospitals")
        else:
            opened["hospitals"] = HospitalFeedWriter(out)
    if "pathology" in feeds:
        try:
            from oncobase.synth.pathology import PathologyFeedWriter
        except ImportError:
            skipped.append("pathology")
        else:
            opened["pathology"] = PathologyFeedWriter(out, seed=seed)
    return opened, skipped


def _count(value: object) -> int:
    if isinstance(value, int):
        return value
    if isinstance(value, dict):
        return sum(int(v) for v in value.values())
    return 0


def generate_nation(
    out: Path,
    *,
    patients: int,
    seed: int,
    chunk_size: int = 20_000,
    years: tuple[int, int] = (2015, 2024),
    closing_date: dt.date = DEFAULT_CLOSING_DATE,
    decedents_per_patient: float = 1.2,
    noise: dict[str, dict[str, float]] | None = None,
    feeds: tuple[str, ...] = FEEDS,
    progress: ProgressCallback | None = None,
) -> SynthReport:
    """Generate ``patients`` cancer patients (plus the non-cancer deaths) into ``out``."""
    started = time.perf_counter()
    config = SynthConfig(
        patients=patients,
        seed=seed,
        chunk_size=chunk_size,
        years=years,
        closing_date=closing_date,
        decedents_per_patient=decedents_per_patient,
        noise=noise or {},
    )
    out.mkdir(parents=True, exist_ok=True)
    truth = TruthWriter(out)
    own: dict[str, _Feed] = {}
    registries = RegistryFeedWriter(out) if "registries" in feeds else None
    death_file = DeathFileWriter(out) if "deaths" in feeds else None
    if registries is not None:
        own["registries"] = registries
    if death_file is not None:
        own["deaths"] = death_file
    optional, skipped = _open_optional_feeds(out, seed=seed, feeds=feeds)
    writers = {**optional, **own}
    feed_counts: dict[str, int] = {}
    fhir_counts: dict[str, int] = {}
    capture = dict.fromkeys(CAPTURE_COUNTS, 0)
    persons = 0
    try:
        for index in range(config.chunks):
            chunk = build_chunk(config, index)
            persons += chunk.persons.num_rows
            truth.write(chunk)
            for name, value in count_capture(chunk).items():
                capture[name] += value
            for name, writer in writers.items():
                written = writer.write(chunk)
                feed_counts[name] = feed_counts.get(name, 0) + _count(written)
                if name == "hospitals" and isinstance(written, dict):
                    for resource, rows in written.items():
                        fhir_counts[resource] = fhir_counts.get(resource, 0) + int(rows)
            if progress is not None:
                progress(min((index + 1) * config.chunk_size, patients), patients)
    finally:
        truth.close()
        for writer in writers.values():
            writer.close()
    counts = {f"truth:{k}": v for k, v in truth.rows.items()}
    counts.update({f"feed:{k}": v for k, v in sorted(feed_counts.items())})
    report = SynthReport(
        out=out,
        patients=patients,
        persons=persons,
        seed=seed,
        counts=counts,
        skipped=tuple(skipped),
        seconds=time.perf_counter() - started,
    )
    manifest = _manifest(
        config,
        report,
        registries=registries.rows if registries else {},
        deaths=death_file.rows if death_file else {},
        fhir=fhir_counts,
    )
    manifest["capture"] = capture
    (out / LAYOUT["manifest"]).write_bytes(
        orjson.dumps(manifest, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"
    )
    write_population_csv(out, patients=patients, years=years)  # denominators
    return report


CAPTURE_COUNTS = ("tumours", "hospital", "pathology", "registry", "none")


def count_capture(chunk: TruthChunk) -> dict[str, int]:
    """Tumours of a chunk, those each feed captured and those no feed captured
    (``tumours.captured_*``, synth/capture.py)."""
    t = chunk.tumours
    flags = [t[f"captured_{k}"] for k in ("hospital", "pathology", "registry")]
    seen = pc.or_(pc.or_(flags[0], flags[1]), flags[2])
    counts = [int(pc.sum(f.cast("int64")).as_py() or 0) for f in (*flags, seen)]
    return {
        "tumours": t.num_rows,
        "hospital": counts[0],
        "pathology": counts[1],
        "registry": counts[2],
        "none": t.num_rows - counts[3],
    }


def _manifest(
    config: SynthConfig,
    report: SynthReport,
    *,
    registries: dict[str, int],
    deaths: dict[int, int],
    fhir: dict[str, int],
) -> dict[str, Any]:
    return {
        "version": MANIFEST_VERSION,
        "generator": "oncobase.synth",
        "seed": config.seed,
        "patients": config.patients,
        "persons": report.persons,
        "chunk_size": config.chunk_size,
        "years": list(config.years),
        "closing_date": config.closing_date.isoformat(),
        "decedents_per_patient": config.decedents_per_patient,
        "second_primary_rate": config.second_primary_rate,
        "noise_rates": config.noise_rates(),
        "counts": report.counts,
        "skipped_feeds": list(report.skipped),
        "feeds": {
            "registries": {
                reg: {
                    "path": LAYOUT["registries"].format(facility=reg),
                    "rows": rows,
                    "delimiter": dialect_of(reg).delimiter,
                    "encoding": dialect_of(reg).encoding,
                }
                for reg, rows in sorted(registries.items())
            },
            "deaths": {
                "line_length": LINE_LENGTH,
                "files": {
                    LAYOUT["deaths"].format(year=year): rows
                    for year, rows in sorted(deaths.items())
                },
            },
            "hospitals": fhir,
        },
    }


def read_manifest(out: Path) -> dict[str, Any] | None:
    """The manifest of a generated folder, or None when there is none (or it is unreadable)."""
    path = out / LAYOUT["manifest"]
    try:
        data = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return None
    return data if isinstance(data, dict) else None
