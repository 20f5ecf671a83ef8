"""OAuth2 client-credentials tokens from the Microsoft identity platform, for GRAPH_MAIL
and EWS (CONTRACTS.md section 6).

One ``POST {authorityHost}/{tenantId}/oauth2/v2.0/token`` through the guarded outbound
client (so the SSRF policy applies to the sign-in service too), the token kept until
shortly before its ``expires_in`` and handed to every send of the same application;
an API that answers 401 gets one fresh token (:meth:`TokenClient.call_with_token`).
Sign-in failures are classified by their AADSTS code: a wrong or expired secret, an
unknown application, missing admin consent (``auth``: nothing changes until someone fixes
the app registration) and an unknown tenant (``config``) say what to do.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import ipaddress
import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Annotated, Any, TypeVar
from urllib.parse import urlencode, urlsplit

from pydantic import AfterValidator, StringConstraints

from nabat.channels.contract import DeliveryError, FailureClass
from nabat.channels.descriptor import fingerprint
from nabat.channels.http_status import classify_status, parse_retry_after
from nabat.channels.outbound import HttpAnswer, Outbound
from nabat.channels.redact import scrubbed
from nabat.clock import Clock, SystemClock

DEFAULT_AUTHORITY = "https://login.microsoftonline.com"
"""The sign-in service of Microsoft's global cloud."""
GRAPH_SCOPE = "https://graph.microsoft.com/.default"
"""The application permissions granted to the app for Microsoft Graph (``Mail.Send``)."""
EWS_SCOPE = "https://outlook.office365.com/.default"
"""The application permissions granted to the app for EWS (``full_access_as_app``)."""

WHAT = "the Microsoft sign-in service"
_SERVICE = "Microsoft sign-in service"  # classify_status says "the {what}"
REFRESH_MARGIN_S = 300.0
"""A token is renewed this long before it expires (a tenth of its life when that is less),
so that no send starts with a token that runs out on the way."""

R = TypeVar("R")

_CONSENT = (
    "; an administrator must grant admin consent for the application's API permissions "
    "(Microsoft Entra admin center → App registrations → the app → API permissions → "
    "Grant admin consent)"
)
_COPY_VALUE = "; copy the secret's Value (not its Secret ID) from Certificates & secrets"

# https://learn.microsoft.com/entra/identity-platform/reference-error-codes
AADSTS: dict[int, tuple[FailureClass, str]] = {
    7000215: (FailureClass.AUTH, "the client secret is wrong" + _COPY_VALUE),
    7000222: (
        FailureClass.AUTH,
        "the client secret has expired; create a new one under Certificates & secrets and "
        "set it on the channel",
    ),
    7000218: (FailureClass.CONFIG, "no client secret was sent; set clientSecret"),
    700016: (
        FailureClass.AUTH,
        "no application with this application (client) id is registered in the directory; "
        "check clientId and tenantId",
    ),
    7000112: (FailureClass.AUTH, "the application is disabled in the directory"),
    65001: (FailureClass.AUTH, "the application has not been consented to" + _CONSENT),
    500011: (
        FailureClass.AUTH,
        "the API the token is for is not available in the tenant (consent was never "
        "granted, or the service is not licensed)" + _CONSENT,
    ),
    53003: (FailureClass.AUTH, "a Conditional Access policy of the tenant blocked the sign-in"),
    90002: (FailureClass.CONFIG, "the tenant does not exist; check tenantId (the directory id)"),
    900023: (
        FailureClass.CONFIG,
        "the tenant id is neither a directory id nor a domain of a tenant; check tenantId",
    ),
    70011: (FailureClass.CONFIG, "the requested scope is not valid for this application"),
}

# RFC 6749 section 5.2 error names, for an answer without a known AADSTS code.
OAUTH_ERRORS: dict[str, FailureClass] = {
    "invalid_client": FailureClass.AUTH,
    "unauthorized_client": FailureClass.AUTH,
    "invalid_grant": FailureClass.AUTH,
    "consent_required": FailureClass.AUTH,
    "invalid_scope": FailureClass.CONFIG,
    "invalid_request": FailureClass.CONFIG,
    "unsupported_grant_type": FailureClass.CONFIG,
    "temporarily_unavailable": FailureClass.UPSTREAM,
    "server_error": FailureClass.UPSTREAM,
}

_AADSTS_IN_TEXT = re.compile(r"AADSTS(\d+)")
_AADSTS_PREFIX = re.compile(r"^AADSTS\d+:\s*")
_LOOPBACK_NAMES = frozenset({"localhost"})


def check_credential_url(value: str) -> str:
    """An ``https`` URL (plain ``http`` only to this machine) without user info: the
    client secret, a token or a password goes to it."""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an absolute https:// URL with a host")
    if parts.username is not None or parts.password is not None:
        raise ValueError("must not hold a user name or password (user@host)")
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        raise ValueError(
            "must be https://: credentials go to it (plain http:// only to this machine)"
        )
    if any(char.isspace() for char in value):
        raise ValueError("must not contain spaces")
    return value.rstrip("/")


def _is_loopback(host: str) -> bool:
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


CredentialUrl = Annotated[str, AfterValidator(check_credential_url)]
"""A URL credentials are sent to: https (http only to loopback), no user info."""

TenantId = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, max_length=253, pattern=r"^[A-Za-z0-9][A-Za-z0-9.\-]*$"
    ),
]
"""The directory (tenant) id: a GUID, or a domain of the tenant (contoso.onmicrosoft.com)."""

ClientId = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=128, pattern=r"^[A-Za-z0-9][\w.\-]*$"),
]
"""The application (client) id of the app registration, a GUID."""


@dataclass(frozen=True)
class AppCredentials:
    """An app registration's client credentials and the API its tokens are for."""

    authority_host: str
    tenant_id: str
    client_id: str
    client_secret: str = field(repr=False)
    scope: str

    @property
    def token_url(self) -> str:
        """The v2.0 token endpoint of the tenant."""
        return f"{self.authority_host.rstrip('/')}/{self.tenant_id}/oauth2/v2.0/token"

    @property
    def key(self) -> tuple[str, ...]:
        """What a cached token belongs to. The secret's digest is part of it: a channel
        that names another project's application without its secret must not borrow
        that project's token."""
        return (
            self.authority_host.rstrip("/").lower(),
            self.tenant_id.lower(),
            self.client_id.lower(),
            self.scope,
            fingerprint(self.client_secret),
        )


class TokenRejected(Exception):
    """An API refused a token (HTTP 401); ``error`` is what to raise if a fresh one is
    refused too."""

    def __init__(self, error: DeliveryError) -> None:
        super().__init__(error.reason)
        self.error = error


@dataclass
class _Cached:
    token: str = field(repr=False)
    renew_at: float


class TokenClient:
    """Fetches and caches client-credentials tokens; one per sender, shared by its sends.

    Concurrent sends that need the same missing token wait for one request.
    """

    def __init__(
        self, outbound: Outbound, *, clock: Clock | None = None, timeout_s: float = 15.0
    ) -> None:
        self._outbound = outbound
        self._clock: Clock = clock or SystemClock()
        self._timeout_s = timeout_s
        self._tokens: dict[tuple[str, ...], _Cached] = {}
        self._locks: dict[tuple[str, ...], asyncio.Lock] = {}

    async def token(self, app: AppCredentials) -> str:
        """A valid access token for ``app``: the cached one, else a new one.

        Raises :class:`DeliveryError` (classified, never holding the secret) when the
        sign-in service refuses or cannot be reached.
        """
        cached = self._fresh(app.key)
        if cached is not None:
            return cached
        lock = self._locks.setdefault(app.key, asyncio.Lock())
        async with lock:
            cached = self._fresh(app.key)
            if cached is not None:
                return cached
            return await self._renew(app)

    async def new_token(self, app: AppCredentials) -> str:
        """A token just issued for ``app``, whatever the cache holds (then cached in its
        place): proof that the secret works now, not when the cached token was issued.
        Raises as :meth:`token` does."""
        async with self._locks.setdefault(app.key, asyncio.Lock()):
            return await self._renew(app)

    async def _renew(self, app: AppCredentials) -> str:
        try:
            token, lifetime = await self._request(app)
        except DeliveryError as exc:
            raise scrubbed(exc, app.client_secret) from None
        margin = min(REFRESH_MARGIN_S, lifetime / 10)
        self._tokens[app.key] = _Cached(token, self._clock.monotonic() + lifetime - margin)
        return token

    def forget(self, app: AppCredentials, token: str) -> None:
        """Drop ``token`` from the cache (an API refused it), unless another send has
        already replaced it."""
        cached = self._tokens.get(app.key)
        if cached is not None and cached.token == token:
            del self._tokens[app.key]

    async def call_with_token(self, app: AppCredentials, call: Callable[[str], Awaitable[R]]) -> R:
        """``call`` with a token; when it raises :class:`TokenRejected`, once more with a
        fresh token, and if that is refused too, the :class:`DeliveryError` it carries."""
        token = await self.token(app)
        try:
            return await call(token)
        except TokenRejected:
            self.forget(app, token)
        token = await self.token(app)
        try:
            return await call(token)
        except TokenRejected as again:
            self.forget(app, token)
            raise again.error from None

    def _fresh(self, key: tuple[str, ...]) -> str | None:
        cached = self._tokens.get(key)
        if cached is None or self._clock.monotonic() >= cached.renew_at:
            return None
        return cached.token

    async def _request(self, app: AppCredentials) -> tuple[str, float]:
        form = urlencode(
            {
                "client_id": app.client_id,
                "client_secret": app.client_secret,
                "scope": app.scope,
                "grant_type": "client_credentials",
            }
        ).encode()
        answer = await self._outbound.request(
            "POST",
            app.token_url,
            what=WHAT,
            timeout_s=self._timeout_s,
            data=form,
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "Accept": "application/json",
            },
        )
        if answer.status != 200:
            raise classify_token_error(answer)
        document = answer.json()
        token = document.get("access_token") if isinstance(document, dict) else None
        lifetime = _seconds(document.get("expires_in")) if isinstance(document, dict) else None
        if not isinstance(token, str) or not token or lifetime is None:
            raise DeliveryError(
                FailureClass.UPSTREAM,
                f"{WHAT} answered HTTP 200 without an access token and its lifetime; will retry",
                status=200,
            )
        return token, lifetime


def token_roles(token: str) -> frozenset[str] | None:
    """The application permissions (``roles``) an access token says it carries, or
    ``None`` when the token cannot be read.

    Microsoft calls access tokens opaque to clients and may change their format, so this
    is evidence only when it can be read: a readable app-only token without the role is
    one the API will refuse (no admin consent), an unreadable one proves nothing either way.
    """
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (binascii.Error, ValueError):
        return None
    if not isinstance(claims, dict):
        return None
    roles = claims.get("roles", [])
    if not isinstance(roles, list):
        return None
    return frozenset(role for role in roles if isinstance(role, str))


def _seconds(value: Any) -> float | None:
    # expires_in is a number, though some proxies pass it on as a string.
    if isinstance(value, bool):
        return None
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return None
    return seconds if seconds > 0 else None


def aadsts_code(document: Any) -> int | None:
    """The AADSTS code of an error answer: its first ``error_codes`` entry, else the
    ``AADSTS…`` its description starts with."""
    if not isinstance(document, dict):
        return None
    codes = document.get("error_codes")
    if isinstance(codes, list) and codes and isinstance(codes[0], int):
        return codes[0]
    found = _AADSTS_IN_TEXT.search(str(document.get("error_description") or ""))
    return int(found.group(1)) if found else None


def classify_token_error(answer: HttpAnswer) -> DeliveryError:
    """The classified failure of a token request that did not answer 200."""
    document = answer.json()
    retry_after = parse_retry_after(answer.headers.get("Retry-After"))
    code = aadsts_code(document)
    error = document.get("error") if isinstance(document, dict) else None
    named = [str(error)] if error else []
    named += [f"AADSTS{code}"] if code is not None else []
    said = f" ({', '.join(named)})" if named else ""
    known = AADSTS.get(code) if code is not None else None
    if known is not None:
        return DeliveryError(
            known[0],
            f"{WHAT} refused the application's sign-in{said}: {known[1]}",
            status=answer.status,
        )
    if answer.status == 429 or answer.status >= 500:
        generic = classify_status(answer.status, retry_after=retry_after, what=_SERVICE)
        if generic is not None:
            return generic
    failure = OAUTH_ERRORS.get(error) if isinstance(error, str) else None
    if failure is not None:
        return DeliveryError(
            failure,
            f"{WHAT} refused the application's sign-in{said}: {_first_line(document)}",
            status=answer.status,
            retry_after=retry_after if failure.transient else None,
        )
    generic = classify_status(
        answer.status, body=answer.text, retry_after=retry_after, what=_SERVICE
    )
    return generic or DeliveryError(
        FailureClass.UPSTREAM, f"{WHAT} answered HTTP {answer.status}", status=answer.status
    )


def _first_line(document: Any) -> str:
    """The first line of an ``error_description`` (the rest is trace and correlation ids
    and a timestamp), at most 200 characters."""
    text = str(document.get("error_description") or "") if isinstance(document, dict) else ""
    line = text.strip().splitlines()[0] if text.strip() else "no description given"
    # The code is named already; the description repeats it in front.
    line = _AADSTS_PREFIX.sub("", line) or line
    return line if len(line) <= 200 else line[:199] + "…"
