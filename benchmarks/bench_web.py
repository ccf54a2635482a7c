"""Statistics pages under load: 20 concurrent users on loopback, p95 must stay under 300 ms.

Usage: uv run python benchmarks/bench_web.py [--store PATH] [--population CSV] [--users 20]
       [--requests 600]
Default store: the demo's (ONCOBASE_HOME/store.duckdb, after `make demo` or `oncobase
pipeline run`); default population: the synthetic nation's ``synth/population.csv`` beside
it, when present (rates and ASRs are then computed too). The server is a real uvicorn process
on a free 127.0.0.1 port. The first request of each path is made before the timing starts
(the cold figures are printed apart): the timed mix measures the service in its steady state.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np

from oncobase.config import get_settings

PATHS = [
    "/",
    "/explorer",
    "/explorer?group_by=year&series=sex",
    "/explorer?group_by=age_group&series=sex&site=breast",
    "/explorer?group_by=region",
    "/explorer?group_by=departement&year_from=2018",
    "/explorer?measure=survival",
    "/explorer?group_by=site_group&format=csv",
    "/api/v1/open/incidence?group_by=site_group&series=year",
    "/api/v1/open/incidence?group_by=sex&series=age_group",
    "/explorer?group_by=year&partial=1",
    "/explorer?measure=mortality&group_by=year&series=sex",
    "/explorer?measure=mortality&group_by=age_group&site=lung",
    "/explorer?measure=prevalence&group_by=site_group&duration=5",
    "/explorer?measure=prevalence&group_by=year&duration=1",
    "/explorer?measure=prevalence&group_by=region&format=csv",
    "/api/v1/open/mortality?group_by=site_group&series=sex",
    "/api/v1/open/prevalence?group_by=sex&series=age_group&duration=10",
]


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux /proc; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--store", type=Path, default=None)
    parser.add_argument("--population", type=Path, default=None)
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--requests", type=int, default=600)
    parser.add_argument("--max-seconds", type=float, default=120.0)
    args = parser.parse_args()
    store = args.store or get_settings().home_path / "store.duckdb"
    if not store.exists():
        sys.exit(f"no store at {store}: run `make demo` (or `oncobase pipeline run`) first")
    home = Path(tempfile.mkdtemp(prefix="bench-web-"))
    load_before = os.getloadavg()
    env = {**os.environ, "ONCOBASE_WEB_HOME": str(home),
           "ONCOBASE_WEB_STORE_URL": f"duckdb:///{store}"}  # fmt: skip
    population = args.population or store.parent / "synth" / "population.csv"
    if population.is_file():
        env["ONCOBASE_WEB_POPULATION_CSV"] = str(population)
    sys.path.insert(0, str(Path(__file__).parents[1]))  # the repository root: tests._server
    from tests._server import serve_in_background

    with serve_in_background(env, ready_path="/ready", attempts=300) as (base, server):
        cold: dict[str, float] = {}
        with httpx.Client(base_url=base, timeout=120) as warm:
            for path in PATHS:
                start = time.perf_counter()
                assert warm.get(path).status_code == 200, path
                cold[path] = time.perf_counter() - start
        deadline = time.monotonic() + args.max_seconds
        rng = random.Random(0)
        plan = [rng.choice(PATHS) for _ in range(args.requests)]

        def user(paths: list[str]) -> list[tuple[str, float]]:
            times = []
            with httpx.Client(base_url=base, timeout=30) as client:
                for path in paths:
                    if time.monotonic() > deadline:
                        break
                    start = time.perf_counter()
                    response = client.get(path)
                    times.append((path, time.perf_counter() - start))
                    assert response.status_code == 200, (path, response.status_code)
            return times

        chunks = [plan[i :: args.users] for i in range(args.users)]
        server_cpu = _cpu_seconds(server.pid)
        client_cpu = time.process_time()
        started = time.perf_counter()
        with ThreadPoolExecutor(args.users) as pool:
            timed = [pt for ts in pool.map(user, chunks) for pt in ts]
        latencies = np.array([t for _, t in timed]) * 1000
        elapsed = time.perf_counter() - started
        server_cpu = _cpu_seconds(server.pid) - server_cpu
        client_cpu = time.process_time() - client_cpu
    p50, p95, p99 = np.percentile(latencies, [50, 95, 99])
    print(f"store: {store}")
    print(f"population: {env.get('ONCOBASE_WEB_POPULATION_CSV', 'none (counts only)')}")
    print(f"load average before/after: {load_before} / {os.getloadavg()}")
    slowest = sorted(cold.items(), key=lambda kv: -kv[1])[:3]
    print(
        "first (cold) requests, slowest:", ", ".join(f"{p} {t * 1000:.0f} ms" for p, t in slowest)
    )
    print(f"{len(latencies)} requests, {args.users} concurrent users, {elapsed:.1f} s, "
          f"{len(latencies) / elapsed:.0f} req/s")  # fmt: skip
    print(f"CPU per request: server {server_cpu / len(latencies) * 1000:.1f} ms, "
          f"load generator {client_cpu / len(latencies) * 1000:.1f} ms "
          f"({os.cpu_count()} CPUs, shared)")  # fmt: skip
    print(f"latency ms: p50 {p50:.1f}  p95 {p95:.1f}  p99 {p99:.1f}  max {latencies.max():.1f}")
    print("p95 by path (ms):")
    for path in PATHS:
        mine = np.array([t for p, t in timed if p == path]) * 1000
        if mine.size:
            print(f"  {np.percentile(mine, 95):7.1f}  ({mine.size:3d} requests)  {path}")
    print("PASS" if p95 < 300 else "FAIL", "(p95 < 300 ms)")


if __name__ == "__main__":
    main()
