"""FHIR NDJSON → staged OMOP tables: throughput and peak memory, beside fhir.resources.

    uv run python benchmarks/bench_ingest_fhir.py [--patients 40000] [--workers 2]

Generates (once) a synthetic national export of at least 1,000,000 resources with
``oncobase.synth.generate_nation``, stages every hospital (one process per source, ``--workers``
at a time), and prints resources/s and peak RSS. The peer is the common Python route: parse and
validate each resource with the ``fhir.resources`` R4B models, timed on a subset.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from oncobase.config import Settings
from oncobase.ingest.fhir import stage_fhir
from oncobase.synth import generate_nation


def _stage_one(args: tuple[str, str]) -> tuple[int, float]:
    folder, home = args
    result = stage_fhir(Path(folder), settings=Settings(home=Path(home)))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return result.read, peak


def _peer(folder: Path, limit: int) -> float:
    """Resources per second through fhir.resources (R4B) models on ``limit`` resources."""
    from fhir.resources.R4B import get_fhir_model_class

    lines: list[bytes] = []
    for path in sorted(folder.glob("*/*.ndjson")):
        with path.open("rb") as handle:
            lines += [next(handle) for _ in range(min(limit // 100, 200))]
        if len(lines) >= limit:
            break
    started = time.perf_counter()
    for line in lines:
        import orjson

        data = orjson.loads(line)
        get_fhir_model_class(data["resourceType"]).model_validate(data)
    return len(lines) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--patients", type=int, default=40_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "bench_nation")
    parser.add_argument("--peer-resources", type=int, default=5_000)
    args = parser.parse_args()
    hospitals = args.out / "feeds" / "hospitals"
    if not hospitals.exists():
        print(f"generating {args.patients} patients into {args.out} …")
        generate_nation(args.out, patients=args.patients, seed=7, feeds=("hospitals",))
    folders = sorted(p for p in hospitals.iterdir() if p.is_dir())
    with tempfile.TemporaryDirectory() as home:
        started = time.perf_counter()
        with ProcessPoolExecutor(max_workers=args.workers) as pool:
            results = list(pool.map(_stage_one, [(str(f), home) for f in folders]))
        seconds = time.perf_counter() - started
    total = sum(n for n, _ in results)
    peak = max(p for _, p in results)
    ours = total / seconds
    print(f"oncobase.ingest.fhir: {total:,} resources in {seconds:.1f} s = {ours:,.0f} resources/s")
    print(f"  {args.workers} workers, peak RSS per worker {peak:,.0f} MiB (largest source)")
    peer = _peer(hospitals, args.peer_resources)
    print(f"fhir.resources R4B parse+validate (subset, 1 core): {peer:,.0f} resources/s")
    print(f"ratio (ours, {args.workers} workers / peer, 1 core): {ours / peer:.1f}x")
    print(f"ratio per core: {ours / args.workers / peer:.1f}x")


if __name__ == "__main__":
    main()
