"""Login attempt limits: per account (whichever of its names is typed) and per client
address (``X-Forwarded-For`` believed only from ``NABAT_TRUSTED_PROXIES``)."""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import ValidationError

from nabat.app import create_app
from nabat.clock import FrozenClock
from nabat.settings import Settings
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD

LOGIN = "/api/auth/login"
WRONG = "guess-guess"


@dataclass
class Limited:
    """The application on a frozen clock, and clients connecting from chosen addresses."""

    app: FastAPI
    clock: FrozenClock

    def peer(self, address: str) -> AbstractAsyncContextManager[httpx.AsyncClient]:
        """A client whose connection comes from ``address``."""
        return _client(self.app, address)


@asynccontextmanager
async def _client(app: FastAPI, address: str) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False, client=(address, 1234))
    async with httpx.AsyncClient(transport=transport, base_url="http://nabat.test") as http:
        yield http


LimitedFactory = Callable[..., AbstractAsyncContextManager[Limited]]


@pytest.fixture
def limited(settings: Settings) -> LimitedFactory:
    """Start the application with settings changed as given, on a frozen clock."""

    @asynccontextmanager
    async def start(**changes: Any) -> AsyncIterator[Limited]:
        clock = FrozenClock(datetime.now(UTC))
        application = create_app(settings.model_copy(update=changes), clock=clock)
        async with application.router.lifespan_context(application):
            yield Limited(application, clock)

    return start


async def attempt(
    http: httpx.AsyncClient, password: str = WRONG, forwarded: str | None = None, **login: str
) -> httpx.Response:
    """One login with ``username=`` or ``email=``, optionally through a proxy's header."""
    headers = {"X-Forwarded-For": forwarded} if forwarded is not None else {}
    return await http.post(LOGIN, json={**login, "password": password}, headers=headers)


def networks(*written: str) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """Trusted proxies as settings hold them (``model_copy`` does not parse)."""
    return [ipaddress.ip_network(net) for net in written]


def blocked(response: httpx.Response) -> None:
    """The answer is the limit's: 429 with a Retry-After within the minute."""
    assert response.status_code == 429, response.text
    assert response.json()["code"] == "TOO_MANY_REQUESTS"
    assert 1 <= int(response.headers["Retry-After"]) <= 60


async def test_the_account_limit_counts_every_name_of_the_account_in_any_case(
    limited: LimitedFactory,
) -> None:
    names = [
        {"username": "admin"},
        {"username": "ADMIN"},
        {"username": f"  {ADMIN_EMAIL}  "},
        {"username": ADMIN_EMAIL.upper()},
        {"email": ADMIN_EMAIL},
    ]
    async with limited() as app:
        # Each from its own address, so that only the account's limit can stop them.
        for n, name in enumerate(names):
            async with app.peer(f"198.51.100.{n}") as http:
                assert (await attempt(http, **name)).status_code == 401
        async with app.peer("198.51.100.200") as http:
            blocked(await attempt(http, ADMIN_PASSWORD, username="admin"))
            blocked(await attempt(http, ADMIN_PASSWORD, email=ADMIN_EMAIL.title()))
            app.clock.advance(61)
            assert (await attempt(http, ADMIN_PASSWORD, username=ADMIN_EMAIL)).status_code == 200


async def test_logins_naming_no_account_are_limited_alike_and_answered_alike(
    limited: LimitedFactory,
) -> None:
    async with limited() as app:
        for n, name in enumerate(["ghost", "GHOST", " Ghost ", "ghost", "gHoSt"]):
            async with app.peer(f"198.51.100.{n}") as http:
                assert (await attempt(http, username=name)).status_code == 401
        for n in range(5):
            async with app.peer(f"198.51.100.{n + 10}") as http:
                assert (await attempt(http, username="admin")).status_code == 401
        async with app.peer("198.51.100.200") as http:
            ghost = await attempt(http, username="ghost")
            admin = await attempt(http, username="admin")
            blocked(ghost)
            blocked(admin)
            assert ghost.json()["error"] == admin.json()["error"]
            assert ghost.headers["Retry-After"] == admin.headers["Retry-After"]
            # Another name is a fresh count.
            assert (await attempt(http, username="phantom")).status_code == 401


async def test_a_burst_of_concurrent_guesses_gets_no_more_than_the_limit_through(
    limited: LimitedFactory,
) -> None:
    async with limited() as app, AsyncExitStack() as stack:
        https = [await stack.enter_async_context(app.peer(f"198.51.100.{n}")) for n in range(12)]
        answers = await asyncio.gather(*(attempt(http, username="admin") for http in https))
    assert sorted(answer.status_code for answer in answers) == [401] * 5 + [429] * 7


async def test_a_successful_login_does_not_count_against_the_limit(
    limited: LimitedFactory,
) -> None:
    async with limited() as app, app.peer("198.51.100.1") as http:
        for _ in range(4):
            assert (await attempt(http, username="admin")).status_code == 401
        for _ in range(3):
            assert (await attempt(http, ADMIN_PASSWORD, username="admin")).status_code == 200
        assert (await attempt(http, username="admin")).status_code == 401
        blocked(await attempt(http, ADMIN_PASSWORD, username="admin"))


async def test_one_address_guessing_many_usernames_is_limited_too(
    limited: LimitedFactory,
) -> None:
    async with limited() as app:
        async with app.peer("198.51.100.1") as http:
            for n in range(5):
                assert (await attempt(http, username=f"user{n}")).status_code == 401
            blocked(await attempt(http, username="someone-else"))
        async with app.peer("198.51.100.2") as elsewhere:
            assert (await attempt(elsewhere, username="someone-else")).status_code == 401


@pytest.mark.parametrize("peer", ["127.0.0.1", "10.0.0.5"])
async def test_forwarded_for_is_ignored_without_trusted_proxies(
    limited: LimitedFactory, peer: str
) -> None:
    async with limited() as app, app.peer(peer) as http:
        for n in range(5):
            response = await attempt(http, forwarded=f"203.0.113.{n}", username=f"user{n}")
            assert response.status_code == 401
        blocked(await attempt(http, forwarded="203.0.113.99", username="someone-else"))


async def test_forwarded_for_from_a_trusted_proxy_names_the_client(
    limited: LimitedFactory,
) -> None:
    async with limited(trusted_proxies=networks("10.0.0.0/24", "10.1.0.7")) as app:
        async with app.peer("10.0.0.5") as proxy:
            for n in range(5):
                # What the client wrote itself (left of the proxies' entries) is not believed.
                forwarded = f"192.0.2.{n}, 203.0.113.1, 10.1.0.7"
                response = await attempt(proxy, forwarded=forwarded, username=f"user{n}")
                assert response.status_code == 401
            blocked(await attempt(proxy, forwarded="203.0.113.1", username="other"))
            # Another client behind the same proxy has its own count.
            response = await attempt(proxy, forwarded="203.0.113.2", username="other")
            assert response.status_code == 401
        # A peer that is no trusted proxy is the client, whatever it forwards.
        async with app.peer("192.0.2.50") as direct:
            for n in range(5):
                response = await attempt(direct, forwarded=f"203.0.113.{50 + n}", username="x")
                assert response.status_code == 401
            blocked(await attempt(direct, forwarded="203.0.113.99", username="y"))


async def test_an_ipv6_client_is_counted_by_its_slash_64(limited: LimitedFactory) -> None:
    async with limited(trusted_proxies=networks("10.0.0.5")) as app, app.peer("10.0.0.5") as proxy:
        for n in range(5):
            response = await attempt(proxy, forwarded=f"2001:db8::{n + 1}", username=f"u{n}")
            assert response.status_code == 401
        blocked(await attempt(proxy, forwarded="2001:db8::ffff:1", username="v"))
        response = await attempt(proxy, forwarded="2001:db8:0:1::1", username="v")
        assert response.status_code == 401


def test_trusted_proxies_are_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NABAT_TRUSTED_PROXIES", " 10.0.0.5, 10.1.0.0/16,fd00::/8, ")
    assert [str(net) for net in Settings(_env_file=None).trusted_proxies] == [
        "10.0.0.5/32",
        "10.1.0.0/16",
        "fd00::/8",
    ]
    monkeypatch.delenv("NABAT_TRUSTED_PROXIES")
    assert Settings(_env_file=None).trusted_proxies == []


@pytest.mark.parametrize("bad", ["proxy.internal", "10.0.0.0/33", "10.0.0.5,10.0.0.300"])
def test_a_bad_trusted_proxy_is_refused_at_start_naming_the_setting(
    monkeypatch: pytest.MonkeyPatch, bad: str
) -> None:
    monkeypatch.setenv("NABAT_TRUSTED_PROXIES", bad)
    with pytest.raises(ValidationError) as caught:
        Settings(_env_file=None)
    message = str(caught.value)
    assert "NABAT_TRUSTED_PROXIES entry" in message
    assert "is not an IP address or CIDR network" in message
