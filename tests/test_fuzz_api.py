"""Property-based fuzzing of the whole HTTP API from its own OpenAPI document.

A real ``nabat api`` process on SQLite and on PostgreSQL is sent requests that
schemathesis derives from ``/openapi.json`` (valid ones and deliberately invalid ones),
with the administrator's token and without any. Every answer must be a non-5xx, its
status code documented for that operation, its body matching the documented schema, and
its content type the documented one.

Bounded: a fixed number of examples per operation (``NABAT_FUZZ_EXAMPLES``, default 6;
without credentials a third of it, since nearly every answer is then the same 401)
and a deterministic seed, so a CI run is repeatable; raise the number locally to dig.
"""

from __future__ import annotations

import itertools
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.config import SchemathesisConfig

from nabat.app import create_app
from nabat.settings import Settings
from tests.conftest import ADMIN_PASSWORD, SECRET_KEY, run_sync
from tests.support.postgres import PostgresServer

EXAMPLES = int(os.environ.get("NABAT_FUZZ_EXAMPLES", "6"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
# Operations that reach out to the destinations they are given (a test message sends
# one at once): fuzzed destinations would be contacted, and tests talk to loopback only.
OUTBOUND = r".*/channels/\{[^}]+\}/test$"
# A live stream answers for as long as the client listens: a fuzzed call would only time
# out (tests/test_inbox_stream.py covers it, with and without credentials).
STREAMS = r".*/inbox/stream$"

_databases = itertools.count()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _database_url(kind: str, tmp: Path, request: pytest.FixtureRequest) -> str:
    if kind == "sqlite":
        return f"sqlite+aiosqlite:///{tmp / 'nabat.db'}"
    server: PostgresServer = request.getfixturevalue("postgres")
    name = f"fuzz{os.getpid()}_{next(_databases)}"

    async def create() -> None:
        conn = await asyncpg.connect(server.url("postgres").replace("+asyncpg", ""))
        try:
            await conn.execute(f'CREATE DATABASE "{name}" TEMPLATE nabat_template')
        finally:
            await conn.close()

    run_sync(create())
    return server.url(name)


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def fuzzed_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A ``nabat api`` process on 127.0.0.1 over each database; its log is printed when
    the module's tests are done (a 500's trace is there)."""
    tmp = tmp_path_factory.mktemp(f"fuzz-{request.param}")
    port = _free_port()
    env = {
        **os.environ,
        "NABAT_DATABASE_URL": _database_url(request.param, tmp, request),
        "NABAT_DATA_DIR": str(tmp / "data"),
        "NABAT_SECRET_KEY": SECRET_KEY,
        "NABAT_ADMIN_PASSWORD": ADMIN_PASSWORD,
        # Many logins with wrong passwords are part of the fuzzing.
        "NABAT_LOGIN_ATTEMPTS_PER_MINUTE": "1000000",
    }
    log_path = tmp / "server.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "nabat", "api", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"nabat api did not start:\n{log_path.read_text()}")
            time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=30)
        errors = [line for line in log_path.read_text().splitlines() if "Traceback" in line]
        if errors:
            print(log_path.read_text())


@pytest.fixture(scope="module")
def admin_token(fuzzed_server: str) -> str:
    """A login token of the first administrator."""
    answer = requests.post(
        f"{fuzzed_server}/api/auth/login",
        json={"username": "admin", "password": ADMIN_PASSWORD},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    token: str = answer.json()["token"]
    return token


def _schema() -> Any:
    """The API's OpenAPI document, built by the application (no database needed; the
    server under test serves the same document at ``/openapi.json``)."""
    document = create_app(Settings(_env_file=None)).openapi()
    config = SchemathesisConfig.from_dict(
        {
            "seed": 20261201,
            "generation": {
                "mode": "all",
                "max-examples": EXAMPLES,
                "deterministic": True,
            },
        }
    )
    return schemathesis.openapi.from_dict(document, config=config).exclude(
        path_regex=f"{OUTBOUND}|{STREAMS}"
    )


schema = _schema()

FUZZ_SETTINGS = settings(
    deadline=None,
    suppress_health_check=list(HealthCheck),
    max_examples=EXAMPLES,
    derandomize=True,
)
ANONYMOUS_SETTINGS = settings(FUZZ_SETTINGS, max_examples=max(1, EXAMPLES // 3))


@pytest.fixture(scope="module")
def http(fuzzed_server: str) -> Iterator[requests.Session]:
    """One kept-alive connection pool for the whole module: an error answer that broke
    the connection would show as the next request's failure."""
    with requests.Session() as session:
        yield session


@schema.parametrize()  # type: ignore[untyped-decorator]
@FUZZ_SETTINGS
def test_as_administrator(
    case: schemathesis.Case[Any], fuzzed_server: str, admin_token: str, http: requests.Session
) -> None:
    """With the first administrator's token: no 5xx, every answer as documented."""
    case.call_and_validate(
        base_url=fuzzed_server,
        session=http,
        headers={"Authorization": f"Bearer {admin_token}"},
        checks=CHECKS,
        timeout=30,
    )


@schema.parametrize()  # type: ignore[untyped-decorator]
@ANONYMOUS_SETTINGS
def test_without_credentials(
    case: schemathesis.Case[Any], fuzzed_server: str, http: requests.Session
) -> None:
    """With no token at all: no 5xx, every answer (mostly 401) as documented."""
    case.call_and_validate(base_url=fuzzed_server, session=http, checks=CHECKS, timeout=30)
