"""EmailSender against fake SMTP servers: each TLS mode, login, refusals and how every
failure is classified (CONTRACTS.md section 5)."""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
from collections.abc import AsyncIterator

import pytest

from nabat.channels.contract import DeliveryError, FailureClass
from nabat.channels.email_sender import EmailSender
from nabat.channels.smtp_pool import SmtpPools
from tests.fakes.smtp import (
    SMTP_PASSWORD,
    SMTP_USER,
    FakeSmtpServer,
    TlsMode,
    alert,
    email_config,
)
from tests.fakes.support import assert_no_secret

pytest_plugins = ("tests.fakes.smtp_fixtures",)


@pytest.fixture
def sender(smtp_pools: SmtpPools) -> EmailSender:
    return EmailSender(smtp_pools)


@pytest.fixture(autouse=True)
def _capture_all_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)


async def failure(sender: EmailSender, fake: FakeSmtpServer, **overrides: object) -> DeliveryError:
    recipient = overrides.pop("recipient", None)
    assert recipient is None or isinstance(recipient, str)
    with pytest.raises(DeliveryError) as caught:
        await sender.send(email_config(fake, **overrides), alert(recipient=recipient))
    return caught.value


async def test_plain_relay_gets_the_message_without_tls_or_login(
    plain_smtp: FakeSmtpServer, sender: EmailSender
) -> None:
    receipt = await sender.send(email_config(plain_smtp), alert())
    [mail] = plain_smtp.received
    assert (mail.mail_from, mail.rcpt_tos) == ("nabat@example.org", ["ops@example.org"])
    assert not mail.tls
    assert not mail.authenticated
    assert plain_smtp.auth_attempts == []
    assert receipt.status == 250
    assert receipt.provider_id == "<dlv_0123456789abcdef@example.org>"
    assert receipt.provider_id == mail.message()["Message-ID"]
    assert receipt.refused == {}


async def test_starttls_upgrades_before_logging_in(
    starttls_smtp: FakeSmtpServer, sender: EmailSender
) -> None:
    await sender.send(email_config(starttls_smtp), alert())
    [mail] = starttls_smtp.received
    assert mail.tls
    assert mail.login == SMTP_USER
    assert starttls_smtp.auth_attempts
    assert all(attempt.tls for attempt in starttls_smtp.auth_attempts)


async def test_implicit_tls_logs_in_over_tls(
    implicit_tls_smtp: FakeSmtpServer, sender: EmailSender
) -> None:
    await sender.send(email_config(implicit_tls_smtp), alert())
    [mail] = implicit_tls_smtp.received
    assert mail.tls
    assert mail.login == SMTP_USER


async def test_encryption_none_logs_in_without_tls_when_asked(
    stripped_smtp: FakeSmtpServer, sender: EmailSender
) -> None:
    await sender.send(email_config(stripped_smtp, encryption="none"), alert())
    [mail] = stripped_smtp.received
    assert not mail.tls
    assert mail.login == SMTP_USER


async def test_wrong_password_is_an_auth_failure_that_never_shows_the_password(
    starttls_smtp: FakeSmtpServer, sender: EmailSender, caplog: pytest.LogCaptureFixture
) -> None:
    wrong = "wrong-app-password-1234"
    error = await failure(sender, starttls_smtp, password=wrong)
    assert error.failure_class is FailureClass.AUTH
    assert not error.transient
    assert error.status == 535
    assert "authentication failed" in error.reason
    assert f"rejected the login for user '{SMTP_USER}'" in error.reason
    assert "535" in error.reason
    assert "app password" in error.reason
    assert_no_secret([wrong, SMTP_PASSWORD], error, caplog)
    assert starttls_smtp.received == []


async def test_server_without_starttls_fails_before_any_credentials_are_sent(
    stripped_smtp: FakeSmtpServer, sender: EmailSender, caplog: pytest.LogCaptureFixture
) -> None:
    error = await failure(sender, stripped_smtp, encryption="starttls")
    assert error.failure_class is FailureClass.CONFIG
    assert "does not offer STARTTLS" in error.reason
    assert stripped_smtp.auth_attempts == []
    assert stripped_smtp.logins == []
    assert stripped_smtp.received == []
    assert_no_secret([SMTP_PASSWORD], error, caplog)


async def test_starttls_is_required_by_default_when_nothing_is_said(
    stripped_smtp: FakeSmtpServer, sender: EmailSender
) -> None:
    error = await failure(sender, stripped_smtp, encryption=None)
    assert error.failure_class is FailureClass.CONFIG
    assert stripped_smtp.auth_attempts == []


@pytest.mark.parametrize("tls", ["starttls", "implicit"])
async def test_certificate_the_client_does_not_trust_is_a_config_failure(
    tls: TlsMode, smtp_server_tls: ssl.SSLContext
) -> None:
    pools = SmtpPools()  # the system store: it does not know the fakes' CA
    users = {SMTP_USER: SMTP_PASSWORD}
    async with FakeSmtpServer(tls=tls, tls_context=smtp_server_tls, users=users) as fake:
        try:
            error = await failure(EmailSender(pools), fake)
        finally:
            await pools.close()
    assert error.failure_class is FailureClass.CONFIG
    assert "certificate" in error.reason
    assert "could not be verified" in error.reason
    assert fake.auth_attempts == []
    assert fake.received == []


async def test_implicit_tls_against_a_plain_server_is_a_config_failure(
    plain_smtp: FakeSmtpServer, sender: EmailSender
) -> None:
    error = await failure(sender, plain_smtp, encryption="ssl")
    assert error.failure_class is FailureClass.CONFIG
    assert "TLS handshake" in error.reason
    assert "encryption" in error.reason


async def test_login_on_a_server_that_offers_no_auth_is_a_config_failure(
    plain_smtp: FakeSmtpServer, sender: EmailSender
) -> None:
    error = await failure(sender, plain_smtp, auth=True, username="u", password="password-1")
    assert error.failure_class is FailureClass.CONFIG
    assert "offers no login mechanism" in error.reason
    assert "'starttls' or 'ssl'" in error.reason


async def test_451_on_rcpt_is_transient(plain_smtp: FakeSmtpServer, sender: EmailSender) -> None:
    plain_smtp.script.rcpt_replies["ops@example.org"] = "451 4.7.1 Greylisted, try later"
    error = await failure(sender, plain_smtp)
    assert error.failure_class is FailureClass.UPSTREAM
    assert error.transient
    assert error.status == 451
    assert "ops@example.org: 451 4.7.1 Greylisted, try later (temporary)" in error.reason


async def test_550_on_rcpt_is_permanent(plain_smtp: FakeSmtpServer, sender: EmailSender) -> None:
    plain_smtp.script.rcpt_replies["ops@example.org"] = "550 5.1.1 User unknown"
    error = await failure(sender, plain_smtp)
    assert error.failure_class is FailureClass.REJECTED
    assert not error.transient
    assert error.status == 550
    assert "ops@example.org: 550 5.1.1 User unknown (permanent)" in error.reason


async def test_421_on_connect_is_transient(plain_smtp: FakeSmtpServer, sender: EmailSender) -> None:
    plain_smtp.script.connect_reply = "421 4.3.2 Service not available, closing channel"
    error = await failure(sender, plain_smtp)
    assert error.failure_class is FailureClass.UPSTREAM
    assert error.transient
    assert error.status == 421
    assert "421 4.3.2 Service not available" in error.reason


async def test_two_of_three_recipients_accepted_names_the_third_as_refused(
    plain_smtp: FakeSmtpServer, sender: EmailSender
) -> None:
    plain_smtp.script.rcpt_replies["nobody@example.org"] = "550 5.1.1 User unknown"
    to = ["ops@example.org", "nobody@example.org", "dev@example.org"]
    receipt = await sender.send(email_config(plain_smtp, to=to), alert())
    assert receipt.refused == {"nobody@example.org": "550 5.1.1 User unknown (permanent)"}
    assert "2 of 3" in receipt.detail
    [mail] = plain_smtp.received
    assert mail.rcpt_tos == ["ops@example.org", "dev@example.org"]
    # The To header still shows whom the alert was addressed to.
    assert len(mail.message()["To"].addresses) == 3


async def test_all_recipients_refused_permanently_is_rejected_with_each_reason(
    plain_smtp: FakeSmtpServer, sender: EmailSender
) -> None:
    plain_smtp.script.rcpt_replies |= {
        "ops@example.org": "550 5.1.1 User unknown",
        "dev@example.org": "553 5.1.3 Bad destination mailbox",
    }
    error = await failure(sender, plain_smtp, to=["ops@example.org", "dev@example.org"])
    assert error.failure_class is FailureClass.REJECTED
    assert "ops@example.org: 550 5.1.1 User unknown" in error.reason
    assert "dev@example.org: 553 5.1.3 Bad destination mailbox" in error.reason
    assert plain_smtp.received == []


async def test_all_recipients_refused_with_one_temporary_refusal_is_transient(
    plain_smtp: FakeSmtpServer, sender: EmailSender
) -> None:
    plain_smtp.script.rcpt_replies |= {
        "ops@example.org": "550 5.1.1 User unknown",
        "dev@example.org": "452 4.2.2 Mailbox full",
    }
    error = await failure(sender, plain_smtp, to=["ops@example.org", "dev@example.org"])
    assert error.failure_class is FailureClass.UPSTREAM
    assert error.status == 452


async def test_relay_refusal_suggests_turning_on_authentication(
    plain_smtp: FakeSmtpServer, sender: EmailSender
) -> None:
    plain_smtp.script.rcpt_replies["ops@example.org"] = "554 5.7.1 Relay access denied"
    error = await failure(sender, plain_smtp)
    assert error.failure_class is FailureClass.REJECTED
    assert "turn on SMTP authentication" in error.reason


async def test_connection_dropped_mid_data_is_a_transient_451(
    plain_smtp: FakeSmtpServer, sender: EmailSender
) -> None:
    plain_smtp.script.drop_in_data = True
    error = await failure(sender, plain_smtp)
    assert plain_smtp.dropped == 1
    assert error.failure_class is FailureClass.UPSTREAM
    assert error.transient
    assert error.status == 451
    assert "during DATA" in error.reason
    assert "<dlv_0123456789abcdef@example.org>" in error.reason


async def test_data_refused_with_554_is_permanent(
    plain_smtp: FakeSmtpServer, sender: EmailSender
) -> None:
    plain_smtp.script.data_reply = "554 5.7.1 Message rejected as spam"
    error = await failure(sender, plain_smtp)
    assert error.failure_class is FailureClass.REJECTED
    assert error.status == 554
    assert "refused the message: 554 5.7.1 Message rejected as spam" in error.reason


async def test_data_deferred_with_451_is_transient(
    plain_smtp: FakeSmtpServer, sender: EmailSender
) -> None:
    plain_smtp.script.data_reply = "451 4.3.0 Local error in processing"
    error = await failure(sender, plain_smtp)
    assert error.failure_class is FailureClass.UPSTREAM
    assert error.status == 451


async def test_refused_sender_address_names_from_email(
    plain_smtp: FakeSmtpServer, sender: EmailSender
) -> None:
    plain_smtp.script.mail_reply = "553 5.7.1 Sender address rejected: not owned by user"
    error = await failure(sender, plain_smtp)
    assert error.failure_class is FailureClass.CONFIG
    assert "nabat@example.org" in error.reason
    assert "fromEmail" in error.reason


async def test_530_at_mail_from_asks_for_authentication(
    plain_smtp: FakeSmtpServer, sender: EmailSender
) -> None:
    plain_smtp.script.mail_reply = "530 5.7.0 Authentication required"
    error = await failure(sender, plain_smtp)
    assert error.failure_class is FailureClass.AUTH
    assert error.status == 530
    assert "turn on auth" in error.reason


async def test_message_recipient_replaces_the_channel_list(
    plain_smtp: FakeSmtpServer, sender: EmailSender
) -> None:
    config = email_config(plain_smtp, to=["ops@example.org", "dev@example.org"])
    await sender.send(config, alert(recipient="oncall@example.org"))
    [mail] = plain_smtp.received
    assert mail.rcpt_tos == ["oncall@example.org"]
    assert [a.addr_spec for a in mail.message()["To"].addresses] == ["oncall@example.org"]


async def test_a_recipient_listed_twice_gets_one_copy(
    plain_smtp: FakeSmtpServer, sender: EmailSender
) -> None:
    config = email_config(plain_smtp, to="ops@example.org, dev@example.org; ops@example.org")
    await sender.send(config, alert())
    [mail] = plain_smtp.received
    assert mail.rcpt_tos == ["ops@example.org", "dev@example.org"]


async def test_reply_to_and_sender_name_come_from_the_channel(
    plain_smtp: FakeSmtpServer, sender: EmailSender
) -> None:
    config = email_config(plain_smtp, fromName="Мониторинг", replyTo="support@example.org")
    await sender.send(config, alert())
    message = plain_smtp.received[0].message()
    assert message["From"].addresses[0].display_name == "Мониторинг"
    assert message["Reply-To"].addresses[0].addr_spec == "support@example.org"


async def test_no_recipient_anywhere_is_a_config_failure(
    plain_smtp: FakeSmtpServer, sender: EmailSender
) -> None:
    error = await failure(sender, plain_smtp, to=[])
    assert error.failure_class is FailureClass.CONFIG
    assert "no recipient" in error.reason
    assert "'to'" in error.reason
    assert plain_smtp.connections_opened == 0


async def test_missing_from_email_names_the_setting(
    plain_smtp: FakeSmtpServer, sender: EmailSender
) -> None:
    error = await failure(sender, plain_smtp, fromEmail=None)
    assert error.failure_class is FailureClass.CONFIG
    assert "set fromEmail on the channel or the project's mail settings" in error.reason
    assert plain_smtp.connections_opened == 0


async def test_invalid_message_recipient_is_rejected(
    plain_smtp: FakeSmtpServer, sender: EmailSender
) -> None:
    error = await failure(sender, plain_smtp, recipient="ops@example.org\r\nBcc: x@y.org")
    assert error.failure_class is FailureClass.REJECTED
    assert plain_smtp.connections_opened == 0


async def test_closed_port_is_a_transient_network_failure(
    plain_smtp: FakeSmtpServer, sender: EmailSender
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    error = await failure(sender, plain_smtp, smtpPort=closed_port)
    assert error.failure_class is FailureClass.NETWORK
    assert error.transient
    assert f"127.0.0.1:{closed_port}" in error.reason


@pytest.fixture
async def silent_port() -> AsyncIterator[int]:
    """A server that accepts connections and never says a word."""

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()
        writer.close()

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()


async def test_server_that_never_greets_is_a_timeout(
    plain_smtp: FakeSmtpServer, sender: EmailSender, silent_port: int
) -> None:
    error = await failure(sender, plain_smtp, smtpPort=silent_port, timeout=0.2)
    assert error.failure_class is FailureClass.TIMEOUT
    assert error.transient
    assert "did not answer within 0.2 s" in error.reason


async def test_the_check_logs_in_over_starttls_and_sends_no_mail(
    starttls_smtp: FakeSmtpServer, sender: EmailSender
) -> None:
    receipt = await sender.check(email_config(starttls_smtp))
    assert receipt.status == 250
    assert "took the login" in receipt.detail
    assert starttls_smtp.auth_attempts
    assert all(attempt.tls for attempt in starttls_smtp.auth_attempts)
    assert starttls_smtp.received == []


async def test_a_check_with_a_wrong_password_is_an_auth_failure_without_the_password(
    starttls_smtp: FakeSmtpServer, sender: EmailSender, caplog: pytest.LogCaptureFixture
) -> None:
    wrong = "wrong-app-password-5678"
    with pytest.raises(DeliveryError) as caught:
        await sender.check(email_config(starttls_smtp, password=wrong))
    assert caught.value.failure_class is FailureClass.AUTH
    assert caught.value.status == 535
    assert_no_secret([wrong, SMTP_PASSWORD], caught.value, caplog)
    assert starttls_smtp.received == []
