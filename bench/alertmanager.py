"""Prometheus Alertmanager 0.25 (Debian's ``prometheus-alertmanager``) as a reference peer.

Started by hand as its README shows (``alertmanager --config.file=…``), with a generated
configuration that makes every alert one notification as soon as it arrives: grouped by
all labels (``group_by: ['...']``), ``group_wait: 0s``, ``group_interval: 1s``, and one
webhook receiver into the bench's HTTP sink. Its own storage directory, 127.0.0.1 on a
free port, clustering disabled (``--cluster.listen-address=``).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench.harness import free_port, process

PACKAGE = "prometheus-alertmanager"
CANDIDATES = ("prometheus-alertmanager", "alertmanager")


def binary() -> str:
    """The Alertmanager executable, installed from Debian's package when missing (as root).

    Raises RuntimeError when it is missing and cannot be installed.
    """
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    if os.geteuid() != 0:
        raise RuntimeError(f"Alertmanager is missing: apt-get install -y {PACKAGE} (as root)")
    print(f"installing {PACKAGE} (apt-get)", flush=True)
    install = ["apt-get", "install", "-y", "--no-install-recommends", PACKAGE]
    if _apt(install) != 0 and (_apt(["apt-get", "update"]) != 0 or _apt(install) != 0):
        raise RuntimeError(f"apt-get install -y {PACKAGE} failed")
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    raise RuntimeError(f"{PACKAGE} is installed but no alertmanager executable is on PATH")


def _apt(args: list[str]) -> int:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    return subprocess.run(args, env=env, stdout=subprocess.DEVNULL, check=False).returncode


def version() -> str:
    """The version ``alertmanager --version`` reports ("0.25.0"), for the report."""
    answer = subprocess.run([binary(), "--version"], capture_output=True, text=True, check=False)
    found = re.search(r"version (\S+)", answer.stdout or answer.stderr)
    return found.group(1) if found else "unknown version"


def config(sink: int) -> dict[str, object]:
    """One notification per alert, at once, into the sink (JSON is valid YAML)."""
    return {
        "route": {
            "receiver": "sink",
            "group_by": ["..."],
            "group_wait": "0s",
            "group_interval": "1s",
            "repeat_interval": "4h",
        },
        "receivers": [
            {
                "name": "sink",
                "webhook_configs": [
                    {"url": f"http://127.0.0.1:{sink}/alertmanager", "send_resolved": False}
                ],
            }
        ],
    }


def _wait_ready(base: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            # An http:// URL this module built on 127.0.0.1, never a caller's.
            with urllib.request.urlopen(f"{base}/-/ready", timeout=1) as answer:  # noqa: S310
                if answer.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"Alertmanager at {base} not ready after {timeout} s")


@contextmanager
def alertmanager(sink: int) -> Iterator[str]:
    """A fresh Alertmanager delivering into the sink on ``sink``; yields its base URL."""
    executable = binary()
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="nabat-bench-am-") as directory:
        path = Path(directory) / "alertmanager.yml"
        path.write_text(json.dumps(config(sink), indent=2), encoding="utf-8")
        args = [
            executable,
            f"--config.file={path}",
            f"--storage.path={Path(directory) / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
            "--log.level=warn",
        ]
        with process(args, python=False):
            base = f"http://127.0.0.1:{port}"
            _wait_ready(base)
            yield base
