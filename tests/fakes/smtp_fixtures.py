"""Pytest fixtures for the SMTP fakes.

A test module opts in with ``pytest_plugins = ("tests.fakes.smtp_fixtures",)`` and must
not import this module itself (pytest could then not rewrite its asserts); helpers live
in :mod:`tests.fakes.smtp`."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator

import pytest
import trustme

from nabat.channels.smtp_pool import SmtpPools
from tests.fakes.smtp import (
    SMTP_PASSWORD,
    SMTP_USER,
    FakeSmtpServer,
    client_tls_context,
    server_tls_context,
)

USERS = {SMTP_USER: SMTP_PASSWORD}


@pytest.fixture(scope="session")
def smtp_ca() -> trustme.CA:
    """The certificate authority behind every fake's certificate."""
    return trustme.CA()


@pytest.fixture(scope="session")
def smtp_server_tls(smtp_ca: trustme.CA) -> ssl.SSLContext:
    """The fakes' server context (a certificate for 127.0.0.1 from :func:`smtp_ca`)."""
    return server_tls_context(smtp_ca)


@pytest.fixture(scope="session")
def smtp_client_tls(smtp_ca: trustme.CA) -> ssl.SSLContext:
    """A verifying client context that trusts :func:`smtp_ca`, as a production client
    trusts the system store."""
    return client_tls_context(smtp_ca)


@pytest.fixture
async def smtp_pools(smtp_client_tls: ssl.SSLContext) -> AsyncIterator[SmtpPools]:
    """Pools that trust the fakes' CA; closed after the test."""
    pools = SmtpPools(tls_context=smtp_client_tls)
    try:
        yield pools
    finally:
        await pools.close()


@pytest.fixture
async def plain_smtp() -> AsyncIterator[FakeSmtpServer]:
    """No TLS at all, no AUTH: a relay on a trusted network."""
    async with FakeSmtpServer() as server:
        yield server


@pytest.fixture
async def starttls_smtp(smtp_server_tls: ssl.SSLContext) -> AsyncIterator[FakeSmtpServer]:
    """Port-587 style: offers STARTTLS, requires it, offers AUTH only after it."""
    async with FakeSmtpServer(tls="starttls", tls_context=smtp_server_tls, users=USERS) as server:
        yield server


@pytest.fixture
async def stripped_smtp() -> AsyncIterator[FakeSmtpServer]:
    """A server (or a man in the middle) that does not offer STARTTLS but happily takes
    AUTH in plain text."""
    async with FakeSmtpServer(users=USERS, auth_over_plain=True) as server:
        yield server


@pytest.fixture
async def implicit_tls_smtp(smtp_server_tls: ssl.SSLContext) -> AsyncIterator[FakeSmtpServer]:
    """Port-465 style: TLS from the first byte, AUTH offered."""
    async with FakeSmtpServer(tls="implicit", tls_context=smtp_server_tls, users=USERS) as server:
        yield server
