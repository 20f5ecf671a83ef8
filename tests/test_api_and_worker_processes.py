"""`nabat api` queues without delivering (and stores batches without routing them); a
separate `nabat worker` routes and delivers."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path
from typing import BinaryIO

import httpx

from tests.fakes.webhook import running_receiver
from tests.support.postgres import free_port


def _start(command: str, env: dict[str, str], log: BinaryIO) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "nabat", command], env=env, stdout=log, stderr=subprocess.STDOUT
    )


async def _statuses(
    http: httpx.AsyncClient, headers: dict[str, str], delivery: str, events: list[str]
) -> list[str]:
    """The delivery's status, then each event's routing and its deliveries' statuses."""
    found = [(await http.get(delivery, headers=headers)).json()["status"]]
    for event in events:
        record = (await http.get(event, headers=headers)).json()
        found += [record["routing"]] + [d["status"] for d in record["deliveries"]]
    return found


async def test_the_api_alone_queues_and_a_worker_process_delivers(tmp_path: Path) -> None:
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("NABAT_")},
        "NABAT_DATA_DIR": str(tmp_path / "data"),
        "NABAT_PORT": str(port),
        "NABAT_ADMIN_PASSWORD": "split-admin-pass",
        "NABAT_OUTBOUND_ALLOW": "127.0.0.0/8",
        "NABAT_POLL_SECONDS": "0.1",
    }
    log = (tmp_path / "processes.log").open("wb")
    api = _start("api", env, log)
    worker: subprocess.Popen[bytes] | None = None
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
            for _ in range(200):
                try:
                    if (await http.get("/healthz")).status_code == 200:
                        break
                except httpx.TransportError:
                    await asyncio.sleep(0.1)
            token = (
                await http.post(
                    "/api/auth/login", json={"username": "admin", "password": "split-admin-pass"}
                )
            ).json()["token"]
            headers = {"Authorization": f"Bearer {token}"}
            async for sink in running_receiver():
                await http.post(
                    "/api/v1/notifications/channels",
                    headers=headers,
                    json={
                        "name": "s",
                        "type": "WEBHOOK",
                        "configuration": {"url": sink.url},
                        "isDefault": True,
                    },
                )
                sent = await http.post(
                    "/api/v1/notifications/send",
                    headers=headers,
                    json={"status": "DOWN", "message": "m", "channelType": "WEBHOOK"},
                )
                url = f"/api/v1/notifications/deliveries/{sent.json()['deliveryId']}"
                batch = await http.post(
                    "/api/v1/events/batch",
                    headers=headers,
                    json={"events": [{"type": "service.down"}, {"type": "service.up"}]},
                )
                assert batch.status_code == 202, batch.text
                events = [f"/api/v1/events/{e['eventId']}" for e in batch.json()["events"]]
                await asyncio.sleep(1.0)
                assert (await http.get(url, headers=headers)).json()["status"] == "QUEUED"
                for event in events:
                    assert (await http.get(event, headers=headers)).json()["routing"] == "PENDING"
                assert sink.received == []
                worker = _start("worker", env, log)
                done = ["SENT", "ROUTED", "SENT", "ROUTED", "SENT"]
                # Sends are recorded shortly after they are made: wait for the record.
                for _ in range(100):
                    if await _statuses(http, headers, url, events) == done:
                        break
                    await asyncio.sleep(0.1)
                assert await _statuses(http, headers, url, events) == done
                assert len(sink.received) == 3
    finally:
        for child in (api, worker):
            if child is not None:
                child.terminate()
                child.wait(timeout=30)
        log.close()
