"""SmtpPools: connections reused across sends, bounded per pool, checked when idle,
discarded when broken, and a new pool for a new configuration."""

from __future__ import annotations

import asyncio
import ssl

import pytest

from nabat.channels.contract import DeliveryError
from nabat.channels.email import EmailConfig
from nabat.channels.email_sender import EmailSender
from nabat.channels.smtp_pool import SmtpPools
from nabat.clock import FrozenClock
from tests.fakes.smtp import FakeSmtpServer, alert, email_config

pytest_plugins = ("tests.fakes.smtp_fixtures",)


async def test_twenty_sequential_sends_use_one_connection(
    starttls_smtp: FakeSmtpServer, smtp_pools: SmtpPools
) -> None:
    sender = EmailSender(smtp_pools)
    config = email_config(starttls_smtp)
    for number in range(20):
        await sender.send(config, alert(f"dlv_{number}"))
    assert len(starttls_smtp.received) == 20
    assert starttls_smtp.connections_opened == 1
    # Logged in once, on that one connection.
    assert len(starttls_smtp.logins) == 1
    assert smtp_pools.stats(smtp_pools.key_for(config)).idle == 1


async def test_concurrent_sends_never_exceed_the_pool_size(
    plain_smtp: FakeSmtpServer, smtp_client_tls: ssl.SSLContext
) -> None:
    pools = SmtpPools(max_connections=3, tls_context=smtp_client_tls)
    sender = EmailSender(pools)
    config = email_config(plain_smtp)
    gate = asyncio.Event()
    plain_smtp.script.hold_data = gate
    try:
        sends = [asyncio.create_task(sender.send(config, alert(f"dlv_{n}"))) for n in range(10)]
        async with asyncio.timeout(5):
            await plain_smtp.wait_until(lambda: plain_smtp.in_data == 3)
        # Give the other seven every chance to open a fourth connection.
        for _ in range(20):
            await asyncio.sleep(0)
        assert plain_smtp.connections_opened == 3
        assert pools.stats(pools.key_for(config)).busy == 3
        gate.set()
        await asyncio.gather(*sends)
    finally:
        await pools.close()
    assert len(plain_smtp.received) == 10
    assert plain_smtp.max_open_connections == 3
    assert plain_smtp.max_in_data == 3
    assert plain_smtp.connections_opened == 3


async def test_changed_connection_settings_get_a_new_pool(
    implicit_tls_smtp: FakeSmtpServer, smtp_pools: SmtpPools
) -> None:
    sender = EmailSender(smtp_pools)
    before = email_config(implicit_tls_smtp)
    after = email_config(implicit_tls_smtp, timeout=7)
    assert smtp_pools.key_for(before) != smtp_pools.key_for(after)
    await sender.send(before, alert("dlv_1"))
    await sender.send(after, alert("dlv_2"))
    await sender.send(after, alert("dlv_3"))
    assert implicit_tls_smtp.connections_opened == 2
    assert smtp_pools.stats(smtp_pools.key_for(after)).idle == 1


async def test_sender_only_settings_keep_the_pool(
    plain_smtp: FakeSmtpServer, smtp_pools: SmtpPools
) -> None:
    sender = EmailSender(smtp_pools)
    await sender.send(email_config(plain_smtp), alert("dlv_1"))
    await sender.send(email_config(plain_smtp, fromName="Ops", to=["dev@example.org"]), alert())
    assert plain_smtp.connections_opened == 1


def test_pool_key_never_contains_the_password(smtp_pools: SmtpPools) -> None:
    settings = {"smtpHost": "smtp.example.org", "smtpPort": 587, "username": "u"}
    config = EmailConfig.model_validate(settings | {"password": "hunter2-long"})
    key = smtp_pools.key_for(config, scope="channel-7")
    assert key.startswith("channel-7:")
    assert "hunter2" not in key
    changed = EmailConfig.model_validate(settings | {"password": "other-long"})
    assert smtp_pools.key_for(changed, scope="channel-7") != key
    assert smtp_pools.key_for(config, scope="channel-7") == key


async def test_idle_connection_is_checked_with_noop_before_reuse(
    plain_smtp: FakeSmtpServer, smtp_client_tls: ssl.SSLContext
) -> None:
    pools = SmtpPools(tls_context=smtp_client_tls, check_idle_after_s=0)
    sender = EmailSender(pools)
    try:
        await sender.send(email_config(plain_smtp), alert("dlv_1"))
        await sender.send(email_config(plain_smtp), alert("dlv_2"))
    finally:
        await pools.close()
    assert plain_smtp.noops == 1
    assert plain_smtp.connections_opened == 1


async def test_connection_the_server_dropped_while_idle_is_replaced(
    starttls_smtp: FakeSmtpServer, smtp_client_tls: ssl.SSLContext
) -> None:
    pools = SmtpPools(tls_context=smtp_client_tls, check_idle_after_s=0)
    sender = EmailSender(pools)
    config = email_config(starttls_smtp)
    try:
        await sender.send(config, alert("dlv_1"))
        starttls_smtp.drop_all()
        await sender.send(config, alert("dlv_2"))
    finally:
        await pools.close()
    assert len(starttls_smtp.received) == 2
    assert starttls_smtp.connections_opened == 2


async def test_connection_idle_past_the_limit_is_closed_not_reused(
    plain_smtp: FakeSmtpServer,
) -> None:
    clock = FrozenClock()
    pools = SmtpPools(max_idle_s=60, clock=clock)
    sender = EmailSender(pools)
    config = email_config(plain_smtp)
    try:
        await sender.send(config, alert("dlv_1"))
        clock.advance(61)
        await sender.send(config, alert("dlv_2"))
    finally:
        await pools.close()
    assert plain_smtp.connections_opened == 2
    assert plain_smtp.noops == 0


async def test_connection_broken_mid_data_is_discarded(
    plain_smtp: FakeSmtpServer, smtp_pools: SmtpPools
) -> None:
    sender = EmailSender(smtp_pools)
    config = email_config(plain_smtp)
    plain_smtp.script.drop_in_data = True
    with pytest.raises(DeliveryError):
        await sender.send(config, alert("dlv_1"))
    assert smtp_pools.stats(smtp_pools.key_for(config)).open == 0
    plain_smtp.script.drop_in_data = False
    await sender.send(config, alert("dlv_1"))
    assert plain_smtp.connections_opened == 2
    assert len(plain_smtp.received) == 1


async def test_refused_recipient_leaves_the_connection_reusable(
    plain_smtp: FakeSmtpServer, smtp_pools: SmtpPools
) -> None:
    sender = EmailSender(smtp_pools)
    config = email_config(plain_smtp)
    plain_smtp.script.rcpt_replies["ops@example.org"] = "550 5.1.1 User unknown"
    with pytest.raises(DeliveryError):
        await sender.send(config, alert("dlv_1"))
    plain_smtp.script.rcpt_replies.clear()
    await sender.send(config, alert("dlv_2"))
    assert plain_smtp.connections_opened == 1
    [mail] = plain_smtp.received
    assert mail.rcpt_tos == ["ops@example.org"]


async def test_421_after_connect_is_not_reused(
    plain_smtp: FakeSmtpServer, smtp_pools: SmtpPools
) -> None:
    sender = EmailSender(smtp_pools)
    config = email_config(plain_smtp)
    plain_smtp.script.mail_reply = "421 4.7.0 Too many messages on this connection"
    with pytest.raises(DeliveryError):
        await sender.send(config, alert("dlv_1"))
    plain_smtp.script.mail_reply = None
    await sender.send(config, alert("dlv_2"))
    assert plain_smtp.connections_opened == 2


async def test_connection_is_renewed_after_max_messages(
    plain_smtp: FakeSmtpServer,
) -> None:
    pools = SmtpPools(max_messages=2)
    sender = EmailSender(pools)
    try:
        for number in range(5):
            await sender.send(email_config(plain_smtp), alert(f"dlv_{number}"))
    finally:
        await pools.close()
    assert plain_smtp.connections_opened == 3


async def test_close_quits_every_idle_connection_and_refuses_further_use(
    plain_smtp: FakeSmtpServer,
) -> None:
    pools = SmtpPools()
    sender = EmailSender(pools)
    config = email_config(plain_smtp)
    await sender.send(config, alert("dlv_1"))
    await sender.send(email_config(plain_smtp, timeout=9), alert("dlv_2"))
    assert plain_smtp.open_connections == 2
    await pools.close()
    async with asyncio.timeout(5):
        await plain_smtp.wait_until(lambda: plain_smtp.open_connections == 0)
    with pytest.raises(RuntimeError, match="closed"):
        await sender.send(config, alert("dlv_3"))
