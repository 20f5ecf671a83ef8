"""A throwaway PostgreSQL server started from the installed binaries.

PostgreSQL refuses to run as root, so when the tests run as root the server runs as
``nobody`` in a data directory handed over to it.
"""

from __future__ import annotations

import glob
import os
import random
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

INSTALL_HINT = (
    "PostgreSQL server binaries (initdb, pg_ctl) were not found. Install them, e.g. "
    "`apt-get install postgresql` on Debian, or run `make test`, which installs them "
    "when it runs as root."
)


def find_bindir() -> Path | None:
    """Where initdb and pg_ctl live: PATH first, then Debian's versioned directories."""
    on_path = shutil.which("initdb")
    if on_path and shutil.which("pg_ctl"):
        return Path(os.path.realpath(on_path)).parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)
    return Path(candidates[0]).parent if candidates else None


def _ephemeral_low() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now, for a server that some
    other process will bind later (PostgreSQL, ``make run``).

    It is taken below the kernel's ephemeral range: servers the tests bind to port 0
    (fakes, receivers, in other xdist workers too) get ports from that range, so one of
    them cannot grab this port in the seconds before its server binds it.
    """
    low = _ephemeral_low()
    rng = random.SystemRandom()
    for _ in range(200):
        port = rng.randrange(10_000, max(10_001, low))
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free TCP port below the ephemeral range")


@dataclass
class PostgresServer:
    """A running server; ``url(db)`` gives an asyncpg SQLAlchemy URL."""

    bindir: Path
    datadir: Path
    port: int
    run_as_nobody: bool

    def url(self, database: str) -> str:
        """The SQLAlchemy URL of ``database`` on this server."""
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{database}"

    def _cmd(self, *args: str) -> list[str]:
        prefix = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]
        return [*(prefix if self.run_as_nobody else []), *args]

    def start(self) -> None:
        """initdb, then start the server and wait until it takes connections."""
        if self.run_as_nobody:
            shutil.chown(self.datadir.parent, user="nobody", group="nogroup")
        self._run(
            self._cmd(
                str(self.bindir / "initdb"),
                "-D",
                str(self.datadir),
                "-U",
                "postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--no-sync",
            )
        )
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.datadir} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
            "-c max_connections=200"
        )
        self._run(
            self._cmd(
                str(self.bindir / "pg_ctl"),
                "-D",
                str(self.datadir),
                "-o",
                options,
                "-l",
                str(self.datadir.parent / "server.log"),
                "-w",
                "start",
            )
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("PostgreSQL did not start; see server.log in its data directory")

    @staticmethod
    def _run(command: list[str]) -> None:
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(
                f"{' '.join(command)} failed ({done.returncode}): {done.stderr or done.stdout}"
            )

    def stop(self) -> None:
        """Stop the server at once and remove its files."""
        subprocess.run(
            self._cmd(
                str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-m", "immediate", "stop"
            ),
            check=False,
            capture_output=True,
        )
        # A session's hundreds of test databases make a large tree: removing it is left
        # to a process of its own, so the suite does not wait half a minute for it.
        # The shell puts rm in the background and exits at once.
        subprocess.run(
            ["sh", "-c", 'rm -rf "$0" &', str(self.datadir.parent)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=False,
        )


def start_postgres() -> PostgresServer:
    """Start a fresh server in a new temporary directory.

    Raises with an install hint if no server is installed. The directory is made
    outside pytest's private temp tree so that ``nobody`` can reach it.
    """
    bindir = find_bindir()
    if bindir is None:
        raise RuntimeError(INSTALL_HINT)
    base = Path(tempfile.mkdtemp(prefix="nabat-pg-"))
    base.chmod(0o755)
    server = PostgresServer(
        bindir=bindir, datadir=base / "data", port=free_port(), run_as_nobody=os.geteuid() == 0
    )
    server.start()
    return server
