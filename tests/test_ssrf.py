"""The SSRF guard: refusals happen before any connection, for every disguise of an address."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import pytest

from nabat.channels.contract import DeliveryError, FailureClass
from nabat.channels.outbound import Outbound
from nabat.security.ssrf import BlockedDestination, GuardedResolver, OutboundPolicy
from tests.fakes.webhook import WebhookReceiver, running_receiver

BLOCKED = [
    "127.0.0.1",
    "127.8.9.10",
    "0.0.0.0",
    "10.1.2.3",
    "100.64.0.1",
    "169.254.169.254",
    "172.16.0.1",
    "192.0.2.1",
    "192.168.1.1",
    "198.18.0.1",
    "224.0.0.1",
    "240.0.0.1",
    "255.255.255.255",
    "::",
    "::1",
    "::ffff:127.0.0.1",
    "::ffff:169.254.169.254",
    "64:ff9b::a9fe:a9fe",
    "64:ff9b::7f00:1",
    "2002:7f00:1::",
    "2001::1",
    "2001:db8::1",
    "fc00::1",
    "fd00:ec2::254",
    "fe80::1",
    "fec0::1",
    "ff02::1",
]
PUBLIC = ["8.8.8.8", "1.1.1.1", "93.184.216.34", "2606:4700:4700::1111", "2a00:1450:4001::1"]


@pytest.mark.parametrize("address", BLOCKED)
def test_private_local_and_reserved_addresses_are_refused(address: str) -> None:
    reason = OutboundPolicy().refusal(address)
    assert reason is not None
    assert "NABAT_OUTBOUND_ALLOW" in reason


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_pass(address: str) -> None:
    assert OutboundPolicy().refusal(address) is None


def test_mapped_and_nat64_forms_are_judged_by_the_address_inside() -> None:
    # Allowing 10.0.0.0/8 allows it however it is written; the loopback stays refused.
    policy = OutboundPolicy(["10.0.0.0/8"])
    assert policy.refusal("10.1.2.3") is None
    assert policy.refusal("::ffff:10.1.2.3") is None
    assert policy.refusal("64:ff9b::a01:203") is None
    assert policy.refusal("::ffff:127.0.0.1") is not None


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/",
        "http://2130706433/",
        "http://0177.0.0.1/",
        "http://0x7f000001/",
        "http://127.1/",
        "http://[::1]:8080/",
        "http://[::ffff:127.0.0.1]/",
        "http://[64:ff9b::a9fe:a9fe]/latest/meta-data",
        "http://169.254.169.254/latest/meta-data",
        "file:///etc/passwd",
        "gopher://example.com/",
        "ftp://example.com/",
        "dict://example.com:11211/",
    ],
)
def test_literal_and_odd_urls_are_refused_without_a_lookup(url: str) -> None:
    with pytest.raises(BlockedDestination):
        OutboundPolicy().check_url(url)


async def _post(policy: OutboundPolicy, url: str) -> int:
    outbound = Outbound(policy)
    try:
        answer = await outbound.request("POST", url, what="webhook endpoint", timeout_s=5, json={})
    finally:
        await outbound.close()
    return answer.status


async def test_a_name_resolving_to_loopback_is_refused_before_connecting(
    receiver: WebhookReceiver,
) -> None:
    port = receiver.url.rsplit(":", 1)[1]
    with pytest.raises(DeliveryError) as caught:
        await _post(OutboundPolicy(), f"http://localhost:{port}/hook")
    assert caught.value.failure_class is FailureClass.CONFIG
    assert "localhost" in caught.value.reason
    assert "NABAT_OUTBOUND_ALLOW" in caught.value.reason
    assert receiver.received == []


async def test_outbound_allow_opens_the_chosen_network(receiver: WebhookReceiver) -> None:
    port = receiver.url.rsplit(":", 1)[1]
    assert (
        await _post(OutboundPolicy(["127.0.0.0/8", "::1/128"]), f"http://localhost:{port}/") == 200
    )
    assert len(receiver.received) == 1


class StubResolver:
    """Stands in for the system resolver: scripted answers, counted calls."""

    def __init__(self, answers: list[list[str]]) -> None:
        self.answers = answers
        self.calls = 0

    async def getaddrinfo(self, host: str, port: int, **_: Any) -> list[Any]:
        answer = self.answers[min(self.calls, len(self.answers) - 1)]
        self.calls += 1
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port)) for address in answer]


async def test_one_private_record_among_public_ones_refuses_the_host(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stub = StubResolver([["93.184.216.34", "10.0.0.7"]])
    monkeypatch.setattr(asyncio.get_running_loop(), "getaddrinfo", stub.getaddrinfo)
    with pytest.raises(BlockedDestination, match=r"10\.0\.0\.7"):
        await GuardedResolver(OutboundPolicy()).resolve("mixed.example", 443)


async def test_dns_rebinding_cannot_reach_the_checked_away_address(
    receiver: WebhookReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 127.0.0.2 stands in for "a public address" (allowed here, and nothing listens
    # there); the second answer points at the receiver on 127.0.0.1. A guard that looked
    # the name up once to check and again to connect would reach the receiver.
    port = int(receiver.url.rsplit(":", 1)[1])
    stub = StubResolver([["127.0.0.2"], ["127.0.0.1"]])
    monkeypatch.setattr(asyncio.get_running_loop(), "getaddrinfo", stub.getaddrinfo)
    with pytest.raises(DeliveryError) as caught:
        await _post(OutboundPolicy(["127.0.0.2/32"]), f"http://rebind.example:{port}/")
    assert caught.value.failure_class is FailureClass.NETWORK
    assert stub.calls == 1
    assert receiver.received == []


async def test_proxy_variables_in_the_environment_are_ignored(
    receiver: WebhookReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    async for proxy in running_receiver():
        for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
            monkeypatch.setenv(name, proxy.url)
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        status = await _post(OutboundPolicy(["127.0.0.0/8"]), receiver.url + "/direct")
        assert status == 200
        assert proxy.received == []
        assert [r.path for r in receiver.received] == ["/direct"]
