"""Live streams across real ``nabat`` processes: on PostgreSQL an event accepted by one
``nabat api`` and delivered by a ``nabat worker`` reaches a stream held by another
``nabat api`` (LISTEN/NOTIFY through the signal seam, nothing polled); and a stopping
``nabat serve`` ends its open streams instead of waiting for them."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from nabat.signals.postgres import asyncpg_dsn
from tests.conftest import ADMIN_PASSWORD, SECRET_KEY, login
from tests.support.live import opened
from tests.support.postgres import PostgresServer, free_port
from tests.test_isolation import PASSWORD, add_user

WAIT = 30.0


def _start(command: str, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "nabat", command], env=env, stdout=out, stderr=subprocess.STDOUT
        )


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("NABAT_")},
        "NABAT_SECRET_KEY": SECRET_KEY,
        "NABAT_DATA_DIR": str(tmp_path / "data"),
        "NABAT_ADMIN_PASSWORD": ADMIN_PASSWORD,
        "NABAT_OUTBOUND_ALLOW": "127.0.0.0/8",
        **extra,
    }


def _text(log: Path) -> str:
    return log.read_text(errors="replace")


async def _up(http: httpx.AsyncClient, child: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert child.poll() is None, _text(log)
        try:
            if (await http.get("/healthz")).status_code == 200:
                return
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.1)
    raise AssertionError(f"not up within a minute:\n{_text(log)}")


async def _listening(log: Path) -> None:
    deadline = time.monotonic() + 60
    while "listening for signals" not in _text(log):
        assert time.monotonic() < deadline, _text(log)
        await asyncio.sleep(0.05)


async def _database(server: PostgresServer, name: str) -> str:
    admin = await asyncpg.connect(asyncpg_dsn(server.url("postgres")))
    try:
        await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE nabat_template')
    finally:
        await admin.close()
    return server.url(name)


async def _inbox_rule(http: httpx.AsyncClient, headers: dict[str, str], who: str) -> None:
    channels = (await http.get("/api/v1/notifications/channels", headers=headers)).json()
    [inapp] = [channel for channel in channels if channel["type"] == "INAPP"]
    rule: dict[str, Any] = {
        "name": "to the inbox",
        "match": {"types": ["service.*"]},
        "actions": [{"channelId": inapp["id"], "recipients": [who]}],
    }
    answer = await http.post("/api/v1/rules", json=rule, headers=headers)
    assert answer.status_code == 201, answer.text


async def test_an_event_accepted_by_one_api_reaches_a_stream_held_by_another(
    tmp_path: Path, postgres: PostgresServer
) -> None:
    ports = [free_port(), free_port()]
    env = _env(
        tmp_path,
        NABAT_DATABASE_URL=await _database(postgres, "live_split"),
        # Far beyond the test: only a signal can wake a worker or a stream in time.
        NABAT_POLL_SECONDS="600",
        NABAT_STREAM_RESYNC_SECONDS="600",
    )
    logs = [tmp_path / f"{name}.log" for name in ("api-1", "api-2", "worker")]
    children = [
        _start("api", {**env, "NABAT_PORT": str(port)}, log)
        for port, log in zip(ports, logs, strict=False)
    ]
    try:
        async with (
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{ports[0]}", timeout=WAIT) as one,
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{ports[1]}", timeout=WAIT) as two,
        ):
            await _up(one, children[0], logs[0])
            await _up(two, children[1], logs[1])
            children.append(_start("worker", env, logs[2]))
            await _listening(logs[2])
            admin = await login(one, "admin", ADMIN_PASSWORD)
            await add_user(one, admin, "anna", "member")
            await _inbox_rule(one, admin, "anna")
            anna = await login(two, "anna", PASSWORD)
            async with opened(two, anna) as stream, asyncio.timeout(WAIT):
                assert (await stream.event()).name == "count"
                accepted = await one.post(
                    "/api/v1/events",
                    json={"type": "service.down", "severity": "CRITICAL", "message": "Billing"},
                    headers=admin,
                )
                assert accepted.status_code == 202, accepted.text
                new = await stream.event()
                assert new.name == "item", new
                assert new.data["item"]["eventId"] == accepted.json()["eventId"]
                assert (await stream.event()).data["unread"] == 1
                # Read through the first API: the second one's stream hears of it too.
                anna_on_one = await login(one, "anna", PASSWORD)
                item_id = new.data["itemId"]
                read = await one.post(f"/api/v1/inbox/{item_id}/read", headers=anna_on_one)
                assert read.status_code == 200, read.text
                changed = await stream.event()
                assert (changed.name, changed.data["itemId"]) == ("read", item_id)
                assert (await stream.event()).data["unread"] == 0
    finally:
        for child in children:
            child.terminate()
        for child in children:
            child.wait(timeout=30)


async def test_a_stopping_server_ends_its_open_streams_and_exits(tmp_path: Path) -> None:
    port = free_port()
    env = _env(tmp_path, NABAT_PORT=str(port))
    log = tmp_path / "serve.log"
    serve = _start("serve", env, log)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=WAIT) as http:
            await _up(http, serve, log)
            admin = await login(http, "admin", ADMIN_PASSWORD)
            async with opened(http, admin) as stream, asyncio.timeout(WAIT):
                assert (await stream.event()).name == "count"
                serve.send_signal(signal.SIGTERM)
                # The stream ends cleanly (no broken connection), then the process exits.
                async for _ in stream:
                    pass
            # uvicorn re-raises the signal it shut down on.
            assert await asyncio.to_thread(serve.wait, WAIT) == -signal.SIGTERM, _text(log)
    finally:
        if serve.poll() is None:
            serve.kill()
            serve.wait(timeout=10)
