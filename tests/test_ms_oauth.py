"""The Microsoft identity token client against the fake token endpoint: the documented
request, one token per app for many sends, renewal before expiry, one refresh on a 401,
AADSTS errors classified, the SSRF guard, and no secret anywhere."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import replace
from urllib.parse import parse_qs

import pytest
from pydantic import BaseModel, ValidationError

from nabat.channels.contract import DeliveryError, FailureClass
from nabat.channels.ms_oauth import (
    EWS_SCOPE,
    GRAPH_SCOPE,
    AppCredentials,
    CredentialUrl,
    TokenClient,
    TokenRejected,
)
from nabat.channels.outbound import Outbound
from nabat.clock import FrozenClock
from nabat.security.ssrf import OutboundPolicy
from tests.fakes.exchange import CLIENT_ID, CLIENT_SECRET, TENANT, ExchangeFake, aad_error
from tests.fakes.provider import Reply
from tests.fakes.support import assert_no_secret, loopback_outbound


@pytest.fixture
async def fake() -> AsyncIterator[ExchangeFake]:
    async with ExchangeFake(expires_in=3600) as server:
        yield server


@pytest.fixture
async def outbound() -> AsyncIterator[Outbound]:
    async with loopback_outbound() as client:
        yield client


@pytest.fixture(autouse=True)
def _capture_all_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)


def app(fake: ExchangeFake, **overrides: str) -> AppCredentials:
    fields = {
        "authority_host": fake.base_url,
        "tenant_id": TENANT,
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "scope": GRAPH_SCOPE,
        **overrides,
    }
    return AppCredentials(**fields)


def issued(fake: ExchangeFake) -> list[str]:
    return list(fake.tokens)


async def test_the_token_request_is_the_documented_client_credentials_form(
    fake: ExchangeFake, outbound: Outbound
) -> None:
    token = await TokenClient(outbound).token(app(fake))

    [request] = fake.requests_to("token")
    assert request.method == "POST"
    assert request.path == f"/{TENANT}/oauth2/v2.0/token"
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert parse_qs(request.body.decode()) == {
        "client_id": [CLIENT_ID],
        "client_secret": [CLIENT_SECRET],
        "scope": [GRAPH_SCOPE],
        "grant_type": ["client_credentials"],
    }
    assert token == issued(fake)[0]


async def test_one_token_serves_many_requests_even_concurrent_ones(
    fake: ExchangeFake, outbound: Outbound
) -> None:
    tokens = TokenClient(outbound)

    got = await asyncio.gather(*(tokens.token(app(fake)) for _ in range(5)))
    got.append(await tokens.token(app(fake)))

    assert len(fake.requests_to("token")) == 1
    assert set(got) == set(issued(fake))


async def test_each_scope_and_each_secret_has_its_own_token(
    fake: ExchangeFake, outbound: Outbound
) -> None:
    tokens = TokenClient(outbound)
    graph = await tokens.token(app(fake))
    ews = await tokens.token(app(fake, scope=EWS_SCOPE))
    assert graph != ews
    # Another channel naming the same application without its secret borrows nothing:
    # it asks the sign-in service, which refuses it.
    with pytest.raises(DeliveryError) as caught:
        await tokens.token(app(fake, client_secret="not-the-secret-at-all"))
    assert caught.value.failure_class is FailureClass.AUTH
    assert len(fake.requests_to("token")) == 3


async def test_a_token_is_renewed_shortly_before_it_expires(
    fake: ExchangeFake, outbound: Outbound
) -> None:
    clock = FrozenClock()
    tokens = TokenClient(outbound, clock=clock)
    first = await tokens.token(app(fake))

    clock.advance(3000)  # ten minutes before its hour is up: still used
    assert await tokens.token(app(fake)) == first
    clock.advance(301)  # under five minutes left: renewed
    second = await tokens.token(app(fake))

    assert second != first
    assert len(fake.requests_to("token")) == 2


async def test_a_refused_token_is_replaced_once_and_a_second_refusal_is_final(
    fake: ExchangeFake, outbound: Outbound
) -> None:
    tokens = TokenClient(outbound)
    seen: list[str] = []
    refusal = DeliveryError(FailureClass.AUTH, "the API refused the token", status=401)

    async def refuse_the_first(token: str) -> str:
        seen.append(token)
        if len(seen) == 1:
            raise TokenRejected(refusal)
        return "sent"

    assert await tokens.call_with_token(app(fake), refuse_the_first) == "sent"
    assert seen[0] != seen[1]
    # The fresh token stays cached for the next send.
    assert await tokens.token(app(fake)) == seen[1]

    async def refuse_always(token: str) -> str:
        seen.append(token)
        raise TokenRejected(refusal)

    with pytest.raises(DeliveryError) as caught:
        await tokens.call_with_token(app(fake), refuse_always)
    assert caught.value is refusal
    assert len(fake.requests_to("token")) == 3


GARBAGE = Reply(500, "<html><body>Internal error</body></html>", {}, "text/html")

ROWS = [
    # (what the token endpoint answers, class, words the reason must have)
    (
        aad_error(401, "invalid_client", 7000215, "Invalid client secret provided."),
        FailureClass.AUTH,
        "Value (not its Secret ID)",
    ),
    (
        aad_error(401, "invalid_client", 7000222, "The provided client secret keys are expired."),
        FailureClass.AUTH,
        "expired",
    ),
    (
        aad_error(400, "unauthorized_client", 700016, "Application was not found."),
        FailureClass.AUTH,
        "clientId",
    ),
    (
        aad_error(400, "invalid_grant", 65001, "The administrator has not consented."),
        FailureClass.AUTH,
        "admin consent",
    ),
    (
        aad_error(400, "invalid_resource", 500011, "The resource principal was not found."),
        FailureClass.AUTH,
        "admin consent",
    ),
    (
        aad_error(400, "invalid_request", 90002, "Tenant 'x' not found."),
        FailureClass.CONFIG,
        "tenantId",
    ),
    (
        aad_error(400, "invalid_request", 900023, "Specified tenant identifier is invalid."),
        FailureClass.CONFIG,
        "tenantId",
    ),
    (
        aad_error(400, "invalid_scope", 70011, "The provided scope is not valid."),
        FailureClass.CONFIG,
        "scope",
    ),
    (
        aad_error(401, "invalid_client", 7009999, "A code this table does not know."),
        FailureClass.AUTH,
        "invalid_client",
    ),
    (
        aad_error(503, "temporarily_unavailable", 90033, "A transient error has occurred."),
        FailureClass.UPSTREAM,
        "HTTP 503",
    ),
    (Reply(429, "", {"Retry-After": "17"}), FailureClass.THROTTLED, "17 s"),
    (GARBAGE, FailureClass.UPSTREAM, "HTTP 500"),
    (Reply.json(200, {"token_type": "Bearer"}), FailureClass.UPSTREAM, "without an access token"),
]


@pytest.mark.parametrize("row", ROWS, ids=lambda row: f"{row[0].status}-{row[1]}")
async def test_every_sign_in_failure_has_its_class_and_holds_no_secret(
    fake: ExchangeFake,
    outbound: Outbound,
    caplog: pytest.LogCaptureFixture,
    row: tuple[Reply, FailureClass, str],
) -> None:
    reply, failure, words = row
    fake.respond_token(reply)

    with pytest.raises(DeliveryError) as caught:
        await TokenClient(outbound).token(app(fake))

    assert caught.value.failure_class is failure
    assert caught.value.transient is failure.transient
    assert words in caught.value.reason
    if reply.status == 429:
        assert caught.value.retry_after == 17
    assert_no_secret([CLIENT_SECRET], caught.value, caplog)


async def test_an_error_body_echoing_the_secret_does_not_leak_it(
    fake: ExchangeFake, outbound: Outbound, caplog: pytest.LogCaptureFixture
) -> None:
    fake.respond_token(
        aad_error(400, "invalid_request", 900144, f"Bad request body: secret={CLIENT_SECRET}")
    )
    with pytest.raises(DeliveryError) as caught:
        await TokenClient(outbound).token(app(fake))
    assert caught.value.failure_class is FailureClass.CONFIG
    assert_no_secret([CLIENT_SECRET], caught.value, caplog)


async def test_failures_are_not_cached(fake: ExchangeFake, outbound: Outbound) -> None:
    tokens = TokenClient(outbound)
    fake.consented = False
    with pytest.raises(DeliveryError):
        await tokens.token(app(fake))
    fake.consented = True
    assert await tokens.token(app(fake)) in fake.tokens


async def test_the_sign_in_service_is_behind_the_ssrf_guard(fake: ExchangeFake) -> None:
    guarded = Outbound(OutboundPolicy([]))
    try:
        with pytest.raises(DeliveryError) as caught:
            await TokenClient(guarded).token(app(fake))
    finally:
        await guarded.close()
    assert caught.value.failure_class is FailureClass.CONFIG
    assert "refused" in caught.value.reason
    assert fake.requests == []


async def test_an_unreachable_sign_in_service_is_a_transient_network_failure(
    fake: ExchangeFake, outbound: Outbound
) -> None:
    gone = replace(app(fake), authority_host=fake.base_url)
    await fake.stop()
    with pytest.raises(DeliveryError) as caught:
        await TokenClient(outbound).token(gone)
    assert caught.value.failure_class is FailureClass.NETWORK
    assert caught.value.transient


class _Endpoint(BaseModel):
    url: CredentialUrl


@pytest.mark.parametrize(
    "url",
    [
        "https://login.microsoftonline.com",
        "https://login.microsoftonline.us/",
        "http://127.0.0.1:8080",
        "http://[::1]:8080",
        "http://localhost:9000",
    ],
)
def test_credentials_go_to_https_or_to_this_machine(url: str) -> None:
    assert _Endpoint(url=url).url == url.rstrip("/")


@pytest.mark.parametrize(
    "url",
    [
        "http://login.example.org",
        "https://user:pass@login.example.org",
        "ftp://login.example.org",
        "login.example.org",
    ],
)
def test_credentials_never_go_in_clear_or_in_the_url(url: str) -> None:
    with pytest.raises(ValidationError):
        _Endpoint(url=url)
