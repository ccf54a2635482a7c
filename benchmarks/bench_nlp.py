"""Pathology extraction throughput: docs/s on 1,000 generated reports, 1 and 2 processes.

Beside it, the peer: a plain EDS-NLP pipeline with only its own rule-based pipes
(sentences, normalizer, negation, hypothesis, family, history, tnm).

    uv run python benchmarks/bench_nlp.py [--reports 1000]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path


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


def _peer_rate(texts: list[str]) -> float:
    import edsnlp
    import edsnlp.pipes as eds

    nlp = edsnlp.blank("eds")
    for pipe in (eds.sentences(), eds.normalizer(), eds.negation(), eds.hypothesis(),
                 eds.family(), eds.history(), eds.tnm()):  # fmt: skip
        nlp.add_pipe(pipe)
    list(nlp.pipe(texts[:20]))
    start = time.perf_counter()
    for _ in nlp.pipe(texts, batch_size=32):
        pass
    return len(texts) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reports", type=int, default=1000)
    args = parser.parse_args()
    from oncobase.nlp import extract_reports
    from oncobase.nlp._eds import get_pipeline

    texts = _reports(args.reports)
    get_pipeline()
    extract_reports(texts[:20])
    results: dict[str, float] = {}
    for processes in (1, 2):
        start = time.perf_counter()
        extract_reports(texts, processes=processes, chunk_size=100)
        results[f"oncobase, {processes} process(es)"] = len(texts) / (time.perf_counter() - start)
    results["plain EDS-NLP peer, 1 process"] = _peer_rate(texts)
    for name, rate in results.items():
        print(f"{name:<34} {rate:8.1f} docs/s")
    ratio = results["oncobase, 1 process(es)"] / results["plain EDS-NLP peer, 1 process"]
    print(f"ratio oncobase / peer (1 process): {ratio:.2f}")


if __name__ == "__main__":
    main()
