"""Who a request comes from: the client's address, believing only trusted proxies.

``X-Forwarded-For`` is text any client can send. It is read only when the connection
comes from a proxy in ``NABAT_TRUSTED_PROXIES``, and then from the right: each trusted
proxy appends the address it was connected from, so the right-most address that is not
a trusted proxy is the client; whatever stands left of it the client wrote itself.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# One IPv6 client is given a whole /64 (RFC 6177) and can pick any address in it.
_IPV6_CLIENT_PREFIX = 64


def _address(text: str) -> IPAddress | None:
    """``text`` as an address: ``1.2.3.4``, ``::1``, also with a port (``1.2.3.4:5678``,
    ``[::1]:5678``) as some proxies write it; an IPv4-mapped IPv6 address as IPv4."""
    text = text.strip()
    if text.startswith("["):
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def client_address(
    peer: str | None, forwarded_for: Sequence[str], trusted: Sequence[IPNetwork]
) -> str:
    """The address of the client behind a request, as text.

    ``peer`` is the connection's other end (the ASGI ``client``), ``forwarded_for`` the
    request's ``X-Forwarded-For`` values in order. The peer is the answer unless it is a
    trusted proxy; then hops are taken from the right of ``X-Forwarded-For`` while the
    hop so far is trusted. An entry that is not an address ends the walk at the trusted
    proxy that wrote it: a value the client could choose never becomes its address.
    Without a peer (a Unix socket) the answer is ``"unknown"``.
    """
    current = _address(peer) if peer else None
    if current is None:
        return peer or "unknown"
    hops = [hop for value in forwarded_for for hop in value.split(",")]
    for hop in reversed(hops):
        if not any(current in network for network in trusted):
            break
        address = _address(hop)
        if address is None:
            break
        current = address
    return str(current)


def address_bucket(address: str) -> str:
    """What limits on a client address count by: the address, or for IPv6 its /64."""
    parsed = _address(address)
    if isinstance(parsed, ipaddress.IPv6Address):
        return str(ipaddress.IPv6Network((parsed, _IPV6_CLIENT_PREFIX), strict=False))
    return str(parsed) if parsed is not None else address
