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
from dataclasses import dataclass
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


def wait_port(
    port: int, timeout: float = 60.0, child: subprocess.Popen[bytes] | None = None
) -> None:
    """Block until something listens on 127.0.0.1:port; raises when ``child`` exits first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if child is not None and child.poll() is not None:
            raise RuntimeError(f"the process for port {port} exited with {child.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError(f"nothing listens on port {port} after {timeout} s")


@contextmanager
def process(
    args: list[str], env: dict[str, str] | None = None, *, python: bool = True
) -> Iterator[subprocess.Popen[bytes]]:
    """Run a child (a Python module unless ``python`` is false) for the length of the block.

    Its output goes to a temporary log, printed (the tail) if the block fails.
    """
    log = tempfile.NamedTemporaryFile(prefix="nabat-bench-", suffix=".log", delete=False)  # noqa: SIM115
    child = subprocess.Popen(
        [sys.executable, *args] if python else args,
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
        if child.poll() is None:
            child.terminate()
            try:
                child.wait(timeout=30)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()


@contextmanager
def http_sink() -> Iterator[int]:
    """An HTTP sink process (bench/sink.py); yields its port."""
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


def nabat_env(data: str, port: int, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a bench ``nabat`` process: SQLite in ``data``, on ``port``."""
    return {
        "NABAT_HOST": "127.0.0.1",
        "NABAT_PORT": str(port),
        "NABAT_DATA_DIR": data,
        "NABAT_DATABASE_URL": "",
        "NABAT_ADMIN_PASSWORD": ADMIN_PASSWORD,
        "NABAT_OUTBOUND_ALLOW": "127.0.0.0/8",
        "NABAT_LOG_LEVEL": "WARNING",
        **(extra or {}),
    }


@dataclass(frozen=True)
class Layout:
    """How Nabat runs: ``serve`` (one process) or ``split`` (``nabat api`` + ``nabat worker``)."""

    name: str

    @property
    def label(self) -> str:
        """The wording used in the report."""
        return "`nabat serve`" if self.name == "serve" else "`nabat api` + `nabat worker`"


SERVE = Layout("serve")
SPLIT = Layout("split")


@dataclass(frozen=True)
class Server:
    """Running Nabat processes: the API's base URL and every process's pid."""

    base: str
    pids: tuple[int, ...]

    def cpu_seconds(self) -> float:
        """User + system CPU time the processes used so far (from /proc)."""
        tick = os.sysconf("SC_CLK_TCK")
        total = 0.0
        for pid in self.pids:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += (int(fields[11]) + int(fields[12])) / tick
        return total


@contextmanager
def nabat(layout: Layout = SERVE, extra_env: dict[str, str] | None = None) -> Iterator[Server]:
    """Fresh Nabat processes (SQLite in a new data dir) for the length of the block.

    ``split``: ``nabat api`` and ``nabat worker`` on one SQLite file, woken by each
    other's signals (Unix datagram sockets), with the default poll as the fallback.
    """
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="nabat-bench-") as data:
        env = nabat_env(data, port, extra_env)
        base = f"http://127.0.0.1:{port}"
        if layout is SERVE:
            with process(["-m", "nabat", "serve"], env) as serve:
                wait_port(port, child=serve)
                yield Server(base, (serve.pid,))
            return
        with process(["-m", "nabat", "api"], env) as api:
            wait_port(port, child=api)
            with process(["-m", "nabat", "worker"], env) as worker:
                yield Server(base, (api.pid, worker.pid))


async def json_call(session: aiohttp.ClientSession, method: str, url: str, **kwargs: Any) -> Any:
    """One JSON request; raises on a non-2xx answer."""
    async with session.request(method, url, **kwargs) as response:
        body = await response.json(content_type=None)
        if response.status >= 300:
            raise RuntimeError(f"{method} {url}: {response.status} {body}")
        return body


async def login(session: aiohttp.ClientSession, base: str) -> dict[str, str]:
    """Authorization header of the bench admin's login token (``POST /api/auth/login``)."""
    body = await json_call(
        session,
        "POST",
        f"{base}/api/auth/login",
        json={"username": "admin", "password": ADMIN_PASSWORD},
    )
    return {"Authorization": f"Bearer {body['token']}"}


async def sink_counts(session: aiohttp.ClientSession, sink: int) -> dict[str, int]:
    """The sink's counts: distinct markers arrived, duplicates, requests."""
    body: dict[str, int] = await json_call(session, "GET", f"http://127.0.0.1:{sink}/_count")
    return body


async def sink_arrivals(session: aiohttp.ClientSession, sink: int) -> dict[int, float]:
    """Each marker's first arrival time (epoch seconds) at the sink."""
    body = await json_call(session, "GET", f"http://127.0.0.1:{sink}/_stats")
    return {int(number): float(at) for number, at in body["arrivals"]}


async def wait_arrivals(
    session: aiohttp.ClientSession, sink: int, target: int, limit_s: float
) -> bool:
    """Poll the sink until ``target`` distinct markers arrived; false after ``limit_s``."""
    deadline = time.monotonic() + limit_s
    while True:
        if (await sink_counts(session, sink))["count"] >= target:
            return True
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.02)


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100) by nearest rank."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]
