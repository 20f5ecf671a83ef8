"""The SSRF guard for exchangelib's HTTP (requests and urllib3), CONTRACTS.md section 9.

exchangelib opens its connections itself, on a worker thread. :class:`GuardedAdapter`
(installed as exchangelib's HTTP adapter) makes each of them the way the outbound client
does: the host is resolved here, every address it resolves to must pass the process's
:class:`~nabat.security.ssrf.OutboundPolicy`, and the socket is opened to a checked
address, so a refused destination is refused before any connection and a DNS answer that
changes between check and connect (rebinding) cannot slip through. TLS still verifies the
certificate for the host name. Environment proxies are ignored, and every request is
bounded by the channel's timeout.

The policy travels in :data:`~nabat.channels.ews_mail.GUARD`, which the EWS sender sets
on the thread it runs exchangelib on; a connection made outside it is refused.
"""

from __future__ import annotations

import socket
from typing import Any

from requests import PreparedRequest, Response
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError
from urllib3.util.connection import create_connection

from nabat.channels.ews_mail import GUARD
from nabat.security.ssrf import BlockedDestination


def checked_addresses(host: str, port: int) -> list[str]:
    """The addresses ``host`` resolves to, each allowed by the policy in force.

    Raises :class:`BlockedDestination` when any of them is refused (a name with one
    public and one private address must not reach the private one) or no guard is set.
    """
    guard = GUARD.get()
    if guard is None:
        raise BlockedDestination("no outbound policy is in force for this connection")
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    addresses: list[str] = []
    for *_, sockaddr in infos:
        address = str(sockaddr[0])
        reason = guard.policy.refusal(address)
        if reason is not None:
            raise BlockedDestination(f"host {host!r} resolves to {reason}")
        addresses.append(address)
    if not addresses:
        raise OSError(f"host {host!r} has no address")
    return list(dict.fromkeys(addresses))


def _open(connection: HTTPConnection) -> socket.socket:
    """A socket to a checked address of the connection's host (urllib3's own errors)."""
    try:
        last: OSError | None = None
        for address in checked_addresses(connection.host, connection.port):
            try:
                return create_connection(
                    (address, connection.port),
                    connection.timeout,
                    source_address=connection.source_address,
                    socket_options=connection.socket_options,
                )
            except TimeoutError:
                raise
            except OSError as exc:
                last = exc
        raise last or OSError(f"cannot connect to {connection.host!r}")
    except socket.gaierror as exc:
        raise NameResolutionError(connection.host, connection, exc) from exc
    except TimeoutError as exc:
        raise ConnectTimeoutError(connection, f"Connection to {connection.host} timed out") from exc
    except OSError as exc:
        raise NewConnectionError(
            connection, f"Failed to establish a new connection: {exc}"
        ) from exc


class _GuardedHTTPConnection(HTTPConnection):
    def _new_conn(self) -> socket.socket:
        return _open(self)


class _GuardedHTTPSConnection(HTTPSConnection):
    def _new_conn(self) -> socket.socket:
        return _open(self)


class _GuardedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _GuardedHTTPConnection


class _GuardedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _GuardedHTTPSConnection


class GuardedAdapter(HTTPAdapter):
    """A requests adapter whose connections pass the guard; no proxies; bounded time."""

    def init_poolmanager(
        self, connections: int, maxsize: int, block: bool = False, **pool_kwargs: Any
    ) -> None:
        """The pool manager, making guarded connections for http and https."""
        super().init_poolmanager(connections, maxsize, block, **pool_kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": _GuardedHTTPPool,
            "https": _GuardedHTTPSPool,
        }

    def send(
        self,
        request: PreparedRequest,
        stream: bool = False,
        timeout: Any = None,
        verify: Any = True,
        cert: Any = None,
        proxies: dict[str, str] | None = None,
    ) -> Response:
        """Send ``request`` directly (HTTP(S)_PROXY from the environment must not route
        around the guard), within the guard's timeout."""
        guard = GUARD.get()
        return super().send(
            request,
            stream=stream,
            timeout=guard.timeout_s if guard is not None else timeout,
            verify=verify,
            cert=cert,
            proxies={},
        )
