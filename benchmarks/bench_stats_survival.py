"""Benchmark: Pohar-Perme net survival on 1,000,000 synthetic patients, beside relsurv::rs.surv,
and Kaplan-Meier beside lifelines. Not run by the tests.

    uv run python benchmarks/bench_stats_survival.py [--n 1000000] [--r-n 1000000] [--no-r]

The cohort is generated with a seeded numpy generator: ages 15-95 at diagnosis, diagnosis dates
2005-2014, follow-up up to 10 years (days), a Gompertz-like life table by single year of age
and calendar year 1990-2025 for both sexes. relsurv runs on the same data through Rscript when it
is installed (skipped with the reason otherwise).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from oncobase.stats import build_lifetable, estimate_km, estimate_pohar_perme

SEED = 20240611


def make_lifetable() -> pa.Table:
    """Long life table: annual hazards by year 1990-2025, sex 1/2, age 0-110."""
    years = np.arange(1990, 2026)
    ages = np.arange(0, 111)
    y, s, a = np.meshgrid(years, (1, 2), ages, indexing="ij")
    rate = 5e-5 * np.exp(0.09 * a) * np.where(s == 1, 1.3, 1.0) * np.exp(-0.015 * (y - 1990))
    rate = np.minimum(rate, 3.0)
    return pa.table({"year": y.ravel(), "sex": s.ravel(), "age": a.ravel(), "rate": rate.ravel()})


def make_cohort(n: int) -> dict[str, np.ndarray]:
    """Seeded synthetic cohort: follow-up (days), death indicator, age, sex, date of diagnosis."""
    rng = np.random.default_rng(SEED)
    age = rng.uniform(15, 95, n)
    sex = rng.integers(1, 3, n)
    diag = np.datetime64("2005-01-01") + rng.integers(0, 3652, n).astype("timedelta64[D]")
    excess = rng.exponential(365.25 * 4, n)
    population = rng.exponential(365.25 * 60 * np.exp(-0.07 * (age - 50)))
    death = np.minimum(excess, population)
    censor = np.minimum(rng.uniform(0, 3652, n), 3652)
    time = np.maximum(np.ceil(np.minimum(death, censor)), 1)
    event = (death <= censor).astype(np.int64)
    return {"time": time, "event": event, "age": age, "sex": sex, "diag": diag}


def bench_pohar_perme(n: int) -> float:
    table = build_lifetable(make_lifetable(), source="synthetic")
    c = make_cohort(n)
    start = time.perf_counter()
    curve = estimate_pohar_perme(
        c["time"], c["event"], age=c["age"], sex=c["sex"], year=c["diag"], lifetable=table
    )
    elapsed = time.perf_counter() - start
    s5 = curve.at([1826.0])["estimate"][0].as_py()
    print(
        f"oncobase Pohar-Perme: {n:,} patients in {elapsed:.2f} s "
        f"({n / elapsed:,.0f} patients/s); 5-year net survival {s5:.4f}"
    )
    return elapsed


R_SCRIPT = r"""
suppressPackageStartupMessages(library(relsurv))
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1]); lt <- read.csv(args[2])
years <- sort(unique(lt$year)); ages <- sort(unique(lt$age))
arr <- array(0, dim = c(length(ages), length(years), 2),
             dimnames = list(age = ages, year = years, sex = c("1", "2")))
arr[cbind(match(lt$age, ages), match(lt$year, years), lt$sex)] <- lt$rate / 365.241
cp <- attributes(relsurv::slopop)$cutpoints  # keeps the 'date' class of the year cut points
cp[[1]] <- ages * 365.241
cp[[2]] <- cp[[2]][seq_along(years)]
cp[[2]][] <- as.integer(as.Date(paste0(years, "-01-01")) - as.Date("1960-01-01"))
attr(arr, "dimid") <- c("age", "year", "sex")
attr(arr, "factor") <- c(0, 0, 1)
attr(arr, "type") <- c(2, 3, 1)
attr(arr, "cutpoints") <- cp
class(arr) <- "ratetable"
d$diag <- as.numeric(as.Date(d$diag) - as.Date("1960-01-01"))
d$age <- d$age * 365.241
t0 <- proc.time()[["elapsed"]]
fit <- rs.surv(Surv(time, event) ~ 1, rmap = list(age = age, sex = sex, year = diag),
               data = d, ratetable = arr, method = "pohar-perme")
cat(proc.time()[["elapsed"]] - t0, "\n")
"""


def bench_relsurv(n: int) -> float | None:
    rscript = shutil.which("Rscript")
    if rscript is None:
        print("relsurv: skipped (Rscript is not installed; apt-get install r-cran-relsurv)")
        return None
    c = make_cohort(n)
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "cohort.csv"
        lt = Path(tmp) / "lifetable.csv"
        script = Path(tmp) / "bench.R"
        pacsv.write_csv(
            pa.table(
                {
                    "time": c["time"],
                    "event": c["event"],
                    "age": c["age"],
                    "sex": c["sex"],
                    "diag": c["diag"].astype(str),
                }
            ),
            data,
        )
        pacsv.write_csv(make_lifetable(), lt)
        script.write_text(R_SCRIPT, encoding="utf-8")
        proc = subprocess.run(
            [rscript, str(script), str(data), str(lt)],
            capture_output=True,
            text=True,
            check=False,
            env={**os.environ, "OMP_NUM_THREADS": "1"},
        )
    if proc.returncode != 0:
        print(f"relsurv: skipped (Rscript failed: {proc.stderr.strip()[-300:]})")
        return None
    elapsed = float(proc.stdout.split()[-1])
    print(f"relsurv rs.surv Pohar-Perme: {n:,} patients in {elapsed:.2f} s")
    return elapsed


def bench_km(n: int) -> None:
    c = make_cohort(n)
    start = time.perf_counter()
    estimate_km(c["time"], c["event"])
    ours = time.perf_counter() - start
    try:
        from lifelines import KaplanMeierFitter
    except ImportError:
        print(f"oncobase KM: {n:,} in {ours:.3f} s; lifelines: skipped (not installed)")
        return
    start = time.perf_counter()
    KaplanMeierFitter().fit(c["time"], c["event"])
    theirs = time.perf_counter() - start
    print(
        f"Kaplan-Meier on {n:,}: oncobase {ours:.3f} s, lifelines {theirs:.3f} s "
        f"(lifelines / oncobase = {theirs / ours:.1f}x)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--r-n", type=int, default=None, help="patients for relsurv (default n)")
    parser.add_argument("--no-r", action="store_true", help="skip relsurv")
    args = parser.parse_args()
    ours = bench_pohar_perme(args.n)
    if args.no_r:
        print("relsurv: skipped (--no-r)")
    else:
        r_n = args.r_n or args.n
        theirs = bench_relsurv(r_n)
        if theirs is not None:
            ours_same = ours if r_n == args.n else bench_pohar_perme(r_n)
            print(f"relsurv / oncobase time ratio on {r_n:,} patients: {theirs / ours_same:.1f}x")
    bench_km(args.n)


if __name__ == "__main__":
    main()
