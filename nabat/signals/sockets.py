"""Signals between the processes that share one SQLite file (``nabat api`` beside
``nabat worker``): Unix datagram sockets in a directory of their own.

SQLite is a file, so every process using it is on this machine. Each one binds a socket
in a directory named after the database file; a signal is one datagram to each other
process's socket (and a direct call to this process's listeners). A socket left by a
process that died is noticed when a datagram to it is refused, and removed. Signals stay
hints, as everywhere: a lost one is made up for by the next poll.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import secrets
import socket
import tempfile
import time
from pathlib import Path

from nabat.signals.base import MAX_PAYLOAD_BYTES, MAX_TOPIC_BYTES, check
from nabat.signals.local import LocalSignals

log = logging.getLogger("nabat.signals")

# Peers are listed again at most this often (seconds): a process started meanwhile hears
# signals from then on, one that died is dropped when a datagram to it is refused.
_PEERS_EVERY = 1.0
_DATAGRAM = MAX_TOPIC_BYTES + MAX_PAYLOAD_BYTES + 1


def directory_for(database: Path) -> Path:
    """The signal directory of a SQLite file: short (socket paths are limited to about 100
    bytes), and the same for every process that opens the file by any path."""
    digest = hashlib.sha256(str(database.resolve()).encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"nabat-signals-{digest}"


class SocketSignals(LocalSignals):
    """Signals to this process's listeners and to every other process in ``directory``."""

    def __init__(self, directory: Path) -> None:
        super().__init__()
        self._directory = directory
        self._socket: socket.socket | None = None
        self._path: Path | None = None
        self._peers: list[Path] = []
        self._listed_at = float("-inf")

    async def start(self) -> None:
        """Bind this process's socket; a failure is logged and leaves this process to its
        polls (signals are hints)."""
        path = self._directory / f"{os.getpid()}-{secrets.token_hex(4)}.sock"
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.setblocking(False)
        # Twice: the last process of the directory may remove it between our mkdir and bind.
        for attempt in (1, 2):
            try:
                self._directory.mkdir(mode=0o700, exist_ok=True)
                sock.bind(str(path))
                break
            except OSError as exc:
                if isinstance(exc, FileNotFoundError) and attempt == 1:
                    continue
                sock.close()
                log.warning("signals to other processes are off (%s); they poll instead", exc)
                return
        self._socket, self._path = sock, path
        asyncio.get_running_loop().add_reader(sock.fileno(), self._receive)

    def publish(self, topic: str, payload: str = "") -> None:
        """Call this process's listeners now, and send the signal to every other process."""
        check(topic, payload)
        self.deliver(topic, payload)
        if self._socket is None:
            return
        message = f"{topic}\n{payload}".encode()
        for peer in self._current_peers():
            try:
                self._socket.sendto(message, str(peer))
            except (ConnectionRefusedError, FileNotFoundError):
                # Its process is gone (kill -9 leaves the file behind).
                with contextlib.suppress(OSError):
                    peer.unlink()
                self._peers.remove(peer)
            except BlockingIOError:
                # Its queue is full: it has signals to read already.
                continue
            except OSError as exc:
                log.debug("signal to %s not sent: %s", peer, exc)

    async def close(self) -> None:
        """Stop listening and remove this process's socket."""
        if self._socket is not None:
            asyncio.get_running_loop().remove_reader(self._socket.fileno())
            self._socket.close()
            self._socket = None
        if self._path is not None:
            with contextlib.suppress(OSError):
                self._path.unlink()
                # The last process out takes the directory along (a busy one stays).
                self._directory.rmdir()
            self._path = None
        await super().close()

    def _current_peers(self) -> list[Path]:
        now = time.monotonic()
        if now - self._listed_at >= _PEERS_EVERY:
            self._listed_at = now
            try:
                self._peers = [p for p in self._directory.glob("*.sock") if p != self._path]
            except OSError:
                self._peers = []
        return list(self._peers)

    def _receive(self) -> None:
        assert self._socket is not None
        while True:
            try:
                data = self._socket.recv(_DATAGRAM)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                log.debug("reading a signal failed: %s", exc)
                return
            topic, _, payload = data.decode("utf-8", "replace").partition("\n")
            self.deliver(topic, payload)
