"""Processes, ports and HTTP helpers shared by the benchmarks."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
ADMIN_PASSWORD = "bench-admin-password"


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_port(port: int, timeout: float = 60.0) -> None:
    """Block until something listens on 127.0.0.1:port."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on port {port} after {timeout} s")


@contextmanager
def process(
    args: list[str], env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """Run a child Python module for the length of the block."""
    log = tempfile.NamedTemporaryFile(prefix="nabat-bench-", suffix=".log", delete=False)  # noqa: SIM115
    child = subprocess.Popen(
        [sys.executable, *args],
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        yield child
    except BaseException:
        log.flush()
        tail = Path(log.name).read_text(errors="replace")[-3000:]
        print(f"--- {' '.join(args)} log tail ---\n{tail}", file=sys.stderr)
        raise
    finally:
        log.close()
        Path(log.name).unlink(missing_ok=True)
        child.terminate()
        try:
            child.wait(timeout=30)
        except subprocess.TimeoutExpired:
            child.kill()


@contextmanager
def http_sink() -> Iterator[int]:
    """An HTTP sink process; yields its port."""
    port = free_port()
    with process(["-m", "bench.sink", str(port)]):
        wait_port(port)
        yield port


@contextmanager
def smtp_sink() -> Iterator[int]:
    """An SMTP sink process; yields its SMTP port (its counter is on port + 1)."""
    port = free_port()
    while True:
        try:
            with socket.socket() as probe:
                probe.bind(("127.0.0.1", port + 1))
            break
        except OSError:
            port = free_port()
    with process(["-m", "bench.smtp_sink", str(port)]):
        wait_port(port)
        wait_port(port + 1)
        yield port


@contextmanager
def nabat(
    extra_env: dict[str, str] | None = None, *, split: bool = False, api_only: bool = False
) -> Iterator[str]:
    """A fresh ``nabat serve`` (SQLite in a new data dir); yields its base URL.

    ``split``: the API process delivers nothing; a separate ``nabat worker`` process on the
    same SQLite database does (the two-process layout that uses both cores).
    ``api_only``: ``nabat api`` alone, to measure accepting without delivering.
    """
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="nabat-bench-") as data:
        env = {
            "NABAT_PORT": str(port),
            "NABAT_DATA_DIR": data,
            "NABAT_DATABASE_URL": "",
            "NABAT_ADMIN_PASSWORD": ADMIN_PASSWORD,
            "NABAT_OUTBOUND_ALLOW": "127.0.0.0/8",
            "NABAT_LOG_LEVEL": "WARNING",
            **(extra_env or {}),
        }
        if split:
            env |= {"NABAT_POLL_SECONDS": "0.05"}
        with process(["-m", "nabat", "api" if split or api_only else "serve"], env):
            wait_port(port)
            if not split:
                yield f"http://127.0.0.1:{port}"
                return
            with process(["-m", "nabat", "worker"], env):
                yield f"http://127.0.0.1:{port}"


async def json_call(session: aiohttp.ClientSession, method: str, url: str, **kwargs: Any) -> Any:
    """One JSON request; raises on a non-2xx answer."""
    async with session.request(method, url, **kwargs) as response:
        body = await response.json(content_type=None)
        if response.status >= 300:
            raise RuntimeError(f"{method} {url}: {response.status} {body}")
        return body


async def login(session: aiohttp.ClientSession, base: str) -> dict[str, str]:
    """Authorization header for the bench admin."""
    body = await json_call(
        session,
        "POST",
        f"{base}/api/auth/login",
        json={"username": "admin", "password": ADMIN_PASSWORD},
    )
    return {"Authorization": f"Bearer {body['token']}"}


async def wait_count(
    session: aiohttp.ClientSession, url: str, target: int, limit_s: float = 600.0
) -> None:
    """Poll a sink's /_count until it reaches ``target``."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        body = await json_call(session, "GET", url)
        if body["count"] >= target:
            return
        await asyncio.sleep(0.02)
    raise RuntimeError(f"{url} did not reach {target} within {limit_s} s")


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100) by nearest rank."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]
