"""kill -9 of the delivering process at random moments while notifications are posted:
after each restart every accepted notification arrives within seconds, and a notification
that arrives twice carries the same idempotency id both times."""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import subprocess
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from nabat.db.engine import create_engine
from nabat.models.delivery import Delivery, DeliveryStatus
from nabat.models.event import Event
from tests.conftest import ADMIN_PASSWORD, SECRET_KEY, Backend, login
from tests.fakes.webhook import Scripted, WebhookReceiver
from tests.support.delivery import webhook_channel
from tests.support.postgres import free_port

TOTAL = 5_000
KILLS = 6
# After a restart, every notification accepted so far must have arrived within this.
ARRIVAL_DEADLINE = 10.0
SINGLE_CLIENTS = 4
BATCH_CLIENTS = 2
BATCH = 50


@dataclass
class Process:
    """One ``nabat`` command run as a child process, restartable on the same data."""

    command: str
    env: dict[str, str]
    log: BinaryIO
    child: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.child = subprocess.Popen(
            [sys.executable, "-m", "nabat", self.command],
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    def kill(self) -> int:
        """kill -9; the pid it had (part of its lease owner id)."""
        assert self.child is not None
        assert self.child.poll() is None, f"nabat {self.command} died by itself"
        self.child.send_signal(signal.SIGKILL)
        self.child.wait(timeout=10)
        return self.child.pid

    def stop(self) -> bool:
        """SIGTERM (an orderly shutdown); whether it exited cleanly."""
        assert self.child is not None
        self.child.send_signal(signal.SIGTERM)
        # uvicorn re-raises the signal it shut down on, so nabat serve ends "killed by
        # SIGTERM"; nabat worker exits 0.
        return self.child.wait(timeout=60) in (0, -signal.SIGTERM)

    def reap(self) -> None:
        if self.child is not None and self.child.poll() is None:
            self.child.kill()
            self.child.wait(timeout=10)


@dataclass
class Sink:
    """What the webhook receiver got, by notification: the delivery ids it came with."""

    receiver: WebhookReceiver
    ids: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    _read: int = 0

    def update(self) -> None:
        new = self.receiver.received[self._read :]
        self._read += len(new)
        for request in new:
            body = request.json()
            key = body.get("message") or body.get("event", {}).get("message")
            self.ids[str(key)].append(request.headers["x-nabat-delivery-id"])

    def delivery_ids(self) -> set[str]:
        self.update()
        return {i for ids in self.ids.values() for i in ids}

    def missing(self, accepted: set[str]) -> set[str]:
        self.update()
        return accepted - self.ids.keys()


@dataclass
class Load:
    """Posts uniquely numbered notifications (send API one by one, events API in batches)
    and remembers those answered 2xx: the accepted ones, which must all arrive."""

    base_url: str
    headers: dict[str, str]
    accepted: set[str] = field(default_factory=set)
    _next: int = 0

    def _keys(self, count: int) -> list[str]:
        first, self._next = self._next, self._next + count
        return [f"n{n}" for n in range(first, first + count)]

    async def _post(
        self, http: httpx.AsyncClient, path: str, body: object, keys: list[str]
    ) -> bool:
        try:
            answer = await http.post(path, headers=self.headers, json=body)
        except httpx.TransportError:
            return False  # the server was killed: not accepted (it may still arrive)
        if answer.is_success:
            self.accepted.update(keys)
        return True

    async def _singles(self, http: httpx.AsyncClient, until: int) -> None:
        while len(self.accepted) < until:
            [key] = keys = self._keys(1)
            body = {"status": "DOWN", "message": key, "channelType": "WEBHOOK"}
            if not await self._post(http, "/api/v1/notifications/send", body, keys):
                return

    async def _batches(self, http: httpx.AsyncClient, until: int) -> None:
        while len(self.accepted) < until:
            keys = self._keys(BATCH)
            body = {"events": [{"type": "service.down", "message": key} for key in keys]}
            if not await self._post(http, "/api/v1/events/batch", body, keys):
                return

    async def run(self, until: int) -> None:
        """Post until ``until`` notifications are accepted or the server goes away."""
        # A client of its own: connections to a killed server must not be reused.
        async with httpx.AsyncClient(base_url=self.base_url, timeout=30) as http:
            await asyncio.gather(
                *(self._singles(http, until) for _ in range(SINGLE_CLIENTS)),
                *(self._batches(http, until) for _ in range(BATCH_CLIENTS)),
            )


def _env(backend: Backend, tmp_path: Path, port: int) -> dict[str, str]:
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("NABAT_")},
        "NABAT_DATABASE_URL": backend.url,
        "NABAT_DATA_DIR": str(tmp_path / "data"),
        "NABAT_PORT": str(port),
        "NABAT_SECRET_KEY": SECRET_KEY,
        "NABAT_ADMIN_PASSWORD": ADMIN_PASSWORD,
        "NABAT_OUTBOUND_ALLOW": "127.0.0.0/8",
        "NABAT_LOG_LEVEL": "WARNING",
    }


async def _ready(http: httpx.AsyncClient, serve: Process, log: Path) -> None:
    started = time.monotonic()
    while time.monotonic() - started < 60:
        assert serve.child is not None
        assert serve.child.poll() is None, log.read_text()  # noqa: ASYNC240 - on failure
        with contextlib.suppress(httpx.TransportError):
            if (await http.get("/healthz")).status_code == 200:
                print(f"nabat serve up in {time.monotonic() - started:.1f} s")
                return
        await asyncio.sleep(0.05)
    raise AssertionError(f"nabat serve did not come up:\n{log.read_text()}")  # noqa: ASYNC240


@dataclass(frozen=True)
class Left:
    """What a killed process left behind."""

    leased: int  # deliveries still SENDING under its owner id
    unrecorded: int  # of those, already at the sink: sent but not recorded, sent again
    unrouted: int  # batched events stored but not yet routed (by any router)


async def _left_behind(engine: AsyncEngine, sink: Sink, pid: int) -> Left:
    async with engine.connect() as connection:
        rows = await connection.scalars(
            select(Delivery.public_id).where(
                Delivery.status == DeliveryStatus.SENDING.value,
                Delivery.lease_owner.like(f"%:{pid}:%"),
            )
        )
        leased = set(rows.all())
        unrouted = await connection.scalar(
            select(func.count()).select_from(Event).where(Event.routed_at.is_(None))
        )
    return Left(len(leased), len(leased & sink.delivery_ids()), int(unrouted or 0))


async def _all_arrive(sink: Sink, accepted: set[str], what: str) -> None:
    """Wait, at most ARRIVAL_DEADLINE, until every accepted notification has arrived."""
    started = time.monotonic()
    # Polling the receiver's record: it has no event to wait on.
    while sink.missing(accepted) and time.monotonic() - started < ARRIVAL_DEADLINE:  # noqa: ASYNC110
        await asyncio.sleep(0.05)
    missing = sink.missing(accepted)
    assert not missing, f"{len(missing)} accepted notifications not arrived {what}"
    print(f"{what}: all {len(accepted)} arrived {time.monotonic() - started:.1f} s after it")


async def _crash_and_recover(backend: Backend, tmp_path: Path, *, with_worker: bool) -> None:
    port = free_port()
    env = _env(backend, tmp_path, port)
    log_path = tmp_path / "processes.log"
    log = log_path.open("ab")
    serve = Process("serve", env, log)
    worker = Process("worker", env, log)
    processes = [serve, worker] if with_worker else [serve]
    engine = create_engine(backend.url)
    window = 0
    seed = random.randrange(1 << 32)
    rng = random.Random(seed)
    print(f"seed {seed}")
    receiver = WebhookReceiver()
    # Sends take a moment, so the kills find some in flight.
    receiver.default = Scripted(200, "ok", delay=0.002)
    await receiver.start()
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
            sink = Sink(receiver)
            for process in processes:
                process.start()
            await _ready(http, serve, log_path)
            headers = await login(http, "admin", ADMIN_PASSWORD)
            await webhook_channel(http, headers, receiver.url, isDefault=True)
            load = Load(f"http://127.0.0.1:{port}", headers)

            for kill in range(KILLS):
                # The victim: nabat serve, or on PostgreSQL every other time the worker
                # (whose rows the worker inside nabat serve then takes over).
                victim = worker if with_worker and kill % 2 else serve
                mark = int(TOTAL * (kill + rng.uniform(0.3, 1.0)) / KILLS)
                posting = asyncio.create_task(load.run(until=TOTAL * (kill + 1) // KILLS))
                while len(load.accepted) < mark and not posting.done():  # noqa: ASYNC110
                    await asyncio.sleep(0.002)
                await asyncio.sleep(rng.uniform(0, 0.05))
                left = await _left_behind(engine, sink, victim.kill())
                window += left.unrecorded
                print(f"kill {kill + 1} of {victim.command}: {left}")
                if victim is serve:
                    await posting
                else:
                    posting.cancel()
                    await asyncio.gather(posting, return_exceptions=True)
                victim.start()
                if victim is serve:
                    await _ready(http, serve, log_path)
                await _all_arrive(sink, load.accepted, f"after kill {kill + 1} of {victim.command}")

            await load.run(until=TOTAL)
            await _all_arrive(sink, load.accepted, "after the last posts")
            for process in processes:
                assert process.stop(), log_path.read_text()
            assert "shutdown failed" not in log_path.read_text()
    finally:
        for process in processes:
            process.reap()
        log.close()
        await receiver.stop()
        await engine.dispose()

    sink.update()
    split = {key: ids for key, ids in sink.ids.items() if len(set(ids)) > 1}
    assert not split, f"re-sent with a new idempotency id: {split}"
    duplicates = sum(len(ids) - 1 for ids in sink.ids.values())
    unanswered = len(sink.ids.keys() - load.accepted)
    print(
        f"{len(load.accepted)} accepted, {sum(map(len, sink.ids.values()))} requests "
        f"received, {duplicates} duplicates (same idempotency id; {window} were sent but "
        f"not recorded at a kill), {unanswered} arrived whose answer the kill cut off"
    )
    assert len(load.accepted) >= TOTAL


async def test_kill_9_of_nabat_serve_at_random_moments_delays_no_accepted_notification(
    backend: Backend, tmp_path: Path
) -> None:
    """On SQLite: one nabat serve. On PostgreSQL: nabat serve beside a nabat worker, the
    two killed in turn."""
    await _crash_and_recover(backend, tmp_path, with_worker=backend.name == "postgres")
