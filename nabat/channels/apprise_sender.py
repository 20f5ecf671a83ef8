"""APPRISE delivery: each URL notified once by apprise, in a worker thread.

apprise is synchronous (``requests``), so every notification runs in a small pool of
threads of this sender's own, never on the event loop, and is waited for at most the
channel's timeout. A notification still queued for a thread when its time is up is
cancelled and never runs; one already running cannot be stopped and may still arrive,
which the reason says.

apprise connects by itself, past Nabat's outbound client, so the SSRF policy is applied
here first: the hosts a URL chose are resolved and every address checked before apprise
gets the URL (the limit of checking before rather than at connect time is in
docs/decisions.md).
"""

from __future__ import annotations

import asyncio
import logging
import socket
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from nabat.channels.apprise_errors import diagnose
from nabat.channels.apprise_urls import (
    UnusableUrl,
    destinations,
    load,
    prepared,
    scrubbed_logs,
    url_secrets,
)
from nabat.channels.contract import DeliveryError, FailureClass, OutgoingMessage, Receipt
from nabat.channels.outbound import Outbound
from nabat.channels.redact import scrubbed
from nabat.security.ssrf import OutboundPolicy

if TYPE_CHECKING:
    from nabat.channels.apprise import AppriseConfig

WORKERS = 8
"""Threads notifying at once, across every APPRISE channel of the process."""
DEFAULT_TEXT = "Notification from Nabat"
"""apprise refuses an empty body."""

# apprise's notification types by Nabat's severity; anything else is informational.
NOTIFY_TYPES = {"CRITICAL": "failure", "ERROR": "failure", "WARNING": "warning"}


@dataclass(frozen=True)
class Notified:
    """One URL's outcome: ``name`` says which (place and service), ``error`` is ``None``
    when apprise delivered it."""

    name: str
    error: DeliveryError | None


def _notify(plugin: Any, message: OutgoingMessage, body_format: str) -> tuple[bool, list[str]]:
    """Notify through ``plugin`` (in a worker thread): apprise's verdict, and the lines it
    logged at warning level and above while doing it."""
    import apprise

    notifier = apprise.Apprise(asset=plugin.asset)
    notifier.add(plugin)
    text = message.text.strip() or message.subject.strip() or DEFAULT_TEXT
    with notifier.notify(
        body=text,
        title=message.subject.strip(),
        notify_type=NOTIFY_TYPES.get(message.severity.upper(), "info"),
        body_format=body_format,
        log_level=logging.WARNING,
    ) as result:
        return bool(result), [entry.message for entry in result.logs()]


class AppriseSender:
    """Notifies every URL of an APPRISE channel through apprise."""

    def __init__(self, outbound: Outbound, *, workers: int = WORKERS) -> None:
        self._policy: OutboundPolicy = outbound.policy
        self._workers = workers
        self._pool: ThreadPoolExecutor | None = None

    @property
    def pool(self) -> ThreadPoolExecutor:
        """The worker threads, started on first use."""
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self._workers, thread_name_prefix="nabat-apprise")
        return self._pool

    async def send(self, config: AppriseConfig, message: OutgoingMessage) -> Receipt:
        """Notify each URL once, all at the same time. Returns a receipt when at least one
        took the message (the others listed as refused); raises :class:`DeliveryError`
        when none did, transient when any of them may succeed later."""
        urls = [url.get_secret_value() for url in config.urls]
        outcomes = await asyncio.gather(
            *(
                self._notify_one(url, f"URL {index} of {len(urls)}", config, message)
                for index, url in enumerate(urls, start=1)
            )
        )
        failed = {outcome.name: outcome.error for outcome in outcomes if outcome.error}
        if len(failed) < len(outcomes):
            names = [outcome.name for outcome in outcomes if outcome.error is None]
            return Receipt(
                detail="notified through Apprise: " + ", ".join(names),
                refused={name: error.reason for name, error in failed.items()},
            )
        errors = list(failed.values())
        first = next((error for error in errors if error.transient), errors[0])
        raise DeliveryError(
            first.failure_class,
            "; ".join(f"{name}: {error.reason}" for name, error in failed.items()),
            status=first.status,
        )

    async def _notify_one(
        self, url: str, place: str, config: AppriseConfig, message: OutgoingMessage
    ) -> Notified:
        try:
            plugin = load(url)
        except UnusableUrl as exc:
            return Notified(place, DeliveryError(FailureClass.CONFIG, f"the URL {exc.reason}"))
        name = f"{place} ({plugin.service_name})"
        hosts = destinations(plugin)
        secrets = url_secrets(url, keep=tuple(host for host, _ in hosts))
        refusal = await self._refusal(hosts)
        if refusal is not None:
            error = DeliveryError(FailureClass.CONFIG, f"refused before connecting: {refusal}")
            return Notified(name, scrubbed(error, *secrets))
        timeout_s = config.timeout
        job = self.pool.submit(
            self._run, prepared(plugin, timeout_s), message, config.body_format, secrets
        )
        try:
            delivered, lines = await asyncio.wait_for(asyncio.wrap_future(job), timeout_s)
        except TimeoutError:
            job.cancel()
            error = DeliveryError(
                FailureClass.TIMEOUT,
                f"apprise did not finish within {timeout_s:g} s (if it had started, the "
                "message may still arrive)",
            )
            return Notified(name, error)
        if delivered:
            return Notified(name, None)
        diagnosis = diagnose(lines)
        error = DeliveryError(diagnosis.failure_class, diagnosis.said, status=diagnosis.status)
        return Notified(name, scrubbed(error, *secrets))

    @staticmethod
    def _run(
        plugin: Any, message: OutgoingMessage, body_format: str, secrets: tuple[str, ...]
    ) -> tuple[bool, list[str]]:
        with scrubbed_logs(secrets):
            return _notify(plugin, message, body_format)

    async def _refusal(self, hosts: list[tuple[str, int | None]]) -> str | None:
        """Why one of ``hosts`` may not be reached, or ``None``. Every address a host
        resolves to must be allowed; a host that does not resolve is left to apprise,
        which cannot reach it either."""
        loop = asyncio.get_running_loop()
        for host, port in hosts:
            try:
                infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
            except (socket.gaierror, UnicodeError):
                continue
            for *_, sockaddr in infos:
                reason = self._policy.refusal(str(sockaddr[0]))
                if reason is not None:
                    return f"host {host!r} resolves to {reason}"
        return None
