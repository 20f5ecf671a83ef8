"""Helpers shared by the sender tests: a loopback-allowed outbound client and the
secret-leak assertion."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager

import pytest

from nabat.channels.contract import DeliveryError
from nabat.channels.outbound import Outbound
from nabat.security.ssrf import OutboundPolicy

LOOPBACK = OutboundPolicy(allow=["127.0.0.0/8", "::1/128"])
"""The fakes listen on 127.0.0.1, which the SSRF guard blocks unless allowed."""


@asynccontextmanager
async def loopback_outbound() -> AsyncIterator[Outbound]:
    """An outbound client that may reach the local fakes; closed afterwards."""
    outbound = Outbound(LOOPBACK)
    try:
        yield outbound
    finally:
        await outbound.close()


def assert_no_secret(
    secrets: Iterable[str],
    error: DeliveryError,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Neither the failure's reason nor any captured log line holds any of ``secrets``."""
    texts = [error.reason, str(error), caplog.text]
    texts += [record.getMessage() for record in caplog.records]
    for secret in secrets:
        for text in texts:
            assert secret not in text, f"secret {secret[:4]}… leaked in {text!r}"
