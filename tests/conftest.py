"""Shared fixtures: every storage and API test runs on SQLite and on a real PostgreSQL."""

from __future__ import annotations

import asyncio
import itertools
import shutil
from collections.abc import AsyncIterator, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI

from nabat.app import create_app
from nabat.clock import SystemClock
from nabat.db.engine import create_engine, create_sessionmaker
from nabat.db.migrate import upgrade_to_head
from nabat.services.accounts import ensure_first_admin
from nabat.settings import Settings
from tests.fakes.webhook import WebhookReceiver, running_receiver
from tests.support.postgres import PostgresServer, start_postgres

ADMIN_EMAIL = "admin@example.org"
ADMIN_PASSWORD = "correct horse battery staple"
SECRET_KEY = "test-master-secret-not-for-production"

_counter = itertools.count()


def run_sync(awaitable: Coroutine[Any, Any, None]) -> None:
    """Run a coroutine to completion from sync code, even inside a running event loop."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, awaitable).result()


# Argon2id at the lowest cost the format allows. The template's administrator gets a
# hash made with it, so the thousands of logins in the suite each verify in a
# millisecond instead of a tenth of a second: the parameters are part of the hash, and
# Nabat's own verification (and its own hashing of every other password) is unchanged.
_CHEAP_HASH = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


async def _migrate(url: str) -> None:
    """Migrate the template database and create the first administrator in it, as the
    first start does (so each test's start finds it made)."""
    engine = create_engine(url)
    try:
        await upgrade_to_head(engine)
        async with create_sessionmaker(engine)() as session:
            first = await ensure_first_admin(
                session, SystemClock(), email=ADMIN_EMAIL, password=ADMIN_PASSWORD
            )
            assert first is not None
            first.user.password_hash = _CHEAP_HASH.hash(ADMIN_PASSWORD)
            await session.commit()
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file that each test copies, so migrations run once."""
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    run_sync(_migrate(f"sqlite+aiosqlite:///{path}"))
    return path


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """One PostgreSQL server for the session, with a migrated template database."""
    server = start_postgres()
    try:

        async def prepare() -> None:
            conn = await asyncpg.connect(server.url("postgres").replace("+asyncpg", ""))
            try:
                await conn.execute("CREATE DATABASE nabat_template")
            finally:
                await conn.close()
            await _migrate(server.url("nabat_template"))

        run_sync(prepare())
        yield server
    finally:
        server.stop()


@dataclass
class Backend:
    """Which database a test runs on, and its URL."""

    name: str
    url: str


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    """A fresh, migrated database of each kind."""
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        target = tmp_path / "nabat.db"
        shutil.copy(template, target)
        return Backend("sqlite", f"sqlite+aiosqlite:///{target}")
    server: PostgresServer = request.getfixturevalue("postgres")
    name = f"t{next(_counter)}"

    async def create() -> None:
        conn = await asyncpg.connect(server.url("postgres").replace("+asyncpg", ""))
        try:
            await conn.execute(f'CREATE DATABASE "{name}" TEMPLATE nabat_template')
        finally:
            await conn.close()

    run_sync(create())
    return Backend("postgres", server.url(name))


@pytest.fixture
def settings(backend: Backend, tmp_path: Path) -> Settings:
    """Settings pointing at the test database, with a known first admin."""
    return Settings(
        _env_file=None,
        data_dir=tmp_path / "data",
        database_url=backend.url,
        secret_key=SECRET_KEY,
        admin_email=ADMIN_EMAIL,
        admin_password=ADMIN_PASSWORD,
        # Tests drive delivery explicitly (burst mode) unless they start a worker.
        run_workers=False,
        outbound_allow=["127.0.0.0/8", "::1/128"],
    )


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    """The application with its lifespan running."""
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client talking to the app in process; server errors come back as 500s."""
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
        yield http


async def login(http: httpx.AsyncClient, username: str, password: str) -> dict[str, str]:
    """Log in and return the Authorization header for the token."""
    response = await http.post("/api/auth/login", json={"username": username, "password": password})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['token']}"}


@pytest.fixture
async def receiver() -> AsyncIterator[WebhookReceiver]:
    """A local webhook receiver on 127.0.0.1 (tests/fakes/webhook.py)."""
    async for running in running_receiver():
        yield running


@pytest.fixture
async def admin_headers(client: httpx.AsyncClient) -> dict[str, str]:
    """Authorization for the first admin (owner of the default project)."""
    return await login(client, "admin", ADMIN_PASSWORD)
