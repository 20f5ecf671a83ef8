"""Finding a mailbox's EWS endpoint with Autodiscover v2 (the JSON service).

``GET https://autodiscover.{domain}/autodiscover/autodiscover.json/v1.0/{address}?Protocol=EWS``
(then the same on ``{domain}`` itself) answers ``{"Protocol": "EWS", "Url": …}`` without
credentials, so no password or token is sent to a host that only the mailbox's domain
named. Every request goes through the guarded outbound client; redirects are followed by
hand, at most three, each hop checked again; answers come over ``https`` only (plain
``http`` only on this machine), and so must the endpoint found.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import quote, urljoin

from nabat.channels.contract import DeliveryError, FailureClass
from nabat.channels.ms_oauth import check_credential_url
from nabat.channels.outbound import Outbound

WHAT = "the Autodiscover service"
MAX_REDIRECTS = 3
_REDIRECTS = frozenset({301, 302, 303, 307, 308})

AutodiscoverUrls = Callable[[str], list[str]]
"""The Autodiscover URLs to ask, in order, for a mailbox address."""


def autodiscover_urls(address: str) -> list[str]:
    """Where Autodiscover v2 is asked about ``address``: ``autodiscover.{domain}``, then
    the domain itself."""
    domain = address.rpartition("@")[2].strip().rstrip(".").lower()
    path = f"/autodiscover/autodiscover.json/v1.0/{quote(address, safe='@')}?Protocol=EWS"
    return [f"https://autodiscover.{domain}{path}", f"https://{domain}{path}"]


async def discover(outbound: Outbound, address: str, urls: list[str], *, timeout_s: float) -> str:
    """The EWS endpoint the first answering Autodiscover URL names for ``address``.

    Raises :class:`DeliveryError`: a refused destination as ``config``; when no URL
    named an endpoint, ``network`` if one of them could not be reached (it may answer
    later), else ``config`` saying to set ``server``.
    """
    unreachable: DeliveryError | None = None
    for start in urls:
        url = start
        for _ in range(MAX_REDIRECTS + 1):
            try:
                answer = await outbound.request(
                    "GET",
                    url,
                    what=WHAT,
                    timeout_s=timeout_s,
                    headers={"Accept": "application/json"},
                )
            except DeliveryError as exc:
                if exc.failure_class is FailureClass.CONFIG:
                    raise
                unreachable = unreachable or exc
                break
            location = answer.headers.get("Location")
            if answer.status in _REDIRECTS and location:
                url = urljoin(url, location)
                try:
                    # Only https: an answer that could be changed on the way could point
                    # the credentials at someone else's server.
                    check_credential_url(url)
                except ValueError:
                    break
                continue
            document = answer.json() if answer.status == 200 else None
            if isinstance(document, dict) and str(document.get("Protocol")).lower() == "ews":
                found = document.get("Url")
                if isinstance(found, str):
                    return _endpoint(found)
            break
    if unreachable is not None:
        raise DeliveryError(
            FailureClass.NETWORK,
            f"Autodiscover found no EWS endpoint for {address}: {unreachable.reason}",
        )
    raise DeliveryError(
        FailureClass.CONFIG,
        f"Autodiscover found no EWS endpoint for {address}; set server to the EWS URL "
        "(https://mail.example.org/EWS/Exchange.asmx) instead",
    )


def _endpoint(url: str) -> str:
    try:
        return check_credential_url(url)
    except ValueError as exc:
        raise DeliveryError(
            FailureClass.CONFIG,
            f"Autodiscover named an EWS endpoint Nabat will not send credentials to ({exc}); "
            "set server instead",
        ) from None
