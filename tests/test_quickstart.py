"""README's quick start: ``make run`` on a fresh copy of the project serves and logs in."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import httpx

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


def test_make_run_on_a_fresh_copy_serves_health_and_login(tmp_path: Path) -> None:
    project = tmp_path / "nabat"
    project.mkdir()
    _fresh_copy(project)
    port = free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("NABAT_", "VIRTUAL_ENV"))
    }
    env.update({"NABAT_PORT": str(port), "NABAT_ADMIN_PASSWORD": "quick-start-pass"})
    log = (tmp_path / "run.log").open("wb")
    process = subprocess.Popen(
        ["make", "run"],
        cwd=project,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 240
        while True:
            assert process.poll() is None, (tmp_path / "run.log").read_text()
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, (tmp_path / "run.log").read_text()
            time.sleep(0.5)
        login = httpx.post(
            f"{base}/api/auth/login",
            json={"username": "admin", "password": "quick-start-pass"},
            timeout=10,
        )
        assert login.status_code == 200, login.text
        docs = httpx.get(f"{base}/docs", timeout=10)
        assert docs.status_code == 200
        assert (project / "var" / "nabat.db").exists()
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
        log.close()
