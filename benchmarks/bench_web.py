"""Statistics pages under load: 20 concurrent users on loopback, p95 must stay under 300 ms.

Usage: uv run python benchmarks/bench_web.py [--store PATH] [--users 20] [--requests 600]
Default store: the demo's (ONCOBASE_HOME/store.duckdb, after `make demo` or `oncobase
pipeline run`). The server is a real uvicorn process on a free 127.0.0.1 port.
"""

from __future__ import annotations

import argparse
import os
import random
import socket
import subprocess
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
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--store", type=Path, default=None)
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--requests", type=int, default=600)
    parser.add_argument("--max-seconds", type=float, default=120.0)
    args = parser.parse_args()
    store = args.store or get_settings().home_path / "store.duckdb"
    if not store.exists():
        sys.exit(f"no store at {store}: run `make demo` (or `oncobase pipeline run`) first")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    home = Path(tempfile.mkdtemp(prefix="bench-web-"))
    env = {**os.environ, "ONCOBASE_WEB_HOME": str(home),
           "ONCOBASE_WEB_STORE_URL": f"duckdb:///{store}"}  # fmt: skip
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "oncobase.api.app:create_app", "--factory",
         "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
        env=env,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(base + "/ready", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        with httpx.Client(base_url=base) as warm:
            for path in PATHS:
                warm.get(path)
        deadline = time.monotonic() + args.max_seconds
        rng = random.Random(0)
        plan = [rng.choice(PATHS) for _ in range(args.requests)]

        def user(paths: list[str]) -> list[float]:
            times = []
            with httpx.Client(base_url=base, timeout=30) as client:
                for path in paths:
                    if time.monotonic() > deadline:
                        break
                    start = time.perf_counter()
                    response = client.get(path)
                    times.append(time.perf_counter() - start)
                    assert response.status_code == 200, (path, response.status_code)
            return times

        chunks = [plan[i :: args.users] for i in range(args.users)]
        started = time.perf_counter()
        with ThreadPoolExecutor(args.users) as pool:
            latencies = np.array([t for ts in pool.map(user, chunks) for t in ts]) * 1000
        elapsed = time.perf_counter() - started
    finally:
        server.terminate()
        server.wait(timeout=10)
    p50, p95, p99 = np.percentile(latencies, [50, 95, 99])
    print(f"store: {store}")
    print(f"{len(latencies)} requests, {args.users} concurrent users, {elapsed:.1f} s, "
          f"{len(latencies) / elapsed:.0f} req/s")  # fmt: skip
    print(f"latency ms: p50 {p50:.1f}  p95 {p95:.1f}  p99 {p99:.1f}  max {latencies.max():.1f}")
    print("PASS" if p95 < 300 else "FAIL", "(p95 < 300 ms)")


if __name__ == "__main__":
    main()
