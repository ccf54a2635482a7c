"""Benchmark of OncoBase linkage against a quick default Splink configuration.

Usage: ``uv run python benchmarks/bench_linkage.py --patients 256000`` (about 1,000,000
identity records from the synthetic nation) and ``--own 20000`` (persons of the test
generator's differently-noised file). Prints records/s, peak memory (RSS), F1, the time of a
5 % increment against the full run, and the same data through a quick Splink model.
"""

from __future__ import annotations

import argparse
import logging
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from oncobase.config import load_settings
from oncobase.linkage import from_source_records, link_identities, link_into_vault, pairwise_scores


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def quick_splink(records: pa.Table) -> pa.Array:
    """The 'quick configuration': default comparisons on the raw columns, EM on two rules."""
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    logging.getLogger("splink").setLevel(logging.ERROR)
    data = records.select(
        ["record_id", "nir", "last_name", "first_names", "sex", "birth_date",
         "birth_place_code", "postcode"]
    )  # fmt: skip
    settings = SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="record_id",
        comparisons=[
            cl.JaroWinklerAtThresholds("last_name"),
            cl.JaroWinklerAtThresholds("first_names"),
            cl.DateOfBirthComparison("birth_date", input_is_string=True),
            cl.ExactMatch("nir"),
            cl.ExactMatch("sex"),
            cl.ExactMatch("birth_place_code"),
            cl.ExactMatch("postcode"),
        ],
        blocking_rules_to_generate_predictions=[
            block_on("nir"),
            block_on("birth_date"),
            block_on("last_name", "first_names"),
        ],
    )
    db_api = DuckDBAPI()
    linker = Linker(db_api.register(data), settings, log_level=logging.ERROR)
    linker.training.estimate_u_using_random_sampling(max_pairs=1e6, seed=1)
    for rule in (block_on("birth_date"), block_on("last_name", "first_names")):
        linker.training.estimate_parameters_using_expectation_maximisation(rule)
    pred = linker.inference.predict(threshold_match_probability=0.5)
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(pred, 0.95)
    table = clusters.as_pyarrow_table().select(["record_id", "cluster_id"])
    order = pc.index_in(records["record_id"], value_set=table["record_id"])
    return pc.take(table["cluster_id"], order)


def _f1(records: pa.Table, clusters: Any, truth: pa.Array) -> float:
    return pairwise_scores(
        pa.table({"record_id": records["record_id"], "cluster_id": clusters}),
        pa.table({"record_id": records["record_id"], "person": truth}),
    ).f1


def bench(name: str, records: pa.Table, truth: pa.Array, *, increment: bool) -> None:
    n = records.num_rows
    print(f"\n== {name}: {n:,} identity records")
    started = time.perf_counter()
    result = link_identities(records)
    seconds = time.perf_counter() - started
    f1 = _f1(records, result.clusters["cluster"], truth)
    print(f"oncobase   {seconds:8.1f} s  {n / seconds:10,.0f} records/s  F1 {f1:.4f}  "
          f"peak RSS {_peak_mb():,.0f} MB  {result.timings}")  # fmt: skip
    started = time.perf_counter()
    try:
        quick = quick_splink(records)
        q_seconds = time.perf_counter() - started
        print(f"quick      {q_seconds:8.1f} s  {n / q_seconds:10,.0f} records/s  "
              f"F1 {_f1(records, quick, truth):.4f}")  # fmt: skip
    except Exception as exc:  # the baseline may fail on odd data; report, don't stop
        print(f"quick      failed ({type(exc).__name__})")
    if not increment:
        return
    with tempfile.TemporaryDirectory() as home:
        settings = load_settings(home=Path(home))
        cut = int(n * 0.95)
        started = time.perf_counter()
        link_into_vault(records.slice(0, cut), settings=settings)
        full = time.perf_counter() - started
        started = time.perf_counter()
        link_into_vault(records.slice(cut), settings=settings)
        inc = time.perf_counter() - started
        print(f"vault full run (95 %) {full:.1f} s; increment (5 %) {inc:.1f} s "
              f"= {100 * inc / full:.1f} % of the full run")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--patients", type=int, default=256_000)
    parser.add_argument("--own", type=int, default=20_000, help="persons of the own generator")
    args = parser.parse_args()
    if args.own:
        sys.path.insert(0, str(Path(__file__).parents[1] / "tests" / "linkage"))
        from identity_gen import generate

        own = generate(args.own, seed=11)
        bench("test generator (different noise)", own.drop(["person"]), own["person"],
              increment=False)  # fmt: skip
    if args.patients:
        from oncobase.synth import generate_nation

        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp)
            started = time.perf_counter()
            generate_nation(out, patients=args.patients, seed=2026, feeds=())
            print(f"\n(synthetic nation generated in {time.perf_counter() - started:.0f} s)")
            truth = pq.read_table(out / "truth" / "source_records.parquet")
        key = pc.binary_join_element_wise(truth["source_id"], truth["local_id"], ":")
        records = from_source_records(truth).set_column(0, "record_id", key)
        bench("synthetic nation", records, truth["person_key"], increment=True)


if __name__ == "__main__":
    main()
