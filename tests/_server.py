"""A real uvicorn serving the web app on a free 127.0.0.1 port, for the browser tests and the
web benchmark (``from tests._server import serve_in_background``)."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

import httpx


def free_port() -> int:
    """A TCP port of 127.0.0.1 nobody listens on (at the time of asking)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextmanager
def serve_in_background(
    env: Mapping[str, str], *, ready_path: str = "/health", attempts: int = 100
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """Start ``uvicorn oncobase.api.app:create_app`` with ``env`` on a free port, wait until
    ``ready_path`` answers 200 (polling every 0.1 s, ``attempts`` times), yield its base URL
    and process, and stop it on leaving. RuntimeError if it never gets ready."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "oncobase.api.app:create_app", "--factory",
         "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
        env=dict(env),
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(attempts):
            try:
                if httpx.get(base + ready_path, timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        else:
            raise RuntimeError(f"uvicorn did not answer {ready_path} on {base}")
        yield base, process
    finally:
        process.terminate()
        process.wait(timeout=10)
