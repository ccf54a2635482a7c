"""Benchmark: generate the synthetic nation (all feeds) and report throughput and memory.

    uv run python benchmarks/bench_synth.py --patients 1000000 --out /tmp/synth-bench

Prints patients/s, resources/s (rows and FHIR resources written across the feeds) and the
peak resident memory (getrusage). Target: 1,000,000 cancer patients in under 10 minutes on
2 cores, with memory flat in N (it depends on the chunk size, not on N).
"""

from __future__ import annotations

import argparse
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

from oncobase.synth import generate_nation


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--patients", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--chunk-size", type=int, default=20_000)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--keep", action="store_true", help="keep the output folder")
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="synth-bench-"))
    started = time.perf_counter()
    last = [started]

    def progress(done: int, total: int) -> None:
        now = time.perf_counter()
        print(f"  {done:>10,} / {total:,} patients  (+{now - last[0]:.1f} s)", file=sys.stderr)
        last[0] = now

    report = generate_nation(
        out, patients=args.patients, seed=args.seed, chunk_size=args.chunk_size, progress=progress
    )
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    print(f"patients        {report.patients:,}")
    print(f"persons         {report.persons:,}")
    print(f"seconds         {seconds:.1f}")
    print(f"patients/s      {report.patients / seconds:,.0f}")
    print(f"resources       {report.resources:,}")
    print(f"resources/s     {report.resources / seconds:,.0f}")
    print(f"peak memory     {peak:,.0f} MiB")
    print(f"output size     {size / 2**20:,.0f} MiB")
    for name, rows in report.counts.items():
        print(f"  {name:<24} {rows:>14,}")
    if report.skipped:
        print(f"skipped feeds   {', '.join(report.skipped)}")
    if not args.keep and args.out is None:
        shutil.rmtree(out)


if __name__ == "__main__":
    main()
