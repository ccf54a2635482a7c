"""Pathology extraction throughput: reports/s on 10,000 generated reports, on 2 processes.

Also printed: CPU milliseconds per report over every process (ours and the pool workers,
from ``getrusage``), which other work on a shared machine disturbs much less than the
wall-clock rates.

Beside it, the peer: a plain EDS-NLP pipeline with only its own rule-based pipes
(sentences, normalizer, negation, hypothesis, family, history, tnm), on the same reports and
the same number of processes (forked workers, chunks of 100). Target (issue #8): at least
150 reports/s for the whole extraction on 2 cores.

    uv run python benchmarks/bench_nlp.py [--reports 10000] [--processes 2]
"""

from __future__ import annotations

import argparse
import functools
import json
import multiprocessing
import os
import resource
import tempfile
import time
from pathlib import Path
from typing import Any


def _reports(n: int) -> list[str]:
    from oncobase.synth import generate_nation

    out = Path(tempfile.mkdtemp(prefix="bench_nlp_"))
    generate_nation(out, patients=max(700, n), seed=7)
    texts = [
        json.loads(line)["text"]
        for path in sorted((out / "feeds" / "pathology").glob("*/reports.ndjson"))
        for line in path.read_text(encoding="utf-8").splitlines()
    ]
    return (texts * (n // max(len(texts), 1) + 1))[:n]


@functools.cache
def _peer_pipeline() -> Any:
    import edsnlp
    import edsnlp.pipes as eds

    nlp = edsnlp.blank("eds")
    for pipe in (eds.sentences(), eds.normalizer(), eds.negation(), eds.hypothesis(),
                 eds.family(), eds.history(), eds.tnm()):  # fmt: skip
        nlp.add_pipe(pipe)
    return nlp


def _peer_chunk(texts: list[str]) -> int:
    nlp = _peer_pipeline()
    return sum(1 for _ in nlp.pipe(texts, batch_size=32))


def _cpu_seconds() -> float:
    """User + system CPU time of this process and its reaped children (pool workers)."""
    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        total += usage.ru_utime + usage.ru_stime
    return total


def _peer_rate(texts: list[str], processes: int) -> float:
    list(_peer_pipeline().pipe(texts[:20]))  # built once here; forked workers inherit it
    chunks = [texts[i : i + 100] for i in range(0, len(texts), 100)]
    start = time.perf_counter()
    if processes <= 1:
        done = sum(map(_peer_chunk, chunks))
    else:
        with multiprocessing.get_context("fork").Pool(processes) as pool:
            done = sum(pool.map(_peer_chunk, chunks))
    assert done == len(texts)
    return len(texts) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reports", type=int, default=10_000)
    parser.add_argument("--processes", type=int, default=2)
    args = parser.parse_args()
    from oncobase.nlp import extract_reports
    from oncobase.nlp._eds import get_pipeline

    texts = _reports(args.reports)
    get_pipeline()
    extract_reports(texts[:20])
    print(f"{len(texts):,} reports, {args.processes} process(es), load average "
          f"{os.getloadavg()[0]:.2f}")  # fmt: skip
    cpu, start = _cpu_seconds(), time.perf_counter()
    extract_reports(texts, processes=args.processes, chunk_size=100)
    ours = len(texts) / (time.perf_counter() - start)
    ours_cpu = 1000 * (_cpu_seconds() - cpu) / len(texts)
    cpu = _cpu_seconds()
    peer = _peer_rate(texts, args.processes)
    peer_cpu = 1000 * (_cpu_seconds() - cpu) / len(texts)
    print(
        f"{'oncobase (whole extraction)':<34} {ours:8.1f} reports/s  {ours_cpu:5.2f} CPU ms/report"
    )
    print(f"{'plain EDS-NLP peer':<34} {peer:8.1f} reports/s  {peer_cpu:5.2f} CPU ms/report")
    print(f"ratio oncobase / peer: {ours / peer:.2f} (by CPU time: {peer_cpu / ours_cpu:.2f})")
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    verdict = "meets" if ours >= 150 else "misses"
    print(f"target 150 reports/s on 2 cores: {verdict} ({ours:.0f} reports/s)")


if __name__ == "__main__":
    main()
