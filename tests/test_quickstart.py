"""README's quick start: ``make run`` on a fresh copy of the project serves and logs in."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import BinaryIO

import httpx

from tests.fakes.webhook import running_receiver
from tests.support.postgres import free_port

ROOT = Path(__file__).resolve().parents[1]


def _fresh_copy(target: Path) -> None:
    # What a clone would hold: tracked and new files, nothing ignored (no .venv, no var/).
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=ROOT,
        check=True,
        capture_output=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)


def _make_run(project: Path, env: dict[str, str], log: BinaryIO) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        ["make", "run"],
        cwd=project,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


async def test_make_run_on_a_fresh_copy_serves_logs_in_and_delivers(tmp_path: Path) -> None:
    project = tmp_path / "nabat"
    project.mkdir()
    _fresh_copy(project)
    port = free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("NABAT_", "VIRTUAL_ENV"))
    }
    env.update(
        {
            "NABAT_PORT": str(port),
            "NABAT_ADMIN_PASSWORD": "quick-start-pass",
            "NABAT_OUTBOUND_ALLOW": "127.0.0.0/8",
        }
    )
    log_path = tmp_path / "run.log"
    log = log_path.open("wb")
    process = _make_run(project, env, log)
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=base, timeout=10) as http:
            deadline = time.monotonic() + 240
            while True:
                assert process.poll() is None, log_path.read_text()
                try:
                    if (await http.get("/healthz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, log_path.read_text()
                await asyncio.sleep(0.5)
            login = await http.post(
                "/api/auth/login", json={"username": "admin", "password": "quick-start-pass"}
            )
            assert login.status_code == 200, login.text
            headers = {"Authorization": f"Bearer {login.json()['token']}"}
            assert (await http.get("/docs")).status_code == 200
            assert (project / "var" / "nabat.db").exists()
            # The in-process worker delivers without anything else started.
            async for sink in running_receiver():
                created = await http.post(
                    "/api/v1/notifications/channels",
                    headers=headers,
                    json={
                        "name": "sink",
                        "type": "WEBHOOK",
                        "configuration": {"url": sink.url},
                        "isDefault": True,
                    },
                )
                assert created.status_code == 201, created.text
                sent = await http.post(
                    "/api/v1/notifications/send",
                    headers=headers,
                    json={"serviceName": "web", "status": "DOWN", "message": "down"},
                )
                assert sent.status_code == 200, sent.text
                for _ in range(100):
                    if sink.received:
                        break
                    await asyncio.sleep(0.1)
                assert [r.json()["serviceName"] for r in sink.received] == ["web"]
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
        log.close()
