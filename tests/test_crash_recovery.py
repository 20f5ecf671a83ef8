"""kill -9 of a worker process mid-run, then a restart: nothing accepted is lost."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import BinaryIO

from fastapi import FastAPI
from sqlalchemy import func, select

from nabat.delivery.content import build_content, seed_payload
from nabat.delivery.queue import NewDelivery, enqueue
from nabat.models.delivery import Delivery, DeliveryStatus
from nabat.services.channels import ChannelService
from nabat.settings import Settings
from tests.conftest import SECRET_KEY, Backend
from tests.fakes.webhook import Scripted, running_receiver

TOTAL = 2000


def _start_worker(backend: Backend, settings: Settings, log: BinaryIO) -> subprocess.Popen[bytes]:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("NABAT_")},
        "NABAT_DATABASE_URL": backend.url,
        "NABAT_DATA_DIR": str(settings.data_dir),
        "NABAT_SECRET_KEY": SECRET_KEY,
        "NABAT_OUTBOUND_ALLOW": "127.0.0.0/8",
        "NABAT_LEASE_SECONDS": "2",
        "NABAT_POLL_SECONDS": "0.1",
        "NABAT_WORKER_BATCH": "200",
        "NABAT_WORKER_CONCURRENCY": "64",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "nabat", "worker"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )


async def _count(app: FastAPI, status: DeliveryStatus) -> int:
    async with app.state.nabat.sessions() as session:
        value = await session.scalar(
            select(func.count()).select_from(Delivery).where(Delivery.status == status.value)
        )
        return int(value or 0)


async def test_killed_worker_loses_no_delivery_and_duplicates_keep_their_id(
    app: FastAPI, backend: Backend, settings: Settings, tmp_path: Path
) -> None:
    state = app.state.nabat
    async for sink in running_receiver():
        sink.default = Scripted(200, "ok", delay=0.005)
        async with state.sessions() as session:
            view = await ChannelService(session, state.box, state.clock).create(
                1, name="sink", type_name="WEBHOOK", configuration={"url": sink.url}
            )
            payload = seed_payload(
                username=None,
                service_name="svc",
                service_url=None,
                status="DOWN",
                severity="ERROR",
                message="m",
                timestamp=state.clock.now(),
            )
            content = build_content(payload)
            ids = await enqueue(
                session,
                [NewDelivery(1, view.row.id, "WEBHOOK", content) for _ in range(TOTAL)],
                now=state.clock.now(),
                max_attempts=5,
            )
            await session.commit()
        expected = {claimed.public_id for claimed in ids}
        log_path = tmp_path / "worker.log"
        log = log_path.open("ab")

        first = _start_worker(backend, settings, log)
        try:
            for _ in range(600):
                if len(sink.received) >= TOTAL // 4:
                    break
                assert first.poll() is None, log_path.read_text()
                await asyncio.sleep(0.05)
            first.send_signal(signal.SIGKILL)
            first.wait(timeout=10)
        finally:
            if first.poll() is None:
                first.kill()
        killed_at = len(sink.received)
        assert killed_at < TOTAL, "the kill came too late to test anything"

        second = _start_worker(backend, settings, log)
        try:
            for _ in range(1200):
                if await _count(app, DeliveryStatus.SENT) == TOTAL:
                    break
                assert second.poll() is None, log_path.read_text()
                await asyncio.sleep(0.1)
            second.send_signal(signal.SIGTERM)
            assert second.wait(timeout=30) == 0, log_path.read_text()
        finally:
            if second.poll() is None:
                second.kill()

        log.close()
        assert await _count(app, DeliveryStatus.SENT) == TOTAL, log_path.read_text()
        seen = Counter(r.headers["x-nabat-delivery-id"] for r in sink.received)
        assert set(seen) == expected
        duplicates = {public_id: n for public_id, n in seen.items() if n > 1}
        # Any duplicate is a re-send of the same delivery, identifiable by its id; only
        # work in flight at the moment of the kill can be sent twice.
        assert sum(n - 1 for n in duplicates.values()) <= 200
        assert await _count(app, DeliveryStatus.SENDING) == 0
