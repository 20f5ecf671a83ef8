"""What one EWS send or check hands to its worker thread, as plain data: the message with
how to reach its mailbox (:class:`EwsMail`, :class:`EwsLogin`), and what the thread's
connections may reach (:class:`Guard`). Kept apart from the modules that import
exchangelib and requests, so that naming these costs no imports."""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Literal

from nabat.security.ssrf import OutboundPolicy

AuthType = Literal["ntlm", "basic", "oauth2"]


class Expired(Exception):
    """A send waited for a free worker thread past its deadline and was not started."""


@dataclass(frozen=True)
class Guard:
    """What one EWS send may reach, and how long each of its requests may take."""

    policy: OutboundPolicy
    timeout_s: float


GUARD: ContextVar[Guard | None] = ContextVar("nabat_ews_guard", default=None)
"""The guard in force on the current thread (set around exchangelib's work)."""


@dataclass(frozen=True)
class EwsLogin:
    """How to reach a mailbox: the EWS URL, the way to log in and its credentials (a
    user name and password, or a ready token)."""

    endpoint: str
    auth: AuthType
    mailbox: str
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    token: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class EwsMail:
    """One message and how to reach the mailbox that sends it."""

    endpoint: str
    auth: AuthType
    mailbox: str
    subject: str
    text: str
    html: str | None
    to: tuple[str, ...]
    from_address: str
    from_name: str | None
    reply_to: str | None
    message_id: str
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    token: str | None = field(default=None, repr=False)

    @property
    def login(self) -> EwsLogin:
        """How to reach the mailbox that sends the message."""
        return EwsLogin(
            endpoint=self.endpoint,
            auth=self.auth,
            mailbox=self.mailbox,
            username=self.username,
            password=self.password,
            token=self.token,
        )
