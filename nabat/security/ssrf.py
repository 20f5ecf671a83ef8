"""The SSRF guard for user-given URLs (CONTRACTS.md section 9).

Every address a destination resolves to must be public, after unwrapping the IPv6 forms
that embed an IPv4 address (mapped, NAT64, 6to4, Teredo). The check runs in the HTTP
client's resolver, so the address checked is the address connected to: a DNS answer that
changes between check and connect (rebinding) cannot slip through. Operators open chosen
networks with ``NABAT_OUTBOUND_ALLOW``.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from aiohttp.abc import AbstractResolver, ResolveResult

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

ALLOWED_SCHEMES = frozenset({"http", "https"})

# Pinned here rather than trusting ipaddress.is_global, whose answers changed between
# CPython security releases (CVE-2024-4032).
BLOCKED_NETWORKS: tuple[IPNetwork, ...] = tuple(
    ipaddress.ip_network(cidr)
    for cidr in (
        "0.0.0.0/8",
        "10.0.0.0/8",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "172.16.0.0/12",
        "192.0.0.0/24",
        "192.0.2.0/24",
        "192.88.99.0/24",
        "192.168.0.0/16",
        "198.18.0.0/15",
        "198.51.100.0/24",
        "203.0.113.0/24",
        "224.0.0.0/4",
        "240.0.0.0/4",
        "255.255.255.255/32",
        "::/128",
        "::1/128",
        "::ffff:0:0/96",
        "64:ff9b::/96",
        "64:ff9b:1::/48",
        "100::/64",
        "2001::/32",
        "2001:db8::/32",
        "2002::/16",
        "fc00::/7",
        "fe80::/10",
        "fec0::/10",
        "ff00::/8",
    )
)

_UNSEEN = object()
_VERDICT_CACHE = 10_000

_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))


class BlockedDestination(OSError):
    """The destination is not allowed; ``reason`` says why and how to allow it.

    An ``OSError`` so that aiohttp carries it out of the resolver like a lookup failure.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for (mapped, NAT64, 6to4, Teredo), if any."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if any(address in net for net in _NAT64):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    return None


class OutboundPolicy:
    """Which addresses outbound requests may reach."""

    def __init__(self, allow: Sequence[str] = ()) -> None:
        self.allow: tuple[IPNetwork, ...] = tuple(
            ipaddress.ip_network(cidr, strict=False) for cidr in allow
        )
        self._verdicts: dict[str, object] = {}

    def refusal(self, address: str) -> str | None:
        """Why ``address`` may not be reached, or ``None`` when it may."""
        try:
            ip: IPAddress = ipaddress.ip_address(address.split("%", 1)[0])
        except ValueError:
            return f"{address!r} is not an IP address"
        candidates: list[IPAddress] = [ip]
        if isinstance(ip, ipaddress.IPv6Address):
            inner = embedded_ipv4(ip)
            if inner is not None:
                candidates.append(inner)
        if any(self._allowed(candidate) for candidate in candidates):
            return None
        for candidate in candidates:
            if any(candidate in net for net in BLOCKED_NETWORKS) or not candidate.is_global:
                return (
                    f"address {ip} is private, local or reserved and outbound requests there "
                    "are blocked; an administrator can allow its network with "
                    "NABAT_OUTBOUND_ALLOW (e.g. NABAT_OUTBOUND_ALLOW="
                    f"{ipaddress.ip_network(f'{candidate}/{candidate.max_prefixlen}')})"
                )
        return None

    def _allowed(self, ip: IPAddress) -> bool:
        return any(ip.version == net.version and ip in net for net in self.allow)

    def check_url(self, url: str) -> None:
        """Refuse a URL by its scheme or literal address, before any connection.

        Host names are checked later, by :class:`GuardedResolver`, on the addresses
        actually connected to. Verdicts are remembered: the same few URLs are sent to
        over and over, and the answer depends on nothing but the URL.
        """
        verdict = self._verdicts.get(url, _UNSEEN)
        if verdict is _UNSEEN:
            try:
                self._check_url(url)
                verdict = None
            except BlockedDestination as exc:
                verdict = exc.reason
            if len(self._verdicts) >= _VERDICT_CACHE:
                self._verdicts.clear()
            self._verdicts[url] = verdict
        if verdict is not None:
            raise BlockedDestination(str(verdict))

    def _check_url(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme.lower() not in ALLOWED_SCHEMES:
            raise BlockedDestination(
                f"scheme {parts.scheme!r} is not allowed; use http:// or https://"
            )
        host = parts.hostname
        if not host:
            raise BlockedDestination("the URL has no host")
        literal = _literal_address(host)
        if literal is not None:
            reason = self.refusal(literal)
            if reason is not None:
                raise BlockedDestination(reason)


def _literal_address(host: str) -> str | None:
    """The address a host written as an IP literal means, including inet_aton's forms.

    ``2130706433``, ``0x7f000001`` and ``0177.0.0.1`` all mean 127.0.0.1 to the C library.
    """
    try:
        return str(ipaddress.ip_address(host.strip("[]")))
    except ValueError:
        pass
    try:
        return socket.inet_ntoa(socket.inet_aton(host))
    except OSError:
        return None


class GuardedResolver(AbstractResolver):
    """An aiohttp resolver that refuses a host when any of its addresses is blocked.

    Refusing the whole answer, not filtering it, stops a name that resolves to one public
    and one private address from being used to reach the private one.
    """

    def __init__(self, policy: OutboundPolicy) -> None:
        self._policy = policy

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        """Resolve ``host`` and check every address."""
        loop = asyncio.get_running_loop()
        try:
            infos = await loop.getaddrinfo(
                host, port, type=socket.SOCK_STREAM, family=family, flags=socket.AI_ADDRCONFIG
            )
        except socket.gaierror as exc:
            raise OSError(f"cannot resolve host {host!r}: {exc.strerror}") from exc
        results: list[ResolveResult] = []
        for fam, _type, proto, _canon, sockaddr in infos:
            address = str(sockaddr[0])
            reason = self._policy.refusal(address)
            if reason is not None:
                raise BlockedDestination(f"host {host!r} resolves to {reason}")
            results.append(
                ResolveResult(
                    hostname=host,
                    host=address,
                    port=int(sockaddr[1]),
                    family=fam,
                    proto=proto,
                    flags=socket.AI_NUMERICHOST | socket.AI_NUMERICSERV,
                )
            )
        if not results:
            raise OSError(f"host {host!r} has no address")
        return results

    async def close(self) -> None:
        """Nothing to release."""


def blocked_cause(exc: BaseException) -> BlockedDestination | None:
    """Find a :class:`BlockedDestination` in an exception's chain (aiohttp wraps it)."""
    seen: set[int] = set()
    current: Any = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, BlockedDestination):
            return current
        seen.add(id(current))
        nested = getattr(current, "os_error", None)
        if isinstance(nested, BlockedDestination):
            return nested
        current = current.__cause__ or current.__context__
    return None
