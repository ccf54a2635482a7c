"""Benchmark of OncoBase linkage: a full run of the vault and a 5 % increment.

Usage::

    uv run python benchmarks/bench_linkage.py --records 1000000          # the issue's case
    uv run python benchmarks/bench_linkage.py --records 200000 --quick   # + a default Splink
    uv run python benchmarks/bench_linkage.py --own 20000 --records 0    # the test generator

The synthetic nation (``oncobase.synth``, in a child process so that its memory is not
counted) gives ``records × (1 + increment)`` identity records in feed order (hospitals, labs,
registries, then the INSEE death file). The first ``records`` are linked by a full run of
``link_into_vault`` (normalise, seal in the vault, train, score, cluster, index), the next
``increment × records`` by an incremental run. Printed: seconds, records/s, peak memory
(``ru_maxrss`` of this process: DuckDB's memory included), pairwise F1 against the truth, the
ratio increment/full, and the load average of the machine before and after (the target is
2 cores; DuckDB runs with ``--threads``).
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from oncobase.config import load_settings
from oncobase.linkage import (
    PairwiseScores,
    Vault,
    from_source_records,
    link_identities,
    link_into_vault,
    pairwise_scores,
)

RECORDS_PER_PATIENT = 3.7  # identity records per cancer patient in the synthetic nation (3.77)


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} cores"


def generate(patients: int, out: Path) -> None:
    """Write the nation's identity records with their truth to ``out/records.parquet``."""
    from oncobase.synth import generate_nation

    generate_nation(out, patients=patients, seed=2026, feeds=())
    truth = pq.read_table(out / "truth" / "source_records.parquet")
    key = pc.binary_join_element_wise(truth["source_id"], truth["local_id"], ":")
    records = from_source_records(truth).set_column(0, "record_id", key)
    pq.write_table(records.append_column("person", truth["person_key"]), out / "records.parquet")


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


def _scores(record_ids: Any, clusters: Any, truth: Any) -> PairwiseScores:
    return pairwise_scores(
        pa.table({"record_id": record_ids, "cluster_id": clusters}),
        pa.table({"record_id": record_ids, "person": truth}),
    )


def _f1(record_ids: Any, clusters: Any, truth: Any) -> float:
    return _scores(record_ids, clusters, truth).f1


def _index_scores(settings: Any, records: pa.Table) -> str:
    with Vault(settings) as vault:
        index = vault.person_index()
    order = pc.index_in(records["record_id"], value_set=index["local_id"])
    s = _scores(records["record_id"], pc.take(index["person_id"], order), records["person"])
    return f"F1 {s.f1:.4f} (precision {s.precision:.4f}, recall {s.recall:.4f})"


def bench_vault(records: pa.Table, *, full_n: int, threads: int) -> None:
    """Full run on the first ``full_n`` records, then an increment with the rest."""
    full_part, increment = records.slice(0, full_n), records.slice(full_n)
    share = 100 * increment.num_rows / full_part.num_rows
    print(f"\n== vault: full run on {full_part.num_rows:,} records, then an increment of "
          f"{increment.num_rows:,} ({share:.1f} %)")  # fmt: skip
    print(f"before: {_load()}")
    with tempfile.TemporaryDirectory() as home:
        settings = load_settings(home=Path(home))
        started, cpu = time.perf_counter(), time.process_time()
        full = link_into_vault(full_part.drop(["person"]), settings=settings, threads=threads)
        full_s, full_cpu = time.perf_counter() - started, time.process_time() - cpu
        full_peak = _peak_mb()
        f1_full = _index_scores(settings, full_part)
        print(f"full run   {full_s:8.1f} s  {full_part.num_rows / full_s:10,.0f} records/s  "
              f"{f1_full}  peak RSS {full_peak:,.0f} MB")  # fmt: skip
        print(f"           {_fmt(full.timings)}")
        print(f"           {full.counts}")
        started, cpu = time.perf_counter(), time.process_time()
        step = link_into_vault(increment.drop(["person"]), settings=settings, threads=threads)
        inc_s, inc_cpu = time.perf_counter() - started, time.process_time() - cpu
        f1_all = _index_scores(settings, records)
        print(f"increment  {inc_s:8.1f} s  {increment.num_rows / inc_s:10,.0f} records/s  "
              f"all records: {f1_all}  peak RSS so far {_peak_mb():,.0f} MB")  # fmt: skip
        print(f"           {_fmt(step.timings)}")
        print(f"           {step.counts}")
        print(f"increment / full = {100 * inc_s / full_s:.1f} % of the wall time, "
              f"{100 * inc_cpu / full_cpu:.1f} % of the CPU time ({full_cpu:.0f} s vs "
              f"{inc_cpu:.1f} s, all threads)  ({step.kind})")  # fmt: skip
    print(f"after:  {_load()}")


def _fmt(timings: dict[str, float]) -> str:
    return "  ".join(f"{k} {v:.1f} s" for k, v in timings.items())


def bench_dedupe(name: str, records: pa.Table, *, quick: bool, threads: int) -> None:
    n = records.num_rows
    print(f"\n== {name}: {n:,} identity records, standalone dedupe")
    started = time.perf_counter()
    result = link_identities(records.drop(["person"]), threads=threads)
    seconds = time.perf_counter() - started
    f1 = _f1(records["record_id"], result.clusters["cluster"], records["person"])
    print(f"oncobase   {seconds:8.1f} s  {n / seconds:10,.0f} records/s  F1 {f1:.4f}  "
          f"peak RSS {_peak_mb():,.0f} MB  {_fmt(result.timings)}")  # fmt: skip
    if not quick:
        return
    started = time.perf_counter()
    try:
        clusters = quick_splink(records)
        q_seconds = time.perf_counter() - started
        print(f"quick      {q_seconds:8.1f} s  {n / q_seconds:10,.0f} records/s  "
              f"F1 {_f1(records['record_id'], clusters, records['person']):.4f}")  # fmt: skip
    except Exception as exc:  # the baseline may fail on odd data; report, don't stop
        print(f"quick      failed ({type(exc).__name__})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=1_000_000, help="records of the full run")
    parser.add_argument("--increment", type=float, default=0.05, help="increment / full")
    parser.add_argument("--threads", type=int, default=2, help="DuckDB threads")
    parser.add_argument("--own", type=int, default=0, help="persons of the test generator")
    parser.add_argument("--quick", action="store_true", help="also a default Splink model")
    parser.add_argument("--data", type=Path, help="reuse (or keep) the generated records here")
    parser.add_argument("--generate-only", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.generate_only:
        generate(args.generate_only, args.data)
        return
    if args.own:
        sys.path.insert(0, str(Path(__file__).parents[1] / "tests" / "linkage"))
        from identity_gen import generate as generate_own

        own = generate_own(args.own, seed=11)
        bench_dedupe("test generator (different noise)", own, quick=args.quick,
                     threads=args.threads)  # fmt: skip
    if not args.records:
        return
    wanted = math.ceil(args.records * (1 + args.increment))
    with tempfile.TemporaryDirectory() as tmp:
        data = args.data or Path(tmp)
        if not (data / "records.parquet").exists():
            patients = math.ceil(wanted / RECORDS_PER_PATIENT * 1.01)
            started = time.perf_counter()
            subprocess.run(  # a child process: its memory is not this benchmark's
                [sys.executable, __file__, "--generate-only", str(patients), "--data", str(data)],
                check=True,
            )
            print(f"(synthetic nation of {patients:,} patients generated in "
                  f"{time.perf_counter() - started:.0f} s)")  # fmt: skip
        records = pq.read_table(data / "records.parquet")
    if records.num_rows < wanted:
        print(f"only {records.num_rows:,} records available; using them")
    records = records.slice(0, wanted)
    full_n = min(args.records, records.num_rows)
    if args.quick:
        bench_dedupe("synthetic nation", records.slice(0, full_n), quick=True,
                     threads=args.threads)  # fmt: skip
    bench_vault(records, full_n=full_n, threads=args.threads)


if __name__ == "__main__":
    main()
